//! End to end with the **real** `claude` (see `real_agents.rs`): approvals instead of bypass.
//!
//! A stage with `permissions: read-only` and `approvals: ask` whose agent wants to `Write` a
//! file: the call is deferred (Claude Code's turn ends, no process is left, no pool slot is
//! held), the order awaits the user's decision durably, and `order approve` / `order deny` from
//! another process continue the **same** Claude session — the approved call runs (answered from
//! the record when the agent repeats it), a denied one never does and the agent hears why.
//! `--always` allows calls matching the rule Claude Code proposes for the rest of the order, so
//! a second matching command is answered from the record without asking. A foreground run on a
//! terminal asks in place; codecafe killed there leaves the approval pending for `order
//! approve`. While orders wait for approvals, another order runs with a pool of one slot.

#[allow(
    dead_code,
    reason = "each real-agent test binary uses some of the helpers"
)]
#[path = "real_agents/support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use codecafe_fake_model::Api;
use serde_json::Value;
use support::{
    Credentials, EXIT_AWAITING_INPUT, User, claude_session, claude_text, claude_tool, script,
};

/// The recipe: one Claude stage that may only read, asking the user beyond that.
const RECIPE: &str = "name: ask\nworkflow:\n  stages: [code]\ncode:\n  provider: claude-code\n  permissions: read-only\n  approvals: ask\n";
/// The recipe file in the user's repository.
const RECIPE_FILE: &str = ".orch/workflows/ask.workflow.yml";
/// The user's request.
const PROMPT: &str = "Write the greeting file NOTE-42";
/// What the agent writes.
const CONTENT: &str = "hello from an approved write\n";

/// The first turn: the agent asks to write `note.txt` in its working directory.
fn write_turn(matching: &str) -> Value {
    serde_json::json!({
        "match": matching,
        "blocks": [
            {"type": "text", "text": "I will write the note."},
            {"type": "tool_use", "name": "Write",
             "input": {"file_path": "${CWD}/note.txt", "content": CONTENT}}
        ],
        "usage": support::claude_usage()
    })
}

/// A final answer that proceeds.
fn done(matching: &str, text: &str) -> Value {
    claude_text(matching, &support::with_signals(text, "proceed", ""))
}

fn user(anthropic: &[Value]) -> User {
    User::new(
        &script(anthropic, &[], &[]),
        &[],
        Credentials::Environment,
        &[(RECIPE_FILE, RECIPE)],
    )
}

/// Processes whose working directory is inside `dir` (an agent left behind).
fn processes_in(dir: &Path) -> Vec<String> {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| std::fs::read_link(e.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(&dir)))
        .map(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            format!(
                "{}: {}",
                e.file_name().to_string_lossy(),
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            )
        })
        .collect()
}

