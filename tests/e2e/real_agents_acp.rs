//! End to end with a **real** ACP agent from npm: `claude-agent-acp` (`@agentclientprotocol/
//! claude-agent-acp`, pinned in `tests/agents`; it bundles Claude Code and talks to the fake
//! Anthropic server). An `acp` stage names the agent's command; its permission requests go
//! through the approval flow: approve → the file is in the worktree, in the same agent session;
//! deny → no file and the agent hears why. And a recipe mixing claude-code, acp and codex stages
//! runs end to end.

#[allow(
    dead_code,
    reason = "each real-agent test binary uses some of the helpers"
)]
#[path = "real_agents/support.rs"]
mod support;

use codecafe_fake_model::Api;
use serde_json::Value;
use support::{Credentials, User, claude_session, script, with_signals};

const RECIPE_FILE: &str = ".orch/workflows/acp.workflow.yml";
/// One ACP stage that may only read, asking the user beyond that.
const RECIPE: &str = "name: acp\nworkflow:\n  stages: [write]\nwrite:\n  provider: acp\n  command: [claude-agent-acp]\n  permissions: read-only\n  approvals: ask\n";
const PROMPT: &str = "Write the ACP note NOTE-88";
const CONTENT: &str = "written through ACP\n";
/// Requests of the agent's own turn carry its tools (side requests such as the title do not).
const WITH_TOOLS: &str = "\"name\":\"Write\"";

fn write_turn(matching: &str) -> Value {
    serde_json::json!({
        "match": matching,
        "match_body": WITH_TOOLS,
        "blocks": [{"type": "tool_use", "name": "Write",
                    "input": {"file_path": "${CWD}/acp-note.txt", "content": CONTENT}}]
    })
}

fn text_turn(matching: &str, text: &str) -> Value {
    serde_json::json!({
        "match": matching,
        "match_body": WITH_TOOLS,
        "blocks": [{"type": "text", "text": with_signals(text, "proceed", "")}]
    })
}

/// What `claude-agent-acp` asks besides its turns (a title for the session).
fn side_turns() -> Vec<Value> {
    vec![
        serde_json::json!({"match_body": "title", "blocks": [{"type": "text", "text": "{\"title\":\"Note\"}"}]}),
    ]
}

/// A user whose Claude settings ask before acting (`claude-agent-acp` reads them; as root it
/// would otherwise bypass permissions).
fn user(anthropic: &[Value], openai: &[Value], files: &[(&str, &str)]) -> User {
    let user = User::new(
        &script(anthropic, openai, &side_turns()),
        &[],
        Credentials::Environment,
        files,
    );
    let path = user.home.join(".claude/settings.json");
    let mut settings: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("settings")).expect("JSON");
    settings["permissions"] = serde_json::json!({"defaultMode": "default"});
    std::fs::write(&path, settings.to_string()).expect("settings written");
    user
}

/// Whether a request is one of the agent's own turns (it offers the agent's tools).
fn with_tools(request: &codecafe_fake_model::RecordedRequest) -> bool {
    request.body["tools"]
        .as_array()
        .is_some_and(|tools| tools.iter().any(|t| t["name"] == "Write"))
}

