//! Unit tests of the `--json` event reader.

use super::*;

fn events(state: &mut ParseState, line: &str) -> Vec<AgentEvent> {
    state.parse_line(Stream::Stdout, line).events
}

fn one(line: &str) -> Vec<AgentEvent> {
    events(&mut ParseState::default(), line)
}

#[test]
fn thread_started_is_the_session_once() {
    let mut state = ParseState::default();
    let line = r#"{"type":"thread.started","thread_id":"t-1"}"#;
    assert_eq!(
        events(&mut state, line),
        [AgentEvent::SessionStarted {
            id: "t-1".to_owned()
        }]
    );
    assert!(events(&mut state, line).is_empty());
}

#[test]
fn commands_are_calls_then_results() {
    let mut state = ParseState::default();
    let started = r#"{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"bash -lc ls","aggregated_output":"","exit_code":null,"status":"in_progress"}}"#;
    assert_eq!(
        events(&mut state, started),
        [AgentEvent::ToolCall(ToolCall {
            id: "item_1".to_owned(),
            name: "exec_command".to_owned(),
            input: r#"{"command":"bash -lc ls"}"#.to_owned(),
        })]
    );
    let completed = r#"{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"bash -lc ls","aggregated_output":"a\nb\n","exit_code":2,"status":"failed"}}"#;
    assert_eq!(
        events(&mut state, completed),
        [AgentEvent::ToolResult(ToolResult {
            id: "item_1".to_owned(),
            output: "a\nb\n".to_owned(),
            is_error: true,
        })]
    );
    // Completed without a start: the call is announced first.
    let got = one(&completed.replace("\"exit_code\":2", "\"exit_code\":0"));
    assert!(matches!(&got[0], AgentEvent::ToolCall(call) if call.id == "item_1"));
    assert!(matches!(&got[1], AgentEvent::ToolResult(r) if !r.is_error));
}

