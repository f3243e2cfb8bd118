//! Helpers for testing a plugin natively, with `cargo test`.
//!
//! [`export_provider!`](crate::export_provider) expands to nothing off `wasm32`, so a plugin
//! crate's tests call its [`Provider`] directly. This module has what such tests keep writing:
//!
//! - [`invocation`]: an [`Invocation`] with stage options, to test `build_command`;
//! - [`read_transcripts`]: the captured outputs (`*.jsonl`) of an agent CLI in a folder, and
//!   [`json_lines`] to read one as JSON;
//! - [`replay_chunked`] with [`ChunkSizes`]: a transcript fed as the host would see it, in
//!   arbitrary pieces through a [`LineFramer`], to check that parsing does not depend on where
//!   the pipe cut the output;
//! - [`converse`]: a transcript of a two-way protocol (JSON-RPC: ACP, Codex's app server) fed
//!   line by line, each approval request answered with the next decision, as the host would;
//! - [`session_ids`], [`assistant_texts`], [`final_result`], ...: the events of one kind.
//!
//! ```
//! use codecafe_sdk::testing::{self, ChunkSizes};
//! use codecafe_sdk::*;
//!
//! #[derive(Default)]
//! struct Echo;
//!
//! impl Provider for Echo {
//!     fn info(&self) -> ProviderInfo {
//!         provider_info!("echo", "Echo", "Prints the prompt back.")
//!     }
//!
//!     fn build_command(&mut self, invocation: &Invocation) -> Result<CommandSpec, BuildError> {
//!         let program = invocation.choice("program", &["echo", "printf"])?;
//!         Ok(CommandSpec::new(program.as_deref().unwrap_or("echo")).arg(&invocation.prompt))
//!     }
//! }
//!
//! let spec = Echo.build_command(&testing::invocation(&[("program", r#""printf""#)]));
//! assert_eq!(spec.map(|spec| spec.args), Ok(vec![testing::PROMPT.to_owned()]));
//!
//! let transcript = "one\ntwo\n";
//! for round in 0..5 {
//!     let sizes = ChunkSizes::round(round, 3);
//!     let events = testing::replay_chunked::<Echo>(transcript, sizes, Some(0));
//!     assert_eq!(testing::assistant_texts(&events), ["one", "two"]);
//! }
//! ```
//!
//! Everything here is ordinary code (no test-only `cfg`), small, and without dependencies. The
//! event helpers that check a shape (like [`final_result`]) panic with a message when it does not
//! hold, as test helpers do.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use crate::{
    AgentEvent, FileChange, FinalResult, Invocation, LineFramer, Provider, Stream, ToolCall,
    ToolResult, Usage,
};

/// The prompt of [`invocation`].
pub const PROMPT: &str = "fix the bug";

/// The working directory of [`invocation`].
pub const WORKING_DIR: &str = "/work/tree";

/// The longest line [`replay_chunked`] frames before cutting it (1 MiB).
pub const MAX_LINE: usize = 1 << 20;

/// A headless invocation of [`PROMPT`] in [`WORKING_DIR`] with these stage options, each a key
/// and its value as JSON text. Change the public fields for anything else.
///
/// ```
/// use codecafe_sdk::{Mode, testing::invocation};
///
/// let mut inv = invocation(&[("max_turns", "3"), ("permission_mode", r#""plan""#)]);
/// inv.mode = Mode::Interactive;
/// assert_eq!(inv.option::<u64>("max_turns"), Ok(Some(3)));
/// ```
pub fn invocation(options: &[(&str, &str)]) -> Invocation {
    options
        .iter()
        .fold(Invocation::new(PROMPT, WORKING_DIR), |inv, (key, json)| {
            inv.with_option(*key, *json)
        })
}

