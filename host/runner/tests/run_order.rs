//! The runner with real processes: the built-in `command` provider (running `sh -c` or the
//! fake agent) on a temporary git repository, orders run in place.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use codecafe_catalog::OrchDir;
use codecafe_catalog::profile::Profiles;
use codecafe_catalog::recipe::RecipeCatalog;
use codecafe_catalog::role::RoleCatalog;
use codecafe_catalog::skill::SkillCatalog;
use codecafe_plugin_host::registry::Registry;
use codecafe_plugin_host::{HostConfig, PluginHost};
use codecafe_runner::{CancelToken, Catalogs, RunOutcome, Runner, RunnerConfig, Slots};
use codecafe_store::{Event, NewOrder, OrderStatus, StageStatus, Store};
use serde_json::Value;

/// The event's payload as JSON (what `--json` prints under `payload`).
fn payload(event: &Event) -> Value {
    serde_json::to_value(event).expect("json")["payload"].clone()
}

struct Setup {
    _dir: tempfile::TempDir,
    repo: PathBuf,
    store: Store,
    registry: Registry,
    _host: PluginHost,
    catalogs: Catalogs,
    slots: Slots,
}

fn setup(recipe: &str) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = codecafe_test_support::init_repo(&dir.path().join("repo"), "main");
    let orch = OrchDir::of_repo(&repo);
    std::fs::create_dir_all(orch.workflows()).expect("workflows dir");
    std::fs::write(orch.recipe_file("test"), recipe).expect("recipe");
    let host = PluginHost::new(HostConfig {
        cache_dir: Some(codecafe_test_support::shared_compile_cache()),
        ..HostConfig::default()
    })
    .expect("plugin host");
    let registry = Registry::discover(&host, codecafe_builtins::sources());
    let catalogs = Catalogs {
        recipes: RecipeCatalog::load(&orch).expect("recipes"),
        roles: RoleCatalog::load(&orch).expect("roles"),
        skills: SkillCatalog::load(&orch).expect("skills"),
        profiles: Profiles::default(),
    };
    let store = Store::open(dir.path().join("db.sqlite")).expect("store");
    let slots = Slots::new(
        Store::open(dir.path().join("db.sqlite")).expect("store"),
        codecafe_runner::liveness::this_process(),
    )
    .expect("slots");
    Setup {
        _dir: dir,
        repo,
        store,
        registry,
        _host: host,
        catalogs,
        slots,
    }
}

impl Setup {
    fn run(&self, prompt: &str) -> (uuid::Uuid, RunOutcome, Vec<Event>) {
        self.run_with(
            NewOrder::new("cafe", "test").prompt(prompt),
            RunnerConfig::default(),
        )
    }

    fn run_with(
        &self,
        order: NewOrder,
        config: RunnerConfig,
    ) -> (uuid::Uuid, RunOutcome, Vec<Event>) {
        let order = self.store.create_order(&order).expect("order");
        let runner = Runner::new(
            &self.store,
            &self.registry,
            &self.slots,
            &self.catalogs,
            self.repo.clone(),
            "Keep it small.".to_owned(),
            RunnerConfig {
                lease_timeout: Duration::from_secs(30),
                ..config
            },
        );
        let mut emitted = Vec::new();
        let outcome = runner
            .run(order.id, None, &mut |event| emitted.push(event.clone()))
            .expect("run");
        (order.id, outcome, emitted)
    }

    fn kinds(&self, id: uuid::Uuid) -> Vec<String> {
        self.store
            .events_since(id, 0, 10_000)
            .expect("events")
            .into_iter()
            .filter(|e| e.kind() != "order:output")
            .map(|e| match e.body.stage() {
                Some(stage) => format!("{} {stage}", e.kind()),
                None => e.kind().to_owned(),
            })
            .collect()
    }
}

fn stage(id: &str, command: &str, extra: &str) -> String {
    format!(
        "{id}:\n  provider: command\n  command: {}\n{extra}",
        serde_json::to_string(command).expect("json")
    )
}

