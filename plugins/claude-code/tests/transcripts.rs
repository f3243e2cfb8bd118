//! The adapter against real Claude Code transcripts, one folder per version
//! (`tests/transcripts/<version>/*.jsonl`, captured from `claude` driven by the fake model
//! server; see the README there for each run's argv). Users run many versions: every test runs
//! on every folder, with version-specific checks where the CLI's behaviour differs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use codecafe_plugin_claude_code::ClaudeCode;
use codecafe_sdk::testing::{
    self, ChunkSizes, assistant_texts, errors, file_changes, session_ids, tool_calls, tool_results,
};
use codecafe_sdk::{AgentEvent, ChangeKind, FinalResult, Provider, Stream, ToolDenial, Usage};
use serde_json::Value;

/// The captured versions, oldest first: each has a folder of the same scenarios.
const VERSIONS: &[&str] = &["2.1.197", "2.1.332"];

/// The first version that reports denials in real time (`system`/`permission_denied`) and the
/// start and end of a command (`command_lifecycle`).
const V2_1_332: &str = "2.1.332";

/// The exit code of each captured run (from the transcripts' README).
const EXIT_CODES: &[(&str, i32)] = &[
    ("text-only", 0),
    ("tool-write-bash", 0),
    ("thinking", 0),
    ("permission-denied", 0),
    ("api-error", 1),
    ("resume", 0),
    ("partial-messages", 0),
    ("deferred", 0),
    ("deferred-resume", 0),
];

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
            let value: Value = serde_json::from_str(line).expect("a JSON line");
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

/// The run's one final result. Only progress may follow it: 2.1.332 reports the end of a
/// command (`command_lifecycle`) after its `result` line.
fn final_result(events: &[AgentEvent]) -> &FinalResult {
    let position = events
        .iter()
        .position(|e| matches!(e, AgentEvent::FinalResult(_)))
        .expect("a final result");
    let after = &events[position + 1..];
    assert!(
        after
            .iter()
            .all(|e| matches!(e, AgentEvent::Other { kind, .. } if kind == "command-lifecycle")),
        "only progress after the final result: {after:?}"
    );
    match &events[position] {
        AgentEvent::FinalResult(result) => result,
        _ => unreachable!("found as a final result"),
    }
}

/// The run's one usage report.
fn usage(events: &[AgentEvent]) -> Usage {
    let usages = testing::usages(events);
    assert_eq!(usages.len(), 1, "one usage report");
    usages[0]
}

/// A transcript's events.
fn load(version: &str, name: &str) -> Vec<AgentEvent> {
    let all = transcripts(version);
    let text = all
        .get(name)
        .unwrap_or_else(|| panic!("transcript {version}/{name}.jsonl is missing"));
    run(name, text)
}

/// The transcript's lines as JSON, to check the events against what the CLI wrote.
fn raw(version: &str, name: &str) -> Vec<Value> {
    testing::json_lines(&transcripts(version)[name])
}

/// The session id of the transcript's `system/init` line.
fn init_session(version: &str, name: &str) -> String {
    raw(version, name)
        .iter()
        .find(|v| v["type"] == "system" && v["subtype"] == "init")
        .and_then(|v| v["session_id"].as_str())
        .expect("an init line with a session id")
        .to_owned()
}

/// The ids of the `tool_use` blocks of the transcript's assistant lines, in order.
fn raw_tool_ids(version: &str, name: &str) -> Vec<String> {
    raw(version, name)
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

/// How many lines of the transcript have this `type` (and `subtype`, when given).
fn raw_count(version: &str, name: &str, kind: &str, subtype: Option<&str>) -> usize {
    raw(version, name)
        .iter()
        .filter(|v| v["type"] == kind && subtype.is_none_or(|s| v["subtype"] == s))
        .count()
}

/// The usage the transcript's `result` line reports.
fn raw_usage(version: &str, name: &str) -> Usage {
    let lines = raw(version, name);
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
        cost_is_session_total: true,
        tokens_are_session_total: false,
    }
}

#[test]
fn every_version_has_every_scenario_and_reads_without_losing_a_line() {
    for version in VERSIONS {
        let all = transcripts(version);
        for (name, _) in EXIT_CODES {
            assert!(all.contains_key(*name), "{version}/{name}.jsonl is missing");
        }
        for (name, text) in &all {
            let events = run(name, text);
            assert_eq!(
                session_ids(&events).len(),
                1,
                "{version}/{name}: one session"
            );
            final_result(&events);
        }
    }
}