#[test]
fn messages_reasoning_and_errors() {
    assert_eq!(
        one(r#"{"type":"item.completed","item":{"id":"i","type":"agent_message","text":"Done."}}"#),
        [AgentEvent::AssistantText {
            text: "Done.".to_owned()
        }]
    );
    assert_eq!(
        one(r#"{"type":"item.completed","item":{"id":"i","type":"reasoning","text":"hmm"}}"#),
        [AgentEvent::Thinking {
            text: "hmm".to_owned()
        }]
    );
    assert_eq!(
        one(r#"{"type":"item.completed","item":{"id":"i","type":"error","message":"bad patch"}}"#),
        [AgentEvent::Error {
            message: "bad patch".to_owned()
        }]
    );
    assert_eq!(
        one(r#"{"type":"error","message":"Reconnecting... 1/5"}"#),
        [AgentEvent::Error {
            message: "Reconnecting... 1/5".to_owned()
        }]
    );
}

#[test]
fn file_changes_one_per_path() {
    let line = r#"{"type":"item.completed","item":{"id":"i","type":"file_change","changes":[{"path":"/w/a","kind":"add"},{"path":"/w/b","kind":"update"},{"path":"/w/c","kind":"delete"},{"path":"/w/d","kind":"renamed"}],"status":"completed"}}"#;
    assert_eq!(
        one(line),
        [
            AgentEvent::FileChange(FileChange {
                path: "/w/a".to_owned(),
                kind: ChangeKind::Add
            }),
            AgentEvent::FileChange(FileChange {
                path: "/w/b".to_owned(),
                kind: ChangeKind::Update
            }),
            AgentEvent::FileChange(FileChange {
                path: "/w/c".to_owned(),
                kind: ChangeKind::Delete
            }),
            AgentEvent::FileChange(FileChange {
                path: "/w/d".to_owned(),
                kind: ChangeKind::Update
            }),
        ]
    );
    let failed = line.replace("\"completed\"}}", "\"failed\"}}");
    assert!(
        matches!(&one(&failed)[..], [AgentEvent::Error { message }] if message.contains("/w/a"))
    );
    // The start of a patch is a known no-op: the completed item carries it.
    assert!(one(&line.replace("item.completed", "item.started")).is_empty());
}

#[test]
fn mcp_calls_and_results() {
    let mut state = ParseState::default();
    let started = r#"{"type":"item.started","item":{"id":"m1","type":"mcp_tool_call","server":"docs","tool":"search","arguments":{"q":"rate"},"result":null,"error":null,"status":"in_progress"}}"#;
    assert_eq!(
        events(&mut state, started),
        [AgentEvent::ToolCall(ToolCall {
            id: "m1".to_owned(),
            name: "docs/search".to_owned(),
            input: r#"{"q":"rate"}"#.to_owned(),
        })]
    );
    let done = r#"{"type":"item.completed","item":{"id":"m1","type":"mcp_tool_call","server":"docs","tool":"search","arguments":{"q":"rate"},"result":{"content":[{"type":"text","text":"found"}]},"error":null,"status":"completed"}}"#;
    assert_eq!(
        events(&mut state, done),
        [AgentEvent::ToolResult(ToolResult {
            id: "m1".to_owned(),
            output: "found".to_owned(),
            is_error: false
        })]
    );
    let failed = r#"{"type":"item.completed","item":{"id":"m1","type":"mcp_tool_call","server":"docs","tool":"search","result":null,"error":{"message":"timeout"},"status":"failed"}}"#;
    assert_eq!(
        events(&mut state, failed),
        [AgentEvent::ToolResult(ToolResult {
            id: "m1".to_owned(),
            output: "timeout".to_owned(),
            is_error: true
        })]
    );
}

#[test]
fn turn_completed_gives_usage_and_the_last_message() {
    let mut state = ParseState::default();
    events(&mut state, r#"{"type":"turn.started"}"#);
    events(
        &mut state,
        r#"{"type":"item.completed","item":{"id":"a","type":"agent_message","text":"first"}}"#,
    );
    events(
        &mut state,
        r#"{"type":"item.completed","item":{"id":"b","type":"agent_message","text":"last"}}"#,
    );
    let got = events(
        &mut state,
        r#"{"type":"turn.completed","usage":{"input_tokens":39120,"cached_input_tokens":37120,"cache_write_input_tokens":5,"output_tokens":200,"reasoning_output_tokens":24}}"#,
    );
    assert_eq!(
        got,
        [
            AgentEvent::Usage(Usage {
                input_tokens: 2000,
                output_tokens: 200,
                cached_input_tokens: 37120,
                cache_write_tokens: 5,
                cost_usd: None,
                cost_is_session_total: false,
                tokens_are_session_total: true,
            }),
            AgentEvent::FinalResult(FinalResult {
                text: "last".to_owned(),
                is_error: false
            }),
        ]
    );
    assert!(state.finish(Some(0)).events.is_empty());
}

#[test]
fn turn_failed_is_an_error_and_a_failed_result() {
    let mut state = ParseState::default();
    let got = events(
        &mut state,
        r#"{"type":"turn.failed","error":{"message":"high demand"}}"#,
    );
    assert_eq!(
        got,
        [
            AgentEvent::Error {
                message: "high demand".to_owned()
            },
            AgentEvent::FinalResult(FinalResult {
                text: String::new(),
                is_error: true
            }),
        ]
    );
    // Exit 1 after a failed turn adds nothing.
    assert!(state.finish(Some(1)).events.is_empty());
}

#[test]
fn finish_without_a_turn_end_fails() {
    let mut state = ParseState::default();
    events(&mut state, r#"{"type":"thread.started","thread_id":"t"}"#);
    events(
        &mut state,
        r#"{"type":"item.completed","item":{"id":"a","type":"agent_message","text":"partial"}}"#,
    );
    let got = state.finish(None).events;
    assert!(matches!(&got[0], AgentEvent::Error { message } if message.contains("signal")));
    assert_eq!(
        got[1],
        AgentEvent::FinalResult(FinalResult {
            text: "partial".to_owned(),
            is_error: true
        })
    );
    let got = ParseState::default().finish(Some(1)).events;
    assert!(matches!(&got[0], AgentEvent::Error { message } if message.contains("code 1")));
    // A non-zero exit after a completed turn is reported.
    let mut state = ParseState::default();
    events(&mut state, r#"{"type":"turn.completed","usage":{}}"#);
    assert!(matches!(
        &state.finish(Some(2)).events[..],
        [AgentEvent::Error { .. }]
    ));
}

#[test]
fn unknown_things_are_other_and_text_is_log() {
    for (line, kind) in [
        (r#"{"type":"turn.started"}"#, "turn-started"),
        (
            r#"{"type":"item.updated","item":{"id":"t","type":"todo_list","items":[]}}"#,
            "item-updated",
        ),
        (
            r#"{"type":"item.completed","item":{"id":"w","type":"web_search","query":"x"}}"#,
            "web-search",
        ),
        (
            r#"{"type":"item.completed","item":{"id":"t","type":"todo_list","items":[]}}"#,
            "todo-list",
        ),
        (
            r#"{"type":"session.configured","x":1}"#,
            "session-configured",
        ),
        (
            r#"{"type":"item.completed","item":{"id":3}}"#,
            "item-completed",
        ),
        (r#"{"x":1}"#, "unknown"),
    ] {
        match one(line).as_slice() {
            [AgentEvent::Other { kind: got, data }] => {
                assert_eq!(got, kind, "{line}");
                assert_eq!(data, line);
            }
            other => panic!("{line}: expected one Other, got {other:?}"),
        }
    }
    assert_eq!(
        one("Reading additional input from stdin..."),
        [AgentEvent::Log {
            text: "Reading additional input from stdin...".to_owned()
        }]
    );
    assert_eq!(
        ParseState::default()
            .parse_line(Stream::Stderr, "WARNING: x")
            .events,
        [AgentEvent::Log {
            text: "WARNING: x".to_owned()
        }]
    );
}

#[test]
fn never_panics_on_odd_lines() {
    for line in [
        "{}",
        "{\"type\":7}",
        "{\"type\":\"item.started\"}",
        "{\"type\":\"item.completed\",\"item\":{}}",
        "{\"type\":\"item.completed\",\"item\":{\"type\":\"file_change\",\"changes\":[{}]}}",
        "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":-1,\"cached_input_tokens\":1e99}}",
        "{\"type\":\"turn.failed\",\"error\":\"text\"}",
        "{\"type\":\"thread.started\",\"thread_id\":\"\"}",
        "{broken",
    ] {
        let batch = ParseState::default().parse_line(Stream::Stdout, line);
        assert!(!batch.events.is_empty(), "{line:?} was dropped");
    }
}

// ---------------------------------------------------------------------------------------------
// Declined items (0.171's `--approve-for-me` reviewer, app-server clients)
// ---------------------------------------------------------------------------------------------

/// A declined command, as 0.171 writes it.
const DECLINED_COMMAND: &str = r#"{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"/bin/bash -lc 'touch ../x.txt'","aggregated_output":"","exit_code":null,"status":"declined"}}"#;

fn item(line: &str) -> Item<'_> {
    let value: Line<'_> = serde_json::from_str(line).expect("a line");
    value.item.expect("an item")
}

#[test]
fn a_declined_command_is_a_denial_then_a_failed_result() {
    let mut state = ParseState::default();
    let started = r#"{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"/bin/bash -lc 'touch ../x.txt'","aggregated_output":"","exit_code":null,"status":"in_progress"}}"#;
    assert_eq!(events(&mut state, started).len(), 1, "the call");
    assert_eq!(
        events(&mut state, DECLINED_COMMAND),
        [
            AgentEvent::ToolDenied(ToolDenial {
                id: "item_1".to_owned(),
                tool: "exec_command".to_owned(),
                input: r#"{"command":"/bin/bash -lc 'touch ../x.txt'"}"#.to_owned(),
                reason: DECLINED.to_owned(),
            }),
            AgentEvent::ToolResult(ToolResult {
                id: "item_1".to_owned(),
                output: DECLINED.to_owned(),
                is_error: true,
            })
        ]
    );
    // Never announced: the call comes first.
    let got = one(DECLINED_COMMAND);
    assert!(matches!(&got[0], AgentEvent::ToolCall(call) if call.id == "item_1"));
    assert_eq!(got.len(), 3);
}

#[test]
fn the_denial_recogniser_reads_commands_mcp_calls_and_patches() {
    assert_eq!(
        declined(&item(DECLINED_COMMAND)),
        Some(Denial {
            tool: "exec_command".to_owned(),
            input: r#"{"command":"/bin/bash -lc 'touch ../x.txt'"}"#.to_owned(),
            tool_use_id: "item_1".to_owned(),
            reason: DECLINED.to_owned(),
        })
    );
    let mcp = r#"{"type":"item.completed","item":{"id":"m1","type":"mcp_tool_call","server":"docs","tool":"search","arguments":{"q":"x"},"result":null,"error":{"message":"user declined"},"status":"declined"}}"#;
    assert_eq!(
        declined(&item(mcp)),
        Some(Denial {
            tool: "docs/search".to_owned(),
            input: r#"{"q":"x"}"#.to_owned(),
            tool_use_id: "m1".to_owned(),
            reason: "user declined".to_owned(),
        })
    );
    let patch = r#"{"type":"item.completed","item":{"id":"p1","type":"file_change","changes":[{"path":"/w/a.md","kind":"add"}],"status":"declined","reason":"outside the workspace"}}"#;
    assert_eq!(
        declined(&item(patch)),
        Some(Denial {
            tool: "apply_patch".to_owned(),
            input: r#"{"changes":[{"kind":"add","path":"/w/a.md"}]}"#.to_owned(),
            tool_use_id: "p1".to_owned(),
            reason: "outside the workspace".to_owned(),
        })
    );
    // A declined patch changed no file.
    assert_eq!(
        one(patch),
        [AgentEvent::ToolDenied(ToolDenial {
            id: "p1".to_owned(),
            tool: "apply_patch".to_owned(),
            input: r#"{"changes":[{"kind":"add","path":"/w/a.md"}]}"#.to_owned(),
            reason: "outside the workspace".to_owned(),
        })]
    );
    let odd = r#"{"type":"item.completed","item":{"type":"web_search","status":"declined"}}"#;
    assert_eq!(
        declined(&item(odd)).map(|denial| (denial.tool, denial.input)),
        Some(("web_search".to_owned(), "{}".to_owned()))
    );
}

#[test]
fn a_failing_command_is_not_a_denial() {
    let failed = r#"{"type":"item.completed","item":{"id":"item_2","type":"command_execution","command":"sh -c 'exit 3'","aggregated_output":"no config\n","exit_code":3,"status":"failed"}}"#;
    assert_eq!(declined(&item(failed)), None);
    let got = one(failed);
    assert!(
        !got.iter()
            .any(|e| matches!(e, AgentEvent::Other { kind, .. } if kind == "declined"))
    );
    assert!(
        matches!(got.last(), Some(AgentEvent::ToolResult(r)) if r.is_error && r.output == "no config\n")
    );
    for status in ["completed", "in_progress", "failed"] {
        let line = DECLINED_COMMAND.replace("declined", status);
        assert_eq!(declined(&item(&line)), None, "{status}");
    }
}