#[test]
fn two_sequential_stages_complete_and_everything_is_persisted_in_order() {
    let recipe = format!(
        "name: two\nworkflow:\n  stages: [first, second]\n{}{}",
        stage(
            "first",
            "cat > first-prompt.txt; echo one > one.txt; echo first says hi",
            "  prompt: \"Ticket {{ prompt }} attempt {{ attempt }}\"\n"
        ),
        stage(
            "second",
            "cat > second-prompt.txt; echo two > two.txt; echo second done",
            ""
        ),
    );
    let s = setup(&recipe);
    let (id, outcome, emitted) = s.run("add a cache");
    assert_eq!(
        outcome,
        RunOutcome::Completed {
            failed_stages: vec![]
        }
    );
    assert_eq!(
        s.kinds(id),
        [
            "order:started",
            "stage:started first",
            "stage:completed first",
            "stage:started second",
            "stage:completed second",
            "order:completed"
        ]
    );
    let stored = s.store.events_since(id, 0, 10_000).expect("events");
    assert_eq!(stored, emitted, "every event emitted after being stored");
    let output: Vec<&Event> = stored
        .iter()
        .filter(|e| e.kind() == "order:output")
        .collect();
    assert!(
        output
            .iter()
            .any(|e| payload(e)["event"]["text"] == "first says hi"),
        "{output:?}"
    );
    assert_eq!(
        std::fs::read_to_string(s.repo.join("one.txt")).expect("one"),
        "one\n"
    );
    assert_eq!(
        std::fs::read_to_string(s.repo.join("two.txt")).expect("two"),
        "two\n"
    );
    let first_prompt = std::fs::read_to_string(s.repo.join("first-prompt.txt")).expect("prompt");
    assert!(first_prompt.starts_with("add a cache"), "{first_prompt}");
    assert!(
        first_prompt.contains("Ticket add a cache attempt 1"),
        "{first_prompt}"
    );
    assert!(first_prompt.contains("nextAction"), "{first_prompt}");
    let second_prompt = std::fs::read_to_string(s.repo.join("second-prompt.txt")).expect("p2");
    assert!(!second_prompt.contains("Ticket"), "{second_prompt}");
    let runs = s.store.stage_runs(id).expect("runs");
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r.status == StageStatus::Completed));
    assert_eq!(runs[0].stage_id, "first");
    assert_eq!(runs[0].output.as_deref(), Some("first says hi"));
    assert_eq!(runs[1].exit_code, Some(0));
    let order = s.store.order(id).expect("order");
    assert_eq!(order.status, OrderStatus::Completed);
    assert_eq!(order.runner, None, "the claim is released");
    let completed = stored
        .iter()
        .find(|e| e.kind() == "stage:completed")
        .expect("completed");
    assert!(payload(completed)["durationMs"].is_u64(), "{completed:?}");
}

