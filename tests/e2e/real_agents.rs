//! End to end with the **real** agent CLIs, as a new user runs them: `codecafe init && codecafe
//! run --recipe moon "…"` with the pinned `claude` and `codex` of `tests/agents` (installed by
//! `npm ci --prefix tests/agents`, which `.ci/run` does), offline against the scripted fake
//! model server of `tests/fake-model` on 127.0.0.1. No recipe is edited: the built-in `moon`
//! runs analyze → plan → code (Claude Code; read-only, read-only, edit) → review (codex,
//! read-only) with the permissions it declares.
//!
//! - The user's keys only in the CLIs' own configuration, or only in the environment: either
//!   way the coder's commit lands on the order's branch.
//! - The agent sessions: plan forks analyze's Claude session (a new session id whose first
//!   request carries analyze's turn), code continues plan's (the same id).
//! - Cost: each stage's is its own run's, though Claude reports session totals; the order's is
//!   the sum; codex's tokens are priced with `<data dir>/pricing.json`, else left unpriced.
//! - `order input` resumes the codex thread that asked; follow-ups continue the codex and the
//!   Claude sessions.
//! - The control: logged in nowhere, the preflight stops the run before anything exists.
//!
//! - Usage across processes: an answered question in a Claude stage that continued another
//!   stage's session costs and uses only its own run (both processes of it), and a codex
//!   follow-up's tokens are its own run's though codex reports the resumed thread's totals.
//!
//! See `real_agents/support.rs` for the user's setup and the scripted model.

#[allow(
    dead_code,
    reason = "each real-agent test binary uses some of the helpers"
)]
#[path = "real_agents/support.rs"]
mod support;

use codecafe_fake_model::Api;
use serde_json::Value;
use support::{
    ANALYSIS, COMMIT_MESSAGE, Credentials, EXIT_AWAITING_INPUT, EXIT_NOT_READY, PLAN, REVIEW_USAGE,
    Run, User, analyze_turn, assert_committed_on_branch, claude_session, claude_text, close,
    code_turns, history_has, number, plan_turn, review_turns, script, stage_prompt, with_signals,
};

/// codex's price in the user's `pricing.json` (USD per million tokens).
const PRICING: &str =
    r#"{"version": 1, "models": {"gpt-5.5": {"input": 1.25, "cachedInput": 0.125, "output": 10}}}"#;

/// What the review's scripted tokens cost at [`PRICING`].
fn review_cost() -> f64 {
    REVIEW_USAGE
        .iter()
        .map(|(input, cached, output)| {
            (*input as f64 * 1.25 + *cached as f64 * 0.125 + *output as f64 * 10.0) / 1e6
        })
        .sum()
}

/// The Claude stages of moon, in order.
const CLAUDE_STAGES: [&str; 3] = ["analyze", "plan", "code"];

/// The Claude turns of a whole moon run (analyze 0, plan 1, code 2..=4).
fn moon_claude_turns() -> Vec<Value> {
    let mut turns = vec![analyze_turn(), plan_turn()];
    turns.extend(code_turns());
    turns
}

/// plan forked analyze's session, code continued plan's: in the events and at the server.
/// Returns (analyze's session, plan's and code's session).
fn assert_moon_sessions(user: &User, run: &Run) -> (String, String) {
    let started = |stage: &str| run.one("stage:started", Some(stage), user);
    let analyze = started("analyze");
    assert_eq!(analyze["session"], "fresh", "{analyze}");
    let plan = started("plan");
    assert_eq!(
        (&plan["session"], &plan["sessionOf"]),
        (&"fork".into(), &"analyze".into()),
        "plan's skill has `context: fork`: {plan}"
    );
    let code = started("code");
    assert_eq!(
        (&code["session"], &code["sessionOf"]),
        (&"continue".into(), &"plan".into()),
        "implementation-runner has `context: inherit`: {code}"
    );

    let first = run.session("analyze", user);
    let forked = run.session("plan", user);
    assert_ne!(first, forked, "a fork is a new session");
    assert_eq!(
        run.session("code", user),
        forked,
        "code continues plan's session"
    );

    // What the fake server saw: the session header of each request, and the history.
    let turn = |index| user.turn(Api::Anthropic, index);
    let analyze_requests = turn(0);
    assert_eq!(analyze_requests.len(), 1, "{}", user.requests_summary());
    assert_eq!(claude_session(&analyze_requests[0]), Some(first.clone()));
    let plan_requests = turn(1);
    assert_eq!(plan_requests.len(), 1, "{}", user.requests_summary());
    assert_eq!(claude_session(&plan_requests[0]), Some(forked.clone()));
    assert!(
        history_has(&plan_requests[0], "user", &stage_prompt("analyze"))
            && history_has(&plan_requests[0], "assistant", ANALYSIS),
        "the forked session's first request carries analyze's turn: {}",
        plan_requests[0].body
    );
    for index in 2..=4 {
        let requests = turn(index);
        assert_eq!(
            requests.len(),
            1,
            "turn {index}\n{}",
            user.requests_summary()
        );
        assert_eq!(claude_session(&requests[0]), Some(forked.clone()));
    }
    let code_first = &turn(2)[0];
    assert!(
        history_has(code_first, "assistant", PLAN)
            && history_has(code_first, "assistant", ANALYSIS),
        "code's first request continues plan's conversation: {}",
        code_first.body
    );
    (first, forked)
}

