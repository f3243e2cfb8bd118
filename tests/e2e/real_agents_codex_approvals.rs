//! End to end with the **real** `codex` (see `real_agents.rs`): approvals through `codex
//! app-server`. A read-only codex stage with `approvals: ask` asks before a command and before a
//! patch; each request is deferred (the turn is cancelled, the app server ends), the order awaits
//! the user's decision, and `order approve` / `order deny` resume the **same thread**
//! (`thread/resume`): an approved command and an approved patch land, a denied command never
//! runs and the agent hears why.

#[allow(
    dead_code,
    reason = "each real-agent test binary uses some of the helpers"
)]
#[path = "real_agents/support.rs"]
mod support;

use codecafe_fake_model::Api;
use serde_json::Value;
use support::{Credentials, EXIT_AWAITING_INPUT, User, script};

/// One codex stage that may only read, asking the user beyond that.
const RECIPE: &str = "name: ask\nworkflow:\n  stages: [review]\nreview:\n  provider: codex\n  permissions: read-only\n  approvals: ask\n";
const RECIPE_FILE: &str = ".orch/workflows/ask.workflow.yml";
const PROMPT: &str = "Prepare the release RELEASE-3";
const APPROVED: &str = "The user approved your tool call";

fn command(matching: &str, cmd: &str) -> Value {
    serde_json::json!({
        "match": matching,
        "blocks": [{"type": "function_call", "name": "exec_command",
                    "arguments": {"cmd": cmd, "workdir": "${CWD}"}}]
    })
}

fn patch(matching: &str) -> Value {
    serde_json::json!({
        "match": matching,
        "blocks": [{"type": "custom_tool_call", "name": "apply_patch",
                    "input": "*** Begin Patch\n*** Add File: CHANGES.md\n+release notes\n*** End Patch\n"}]
    })
}

fn text(matching: &str, body: &str) -> Value {
    serde_json::json!({
        "match": matching,
        "blocks": [{"type": "text", "text": support::with_signals(body, "proceed", "")}]
    })
}

fn user(openai: &[Value]) -> User {
    User::new(
        &script(&[], openai, &[]),
        &[],
        Credentials::Environment,
        &[(RECIPE_FILE, RECIPE)],
    )
}

#[test]
fn an_approved_command_and_an_approved_patch_land_in_the_same_thread() {
    let user = user(&[
        command(PROMPT, "touch made.txt"),
        command(APPROVED, "touch made.txt"),
        patch(""),
        patch(APPROVED),
        text("", "Release prepared."),
    ]);
    let (run, id) = user.run_awaiting(&["run", "--recipe", "ask", PROMPT, "--json"]);
    let asked = run.one("order:awaiting-input", Some("review"), &user);
    assert_eq!(
        asked["approval"]["summary"], "exec: touch made.txt",
        "{asked}"
    );
    let thread = run.session("review", &user);
    assert!(!user.worktree(&id).join("made.txt").exists());

    // The command: approved, repeated, answered from the record; then the patch asks.
    let first = user.run(&["order", "approve", &id, "--json"]);
    assert_eq!(
        first.code,
        Some(EXIT_AWAITING_INPUT),
        "{}",
        first.context(&user)
    );
    assert!(
        user.worktree(&id).join("made.txt").exists(),
        "{}",
        first.context(&user)
    );
    let patch_asked = first.one("order:awaiting-input", Some("review"), &user);
    assert_eq!(
        patch_asked["approval"]["tool"], "apply_patch",
        "{patch_asked}"
    );
    assert!(
        patch_asked["approval"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("release notes")),
        "a preview of the patch: {patch_asked}"
    );
    assert!(!user.worktree(&id).join("CHANGES.md").exists());

    let second = user.run(&["order", "approve", &id, "--json"]);
    assert_eq!(second.code, Some(0), "{}", second.context(&user));
    assert_eq!(
        std::fs::read_to_string(user.worktree(&id).join("CHANGES.md")).expect("the patch landed"),
        "release notes\n"
    );
    // Every process continued the first thread.
    for later in [&first, &second] {
        assert_eq!(
            later.sessions("review"),
            std::slice::from_ref(&thread),
            "{}",
            later.context(&user)
        );
    }
    // At the server: every later request carries the first turn's history.
    let requests = user.turns(Api::Openai);
    assert!(requests.len() >= 5, "{}", user.requests_summary());
    for request in &requests[1..] {
        assert!(
            support::history_has(request, "user", PROMPT),
            "a request outside the thread: {}",
            request.body
        );
    }
    assert_eq!(user.order(&id)["status"], "completed");
}

#[test]
fn a_denied_command_never_runs_and_the_agent_hears_why() {
    let reason = "the README stays REASON-5";
    let user = user(&[command(PROMPT, "rm README.md"), text(reason, "Leaving it.")]);
    let (_, id) = user.run_awaiting(&["run", "--recipe", "ask", PROMPT, "--json"]);
    let denied = user.run(&["order", "deny", &id, "--reason", reason, "--json"]);
    assert_eq!(denied.code, Some(0), "{}", denied.context(&user));
    assert!(
        user.worktree(&id).join("README.md").exists(),
        "a denied command never runs"
    );
    let last = user
        .turns(Api::Openai)
        .into_iter()
        .next_back()
        .expect("a request");
    assert!(support::body_has(&last, reason), "{}", last.body);
    assert!(
        denied.agent_events("review", "tool-denied").is_empty(),
        "{}",
        denied.context(&user)
    );
}
