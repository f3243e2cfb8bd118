//! End to end through the `codecafe` binary: controlling orders from another process —
//! `order input` continuing the asking stage's own agent session, `order cancel` of a run in a
//! second process, `order resume` after codecafe was killed, and `order retry` after a failure.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout};
use std::time::{Duration, Instant};

use codecafe_test_support::{Codecafe, fake_agent, init_repo_with, text};
use serde_json::Value;

/// A private codecafe home and a registered cafe with `recipes` (name, YAML).
struct Env {
    cli: Codecafe,
    repo: PathBuf,
    work: tempfile::TempDir,
}

impl Env {
    fn new(recipes: &[(&str, String)]) -> Self {
        let work = tempfile::tempdir().expect("temp work");
        let paths: Vec<(String, &str)> = recipes
            .iter()
            .map(|(name, yaml)| {
                (
                    format!(".orch/workflows/{name}.workflow.yml"),
                    yaml.as_str(),
                )
            })
            .collect();
        let mut files: Vec<(&str, &str)> = vec![("app.txt", "line one\n")];
        files.extend(paths.iter().map(|(p, y)| (p.as_str(), *y)));
        let repo = init_repo_with(&work.path().join("shop"), "main", &files);
        let env = Self {
            cli: Codecafe::new(env!("CARGO_BIN_EXE_codecafe")).non_interactive(),
            repo,
            work,
        };
        env.cli.ok(&env.repo, &["init"]);
        env
    }

    /// A directory outside the repository for the stages' counters and flags.
    fn dir(&self) -> &Path {
        self.work.path()
    }

    fn order(&self) -> Value {
        let list = self.cli.json(&self.repo, &["order", "list", "--json"]);
        list.as_array().expect("orders")[0].clone()
    }

    fn id(&self) -> String {
        self.order()["id"].as_str().expect("id").to_owned()
    }

    /// Starts `codecafe args` with NDJSON events on its stdout.
    fn spawn(&self, args: &[&str]) -> (Child, std::io::Lines<std::io::BufReader<ChildStdout>>) {
        let mut child = self.cli.command(&self.repo, args).spawn().expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        (child, std::io::BufReader::new(stdout).lines())
    }
}

/// Reads events until one matches `stop`; returns them all.
fn read_until(
    lines: &mut std::io::Lines<std::io::BufReader<ChildStdout>>,
    stop: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let event: Value = serde_json::from_str(&line.expect("line")).expect("json");
        let done = stop(&event);
        seen.push(event);
        if done {
            return seen;
        }
    }
    panic!("the run ended before the awaited event: {seen:?}");
}

/// Lines in `path` (0 when it does not exist).
fn count(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

/// Whether process `pid` is gone (a zombie counts as gone).
fn dead(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
        Err(_) => true,
    }
}