/// Each Claude stage's cost is its own run's: identical usage per request, so analyze and plan
/// (one request each) cost the same and code (three requests) three times that — not the
/// session totals Claude reports (1x, 2x, 5x). Returns their sum.
fn assert_claude_stage_costs(user: &User, run: &Run) -> f64 {
    let cost = |stage: &str| number(&run.one("stage:completed", Some(stage), user), "costUsd");
    let (analyze, plan, code) = (cost("analyze"), cost("plan"), cost("code"));
    assert!(analyze > 0.0, "{}", run.context(user));
    let same = |a: f64, b: f64| (a - b).abs() <= b.abs() * 1e-6;
    assert!(
        same(plan, analyze) && same(code, 3.0 * analyze),
        "stage costs analyze {analyze}, plan {plan}, code {code}: expected {analyze}, \
         {analyze}, {} (plan forks analyze's session and code continues it; Claude's \
         total_cost_usd covers the whole session)",
        3.0 * analyze
    );
    for stage in CLAUDE_STAGES {
        let completed = run.one("stage:completed", Some(stage), user);
        assert_eq!(completed["costEstimated"], Value::Null, "{completed}");
    }
    analyze + plan + code
}

/// The user keeps the keys in the CLIs' own configuration only — Claude Code's
/// `~/.claude/settings.json` (`apiKeyHelper`, endpoint in `env`), codex's `~/.codex/auth.json`
/// from `codex login --with-api-key` — and runs `moon` with no key in codecafe's environment.
/// The preflight accepts both logins, the coder's commit is on the order's branch, the
/// sessions fork and continue as the skills say, and each stage's cost is its own; codex's is
/// priced from the user's `pricing.json`.
#[test]
fn moon_commits_code_with_keys_only_in_the_clis_own_configuration() {
    let review = with_signals("REVIEW-OK: greet.sh prints the greeting.", "proceed", "");
    let user = User::new(
        &script(&moon_claude_turns(), &review_turns(&review), &[]),
        &[],
        Credentials::Config,
        &[],
    );
    // What the CLIs themselves say about these logins (codecafe's preflight asks them too).
    let (code, out) = user.cli_status("claude", &["auth", "status"]);
    assert_eq!(code, Some(0), "claude auth status: {out}");
    assert!(
        out.contains(r#""loggedIn": true"#) && out.contains(r#""apiKeySource": "apiKeyHelper""#),
        "{out}"
    );
    let (code, out) = user.cli_status("codex", &["login", "status"]);
    assert_eq!(code, Some(0), "codex login status: {out}");
    assert!(out.contains("API key configured"), "{out}");
    std::fs::write(user.cli.home().join("pricing.json"), PRICING).expect("pricing.json");

    let run = user.run(&["run", "--recipe", "moon", "Add a greeting script", "--json"]);
    assert_eq!(run.code, Some(0), "{}", run.context(&user));
    let id = run.order_id();
    run.one("order:completed", None, &user);
    let order = user.order(&id);
    assert_eq!(order["status"], "completed", "{order}");
    assert_committed_on_branch(&user, &order);
    let tools: Vec<String> = run
        .agent_events("code", "tool-call")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        tools.iter().any(|t| t.contains("Write")) && tools.iter().any(|t| t.contains("Bash")),
        "{tools:?}"
    );
    assert!(
        run.agent_events("code", "tool-denied").is_empty(),
        "{}",
        run.context(&user)
    );

    assert_moon_sessions(&user, &run);
    let claude = assert_claude_stage_costs(&user, &run);

    // codex: its tokens priced with the user's table.
    let review = run.one("stage:completed", Some("review"), &user);
    assert_eq!(review["costEstimated"], true, "{review}");
    assert_eq!(review["unpriced"], Value::Null, "{review}");
    let usage = &review["usage"];
    assert_eq!(usage["inputTokens"], 1500, "{review}");
    assert_eq!(usage["cachedInputTokens"], 5000, "{review}");
    assert_eq!(usage["outputTokens"], 150, "{review}");
    assert!(
        close(number(&review, "costUsd"), review_cost()),
        "review cost {} != {} ({review})",
        review["costUsd"],
        review_cost()
    );
    let completed = run.one("order:completed", None, &user);
    assert!(
        close(number(&completed, "costUsd"), claude + review_cost()),
        "the order's cost is the stages' sum {}: {completed}",
        claude + review_cost()
    );
    assert_eq!(completed["costEstimated"], true, "{completed}");
    assert!(
        close(number(&order, "costUsd"), claude + review_cost()),
        "{order}"
    );

    // codex ran its command in its read-only sandbox and saw the commit.
    let codex = user.turns(Api::Openai);
    assert_eq!(codex.len(), 2, "{}", user.requests_summary());
    assert!(
        codex[1]
            .last_user_text
            .as_deref()
            .is_some_and(|t| t.contains(COMMIT_MESSAGE)),
        "the review's command output: {:?}",
        codex[1].last_user_text
    );
    assert_eq!(user.model.remaining_turns(Api::Anthropic), 0);
    assert_eq!(user.model.remaining_turns(Api::Openai), 0);
}

