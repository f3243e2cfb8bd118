//! Where a problem is in a file: the one way the catalog turns what its parsers report (byte
//! offsets, YAML markers, positions inside one part of a file) into the 1-based line and column
//! a [`Problem`] shows.
//!
//! Columns count characters, not bytes, so a position is right in lines with non-ASCII text.

use std::path::PathBuf;

use crate::error::Problem;

/// A 1-based line and column (in characters) in a file.
///
/// The all-zero `Default` only fills values that are never reported (placeholders of a stage
/// block that failed to parse); a real position is at least [`Position::START`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Position {
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based column, in characters.
    pub(crate) column: usize,
}

impl Position {
    /// The first character of a file.
    pub(crate) const START: Position = Position { line: 1, column: 1 };

    /// The position of byte `offset` in `text`. An offset past the end, or inside a character,
    /// moves back to the last character boundary before it.
    pub(crate) fn of_offset(text: &str, offset: usize) -> Position {
        let before = text.get(..text.floor_char_boundary(offset)).unwrap_or(text);
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        Position {
            line: before.matches('\n').count() + 1,
            column: before
                .get(line_start..)
                .map_or(0, |line| line.chars().count())
                + 1,
        }
    }

    /// The position of a YAML marker (already 1-based); [`Position::START`] when the YAML
    /// loader gave none.
    pub(crate) fn of_marker(marker: Option<&marked_yaml::Marker>) -> Position {
        marker.map_or(Position::START, |marker| Position {
            line: marker.line(),
            column: marker.column(),
        })
    }

    /// This position was found in one part of a file (a role's front matter or template, a
    /// recipe's `prompt` value) that starts on file line `first_line`: its line in the file.
    pub(crate) fn in_part_starting_on_line(self, first_line: usize) -> Position {
        Position {
            line: first_line + self.line.saturating_sub(1),
            column: self.column,
        }
    }
}

impl Problem {
    /// A problem at `position` in `file`.
    pub(crate) fn located(
        file: impl Into<PathBuf>,
        position: Position,
        message: impl Into<String>,
    ) -> Problem {
        Problem::at(file, position.line, position.column, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_character_columns() {
        let text = "ab\ncé d\n";
        let at = |offset| {
            let position = Position::of_offset(text, offset);
            (position.line, position.column)
        };
        assert_eq!(at(0), (1, 1));
        assert_eq!(at(3), (2, 1));
        // `é` is two bytes but one column.
        assert_eq!(at(6), (2, 3));
        // Inside `é`: back to its start.
        assert_eq!(at(5), (2, 2));
        assert_eq!(at(text.len()), (3, 1));
        assert_eq!(at(text.len() + 10), (3, 1));
    }

    #[test]
    fn a_part_moves_down_to_its_first_line() {
        let inside = Position { line: 3, column: 7 };
        assert_eq!(
            inside.in_part_starting_on_line(5),
            Position { line: 7, column: 7 }
        );
        assert_eq!(Position::START.in_part_starting_on_line(1), Position::START);
    }
}
