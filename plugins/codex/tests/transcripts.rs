//! The adapter against real Codex transcripts (`tests/transcripts/*.jsonl`, captured from
//! `codex` 0.169.0 driven by the fake model server; see the README there for each run's argv).

use std::collections::BTreeMap;
use std::path::Path;

use codecafe_plugin_codex::Codex;
use codecafe_sdk::testing::{
    self, ChunkSizes, assistant_texts, errors, file_changes, final_result, session_ids, tool_calls,
    tool_results, usages,
};
use codecafe_sdk::{AgentEvent, ChangeKind, Provider, Stream, Usage};
use serde_json::Value;

/// The exit code of each captured run (from the transcripts' README).
const EXIT_CODES: &[(&str, i32)] = &[
    ("text-only", 0),
    ("resume", 0),
    ("exec-and-patch", 0),
    ("turn-failed", 1),
];

/// Every transcript, by name (without `.jsonl`).
fn transcripts() -> BTreeMap<String, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    testing::read_transcripts(dir).expect("the transcripts directory")
}

fn exit_code(name: &str) -> i32 {
    EXIT_CODES
        .iter()
        .find(|(known, _)| *known == name)
        .map_or(0, |(_, code)| *code)
}

/// Feeds a transcript line by line, checking that no line is lost, and returns all events
/// (including those of `finish_output`).
fn run(name: &str, text: &str) -> Vec<AgentEvent> {
    let mut codex = Codex::default();
    let mut all = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let events = codex.parse_output(Stream::Stdout, line).events;
        if events.is_empty() {
            // Only the known no-op: the start of an item that is not a tool call (its
            // completion carries it).
            let value: Value = serde_json::from_str(line).expect("a JSON line");
            let item_type = value["item"]["type"].as_str().unwrap_or_default();
            assert!(
                value["type"] == "item.started"
                    && !matches!(item_type, "command_execution" | "mcp_tool_call"),
                "{name}:{}: line produced no event: {line}",
                number + 1
            );
        }
        all.extend(events);
    }
    all.extend(codex.finish_output(Some(exit_code(name))).events);
    all
}

fn raw(name: &str) -> Vec<Value> {
    testing::json_lines(&transcripts()[name])
}

fn raw_thread(name: &str) -> String {
    raw(name)
        .iter()
        .find(|v| v["type"] == "thread.started")
        .and_then(|v| v["thread_id"].as_str())
        .expect("a thread id")
        .to_owned()
}

fn raw_usage(name: &str) -> Usage {
    let lines = raw(name);
    let turn = lines
        .iter()
        .find(|v| v["type"] == "turn.completed")
        .expect("a completed turn");
    let n = |key: &str| turn["usage"][key].as_u64().expect("a token count");
    Usage {
        input_tokens: n("input_tokens") - n("cached_input_tokens"),
        output_tokens: n("output_tokens"),
        cached_input_tokens: n("cached_input_tokens"),
        cache_write_tokens: n("cache_write_input_tokens"),
        cost_usd: None,
    }
}

fn load(name: &str) -> Vec<AgentEvent> {
    let all = transcripts();
    let text = all
        .get(name)
        .unwrap_or_else(|| panic!("transcript {name}.jsonl is missing"));
    run(name, text)
}

#[test]
fn every_transcript_reads_without_losing_a_line() {
    let all = transcripts();
    for (name, _) in EXIT_CODES {
        assert!(all.contains_key(*name), "{name}.jsonl is missing");
    }
    for (name, text) in &all {
        let events = run(name, text);
        assert_eq!(session_ids(&events).len(), 1, "{name}: one thread");
        final_result(&events);
    }
}

#[test]
fn text_only() {
    let events = load("text-only");
    assert_eq!(session_ids(&events), [raw_thread("text-only")]);
    let result = final_result(&events);
    assert!(!result.is_error);
    assert!(result.text.starts_with("I read through the API server."));
    assert!(result.text.contains("nextAction: await_user"));
    assert_eq!(assistant_texts(&events), [result.text.as_str()]);
    let usage = usages(&events);
    assert_eq!(usage, [raw_usage("text-only")]);
    assert!(usage[0].input_tokens > 0 && usage[0].cached_input_tokens > 0);
    assert!(errors(&events).is_empty());
}

#[test]
fn resume_keeps_the_thread() {
    let events = load("resume");
    // The resumed run continues the thread of the text-only run.
    assert_eq!(session_ids(&events), [raw_thread("text-only")]);
    let result = final_result(&events);
    assert!(!result.is_error);
    assert!(
        result
            .text
            .starts_with("Thanks. I will keep the counters in Redis")
    );
    assert!(result.text.contains("nextAction: proceed"));
    assert_eq!(usages(&events), [raw_usage("resume")]);
}

#[test]
fn exec_and_patch() {
    let events = load("exec-and-patch");
    assert_eq!(session_ids(&events), [raw_thread("exec-and-patch")]);
    assert!(
        testing::thinking(&events)
            .iter()
            .any(|text| text.starts_with("Check the repository state"))
    );
    let calls = tool_calls(&events);
    assert_eq!(calls.len(), 1, "one command, announced once");
    assert_eq!(calls[0].name, "exec_command");
    let input: Value = serde_json::from_str(&calls[0].input).expect("json input");
    assert!(input["command"]
        .as_str()
        .is_some_and(|c| c.contains("git status --short && ls && echo exec-ran > exec-ran.txt")));
    let results = tool_results(&events);
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].id, calls[0].id);
    assert_eq!(results[0].output, "README.md\n");
    assert!(!results[0].is_error);
    let changes = file_changes(&events);
    assert_eq!(
        changes.len(),
        1,
        "the patch is reported once, when it completes"
    );
    assert!(changes[0].path.ends_with("/codex/patch/repo/NOTES.md"));
    assert_eq!(changes[0].kind, ChangeKind::Add);
    let result = final_result(&events);
    assert!(!result.is_error);
    assert!(result.text.starts_with("Added `NOTES.md`"));
    assert_eq!(usages(&events), [raw_usage("exec-and-patch")]);
}

#[test]
fn turn_failed() {
    let events = load("turn-failed");
    assert_eq!(session_ids(&events), [raw_thread("turn-failed")]);
    let errors = errors(&events);
    assert_eq!(
        errors.len(),
        3,
        "two error events and the failed turn: {errors:?}"
    );
    assert!(errors[0].starts_with("Reconnecting... 1/1"));
    assert!(errors[2].contains("high demand"));
    let result = final_result(&events);
    assert!(result.is_error);
    assert!(usages(&events).is_empty());
}

#[test]
fn random_chunk_splits_give_the_same_events() {
    for (name, text) in transcripts() {
        let expected = run(&name, &text);
        for round in 0..20 {
            let sizes = ChunkSizes::round(round, 53);
            let got = testing::replay_chunked::<Codex>(&text, sizes, Some(exit_code(&name)));
            assert_eq!(got, expected, "{name}, round {round}");
        }
    }
}
