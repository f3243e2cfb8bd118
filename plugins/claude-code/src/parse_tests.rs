//! Unit tests of the stream-json reader, one line shape at a time.

use super::*;

fn events(state: &mut ParseState, line: &str) -> Vec<AgentEvent> {
    state.parse_line(Stream::Stdout, line).events
}

fn one(line: &str) -> Vec<AgentEvent> {
    events(&mut ParseState::default(), line)
}

const INIT: &str = r#"{"type":"system","subtype":"init","cwd":"/w","session_id":"s-1","tools":["Bash"],"model":"claude-x","permissionMode":"default"}"#;

#[test]
fn init_starts_a_session_once_per_id() {
    let mut state = ParseState::default();
    assert_eq!(
        events(&mut state, INIT),
        [AgentEvent::SessionStarted {
            id: "s-1".to_owned()
        }]
    );
    assert!(
        events(&mut state, INIT).is_empty(),
        "a repeated init is a no-op"
    );
    assert_eq!(
        events(&mut state, &INIT.replace("s-1", "s-2")),
        [AgentEvent::SessionStarted {
            id: "s-2".to_owned()
        }]
    );
}

#[test]
fn assistant_blocks_become_text_thinking_and_tool_calls() {
    let text = r#"{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"Hi \"there\"\nline two"}]},"session_id":"s-1"}"#;
    assert_eq!(
        one(text),
        [AgentEvent::AssistantText {
            text: "Hi \"there\"\nline two".to_owned()
        }]
    );
    let thinking = r#"{"type":"assistant","message":{"content":[{"type":"thinking","thinking":"hmm","signature":"x"}]}}"#;
    assert_eq!(
        one(thinking),
        [AgentEvent::Thinking {
            text: "hmm".to_owned()
        }]
    );
    let tool = r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls -la"}}]}}"#;
    assert_eq!(
        one(tool),
        [AgentEvent::ToolCall(ToolCall {
            id: "t1".to_owned(),
            name: "Bash".to_owned(),
            input: r#"{"command":"ls -la"}"#.to_owned(),
        })]
    );
    let several = r#"{"type":"assistant","message":{"content":[{"type":"text","text":"a"},{"type":"tool_use","id":"t2","name":"Read","input":{}},{"type":"image","source":{}}]}}"#;
    let got = one(several);
    assert_eq!(got.len(), 3);
    assert!(matches!(&got[2], AgentEvent::Other { kind, .. } if kind == "content-image"));
}

#[test]
fn an_assistant_error_line_is_an_error_not_text() {
    let line = r#"{"type":"assistant","message":{"model":"<synthetic>","content":[{"type":"text","text":"API Error: 529 Overloaded."}]},"error":"server_error"}"#;
    assert_eq!(
        one(line),
        [AgentEvent::Error {
            message: "API Error: 529 Overloaded.".to_owned()
        }]
    );
    let bare = r#"{"type":"assistant","message":{"content":[]},"error":"rate_limit"}"#;
    assert_eq!(
        one(bare),
        [AgentEvent::Error {
            message: "API error: rate_limit".to_owned()
        }]
    );
}

#[test]
fn tool_results_take_string_or_block_content() {
    let string = r#"{"type":"user","message":{"role":"user","content":[{"tool_use_id":"t1","type":"tool_result","content":"ok","is_error":false}]}}"#;
    assert_eq!(
        one(string),
        [AgentEvent::ToolResult(ToolResult {
            id: "t1".to_owned(),
            output: "ok".to_owned(),
            is_error: false
        })]
    );
    let blocks = r#"{"type":"user","message":{"role":"user","content":[{"tool_use_id":"t2","type":"tool_result","content":[{"type":"text","text":"one"},{"type":"text","text":"two"},{"type":"image","source":{}}],"is_error":true}]}}"#;
    assert_eq!(
        one(blocks),
        [AgentEvent::ToolResult(ToolResult {
            id: "t2".to_owned(),
            output: "one\ntwo\n[image]".to_owned(),
            is_error: true
        })]
    );
}

#[test]
fn long_tool_output_is_cut() {
    let big = "x".repeat(MAX_TOOL_OUTPUT * 2);
    let line = format!(
        r#"{{"type":"user","message":{{"content":[{{"tool_use_id":"t","type":"tool_result","content":"{big}"}}]}}}}"#
    );
    match &one(&line)[0] {
        AgentEvent::ToolResult(result) => assert!(result.output.len() <= MAX_TOOL_OUTPUT + 4),
        other => panic!("expected a tool result, got {other:?}"),
    }
}

