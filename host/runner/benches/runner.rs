//! Runner benchmarks: host overhead per stage with an instant agent, and 100 concurrent orders
//! with fake agents.
//!
//! Run with `cargo bench -p codecafe-runner --bench runner`. Without `--bench` (as under
//! `cargo test --benches`) it runs a quick pass with few stages and orders, which only checks
//! that everything works.
//!
//! 1. **Per-stage overhead**: orders of N sequential stages whose agent is this very binary
//!    started as `--stamp-agent <file>` (it appends the wall-clock time to the file and exits).
//!    The baseline, measured in the same run, is a bare spawn + wait of the same program. The
//!    runner's overhead per stage is (first `stage:started` → `order:completed`) / N minus that
//!    baseline; the two gaps of the issue are measured from the emitted events' arrival times and
//!    the agent's stamp: `stage:started` → agent running (minus the bare spawn → running
//!    baseline) and agent stamp → next `stage:started` (or `order:completed`). Target ≤ 5 ms.
//! 2. **100 concurrent orders**: one-stage orders whose agent is the fake agent (a few lines of
//!    output around a 200 ms sleep), all started at once from threads with 100 terminal slots;
//!    all must complete. Prints wall time, CPU time (user + system of this process and of its
//!    reaped children, from `/proc/self/stat`), this process's peak RSS (`VmHWM`) and the peak
//!    RSS of the agents alive at once (sampled every 10 ms from `/proc`).

use codecafe_test_support::procfs::{cpu_times, status_kb};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use codecafe_catalog::OrchDir;
use codecafe_catalog::profile::Profiles;
use codecafe_catalog::recipe::RecipeCatalog;
use codecafe_catalog::role::RoleCatalog;
use codecafe_catalog::skill::SkillCatalog;
use codecafe_plugin_host::registry::Registry;
use codecafe_plugin_host::{HostConfig, PluginHost};
use codecafe_runner::{Catalogs, RunOutcome, Runner, RunnerConfig, Slots};
use codecafe_store::{NewOrder, Store};

const TARGET_GAP: Duration = Duration::from_millis(5);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--stamp-agent") {
        stamp_agent(args.get(2).map(PathBuf::from));
        return;
    }
    let full = args.iter().any(|a| a == "--bench");
    let (stages, orders_a, concurrent) = if full { (20, 5, 100) } else { (3, 1, 4) };
    println!(
        "codecafe-runner benches ({} mode)",
        if full { "full" } else { "quick" }
    );
    per_stage_overhead(stages, orders_a);
    concurrent_orders(concurrent);
}

/// The instant agent: appends the wall-clock time in nanoseconds to `file` and exits.
fn stamp_agent(file: Option<PathBuf>) {
    let now = wall_nanos();
    if let Some(file) = file {
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .and_then(|mut f| writeln!(f, "{now}"));
        if appended.is_err() {
            std::process::exit(2);
        }
    }
}

fn wall_nanos() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
        .unwrap_or_default()
}

/// A temporary repository with one recipe, its catalogs, the plugins and a store.
struct Cafe {
    dir: tempfile::TempDir,
    repo: PathBuf,
    db: PathBuf,
    _host: PluginHost,
    registry: Registry,
    catalogs: Catalogs,
}

impl Cafe {
    fn new(recipe: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = codecafe_test_support::init_repo(&dir.path().join("repo"), "main");
        let orch = OrchDir::of_repo(&repo);
        std::fs::create_dir_all(orch.workflows()).expect("workflows dir");
        std::fs::write(orch.recipe_file("bench"), recipe).expect("recipe");
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
        let db = dir.path().join("db.sqlite");
        drop(Store::open(&db).expect("store"));
        Self {
            dir,
            repo,
            db,
            _host: host,
            registry,
            catalogs,
        }
    }

    /// Machine-wide slots on this cafe's database with the cap `pool.max` set to `cap` (the
    /// setting users change with `codecafe config set pool.max <n>`).
    fn slots(&self, cap: usize) -> Slots {
        let store = Store::open(&self.db).expect("store");
        store
            .set_setting("pool.max", &serde_json::json!(cap))
            .expect("cap");
        Slots::new(store, codecafe_runner::liveness::this_process()).expect("slots")
    }