/// Every `*.jsonl` file directly in `dir`, by name without the extension, with its text.
///
/// Use it with the folder of captured agent output next to the tests:
/// `read_transcripts(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts"))`.
pub fn read_transcripts(dir: impl AsRef<Path>) -> io::Result<BTreeMap<String, String>> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "jsonl")
            && let Some(name) = path.file_stem().and_then(|stem| stem.to_str())
        {
            found.insert(name.to_owned(), std::fs::read_to_string(&path)?);
        }
    }
    Ok(found)
}

/// The lines of a transcript as JSON values, to check events against what the agent wrote.
/// Blank lines are skipped.
///
/// # Panics
///
/// When a line is not JSON, naming the line.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| match serde_json::from_str(line) {
            Ok(value) => value,
            Err(err) => panic!("line {} is not JSON ({err}): {line}", number + 1),
        })
        .collect()
}

/// Pseudo-random chunk sizes from 1 to a maximum, the same for the same seed on every machine
/// (xorshift64*; no dependency on a random number crate).
///
/// ```
/// use codecafe_sdk::testing::ChunkSizes;
///
/// let sizes: Vec<usize> = ChunkSizes::round(0, 10).take(100).collect();
/// assert!(sizes.iter().all(|size| (1..=10).contains(size)));
/// assert_eq!(sizes, ChunkSizes::round(0, 10).take(100).collect::<Vec<_>>());
/// assert_ne!(sizes, ChunkSizes::round(1, 10).take(100).collect::<Vec<_>>());
/// ```
#[derive(Debug, Clone)]
pub struct ChunkSizes {
    state: u64,
    max: u64,
}

impl ChunkSizes {
    /// Sizes from 1 to `max` (at least 1) starting from `seed`. A seed of 0 gives only 1s.
    pub fn new(seed: u64, max: usize) -> Self {
        Self {
            state: seed,
            max: u64::try_from(max.max(1)).unwrap_or(u64::MAX),
        }
    }

    /// The sizes for test round `round` (0, 1, 2, ...): a different seed for each round.
    pub fn round(round: u64, max: usize) -> Self {
        Self::new(
            0x9e37_79b9_7f4a_7c15 ^ round.wrapping_add(1).wrapping_mul(0x1000_0001),
            max,
        )
    }

    /// The next raw 64-bit number of the sequence.
    pub fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

impl Iterator for ChunkSizes {
    type Item = usize;

