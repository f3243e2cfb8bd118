//! The ACP conversation on real transcripts of `claude-agent-acp` 0.100.0 and 0.101.0 (their
//! bundled Claude Code against the fake model server; see `tests/transcripts/README.md`).

use super::*;
use codecafe_sdk::{ApprovalPolicy, SessionRef};

/// One version's recorded conversations.
struct Recorded {
    allow: &'static str,
    reject: &'static str,
    cancel: &'static str,
    load: &'static str,
}

macro_rules! recorded {
    ($folder:literal) => {
        Recorded {
            allow: include_str!(concat!("../tests/transcripts/", $folder, "/allow.jsonl")),
            reject: include_str!(concat!("../tests/transcripts/", $folder, "/reject.jsonl")),
            cancel: include_str!(concat!("../tests/transcripts/", $folder, "/cancel.jsonl")),
            load: include_str!(concat!(
                "../tests/transcripts/",
                $folder,
                "/load-allow.jsonl"
            )),
        }
    };
}

/// The previous and the pinned version.
const VERSIONS: [Recorded; 2] = [
    recorded!("claude-agent-acp-0.100.0"),
    recorded!("claude-agent-acp-0.101.0"),
];

/// The session a transcript started (the answer to `session/new`).
fn session_of(transcript: &str) -> String {
    transcript
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|message| message["id"] == SESSION)
        .and_then(|answer| answer["result"]["sessionId"].as_str().map(str::to_owned))
        .expect("a session/new answer")
}

/// The working directory the transcripts were captured in.
const CWD: &str = "/tmp/acp/repo";

fn invocation(level: PermissionLevel) -> Invocation {
    let mut invocation =
        Invocation::new("Write NOTE-77", CWD).with_option("command", r#"["claude-agent-acp"]"#);
    invocation.policy.level = level;
    invocation.policy.approvals = ApprovalPolicy::Ask;
    invocation
}

/// The conversation of `transcript`, each approval request answered with the next of
/// `decisions`: the events, the replies (as JSON) and whether standard input was closed.
fn replay(
    provider: &mut Acp,
    transcript: &str,
    decisions: &[ApprovalDecision],
) -> (Vec<AgentEvent>, Vec<Value>, bool) {
    let seen = codecafe_sdk::testing::converse(provider, transcript, decisions);
    (seen.events, seen.replies, seen.closed)
}

fn final_result(events: &[AgentEvent]) -> FinalResult {
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            AgentEvent::FinalResult(r) => Some(r.clone()),
            _ => None,
        })
        .expect("a final result")
}

fn built(acp: &mut Acp, invocation: &Invocation) -> CommandSpec {
    acp.build_command(invocation).expect("builds")
}

#[test]
fn the_stage_names_the_agent_and_the_conversation_begins_with_initialize() {
    let mut acp = Acp::default();
    let spec = built(&mut acp, &invocation(PermissionLevel::ReadOnly));
    assert_eq!(spec.program, "claude-agent-acp");
    let Stdin::KeepOpen(first) = &spec.stdin else {
        panic!("standard input stays open: {:?}", spec.stdin);
    };
    let hello: Value = serde_json::from_slice(first).expect("JSON");
    assert_eq!(hello["jsonrpc"], "2.0");
    assert_eq!(hello["method"], "initialize");
    assert_eq!(hello["params"]["clientCapabilities"]["terminal"], false);
    assert_eq!(
        hello["params"]["clientCapabilities"]["fs"]["writeTextFile"],
        false
    );
    for (options, key) in [
        (&[][..], "command"),
        (&[("command", "[]")][..], "command"),
        (&[("command", r#"["x"]"#), ("model", "1")][..], "model"),
    ] {
        let mut invocation = Invocation::new("p", CWD);
        for (k, v) in options {
            invocation = invocation.with_option(*k, *v);
        }
        match Acp::default().build_command(&invocation) {
            Err(BuildError::InvalidOption { key: named, .. }) => assert_eq!(named, key),
            other => panic!("{options:?}: {other:?}"),
        }
    }
}

#[test]
fn an_approved_write_runs_and_the_turn_ends_with_its_text() {
    for recorded in &VERSIONS {
        let mut acp = Acp::default();
        built(&mut acp, &invocation(PermissionLevel::ReadOnly));
        let (events, replies, closed) =
            replay(&mut acp, recorded.allow, &[ApprovalDecision::Allow]);
        let methods: Vec<&str> = replies
            .iter()
            .map(|r| r["method"].as_str().unwrap_or("(answer)"))
            .collect();
        assert_eq!(methods, ["session/new", "session/prompt", "(answer)"]);
        assert_eq!(replies[0]["params"]["cwd"], CWD);
        assert_eq!(replies[1]["params"]["prompt"][0]["text"], "Write NOTE-77");
        assert_eq!(
            replies[2]["result"]["outcome"],
            json!({"outcome": "selected", "optionId": "allow-once"})
        );
        assert!(closed);
        let asked: Vec<&ApprovalRequest> = events
            .iter()
            .filter_map(|e| match e {
                AgentEvent::ApprovalRequest(r) => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].tool, "Write");
        let input: Value = serde_json::from_str(&asked[0].input).expect("JSON");
        assert_eq!(input["file_path"], format!("{CWD}/note.txt"));
        assert_eq!(input["content"], "hello acp\n");
        assert!(
            events
                .iter()
                .any(|e| matches!(e, AgentEvent::ToolResult(r) if !r.is_error))
        );
        let result = final_result(&events);
        assert_eq!(
            (result.text.as_str(), result.is_error),
            ("Finished.", false)
        );
        let usage = events.iter().find_map(|e| match e {
            AgentEvent::Usage(u) => Some(*u),
            _ => None,
        });
        assert!(
            usage.is_some_and(|u| u.input_tokens > 0
                && u.cost_usd.is_some()
                && u.cost_is_session_total),
            "{usage:?}"
        );
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, AgentEvent::SessionStarted { .. }))
                .count(),
            1
        );
    }
}

