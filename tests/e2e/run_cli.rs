//! End to end through the `codecafe` binary: `run` of `command`-provider recipes on a real
//! repository (its worktree, exit codes), `--dry-run`, and `order logs`.

use std::path::PathBuf;

use codecafe_test_support::{Codecafe, init_repo_with, text};
use serde_json::Value;

/// A private codecafe home and a registered cafe with the recipes of these tests.
struct Env {
    cli: Codecafe,
    repo: PathBuf,
    _work: tempfile::TempDir,
}

const TWO: &str = r#"name: two
workflow:
  stages: [write, check]
write:
  provider: command
  command: "cat > prompt.txt; echo hello > hello.txt; echo wrote hello"
  prompt: "Ticket {{ vars.ticket }}"
check:
  provider: command
  command: "test -f hello.txt && echo checked"
"#;

const BROKEN: &str = r#"name: broken
workflow:
  stages: [boom]
boom:
  provider: command
  command: "echo about to fail; exit 7"
"#;

const ASK: &str = r#"name: ask
workflow:
  stages: [ask]
ask:
  provider: command
  command: "printf '%s\\n' 'need input' '```yaml' 'signals:' '  nextAction: await_user' '  questions: [Which database?]' '```'"
"#;

const SLOW: &str = r#"name: slow
workflow:
  stages: [slow]
slow:
  provider: command
  command: "echo working; sleep 60 & wait"
"#;