/// Runs the recipe with `--json`; it must stop at a pending approval of a `Write` of
/// `note.txt`. Returns (order id, its worktree, the approval).
fn run_to_approval(user: &User) -> (String, PathBuf, Value) {
    let (run, id) = user.run_awaiting(&["run", "--recipe", "ask", PROMPT, "--json"]);
    let waiting = run.one("order:awaiting-input", Some("code"), user);
    assert_eq!(waiting["reason"], "approval", "{waiting}");
    let approval = waiting["approval"].clone();
    assert_eq!(approval["tool"], "Write", "{approval}");
    assert!(
        approval["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("Write ") && s.ends_with("note.txt")),
        "{approval}"
    );
    assert!(
        approval["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("+{}", CONTENT.trim_end()))),
        "a preview of what is written: {approval}"
    );
    let worktree = user.worktree(&id);
    assert!(
        !worktree.join("note.txt").exists(),
        "nothing is written before the user decides"
    );
    assert_eq!(
        processes_in(&worktree),
        Vec::<String>::new(),
        "no agent waits for the decision"
    );
    assert!(
        run.agent_events("code", "tool-denied").is_empty(),
        "a deferred call is no denial\n{}",
        run.context(user)
    );
    (id, worktree, approval)
}

#[test]
fn an_approved_write_happens_in_the_same_session() {
    let user = user(&[
        write_turn(PROMPT),
        write_turn("The user approved your tool call"),
        done("File created successfully", "Wrote note.txt."),
    ]);
    let (id, worktree, _) = run_to_approval(&user);
    let asked = user.turns(Api::Anthropic);
    let first_session = asked.last().and_then(claude_session).expect("a session");

    // Answering it the wrong way is refused, saying what to use; nothing changes.
    let wrong = user.run(&["order", "input", &id, "yes"]);
    assert_eq!(wrong.code, Some(1), "{}", wrong.context(&user));
    assert!(
        wrong.stderr.contains("order approve") && wrong.stderr.contains("order deny"),
        "{}",
        wrong.stderr
    );

    let approved = user.run(&["order", "approve", &id, "--json"]);
    assert_eq!(approved.code, Some(0), "{}", approved.context(&user));
    // The user's decision, then the agent repeated the call and the record answered it.
    let decided: Vec<(Value, Value)> = approved
        .events("approval:decided", Some("code"))
        .iter()
        .map(|e| {
            (
                e["payload"]["decision"].clone(),
                e["payload"]["fromRecord"].clone(),
            )
        })
        .collect();
    assert_eq!(
        decided,
        [
            ("allow".into(), false.into()),
            ("allow".into(), true.into())
        ],
        "{}",
        approved.context(&user)
    );
    assert_eq!(
        std::fs::read_to_string(worktree.join("note.txt")).expect("note.txt was written"),
        CONTENT
    );
    let requests = user.turns(Api::Anthropic);
    assert!(requests.len() > asked.len(), "{}", user.requests_summary());
    for request in &requests[asked.len()..] {
        assert_eq!(
            claude_session(request).as_deref(),
            Some(first_session.as_str()),
            "the decision continues the same session\n{}",
            user.requests_summary()
        );
    }
    assert_eq!(user.order(&id)["status"], "completed");
    let approvals = user.run(&["order", "show", &id, "--json"]);
    let shown: Value = serde_json::from_str(&approvals.stdout).expect("order show --json");
    assert_eq!(shown["approvals"][0]["decision"], "allow", "{shown}");
}

#[test]
fn a_denied_write_never_happens_and_the_agent_hears_why() {
    let reason = "keep notes out of the repository REASON-9";
    let user = user(&[write_turn(PROMPT), done(reason, "Understood, no note.")]);
    let (id, worktree, _) = run_to_approval(&user);
    let approve_question = user.run(&["order", "approve", &id, "7777"]);
    assert_eq!(approve_question.code, Some(1));
    assert!(
        approve_question.stderr.contains("no pending approval 7777"),
        "{}",
        approve_question.stderr
    );

    let denied = user.run(&["order", "deny", &id, "--reason", reason, "--json"]);
    assert_eq!(denied.code, Some(0), "{}", denied.context(&user));
    let decided = denied.one("approval:decided", Some("code"), &user);
    assert_eq!(decided["decision"], "deny");
    assert_eq!(decided["reason"], reason);
    assert!(
        !worktree.join("note.txt").exists(),
        "a denied write never runs"
    );
    let last = user
        .turns(Api::Anthropic)
        .into_iter()
        .next_back()
        .expect("a request after the decision");
    assert!(
        support::body_has(&last, reason),
        "the agent's next request carries the reason: {}",
        last.body
    );
    assert_eq!(user.order(&id)["status"], "completed");
}

#[test]
fn always_allows_matching_commands_for_the_rest_of_the_order() {
    let bash = |matching: &str, command: &str| {
        claude_tool(
            matching,
            "Bash",
            serde_json::json!({"command": command, "description": "make a file"}),
        )
    };
    let user = user(&[
        bash(PROMPT, "touch first.txt"),
        bash("The user approved your tool call", "touch first.txt"),
        bash("", "touch second.txt"),
        done("", "Made both files."),
    ]);
    let (run, id) = user.run_awaiting(&["run", "--recipe", "ask", PROMPT, "--json"]);
    let approval = run.one("order:awaiting-input", Some("code"), &user)["approval"].clone();
    assert_eq!(approval["summary"], "Bash: touch first.txt", "{approval}");
    assert!(
        approval["rule"]
            .as_str()
            .is_some_and(|r| r.starts_with("Bash(")),
        "Claude Code proposes a rule: {approval}"
    );

    let approved = user.run(&["order", "approve", &id, "--always", "--json"]);
    assert_eq!(approved.code, Some(0), "{}", approved.context(&user));
    let worktree = user.worktree(&id);
    assert!(
        worktree.join("first.txt").exists(),
        "{}",
        approved.context(&user)
    );
    // The second command needed no question: the session's allowance (Claude Code applies
    // the rules it proposed) or the order's record answered it.
    assert!(
        worktree.join("second.txt").exists(),
        "{}",
        approved.context(&user)
    );
    assert!(
        approved.events("order:awaiting-input", None).is_empty(),
        "asked once only\n{}",
        approved.context(&user)
    );
    let by_user: Vec<_> = approved
        .events("approval:decided", None)
        .into_iter()
        .filter(|e| e["payload"]["fromRecord"] == false)
        .map(|e| e["payload"]["decision"].clone())
        .collect();
    assert_eq!(by_user, ["allow-always"]);
}

/// At `edit`, writing inside the worktree needs nobody; writing outside it asks, and the
/// approval lets it happen.
#[test]
fn an_edit_stage_asks_before_writing_outside_its_worktree() {
    let outside = tempfile::tempdir().expect("a directory outside the worktree");
    let outside_write = |matching: &str| {
        claude_tool(
            matching,
            "Write",
            serde_json::json!({"file_path": "${OUTSIDE}/shared.txt", "content": CONTENT}),
        )
    };
    let edit = RECIPE.replace("permissions: read-only", "permissions: edit");
    let user = User::new(
        &script(
            &[
                write_turn(PROMPT),
                outside_write("File created successfully"),
                outside_write("The user approved your tool call"),
                done("File created successfully", "Wrote both."),
            ],
            &[],
            &[],
        ),
        &[("OUTSIDE", outside.path().display().to_string())],
        Credentials::Environment,
        &[(RECIPE_FILE, &edit)],
    );
    let (run, id) = user.run_awaiting(&["run", "--recipe", "ask", PROMPT, "--json"]);
    let worktree = user.worktree(&id);
    assert!(
        worktree.join("note.txt").exists(),
        "inside the worktree: no question"
    );
    let asked = run.one("order:awaiting-input", Some("code"), &user);
    assert!(
        asked["approval"]["summary"]
            .as_str()
            .is_some_and(|s| s.ends_with("shared.txt")),
        "{asked}"
    );
    assert!(!outside.path().join("shared.txt").exists());
    let approved = user.run(&["order", "approve", &id, "--json"]);
    assert_eq!(approved.code, Some(0), "{}", approved.context(&user));
    assert_eq!(
        std::fs::read_to_string(outside.path().join("shared.txt")).expect("written"),
        CONTENT
    );
}

/// Two stages at once, each stopped at an approval: approving without naming one is refused
/// with both listed; naming the one that waits behind the other says which comes first; then
/// each is decided in turn and the order completes.
#[test]
fn several_pending_approvals_must_be_named_and_are_decided_in_turn() {
    let parallel = "name: two\nworkflow:\n  stages: [a, b]\na:\n  provider: claude-code\n  permissions: read-only\n  approvals: ask\n  depends_on: []\nb:\n  provider: claude-code\n  permissions: read-only\n  approvals: ask\n  depends_on: []\n";
    let mut first = write_turn(PROMPT);
    first["repeat"] = 2.into();
    let user = User::new(
        &script(
            &[
                first,
                write_turn("The user approved your tool call"),
                done("File created successfully", "Wrote it (a)."),
                write_turn("The user approved your tool call"),
                done("File created successfully", "Wrote it (b)."),
            ],
            &[],
            &[],
        ),
        &[],
        Credentials::Environment,
        &[(".orch/workflows/two.workflow.yml", parallel)],
    );
    let (run, id) = user.run_awaiting(&["run", "--recipe", "two", PROMPT, "--json"]);
    let shown: Value = serde_json::from_str(&user.run(&["order", "show", &id, "--json"]).stdout)
        .expect("order show --json");
    let pending: Vec<(i64, String)> = shown["approvals"]
        .as_array()
        .expect("approvals")
        .iter()
        .map(|a| {
            (
                a["id"].as_i64().expect("an id"),
                a["stage"].as_str().expect("a stage").to_owned(),
            )
        })
        .collect();
    assert_eq!(pending.len(), 2, "{shown}");
    let waiting = run.one("order:awaiting-input", None, &user);
    let first_stage = waiting["stage"].as_str().expect("a stage").to_owned();
    let (first_id, _) = pending
        .iter()
        .find(|(_, s)| *s == first_stage)
        .expect("first");
    let (second_id, _) = pending
        .iter()
        .find(|(_, s)| *s != first_stage)
        .expect("second");

    let unnamed = user.run(&["order", "approve", &id]);
    assert_eq!(unnamed.code, Some(1), "{}", unnamed.context(&user));
    assert!(
        unnamed.stderr.contains("2 pending approvals")
            && unnamed.stderr.contains(&format!("{first_id} [")),
        "{}",
        unnamed.stderr
    );
    let early = user.run(&["order", "approve", &id, &second_id.to_string()]);
    assert_eq!(early.code, Some(1));
    assert!(
        early
            .stderr
            .contains(&format!("decides approval {first_id} first")),
        "{}",
        early.stderr
    );

    let one = user.run(&["order", "approve", &id, &first_id.to_string(), "--json"]);
    assert_eq!(
        one.code,
        Some(EXIT_AWAITING_INPUT),
        "{}",
        one.context(&user)
    );
    assert_eq!(
        one.one("order:awaiting-input", None, &user)["approval"]["id"],
        *second_id
    );
    let two = user.run(&["order", "approve", &id, "--json"]);
    assert_eq!(two.code, Some(0), "{}", two.context(&user));
    assert!(user.worktree(&id).join("note.txt").exists());
    assert_eq!(user.order(&id)["status"], "completed");
}

/// A new user's way in: no recipe written, `cafe update --set approvals=ask`, the built-in
/// `moon`. Its read-only analyze stage asks before a `Write`; `order cancel` withdraws it.
#[test]
fn the_cafes_approvals_setting_makes_the_built_in_recipes_ask() {
    let analyze_writes = claude_tool(
        &support::stage_prompt("analyze"),
        "Write",
        serde_json::json!({"file_path": "${CWD}/ANALYSIS.md", "content": "notes\n"}),
    );
    let user = User::new(
        &script(&[analyze_writes], &[], &[]),
        &[],
        Credentials::Environment,
        &[],
    );
    let repo = user.repo.display().to_string();
    let set = user.run(&["cafe", "update", &repo, "--set", "approvals=ask"]);
    assert_eq!(set.code, Some(0), "{}", set.context(&user));
    let (run, id) =
        user.run_awaiting(&["run", "--recipe", "moon", "Add a greeting script", "--json"]);
    let asked = run.one("order:awaiting-input", Some("analyze"), &user);
    assert!(
        asked["approval"]["summary"]
            .as_str()
            .is_some_and(|s| s.ends_with("ANALYSIS.md")),
        "{asked}"
    );
    assert!(!user.worktree(&id).join("ANALYSIS.md").exists());
    let cancelled = user.run(&["order", "cancel", &id]);
    assert_eq!(cancelled.code, Some(0), "{}", cancelled.context(&user));
    let shown: Value = serde_json::from_str(&user.run(&["order", "show", &id, "--json"]).stdout)
        .expect("order show --json");
    assert_eq!(shown["approvals"][0]["decision"], "withdrawn", "{shown}");
}

#[test]
fn a_run_asked_in_place_and_killed_leaves_the_approval_for_later() {
    let user = user(&[
        write_turn(PROMPT),
        write_turn("The user approved your tool call"),
        done("File created successfully", "Wrote note.txt."),
    ]);
    // A terminal: `script` gives codecafe a pseudo-terminal for stdin and stdout.
    let command = user
        .cli
        .command(&user.repo, &["run", "--recipe", "ask", PROMPT]);
    let program = command.get_program().to_owned();
    let args: Vec<String> = command
        .get_args()
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect();
    let line = format!(
        "{} {}",
        shell_quote(&program.to_string_lossy()),
        args.join(" ")
    );
    let transcript = user.scratch().join("terminal.log");
    let mut terminal = std::process::Command::new("script");
    terminal
        .args(["-qfec", &line])
        .arg(&transcript)
        .current_dir(&user.repo)
        .envs(
            command
                .get_envs()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    user.user_env(&mut terminal);
    let mut child = terminal.spawn().expect("script(1) runs");
    let deadline = Instant::now() + Duration::from_secs(120);
    let asked = loop {
        let shown = std::fs::read_to_string(&transcript).unwrap_or_default();
        if shown.contains("[y]es / [n]o") {
            break shown;
        }
        assert!(
            Instant::now() < deadline && child.try_wait().ok().flatten().is_none(),
            "no question on the terminal:\n{shown}\n{}",
            user.requests_summary()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(asked.contains("asks to run Write"), "{asked}");
    // codecafe dies at the prompt.
    let killed = kill_codecafe_under(child.id());
    assert!(killed, "codecafe was found and killed");
    let _ = child.kill();
    let _ = child.wait();

    let orders = user.run(&["order", "list", "--json"]);
    let listed: Value = serde_json::from_str(&orders.stdout).expect("order list --json");
    let id = listed[0]["id"].as_str().expect("an order").to_owned();
    let approved = user.run(&["order", "approve", &id, "--json"]);
    assert_eq!(approved.code, Some(0), "{}", approved.context(&user));
    let worktree = user.worktree(&id);
    assert_eq!(
        std::fs::read_to_string(worktree.join("note.txt")).expect("written after the approval"),
        CONTENT
    );
}

#[test]
fn orders_waiting_for_approvals_hold_no_slot() {
    let mut turns = Vec::new();
    for _ in 0..3 {
        turns.push(write_turn(PROMPT));
    }
    turns.push(done("Say hello HELLO-7", "Hello."));
    let user = user(&turns);
    let set = user.run(&["config", "set", "pool.max", "1"]);
    assert_eq!(set.code, Some(0), "{}", set.context(&user));
    let mut waiting = Vec::new();
    for _ in 0..3 {
        waiting.push(run_to_approval(&user).0);
    }
    let solo = user.run(&["run", "--recipe", "solo", "Say hello HELLO-7", "--json"]);
    assert_eq!(solo.code, Some(0), "{}", solo.context(&user));
    for id in waiting {
        assert_eq!(user.order(&id)["status"], "awaiting-input");
    }
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Kills (SIGKILL) the `codecafe` process among the descendants of `root`.
fn kill_codecafe_under(root: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let comm = stat.split(['(', ')']).nth(1).unwrap_or("");
            if comm == "codecafe" && descends_from(&pid, root) {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid])
                    .status();
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn descends_from(pid: &str, root: u32) -> bool {
    let mut current = pid.to_owned();
    for _ in 0..16 {
        if current == root.to_string() {
            return true;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{current}/stat")) else {
            return false;
        };
        let after = stat.rsplit(')').next().unwrap_or("");
        match after.split_whitespace().nth(1) {
            Some(parent) if parent != "0" => current = parent.to_owned(),
            _ => return false,
        }
    }
    false
}
