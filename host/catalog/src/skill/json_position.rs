//! Where things are in a skill's JSON text, so every message points at the right token.
//!
//! serde_json reads a skill and explains what is wrong, but gives only a line and the byte
//! column of the last byte it read, and no positions for keys. The tokenizer of [jsonc-parser]
//! gives the byte range of every token (strings with their escapes, numbers, punctuation), so
//! it supplies the rest: where each top-level key's value starts, and where the token an error
//! is about starts. [`Position`] turns those offsets into the line and column shown.
//!
//! [jsonc-parser]: https://docs.rs/jsonc-parser

use std::collections::BTreeMap;

use jsonc_parser::tokens::Token;
use jsonc_parser::{Scanner, ScannerOptions};

use crate::location::Position;

/// Where the values of a JSON object's top-level keys start.
pub(super) struct KeyPositions<'a> {
    text: &'a str,
    /// Byte offset of each key's value; the first one when a key is repeated.
    values: BTreeMap<String, usize>,
}

impl<'a> KeyPositions<'a> {
    /// The keys of the object in `text`, found token by token so that the keys before a
    /// mistake (a missing `}`, a stray character) are still found. None are known when `text`
    /// is not an object.
    pub(super) fn of(text: &'a str) -> Self {
        let mut values = BTreeMap::new();
        let mut scanner = Scanner::new(text, &ScannerOptions::default());
        let mut depth = 0usize;
        // A string just read at the top level, and whether a `:` has followed it.
        let mut key: Option<String> = None;
        let mut after_colon = false;
        while let Ok(Some(token)) = scanner.scan() {
            if depth == 0 && token != Token::OpenBrace {
                break; // not an object, or past its end
            }
            if std::mem::take(&mut after_colon)
                && let Some(name) = key.take()
            {
                values.entry(name).or_insert(scanner.token_start());
            }
            match token {
                Token::OpenBrace | Token::OpenBracket => depth += 1,
                Token::CloseBrace | Token::CloseBracket => depth = depth.saturating_sub(1),
                Token::String(name) if depth == 1 => key = Some(name.into_owned()),
                Token::Colon if depth == 1 && key.is_some() => after_colon = true,
                _ => key = None,
            }
        }
        Self { text, values }
    }

    /// Where the value of top-level `key` starts, if the object has that key.
    pub(super) fn value(&self, key: &str) -> Option<Position> {
        let offset = *self.values.get(key)?;
        Some(Position::of_offset(self.text, offset))
    }
}

/// Where a serde_json error is in `text`: at the start of the token it is about when
/// `at_token_start` (a key or value with the wrong content), else where serde_json stopped.
pub(super) fn error_position(
    text: &str,
    err: &serde_json::Error,
    at_token_start: bool,
) -> Position {
    if err.line() == 0 {
        return Position::START;
    }
    let offset = serde_json_offset(text, err.line(), err.column());
    let offset = if at_token_start {
        token_start(text, offset)
    } else {
        offset
    };
    Position::of_offset(text, offset)
}

/// The byte offset of serde_json's position: a 1-based line and a 1-based byte column (the last
/// byte it read), kept within that line.
fn serde_json_offset(text: &str, line: usize, column: usize) -> usize {
    let mut line_start = 0;
    for (index, line_text) in text.split('\n').enumerate() {
        if index + 1 == line {
            return line_start + column.saturating_sub(1).min(line_text.len());
        }
        line_start += line_text.len() + 1;
    }
    text.len()
}

/// The start of the token that holds byte `offset`; `offset` itself when no token does
/// (whitespace, the end of the text, or text the scanner cannot read up to there).
fn token_start(text: &str, offset: usize) -> usize {
    let mut scanner = Scanner::new(text, &ScannerOptions::default());
    while let Ok(Some(_)) = scanner.scan() {
        if scanner.token_end() > offset {
            return if scanner.token_start() <= offset {
                scanner.token_start()
            } else {
                offset
            };
        }
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_of_top_level_keys_only() {
        let text = "{\n  \"a\": {\"b\": 1},\n  \"c\" : \"é\",\n  \"a\": 2\n}";
        let keys = KeyPositions::of(text);
        assert_eq!(keys.value("a"), Some(Position { line: 2, column: 8 }));
        assert_eq!(keys.value("c"), Some(Position { line: 3, column: 9 }));
        assert_eq!(keys.value("b"), None);
        assert_eq!(KeyPositions::of("[1]").value("a"), None);
        // A file cut short still has its keys located.
        let cut = KeyPositions::of("{\"a\": \"x\",\n \"b\": 1");
        assert_eq!(cut.value("b"), Some(Position { line: 2, column: 7 }));
    }

    #[test]
    fn errors_point_at_the_start_of_their_token() {
        let text = "{\n  \"id\": \"a\\\"b\",\n  \"n\": -12\n}";
        // serde_json points at a token's last byte.
        assert_eq!(token_start(text, text.find("b\"").expect("b") + 1), 10);
        assert_eq!(
            token_start(text, text.find('2').expect("2")),
            text.find('-').expect("-")
        );
        assert_eq!(token_start(text, 1), 1, "whitespace stays");
        assert_eq!(serde_json_offset(text, 3, 10), text.find('2').expect("2"));
        assert_eq!(
            serde_json_offset(text, 3, 99),
            text.rfind('\n').expect("newline")
        );
    }
}
