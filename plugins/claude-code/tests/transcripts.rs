//! The adapter against real Claude Code transcripts (`tests/transcripts/*.jsonl`, captured from
//! `claude` 2.1.197 driven by the fake model server; see the README there for each run's argv).

use std::collections::BTreeMap;
use std::path::Path;

use codecafe_plugin_claude_code::ClaudeCode;
use codecafe_sdk::testing::{
    self, ChunkSizes, assistant_texts, errors, file_changes, final_result, session_ids, tool_calls,
    tool_results,
};
use codecafe_sdk::{AgentEvent, ChangeKind, Provider, Stream, Usage};

/// The exit code of each captured run (from the transcripts' README).
const EXIT_CODES: &[(&str, i32)] = &[
    ("text-only", 0),
    ("tool-write-bash", 0),
    ("thinking", 0),
    ("permission-denied", 0),
    ("api-error", 1),
    ("resume", 0),
    ("partial-messages", 0),
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
    let mut claude = ClaudeCode::default();
    let mut all = Vec::new();
    let mut sessions = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let batch = claude.parse_output(Stream::Stdout, line);
        assert!(
            batch.replies.is_empty(),
            "{name}:{}: unexpected reply",
            number + 1
        );
        if batch.events.is_empty() {
            // Only the known no-ops: partial-message stream events and a repeated init.
            let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            let known = value["type"] == "stream_event"
                || (value["subtype"] == "init"
                    && sessions
                        .contains(&value["session_id"].as_str().unwrap_or_default().to_owned()));
            assert!(
                known,
                "{name}:{}: line produced no event: {line}",
                number + 1
            );
        }
        for event in &batch.events {
            if let AgentEvent::SessionStarted { id } = event {
                sessions.push(id.clone());
            }
        }
        all.extend(batch.events);
    }
    all.extend(claude.finish_output(Some(exit_code(name))).events);
    all
}

/// The run's one usage report.
fn usage(events: &[AgentEvent]) -> Usage {
    let usages = testing::usages(events);
    assert_eq!(usages.len(), 1, "one usage report");
    usages[0]
}

fn load(name: &str) -> Vec<AgentEvent> {
    let all = transcripts();
    let text = all
        .get(name)
        .unwrap_or_else(|| panic!("transcript {name}.jsonl is missing"));
    run(name, text)
}

/// The transcript's lines as JSON, to check the events against what the CLI wrote.
fn raw(name: &str) -> Vec<serde_json::Value> {
    testing::json_lines(&transcripts()[name])
}

/// The session id of the transcript's `system/init` line.
fn init_session(name: &str) -> String {
    raw(name)
        .iter()
        .find(|v| v["type"] == "system" && v["subtype"] == "init")
        .and_then(|v| v["session_id"].as_str())
        .expect("an init line with a session id")
        .to_owned()
}

/// The ids of the `tool_use` blocks of the transcript's assistant lines, in order.
fn raw_tool_ids(name: &str) -> Vec<String> {
    raw(name)
        .iter()
        .filter(|v| v["type"] == "assistant")
        .flat_map(|v| {
            v["message"]["content"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|block| block["type"] == "tool_use")
        .filter_map(|block| block["id"].as_str().map(str::to_owned))
        .collect()
}

/// The usage the transcript's `result` line reports.
fn raw_usage(name: &str) -> Usage {
    let lines = raw(name);
    let result = lines
        .iter()
        .find(|v| v["type"] == "result")
        .expect("a result line");
    let n = |key: &str| result["usage"][key].as_u64().expect("a token count");
    Usage {
        input_tokens: n("input_tokens"),
        output_tokens: n("output_tokens"),
        cached_input_tokens: n("cache_read_input_tokens"),
        cache_write_tokens: n("cache_creation_input_tokens"),
        cost_usd: result["total_cost_usd"].as_f64(),
    }
}

#[test]
fn every_transcript_reads_without_losing_a_line() {
    let all = transcripts();
    for (name, _) in EXIT_CODES {
        assert!(all.contains_key(*name), "{name}.jsonl is missing");
    }
    for (name, text) in &all {
        let events = run(name, text);
        assert_eq!(session_ids(&events).len(), 1, "{name}: one session");
        final_result(&events);
    }
}

#[test]
fn text_only() {
    let events = load("text-only");
    assert_eq!(session_ids(&events), [init_session("text-only")]);
    let result = final_result(&events);
    assert!(!result.is_error);
    assert!(result.text.starts_with("I read through the API server."));
    assert!(result.text.contains("nextAction: await_user"));
    assert!(result.text.ends_with("```"));
    assert_eq!(assistant_texts(&events), [result.text.as_str()]);
    let usage = usage(&events);
    assert_eq!(usage, raw_usage("text-only"));
    assert!(
        usage.output_tokens > 0 && usage.cached_input_tokens > 0 && usage.cache_write_tokens > 0
    );
    assert!(usage.cost_usd.is_some_and(|usd| usd > 0.0));
    assert!(tool_calls(&events).is_empty());
    assert!(errors(&events).is_empty());
}

#[test]
fn resume_keeps_the_session() {
    let events = load("resume");
    // The resumed run continues the session of the text-only run.
    assert_eq!(session_ids(&events), [init_session("text-only")]);
    let result = final_result(&events);
    assert!(!result.is_error);
    assert!(
        result
            .text
            .starts_with("Thanks. I will keep the counters in Redis")
    );
    assert!(result.text.contains("nextAction: proceed"));
    assert_eq!(usage(&events), raw_usage("resume"));
}

#[test]
fn tool_write_bash() {
    let events = load("tool-write-bash");
    assert_eq!(session_ids(&events), [init_session("tool-write-bash")]);
    let ids = raw_tool_ids("tool-write-bash");
    assert_eq!(ids.len(), 2);
    let calls = tool_calls(&events);
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].id.as_str(), calls[0].name.as_str()),
        (ids[0].as_str(), "Write")
    );
    let write_input: serde_json::Value = serde_json::from_str(&calls[0].input).expect("json input");
    assert!(
        write_input["file_path"]
            .as_str()
            .is_some_and(|p| p.ends_with("/repo/greet.sh"))
    );
    assert_eq!(
        (calls[1].id.as_str(), calls[1].name.as_str()),
        (ids[1].as_str(), "Bash")
    );
    let bash_input: serde_json::Value = serde_json::from_str(&calls[1].input).expect("json input");
    assert_eq!(bash_input["command"], "sh greet.sh");
    let results = tool_results(&events);
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].id, ids[0]);
    assert!(results[0].output.starts_with("File created successfully"));
    assert_eq!(
        (
            results[1].id.as_str(),
            results[1].output.as_str(),
            results[1].is_error
        ),
        (ids[1].as_str(), "Hello from greet.sh", false)
    );
    let changes = file_changes(&events);
    assert_eq!(changes.len(), 1);
    assert!(changes[0].path.ends_with("/claude/write/repo/greet.sh"));
    assert_eq!(changes[0].kind, ChangeKind::Add);
    assert_eq!(
        assistant_texts(&events),
        [
            "I'll create the script first.",
            "Now let me run it.",
            final_result(&events).text.as_str()
        ]
    );
    assert!(!final_result(&events).is_error);
    assert_eq!(usage(&events), raw_usage("tool-write-bash"));
}