#[test]
fn write_and_edit_results_are_file_changes() {
    let mut state = ParseState::default();
    events(
        &mut state,
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"e1","name":"Edit","input":{}}]}}"#,
    );
    let create = r#"{"type":"user","message":{"content":[{"tool_use_id":"w1","type":"tool_result","content":"File created"}]},"tool_use_result":{"type":"create","filePath":"/w/new.rs","content":"fn main() {}"}}"#;
    assert_eq!(
        events(&mut state, create)[1],
        AgentEvent::FileChange(FileChange {
            path: "/w/new.rs".to_owned(),
            kind: ChangeKind::Add
        })
    );
    let update = create.replace("\"create\"", "\"update\"");
    assert_eq!(
        events(&mut state, &update)[1],
        AgentEvent::FileChange(FileChange {
            path: "/w/new.rs".to_owned(),
            kind: ChangeKind::Update
        })
    );
    // Edit's result has no `type`; the tool's name says it.
    let edit = r#"{"type":"user","message":{"content":[{"tool_use_id":"e1","type":"tool_result","content":"ok"}]},"tool_use_result":{"filePath":"/w/lib.rs","oldString":"a","newString":"b"}}"#;
    assert_eq!(
        events(&mut state, edit)[1],
        AgentEvent::FileChange(FileChange {
            path: "/w/lib.rs".to_owned(),
            kind: ChangeKind::Update
        })
    );
    // A refused write changed nothing; a string result or a Bash result is no file change.
    let refused = r#"{"type":"user","message":{"content":[{"tool_use_id":"w2","type":"tool_result","content":"denied","is_error":true}]},"tool_use_result":"Error: denied"}"#;
    assert_eq!(events(&mut state, refused).len(), 1);
    let bash = r#"{"type":"user","message":{"content":[{"tool_use_id":"b1","type":"tool_result","content":"hi"}]},"tool_use_result":{"stdout":"hi","stderr":""}}"#;
    assert_eq!(events(&mut state, bash).len(), 1);
    let read = r#"{"type":"user","message":{"content":[{"tool_use_id":"r1","type":"tool_result","content":"x"}]},"tool_use_result":{"type":"text","file":{"filePath":"/w/a"}}}"#;
    assert_eq!(events(&mut state, read).len(), 1);
}

#[test]
fn result_gives_denials_usage_and_the_final_result() {
    let line = r#"{"type":"result","subtype":"success","is_error":false,"result":"Done.","session_id":"s-1","total_cost_usd":0.0467025,"usage":{"input_tokens":12,"cache_creation_input_tokens":2150,"cache_read_input_tokens":55860,"output_tokens":211},"permission_denials":[{"tool_name":"Write","tool_use_id":"t1","tool_input":{}}]}"#;
    let got = one(line);
    assert_eq!(
        got[0],
        AgentEvent::SessionStarted {
            id: "s-1".to_owned()
        }
    );
    assert_eq!(
        got[1],
        AgentEvent::ToolDenied(ToolDenial {
            id: "t1".to_owned(),
            tool: "Write".to_owned(),
            input: "{}".to_owned(),
            reason: "Claude Code was not allowed to use Write".to_owned(),
        })
    );
    assert_eq!(
        got[2],
        AgentEvent::Usage(Usage {
            input_tokens: 12,
            output_tokens: 211,
            cached_input_tokens: 55860,
            cache_write_tokens: 2150,
            cost_usd: Some(0.0467025),
            cost_is_session_total: true,
            tokens_are_session_total: false,
        })
    );
    assert_eq!(
        got[3],
        AgentEvent::FinalResult(FinalResult {
            text: "Done.".to_owned(),
            is_error: false
        })
    );
    assert_eq!(got.len(), 4);
}

#[test]
fn error_results_fail() {
    let line = r#"{"type":"result","subtype":"error_max_turns","is_error":false,"session_id":"s","errors":["too many turns"]}"#;
    let got = one(line);
    assert!(
        matches!(&got[1], AgentEvent::Error { message } if message.contains("error_max_turns") && message.contains("too many turns"))
    );
    assert_eq!(
        got.last(),
        Some(&AgentEvent::FinalResult(FinalResult {
            text: String::new(),
            is_error: true
        }))
    );
    let api = r#"{"type":"result","subtype":"success","is_error":true,"result":"API Error: 529","total_cost_usd":0}"#;
    assert_eq!(
        one(api).last(),
        Some(&AgentEvent::FinalResult(FinalResult {
            text: "API Error: 529".to_owned(),
            is_error: true
        }))
    );
}

