//! Server-sent events: framing and the helpers both API renderers share.

use serde_json::Value;

/// One server-sent event: `event: NAME` plus one `data:` line of JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    /// The event name (`message_start`, `response.completed`, ...).
    pub name: String,
    /// The JSON payload.
    pub data: Value,
}

impl SseEvent {
    /// Creates an event.
    pub fn new(name: &str, data: Value) -> Self {
        SseEvent {
            name: name.to_string(),
            data,
        }
    }

    /// The wire form: `event: NAME\ndata: JSON\n\n` (the JSON is compact, so it never
    /// contains a raw newline).
    pub fn frame(&self) -> String {
        format!("event: {}\ndata: {}\n\n", self.name, self.data)
    }
}

/// Parses an SSE stream back into events (a helper for tests and clients). Only `event:` and
/// `data:` fields are understood; multi-line data is joined with `\n`. Events whose data is not
/// JSON are kept with the data as a JSON string.
pub fn parse_stream(text: &str) -> Vec<SseEvent> {
    let mut events = Vec::new();
    for block in text.split("\n\n") {
        let mut name = String::from("message");
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines() {
            if let Some(rest) = line.strip_prefix("event:") {
                name = rest.trim().to_string();
            } else if let Some(rest) = line.strip_prefix("data:") {
                data.push(rest.strip_prefix(' ').unwrap_or(rest));
            }
        }
        if data.is_empty() {
            continue;
        }
        let joined = data.join("\n");
        let value = serde_json::from_str(&joined).unwrap_or(Value::String(joined));
        events.push(SseEvent { name, data: value });
    }
    events
}

/// Splits text into small streaming deltas (cut after whitespace once a piece has 16 bytes, and
/// at most 48 bytes per piece), so that clients see several deltas like from a real model.
pub fn split_deltas(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    for ch in text.chars() {
        current.push(ch);
        if (current.len() >= 16 && ch.is_whitespace()) || current.len() >= 48 {
            pieces.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

/// A rough token estimate (4 bytes per token, at least 1).
pub fn estimate_tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frame_and_parse_round_trip() {
        let events = vec![
            SseEvent::new(
                "message_start",
                json!({"type": "message_start", "x": "a\nb"}),
            ),
            SseEvent::new("ping", json!({"type": "ping"})),
        ];
        let wire: String = events.iter().map(SseEvent::frame).collect();
        assert!(wire.starts_with("event: message_start\ndata: {"));
        assert_eq!(wire.matches("\n\n").count(), 2);
        // The newline inside the string is escaped, so each event is exactly two lines.
        assert_eq!(wire.lines().filter(|l| !l.is_empty()).count(), 4);
        assert_eq!(parse_stream(&wire), events);
    }

    #[test]
    fn deltas_reassemble_exactly() {
        let text = "Hello there, this is a fairly long sentence — with ünïcödé and\nnewlines\n```yaml\nsignals: {}\n```";
        let pieces = split_deltas(text);
        assert!(pieces.len() > 3);
        assert!(pieces.iter().all(|p| !p.is_empty() && p.len() <= 52));
        assert_eq!(pieces.concat(), text);
        assert!(split_deltas("").is_empty());
    }

    #[test]
    fn token_estimate_is_positive() {
        assert_eq!(estimate_tokens(0), 1);
        assert_eq!(estimate_tokens(9), 3);
    }
}