/// The question the review asks.
const QUESTION: &str = "Should greet.sh also print the date?";
/// The user's answer.
const ANSWER: &str = "ANSWER-9D2: no date, keep it simple.";
/// The follow-up for codex (the recipe's last stage).
const FOLLOWUP_CODEX: &str = "FOLLOWUP-CODEX-1B4: is greet.sh executable?";
/// The follow-up for Claude Code (based on the code stage).
const FOLLOWUP_CLAUDE: &str = "FOLLOWUP-CLAUDE-6E8: add a comment line to greet.sh";

/// The user exports the keys (`ANTHROPIC_API_KEY` + `ANTHROPIC_BASE_URL`, `OPENAI_API_KEY`
/// named by codex's provider) and nothing is in the CLIs' configuration: `moon` commits the
/// code; codex's tokens are unpriced (gpt-5.5 is in no table) and the budget warns that it
/// does not count them. The review asks a question; `order input` resumes the same codex
/// thread. Then a follow-up (based on `code`, the last stage that edits) continues the coder's
/// Claude session, and one based on `review` the codex thread.
#[test]
fn moon_with_keys_in_the_environment_then_input_and_followups_continue_the_sessions() {
    let mut anthropic = moon_claude_turns();
    anthropic.push(claude_text(
        FOLLOWUP_CLAUDE,
        &with_signals("Added a comment line.", "proceed", ""),
    ));
    let asks = with_signals(
        &format!("The change works. {QUESTION}"),
        "await_user",
        &format!("  needsUserInput: true\n  questions:\n    - {QUESTION}\n"),
    );
    let mut openai = review_turns(&asks);
    openai.push(serde_json::json!({
        "match": ANSWER,
        "blocks": [{"type": "text", "text": with_signals("REVIEW-OK: approved without the date.", "proceed", "")}],
        "usage": {"input_tokens": 100, "cached_input_tokens": 0, "output_tokens": 20}
    }));
    openai.push(serde_json::json!({
        "match": FOLLOWUP_CODEX,
        "blocks": [{"type": "text", "text": with_signals("It is not executable; run chmod +x.", "proceed", "")}],
        "usage": {"input_tokens": 100, "cached_input_tokens": 0, "output_tokens": 20}
    }));
    let user = User::new(
        &script(&anthropic, &openai, &[]),
        &[],
        Credentials::Environment,
        &[],
    );
    // Nothing in the CLIs' own configuration: no codex auth.json, no key helper.
    assert!(!user.home.join(".codex/auth.json").exists());

    let run = user.run(&[
        "run",
        "--recipe",
        "moon",
        "--max-cost",
        "50",
        "Add a greeting script",
        "--json",
    ]);
    assert_eq!(
        run.code,
        Some(EXIT_AWAITING_INPUT),
        "the review asks\n{}",
        run.context(&user)
    );
    let id = run.order_id();
    let asked = run.one("order:awaiting-input", None, &user);
    assert_eq!(asked["reason"], "questions", "{asked}");
    assert_eq!(asked["stage"], "review", "{asked}");
    assert!(asked["questions"].to_string().contains(QUESTION), "{asked}");
    let order = user.order(&id);
    assert_committed_on_branch(&user, &order);
    let (_, coder_session) = assert_moon_sessions(&user, &run);
    let claude = assert_claude_stage_costs(&user, &run);
    let thread = run.session("review", &user);
    // The budget cannot count codex's unpriced tokens, and says so.
    let warnings: Vec<String> = run
        .events("order:warning", None)
        .iter()
        .map(|e| e["payload"]["message"].to_string())
        .collect();
    assert!(
        warnings.iter().any(|w| w.contains("gpt-5.5")),
        "a warning that the budget does not count the unpriced review\n{}",
        run.context(&user)
    );

    // The answer, from a new process: the same codex thread continues.
    let answered = user.run(&["order", "input", &id, ANSWER, "--json"]);
    assert_eq!(answered.code, Some(0), "{}", answered.context(&user));
    answered.one("order:completed", None, &user);
    assert_eq!(answered.session("review", &user), thread, "the same thread");
    let resumed = user.turn(Api::Openai, 2);
    assert_eq!(resumed.len(), 1, "{}", user.requests_summary());
    assert!(
        history_has(&resumed[0], "assistant", QUESTION),
        "the resumed thread carries the question: {}",
        resumed[0].body
    );
    let review = answered.one("stage:completed", Some("review"), &user);
    assert_eq!(review["unpriced"], "gpt-5.5", "{review}");
    assert_ne!(review["costEstimated"], true, "{review}");
    let completed = answered.one("order:completed", None, &user);
    assert!(
        close(number(&completed, "costUsd"), claude),
        "the order's cost is the Claude stages' {claude} (codex is unpriced): {completed}"
    );

    // A follow-up (by default on the last stage that edits: code) continues the coder's
    // Claude session.
    let followup = user.run(&["order", "followup", &id, FOLLOWUP_CLAUDE, "--json"]);
    assert_eq!(followup.code, Some(0), "{}", followup.context(&user));
    let started = followup.one("stage:started", Some("followup"), &user);
    assert_eq!(
        (&started["session"], &started["sessionOf"]),
        (&"continue".into(), &"code".into()),
        "{started}"
    );
    assert_eq!(followup.session("followup", &user), coder_session);
    let request = user.turn(Api::Anthropic, 5);
    assert_eq!(request.len(), 1, "{}", user.requests_summary());
    assert_eq!(claude_session(&request[0]), Some(coder_session.clone()));
    assert!(
        history_has(&request[0], "assistant", "Wrote and committed"),
        "the follow-up continues the coder's conversation: {}",
        request[0].body
    );
    let cost = number(
        &followup.one("stage:completed", Some("followup"), &user),
        "costUsd",
    );
    let one_request = claude / 5.0;
    assert!(
        (cost - one_request).abs() <= one_request * 1e-6,
        "the follow-up's cost is its one request's {one_request}, not the session's: {cost}"
    );

    // A follow-up based on `review` continues the codex thread.
    let followup = user.run(&[
        "order",
        "followup",
        &id,
        "--stage",
        "review",
        FOLLOWUP_CODEX,
        "--json",
    ]);
    assert_eq!(followup.code, Some(0), "{}", followup.context(&user));
    let started = followup.one("stage:started", Some("followup"), &user);
    assert_eq!(
        (&started["session"], &started["sessionOf"]),
        (&"continue".into(), &"review".into()),
        "{started}"
    );
    assert_eq!(followup.session("followup", &user), thread);
    let codex_followup = followup.one("stage:completed", Some("followup"), &user);
    let request = user.turn(Api::Openai, 3);
    assert_eq!(request.len(), 1, "{}", user.requests_summary());
    assert!(
        history_has(&request[0], "assistant", QUESTION) && history_has(&request[0], "user", ANSWER),
        "the follow-up continues the thread: {}",
        request[0].body
    );
    assert_eq!(user.model.remaining_turns(Api::Anthropic), 0);
    assert_eq!(user.model.remaining_turns(Api::Openai), 0);

    // The codex follow-up's usage is its own run's (the one request scripted with 100 input
    // and 20 output tokens), not the thread's total that codex reports after `exec resume`.
    let usage = &codex_followup["usage"];
    assert_eq!(
        (
            &usage["inputTokens"],
            &usage["cachedInputTokens"],
            &usage["outputTokens"]
        ),
        (&100.into(), &0.into(), &20.into()),
        "the codex follow-up's tokens are its own run's, not the thread's total \
         (codex 0.171 reports a resumed thread's cumulative usage): {codex_followup}"
    );
}