#[test]
fn known_but_uninteresting_lines_are_other() {
    for (line, kind) in [
        (
            r#"{"type":"system","subtype":"api_retry","attempt":1}"#,
            "api-retry",
        ),
        (
            r#"{"type":"system","subtype":"status","status":"requesting"}"#,
            "status",
        ),
        (
            r#"{"type":"rate_limit_event","rate_limit_info":{}}"#,
            "rate-limit",
        ),
        (r#"{"type":"brand_new_thing","x":1}"#, "brand-new-thing"),
        (r#"{"no_type":true}"#, "unknown"),
        (
            r#"{"type":"assistant","message":"not an object"}"#,
            "assistant",
        ),
        (r#"{"type":"result","usage":"weird"}"#, "result"),
    ] {
        match one(line).as_slice() {
            [AgentEvent::Other { kind: got, data }] => {
                assert_eq!(got, kind, "{line}");
                assert_eq!(data, line);
            }
            other => panic!("{line}: expected one Other, got {other:?}"),
        }
    }
}

#[test]
fn partial_message_events_add_nothing() {
    let line = r#"{"type":"stream_event","event":{"delta":{"text":"Let me","type":"text_delta"},"index":0,"type":"content_block_delta"}}"#;
    assert!(one(line).is_empty());
}

#[test]
fn plain_text_and_stderr_are_logs() {
    let mut state = ParseState::default();
    assert_eq!(
        events(&mut state, "Error: not logged in"),
        [AgentEvent::Log {
            text: "Error: not logged in".to_owned()
        }]
    );
    assert_eq!(
        events(&mut state, "{\"type\":\"assistant\",\"mess"),
        [AgentEvent::Log {
            text: "{\"type\":\"assistant\",\"mess".to_owned()
        }]
    );
    assert_eq!(
        state
            .parse_line(Stream::Stderr, "{\"type\":\"result\"}")
            .events,
        [AgentEvent::Log {
            text: "{\"type\":\"result\"}".to_owned()
        }]
    );
    assert!(events(&mut state, "   ").is_empty());
}

#[test]
fn other_control_requests_are_refused_so_claude_does_not_wait() {
    let batch = ParseState::default().parse_line(
        Stream::Stdout,
        r#"{"type":"control_request","request_id":"h1","request":{"subtype":"hook_callback","callback_id":"x"}}"#,
    );
    assert_eq!(batch.replies.len(), 1);
    let reply: Value = serde_json::from_slice(&batch.replies[0]).expect("json");
    assert_eq!(reply["response"]["subtype"], "error");
    assert_eq!(reply["response"]["request_id"], "h1");
}

#[test]
fn finish_without_a_result_is_a_failure() {
    let mut state = ParseState::default();
    events(&mut state, INIT);
    events(
        &mut state,
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"half way"}]}}"#,
    );
    let got = state.finish(None).events;
    assert!(matches!(&got[0], AgentEvent::Error { message } if message.contains("signal")));
    assert_eq!(
        got[1],
        AgentEvent::FinalResult(FinalResult {
            text: "half way".to_owned(),
            is_error: true
        })
    );
    let got = ParseState::default().finish(Some(1)).events;
    assert!(matches!(&got[0], AgentEvent::Error { message } if message.contains("code 1")));
    assert!(matches!(&got[1], AgentEvent::FinalResult(r) if r.is_error));
}

#[test]
fn finish_after_a_result_adds_nothing_on_success() {
    let mut state = ParseState::default();
    events(
        &mut state,
        r#"{"type":"result","subtype":"success","is_error":false,"result":"ok"}"#,
    );
    assert!(state.finish(Some(0)).events.is_empty());
    let mut state = ParseState::default();
    events(
        &mut state,
        r#"{"type":"result","subtype":"success","is_error":false,"result":"ok"}"#,
    );
    assert!(matches!(
        &state.finish(Some(3)).events[..],
        [AgentEvent::Error { .. }]
    ));
    // After a failed result (an API error exits 1), the exit code adds nothing.
    let mut state = ParseState::default();
    events(
        &mut state,
        r#"{"type":"result","subtype":"success","is_error":true,"result":"API Error"}"#,
    );
    assert!(state.finish(Some(1)).events.is_empty());
    // A new turn that never finished (streamed input) fails again.
    let mut state = ParseState::default();
    events(
        &mut state,
        r#"{"type":"result","subtype":"success","is_error":false,"result":"ok"}"#,
    );
    events(
        &mut state,
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"more"}]}}"#,
    );
    assert!(
        matches!(state.finish(Some(0)).events.last(), Some(AgentEvent::FinalResult(r)) if r.is_error)
    );
}