#[test]
fn an_acp_agents_write_waits_for_approval_then_lands_in_the_same_session() {
    let user = user(
        &[
            write_turn(PROMPT),
            write_turn("The user approved your tool call"),
            text_turn("File created successfully", "Wrote the note."),
        ],
        &[],
        &[(RECIPE_FILE, RECIPE)],
    );
    let (run, id) = user.run_awaiting(&["run", "--recipe", "acp", PROMPT, "--json"]);
    let asked = run.one("order:awaiting-input", Some("write"), &user);
    assert_eq!(asked["approval"]["tool"], "Write", "{asked}");
    assert!(!user.worktree(&id).join("acp-note.txt").exists());
    let session = run.session("write", &user);

    let approved = user.run(&["order", "approve", &id, "--json"]);
    assert_eq!(approved.code, Some(0), "{}", approved.context(&user));
    assert_eq!(
        std::fs::read_to_string(user.worktree(&id).join("acp-note.txt")).expect("written"),
        CONTENT
    );
    assert_eq!(
        approved.sessions("write"),
        std::slice::from_ref(&session),
        "session/load continued it"
    );
    let sessions: Vec<Option<String>> = user
        .turns(Api::Anthropic)
        .iter()
        .filter(|r| with_tools(r))
        .map(claude_session)
        .collect();
    assert!(sessions.len() >= 3, "{}", user.requests_summary());
    assert!(
        sessions.iter().all(|s| s.as_ref() == Some(&session)),
        "every turn in the agent's one session: {sessions:?}"
    );
    assert_eq!(user.order(&id)["status"], "completed");
}

#[test]
fn a_denied_acp_write_never_lands_and_the_agent_hears_why() {
    let reason = "no notes in this repository REASON-8";
    let user = user(
        &[write_turn(PROMPT), text_turn(reason, "No note, then.")],
        &[],
        &[(RECIPE_FILE, RECIPE)],
    );
    let (_, id) = user.run_awaiting(&["run", "--recipe", "acp", PROMPT, "--json"]);
    let denied = user.run(&["order", "deny", &id, "--reason", reason, "--json"]);
    assert_eq!(denied.code, Some(0), "{}", denied.context(&user));
    assert!(!user.worktree(&id).join("acp-note.txt").exists());
    let last = user
        .turns(Api::Anthropic)
        .into_iter()
        .rfind(with_tools)
        .expect("a request");
    assert!(support::body_has(&last, reason), "{}", last.body);
}

/// plan (Claude Code, read-only) → write (an ACP agent, edit: its edit inside the worktree is
/// allowed without asking) → check (codex, read-only): all three run, in order, to completion.
#[test]
fn a_recipe_mixing_claude_code_acp_and_codex_runs_end_to_end() {
    const MIXED: &str = "name: mixed\nworkflow:\n  stages: [plan, write, check]\nplan:\n  provider: claude-code\n  permissions: read-only\nwrite:\n  provider: acp\n  command: [claude-agent-acp]\n  permissions: edit\n  approvals: ask\n  depends_on: [plan]\ncheck:\n  provider: codex\n  permissions: read-only\n  depends_on: [write]\n";
    let plan_text = "PLAN-77: write acp-note.txt";
    let user = user(
        &[
            text_turn(PROMPT, plan_text),
            write_turn(PROMPT),
            text_turn("File created successfully", "WROTE-77"),
        ],
        &[serde_json::json!({
            "match": PROMPT,
            "blocks": [{"type": "text", "text": with_signals("CHECKED-77: the note is there.", "proceed", "")}]
        })],
        &[(".orch/workflows/mixed.workflow.yml", MIXED)],
    );
    let run = user.run(&["run", "--recipe", "mixed", PROMPT, "--json"]);
    assert_eq!(run.code, Some(0), "{}", run.context(&user));
    let id = run.order_id();
    let providers: Vec<Value> = run
        .events("stage:started", None)
        .iter()
        .map(|e| e["payload"]["provider"].clone())
        .collect();
    assert_eq!(providers, ["claude-code", "acp", "codex"]);
    assert_eq!(
        std::fs::read_to_string(user.worktree(&id).join("acp-note.txt"))
            .unwrap_or_else(|err| panic!("{err}: {}", run.context(&user))),
        CONTENT
    );
    assert!(
        run.events("order:awaiting-input", None).is_empty(),
        "an edit inside the worktree is within `edit`"
    );
    let check = run.one("stage:completed", Some("check"), &user);
    assert!(
        run.agent_events("check", "final-result")[0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("CHECKED-77")),
        "{check}"
    );
    assert_eq!(user.order(&id)["status"], "completed");
}
