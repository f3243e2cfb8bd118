//! End to end with the **real** `claude` TUI (see `real_agents.rs`): interactive stages.
//!
//! The user's Claude Code is configured as after onboarding (`~/.claude.json` with onboarding
//! done and the API key approved) and has never seen the order's worktree, so every run meets
//! the folder-trust dialog, which the adapter answers for codecafe's own worktree. The prompt is
//! typed in; the stage ends when the TUI is idle and Claude's own transcript says the turn
//! ended; the next (headless) stage gets the final text from that transcript. A permission
//! dialog becomes a pending approval that `order approve` in another process answers with the
//! dialog's keys, and `order attach` (driven through a pseudo-terminal here) shows the live
//! screen, types into it and detaches leaving the agent running.

#[allow(
    dead_code,
    reason = "each real-agent test binary uses some of the helpers"
)]
#[path = "real_agents/support.rs"]
mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use codecafe_fake_model::Api;
use codecafe_sdk::{CommandSpec, Io, Stdin};
use codecafe_terminals::Output;
use serde_json::Value;
use support::{ANTHROPIC_KEY, Credentials, User, claude_text, claude_usage, script, with_signals};

/// The longest any wait here takes.
const WAIT: Duration = Duration::from_secs(120);

/// The recipe file in the user's repository.
const RECIPE_FILE: &str = ".orch/workflows/tui.workflow.yml";

/// An interactive stage that may edit, then a headless reviewer that reads its final text.
const EDIT_RECIPE: &str = "name: tui\nworkflow:\n  stages: [code, report]\ncode:\n  provider: claude-code\n  interactive: true\n  permissions: edit\nreport:\n  provider: claude-code\n  role: reviewer\n  permissions: read-only\n";

/// An interactive stage that may only read and asks beyond that.
const ASK_RECIPE: &str = "name: tui\nworkflow:\n  stages: [code]\ncode:\n  provider: claude-code\n  interactive: true\n  permissions: read-only\n  approvals: ask\n";

/// The user's request.
const PROMPT: &str = "Write the greeting file TUI-REQUEST-31";
/// What the agent writes.
const CONTENT: &str = "hello from the TUI\n";
/// The interactive stage's final words.
const FINAL: &str = "Wrote hello.txt. TUI-FINAL-88";

/// The agent writes `hello.txt` in its working directory.
fn write_turn() -> Value {
    serde_json::json!({
        "match": "TUI-REQUEST-31",
        "blocks": [
            {"type": "text", "text": "I will write the file."},
            {"type": "tool_use", "name": "Write",
             "input": {"file_path": "${CWD}/hello.txt", "content": CONTENT}}
        ],
        "usage": claude_usage()
    })
}

/// The agent's final answer once the write ran.
fn final_turn() -> Value {
    claude_text(
        "File created successfully",
        &with_signals(FINAL, "proceed", ""),
    )
}

/// A user whose Claude Code finished onboarding and approved its key, with `recipe`.
fn user(recipe: &str, anthropic: &[Value]) -> User {
    let user = User::new(
        &script(anthropic, &[], &[]),
        &[],
        Credentials::Environment,
        &[(RECIPE_FILE, recipe)],
    );
    let suffix = &ANTHROPIC_KEY[ANTHROPIC_KEY.len() - 20..];
    std::fs::write(
        user.home.join(".claude.json"),
        serde_json::json!({
            "hasCompletedOnboarding": true,
            "customApiKeyResponses": {"approved": [suffix], "rejected": []},
        })
        .to_string(),
    )
    .expect(".claude.json");
    user
}

/// A `codecafe` started in the background; killed if the test ends before it does (a failed
/// assertion must not leave it and its agent running).
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `codecafe args` started in the background, its output in `log`.
fn spawn(user: &User, args: &[&str], log: &Path) -> Running {
    let mut command = user.cli.command(&user.repo, args);
    user.user_env(&mut command);
    command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log).expect("log"))
        .stderr(std::fs::File::create(log.with_extension("err")).expect("log"));
    Running(Some(command.spawn().expect("codecafe starts")))
}

/// Waits for the background `codecafe` to end (bounded); its exit code.
fn finish(mut running: Running, log: &Path) -> Option<i32> {
    let deadline = Instant::now() + WAIT;
    let child = running.0.as_mut()?;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            running.0 = None;
            return status.code();
        }
        assert!(
            Instant::now() < deadline,
            "codecafe did not finish\n{}",
            logs(log)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn logs(log: &Path) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        std::fs::read_to_string(log).unwrap_or_default(),
        std::fs::read_to_string(log.with_extension("err")).unwrap_or_default()
    )
}

