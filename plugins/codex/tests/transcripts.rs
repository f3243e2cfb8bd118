//! The adapter against real Codex transcripts, one folder per version
//! (`tests/transcripts/<version>/*.jsonl`, captured from `codex` driven by the fake model
//! server; see the README there for each run's argv). Users run many versions: every test runs
//! on every folder that has its scenario.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use codecafe_plugin_codex::Codex;
use codecafe_sdk::testing::{
    self, ChunkSizes, assistant_texts, errors, file_changes, final_result, session_ids, tool_calls,
    tool_results, usages,
};
use codecafe_sdk::{AgentEvent, ChangeKind, Provider, Stream, ToolDenial, Usage};
use serde_json::Value;

/// The captured versions, oldest first.
const VERSIONS: &[&str] = &["0.169.0", "0.171.0"];

/// The scenarios every version has, with the exit code of the captured run (from the
/// transcripts' README).
const EXIT_CODES: &[(&str, i32)] = &[
    ("text-only", 0),
    ("resume", 0),
    ("exec-and-patch", 0),
    ("turn-failed", 1),
];

/// Scenarios only some versions can run (`declined` needs 0.171's `--approve-for-me`), with
/// their exit codes and the versions that have them.
const ONLY_IN: &[(&str, i32, &[&str])] = &[("declined", 0, &["0.171.0"])];

fn folder(version: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/transcripts")
        .join(version)
}

/// Every transcript of a version, by name (without `.jsonl`).
fn transcripts(version: &str) -> BTreeMap<String, String> {
    testing::read_transcripts(folder(version))
        .unwrap_or_else(|e| panic!("the transcripts of {version}: {e}"))
}

fn exit_code(name: &str) -> i32 {
    EXIT_CODES
        .iter()
        .map(|(known, code)| (*known, *code))
        .chain(ONLY_IN.iter().map(|(known, code, _)| (*known, *code)))
        .find(|(known, _)| *known == name)
        .map_or(0, |(_, code)| code)
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

fn raw(version: &str, name: &str) -> Vec<Value> {
    testing::json_lines(&transcripts(version)[name])
}

fn raw_thread(version: &str, name: &str) -> String {
    raw(version, name)
        .iter()
        .find(|v| v["type"] == "thread.started")
        .and_then(|v| v["thread_id"].as_str())
        .expect("a thread id")
        .to_owned()
}

fn raw_usage(version: &str, name: &str) -> Usage {
    let lines = raw(version, name);
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
        cost_is_session_total: false,
        tokens_are_session_total: true,
    }
}

fn load(version: &str, name: &str) -> Vec<AgentEvent> {
    let all = transcripts(version);
    let text = all
        .get(name)
        .unwrap_or_else(|| panic!("transcript {version}/{name}.jsonl is missing"));
    run(name, text)
}

#[test]
fn every_version_has_its_scenarios_and_reads_without_losing_a_line() {
    for version in VERSIONS {
        let all = transcripts(version);
        for (name, _) in EXIT_CODES {
            assert!(all.contains_key(*name), "{version}/{name}.jsonl is missing");
        }
        for (name, _, versions) in ONLY_IN {
            assert_eq!(
                all.contains_key(*name),
                versions.contains(version),
                "{version}/{name}.jsonl"
            );
        }
        for (name, text) in &all {
            let events = run(name, text);
            assert_eq!(
                session_ids(&events).len(),
                1,
                "{version}/{name}: one thread"
            );
            final_result(&events);
        }
    }
}

#[test]
fn text_only() {
    for version in VERSIONS {
        let events = load(version, "text-only");
        assert_eq!(session_ids(&events), [raw_thread(version, "text-only")]);
        let result = final_result(&events);
        assert!(!result.is_error);
        assert!(result.text.starts_with("I read through the API server."));
        assert!(result.text.contains("nextAction: await_user"));
        assert_eq!(assistant_texts(&events), [result.text.as_str()]);
        let usage = usages(&events);
        assert_eq!(usage, [raw_usage(version, "text-only")]);
        assert!(usage[0].input_tokens > 0 && usage[0].cached_input_tokens > 0);
        assert!(errors(&events).is_empty());
    }
}