/// The coder's question.
const CODER_QUESTION: &str = "Should greet.sh greet in English or in French?";
/// The user's answer to it.
const CODER_ANSWER: &str = "ANSWER-3A7: in English.";

/// The code stage continues plan's Claude session (which forked analyze's), asks a question
/// first, and is answered with `order input` from a new process. Claude reports the session's
/// total each time; the stage's cost must still be only its own four requests (the question
/// and the three after the answer), and the order's the sum of its stages' — not the
/// session's history (analyze and plan) counted again.
///
/// Fails today: `order input` restores the stage without the cost baseline it started from
/// (`run_loop::drive` leaves `StageRec::cost_baseline` at 0), so code is charged 6 requests.
#[test]
fn an_answered_question_in_a_continued_claude_session_costs_only_its_own_turns() {
    let asks = with_signals(
        CODER_QUESTION,
        "await_user",
        &format!("  needsUserInput: true\n  questions:\n    - {CODER_QUESTION}\n"),
    );
    let mut anthropic = vec![
        analyze_turn(),
        plan_turn(),
        claude_text(&stage_prompt("code"), &asks),
    ];
    let mut after_answer = code_turns();
    after_answer[0]["match"] = CODER_ANSWER.into();
    anthropic.extend(after_answer);
    let review = with_signals("REVIEW-OK", "proceed", "");
    let user = User::new(
        &script(&anthropic, &review_turns(&review), &[]),
        &[],
        Credentials::Environment,
        &[],
    );
    let run = user.run(&["run", "--recipe", "moon", "Add a greeting script", "--json"]);
    assert_eq!(
        run.code,
        Some(EXIT_AWAITING_INPUT),
        "the coder asks\n{}",
        run.context(&user)
    );
    let id = run.order_id();
    let cost =
        |run: &Run, stage: &str| number(&run.one("stage:completed", Some(stage), &user), "costUsd");
    let one_request = cost(&run, "analyze");
    assert!(
        (cost(&run, "plan") - one_request).abs() <= one_request * 1e-6,
        "{}",
        run.context(&user)
    );
    let session = run.session("code", &user);

    let answered = user.run(&["order", "input", &id, CODER_ANSWER, "--json"]);
    assert_eq!(answered.code, Some(0), "{}", answered.context(&user));
    assert_eq!(answered.session("code", &user), session, "the same session");
    let order = user.order(&id);
    assert_committed_on_branch(&user, &order);
    let code = cost(&answered, "code");
    let completed_code = answered.one("stage:completed", Some("code"), &user);
    assert!(
        (code - 4.0 * one_request).abs() <= one_request * 1e-6,
        "code made four requests of {one_request} each; its cost is {code} (6x is the whole \
         session's total after the answer, analyze's and plan's turns included): \
         {completed_code}"
    );
    let completed = answered.one("order:completed", None, &user);
    assert!(
        (number(&completed, "costUsd") - 6.0 * one_request).abs() <= one_request * 1e-6,
        "the order's cost is analyze + plan + code = 6 requests of {one_request}: {completed}"
    );
    // And its tokens are those of its four requests (1200 input, 300 output each), the
    // question's included: not only the last process's.
    let usage = &completed_code["usage"];
    assert_eq!(
        (&usage["inputTokens"], &usage["outputTokens"]),
        (&(4 * 1200).into(), &(4 * 300).into()),
        "{completed_code}"
    );
}