/// Waits (bounded) until `done` holds.
fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn input_continues_the_asking_stage_in_its_own_session() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = Env::new(&[(
        "ask",
        "name: ask\nworkflow:\n  stages: [ask]\nask:\n  provider: claude-code\n".to_owned(),
    )]);
    let bin = env.dir().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let log = env.dir().join("claude-args.log");
    let ask = serde_json::json!([{"claude_stream": {"session_id": "sess-ask",
        "text": "need input\n```yaml\nsignals:\n  nextAction: await_user\n  questions: [Which database?]\n```\n"}}]);
    let done =
        serde_json::json!([{"claude_stream": {"session_id": "sess-ask", "text": "all done"}}]);
    let shim = bin.join("claude");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\ncase \"$1\" in --version) echo '2.1.332 (Claude Code)'; exit 0 ;; auth) exit 0 ;; esac\necho \"$@\" >> '{log}'\nn=$(wc -l < '{log}')\ncat > '{dir}/prompt-'$n.txt\n\
             case \"$*\" in\n  *--resume*) FAKE_AGENT_SCRIPT='{done}' ;;\n  *) FAKE_AGENT_SCRIPT='{ask}' ;;\nesac\n\
             export FAKE_AGENT_SCRIPT\nexec '{agent}'\n",
            log = log.display(),
            dir = env.dir().display(),
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

    let out = env
        .cli
        .command(&env.repo, &["run", "--recipe", "ask", "--no-worktree", "x"])
        .env("PATH", &path)
        .output()
        .expect("run");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{}", text(&out.stderr));
    assert_eq!(env.order()["status"], "awaiting-input");

    let id = env.id();
    let out = env
        .cli
        .command(&env.repo, &["order", "input", &id, "Postgres", "--json"])
        .env("PATH", &path)
        .output()
        .expect("input");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert_eq!(env.order()["status"], "completed");

    let args = std::fs::read_to_string(&log).expect("args");
    let lines: Vec<&str> = args.lines().collect();
    assert_eq!(lines.len(), 2, "{args}");
    assert!(!lines[0].contains("--resume"), "{args}");
    assert!(lines[1].contains("--resume sess-ask"), "{args}");
    let prompt = std::fs::read_to_string(env.dir().join("prompt-2.txt")).expect("prompt");
    assert!(prompt.contains("Postgres"), "{prompt}");

    let again = env.cli.fails(&env.repo, &["order", "input", &id, "more"]);
    assert!(again.contains("not awaiting input"), "{again}");
}

/// A foreground `run` whose only stage prints, starts a grandchild and sleeps; returns once the
/// agent has printed, with the grandchild's pid and the order's id.
struct SlowRun {
    env: Env,
    child: Child,
    lines: std::io::Lines<std::io::BufReader<ChildStdout>>,
    grandchild: String,
    id: String,
    _dir: tempfile::TempDir,
}

fn slow_run() -> SlowRun {
    let dir = tempfile::tempdir().expect("dir");
    let pid_file = dir.path().join("grandchild.pid");
    let script = serde_json::json!([
        {"spawn_grandchild_sleep_s": 300, "pid_file": pid_file},
        {"print": "working"},
        {"sleep_ms": 300_000}
    ]);
    let recipe = format!(
        "name: slow\nworkflow:\n  stages: [slow]\nslow:\n  provider: command\n  command: \"FAKE_AGENT_SCRIPT='{}' '{}'\"\n",
        script.to_string().replace('"', "\\\""),
        fake_agent().display()
    );
    let env = Env::new(&[("slow", recipe)]);
    let (child, mut lines) =
        env.spawn(&["run", "--recipe", "slow", "--no-worktree", "--json", "x"]);
    read_until(&mut lines, |e| e["kind"] == "order:output");
    let grandchild = std::fs::read_to_string(&pid_file).expect("pid file");
    let grandchild = grandchild.trim().to_owned();
    assert!(!dead(&grandchild), "the grandchild runs");
    let id = env.id();
    SlowRun {
        env,
        child,
        lines,
        grandchild,
        id,
        _dir: dir,
    }
}

#[test]
fn cancel_from_another_process_stops_the_run_and_its_grandchild() {
    let SlowRun {
        env,
        mut child,
        lines,
        grandchild,
        id,
        _dir,
    } = slow_run();
    let out = env.cli.ok(&env.repo, &["order", "cancel", &id]);
    assert!(out.contains("cancelled"), "{out}");
    let rest: Vec<Value> = lines
        .map(|l| serde_json::from_str(&l.expect("line")).expect("json"))
        .collect();
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(4), "{rest:?}");
    assert_eq!(rest.last().expect("event")["kind"], "order:cancelled");
    assert_eq!(env.order()["status"], "cancelled");
    wait_for("the grandchild to die", || dead(&grandchild));

    let again = env.cli.fails(&env.repo, &["order", "cancel", &id]);
    assert!(again.contains("already cancelled"), "{again}");
}

