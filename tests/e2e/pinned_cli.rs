//! End to end through the `codecafe` binary, across separate processes: orders behave the same
//! across processes, restarts and edits — the recipe an order started with is the one it
//! finishes with, prompts do not depend on timing, answers stay with the order, a budget pause
//! asks a real question, a run that cannot start creates nothing, and a cafe keeps its orders.

use std::path::{Path, PathBuf};

use codecafe_test_support::{Codecafe, fake_agent, git, init_repo_with, text};
use serde_json::Value;

/// A private codecafe home and a registered cafe with `recipes` (name, YAML).
struct Env {
    cli: Codecafe,
    repo: PathBuf,
    work: tempfile::TempDir,
}

impl Env {
    fn new(recipes: &[(&str, &str)]) -> Self {
        let work = tempfile::tempdir().expect("temp work");
        let files: Vec<(String, &str)> = recipes
            .iter()
            .map(|(name, yaml)| (format!(".orch/workflows/{name}.workflow.yml"), *yaml))
            .collect();
        let mut all: Vec<(&str, &str)> = vec![("app.txt", "one\n")];
        all.extend(files.iter().map(|(p, y)| (p.as_str(), *y)));
        let repo = init_repo_with(&work.path().join("shop"), "main", &all);
        let env = Self {
            cli: Codecafe::new(env!("CARGO_BIN_EXE_codecafe")).non_interactive(),
            repo,
            work,
        };
        env.cli.ok(&env.repo, &["init"]);
        env
    }

    /// A directory outside the repository for the stages' files.
    fn dir(&self) -> &Path {
        self.work.path()
    }

    fn orders(&self) -> Vec<Value> {
        let list = self
            .cli
            .json(&self.repo, &["order", "list", "--all", "--json"]);
        list.as_array().expect("orders").clone()
    }

    fn id(&self) -> String {
        self.orders()[0]["id"].as_str().expect("id").to_owned()
    }

    fn recipe(&self, name: &str, yaml: &str) {
        std::fs::write(
            self.repo
                .join(format!(".orch/workflows/{name}.workflow.yml")),
            yaml,
        )
        .expect("recipe");
    }

    /// Exit code, stdout and stderr of `codecafe args` with `path` as PATH when given.
    fn run(&self, args: &[&str], path: Option<&str>) -> (Option<i32>, String, String) {
        let mut command = self.cli.command(&self.repo, args);
        if let Some(path) = path {
            command.env("PATH", path);
        }
        let out = command.output().expect("codecafe");
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    }
}

/// A `command` stage's YAML running `script` (quoted for YAML).
fn stage(id: &str, script: &str, extra: &str) -> String {
    format!(
        "{id}:\n  provider: command\n  command: {}\n{extra}",
        serde_json::to_string(script).expect("json")
    )
}

/// A script that prints a question in a `signals:` block unless its prompt contains `answer`.
fn asks_unless(answer: &str, record: &Path) -> String {
    format!(
        "p=$(cat); printf '%s\\n' \"$p\" >> '{}'; case \"$p\" in *{answer}*) echo thanks;; *) printf '%s\\n' 'which one?' '```yaml' 'signals:' '  nextAction: await_user' '  questions: [Which one?]' '```';; esac",
        record.display()
    )
}