    /// Runs one new order; `on_event` sees each event's kind and stage as it is emitted.
    fn run(
        &self,
        store: &Store,
        slots: &Slots,
        prompt: &str,
        on_event: &mut dyn FnMut(&str, Option<&str>),
    ) -> RunOutcome {
        let order = store
            .create_order(&NewOrder::new("cafe", "bench").prompt(prompt))
            .expect("order");
        let runner = Runner::new(
            store,
            &self.registry,
            slots,
            &self.catalogs,
            self.repo.clone(),
            String::new(),
            RunnerConfig {
                lease_timeout: Duration::from_secs(300),
                ..RunnerConfig::default()
            },
        );
        runner
            .run(order.id, None, &mut |event| {
                on_event(event.kind(), event.body.stage());
            })
            .expect("run")
    }
}

fn completed(outcome: &RunOutcome) -> bool {
    matches!(outcome, RunOutcome::Completed { failed_stages } if failed_stages.is_empty())
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn nanos_between(from: i128, to: i128) -> Duration {
    Duration::from_nanos(u64::try_from(to - from).unwrap_or(0))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn verdict(value: Duration) -> &'static str {
    if value <= TARGET_GAP { "met" } else { "MISSED" }
}

fn per_stage_overhead(stages: usize, orders: usize) {
    let exe = std::env::current_exe().expect("current exe");
    let stamps_dir = tempfile::tempdir().expect("tempdir");
    let stamps = stamps_dir.path().join("stamps.txt");
    let argv = serde_json::to_string(&[
        exe.to_string_lossy().into_owned(),
        "--stamp-agent".to_owned(),
        stamps.to_string_lossy().into_owned(),
    ])
    .expect("json");
    let ids: Vec<String> = (0..stages).map(|i| format!("s{i}")).collect();
    let mut recipe = format!("name: instant\nworkflow:\n  stages: [{}]\n", ids.join(", "));
    for id in &ids {
        recipe.push_str(&format!("{id}:\n  provider: command\n  command: {argv}\n"));
    }
    let cafe = Cafe::new(&recipe);
    let store = Store::open(&cafe.db).expect("store");
    let slots = cafe.slots(4);

    // Baselines: bare spawn → running (the agent's stamp) and bare spawn + wait.
    let baseline_file = stamps_dir.path().join("baseline.txt");
    let mut to_running = Vec::new();
    let mut spawn_wait = Vec::new();
    for _ in 0..(stages * orders).max(10) {
        let _ = std::fs::remove_file(&baseline_file);
        let before = wall_nanos();
        let start = Instant::now();
        let status = std::process::Command::new(&exe)
            .arg("--stamp-agent")
            .arg(&baseline_file)
            .status()
            .expect("spawn");
        spawn_wait.push(start.elapsed());
        assert!(status.success());
        let stamp: i128 = std::fs::read_to_string(&baseline_file)
            .expect("stamp")
            .trim()
            .parse()
            .expect("stamp value");
        to_running.push(nanos_between(before, stamp));
    }
    let base_running = median(to_running);
    let base_spawn_wait = median(spawn_wait);

    // A warm-up order, then the measured ones.
    let mut per_stage = Vec::new();
    let mut start_to_agent = Vec::new();
    let mut agent_to_next = Vec::new();
    for round in 0..=orders {
        let _ = std::fs::remove_file(&stamps);
        let mut starts: Vec<i128> = Vec::new();
        let mut finished = None;
        let outcome = cafe.run(&store, &slots, "instant", &mut |kind, _stage| match kind {
            "stage:started" => starts.push(wall_nanos()),
            "order:completed" => finished = Some(wall_nanos()),
            _ => {}
        });
        assert!(completed(&outcome), "{outcome:?}");
        let agent: Vec<i128> = std::fs::read_to_string(&stamps)
            .expect("stamps")
            .lines()
            .map(|l| l.parse().expect("stamp value"))
            .collect();
        assert_eq!(agent.len(), stages);
        assert_eq!(starts.len(), stages);
        let finished = finished.expect("order:completed");
        if round == 0 {
            continue;
        }
        let total = nanos_between(starts[0], finished);
        per_stage.push(total / u32::try_from(stages).expect("stages"));
        for i in 0..stages {
            start_to_agent.push(nanos_between(starts[i], agent[i]));
            let next = starts.get(i + 1).copied().unwrap_or(finished);
            agent_to_next.push(nanos_between(agent[i], next));
        }
    }
    let per_stage = median(per_stage);
    let start_to_agent = median(start_to_agent);
    let agent_to_next = median(agent_to_next);
    let overhead = per_stage.saturating_sub(base_spawn_wait);
    let spawn_gap = start_to_agent.saturating_sub(base_running);
    println!(
        "\n1. per-stage host overhead ({stages} sequential stages × {orders} orders, instant agent)"
    );
    println!(
        "   baseline: bare spawn+wait {:.2} ms, bare spawn → agent running {:.2} ms",
        ms(base_spawn_wait),
        ms(base_running)
    );
    println!(
        "   per stage (first stage:started → order:completed / N): {:.2} ms; minus baseline: \
         {:.2} ms (target ≤ 5 ms: {})",
        ms(per_stage),
        ms(overhead),
        verdict(overhead)
    );
    println!(
        "   stage:started → agent running: median {:.2} ms; minus bare spawn: {:.2} ms \
         (target ≤ 5 ms: {})",
        ms(start_to_agent),
        ms(spawn_gap),
        verdict(spawn_gap)
    );
    println!(
        "   agent exit → next stage:started (or order:completed): median {:.2} ms (target ≤ 5 \
         ms: {})",
        ms(agent_to_next),
        verdict(agent_to_next)
    );
    drop(cafe.dir);
}

/// The children of this process now (from every thread's `children` list).
fn children() -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for task in tasks.flatten() {
        let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        pids.extend(list.split_whitespace().map(str::to_owned));
    }
    pids
}