#[test]
fn thinking() {
    let events = load("thinking");
    assert_eq!(session_ids(&events), [init_session("thinking")]);
    let thoughts = testing::thinking(&events);
    assert_eq!(thoughts.len(), 1);
    assert!(thoughts[0].starts_with("The user asks which sort is stable."));
    // The thinking-token progress lines are reported, not dropped.
    let progress = testing::others(&events, "thinking-tokens").len();
    let raw_progress = raw("thinking")
        .iter()
        .filter(|v| v["subtype"] == "thinking_tokens")
        .count();
    assert!(raw_progress > 0);
    assert_eq!(progress, raw_progress);
    let result = final_result(&events);
    assert!(result.text.starts_with("Use `slice::sort`"));
    assert!(!result.is_error);
    // The thinking never leaks into the final text.
    assert!(!result.text.contains("The user asks"));
}

#[test]
fn permission_denied() {
    let events = load("permission-denied");
    let ids = raw_tool_ids("permission-denied");
    let calls = tool_calls(&events);
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (calls[0].id.as_str(), calls[0].name.as_str()),
        (ids[0].as_str(), "Write")
    );
    let results = tool_results(&events);
    assert_eq!(results.len(), 1);
    assert!(results[0].is_error);
    assert!(results[0].output.contains("haven't granted it yet"));
    assert!(
        file_changes(&events).is_empty(),
        "a refused write changed no file"
    );
    let errors = errors(&events);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("`Write`") && errors[0].contains(&ids[0]));
    let result = final_result(&events);
    assert!(!result.is_error);
    assert!(result.text.starts_with("I could not create `notes.txt`"));
}

#[test]
fn api_error() {
    let events = load("api-error");
    assert_eq!(session_ids(&events), [init_session("api-error")]);
    assert!(
        testing::others(&events, "api-retry")
            .iter()
            .any(|data| data.contains("\"error_status\":529"))
    );
    let errors = errors(&events);
    assert_eq!(errors.len(), 1, "the error is reported once: {errors:?}");
    assert!(errors[0].starts_with("API Error: 529 Overloaded."));
    assert!(
        assistant_texts(&events).is_empty(),
        "a synthetic error message is not assistant text"
    );
    let result = final_result(&events);
    assert!(result.is_error);
    assert!(result.text.starts_with("API Error: 529"));
    assert_eq!(usage(&events).cost_usd, Some(0.0));
}

#[test]
fn partial_messages_do_not_duplicate_text() {
    let events = load("partial-messages");
    assert_eq!(
        assistant_texts(&events),
        [
            "Let me check the git branch.",
            "You are on the `main` branch."
        ]
    );
    let calls = tool_calls(&events);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].name, "Bash");
    assert!(calls[0].input.contains("git rev-parse --abbrev-ref HEAD"));
    let results = tool_results(&events);
    assert_eq!(
        (results[0].output.as_str(), results[0].is_error),
        ("main", false)
    );
    let statuses = testing::others(&events, "status").len();
    assert_eq!(statuses, 2);
    assert_eq!(final_result(&events).text, "You are on the `main` branch.");
}

#[test]
fn random_chunk_splits_give_the_same_events() {
    for (name, text) in transcripts() {
        let expected = run(&name, &text);
        for round in 0..20 {
            let sizes = ChunkSizes::round(round, 97);
            let got = testing::replay_chunked::<ClaudeCode>(&text, sizes, Some(exit_code(&name)));
            assert_eq!(got, expected, "{name}, round {round}");
        }
    }
}