#[test]
fn editing_a_recipe_while_its_order_waits_does_not_change_the_order() {
    let env = Env::new(&[]);
    let record = env.dir().join("asked.txt");
    let v1 = format!(
        "name: edit\nworkflow:\n  stages: [ask, write]\n{}{}",
        stage("ask", &asks_unless("blue", &record), ""),
        stage("write", "cat > /dev/null; echo v1 > version.txt", ""),
    );
    env.recipe("edit", &v1);
    let (code, out, err) = env.run(&["run", "--recipe", "edit", "--no-worktree", "x"], None);
    assert_eq!(code, Some(3), "{out}{err}");
    let id = env.id();

    // The recipe changes under the waiting order: another command, another stage.
    let v2 = format!(
        "name: edit\nworkflow:\n  stages: [ask, write, extra]\n{}{}{}",
        stage("ask", &asks_unless("blue", &record), ""),
        stage("write", "cat > /dev/null; echo v2 > version.txt", ""),
        stage("extra", "cat > /dev/null; echo extra > extra.txt", ""),
    );
    env.recipe("edit", &v2);
    let (code, out, err) = env.run(&["order", "input", &id, "blue"], None);
    assert_eq!(code, Some(0), "{out}{err}");
    let version = std::fs::read_to_string(env.repo.join("version.txt")).expect("written");
    assert_eq!(
        version.trim(),
        "v1",
        "the order ran the recipe it started with"
    );
    assert!(
        !env.repo.join("extra.txt").exists(),
        "no stage was added to it"
    );
    let show = env.cli.json(&env.repo, &["order", "show", &id, "--json"]);
    assert_eq!(
        show["recipe"]["stages"],
        serde_json::json!(["ask", "write"]),
        "{show}"
    );
    assert_eq!(show["questions"][0]["questions"][0], "Which one?", "{show}");
    assert_eq!(show["questions"][0]["answer"], "blue", "{show}");
    let human = env.cli.ok(&env.repo, &["order", "show", &id]);
    assert!(human.contains("pinned:    recipe edit"), "{human}");
    assert!(human.contains("answered:  blue"), "{human}");

    // `retry --refresh` takes the new definitions, after checking the stages that ran.
    let v3 = format!(
        "name: edit\nworkflow:\n  stages: [renamed]\n{}",
        stage("renamed", "cat > /dev/null; echo v3", ""),
    );
    env.recipe("edit", &v3);
    let failing = format!(
        "name: fails\nworkflow:\n  stages: [only]\n{}",
        stage("only", "cat > /dev/null; test -f fixed", ""),
    );
    env.recipe("fails", &failing);
    let (code, ..) = env.run(&["run", "--recipe", "fails", "--no-worktree", "y"], None);
    assert_eq!(code, Some(1));
    let failed = env.id();
    env.recipe(
        "fails",
        &format!(
            "name: fails\nworkflow:\n  stages: [other]\n{}",
            stage("other", "cat > /dev/null; echo ok", "")
        ),
    );
    let (code, _, err) = env.run(&["order", "retry", &failed, "--refresh"], None);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("only ran but is no longer in it") && err.contains("without --refresh"),
        "{err}"
    );
    env.recipe(
        "fails",
        &format!(
            "name: fails\nworkflow:\n  stages: [only]\n{}",
            stage("only", "cat > /dev/null; echo refreshed", "")
        ),
    );
    let (code, out, err) = env.run(&["order", "retry", &failed, "--refresh"], None);
    assert_eq!(code, Some(0), "{out}{err}");
}

#[test]
fn a_stage_sees_its_ancestors_outputs_in_plan_order_whatever_the_timing() {
    let env = Env::new(&[]);
    let d = env.dir().display().to_string();
    // `left` and `mid` run at once after `start`, each for a random time; `right` waits only for
    // `mid`, so `left` may or may not be done when it starts — its prompt must not care.
    let random_sleep = "sleep 0.$(( ($$ * 7919 + $(date +%N | sed 's/^0*//;s/^$/0/')) % 30 ))";
    let recipe = format!(
        "name: branches\nworkflow:\n  stages: [start, left, mid, right, join]\n{}{}{}{}{}",
        stage("start", "cat > /dev/null; echo START", ""),
        stage(
            "left",
            &format!("cat > /dev/null; {random_sleep}; echo LEFT"),
            "  depends_on: [start]\n"
        ),
        stage(
            "mid",
            &format!("cat > /dev/null; {random_sleep}; echo MID"),
            "  depends_on: [start]\n"
        ),
        stage(
            "right",
            &format!("cat > {d}/right-$(date +%s%N).txt; echo RIGHT"),
            "  depends_on: [mid]\n  prompt: \"{% for p in previous %}[{{ p.stage }}={{ p.output }}]{% endfor %}\"\n"
        ),
        stage(
            "join",
            &format!("cat > {d}/join-$(date +%s%N).txt; echo JOIN"),
            "  depends_on: [left, right]\n  prompt: \"{% for p in previous %}[{{ p.stage }}={{ p.output }}]{% endfor %}\"\n"
        ),
    );
    env.recipe("branches", &recipe);
    let (code, out, _) = env.run(
        &[
            "run",
            "--recipe",
            "branches",
            "--no-worktree",
            "--dry-run",
            "x",
        ],
        None,
    );
    assert_eq!(code, Some(0));
    assert!(
        out.contains(
            "[start=(the final text of stage `start`)][mid=(the final text of stage `mid`)]"
        ),
        "--dry-run shows the same ancestors: {out}"
    );
    for _ in 0..20 {
        let (code, out, err) = env.run(
            &["run", "--recipe", "branches", "--no-worktree", "same task"],
            None,
        );
        assert_eq!(code, Some(0), "{out}{err}");
    }
    let prompts = |prefix: &str| -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(env.dir())
            .expect("dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
            })
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).expect("prompt"))
            .collect()
    };
    for (stage, expected) in [
        ("right-", "[start=START][mid=MID]"),
        ("join-", "[start=START][left=LEFT][mid=MID][right=RIGHT]"),
    ] {
        let all = prompts(stage);
        assert_eq!(all.len(), 20, "{stage}");
        assert!(all.iter().all(|p| p == &all[0]), "{stage} prompts differ");
        assert!(all[0].contains(expected), "{stage}: {}", all[0]);
    }
}