impl Env {
    fn new() -> Self {
        let work = tempfile::tempdir().expect("temp work");
        let repo = init_repo_with(
            &work.path().join("shop"),
            "main",
            &[
                ("app.txt", "line one\n"),
                (".orch/workflows/two.workflow.yml", TWO),
                (".orch/workflows/broken.workflow.yml", BROKEN),
                (".orch/workflows/ask.workflow.yml", ASK),
                (".orch/workflows/slow.workflow.yml", SLOW),
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

    fn lines(&self, args: &[&str]) -> (Option<i32>, Vec<Value>) {
        let out = self.cli.run(&self.repo, args);
        let stdout = text(&out.stdout);
        let events = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        (out.status.code(), events)
    }

    fn orders(&self) -> Vec<Value> {
        let list = self.cli.json(&self.repo, &["order", "list", "--json"]);
        list.as_array().expect("orders").clone()
    }
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["kind"] != "order:output")
        .map(|e| match e["payload"]["stage"].as_str() {
            Some(stage) => format!("{} {stage}", e["kind"].as_str().unwrap_or("")),
            None => e["kind"].as_str().unwrap_or("").to_owned(),
        })
        .collect()
}

#[test]
fn run_completes_in_the_worktree_and_logs_list_the_events_in_order() {
    let env = Env::new();
    let (code, events) = env.lines(&[
        "run",
        "--recipe",
        "two",
        "--var",
        "ticket=T-9",
        "--json",
        "say hello",
    ]);
    assert_eq!(code, Some(0), "{events:?}");
    assert_eq!(
        kinds(&events),
        [
            "order:started",
            "stage:started write",
            "stage:completed write",
            "stage:started check",
            "stage:completed check",
            "order:completed"
        ]
    );
    let orders = env.orders();
    assert_eq!(orders.len(), 1);
    let order = &orders[0];
    assert_eq!(order["status"], "completed");
    let worktree = PathBuf::from(order["worktreePath"].as_str().expect("worktree"));
    assert_ne!(worktree, env.repo);
    assert_eq!(
        std::fs::read_to_string(worktree.join("hello.txt")).expect("hello"),
        "hello\n"
    );
    assert!(
        !env.repo.join("hello.txt").exists(),
        "nothing in the main checkout"
    );
    let prompt = std::fs::read_to_string(worktree.join("prompt.txt")).expect("prompt");
    assert!(
        prompt.starts_with("say hello") && prompt.contains("Ticket T-9"),
        "{prompt}"
    );

    let id = order["id"].as_str().expect("id");
    let (code, logged) = env.lines(&["order", "logs", &id[..8], "--json"]);
    assert_eq!(code, Some(0));
    assert_eq!(logged[0]["kind"], "order:created");
    assert_eq!(
        &logged[1..],
        &events[..],
        "the stored events are the ones printed"
    );
    let seqs: Vec<i64> = logged.iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let (code, followed) = env.lines(&["order", "logs", id, "--json", "--follow"]);
    assert_eq!(code, Some(0));
    assert_eq!(followed, logged, "--follow ends with the order");

    let human = env.cli.ok(&env.repo, &["order", "logs", id]);
    assert!(human.contains("✓ write completed in"), "{human}");
    assert!(human.contains("write │ wrote hello"), "{human}");
}

#[test]
fn dry_run_shows_the_plan_and_prompts_and_creates_nothing() {
    let env = Env::new();
    let out = env.cli.ok(
        &env.repo,
        &[
            "run",
            "--recipe",
            "two",
            "--var",
            "ticket=T-1",
            "--dry-run",
            "plan it",
        ],
    );
    assert!(out.contains("1. write"), "{out}");
    assert!(out.contains("2. check"), "{out}");
    assert!(out.contains("--- stage write · command"), "{out}");
    assert!(out.contains("Ticket T-1"), "{out}");
    assert!(out.contains("nextAction"), "{out}");
    assert!(env.orders().is_empty());
    assert!(!env.repo.join("hello.txt").exists());

    let err = env
        .cli
        .fails(&env.repo, &["run", "--recipe", "two", "--dry-run", "p"]);
    assert!(err.contains("vars.ticket"), "{err}");
    assert!(env.orders().is_empty());

    let created = env.cli.json(
        &env.repo,
        &[
            "order",
            "new",
            "--recipe",
            "two",
            "--prompt",
            "later",
            "--var",
            "ticket=T-2",
            "--json",
        ],
    );
    let id = created["id"].as_str().expect("id");
    let out = env.cli.ok(&env.repo, &["order", "run", id, "--dry-run"]);
    assert!(out.contains("later") && out.contains("Ticket T-2"), "{out}");
    assert_eq!(env.orders()[0]["status"], "created");
}

#[test]
fn a_failing_recipe_exits_1_and_order_run_runs_a_created_order() {
    let env = Env::new();
    let out = env.cli.run(
        &env.repo,
        &["run", "--recipe", "broken", "--no-worktree", "x"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("✗ boom failed"), "{stdout}");
    assert!(stdout.contains("exit code 7"), "{stdout}");
    assert_eq!(env.orders()[0]["status"], "failed");

    let created = env.cli.json(
        &env.repo,
        &[
            "order",
            "new",
            "--recipe",
            "two",
            "--var",
            "ticket=T-3",
            "--json",
        ],
    );
    let id = created["id"].as_str().expect("id");
    let (code, events) = env.lines(&["order", "run", id, "given now", "--json"]);
    assert_eq!(code, Some(0), "{events:?}");
    assert_eq!(events.last().expect("event")["kind"], "order:completed");
    let worktree = PathBuf::from(created["worktreePath"].as_str().expect("worktree"));
    let prompt = std::fs::read_to_string(worktree.join("prompt.txt")).expect("prompt");
    assert!(prompt.starts_with("given now"), "{prompt}");
    let again = env.cli.fails(&env.repo, &["order", "run", id]);
    assert!(again.contains("only a created order can be run"), "{again}");
}

#[test]
fn a_stage_asking_a_question_exits_3_with_the_question_shown() {
    let env = Env::new();
    let out = env
        .cli
        .run(&env.repo, &["run", "--recipe", "ask", "--no-worktree", "x"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("awaits your input"), "{stdout}");
    assert!(stdout.contains("- Which database?"), "{stdout}");
    assert_eq!(env.orders()[0]["status"], "awaiting-input");
}

#[test]
fn ctrl_c_cancels_the_order_and_exits_4() {
    use std::io::BufRead as _;
    let env = Env::new();
    let mut child = env
        .cli
        .command(
            &env.repo,
            &["run", "--recipe", "slow", "--no-worktree", "--json", "x"],
        )
        .spawn()
        .expect("spawn codecafe");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        let event: Value = serde_json::from_str(&line).expect("json");
        let output = event["kind"] == "order:output";
        seen.push(event);
        if output {
            break;
        }
    }
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    for line in lines {
        seen.push(serde_json::from_str(&line.expect("line")).expect("json"));
    }
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(4), "{seen:?}");
    assert_eq!(seen.last().expect("event")["kind"], "order:cancelled");
    assert_eq!(env.orders()[0]["status"], "cancelled");
}