#[test]
fn a_retried_stage_runs_twice_then_fails_the_order() {
    let recipe = format!(
        "name: retry\nworkflow:\n  stages: [flaky, never]\n{}{}",
        stage(
            "flaky",
            "echo run >> runs.txt; echo broken >&2; exit 3",
            "  on_failure: retry\n  retries: 1\n  retry_backoff: 1s\n"
        ),
        stage("never", "echo no > never.txt", ""),
    );
    let s = setup(&recipe);
    let (id, outcome, _) = s.run("p");
    match outcome {
        RunOutcome::Failed { stage, error } => {
            assert_eq!(stage, "flaky");
            assert!(error.contains("exit code 3"), "{error}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(
        std::fs::read_to_string(s.repo.join("runs.txt")).expect("runs"),
        "run\nrun\n"
    );
    assert!(!s.repo.join("never.txt").exists());
    let runs = s.store.stage_runs(id).expect("runs");
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter()
            .all(|r| r.status == StageStatus::Failed && r.exit_code == Some(3))
    );
    assert_eq!(runs[1].attempt, 2);
    let order = s.store.order(id).expect("order");
    assert_eq!(order.status, OrderStatus::Failed);
    assert!(
        order
            .error
            .as_deref()
            .is_some_and(|e| e.contains("exit code 3"))
    );
    let events = s.store.events_since(id, 0, 10_000).expect("events");
    let failed = events.last().expect("last event");
    assert_eq!(failed.kind(), "order:failed");
    assert_eq!(payload(failed)["canRetry"], true);
    assert_eq!(
        s.kinds(id),
        [
            "order:started",
            "stage:started flaky",
            "stage:failed flaky",
            "stage:started flaky",
            "stage:failed flaky",
            "order:failed flaky"
        ]
    );
}

const SKIP_NEXT: &str =
    "printf '%s\\n' 'analysis done' '```yaml' 'signals:' '  nextAction: skip_next' '```'";

#[test]
fn skip_next_skips_the_next_stage_only() {
    let recipe = format!(
        "name: skip\nworkflow:\n  stages: [a, b, c]\n{}{}{}",
        stage("a", SKIP_NEXT, ""),
        stage("b", "echo b > b.txt", ""),
        stage("c", "echo c > c.txt", ""),
    );
    let s = setup(&recipe);
    let (id, outcome, _) = s.run("p");
    assert_eq!(
        outcome,
        RunOutcome::Completed {
            failed_stages: vec![]
        }
    );
    assert!(!s.repo.join("b.txt").exists());
    assert!(s.repo.join("c.txt").exists());
    assert_eq!(
        s.kinds(id),
        [
            "order:started",
            "stage:started a",
            "stage:skipped b",
            "stage:completed a",
            "stage:started c",
            "stage:completed c",
            "order:completed"
        ]
    );
    let runs = s.store.stage_runs(id).expect("runs");
    assert!(
        runs.iter()
            .any(|r| r.stage_id == "b" && r.status == StageStatus::Skipped)
    );
}

#[test]
fn await_user_ends_the_run_awaiting_input_with_the_questions() {
    let ask = "printf '%s\\n' 'I need to know' '```yaml' 'signals:' '  nextAction: await_user' '  questions: [\"Which database?\", \"Keep v1?\"]' '```'";
    let recipe = format!(
        "name: ask\nworkflow:\n  stages: [ask, after]\n{}{}",
        stage("ask", ask, ""),
        stage("after", "echo after > after.txt", ""),
    );
    let s = setup(&recipe);
    let (id, outcome, emitted) = s.run("p");
    let questions = vec!["Which database?".to_owned(), "Keep v1?".to_owned()];
    assert_eq!(
        outcome,
        RunOutcome::AwaitingInput {
            stage: Some("ask".into()),
            questions: questions.clone(),
            approval: None,
        }
    );
    assert!(!s.repo.join("after.txt").exists());
    let order = s.store.order(id).expect("order");
    assert_eq!(order.status, OrderStatus::AwaitingInput);
    let last = emitted.last().expect("event");
    assert_eq!(last.kind(), "order:awaiting-input");
    assert_eq!(payload(last)["questions"], serde_json::json!(questions));
    let runs = s.store.stage_runs(id).expect("runs");
    assert_eq!(runs[0].status, StageStatus::AwaitingInput);
    assert_eq!(
        s.store.slots().expect("slots").len(),
        0,
        "no lease is held while waiting"
    );
}

#[test]
fn a_stage_past_its_timeout_is_killed_and_fails() {
    let script_dir = tempfile::tempdir().expect("tempdir");
    let script = script_dir.path().join("script.json");
    std::fs::write(
        &script,
        r#"[{"print": "working"}, {"sleep_ms": 30000}, {"print": "never"}]"#,
    )
    .expect("script");
    let recipe = format!(
        "name: slow\nworkflow:\n  stages: [slow]\nslow:\n  provider: command\n  command: {}\n  timeout: 1s\n",
        codecafe_test_support::fake_agent_command(&script)
    );
    let s = setup(&recipe);
    let started = Instant::now();
    let (id, outcome, emitted) = s.run("p");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    match outcome {
        RunOutcome::Failed { stage, error } => {
            assert_eq!(stage, "slow");
            assert!(error.contains("timed out"), "{error}");
        }
        other => panic!("expected a timeout failure, got {other:?}"),
    }
    assert!(
        emitted
            .iter()
            .any(|e| e.kind() == "order:output" && payload(e)["event"]["text"] == "working")
    );
    assert!(
        !emitted
            .iter()
            .any(|e| payload(e)["event"]["text"] == "never")
    );
    let runs = s.store.stage_runs(id).expect("runs");
    assert_eq!(runs[0].status, StageStatus::Failed);
    assert!(
        runs[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("timed out"))
    );
    assert_eq!(s.store.slots().expect("slots").len(), 0);
}

#[test]
fn parallel_stages_run_at_the_same_time() {
    // Each stage succeeds only if it sees the other's flag while it runs.
    let wait_for = |me: &str, other: &str| {
        format!(
            "touch {me}.flag; i=0; while [ $i -lt 200 ]; do [ -f {other}.flag ] && exit 0; i=$((i+1)); sleep 0.05; done; exit 1"
        )
    };
    let recipe = format!(
        "name: par\nworkflow:\n  stages: [left, right, join]\n{}{}{}",
        stage("left", &wait_for("left", "right"), "  mode: parallel\n"),
        stage("right", &wait_for("right", "left"), "  mode: parallel\n"),
        stage("join", "echo joined > join.txt", ""),
    );
    let s = setup(&recipe);
    let (id, outcome, _) = s.run("p");
    assert_eq!(
        outcome,
        RunOutcome::Completed {
            failed_stages: vec![]
        }
    );
    let kinds = s.kinds(id);
    assert_eq!(kinds[1], "stage:started left");
    assert_eq!(kinds[2], "stage:started right");
    assert_eq!(kinds.last().map(String::as_str), Some("order:completed"));
    assert!(s.repo.join("join.txt").exists());
    let started = s.store.events_since(id, 0, 10_000).expect("events");
    let groups = &payload(&started[0])["groups"];
    assert_eq!(groups, &serde_json::json!([["left", "right"], ["join"]]));
}

#[test]
fn dry_run_renders_every_prompt_and_starts_nothing() {
    let recipe = format!(
        "name: two\nworkflow:\n  stages: [first, second]\n{}{}",
        stage(
            "first",
            "echo one > one.txt",
            "  prompt: \"Use {{ vars.db }}\"\n"
        ),
        stage(
            "second",
            "echo two > two.txt",
            "  prompt: \"{% for p in previous %}{{ p.output }}{% endfor %}\"\n"
        ),
    );
    let s = setup(&recipe);
    let runner = Runner::new(
        &s.store,
        &s.registry,
        &s.slots,
        &s.catalogs,
        s.repo.clone(),
        String::new(),
        RunnerConfig::default(),
    );
    let vars = BTreeMap::from([("db".to_owned(), Value::from("postgres"))]);
    let prepared = runner.prepare("test", "the prompt", vars).expect("prepare");
    let dry = prepared.dry_run().expect("dry run");
    assert_eq!(
        dry.groups,
        [vec!["first".to_owned()], vec!["second".to_owned()]]
    );
    assert!(dry.stages[0].prompt.contains("Use postgres"));
    assert!(
        dry.stages[1]
            .prompt
            .contains("(the final text of stage `first`)")
    );
    assert!(!s.repo.join("one.txt").exists());
    let err = runner
        .prepare("test", "p", BTreeMap::new())
        .and_then(|p| p.dry_run())
        .expect_err("missing var");
    assert!(err.to_string().contains("vars.db"), "{err}");
    assert!(
        s.store
            .list_orders(&Default::default())
            .expect("orders")
            .is_empty()
    );
}

/// A `claude` on `PATH` that logs its arguments and runs the fake agent's claude-like stream,
/// reporting cost as the real one does: the session's running total (`cost` more per run).
fn claude_config(dir: &std::path::Path, session: &str, cost: f64) -> (RunnerConfig, PathBuf) {
    use std::os::unix::fs::PermissionsExt as _;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let log = dir.join("claude-args.log");
    let shim = bin.join("claude");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{log}'\nn=$(wc -l < '{log}')\n\
             FAKE_AGENT_SCRIPT=$(printf '%s' \"$FAKE_AGENT_SCRIPT\" | sed \"s/\\\"cost_usd\\\":{cost}/\\\"cost_usd\\\":$(awk \"BEGIN {{ print {cost} * $n }}\")/\")\n\
             export FAKE_AGENT_SCRIPT\nexec '{agent}'\n",
            log = log.display(),
            agent = codecafe_test_support::fake_agent().display()
        ),
    )
    .expect("shim");
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let script = serde_json::json!([{"claude_stream": {
        "session_id": session, "text": "analysis done", "input_tokens": 100,
        "output_tokens": 20, "cost_usd": cost}}]);
    let mut config = RunnerConfig::default();
    config.base_env.retain(|(k, _)| k != "PATH");
    config.base_env.push((
        "PATH".into(),
        format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    ));
    config
        .base_env
        .push(("FAKE_AGENT_SCRIPT".into(), script.to_string()));
    (config, log)
}