#[test]
fn an_answer_given_in_one_process_reaches_a_stage_rerun_by_retry_in_another() {
    let env = Env::new(&[]);
    let record = env.dir().join("ask-prompts.txt");
    let d = env.dir().display().to_string();
    let recipe = format!(
        "name: qa\nworkflow:\n  stages: [ask, check]\n{}{}",
        stage("ask", &asks_unless("ANSWER-42", &record), ""),
        stage("check", &format!("cat > /dev/null; test -f {d}/fixed"), ""),
    );
    env.recipe("qa", &recipe);
    let (code, ..) = env.run(&["run", "--recipe", "qa", "--no-worktree", "x"], None);
    assert_eq!(code, Some(3));
    let id = env.id();
    let (code, ..) = env.run(&["order", "input", &id, "ANSWER-42"], None);
    assert_eq!(code, Some(1), "the check fails the first time");
    std::fs::write(env.dir().join("fixed"), "").expect("fix");
    std::fs::write(&record, "").expect("forget earlier prompts");
    let (code, out, err) = env.run(&["order", "retry", &id, "--from", "ask", "--fresh"], None);
    assert_eq!(code, Some(0), "{out}{err}");
    let rerun = std::fs::read_to_string(&record).expect("the re-run's prompt");
    assert!(
        rerun.contains("ANSWER-42"),
        "the re-run of `ask` (a fresh session, another process) sees the answer: {rerun}"
    );
}

