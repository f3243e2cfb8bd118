//! The screen of an interactive agent: its terminal output rendered by a terminal emulator
//! (`vt100`), with the window title it set, so the provider's `check-screen` reads what a person
//! would see rather than raw bytes (Claude Code redraws in place with cursor moves).
//!
//! Bounded: the screen is the terminal's size and the scrollback keeps at most
//! [`SCROLLBACK_ROWS`] rows; a title longer than [`MAX_TITLE`] bytes is cut.

/// Rows kept above the visible screen (replayed to a viewer that attaches).
pub const SCROLLBACK_ROWS: usize = 500;
/// Longest window title kept, in bytes.
const MAX_TITLE: usize = 256;

/// Keeps the title the agent sets (OSC 0 sets icon name and title; OSC 2 the title).
#[derive(Debug, Default)]
struct Titles {
    title: String,
}

impl vt100::Callbacks for Titles {
    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.title = bounded_text(title);
    }

    fn set_window_icon_name(&mut self, _: &mut vt100::Screen, name: &[u8]) {
        // OSC 0 arrives as both; a lone OSC 1 (icon name) is as good a hint as any.
        if self.title.is_empty() {
            self.title = bounded_text(name);
        }
    }
}

fn bounded_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut end = text.len().min(MAX_TITLE);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// One agent's rendered terminal.
pub struct Screen {
    parser: vt100::Parser<Titles>,
}

impl std::fmt::Debug for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (rows, cols) = self.parser.screen().size();
        f.debug_struct("Screen")
            .field("rows", &rows)
            .field("cols", &cols)
            .finish_non_exhaustive()
    }
}

impl Screen {
    /// A blank screen of `rows` × `cols`.
    pub fn new(rows: u16, cols: u16) -> Self {
        Self {
            parser: vt100::Parser::new_with_callbacks(
                rows,
                cols,
                SCROLLBACK_ROWS,
                Titles::default(),
            ),
        }
    }

    /// Renders more of the agent's output.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.parser.process(bytes);
    }

    /// The visible text, one line per row, trailing blanks trimmed.
    pub fn text(&self) -> String {
        self.parser.screen().contents()
    }

    /// The window title the agent set last (empty when none).
    pub fn title(&self) -> &str {
        &self.parser.callbacks().title
    }

    /// Changes the size (the agent's terminal was resized).
    pub fn resize(&mut self, rows: u16, cols: u16) {
        self.parser.screen_mut().set_size(rows.max(1), cols.max(1));
    }

    /// The size, `(rows, cols)`.
    pub fn size(&self) -> (u16, u16) {
        self.parser.screen().size()
    }

    /// Bytes that draw the scrollback and then the current screen on a terminal of the same
    /// width, cursor and modes included: what a viewer that attaches now gets first.
    pub fn replay(&mut self) -> Vec<u8> {
        let (rows, cols) = self.size();
        let mut bytes = b"\x1b[0m\x1b[H\x1b[2J".to_vec();
        // The scrollback as plain text, oldest first, so it scrolls up the viewer's terminal.
        let screen = self.parser.screen_mut();
        screen.set_scrollback(usize::MAX);
        let mut offset = screen.scrollback();
        let mut history = Vec::new();
        while offset > 0 {
            screen.set_scrollback(offset);
            let take = offset.min(usize::from(rows));
            history.extend(screen.rows(0, cols).take(take));
            offset -= take;
        }
        screen.set_scrollback(0);
        for line in history {
            bytes.extend_from_slice(line.trim_end().as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        if !bytes.ends_with(b"\x1b[2J") {
            // Push the history above the screen about to be drawn.
            bytes.extend(std::iter::repeat_n(b'\n', usize::from(rows)));
            bytes.extend_from_slice(b"\x1b[H");
        }
        bytes.extend_from_slice(&self.parser.screen().state_formatted());
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cursor_moves_and_keeps_the_title() {
        let mut screen = Screen::new(5, 20);
        screen.feed(b"\x1b]0;\xe2\x9c\xb3 Claude Code\x07hello\r\nworld");
        screen.feed(b"\x1b[1;1Hjello");
        assert_eq!(screen.text(), "jello\nworld");
        assert_eq!(screen.title(), "✳ Claude Code");
        screen.feed(b"\x1b]2;\xe2\xa0\x82 Claude Code\x07");
        assert_eq!(screen.title(), "⠂ Claude Code");
    }

    #[test]
    fn the_scrollback_is_bounded_and_replayed_before_the_screen() {
        let mut screen = Screen::new(3, 10);
        for n in 0..(SCROLLBACK_ROWS + 50) {
            screen.feed(format!("line {n}\r\n").as_bytes());
        }
        let replay = String::from_utf8_lossy(&screen.replay()).into_owned();
        assert!(
            !replay.contains("line 0\r\n"),
            "the oldest rows are dropped"
        );
        let first_kept = 50 + 1;
        assert!(replay.contains(&format!("line {first_kept}\r\n")));
        let last = SCROLLBACK_ROWS + 49;
        assert!(replay.contains(&format!("line {last}")));
        // The replay renders to the same screen.
        let mut copy = Screen::new(3, 10);
        copy.feed(&screen.replay());
        assert_eq!(copy.text(), screen.text());
    }

    #[test]
    fn a_long_title_is_cut_on_a_character_boundary() {
        let mut screen = Screen::new(2, 10);
        let long = "é".repeat(400);
        screen.feed(format!("\x1b]2;{long}\x07").as_bytes());
        assert!(screen.title().len() <= MAX_TITLE);
        assert!(screen.title().chars().all(|c| c == 'é'));
    }
}
