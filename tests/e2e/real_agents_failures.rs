//! End to end with the **real** agent CLIs (see `real_agents.rs`): what goes wrong in the
//! built-in `moon` recipe, as a new user meets it.
//!
//! - A refused tool call is never a silent success: the read-only analyze stage's `Write` is a
//!   `tool-denied` event and a summary that says how to allow it; the edit stage whose `Write`
//!   is refused (outside the worktree) fails the order.
//! - A real Claude Code failure (the API answers 400) fails the order; `order retry` finishes
//!   it.
//! - `--max-cost` pauses the order before the next stage once Claude's reported cost reaches
//!   it.

#[allow(
    dead_code,
    reason = "each real-agent test binary uses some of the helpers"
)]
#[path = "real_agents/support.rs"]
mod support;

use codecafe_fake_model::{Api, Served};
use serde_json::Value;
use support::{
    ANALYSIS, Credentials, EXIT_AWAITING_INPUT, EXIT_FAILED, User, assert_committed_on_branch,
    claude_text, close, code_turns, number, plan_turn, review_turns, script, stage_prompt,
    with_signals,
};

/// What Claude Code answers a tool call it refused in `-p` mode.
const REFUSED: &str = "haven't granted it yet";

/// The read-only analyze stage's `Write` is refused: a `tool-denied` event, and the stage's
/// summary says `permissions: edit` would allow it (the stage itself completes). The edit
/// stage `code` writes outside the worktree: refused too, and since its level should have let
/// it work, the stage fails and so does the order. Neither file exists.
#[test]
fn refused_tool_calls_are_reported_and_fail_an_edit_stage() {
    let outside = tempfile::tempdir().expect("a directory outside the worktree");
    let anthropic = vec![
        serde_json::json!({
            "match": stage_prompt("analyze"),
            "blocks": [{"type": "tool_use", "name": "Write",
                        "input": {"file_path": "${CWD}/ANALYSIS.md", "content": "notes\n"}}],
            "usage": support::claude_usage()
        }),
        claude_text(
            REFUSED,
            &with_signals(
                &format!("I could not write ANALYSIS.md. {ANALYSIS}"),
                "proceed",
                "",
            ),
        ),
        plan_turn(),
        serde_json::json!({
            "match": stage_prompt("code"),
            "blocks": [{"type": "tool_use", "name": "Write",
                        "input": {"file_path": "${OUTSIDE}/escape.txt", "content": "out\n"}}],
            "usage": support::claude_usage()
        }),
        claude_text(
            REFUSED,
            &with_signals("I could not write escape.txt.", "proceed", ""),
        ),
    ];
    let user = User::new(
        &script(&anthropic, &[], &[]),
        &[("OUTSIDE", outside.path().display().to_string())],
        Credentials::Environment,
        &[],
    );

    let run = user.run(&["run", "--recipe", "moon", "Add a greeting script", "--json"]);
    assert_eq!(run.code, Some(EXIT_FAILED), "{}", run.context(&user));
    let id = run.order_id();
    let worktree = user.order(&id)["worktreePath"]
        .as_str()
        .expect("worktree")
        .to_owned();

    // analyze (read-only): reported, not fatal.
    let denied = run.agent_events("analyze", "tool-denied");
    assert!(
        denied
            .iter()
            .any(|d| d["tool"] == "Write" && d["input"].to_string().contains("ANALYSIS.md")),
        "a tool-denied event for analyze's Write\n{}",
        run.context(&user)
    );
    let analyze = run.one("stage:completed", Some("analyze"), &user);
    assert_eq!(
        analyze["denied"].as_array().map(Vec::len),
        Some(1),
        "{analyze}"
    );
    let summary = analyze["deniedSummary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("Write ")
            && summary.contains("ANALYSIS.md")
            && summary.contains("permissions: edit"),
        "{analyze}"
    );
    assert!(!std::path::Path::new(&worktree).join("ANALYSIS.md").exists());

    // code (edit): the refused write fails the stage and the order.
    assert!(
        !run.agent_events("code", "tool-denied").is_empty(),
        "{}",
        run.context(&user)
    );
    let failed = run.one("stage:failed", Some("code"), &user);
    assert_eq!(
        failed["denied"].as_array().map(Vec::len),
        Some(1),
        "{failed}"
    );
    let summary = failed["deniedSummary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("Write ")
            && summary.contains("escape.txt")
            && summary.contains("permissions: full"),
        "{failed}"
    );
    assert!(
        failed["error"].to_string().contains("escape.txt"),
        "the stage's error names the refused call: {failed}"
    );
    let order_failed = run.one("order:failed", None, &user);
    assert_eq!(order_failed["stage"], "code", "{order_failed}");
    assert!(run.events("stage:started", Some("review")).is_empty());
    assert!(!outside.path().join("escape.txt").exists());
    assert_eq!(user.model.remaining_turns(Api::Anthropic), 0);
    assert!(user.turns(Api::Openai).is_empty());
}