fn concurrent_orders(count: usize) {
    let script_dir = tempfile::tempdir().expect("tempdir");
    let script = script_dir.path().join("script.json");
    std::fs::write(
        &script,
        r#"[{"print": "working on it"}, {"sleep_ms": 200}, {"print": "wrote the change"}, {"print": "done"}]"#,
    )
    .expect("script");
    let argv = codecafe_test_support::fake_agent_command(&script);
    let cafe = Cafe::new(&format!(
        "name: one\nworkflow:\n  stages: [work]\nwork:\n  provider: command\n  command: {argv}\n"
    ));
    let slots = cafe.slots(count);

    let done = AtomicBool::new(false);
    let peak_children_kb = AtomicU64::new(0);
    let peak_children = AtomicUsize::new(0);
    let (cpu_self_0, cpu_children_0) = cpu_times();
    let start = Instant::now();
    let outcomes: Vec<RunOutcome> = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                let pids = children();
                let kb: u64 = pids.iter().map(|p| status_kb(p, "VmRSS:")).sum();
                peak_children_kb.fetch_max(kb, Ordering::Relaxed);
                peak_children.fetch_max(pids.len(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let outcomes = codecafe_test_support::on_threads(count, 1 << 20, |n| {
            let store = Store::open(&cafe.db).expect("store");
            cafe.run(&store, &slots, &format!("order {n}"), &mut |_, _| {})
        });
        done.store(true, Ordering::Relaxed);
        outcomes
    });
    let wall = start.elapsed();
    let (cpu_self_1, cpu_children_1) = cpu_times();
    let ok = outcomes.iter().filter(|o| completed(o)).count();
    let store = Store::open(&cafe.db).expect("store");
    let (leases, waiting) = (
        store.slots().expect("slots").len(),
        store.slot_queue_len().expect("queue"),
    );
    println!(
        "\n2. {count} concurrent one-stage orders (fake agent: 4 lines around a 200 ms sleep)"
    );
    println!(
        "   completed: {ok}/{count}; slots afterwards: {leases} in use, {waiting} waiting (cap \
         `pool.max` raised to {count} in the store's settings)"
    );
    println!("   wall time: {:.0} ms", ms(wall));
    println!(
        "   CPU time: codecafe (this process) {:.0} ms, agents (reaped children) {:.0} ms",
        ms(cpu_self_1.saturating_sub(cpu_self_0)),
        ms(cpu_children_1.saturating_sub(cpu_children_0))
    );
    println!(
        "   peak RSS: this process (VmHWM) {:.1} MiB; agents alive at once: up to {} using {:.1} \
         MiB together (sampled)",
        status_kb("self", "VmHWM:") as f64 / 1024.0,
        peak_children.load(Ordering::Relaxed),
        peak_children_kb.load(Ordering::Relaxed) as f64 / 1024.0
    );
    assert_eq!(ok, count, "every order completes: {outcomes:?}");
    assert_eq!((leases, waiting), (0, 0));
}