const CLAUDE_TWO: &str = "name: claude\nworkflow:\n  stages: [analyze, code]\nanalyze:\n  provider: claude-code\ncode:\n  provider: claude-code\n  context: inherit\n";

#[test]
fn session_usage_and_cost_are_recorded_and_inherit_resumes_the_session() {
    let s = setup(CLAUDE_TWO);
    let tmp = tempfile::tempdir().expect("tempdir");
    let (config, log) = claude_config(tmp.path(), "sess-1", 0.25);
    let (id, outcome, emitted) = s.run_with(NewOrder::new("cafe", "test").prompt("p"), config);
    assert_eq!(
        outcome,
        RunOutcome::Completed {
            failed_stages: vec![]
        }
    );
    let runs = s.store.stage_runs(id).expect("runs");
    assert_eq!(runs.len(), 2);
    for run in &runs {
        assert_eq!(run.agent_session_id.as_deref(), Some("sess-1"));
        // Each run costs its own 0.25, though the agent reports the session's total.
        assert_eq!(run.cost_usd, Some(0.25));
        assert_eq!(run.output.as_deref(), Some("analysis done"));
    }
    assert_eq!(runs[0].session_cost_usd, Some(0.25));
    assert_eq!(runs[1].session_cost_usd, Some(0.5));
    let order = s.store.order(id).expect("order");
    assert!((order.cost_usd - 0.5).abs() < 1e-9, "{}", order.cost_usd);
    let args = std::fs::read_to_string(log).expect("args");
    let lines: Vec<&str> = args.lines().collect();
    assert_eq!(lines.len(), 2, "{args}");
    assert!(!lines[0].contains("--resume"), "{args}");
    assert!(lines[1].contains("--resume sess-1"), "{args}");
    assert!(!lines[1].contains("--fork-session"), "{args}");
    let completed: Vec<&Event> = emitted
        .iter()
        .filter(|e| e.kind() == "stage:completed")
        .collect();
    assert_eq!(payload(completed[0])["costUsd"], 0.25);
    assert_eq!(payload(completed[0])["usage"]["inputTokens"], 100);
}

