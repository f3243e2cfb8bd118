//! End to end through the `codecafe` binary: `order followup` on a completed order (one more
//! prompt run in its worktree as the recipe's last stage, through the same stage pipeline, back
//! to `followup`), a failing follow-up, `order followup --finish`; a follow-up's cost counted in
//! the order's and stopped by its budget; a follow-up that asks, answered with `order input` in
//! the same agent session.

use std::io::BufRead as _;
use std::path::PathBuf;

use codecafe_test_support::{Codecafe, fake_agent, init_repo_with, text};
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
        Self::with_recipe("note", NOTE)
    }

    fn with_recipe(name: &str, recipe: &str) -> Self {
        let work = tempfile::tempdir().expect("temp work");
        let file = format!(".orch/workflows/{name}.workflow.yml");
        let repo = init_repo_with(
            &work.path().join("shop"),
            "main",
            &[("app.txt", "one\n"), (file.as_str(), recipe)],
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
        [
            "order:followup-started",
            "stage:started",
            "stage:completed",
            "order:followup-completed"
        ]
    );
    assert_eq!(env.order()["status"], "followup");
    let prompts = std::fs::read_to_string(worktree.join("prompts.txt")).expect("prompts");
    assert!(prompts.starts_with("first task"), "{prompts}");
    assert!(
        prompts.contains("add the docs\n\n(A follow-up on the finished task: first task)"),
        "{prompts}"
    );
    let show = env.cli.json(&env.repo, &["order", "show", &id, "--json"]);
    let runs = show["stages"].as_array().expect("stage runs");
    assert_eq!(
        runs.last().expect("the follow-up's run")["stageId"],
        "followup"
    );

    // A failing follow-up leaves the order in `followup`, ready for another one.
    std::fs::write(worktree.join("fail-next"), "").expect("marker");
    let (code, kinds) = env.events(&["order", "followup", &id, "once more", "--json"]);
    assert_eq!(code, Some(1), "{kinds:?}");
    assert_eq!(
        kinds,
        [
            "order:followup-started",
            "stage:started",
            "stage:failed",
            "order:followup-failed"
        ]
    );
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
            // `status` shows the running follow-up and its agent.
            let status = env.cli.json(&env.repo, &["status", "--json"]);
            let row = &status["orders"][0];
            assert_eq!(row["status"], "followup-running", "{status}");
            assert_eq!(row["stages"][0], "followup", "{status}");
            assert_eq!(row["agents"], 1, "{status}");
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

/// A repository with a one-stage `claude-code` recipe whose agent is a stand-in: a `claude` on
/// PATH that logs its arguments, keeps each prompt, and answers with the fake agent — usage and
/// cost on every run (as the real one: the session's running total, $0.01 more per run), a
/// question when the prompt says `ASK` (until it carries the answer, `README.md`).
struct Claude {
    env: Env,
    path: String,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl Claude {
    fn new() -> Self {
        use std::os::unix::fs::PermissionsExt as _;
        let env = Env::with_recipe(
            "ask",
            "name: ask\nworkflow:\n  stages: [work]\nwork:\n  provider: claude-code\n",
        );
        let dir = tempfile::tempdir().expect("dir");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).expect("bin");
        let log = dir.path().join("claude-args.log");
        let stream = |text: &str| {
            serde_json::json!([{"claude_stream": {"session_id": "sess-1", "text": text,
                "input_tokens": 100, "output_tokens": 10, "cost_usd": 0.01}}])
            .to_string()
        };
        let asks = stream(
            "which file?\n```yaml\nsignals:\n  nextAction: await_user\n  questions: [Which file?]\n```\n",
        );
        let shim = bin.join("claude");
        std::fs::write(
            &shim,
            format!(
                "#!/bin/sh\ncase \"$1\" in --version) echo '2.1.332 (Claude Code)'; exit 0 ;; auth) exit 0 ;; esac\necho \"$@\" >> '{log}'\nn=$(wc -l < '{log}')\n\
                 cat > '{dir}/prompt-'$n.txt\n\
                 if grep -q ASK '{dir}/prompt-'$n.txt && ! grep -q README.md '{dir}/prompt-'$n.txt; then \
                 FAKE_AGENT_SCRIPT='{asks}'; else FAKE_AGENT_SCRIPT='{done}'; fi\n\
                 FAKE_AGENT_SCRIPT=$(printf '%s' \"$FAKE_AGENT_SCRIPT\" | sed \"s/\\\"cost_usd\\\":0.01/\\\"cost_usd\\\":$(awk \"BEGIN {{ print 0.01 * $n }}\")/\")\n\
                 export FAKE_AGENT_SCRIPT\nexec '{agent}'\n",
                log = log.display(),
                dir = dir.path().display(),
                done = stream("done"),
                agent = fake_agent().display(),
            ),
        )
        .expect("shim");
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Self {
            env,
            path,
            log,
            dir,
        }
    }

    /// Exit code and event kinds (without `order:output`) of `codecafe args`.
    fn run(&self, args: &[&str]) -> (Option<i32>, Vec<Value>) {
        let out = self
            .env
            .cli
            .command(&self.env.repo, args)
            .env("PATH", &self.path)
            .output()
            .expect("codecafe");
        let events = text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        (out.status.code(), events)
    }

    fn agent_runs(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .filter(|e| e["kind"] != "order:output")
        .filter_map(|e| e["kind"].as_str())
        .collect()
}

#[test]
fn a_followups_cost_counts_in_the_order_and_its_budget_stops_the_next() {
    let c = Claude::new();
    let (code, _) = c.run(&[
        "run",
        "--recipe",
        "ask",
        "--max-cost",
        "0.015",
        "--json",
        "task",
    ]);
    assert_eq!(code, Some(0));
    let id = c.env.order()["id"].as_str().expect("id").to_owned();
    let cost = |c: &Claude| c.env.order()["costUsd"].as_f64().expect("cost");
    assert!((cost(&c) - 0.01).abs() < 1e-9);

    let (code, events) = c.run(&["order", "followup", &id, "more", "--json"]);
    assert_eq!(code, Some(0), "{events:?}");
    assert!(
        (cost(&c) - 0.02).abs() < 1e-9,
        "the follow-up's cost is the order's"
    );
    let completed = events
        .iter()
        .find(|e| e["kind"] == "order:followup-completed")
        .expect("completed");
    assert!((completed["payload"]["costUsd"].as_f64().expect("cost") - 0.02).abs() < 1e-9);
    assert_eq!(c.agent_runs().len(), 2);

    // The order has spent more than its budget: the next follow-up starts no agent.
    let (code, events) = c.run(&["order", "followup", &id, "even more", "--json"]);
    assert_eq!(code, Some(3), "{events:?}");
    let last = events.last().expect("event");
    assert_eq!(last["kind"], "order:awaiting-input", "{events:?}");
    assert_eq!(last["payload"]["reason"], "budget");
    assert_eq!(c.agent_runs().len(), 2, "no agent ran past the budget");
    assert_eq!(c.env.order()["status"], "followup-awaiting-input");
}

#[test]
fn a_followup_that_asks_is_answered_with_order_input_in_the_same_session() {
    let c = Claude::new();
    let (code, _) = c.run(&["run", "--recipe", "ask", "--json", "task"]);
    assert_eq!(code, Some(0));
    let id = c.env.order()["id"].as_str().expect("id").to_owned();

    let (code, events) = c.run(&["order", "followup", &id, "ASK me first", "--json"]);
    assert_eq!(code, Some(3), "{events:?}");
    assert_eq!(
        kinds(&events),
        [
            "order:followup-started",
            "stage:started",
            "order:awaiting-input"
        ]
    );
    assert_eq!(
        events.last().expect("event")["payload"]["questions"][0],
        "Which file?"
    );
    assert_eq!(c.env.order()["status"], "followup-awaiting-input");

    let (code, events) = c.run(&["order", "input", &id, "README.md", "--json"]);
    assert_eq!(code, Some(0), "{events:?}");
    assert_eq!(
        kinds(&events).last().copied(),
        Some("order:followup-completed")
    );
    assert_eq!(c.env.order()["status"], "followup");
    let runs = c.agent_runs();
    assert_eq!(runs.len(), 3, "{runs:?}");
    assert!(
        runs[1].contains("--resume sess-1"),
        "the follow-up continues the stage's session: {runs:?}"
    );
    assert!(
        runs[2].contains("--resume sess-1"),
        "the answer continues the same session: {runs:?}"
    );
    let answer = std::fs::read_to_string(c.dir.path().join("prompt-3.txt")).expect("prompt");
    assert!(answer.contains("README.md"), "{answer}");
}