#[test]
fn deleting_a_running_order_cancels_it_first() {
    let SlowRun {
        env,
        mut child,
        grandchild,
        id,
        _dir,
        ..
    } = slow_run();
    let out = env.cli.ok(&env.repo, &["order", "rm", &id]);
    assert!(out.contains("deleted order"), "{out}");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(4), "the run was cancelled, not killed");
    wait_for("the grandchild to die", || dead(&grandchild));
    let gone = env.cli.fails(&env.repo, &["order", "show", &id]);
    assert!(gone.contains("no order"), "{gone}");
}

#[test]
fn cancelling_an_order_awaiting_input_records_it_cancelled() {
    let env = Env::new(&[(
        "ask",
        "name: ask\nworkflow:\n  stages: [ask]\nask:\n  provider: command\n  command: \"printf '%s\\\\n' 'need input' '```yaml' 'signals:' '  nextAction: await_user' '  questions: [Which database?]' '```'\"\n".to_owned(),
    )]);
    let out = env
        .cli
        .run(&env.repo, &["run", "--recipe", "ask", "--no-worktree", "x"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    let id = env.id();
    env.cli.ok(&env.repo, &["order", "cancel", &id]);
    assert_eq!(env.order()["status"], "cancelled");
    let status = env.cli.ok(&env.repo, &["status"]);
    assert!(status.contains("no order"), "{status}");
}

#[test]
fn resume_after_codecafe_was_killed_runs_only_what_did_not_finish() {
    let work = tempfile::tempdir().expect("dir");
    let d = work.path().display().to_string();
    let recipe = format!(
        "name: three\nworkflow:\n  stages: [one, two, three]\n\
         one:\n  provider: command\n  command: \"echo run >> {d}/one; echo first\"\n\
         two:\n  provider: command\n  command: \"echo $$ > {d}/two.pid; echo run >> {d}/two; echo second; while [ ! -f {d}/go ]; do sleep 0.1; done; echo through\"\n\
         three:\n  provider: command\n  command: \"echo run >> {d}/three; echo third\"\n"
    );
    let env = Env::new(&[("three", recipe)]);
    let (mut child, mut lines) =
        env.spawn(&["run", "--recipe", "three", "--no-worktree", "--json", "x"]);
    read_until(&mut lines, |e| {
        e["kind"] == "order:output" && e["payload"]["stage"] == "two"
    });
    let agent: i32 = std::fs::read_to_string(work.path().join("two.pid"))
        .expect("the stage-two agent's pid")
        .trim()
        .parse()
        .expect("pid");
    child.kill().expect("kill -9");
    child.wait().expect("reap");
    // The agent dies with codecafe (its parent-death signal), within a second.
    let killed = Instant::now();
    while !dead(&agent.to_string()) && killed.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        dead(&agent.to_string()),
        "the agent outlived codecafe's kill -9"
    );
    let id = env.id();
    assert_eq!(env.order()["status"], "running");
    let status = env.cli.json(&env.repo, &["status", "--json"]);
    assert_eq!(status["orders"][0]["runnerAlive"], false, "{status}");
    // A dead process holds no slot.
    assert_eq!(status["agents"]["running"], 0, "{status}");
    std::fs::write(work.path().join("go"), "").expect("go");

    let out = env.cli.run(&env.repo, &["order", "resume", &id, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(env.order()["status"], "completed");
    assert_eq!(count(&work.path().join("one")), 1, "stage one ran once");
    assert_eq!(count(&work.path().join("two")), 2, "stage two ran again");
    assert_eq!(count(&work.path().join("three")), 1);
}

#[test]
fn retry_after_a_real_failure_reruns_only_the_failed_stage() {
    let work = tempfile::tempdir().expect("dir");
    let d = work.path().display().to_string();
    let recipe = format!(
        "name: pair\nworkflow:\n  stages: [build, check]\n\
         build:\n  provider: command\n  command: \"echo run >> {d}/build; echo built\"\n\
         check:\n  provider: command\n  command: \"echo run >> {d}/check; test -f {d}/fixed && echo ok\"\n"
    );
    let env = Env::new(&[("pair", recipe)]);
    let out = env.cli.run(
        &env.repo,
        &["run", "--recipe", "pair", "--no-worktree", "x"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert_eq!(env.order()["status"], "failed");
    let id = env.id();

    std::fs::write(work.path().join("fixed"), "").expect("fix");
    let out = env.cli.run(&env.repo, &["order", "retry", &id, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(env.order()["status"], "completed");
    assert_eq!(count(&work.path().join("build")), 1, "build not re-run");
    assert_eq!(count(&work.path().join("check")), 2);

    let again = env.cli.fails(&env.repo, &["order", "retry", &id]);
    assert!(again.contains("only failed or cancelled"), "{again}");

    // `--from` re-runs the chosen stage and what follows it, completed or not.
    std::fs::remove_file(work.path().join("fixed")).expect("unfix");
    let out = env.cli.run(
        &env.repo,
        &["run", "--recipe", "pair", "--no-worktree", "y"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let list = env.cli.json(&env.repo, &["order", "list", "--json"]);
    let failed = list
        .as_array()
        .expect("orders")
        .iter()
        .find(|o| o["status"] == "failed")
        .expect("the failed order");
    let second = failed["id"].as_str().expect("id").to_owned();
    std::fs::write(work.path().join("fixed"), "").expect("fix");
    let out = env.cli.run(
        &env.repo,
        &["order", "retry", &second, "--from", "build", "--fresh"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(count(&work.path().join("build")), 3, "build re-run once");
    assert_eq!(count(&work.path().join("check")), 4);
}

#[test]
fn cancel_after_codecafe_was_killed_kills_the_agents_it_left() {
    let SlowRun {
        env,
        mut child,
        grandchild,
        id,
        _dir,
        ..
    } = slow_run();
    child.kill().expect("kill -9");
    child.wait().expect("reap");
    assert!(!dead(&grandchild), "the agent outlives codecafe");

    assert_eq!(env.order()["status"], "running");
    env.cli.ok(&env.repo, &["order", "cancel", &id]);
    assert_eq!(env.order()["status"], "cancelled");
    wait_for("the grandchild to die", || dead(&grandchild));
}

#[test]
fn sigterm_stops_the_run_kills_its_agents_and_leaves_the_order_resumable() {
    let SlowRun {
        env,
        mut child,
        lines,
        grandchild,
        id,
        _dir,
    } = slow_run();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let rest: Vec<Value> = lines
        .map(|l| serde_json::from_str(&l.expect("line")).expect("json"))
        .collect();
    let exit = child.wait().expect("wait");
    assert_eq!(exit.code(), Some(143), "128 + SIGTERM: {rest:?}");
    let last = rest.last().expect("an event after the signal");
    assert_eq!(last["kind"], "order:interrupted", "{rest:?}");
    wait_for("the grandchild to die", || dead(&grandchild));
    let order = env.order();
    assert_eq!(order["status"], "running", "{order}");
    assert_eq!(order["runner"], Value::Null, "the claim was released");
    let stage = env.cli.json(&env.repo, &["order", "show", &id, "--json"]);
    assert_eq!(stage["stages"][0]["status"], "running", "{stage}");

    // Resumable: `order resume` runs the stage again, in another process.
    let (mut resumed, mut lines) = env.spawn(&["order", "resume", &id, "--json"]);
    read_until(&mut lines, |e| e["kind"] == "order:output");
    env.cli.ok(&env.repo, &["order", "cancel", &id]);
    assert_eq!(resumed.wait().expect("wait").code(), Some(4));
    assert_eq!(env.order()["status"], "cancelled");
}

/// A cafe that runs one order at a time, whose `wait` recipe's agent waits for the file `go`
/// in the returned directory.
fn one_at_a_time() -> (Env, tempfile::TempDir) {
    let work = tempfile::tempdir().expect("dir");
    let d = work.path().display().to_string();
    let recipe = format!(
        "name: wait\nworkflow:\n  stages: [wait]\n\
         wait:\n  provider: command\n  command: \"echo started; while [ ! -f {d}/go ]; do sleep 0.05; done; echo through\"\n"
    );
    let env = Env::new(&[("wait", recipe)]);
    env.cli.ok(
        &env.repo,
        &[
            "cafe",
            "update",
            &env.repo.display().to_string(),
            "--set",
            "maxParallelOrders=1",
        ],
    );
    (env, work)
}

/// Starts `codecafe run --recipe wait` of order `name`, without a worktree, with NDJSON events.
fn run_wait(env: &Env, name: &str) -> (Child, std::io::Lines<std::io::BufReader<ChildStdout>>) {
    env.spawn(&["run", "--recipe", "wait", "--no-worktree", "--json", name])
}

#[test]
fn a_cafe_runs_at_most_max_parallel_orders_and_the_next_queues_visibly() {
    let (env, work) = one_at_a_time();
    let (mut first, mut first_lines) = run_wait(&env, "first");
    read_until(&mut first_lines, |e| e["kind"] == "order:output");
    let (mut second, mut second_lines) = run_wait(&env, "second");
    let queued = read_until(&mut second_lines, |e| e["kind"] == "order:queued");
    let queued = queued.last().expect("queued");
    assert_eq!(queued["payload"]["running"], 1, "{queued}");
    assert_eq!(queued["payload"]["max"], 1, "{queued}");
    let status = env.cli.json(&env.repo, &["status", "--json"]);
    let rows = status["orders"].as_array().expect("orders");
    assert!(
        rows.iter()
            .any(|r| r["queued"] == true && r["status"] == "created"),
        "{status}"
    );
    assert!(rows.iter().any(|r| r["status"] == "running"), "{status}");
    let human = env.cli.ok(&env.repo, &["status"]);
    assert!(human.contains("queued"), "{human}");

    // The first order ends; the second leaves the queue and runs.
    std::fs::write(work.path().join("go"), "").expect("go");
    assert_eq!(first.wait().expect("first").code(), Some(0));
    let rest: Vec<Value> = second_lines
        .map(|l| serde_json::from_str(&l.expect("line")).expect("json"))
        .collect();
    assert_eq!(second.wait().expect("second").code(), Some(0), "{rest:?}");
    assert!(
        rest.iter().any(|e| e["kind"] == "order:started"),
        "{rest:?}"
    );
    assert_eq!(
        rest.last().expect("event")["kind"],
        "order:completed",
        "{rest:?}"
    );
}

#[test]
fn a_queued_order_cancelled_from_another_terminal_ends_cancelled() {
    let (env, work) = one_at_a_time();
    let (mut first, mut first_lines) = run_wait(&env, "first");
    read_until(&mut first_lines, |e| e["kind"] == "order:output");
    let (mut second, mut second_lines) = run_wait(&env, "second");
    read_until(&mut second_lines, |e| e["kind"] == "order:queued");
    // Nobody holds the waiting order, so `order cancel` records the cancel itself; the run
    // waiting for its place notices and ends as cancelled (exit 4), never running it.
    let id = env.id();
    env.cli.ok(&env.repo, &["order", "cancel", &id]);
    assert_eq!(second.wait().expect("second").code(), Some(4));
    std::fs::write(work.path().join("go"), "").expect("go");
    assert_eq!(first.wait().expect("first").code(), Some(0));
    let show = env.cli.json(&env.repo, &["order", "show", &id, "--json"]);
    assert_eq!(show["order"]["status"], "cancelled", "{show}");
    assert!(
        show["stages"].as_array().is_none_or(Vec::is_empty),
        "nothing of it ran: {show}"
    );
}