/// The id of the order of the run logging to `log` (its first JSON event names it), waited for.
fn order_id(log: &Path) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(id) = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find_map(|e| e["orderId"].as_str().map(str::to_owned))
        {
            return id;
        }
        assert!(Instant::now() < deadline, "no order started\n{}", logs(log));
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `codecafe run` of the ask recipe in the background, until the TUI's permission dialog made
/// the order await the user: the run, the order's id, the run's log.
fn run_to_dialog(user: &User) -> (Running, String, std::path::PathBuf) {
    let log = user.scratch().join("run.log");
    let child = spawn(user, &["run", "--recipe", "tui", PROMPT, "--json"], &log);
    let id = order_id(&log);
    wait_status(user, &id, "awaiting-input", &log);
    (child, id, log)
}

/// Waits until order `id` has status `status`.
fn wait_status(user: &User, id: &str, status: &str, log: &Path) {
    let deadline = Instant::now() + WAIT;
    loop {
        if user.order(id)["status"] == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "order {id} never became {status}\n{}\n{}",
            logs(log),
            user.requests_summary()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn an_interactive_stage_edits_in_its_worktree_and_hands_its_final_text_on() {
    let report = claude_text(
        "TUI-FINAL-88",
        &with_signals("Report: the greeting file is there.", "proceed", ""),
    );
    let user = user(EDIT_RECIPE, &[write_turn(), final_turn(), report]);
    let run = user.run(&["run", "--recipe", "tui", PROMPT, "--json"]);
    assert_eq!(run.code, Some(0), "{}", run.context(&user));
    let id = run.order_id();
    let worktree = user.worktree(&id);
    assert_eq!(
        std::fs::read_to_string(worktree.join("hello.txt")).expect("hello.txt was written"),
        CONTENT
    );
    // The prompt was typed into the TUI (the first request carries it), and the reviewer's
    // headless prompt carries the interactive stage's final text, read from the transcript.
    let requests = user.turns(Api::Anthropic);
    assert!(
        requests
            .iter()
            .any(|r| support::body_has(r, "TUI-REQUEST-31")),
        "{}",
        user.requests_summary()
    );
    let completed = run.one("stage:completed", Some("code"), &user);
    assert!(
        completed["usage"]["outputTokens"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "usage from the transcript: {completed}"
    );
    assert!(
        completed["costUsd"].as_f64().is_some_and(|c| c > 0.0),
        "the cost Claude Code recorded as it ended: {completed}"
    );
    let texts = run.agent_events("code", "final-result");
    assert!(
        texts.iter().any(|e| e["text"]
            .as_str()
            .is_some_and(|t| t.contains("TUI-FINAL-88"))),
        "{}",
        run.context(&user)
    );
    assert_eq!(user.order(&id)["status"], "completed");
    assert!(
        user.model.remaining_turns(Api::Anthropic) == 0,
        "the reviewer got the final text\n{}",
        user.requests_summary()
    );
}

#[test]
fn a_permission_dialog_is_a_pending_approval_answered_from_another_process() {
    let user = user(ASK_RECIPE, &[write_turn(), final_turn()]);
    let (child, id, log) = run_to_dialog(&user);
    let worktree = user.worktree(&id);
    assert!(
        !worktree.join("hello.txt").exists(),
        "nothing written before the decision"
    );
    let shown = user.run(&["order", "show", &id, "--json"]);
    let order: Value = serde_json::from_str(&shown.stdout).expect("order show --json");
    assert_eq!(order["approvals"][0]["tool"], "Write", "{order}");

    let approved = user.run(&["order", "approve", &id]);
    assert_eq!(approved.code, Some(0), "{}", approved.context(&user));
    assert_eq!(finish(child, &log), Some(0), "{}", logs(&log));
    assert_eq!(
        std::fs::read_to_string(worktree.join("hello.txt")).expect("hello.txt was written"),
        CONTENT
    );
    let order = user.order(&id);
    assert_eq!(order["status"], "completed", "{order}");
    let shown = user.run(&["order", "show", &id, "--json"]);
    let order: Value = serde_json::from_str(&shown.stdout).expect("order show --json");
    assert_eq!(order["approvals"][0]["decision"], "allow", "{order}");
}

/// The processes whose working directory is inside `dir` (the agent).
fn agents_in(dir: &Path) -> Vec<u32> {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.file_name().to_str()?.parse::<u32>().ok()?, e.path())))
        .filter(|(_, path)| {
            std::fs::read_link(path.join("cwd")).is_ok_and(|cwd| cwd.starts_with(&dir))
        })
        .map(|(pid, _)| pid)
        .collect()
}