#[test]
fn text_only() {
    for version in VERSIONS {
        let events = load(version, "text-only");
        assert_eq!(session_ids(&events), [init_session(version, "text-only")]);
        let result = final_result(&events);
        assert!(!result.is_error);
        assert!(result.text.starts_with("I read through the API server."));
        assert!(result.text.contains("nextAction: await_user"));
        assert!(result.text.ends_with("```"));
        assert_eq!(assistant_texts(&events), [result.text.as_str()]);
        let usage = usage(&events);
        assert_eq!(usage, raw_usage(version, "text-only"), "{version}");
        assert!(
            usage.output_tokens > 0
                && usage.cached_input_tokens > 0
                && usage.cache_write_tokens > 0
        );
        assert!(usage.cost_usd.is_some_and(|usd| usd > 0.0));
        assert!(tool_calls(&events).is_empty());
        assert!(errors(&events).is_empty());
    }
}

#[test]
fn resume_keeps_the_session() {
    for version in VERSIONS {
        let events = load(version, "resume");
        // The resumed run continues the session of the text-only run.
        assert_eq!(session_ids(&events), [init_session(version, "text-only")]);
        let result = final_result(&events);
        assert!(!result.is_error);
        assert!(
            result
                .text
                .starts_with("Thanks. I will keep the counters in Redis")
        );
        assert!(result.text.contains("nextAction: proceed"));
        assert_eq!(usage(&events), raw_usage(version, "resume"), "{version}");
    }
}

#[test]
fn tool_write_bash() {
    for version in VERSIONS {
        let events = load(version, "tool-write-bash");
        assert_eq!(
            session_ids(&events),
            [init_session(version, "tool-write-bash")]
        );
        let ids = raw_tool_ids(version, "tool-write-bash");
        assert_eq!(ids.len(), 2);
        let calls = tool_calls(&events);
        assert_eq!(calls.len(), 2);
        assert_eq!(
            (calls[0].id.as_str(), calls[0].name.as_str()),
            (ids[0].as_str(), "Write")
        );
        let write_input: Value = serde_json::from_str(&calls[0].input).expect("json input");
        assert!(
            write_input["file_path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/repo/greet.sh"))
        );
        assert_eq!(
            (calls[1].id.as_str(), calls[1].name.as_str()),
            (ids[1].as_str(), "Bash")
        );
        let bash_input: Value = serde_json::from_str(&calls[1].input).expect("json input");
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
        assert_eq!(usage(&events), raw_usage(version, "tool-write-bash"));
    }
}

#[test]
fn thinking() {
    for version in VERSIONS {
        let events = load(version, "thinking");
        assert_eq!(session_ids(&events), [init_session(version, "thinking")]);
        let thoughts = testing::thinking(&events);
        assert_eq!(thoughts.len(), 1);
        assert!(thoughts[0].starts_with("The user asks which sort is stable."));
        // The thinking-token progress lines are reported, not dropped.
        let progress = testing::others(&events, "thinking-tokens").len();
        let raw_progress = raw_count(version, "thinking", "system", Some("thinking_tokens"));
        assert!(raw_progress > 0);
        assert_eq!(progress, raw_progress);
        let result = final_result(&events);
        assert!(result.text.starts_with("Use `slice::sort`"));
        assert!(!result.is_error);
        // The thinking never leaks into the final text.
        assert!(!result.text.contains("The user asks"));
    }
}

#[test]
fn permission_denied() {
    for version in VERSIONS {
        let events = load(version, "permission-denied");
        let ids = raw_tool_ids(version, "permission-denied");
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
        // A refusal is no error: it is a denial, reported by the result's
        // `permission_denials` (every version) and, on 2.1.332, also when it happens.
        assert!(errors(&events).is_empty(), "{version}");
        let result = final_result(&events);
        assert!(!result.is_error);
        assert!(result.text.starts_with("I could not create `notes.txt`"));
        let denied: Vec<&ToolDenial> = events
            .iter()
            .filter_map(|e| match e {
                AgentEvent::ToolDenied(d) => Some(d),
                _ => None,
            })
            .collect();
        assert!(
            denied
                .iter()
                .all(|d| d.tool == "Write" && d.id == ids[0] && d.input.contains("notes.txt")),
            "{version}: {denied:?}"
        );
        if version == &V2_1_332 {
            assert_eq!(denied.len(), 2, "{version}: {denied:?}");
            assert!(denied[0].reason.contains("haven't granted it yet"));
            // The first comes between the call and its result.
            let at = |found: &dyn Fn(&AgentEvent) -> bool| events.iter().position(found);
            let call = at(&|e| matches!(e, AgentEvent::ToolCall(_)));
            let denial = at(&|e| matches!(e, AgentEvent::ToolDenied(_)));
            let result = at(&|e| matches!(e, AgentEvent::ToolResult(_)));
            assert!(call < denial && denial < result, "{events:?}");
        } else {
            assert_eq!(denied.len(), 1, "{version}: {denied:?}");
            assert_eq!(
                raw_count(
                    version,
                    "permission-denied",
                    "system",
                    Some("permission_denied")
                ),
                0
            );
        }
    }
}