#[test]
fn the_budget_pauses_the_order_before_the_next_stage() {
    let s = setup(CLAUDE_TWO);
    let tmp = tempfile::tempdir().expect("tempdir");
    let (config, log) = claude_config(tmp.path(), "sess-2", 0.25);
    let mut order = NewOrder::new("cafe", "test").prompt("p");
    order.max_cost_usd = Some(0.1);
    let (id, outcome, emitted) = s.run_with(order, config);
    match outcome {
        RunOutcome::AwaitingInput {
            stage: None,
            questions,
            approval: None,
        } => {
            assert!(questions[0].contains("budget"), "{questions:?}");
        }
        other => panic!("expected a budget pause, got {other:?}"),
    }
    assert_eq!(
        s.store.order(id).expect("order").status,
        OrderStatus::AwaitingInput
    );
    assert_eq!(payload(emitted.last().expect("event"))["reason"], "budget");
    let args = std::fs::read_to_string(log).expect("args");
    assert_eq!(
        args.lines().count(),
        1,
        "the second stage never started: {args}"
    );
}

#[test]
fn a_malformed_signal_block_fails_the_stage_and_continue_lets_the_order_complete() {
    let bad = "printf '%s\\n' 'done' '```yaml' 'signals:' '  nextAction: dance' '```'";
    let recipe = format!(
        "name: cont\nworkflow:\n  stages: [bad, after]\n{}{}",
        stage("bad", bad, "  on_failure: continue\n"),
        stage("after", "echo after > after.txt", ""),
    );
    let s = setup(&recipe);
    let (id, outcome, _) = s.run("p");
    assert_eq!(
        outcome,
        RunOutcome::Completed {
            failed_stages: vec!["bad".into()]
        }
    );
    assert!(s.repo.join("after.txt").exists());
    let runs = s.store.stage_runs(id).expect("runs");
    assert_eq!(runs[0].status, StageStatus::Failed);
    let error = runs[0].error.clone().unwrap_or_default();
    assert!(error.contains("dance"), "{error}");
}