/// A `claude` on a private PATH that answers every run with usage and a cost of $0.01, and logs
/// its arguments; returns that PATH and the log.
fn costly_claude(dir: &Path) -> (String, PathBuf) {
    use std::os::unix::fs::PermissionsExt as _;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let log = dir.join("claude.log");
    let script = serde_json::json!([{"claude_stream": {"session_id": "s-1", "text": "done",
        "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.01}}]);
    let shim = bin.join("claude");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\ncase \"$1\" in --version) echo '2.1.332 (Claude Code)'; exit 0 ;; auth) exit 0 ;; esac\necho \"$@\" >> '{}'\ncat > /dev/null\nFAKE_AGENT_SCRIPT='{script}' exec '{}'\n",
            log.display(),
            fake_agent().display()
        ),
    )
    .expect("shim");
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (path, log)
}

#[test]
fn no_to_the_budget_question_spends_nothing_and_a_raised_budget_goes_on() {
    let env = Env::new(&[(
        "two",
        "name: two\nworkflow:\n  stages: [one, two]\none:\n  provider: claude-code\ntwo:\n  provider: claude-code\n",
    )]);
    let (path, log) = costly_claude(env.dir());
    let runs = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let (code, out, err) = env.run(
        &[
            "run",
            "--recipe",
            "two",
            "--no-worktree",
            "--max-cost",
            "0.005",
            "x",
        ],
        Some(&path),
    );
    assert_eq!(code, Some(3), "{out}{err}");
    assert!(
        out.contains("--budget"),
        "the pause says how to go on: {out}"
    );
    assert_eq!(runs(), 1);
    let id = env.id();
    for answer in ["no", "yes", "stop"] {
        let (code, _, err) = env.run(&["order", "input", &id, answer], Some(&path));
        assert_eq!(code, Some(1), "{answer}: {err}");
        assert!(
            err.contains("--budget") && err.contains("order cancel"),
            "{err}"
        );
    }
    assert_eq!(runs(), 1, "nothing was spent");
    assert_eq!(env.orders()[0]["status"], "awaiting-input");
    let (code, _, err) = env.run(&["order", "input", &id, "--budget", "0.008"], Some(&path));
    assert_eq!(code, Some(1), "a budget below the cost: {err}");
    let (code, out, err) = env.run(&["order", "input", &id, "--budget", "1"], Some(&path));
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(runs(), 2);
    let order = &env.orders()[0];
    assert_eq!(order["status"], "completed");
    assert_eq!(order["maxCostUsd"], 1.0);
}

#[test]
fn a_run_that_cannot_start_creates_nothing_and_says_where() {
    let env = Env::new(&[
        (
            "needs-var",
            "name: needs-var\nworkflow:\n  stages: [a]\na:\n  provider: command\n  command: \"cat\"\n  prompt: \"Ticket {{ vars.ticket }}\"\n",
        ),
        (
            "bad-option",
            "name: bad-option\nworkflow:\n  stages: [a, b]\na:\n  provider: command\n  command: \"cat\"\nb:\n  provider: claude-code\n  options: { max_turns: 0 }\n",
        ),
    ]);
    let branches = || git(&env.repo, &["branch", "--list"]);
    let before = branches();
    let (code, _, err) = env.run(&["run", "--recipe", "needs-var", "x"], None);
    assert_eq!(code, Some(1));
    assert!(err.contains("ticket"), "{err}");
    let (code, _, err) = env.run(&["run", "--recipe", "bad-option", "x"], None);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("bad-option.workflow.yml:7:1") && err.contains("max_turns"),
        "the provider's refusal, placed at the stage: {err}"
    );
    assert!(env.orders().is_empty(), "no order");
    assert_eq!(branches(), before, "no branch");
    let worktrees = env.cli.home().join("worktrees");
    let made = std::fs::read_dir(&worktrees).map_or(0, |d| {
        d.filter_map(Result::ok)
            .map(|e| std::fs::read_dir(e.path()).map_or(0, Iterator::count))
            .sum::<usize>()
    });
    assert_eq!(made, 0, "no worktree");
    // The same checks in a dry run and in `recipe validate`, before any money is spent.
    let (code, _, err) = env.run(&["run", "--recipe", "bad-option", "--dry-run", "x"], None);
    assert_eq!(code, Some(1));
    assert!(err.contains("max_turns"), "{err}");
    let (code, out, err) = env.run(&["recipe", "validate", "bad-option"], None);
    assert_eq!(code, Some(1));
    assert!(format!("{out}{err}").contains("max_turns"), "{out}{err}");
}

#[test]
fn cafe_rm_refuses_with_orders_and_registering_the_repository_again_finds_them() {
    let env = Env::new(&[(
        "one",
        "name: one\nworkflow:\n  stages: [a]\na:\n  provider: command\n  command: \"cat > /dev/null; echo hi\"\n",
    )]);
    env.cli.ok(
        &env.repo,
        &["order", "new", "--recipe", "one", "--prompt", "p"],
    );
    let id = env.id();
    let repo = env.repo.display().to_string();
    let err = env.cli.fails(&env.repo, &["cafe", "rm", &repo]);
    assert!(
        err.contains(&id[..8]) && err.contains("--keep-orders") && err.contains("--remove-orders"),
        "{err}"
    );
    let out = env
        .cli
        .ok(&env.repo, &["cafe", "rm", &repo, "--keep-orders"]);
    assert!(out.contains("cafe add"), "{out}");
    let outside = env.dir().to_path_buf();
    let err = env.cli.fails(&outside, &["order", "diff", &id]);
    assert!(err.contains(&format!("codecafe cafe add {repo}")), "{err}");
    env.cli.ok(&outside, &["cafe", "add", &repo]);
    let list = env.cli.json(&env.repo, &["order", "list", "--json"]);
    assert_eq!(
        list[0]["id"],
        id.as_str(),
        "the cafe came back with its order"
    );
    env.cli.ok(&env.repo, &["order", "diff", &id]);
    // --remove-orders deletes them with the usual checks, then unregisters.
    let out = env
        .cli
        .ok(&env.repo, &["cafe", "rm", &repo, "--remove-orders"]);
    assert!(
        out.contains(&format!("deleted order {}", &id[..8])),
        "{out}"
    );
    assert!(env.orders().is_empty());
}

#[test]
fn logs_follow_waits_for_a_created_order_until_it_ends() {
    let env = Env::new(&[(
        "one",
        "name: one\nworkflow:\n  stages: [a]\na:\n  provider: command\n  command: \"cat > /dev/null; echo hi\"\n",
    )]);
    env.cli.ok(
        &env.repo,
        &["order", "new", "--recipe", "one", "--prompt", "p"],
    );
    let id = env.id();
    let follower = env
        .cli
        .command(&env.repo, &["order", "logs", &id, "--follow", "--json"])
        .spawn()
        .expect("follow");
    std::thread::sleep(std::time::Duration::from_millis(500));
    env.cli.ok(&env.repo, &["order", "run", &id]);
    let out = follower.wait_with_output().expect("follower ends");
    let kinds: Vec<String> = text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|e| e["kind"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("order:created"));
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("order:completed"),
        "{kinds:?}"
    );
}
