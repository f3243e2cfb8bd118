//! Line framing: turning arbitrary output chunks into whole lines.
//!
//! Agents write JSON lines, but pipes and terminals deliver chunks that can end in the middle of a
//! line or even of a UTF-8 character. [`LineFramer`] keeps the unfinished tail until the rest
//! arrives, and caps it so a runaway line cannot exhaust memory.

/// Splits a byte stream into lines, across chunk boundaries.
///
/// ```
/// use codecafe_sdk::LineFramer;
///
/// let mut framer = LineFramer::new(1024);
/// assert_eq!(framer.push(b"{\"a\":"), Vec::<String>::new());
/// assert_eq!(framer.push(b"1}\r\n{\"b\":2}\n"), vec!["{\"a\":1}", "{\"b\":2}"]);
/// assert_eq!(framer.finish(), None);
/// ```
#[derive(Debug, Clone)]
pub struct LineFramer {
    pending: Vec<u8>,
    max_line: usize,
    truncated: bool,
}

impl LineFramer {
    /// A framer that cuts any line longer than `max_line` bytes (the rest of that line is
    /// dropped and the kept part ends with `…`).
    pub fn new(max_line: usize) -> Self {
        Self {
            pending: Vec::new(),
            max_line: max_line.max(1),
            truncated: false,
        }
    }

    /// Adds a chunk and returns the lines it completed, without their `\n` or `\r\n`.
    /// Invalid UTF-8 is replaced with U+FFFD.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        let mut rest = chunk;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            self.append(&rest[..newline]);
            lines.push(self.take_line());
            rest = &rest[newline + 1..];
        }
        self.append(rest);
        lines
    }

    /// The unfinished last line, if any, once the stream has ended.
    pub fn finish(&mut self) -> Option<String> {
        if self.pending.is_empty() && !self.truncated {
            None
        } else {
            Some(self.take_line())
        }
    }

    /// Bytes held for the unfinished line.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    fn append(&mut self, bytes: &[u8]) {
        let room = self.max_line.saturating_sub(self.pending.len());
        if bytes.len() > room {
            self.pending.extend_from_slice(&bytes[..room]);
            self.truncated = true;
        } else {
            self.pending.extend_from_slice(bytes);
        }
    }

    fn take_line(&mut self) -> String {
        if self.pending.last() == Some(&b'\r') {
            self.pending.pop();
        }
        let mut line = String::from_utf8_lossy(&self.pending).into_owned();
        if self.truncated {
            line.push('…');
        }
        self.pending.clear();
        self.truncated = false;
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_lines_split_across_chunks() {
        let mut framer = LineFramer::new(1 << 20);
        let input = b"{\"type\":\"system\"}\n{\"type\":\"assistant\",\"x\":\"\xc3\xa9\"}\n";
        for split in 0..input.len() {
            let mut lines = framer.push(&input[..split]);
            lines.extend(framer.push(&input[split..]));
            assert_eq!(
                lines,
                vec![
                    "{\"type\":\"system\"}",
                    "{\"type\":\"assistant\",\"x\":\"é\"}"
                ],
                "split at {split}"
            );
            assert_eq!(framer.finish(), None);
        }
    }

    #[test]
    fn strips_crlf_and_keeps_empty_lines() {
        let mut framer = LineFramer::new(64);
        assert_eq!(framer.push(b"a\r\n\nb"), vec!["a", ""]);
        assert_eq!(framer.finish().as_deref(), Some("b"));
    }

    #[test]
    fn caps_a_runaway_line() {
        let mut framer = LineFramer::new(4);
        assert!(framer.push(b"abcdefgh").is_empty());
        assert_eq!(framer.pending_len(), 4);
        assert!(framer.push(b"ijk").is_empty());
        assert_eq!(framer.push(b"\nok\n"), vec!["abcd…", "ok"]);
    }
}
