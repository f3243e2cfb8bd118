//! End to end through the `codecafe` binary: `order followup` on a completed order (one more
//! prompt run in its worktree by the last stage's provider, back to `followup`), a failing
//! follow-up, and `order followup --finish`.

use std::io::BufRead as _;
use std::path::PathBuf;

use codecafe_test_support::{Codecafe, init_repo_with, text};
use serde_json::Value;

const NOTE: &str = r#"name: note
workflow:
  stages: [note]
note:
  provider: command
  command: "cat >> prompts.txt; test -f fail-next && exit 5; if test -f slow-next; then echo working; sleep 60 & wait; fi; echo noted"
"#;

struct Env {
    cli: Codecafe,
    repo: PathBuf,
    _work: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let work = tempfile::tempdir().expect("temp work");
        let repo = init_repo_with(
            &work.path().join("shop"),
            "main",
            &[
                ("app.txt", "one\n"),
                (".orch/workflows/note.workflow.yml", NOTE),
            ],
        );
        let env = Self {
            cli: Codecafe::new(env!("CARGO_BIN_EXE_codecafe")).non_interactive(),
            repo,
            _work: work,
        };
        env.cli.ok(&env.repo, &["init"]);
        env
    }

    /// Exit code and the NDJSON events (without `order:output`) of one command.
    fn events(&self, args: &[&str]) -> (Option<i32>, Vec<String>) {
        let out = self.cli.run(&self.repo, args);
        let stdout = text(&out.stdout);
        let kinds = stdout
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .filter(|e| e["kind"] != "order:output")
            .map(|e| e["kind"].as_str().unwrap_or("").to_owned())
            .collect();
        (out.status.code(), kinds)
    }

    fn order(&self) -> Value {
        let list = self.cli.json(&self.repo, &["order", "list", "--json"]);
        list.as_array().expect("orders")[0].clone()
    }
}

#[test]
fn followup_runs_in_the_worktree_and_finish_completes_the_order() {
    let env = Env::new();
    let (code, _) = env.events(&["run", "--recipe", "note", "--json", "first task"]);
    assert_eq!(code, Some(0));
    let order = env.order();
    let id = order["id"].as_str().expect("id")[..8].to_owned();
    let worktree = PathBuf::from(order["worktreePath"].as_str().expect("worktree"));

    let (code, kinds) = env.events(&["order", "followup", &id, "add the docs", "--json"]);
    assert_eq!(code, Some(0), "{kinds:?}");
    assert_eq!(
        kinds,
        ["order:followup-started", "order:followup-completed"]
    );
    assert_eq!(env.order()["status"], "followup");
    let prompts = std::fs::read_to_string(worktree.join("prompts.txt")).expect("prompts");
    assert!(prompts.starts_with("first task"), "{prompts}");
    assert!(
        prompts.contains("## Follow-up request\n\nadd the docs"),
        "{prompts}"
    );

    // A failing follow-up leaves the order in `followup`, ready for another one.
    std::fs::write(worktree.join("fail-next"), "").expect("marker");
    let (code, kinds) = env.events(&["order", "followup", &id, "once more", "--json"]);
    assert_eq!(code, Some(1), "{kinds:?}");
    assert_eq!(kinds, ["order:followup-started", "order:followup-failed"]);
    assert_eq!(env.order()["status"], "followup");

    let out = env
        .cli
        .ok(&env.repo, &["order", "followup", &id, "--finish"]);
    assert!(out.contains("completed"), "{out}");
    assert_eq!(env.order()["status"], "completed");
    // Finishing twice is an illegal transition that names the state.
    let err = env
        .cli
        .fails(&env.repo, &["order", "followup", &id, "--finish"]);
    assert!(err.contains("completed"), "{err}");
}

#[test]
fn followup_refuses_an_order_that_did_not_complete() {
    let env = Env::new();
    env.cli.ok(
        &env.repo,
        &["order", "new", "--recipe", "note", "--prompt", "p"],
    );
    let id = env.order()["id"].as_str().expect("id")[..8].to_owned();
    let err = env
        .cli
        .fails(&env.repo, &["order", "followup", &id, "more"]);
    assert!(err.contains("created"), "{err}");
    assert_eq!(env.order()["status"], "created");
}

#[test]
fn order_cancel_stops_a_running_followup_and_the_order_stays_in_followup() {
    let env = Env::new();
    let (code, _) = env.events(&["run", "--recipe", "note", "--json", "first task"]);
    assert_eq!(code, Some(0));
    let order = env.order();
    let id = order["id"].as_str().expect("id")[..8].to_owned();
    let worktree = PathBuf::from(order["worktreePath"].as_str().expect("worktree"));
    std::fs::write(worktree.join("slow-next"), "").expect("marker");

    let mut child = env
        .cli
        .command(&env.repo, &["order", "followup", &id, "slowly", "--json"])
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut kinds = Vec::new();
    let mut cancelled = false;
    for line in std::io::BufReader::new(stdout).lines() {
        let event: Value = serde_json::from_str(&line.expect("line")).expect("event");
        let working = event["payload"]["event"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("working"));
        kinds.push(event["kind"].as_str().unwrap_or("").to_owned());
        if working && !cancelled {
            cancelled = true;
            let err = env.cli.fails(&env.repo, &["order", "resume", &id]);
            assert!(err.contains("order cancel"), "{err}");
            let out = env.cli.ok(&env.repo, &["order", "cancel", &id]);
            assert!(out.contains("followup"), "{out}");
        }
    }
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(4), "{kinds:?}");
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("order:followup-cancelled")
    );
    assert_eq!(env.order()["status"], "followup");
}