    /// Never `None`: the sequence is endless.
    fn next(&mut self) -> Option<usize> {
        let size = 1 + self.next_u64() % self.max;
        Some(usize::try_from(size).unwrap_or(usize::MAX))
    }
}

/// Feeds `text` to a fresh `P` as the host does: cut into chunks of the given sizes, framed into
/// lines by a [`LineFramer`] (lines up to [`MAX_LINE`]), each line parsed as stdout, then the
/// unfinished last line, then [`Provider::finish_output`] with `exit_code`. Returns all events in
/// order (replies and `close_input` are not collected).
///
/// The events must not depend on the sizes: compare them with those of the whole lines.
pub fn replay_chunked<P: Provider>(
    text: &str,
    sizes: impl IntoIterator<Item = usize>,
    exit_code: Option<i32>,
) -> Vec<AgentEvent> {
    let mut provider = P::default();
    let mut framer = LineFramer::new(MAX_LINE);
    let mut events = Vec::new();
    let mut rest = text.as_bytes();
    let mut sizes = sizes.into_iter();
    while !rest.is_empty() {
        let size = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        let (chunk, after) = rest.split_at(size);
        for line in framer.push(chunk) {
            events.extend(provider.parse_output(Stream::Stdout, &line).events);
        }
        rest = after;
    }
    if let Some(line) = framer.finish() {
        events.extend(provider.parse_output(Stream::Stdout, &line).events);
    }
    events.extend(provider.finish_output(exit_code).events);
    events
}

/// The ids of the [`AgentEvent::SessionStarted`] events.
pub fn session_ids(events: &[AgentEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|event| match event {
            AgentEvent::SessionStarted { id } => Some(id.as_str()),
            _ => None,
        })
        .collect()
}

/// The texts of the [`AgentEvent::AssistantText`] events.
pub fn assistant_texts(events: &[AgentEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|event| match event {
            AgentEvent::AssistantText { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// The texts of the [`AgentEvent::Thinking`] events.
pub fn thinking(events: &[AgentEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|event| match event {
            AgentEvent::Thinking { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// The messages of the [`AgentEvent::Error`] events.
pub fn errors(events: &[AgentEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|event| match event {
            AgentEvent::Error { message } => Some(message.as_str()),
            _ => None,
        })
        .collect()
}

/// The [`AgentEvent::ToolCall`] events.
pub fn tool_calls(events: &[AgentEvent]) -> Vec<&ToolCall> {
    events
        .iter()
        .filter_map(|event| match event {
            AgentEvent::ToolCall(call) => Some(call),
            _ => None,
        })
        .collect()
}

/// The [`AgentEvent::ToolResult`] events.
pub fn tool_results(events: &[AgentEvent]) -> Vec<&ToolResult> {
    events
        .iter()
        .filter_map(|event| match event {
            AgentEvent::ToolResult(result) => Some(result),
            _ => None,
        })
        .collect()
}

/// The [`AgentEvent::FileChange`] events.
pub fn file_changes(events: &[AgentEvent]) -> Vec<&FileChange> {
    events
        .iter()
        .filter_map(|event| match event {
            AgentEvent::FileChange(change) => Some(change),
            _ => None,
        })
        .collect()
}

/// The [`AgentEvent::Usage`] events.
pub fn usages(events: &[AgentEvent]) -> Vec<Usage> {
    events
        .iter()
        .filter_map(|event| match event {
            AgentEvent::Usage(usage) => Some(*usage),
            _ => None,
        })
        .collect()
}

/// The data of the [`AgentEvent::Other`] events of kind `kind`.
pub fn others<'a>(events: &'a [AgentEvent], kind: &str) -> Vec<&'a str> {
    events
        .iter()
        .filter_map(|event| match event {
            AgentEvent::Other { kind: got, data } if got == kind => Some(data.as_str()),
            _ => None,
        })
        .collect()
}

/// The run's one [`AgentEvent::FinalResult`], which must also be its last event.
///
/// # Panics
///
/// When there is no final result, more than one, or events after it.
pub fn final_result(events: &[AgentEvent]) -> &FinalResult {
    let finals: Vec<&FinalResult> = events
        .iter()
        .filter_map(|event| match event {
            AgentEvent::FinalResult(result) => Some(result),
            _ => None,
        })
        .collect();
    assert_eq!(finals.len(), 1, "exactly one final result");
    assert!(
        matches!(events.last(), Some(AgentEvent::FinalResult(_))),
        "the final result comes last"
    );
    finals[0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BuildError, CommandSpec, ProviderInfo, default_parse_output};

    /// Stdout lines are text; the exit code decides the final result.
    #[derive(Default)]
    struct Lines {
        text: Vec<String>,
    }

    impl Provider for Lines {
        fn info(&self) -> ProviderInfo {
            crate::provider_info!("lines", "Lines", "Test provider.")
        }

        fn build_command(&mut self, invocation: &Invocation) -> Result<CommandSpec, BuildError> {
            Ok(CommandSpec::new("cat").arg(&invocation.prompt))
        }

        fn parse_output(&mut self, source: Stream, line: &str) -> crate::OutputBatch {
            self.text.push(line.to_owned());
            default_parse_output(source, line)
        }

        fn finish_output(&mut self, exit_code: Option<i32>) -> crate::OutputBatch {
            crate::OutputBatch::one(AgentEvent::FinalResult(FinalResult {
                text: self.text.join("|"),
                is_error: exit_code != Some(0),
            }))
        }
    }

    #[test]
    fn invocation_has_the_fixed_prompt_and_the_options() {
        let inv = invocation(&[("a", "1"), ("b", "true")]);
        assert_eq!(inv.prompt, PROMPT);
        assert_eq!(inv.working_dir, WORKING_DIR);
        assert_eq!(inv.mode, crate::Mode::Headless);
        assert_eq!(inv.raw_option("a"), Some("1"));
        assert_eq!(inv.bool_option("b"), Ok(true));
        assert!(invocation(&[]).options.is_empty());
    }

    #[test]
    fn chunk_sizes_are_deterministic_and_in_range() {
        // The first values of xorshift64* from the round-0 seed (a fixed, portable sequence).
        let mut raw = ChunkSizes::round(0, 1);
        let first = raw.next_u64();
        assert_eq!(
            first,
            ChunkSizes::new(0x9e37_79b9_7f4a_7c15 ^ 0x1000_0001, 1).next_u64()
        );
        assert_ne!(first, raw.next_u64());
        for max in [1, 2, 53, 97] {
            assert!(
                ChunkSizes::round(3, max)
                    .take(1000)
                    .all(|s| (1..=max).contains(&s))
            );
        }
        assert!(ChunkSizes::new(0, 9).take(10).all(|size| size == 1));
        assert!(ChunkSizes::new(7, 0).take(10).all(|size| size == 1));
        let spread: std::collections::BTreeSet<usize> = ChunkSizes::round(1, 8).take(200).collect();
        assert_eq!(spread.len(), 8, "every size turns up");
    }

    #[test]
    fn replay_gives_the_same_events_for_any_cut() {
        let text = "alpha\r\nbéta\n\ngamma";
        let whole = replay_chunked::<Lines>(text, [usize::MAX], Some(0));
        assert_eq!(assistant_texts(&whole), ["alpha", "béta", "gamma"]);
        assert_eq!(final_result(&whole).text, "alpha|béta||gamma");
        for round in 0..20 {
            let got = replay_chunked::<Lines>(text, ChunkSizes::round(round, 4), Some(0));
            assert_eq!(got, whole, "round {round}");
        }
        // Running out of sizes feeds the rest at once; a size of 0 counts as 1.
        assert_eq!(replay_chunked::<Lines>(text, [0, 1], Some(0)), whole);
        let failed = replay_chunked::<Lines>("", ChunkSizes::round(0, 4), Some(2));
        assert!(final_result(&failed).is_error);
    }

    #[test]
    fn event_helpers_pick_their_kind() {
        let events = vec![
            AgentEvent::SessionStarted { id: "s".to_owned() },
            AgentEvent::Thinking {
                text: "hm".to_owned(),
            },
            AgentEvent::AssistantText {
                text: "t".to_owned(),
            },
            AgentEvent::ToolCall(ToolCall {
                id: "c".to_owned(),
                name: "Bash".to_owned(),
                input: "{}".to_owned(),
            }),
            AgentEvent::ToolResult(ToolResult {
                id: "c".to_owned(),
                output: "ok".to_owned(),
                is_error: false,
            }),
            AgentEvent::FileChange(FileChange {
                path: "a.rs".to_owned(),
                kind: crate::ChangeKind::Add,
            }),
            AgentEvent::Error {
                message: "e".to_owned(),
            },
            AgentEvent::Other {
                kind: "status".to_owned(),
                data: "1".to_owned(),
            },
            AgentEvent::Other {
                kind: "retry".to_owned(),
                data: "2".to_owned(),
            },
            AgentEvent::Usage(Usage {
                output_tokens: 3,
                ..Usage::default()
            }),
            AgentEvent::FinalResult(FinalResult {
                text: "done".to_owned(),
                is_error: false,
            }),
        ];
        assert_eq!(session_ids(&events), ["s"]);
        assert_eq!(thinking(&events), ["hm"]);
        assert_eq!(assistant_texts(&events), ["t"]);
        assert_eq!(tool_calls(&events)[0].name, "Bash");
        assert_eq!(tool_results(&events)[0].output, "ok");
        assert_eq!(file_changes(&events)[0].path, "a.rs");
        assert_eq!(errors(&events), ["e"]);
        assert_eq!(others(&events, "status"), ["1"]);
        assert_eq!(usages(&events)[0].output_tokens, 3);
        assert_eq!(final_result(&events).text, "done");
    }

    #[test]
    #[should_panic(expected = "the final result comes last")]
    fn final_result_must_be_last() {
        let events = vec![
            AgentEvent::FinalResult(FinalResult {
                text: String::new(),
                is_error: false,
            }),
            AgentEvent::Log {
                text: "late".to_owned(),
            },
        ];
        final_result(&events);
    }

    #[test]
    #[should_panic(expected = "exactly one final result")]
    fn final_result_must_exist() {
        final_result(&[]);
    }

    #[test]
    fn json_lines_reads_every_line() {
        let values = json_lines("{\"a\":1}\n\n[2]\r\n");
        assert_eq!(
            values,
            [serde_json::json!({"a": 1}), serde_json::json!([2])]
        );
        assert!(json_lines("").is_empty());
    }

    #[test]
    #[should_panic(expected = "line 2 is not JSON")]
    fn json_lines_names_a_bad_line() {
        json_lines("{}\n{oops\n");
    }

    #[test]
    fn reads_only_jsonl_transcripts() {
        let dir =
            std::env::temp_dir().join(format!("codecafe-sdk-transcripts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        std::fs::write(dir.join("run.jsonl"), "{}\n").expect("written");
        std::fs::write(dir.join("README.md"), "not a transcript").expect("written");
        let found = read_transcripts(&dir);
        std::fs::remove_dir_all(&dir).expect("removed");
        let found = found.expect("readable");
        assert_eq!(found.len(), 1);
        assert_eq!(found["run"], "{}\n");
        assert!(read_transcripts(dir.join("missing")).is_err());
    }
}

/// What [`converse`] saw: every event, every line the plugin wrote back (as JSON), and whether
/// it asked to close standard input.
#[derive(Debug, Default)]
pub struct Conversation {
    /// The events, in order (those of `finish-output` last).
    pub events: Vec<AgentEvent>,
    /// Each line the plugin wrote back (replies and encoded decisions), parsed as JSON.
    pub replies: Vec<serde_json::Value>,
    /// The plugin asked to close standard input.
    pub closed: bool,
}

/// Feeds every line of `transcript` to `provider` (already built for its invocation), answering
/// each approval request with the next of `decisions` through `encode-approval`, then finishes
/// with exit code 0. Panics when a request finds no decision, or a reply is not JSON lines.
pub fn converse<P: Provider>(
    provider: &mut P,
    transcript: &str,
    decisions: &[crate::ApprovalDecision],
) -> Conversation {
    fn record(bytes: &[u8], replies: &mut Vec<serde_json::Value>) {
        for line in String::from_utf8_lossy(bytes).lines() {
            replies.push(serde_json::from_str(line).expect("a reply is JSON lines"));
        }
    }
    let mut seen = Conversation::default();
    let mut next = decisions.iter();
    for line in transcript.lines() {
        let batch = provider.parse_output(Stream::Stdout, line);
        seen.closed |= batch.close_input;
        for reply in &batch.replies {
            record(reply, &mut seen.replies);
        }
        for event in batch.events {
            if let AgentEvent::ApprovalRequest(request) = &event {
                let decision = *next.next().expect("a decision for each approval request");
                let answer = provider
                    .encode_approval(&request.id, decision, None)
                    .expect("the decision is encoded");
                record(&answer, &mut seen.replies);
            }
            seen.events.push(event);
        }
    }
    seen.events.extend(provider.finish_output(Some(0)).events);
    seen
}