/// The control: the same user with the agents configured but logged in nowhere (no key in the
/// environment, no key helper, no `codex login`). The preflight stops the run before anything
/// exists (exit 5) and names what to do; no agent ever reached the model.
#[test]
fn moon_without_any_key_stops_before_creating_anything() {
    let user = User::new(
        &script(&moon_claude_turns(), &[], &[]),
        &[],
        Credentials::Missing,
        &[],
    );
    let (code, out) = user.cli_status("claude", &["auth", "status"]);
    assert_eq!(code, Some(1), "claude auth status: {out}");
    assert!(out.contains(r#""loggedIn": false"#), "{out}");
    let (code, out) = user.cli_status("codex", &["login", "status"]);
    assert_eq!(code, Some(1), "codex login status: {out}");
    assert!(out.contains("Not logged in"), "{out}");

    let run = user.run(&["run", "--recipe", "moon", "Add a greeting script", "--json"]);
    assert_eq!(run.code, Some(EXIT_NOT_READY), "{}", run.context(&user));
    for hint in ["ANTHROPIC_API_KEY", "OPENAI_API_KEY"] {
        assert!(
            run.stderr.contains(hint) || run.stdout.contains(hint),
            "the preflight says how to log in ({hint})\n{}",
            run.context(&user)
        );
    }
    let list = user.run(&["order", "list", "--json"]);
    assert_eq!(list.stdout.trim(), "[]", "no order was created");
    assert!(
        user.model.requests().is_empty(),
        "{}",
        user.requests_summary()
    );
}
