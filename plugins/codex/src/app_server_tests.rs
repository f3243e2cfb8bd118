//! The app-server conversation on real transcripts of codex 0.169.0 and 0.171.0
//! (`tests/transcripts/<version>/app-server/`): what the adapter sends back at each step, the
//! events, and the decisions.

use super::*;
use crate::Codex;
use codecafe_sdk::testing::invocation;
use codecafe_sdk::{ApprovalPolicy, Provider, SessionRef, Stdin};

/// One version's recorded conversations.
struct Recorded {
    version: &'static str,
    decline_then_patch: &'static str,
    cancelled: &'static str,
    resumed: &'static str,
}

macro_rules! recorded {
    ($version:literal) => {
        Recorded {
            version: $version,
            decline_then_patch: include_str!(concat!(
                "../tests/transcripts/",
                $version,
                "/app-server/decline-then-patch.jsonl"
            )),
            cancelled: include_str!(concat!(
                "../tests/transcripts/",
                $version,
                "/app-server/cancelled.jsonl"
            )),
            resumed: include_str!(concat!(
                "../tests/transcripts/",
                $version,
                "/app-server/resumed-accept.jsonl"
            )),
        }
    };
}

/// The previous and the pinned version.
const VERSIONS: [Recorded; 2] = [recorded!("0.169.0"), recorded!("0.171.0")];

/// The thread a transcript started (the answer to `thread/start`).
fn thread_of(transcript: &str) -> String {
    transcript
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|message| message["id"] == 2)
        .and_then(|answer| answer["result"]["thread"]["id"].as_str().map(str::to_owned))
        .expect("a thread/start answer")
}

fn asking(level: PermissionLevel) -> Invocation {
    let mut invocation = Invocation::new("make the files", "/work/tree");
    invocation.policy.level = level;
    invocation.policy.approvals = ApprovalPolicy::Ask;
    invocation
}

/// The conversation of `transcript`, each approval request answered with the next of
/// `decisions`: the events, the replies (as JSON) and whether standard input was closed.
fn replay(
    provider: &mut Codex,
    transcript: &str,
    decisions: &[ApprovalDecision],
) -> (Vec<AgentEvent>, Vec<Value>, bool) {
    let seen = codecafe_sdk::testing::converse(provider, transcript, decisions);
    (seen.events, seen.replies, seen.closed)
}

#[test]
fn asking_stages_run_the_app_server_and_greet_it() {
    let mut codex = Codex::default();
    let spec = codex
        .build_command(&asking(PermissionLevel::Edit))
        .expect("builds");
    assert_eq!(spec.args, ["app-server"]);
    let Stdin::KeepOpen(first) = &spec.stdin else {
        panic!("standard input stays open: {:?}", spec.stdin);
    };
    let greeting: Value = serde_json::from_slice(first).expect("JSON");
    assert_eq!(greeting["method"], "initialize");
    assert_eq!(greeting["id"], 1);
    assert!(codex.info().capabilities.approvals);
    // Without `ask`, `codex exec` as before.
    let spec = Codex::default()
        .build_command(&invocation(&[]))
        .expect("builds");
    assert!(spec.args.contains(&"exec".to_owned()));
}

#[test]
fn a_declined_command_and_an_accepted_patch() {
    for recorded in &VERSIONS {
        declined_then_patched(recorded);
    }
}