/// The API refuses analyze's requests (400, which Claude Code gives up on quickly): the stage
/// and the order fail with Claude's error. `order retry` runs analyze again (attempt 2, which
/// the server answers) and the rest of moon: the order completes with the coder's commit.
#[test]
fn a_real_claude_failure_fails_the_order_and_order_retry_completes_it() {
    // Attempt 1 of analyze reaches the side turn (an error, never used up); attempt 2's prompt
    // says "This is attempt 2" and takes the first scripted turn.
    let side = vec![serde_json::json!({
        "match": stage_prompt("analyze"),
        "error": {"status": 400, "body": {"type": "error", "error": {
            "type": "invalid_request_error", "message": "SCRIPTED-400: the request is refused"}}}
    })];
    let mut anthropic = vec![claude_text(
        "This is attempt 2",
        &with_signals(ANALYSIS, "proceed", ""),
    )];
    anthropic.push(plan_turn());
    anthropic.extend(code_turns());
    let review = with_signals("REVIEW-OK", "proceed", "");
    let user = User::new(
        &script(&anthropic, &review_turns(&review), &side),
        &[],
        Credentials::Environment,
        &[],
    );

    let run = user.run(&["run", "--recipe", "moon", "Add a greeting script", "--json"]);
    assert_eq!(run.code, Some(EXIT_FAILED), "{}", run.context(&user));
    let id = run.order_id();
    let failed = run.one("stage:failed", Some("analyze"), &user);
    assert!(
        failed.to_string().contains("SCRIPTED-400") || failed.to_string().contains("400"),
        "the stage's error is Claude's: {failed}"
    );
    let order_failed = run.one("order:failed", None, &user);
    assert_eq!(order_failed["stage"], "analyze", "{order_failed}");
    assert_eq!(order_failed["canRetry"], true, "{order_failed}");
    assert!(run.events("stage:started", Some("plan")).is_empty());
    let refused: Vec<_> = user
        .model
        .requests()
        .into_iter()
        .filter(|r| r.served == Served::Side)
        .collect();
    assert!(
        !refused.is_empty() && refused.iter().all(|r| r.status == 400),
        "{}",
        user.requests_summary()
    );
    assert_eq!(user.order(&id)["status"], "failed");

    let retried = user.run(&["order", "retry", &id, "--json"]);
    assert_eq!(retried.code, Some(0), "{}", retried.context(&user));
    let started = retried.one("stage:started", Some("analyze"), &user);
    assert_eq!(started["attempt"], 2, "{started}");
    retried.one("order:completed", None, &user);
    let order = user.order(&id);
    assert_eq!(order["status"], "completed", "{order}");
    assert_committed_on_branch(&user, &order);
    assert_eq!(user.model.remaining_turns(Api::Anthropic), 0);
    assert_eq!(user.model.remaining_turns(Api::Openai), 0);
}

/// `--max-cost 0.25`: analyze's scripted usage costs more than that (Claude Code's own cost
/// figure), so the order pauses before plan, awaiting input for its budget (exit 3); plan never
/// starts.
#[test]
fn max_cost_pauses_before_the_next_stage_with_real_claude_cost() {
    let anthropic = vec![serde_json::json!({
        "match": stage_prompt("analyze"),
        "blocks": [{"type": "text", "text": with_signals(ANALYSIS, "proceed", "")}],
        "usage": {"input_tokens": 20000, "output_tokens": 60000}
    })];
    let user = User::new(
        &script(&anthropic, &[], &[]),
        &[],
        Credentials::Environment,
        &[],
    );
    let run = user.run(&[
        "run",
        "--recipe",
        "moon",
        "--max-cost",
        "0.25",
        "Add a greeting script",
        "--json",
    ]);
    assert_eq!(
        run.code,
        Some(EXIT_AWAITING_INPUT),
        "{}",
        run.context(&user)
    );
    let analyze = run.one("stage:completed", Some("analyze"), &user);
    let cost = number(&analyze, "costUsd");
    assert!(cost > 0.25, "analyze costs more than the limit: {analyze}");
    let paused = run.one("order:awaiting-input", None, &user);
    assert_eq!(paused["reason"], "budget", "{paused}");
    assert!(close(number(&paused, "limitUsd"), 0.25), "{paused}");
    assert!(close(number(&paused, "spentUsd"), cost), "{paused}");
    assert_eq!(paused["stage"], Value::Null, "{paused}");
    assert!(
        run.events("stage:started", Some("plan")).is_empty(),
        "{}",
        run.context(&user)
    );
    assert_eq!(user.turns(Api::Anthropic).len(), 1);
    let order = user.order(&run.order_id());
    assert_eq!(order["status"], "awaiting-input", "{order}");
}