#[test]
fn the_role_template_renders_with_order_vars_and_house_rules() {
    let recipe = format!(
        "name: role\nworkflow:\n  stages: [one]\n{}  role: helper\n",
        stage("one", "cat > prompt.txt", "")
    );
    let s = setup(&recipe);
    let orch = OrchDir::of_repo(&s.repo);
    std::fs::create_dir_all(orch.roles()).expect("roles dir");
    std::fs::write(
        orch.role_file("helper"),
        "---\nname: Helper\nvariables:\n  tone:\n    type: string\n    required: true\n---\nYou help ({{ tone }}) with: {{ prompt }}\nRules: {{ house_rules }}\n",
    )
    .expect("role");
    let catalogs = Catalogs {
        recipes: RecipeCatalog::load(&orch).expect("recipes"),
        roles: RoleCatalog::load(&orch).expect("roles"),
        skills: SkillCatalog::load(&orch).expect("skills"),
        profiles: Profiles::default(),
    };
    let s = Setup { catalogs, ..s };
    let (_, outcome, _) = s.run_with(
        NewOrder::new("cafe", "test")
            .prompt("fix it")
            .var("tone", "calm"),
        RunnerConfig::default(),
    );
    assert!(
        matches!(outcome, RunOutcome::Completed { .. }),
        "{outcome:?}"
    );
    let prompt = std::fs::read_to_string(s.repo.join("prompt.txt")).expect("prompt");
    assert!(
        prompt.starts_with("You help (calm) with: fix it\nRules: Keep it small."),
        "{prompt}"
    );

    // Without the required variable nothing starts: the error names it.
    let order = s
        .store
        .create_order(&NewOrder::new("cafe", "test").prompt("x"))
        .expect("order");
    let runner = Runner::new(
        &s.store,
        &s.registry,
        &s.slots,
        &s.catalogs,
        s.repo.clone(),
        String::new(),
        RunnerConfig::default(),
    );
    let err = runner
        .run(order.id, None, &mut |_| {})
        .expect_err("missing var");
    assert!(err.to_string().contains("tone"), "{err}");
    assert_eq!(
        s.store.order(order.id).expect("order").status,
        OrderStatus::Created
    );
}

#[test]
fn an_interrupt_kills_the_agents_group_and_cancels_the_order() {
    let script_dir = tempfile::tempdir().expect("tempdir");
    let pid_file = script_dir.path().join("grandchild.pid");
    let script = script_dir.path().join("script.json");
    std::fs::write(
        &script,
        serde_json::json!([
            {"spawn_grandchild_sleep_s": 300, "pid_file": pid_file},
            {"print": "started"},
            {"sleep_ms": 30000}
        ])
        .to_string(),
    )
    .expect("script");
    let recipe = format!(
        "name: slow\nworkflow:\n  stages: [slow, next]\nslow:\n  provider: command\n  command: {}\n{}",
        codecafe_test_support::fake_agent_command(&script),
        stage("next", "echo next > next.txt", "")
    );
    let s = setup(&recipe);
    let order = s
        .store
        .create_order(&NewOrder::new("cafe", "test").prompt("p"))
        .expect("order");
    let token = CancelToken::new();
    let runner = Runner::new(
        &s.store,
        &s.registry,
        &s.slots,
        &s.catalogs,
        s.repo.clone(),
        String::new(),
        RunnerConfig::default(),
    )
    .with_control(token.clone());
    let started = Instant::now();
    let mut kinds = Vec::new();
    let outcome = runner
        .run(order.id, None, &mut |event| {
            if event.kind() == "order:output" {
                token.cancel();
            } else {
                kinds.push(event.kind().to_owned());
            }
        })
        .expect("run");
    assert_eq!(outcome, RunOutcome::Cancelled);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        kinds,
        [
            "order:started",
            "stage:started",
            "stage:cancelled",
            "stage:cancelled",
            "order:cancelled"
        ]
    );
    assert_eq!(
        s.store.order(order.id).expect("order").status,
        OrderStatus::Cancelled
    );
    assert!(!s.repo.join("next.txt").exists());
    assert_eq!(s.store.slots().expect("slots").len(), 0);
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    // Gone, or a zombie nobody reaps yet (it was reparented): not running either way.
    let deadline = Instant::now() + Duration::from_secs(10);
    let alive = loop {
        let running = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        });
        if !running || Instant::now() > deadline {
            break running;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!alive, "the grandchild {pid} survived the cancel");
}