#[test]
fn edits_inside_the_worktree_are_allowed_at_edit_without_asking() {
    for recorded in &VERSIONS {
        let mut acp = Acp::default();
        built(&mut acp, &invocation(PermissionLevel::Edit));
        let (events, replies, _) = replay(&mut acp, recorded.allow, &[]);
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, AgentEvent::ApprovalRequest(_)))
        );
        assert_eq!(
            replies[2]["result"]["outcome"]["optionId"], "allow-once",
            "{replies:?}"
        );
    }
}

#[test]
fn a_rejected_write_is_answered_with_the_reject_option() {
    for recorded in &VERSIONS {
        let mut acp = Acp::default();
        built(&mut acp, &invocation(PermissionLevel::ReadOnly));
        let (events, replies, _) = replay(&mut acp, recorded.reject, &[ApprovalDecision::Deny]);
        assert_eq!(replies[2]["result"]["outcome"]["optionId"], "reject");
        assert!(
            events
                .iter()
                .any(|e| matches!(e, AgentEvent::ToolResult(r) if r.is_error))
        );
        assert!(!final_result(&events).is_error);
    }
}

#[test]
fn a_deferred_request_cancels_the_turn() {
    for recorded in &VERSIONS {
        let mut acp = Acp::default();
        built(&mut acp, &invocation(PermissionLevel::ReadOnly));
        let (events, replies, closed) =
            replay(&mut acp, recorded.cancel, &[ApprovalDecision::Defer]);
        let n = replies.len();
        assert_eq!(
            replies[n - 2]["result"]["outcome"],
            json!({"outcome": "cancelled"})
        );
        assert_eq!(replies[n - 1]["method"], "session/cancel");
        assert!(replies[n - 1]["params"]["sessionId"].is_string());
        assert!(closed);
        assert!(
            final_result(&events).is_error,
            "a cancelled turn is no success"
        );
    }
}

#[test]
fn a_continued_session_is_loaded_and_its_replayed_history_skipped() {
    for recorded in &VERSIONS {
        let mut acp = Acp::default();
        let mut invocation = invocation(PermissionLevel::ReadOnly);
        let session = session_of(recorded.cancel);
        let session = session.as_str();
        invocation.session = Some(SessionRef {
            id: session.to_owned(),
            fork: false,
        });
        built(&mut acp, &invocation);
        let (events, replies, _) = replay(&mut acp, recorded.load, &[ApprovalDecision::Allow]);
        assert_eq!(replies[0]["method"], "session/load");
        assert_eq!(replies[0]["params"]["sessionId"], session);
        assert!(events.iter().any(|e| matches!(
            e,
            AgentEvent::SessionStarted { id } if id == session
        )));
        // The history the agent replays before the prompt is not this run's.
        let calls = events
            .iter()
            .filter(|e| matches!(e, AgentEvent::ToolCall(_)))
            .count();
        assert_eq!(calls, 1, "{events:?}");
        let mut forked = invocation.clone();
        forked.session = Some(SessionRef {
            id: session.to_owned(),
            fork: true,
        });
        assert!(Acp::default().build_command(&forked).is_err());
    }
}

#[test]
fn requests_the_client_does_not_offer_get_an_error() {
    let mut acp = Acp::default();
    built(&mut acp, &invocation(PermissionLevel::Edit));
    let batch = acp.parse_output(
        Stream::Stdout,
        r#"{"jsonrpc":"2.0","id":5,"method":"fs/write_text_file","params":{"path":"/x","content":"y"}}"#,
    );
    let reply: Value = serde_json::from_slice(&batch.replies[0]).expect("JSON");
    assert_eq!(reply["id"], 5);
    assert_eq!(reply["error"]["code"], jsonrpc::METHOD_NOT_FOUND);
    let end = acp.finish_output(Some(1));
    assert!(final_result(&end.events).is_error);
}