/// `codecafe order attach id` in a pseudo-terminal of its own, as a user's terminal.
fn attach(user: &User, id: &str) -> Viewer {
    let mut command = user.cli.command(&user.repo, &["order", "attach", id]);
    user.user_env(&mut command);
    let env: Vec<(String, String)> = command
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_str()?.to_owned(), v?.to_str()?.to_owned())))
        .collect();
    let mut spec = CommandSpec::new(env!("CARGO_BIN_EXE_codecafe"))
        .args(["order", "attach", id])
        .stdin(Stdin::KeepOpen(Vec::new()))
        .io(Io::Pty);
    spec.env = env;
    let process = codecafe_terminals::spawn(&spec, &user.repo, &[]).expect("order attach starts");
    Viewer {
        process,
        screen: vt100::Parser::new(
            codecafe_terminals::PTY_ROWS,
            codecafe_terminals::PTY_COLS,
            0,
        ),
        raw: String::new(),
    }
}

/// The attached terminal as its user sees it: the viewer's output rendered by a terminal
/// emulator of the pseudo-terminal's size.
struct Viewer {
    process: codecafe_terminals::AgentProcess,
    screen: vt100::Parser,
    raw: String,
}

impl Viewer {
    /// Reads until the rendered screen (or codecafe's own notices) shows `needle`.
    fn wait_for(&mut self, needle: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.screen.screen().contents().contains(needle) && !self.raw.contains(needle) {
            assert!(
                Instant::now() < deadline,
                "the attached screen never showed {needle:?}:\n{}",
                self.screen.screen().contents()
            );
            match self.process.recv_output(Duration::from_millis(200)) {
                Output::Chunk(_, bytes) => {
                    self.screen.process(&bytes);
                    self.raw.push_str(&String::from_utf8_lossy(&bytes));
                }
                Output::Timeout => {}
                Output::Finished => panic!(
                    "order attach ended early:\n{}",
                    self.screen.screen().contents()
                ),
            }
        }
    }
}

#[test]
fn order_attach_shows_the_live_screen_types_into_it_and_detaches() {
    let user = user(ASK_RECIPE, &[write_turn(), final_turn()]);
    let (child, id, log) = run_to_dialog(&user);

    // The screen so far is replayed: the agent's permission dialog.
    let mut viewer = attach(&user, &id);
    viewer.wait_for("you hold the keyboard");
    viewer.wait_for("Do you want to create hello.txt?");
    let requests_before = user.turns(Api::Anthropic).len();

    // A second viewer only watches, and `order input` is refused while the first one types.
    let busy = user.run(&["order", "input", &id, "yes"]);
    assert_ne!(busy.code, Some(0), "{}", busy.context(&user));

    // Enter in the attached terminal answers the dialog (its first choice: yes): the agent
    // goes on and the fake model sees the tool's result.
    viewer.process.write_input(b"\r").expect("type");
    let deadline = Instant::now() + WAIT;
    while user.turns(Api::Anthropic).len() <= requests_before {
        assert!(
            Instant::now() < deadline,
            "typing never reached the agent\n{}",
            viewer.screen.screen().contents()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        user.turns(Api::Anthropic)
            .iter()
            .any(|r| support::body_has(r, "File created successfully")),
        "{}",
        user.requests_summary()
    );

    // Ctrl-] detaches; the agent keeps running and the order completes on its own.
    viewer.process.write_input(&[0x1d]).expect("detach");
    let deadline = Instant::now() + WAIT;
    while viewer.process.try_wait().expect("wait").is_none() {
        assert!(
            Instant::now() < deadline,
            "order attach did not detach\n{}",
            viewer.raw
        );
        if let Output::Chunk(_, bytes) = viewer.process.recv_output(Duration::from_millis(100)) {
            viewer.raw.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    assert!(
        viewer.raw.contains("detached; the agent keeps running"),
        "{}",
        viewer.raw
    );
    assert_eq!(finish(child, &log), Some(0), "{}", logs(&log));
    assert_eq!(user.order(&id)["status"], "completed");
    assert!(user.worktree(&id).join("hello.txt").exists());
}

#[test]
fn a_tui_that_exits_before_its_turn_is_over_fails_the_stage_with_its_last_screen() {
    let user = user(ASK_RECIPE, &[write_turn(), final_turn()]);
    let (child, id, log) = run_to_dialog(&user);
    // The TUI dies under it (as if it crashed).
    let agents = agents_in(&user.worktree(&id));
    assert!(!agents.is_empty(), "no agent runs in the worktree");
    for pid in &agents {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    assert_eq!(finish(child, &log), Some(1), "{}", logs(&log));
    let order = user.order(&id);
    assert_eq!(order["status"], "failed", "{order}");
    let run_log = std::fs::read_to_string(&log).expect("log");
    let failed = run_log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["kind"] == "stage:failed")
        .unwrap_or_else(|| panic!("no stage:failed\n{}", logs(&log)));
    let error = failed["payload"]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("the agent's TUI ended") && error.contains("The agent's last screen:"),
        "{failed}"
    );
    assert!(!user.worktree(&id).join("hello.txt").exists());
}
