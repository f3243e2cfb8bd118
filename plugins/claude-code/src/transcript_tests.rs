//! The transcript reader on real transcripts of interactive runs (`tests/transcripts/<version>/
//! interactive/`, see the README there).

use super::*;

fn read(version: &str, name: &str) -> String {
    let path = format!(
        "{}/tests/transcripts/{version}/interactive/{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn run(state: &mut TranscriptState, text: &str) -> Vec<AgentEvent> {
    text.lines()
        .flat_map(|line| state.parse_line(line).events)
        .collect()
}

fn finals(events: &[AgentEvent]) -> Vec<(String, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::FinalResult(f) => Some((f.text.clone(), f.is_error)),
            _ => None,
        })
        .collect()
}

fn denials(events: &[AgentEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::ToolDenied(d) => Some((d.tool.clone(), d.reason.clone())),
            _ => None,
        })
        .collect()
}

fn last_usage(events: &[AgentEvent]) -> Usage {
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            AgentEvent::Usage(u) => Some(*u),
            _ => None,
        })
        .expect("usage")
}

fn sessions(events: &[AgentEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::SessionStarted { id } => Some(id.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_session_of_2_1_332() {
    // Write accepted + a text turn with thinking + an Edit and a Bash call declined with a
    // reason (the turn goes on) + a Write declined with Esc (the turn ends).
    let events = run(&mut TranscriptState::default(), &read("2.1.332", "session"));
    assert_eq!(sessions(&events), ["aaaaaaaa-1111-4222-8333-444444444444"]);
    assert_eq!(
        finals(&events),
        [
            (
                "Wrote hello.txt.\n\nSIGNAL-DONE final words".to_owned(),
                false
            ),
            ("Second answer".to_owned(), false),
            ("Understood, leaving hello.txt alone.".to_owned(), false),
            ("Fine, no commands.".to_owned(), false),
            (String::new(), false),
        ]
    );
    assert_eq!(
        denials(&events),
        [
            (
                "Edit".to_owned(),
                "The user rejected this tool call: Keep it as is".to_owned()
            ),
            (
                "Bash".to_owned(),
                "The user rejected this tool call: No commands please".to_owned()
            ),
            (
                "Write".to_owned(),
                "The user rejected this tool call".to_owned()
            ),
        ]
    );
    let calls: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::ToolCall(c) => Some(c.name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(calls, ["Write", "Edit", "Bash", "Write"]);
    let changes: Vec<&FileChange> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::FileChange(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(changes.len(), 1);
    assert!(changes[0].path.ends_with("/hello.txt"));
    assert_eq!(changes[0].kind, ChangeKind::Add);
    let results: Vec<bool> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::ToolResult(r) => Some(r.is_error),
            _ => None,
        })
        .collect();
    assert_eq!(results, [false, true, true, true]);
    assert!(events.iter().any(
        |e| matches!(e, AgentEvent::Thinking { text } if text == "The user asks a second question.")
    ));
    // One Usage per API message (8), summed over the run, without cost; then the two
    // `cost-state` lines Claude Code wrote as it exited bring the session's cost.
    let usages: Vec<&Usage> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Usage(u) => Some(u),
            _ => None,
        })
        .collect();
    assert_eq!(usages.len(), 8 + 2);
    assert!(usages[..8].iter().all(|u| u.cost_usd.is_none()));
    let usage = last_usage(&events);
    assert_eq!(
        (
            usage.input_tokens,
            usage.output_tokens,
            usage.cached_input_tokens,
            usage.cache_write_tokens
        ),
        (74796, 226, 200, 30)
    );
    assert_eq!(usage.cost_usd, Some(0.303894));
    assert!(usage.cost_is_session_total && !usage.tokens_are_session_total);
    assert!(!events.iter().any(|e| matches!(e, AgentEvent::Log { .. })));
}

#[test]
fn a_session_of_2_1_197() {
    // Same script; the Bash call was declined with Esc there, which ends the turn.
    let events = run(&mut TranscriptState::default(), &read("2.1.197", "session"));
    assert_eq!(sessions(&events), ["cccccccc-1111-4222-8333-444444444444"]);
    assert_eq!(
        finals(&events),
        [
            (
                "Wrote hello.txt.\n\nSIGNAL-DONE final words".to_owned(),
                false
            ),
            ("Second answer".to_owned(), false),
            ("Understood, leaving hello.txt alone.".to_owned(), false),
            ("Running it.".to_owned(), false),
        ]
    );
    assert_eq!(
        denials(&events),
        [
            (
                "Edit".to_owned(),
                "The user rejected this tool call: Keep it as is".to_owned()
            ),
            (
                "Bash".to_owned(),
                "The user rejected this tool call".to_owned()
            ),
        ]
    );
    let usage = last_usage(&events);
    assert_eq!(
        (
            usage.input_tokens,
            usage.output_tokens,
            usage.cached_input_tokens,
            usage.cache_write_tokens
        ),
        (71132, 181, 200, 30)
    );
}

#[test]
fn a_fork_skips_the_copied_history() {
    let text = read("2.1.332", "fork");
    let mut state = TranscriptState::forked();
    state.typed("hello again");
    let events = run(&mut state, &text);
    assert_eq!(sessions(&events), ["bbbbbbbb-1111-4222-8333-444444444444"]);
    assert_eq!(finals(&events), [("FALLBACK.".to_owned(), false)]);
    assert!(denials(&events).is_empty());
    assert!(!events.iter().any(|e| matches!(e, AgentEvent::ToolCall(_))));
    // Only this run's message counts.
    let last = text
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["type"] == "assistant")
        .expect("an assistant line");
    let usage = last_usage(&events);
    assert_eq!(
        Some(usage.input_tokens),
        last["message"]["usage"]["input_tokens"].as_u64()
    );
    // Nothing typed yet: the history never ends a turn.
    let events = run(&mut TranscriptState::forked(), &text);
    assert!(finals(&events).is_empty());
}

#[test]
fn a_long_paste_is_found_in_its_wrapper() {
    let mut state = TranscriptState::forked();
    state.typed("line one\nline two");
    let wrapped = r#"{"type":"user","sessionId":"s","message":{"role":"user","content":"\n\n<pasted_content id=\"c8ef\">\nline one\nline two\n</pasted_content id=\"c8ef\">\n"}}"#;
    let end = r#"{"type":"system","subtype":"turn_duration","sessionId":"s","durationMs":5}"#;
    let events = run(&mut state, &format!("{wrapped}\n{end}"));
    assert_eq!(finals(&events), [(String::new(), false)]);
}

#[test]
fn odd_lines_are_ignored() {
    let mut state = TranscriptState::default();
    assert!(state.parse_line("").is_empty());
    assert!(
        state
            .parse_line(r#"{"type":"mode","mode":"normal"}"#)
            .is_empty()
    );
    let batch = state.parse_line("{not json");
    assert!(matches!(batch.events[..], [AgentEvent::Log { .. }]));
    // A turn_duration without a prompt of this run ends nothing.
    assert!(
        state
            .parse_line(r#"{"type":"system","subtype":"turn_duration"}"#)
            .is_empty()
    );
    // A user interruption ends the turn as a failure.
    state.parse_line(r#"{"type":"user","message":{"role":"user","content":"go"}}"#);
    let batch = state.parse_line(r#"{"type":"user","message":{"role":"user","content":[{"type":"text","text":"[Request interrupted by user]"}]}}"#);
    assert_eq!(finals(&batch.events), [(String::new(), true)]);
}