#[test]
fn never_panics_on_odd_lines() {
    let odd = [
        "{}",
        "{\"type\":null}",
        "{\"type\":3}",
        "{\"type\":\"assistant\"}",
        "{\"type\":\"assistant\",\"message\":{\"content\":null}}",
        "{\"type\":\"assistant\",\"message\":{\"content\":[null, 1, {}]}}",
        "{\"type\":\"user\",\"message\":{\"content\":\"plain\"}}",
        "{\"type\":\"user\",\"message\":{\"content\":[{\"type\":\"tool_result\",\"content\":5}]}}",
        "{\"type\":\"result\",\"usage\":{\"input_tokens\":-5,\"output_tokens\":1e300}}",
        "{\"type\":\"control_request\"}",
        "{\"type\":\"control_request\",\"request_id\":\"x\",\"request\":{}}",
        "{\"type\":\"system\",\"subtype\":\"init\"}",
        "{\"type\":\"\\u0041ssistant\"}",
        "\u{0}{",
        "{\"a\":\"\u{fffd}\"}",
    ];
    for line in odd {
        let batch = ParseState::default().parse_line(Stream::Stdout, line);
        assert!(!batch.events.is_empty(), "{line:?} was dropped");
    }
}

// ---------------------------------------------------------------------------------------------
// Lines of 2.1.332
// ---------------------------------------------------------------------------------------------

/// A `system`/`permission_denied` line as 2.1.332 writes it.
const DENIED: &str = r#"{"type":"system","subtype":"permission_denied","tool_name":"Write","tool_use_id":"toolu_1","message":"Claude requested permissions to write to /w/notes.txt, but you haven't granted it yet.","uuid":"u","session_id":"s-1"}"#;

/// The `tool_use` the denial refers to.
const WRITE_CALL: &str = r#"{"type":"assistant","message":{"content":[{"id":"toolu_1","input":{"file_path":"/w/notes.txt","content":"draft\n"},"name":"Write","type":"tool_use"}]},"session_id":"s-1"}"#;

fn line(text: &str) -> Line<'_> {
    serde_json::from_str(text).expect("a line")
}

#[test]
fn a_permission_denied_line_is_a_tool_denial_with_the_calls_input() {
    let mut state = ParseState::default();
    events(&mut state, WRITE_CALL);
    assert_eq!(
        events(&mut state, DENIED),
        [AgentEvent::ToolDenied(ToolDenial {
            id: "toolu_1".to_owned(),
            tool: "Write".to_owned(),
            input: r#"{"content":"draft\n","file_path":"/w/notes.txt"}"#.to_owned(),
            reason: "Claude requested permissions to write to /w/notes.txt, but you haven't \
                     granted it yet."
                .to_owned(),
        })]
    );
    // A denial line naming nothing is kept as it is.
    let bare = r#"{"type":"system","subtype":"permission_denied","session_id":"s-1"}"#;
    assert_eq!(one(bare), [AgentEvent::other("permission-denied", bare)]);
}

#[test]
fn the_denial_recogniser_reads_tool_input_id_and_reason() {
    let mut state = ParseState::default();
    events(&mut state, WRITE_CALL);
    assert_eq!(
        state.permission_denial(&line(DENIED)),
        Some(Denial {
            tool: "Write".to_owned(),
            input: r#"{"content":"draft\n","file_path":"/w/notes.txt"}"#.to_owned(),
            tool_use_id: "toolu_1".to_owned(),
            reason: "Claude requested permissions to write to /w/notes.txt, but you haven't \
                     granted it yet."
                .to_owned(),
        })
    );
    // Once the call has its result, its input is no longer kept.
    events(
        &mut state,
        r#"{"type":"user","message":{"content":[{"tool_use_id":"toolu_1","type":"tool_result","content":"denied","is_error":true}]}}"#,
    );
    assert_eq!(
        state
            .permission_denial(&line(DENIED))
            .map(|denial| denial.input),
        Some("{}".to_owned())
    );
}