fn declined_then_patched(recorded: &Recorded) {
    let version = recorded.version;
    let mut codex = Codex::default();
    codex
        .build_command(&asking(PermissionLevel::ReadOnly))
        .expect("builds");
    let (events, replies, closed) = replay(
        &mut codex,
        recorded.decline_then_patch,
        &[ApprovalDecision::Deny, ApprovalDecision::Allow],
    );
    // The conversation: initialized + thread/start after initialize, turn/start after the
    // thread, then the two decisions.
    let methods: Vec<&str> = replies
        .iter()
        .map(|r| r["method"].as_str().unwrap_or("(answer)"))
        .collect();
    assert_eq!(
        methods,
        [
            "initialized",
            "thread/start",
            "turn/start",
            "(answer)",
            "(answer)"
        ],
        "{version}"
    );
    assert_eq!(replies[1]["params"]["sandbox"], "read-only");
    assert_eq!(replies[1]["params"]["approvalPolicy"], "untrusted");
    assert_eq!(replies[1]["params"]["cwd"], "/work/tree");
    assert_eq!(replies[2]["params"]["input"][0]["text"], "make the files");
    assert_eq!(
        replies[3],
        json!({"id": 0, "result": {"decision": "decline"}})
    );
    assert_eq!(
        replies[4],
        json!({"id": 1, "result": {"decision": "accept"}})
    );
    assert!(closed, "standard input is closed after the turn");

    let requests: Vec<&ApprovalRequest> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::ApprovalRequest(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].tool, "exec");
    assert_eq!(requests[0].input, r#"{"command":"touch made.txt"}"#);
    assert_eq!(requests[0].rule.as_deref(), Some("exec(touch made.txt:*)"));
    assert_eq!(requests[1].tool, "apply_patch");
    let patch: Value = serde_json::from_str(&requests[1].input).expect("JSON");
    assert!(
        patch["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("note.txt"))
    );
    assert_eq!(patch["diff"], "hello\n");
    // The user's decline is a decision, not a denial; the patch landed.
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, AgentEvent::ToolDenied(_)))
    );
    assert!(events.iter().any(|e| matches!(
        e,
        AgentEvent::FileChange(FileChange { path, kind: ChangeKind::Add }) if path.ends_with("note.txt")
    )));
    let sessions = events
        .iter()
        .filter(|e| matches!(e, AgentEvent::SessionStarted { .. }))
        .count();
    assert_eq!(sessions, 1, "the thread is the session: {events:?}");
    let Some(AgentEvent::FinalResult(last)) = events
        .iter()
        .rev()
        .find(|e| matches!(e, AgentEvent::FinalResult(_)))
    else {
        panic!("a final result: {events:?}");
    };
    assert_eq!((last.text.as_str(), last.is_error), ("All done.", false));
    let usage = events.iter().find_map(|e| match e {
        AgentEvent::Usage(u) => Some(*u),
        _ => None,
    });
    assert!(
        usage.is_some_and(|u| u.tokens_are_session_total && u.input_tokens > 0),
        "{usage:?}"
    );
}

#[test]
fn a_deferred_request_cancels_the_turn_without_a_denial() {
    for recorded in &VERSIONS {
        let mut codex = Codex::default();
        codex
            .build_command(&asking(PermissionLevel::ReadOnly))
            .expect("builds");
        cancelled(&mut codex, recorded);
    }
}

fn cancelled(codex: &mut Codex, recorded: &Recorded) {
    let version = recorded.version;
    let (events, replies, closed) = replay(codex, recorded.cancelled, &[ApprovalDecision::Defer]);
    assert_eq!(
        replies.last(),
        Some(&json!({"id": 0, "result": {"decision": "cancel"}})),
        "{version}"
    );
    assert!(closed, "{version}");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, AgentEvent::ToolDenied(_)))
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AgentEvent::FinalResult(r) if r.is_error)),
        "an interrupted turn is no success: {events:?}"
    );
}

#[test]
fn a_resumed_thread_continues_with_thread_resume() {
    for recorded in &VERSIONS {
        let version = recorded.version;
        let thread = thread_of(recorded.cancelled);
        let mut codex = Codex::default();
        let mut invocation = asking(PermissionLevel::ReadOnly);
        invocation.session = Some(SessionRef {
            id: thread.clone(),
            fork: false,
        });
        codex.build_command(&invocation).expect("builds");
        let (events, replies, _) = replay(&mut codex, recorded.resumed, &[ApprovalDecision::Allow]);
        assert_eq!(replies[1]["method"], "thread/resume", "{version}");
        assert_eq!(
            replies[1]["params"]["threadId"],
            thread.as_str(),
            "{version}"
        );
        assert!(
            events.iter().any(|e| matches!(
                e,
                AgentEvent::SessionStarted { id } if *id == thread
            )),
            "{version}"
        );
        assert!(
            events
                .iter()
                .any(|e| matches!(e, AgentEvent::ToolResult(r) if !r.is_error)),
            "{version}: the approved command ran: {events:?}"
        );
    }
}

#[test]
fn requests_nobody_serves_get_an_error_and_the_run_goes_on() {
    let mut codex = Codex::default();
    codex
        .build_command(&asking(PermissionLevel::Edit))
        .expect("builds");
    let batch = codex.parse_output(
        Stream::Stdout,
        r#"{"id":7,"method":"item/tool/requestUserInput","params":{}}"#,
    );
    let reply: Value = serde_json::from_slice(&batch.replies[0]).expect("JSON");
    assert_eq!(reply["id"], 7);
    assert_eq!(reply["error"]["code"], jsonrpc::METHOD_NOT_FOUND);
    // A process that ends before its turn completed failed.
    let end = codex.finish_output(Some(1));
    assert!(
        end.events
            .iter()
            .any(|e| matches!(e, AgentEvent::FinalResult(r) if r.is_error))
    );
}