#[test]
fn resume_keeps_the_thread() {
    for version in VERSIONS {
        let events = load(version, "resume");
        // The resumed run continues the thread of the text-only run.
        assert_eq!(session_ids(&events), [raw_thread(version, "text-only")]);
        let result = final_result(&events);
        assert!(!result.is_error);
        assert!(
            result
                .text
                .starts_with("Thanks. I will keep the counters in Redis")
        );
        assert!(result.text.contains("nextAction: proceed"));
        assert_eq!(usages(&events), [raw_usage(version, "resume")]);
    }
}

#[test]
fn exec_and_patch() {
    for version in VERSIONS {
        let events = load(version, "exec-and-patch");
        assert_eq!(
            session_ids(&events),
            [raw_thread(version, "exec-and-patch")]
        );
        assert!(
            testing::thinking(&events)
                .iter()
                .any(|text| text.starts_with("Check the repository state"))
        );
        let calls = tool_calls(&events);
        assert_eq!(calls.len(), 1, "one command, announced once");
        assert_eq!(calls[0].name, "exec_command");
        let input: Value = serde_json::from_str(&calls[0].input).expect("json input");
        assert!(input["command"].as_str().is_some_and(|c| {
            c.contains("git status --short && ls && echo exec-ran > exec-ran.txt")
        }));
        let results = tool_results(&events);
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].id, calls[0].id);
        assert_eq!(results[0].output, "README.md\n", "{version}");
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
        assert_eq!(usages(&events), [raw_usage(version, "exec-and-patch")]);
    }
}

#[test]
fn turn_failed() {
    for version in VERSIONS {
        let events = load(version, "turn-failed");
        assert_eq!(session_ids(&events), [raw_thread(version, "turn-failed")]);
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
}

/// 0.171 with `--approve-for-me`: the reviewer refuses a command that asks for escalation (its
/// item ends `declined`), then an ordinary command fails (`failed`, exit 3), which is no denial.
#[test]
fn declined_and_failed_commands() {
    let version = "0.171.0";
    let events = load(version, "declined");
    assert_eq!(session_ids(&events), [raw_thread(version, "declined")]);
    let calls = tool_calls(&events);
    assert_eq!(calls.len(), 2);
    assert!(calls[0].input.contains("touch ../rate-limit-decision.txt"));
    assert!(calls[1].input.contains("exit 3"));

    let declined: Vec<&ToolDenial> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::ToolDenied(d) => Some(d),
            _ => None,
        })
        .collect();
    assert_eq!(declined.len(), 1, "only the refused command is a denial");
    assert_eq!(declined[0].id, calls[0].id);
    assert_eq!(declined[0].input, calls[0].input);

    // Both calls are closed by a failed result: the refusal, and the command's own failure.
    let results = tool_results(&events);
    assert_eq!(results.len(), 2);
    assert_eq!(
        (results[0].id.as_str(), results[0].is_error),
        (calls[0].id.as_str(), true)
    );
    assert_eq!(
        (
            results[1].id.as_str(),
            results[1].output.as_str(),
            results[1].is_error
        ),
        (calls[1].id.as_str(), "no rate-limit config yet\n", true)
    );
    // The declined item comes before its result.
    let position = |found: &dyn Fn(&AgentEvent) -> bool| events.iter().position(found);
    let denial = position(&|e| matches!(e, AgentEvent::ToolDenied(_)));
    let first_result = position(&|e| matches!(e, AgentEvent::ToolResult(_)));
    assert!(denial < first_result, "{events:?}");

    assert!(errors(&events).is_empty(), "a refusal is not a run error");
    assert!(file_changes(&events).is_empty());
    let result = final_result(&events);
    assert!(!result.is_error);
    assert!(result.text.contains("nextAction: await_user"));
    assert_eq!(usages(&events), [raw_usage(version, "declined")]);
}

#[test]
fn random_chunk_splits_give_the_same_events() {
    for version in VERSIONS {
        for (name, text) in transcripts(version) {
            let expected = run(&name, &text);
            for round in 0..20 {
                let sizes = ChunkSizes::round(round, 53);
                let got = testing::replay_chunked::<Codex>(&text, sizes, Some(exit_code(&name)));
                assert_eq!(got, expected, "{version}/{name}, round {round}");
            }
        }
    }
}