#[test]
fn api_error() {
    for version in VERSIONS {
        let events = load(version, "api-error");
        assert_eq!(session_ids(&events), [init_session(version, "api-error")]);
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
}

#[test]
fn partial_messages_do_not_duplicate_text() {
    for version in VERSIONS {
        let events = load(version, "partial-messages");
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
}

/// A PreToolUse hook defers the Write: the run ends without running it, successfully, with an
/// empty result text.
#[test]
fn deferred() {
    for version in VERSIONS {
        let events = load(version, "deferred");
        let ids = raw_tool_ids(version, "deferred");
        let calls = tool_calls(&events);
        assert_eq!(calls.len(), 1);
        assert_eq!(
            (calls[0].id.as_str(), calls[0].name.as_str()),
            (ids[0].as_str(), "Write")
        );
        assert!(tool_results(&events).is_empty(), "the Write did not run");
        assert!(file_changes(&events).is_empty());
        assert!(errors(&events).is_empty());
        let result = final_result(&events);
        assert!(!result.is_error);
        assert_eq!(result.text, "");
        let lines = raw(version, "deferred");
        let result_line = lines
            .iter()
            .find(|v| v["type"] == "result")
            .expect("a result line");
        assert_eq!(result_line["stop_reason"], "tool_deferred");
        assert_eq!(result_line["deferred_tool_use"]["id"], ids[0].as_str());
        assert_eq!(usage(&events), raw_usage(version, "deferred"));
    }
}

/// The deferred session resumed with no prompt and a hook that allows the Write: hook events,
/// hook attachments and (2.1.332) command lifecycle lines are progress, not text or errors.
#[test]
fn deferred_resume_runs_the_write() {
    for version in VERSIONS {
        let events = load(version, "deferred-resume");
        assert_eq!(session_ids(&events), [init_session(version, "deferred")]);
        let results = tool_results(&events);
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].id, raw_tool_ids(version, "deferred")[0]);
        assert!(results[0].output.starts_with("File created successfully"));
        assert!(!results[0].is_error);
        assert!(errors(&events).is_empty());
        let result = final_result(&events);
        assert!(!result.is_error);
        assert!(result.text.starts_with("Wrote the release notes draft"));
        assert_eq!(assistant_texts(&events), [result.text.as_str()]);
        for (kind, line_type, subtype) in [
            ("hook-started", "system", Some("hook_started")),
            ("hook-response", "system", Some("hook_response")),
            ("attachment", "attachment", None),
            ("command-lifecycle", "command_lifecycle", None),
            ("progress", "progress", None),
        ] {
            assert_eq!(
                testing::others(&events, kind).len(),
                raw_count(version, "deferred-resume", line_type, subtype),
                "{version}: {kind}"
            );
        }
        assert!(!testing::others(&events, "attachment").is_empty());
        let lifecycle = testing::others(&events, "command-lifecycle").len();
        let changes = file_changes(&events);
        if version == &V2_1_332 {
            assert_eq!(lifecycle, 2, "started and completed");
            // 2.1.332 describes the Write's result; 2.1.197 does not after a deferral.
            assert_eq!(changes.len(), 1);
            assert!(changes[0].path.ends_with("/claude/deferred/repo/notes.txt"));
            assert_eq!(changes[0].kind, ChangeKind::Add);
        } else {
            assert_eq!(lifecycle, 0);
            assert!(changes.is_empty());
        }
    }
}

#[test]
fn random_chunk_splits_give_the_same_events() {
    for version in VERSIONS {
        for (name, text) in transcripts(version) {
            let expected = run(&name, &text);
            for round in 0..20 {
                let sizes = ChunkSizes::round(round, 97);
                let got =
                    testing::replay_chunked::<ClaudeCode>(&text, sizes, Some(exit_code(&name)));
                assert_eq!(got, expected, "{version}/{name}, round {round}");
            }
        }
    }
}