#[test]
fn the_denial_recogniser_takes_other_reasons_and_known_names() {
    let mut state = ParseState::default();
    events(&mut state, WRITE_CALL);
    // No tool name in the line: the call's; a decision reason instead of a message.
    let reasoned = r#"{"subtype":"permission_denied","tool_use_id":"toolu_1","decision_reason_type":"rule","decision_reason":"Write is denied by a rule","type":"system"}"#;
    let denial = state.permission_denial(&line(reasoned)).expect("a denial");
    assert_eq!(
        (denial.tool.as_str(), denial.reason.as_str()),
        ("Write", "Write is denied by a rule")
    );
    let structured = r#"{"type":"system","subtype":"permission_denied","tool_name":"Bash","tool_use_id":"t9","decision_reason":{"type":"mode","mode":"dontAsk"}}"#;
    let denial = state
        .permission_denial(&line(structured))
        .expect("a denial");
    assert_eq!(denial.input, "{}", "an unseen call's input is unknown");
    assert!(denial.reason.contains("dontAsk"), "{}", denial.reason);
    let only_type = r#"{"type":"system","subtype":"permission_denied","tool_name":"Bash","decision_reason_type":"classifier"}"#;
    assert_eq!(
        state
            .permission_denial(&line(only_type))
            .map(|denial| denial.reason),
        Some("classifier".to_owned())
    );
    let bare = r#"{"type":"system","subtype":"permission_denied","tool_name":"Bash"}"#;
    assert_eq!(
        state
            .permission_denial(&line(bare))
            .map(|denial| denial.reason),
        Some("permission denied".to_owned())
    );
}

#[test]
fn the_denial_recogniser_ignores_other_lines() {
    let state = ParseState::default();
    for text in [
        r#"{"type":"system","subtype":"permission_denied"}"#,
        r#"{"type":"system","subtype":"status","tool_name":"Write","tool_use_id":"t"}"#,
        r#"{"type":"result","subtype":"success","permission_denials":[{"tool_name":"Write","tool_use_id":"t","tool_input":{}}]}"#,
        WRITE_CALL,
        INIT,
    ] {
        assert_eq!(state.permission_denial(&line(text)), None, "{text}");
    }
}

#[test]
fn attachment_and_command_lifecycle_lines_are_other() {
    // `type` is not the first key of these lines.
    let attachment = r#"{"attachment":{"type":"hook_success","hookName":"PreToolUse:Write","toolUseID":"toolu_1","hookEvent":"PreToolUse","content":"","stdout":"{}","exitCode":0},"type":"attachment","uuid":"u","session_id":"s-1"}"#;
    let started = r#"{"type":"command_lifecycle","command_uuid":"c","state":"started","uuid":"u","session_id":"s-1"}"#;
    assert_eq!(
        one(attachment),
        [AgentEvent::other("attachment", attachment)]
    );
    assert_eq!(
        one(started),
        [AgentEvent::other("command-lifecycle", started)]
    );
    // After the result (2.1.332 writes the command's end there), they reopen nothing.
    let mut state = ParseState::default();
    events(
        &mut state,
        r#"{"type":"result","subtype":"success","is_error":false,"result":"ok"}"#,
    );
    events(&mut state, &started.replace("started", "completed"));
    assert!(state.finish(Some(0)).events.is_empty());
}

#[test]
fn a_result_with_new_fields_and_type_last_reads_the_same() {
    let line = r#"{"duration_api_ms":52,"stop_reason":"tool_deferred","session_id":"s-1","total_cost_usd":0.019,"usage":{"input_tokens":7,"cache_creation_input_tokens":1920,"cache_read_input_tokens":36400,"output_tokens":108,"output_tokens_details":{"thinking_tokens":0},"iterations":[],"fallback_credit":null},"permission_denials":[],"terminal_reason":"tool_deferred","deferred_tool_use":{"id":"toolu_1","name":"Write","input":{"file_path":"/w/a"}},"subagent_stats":{"spawned":0,"by_type":{}},"safety_stops":0,"is_error":false,"num_turns":1,"subtype":"success","result":"Waiting.","ttft_ms":159,"type":"result","queued_turn_count":0,"result_index":0,"model_usage_since_last_result":{"claude-opus-5-5":{"inputTokens":7}}}"#;
    assert_eq!(
        one(line),
        [
            AgentEvent::SessionStarted {
                id: "s-1".to_owned()
            },
            AgentEvent::Usage(Usage {
                input_tokens: 7,
                output_tokens: 108,
                cached_input_tokens: 36400,
                cache_write_tokens: 1920,
                cost_usd: Some(0.019),
                cost_is_session_total: true,
                tokens_are_session_total: false,
            }),
            AgentEvent::FinalResult(FinalResult {
                text: "Waiting.".to_owned(),
                is_error: false
            })
        ]
    );
    // An assistant line with `type` last is still assistant text.
    let text = r#"{"message":{"content":[{"text":"Hi","type":"text"}]},"session_id":"s-1","type":"assistant"}"#;
    assert_eq!(
        one(text),
        [AgentEvent::AssistantText {
            text: "Hi".to_owned()
        }]
    );
}
