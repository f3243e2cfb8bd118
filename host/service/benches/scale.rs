//! Scale benchmark: many orders in flight in one service process, through the service library
//! (`execute::run`, what the CLI and the HTTP server call), measured at 10, 100 and 1,000
//! orders.
//!
//! Run with `cargo bench -p codecafe-service --bench scale`. Without `--bench` (as under
//! `cargo test --benches`) it runs a quick pass of 2 and 4 orders, which only checks that
//! everything works (and times the CLI only if a release `codecafe` is already built).
//!
//! **Set-up.** Each size runs in a fresh child process of this binary (`--scale-child <n>
//! <home>`), so that every figure — above all the peak RSS, a high-water mark — belongs to that
//! size alone. The child opens a [`Service`] on a private `CODECAFE_HOME` (the tests' shared
//! compile cache for the built-in plugins), sets `pool.max` to 64 (the machine-wide cap on
//! agents, `codecafe config set pool.max 64`), registers 4 git repositories as cafes with
//! `maxParallelOrders` 64 (the highest allowed), so both queues are used: up to 64 orders per
//! cafe are claimed and their stages wait for one of the 64 machine-wide slots (FIFO), further
//! orders wait in their cafe's queue (`order:queued`; the first of each cafe asks again every
//! 200 ms and at once when a place is given back); writes into each a one-stage recipe whose
//! agent is the fake agent (`tests/fake-agent`: 3 output lines around a 200 ms sleep) run by the
//! built-in `command` provider, and trusts the repositories (`trust::trust`, as `codecafe trust`
//! does). One warm-up order runs first; then all the orders start at once, one thread per order
//! (1 MiB stacks), spread over the cafes, each calling `execute::run` as `codecafe run` does.
//!
//! **Without worktrees** (`--no-worktree`): the fake agent changes no file, and this bench
//! measures the host's own cost per order (threads, database connections, events, slots,
//! plugins, the agent's pipes); a git worktree per order would add checkout I/O on the
//! repository, the same per order whatever runs beside it, and measured by the worktree crate.
//!
//! **What it prints**, per size: whether every order completed (asserted), wall time, CPU time
//! of the service process (user + system from `/proc/self/stat`, during the run) and of its
//! reaped children (the agents) separately, CPU per stage (process CPU / orders; each order is
//! one stage), peak RSS (`VmHWM`) with the baseline after set-up and the increase per order,
//! and the peak number of threads and open file descriptors (sampled). During the largest run
//! the parent times the real `codecafe order list` and `codecafe status` (release build,
//! against the same home; in full mode built first with a nested `cargo build --release -p
//! codecafe`, a no-op when it is current) every 200 ms and prints median and max. Then the
//! curve — orders | wall | CPU total | CPU/stage | peak RSS | RSS per order — with which per-order figures stay flat
//! (linear growth) and which grow (worse than linear). Each figure with its target (peak RSS
//! ≤ 300 MiB at 1,000 orders; CLI < 50 ms; all complete) and `met` / `MISSED`; nothing here
//! asserts a timing.

#[path = "../tests/common/mod.rs"]
mod common;

use codecafe_test_support::procfs::{cpu_times, status_kb};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use codecafe_service::{CancelToken, OrderFilter, OrderStatus, RunOutcome, execute, settings};
use serde_json::{Value, json};

/// The machine-wide cap on agents running at once.
const POOL_MAX: u32 = 64;
/// Cafes the orders are spread over.
const CAFES: usize = 4;
/// Each cafe's `maxParallelOrders` (the highest allowed): orders beyond it wait in the cafe's
/// queue (`order:queued`).
const MAX_PARALLEL_ORDERS: u32 = 64;
/// Target: peak RSS of the service process at the largest size.
const TARGET_RSS_MIB: f64 = 300.0;
/// Target: wall time of `codecafe order list` and `codecafe status`.
const TARGET_CLI: Duration = Duration::from_millis(50);
/// The longest one size may run: a size that does not finish by then is killed and reported
/// MISSED (every wait here is bounded).
const SIZE_LIMIT: Duration = Duration::from_secs(10 * 60);
/// Stack of each order's thread.
const ORDER_STACK: usize = 1 << 20;
/// The fake agent's script: a few lines around a short sleep.
const SCRIPT: &str = r#"[{"print": "working on it"}, {"sleep_ms": 200}, {"print": "wrote the change"}, {"print": "done"}]"#;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--scale-child") {
        let n = args
            .get(2)
            .and_then(|n| n.parse().ok())
            .expect("order count");
        let home = PathBuf::from(args.get(3).expect("home"));
        child(n, &home);
        return;
    }
    let full = args.iter().any(|a| a == "--bench");
    let sizes: &[usize] = if full { &[10, 100, 1000] } else { &[2, 4] };
    println!(
        "codecafe-service scale bench ({} mode): one-stage orders (fake agent: 3 lines around a \
         200 ms sleep) through `execute::run`, {CAFES} cafes, pool.max {POOL_MAX}, no worktrees, \
         each size in a fresh process",
        if full { "full" } else { "quick" }
    );
    let cli = cli_binary(full);
    let mut rows = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let last = i + 1 == sizes.len();
        let result = run_size(n, if last { cli.as_ref().ok() } else { None });
        print_size(&result);
        if last {
            print_cli(&result, cli.as_ref().err());
        }
        rows.push(result);
    }
    print_curve(&rows);
}

// ----- the parent: one child per size, the CLI timed beside the largest -----

/// What one size measured.
struct SizeResult {
    orders: usize,
    /// The child's report.
    report: Value,
    /// `codecafe order list` / `codecafe status` wall times, with the lines each printed.
    list: Vec<(Duration, usize)>,
    status: Vec<(Duration, usize)>,
    cli_failures: Vec<String>,
}

impl SizeResult {
    fn f(&self, key: &str) -> f64 {
        self.report[key].as_f64().unwrap_or(0.0)
    }
}

/// The release `codecafe` binary, built when missing in full mode; else why not.
fn cli_binary(full: bool) -> Result<PathBuf, String> {
    let target = codecafe_test_support::target_dir();
    let binary = target.join("release").join("codecafe");
    // Quick mode takes what is there; full mode builds it (a no-op when it is current), so the
    // CLI timed is never older than the code measured.
    if binary.exists() && !full {
        return Ok(binary);
    }
    if !full {
        return Err(format!(
            "{} is not built (quick mode does not build it; `cargo build --release -p codecafe`)",
            binary.display()
        ));
    }
    println!(
        "building the release `codecafe` for the CLI timings (cargo build --release -p codecafe)…"
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .current_dir(codecafe_test_support::workspace_root())
        .args(["build", "--release", "-p", "codecafe", "--bin", "codecafe"])
        .arg("--target-dir")
        .arg(&target)
        .env_remove("CARGO_BUILD_TARGET")
        .stdout(Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() && binary.exists() => Ok(binary),
        Ok(s) => Err(format!("`cargo build --release -p codecafe` failed ({s})")),
        Err(err) => Err(format!("cannot run cargo: {err}")),
    }
}

fn run_size(n: usize, cli: Option<&PathBuf>) -> SizeResult {
    let home = tempfile::tempdir().expect("home");
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .arg("--scale-child")
        .arg(n.to_string())
        .arg(home.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("child");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let running = AtomicBool::new(false);
    let finished = AtomicBool::new(false);
    let timed_out = AtomicBool::new(false);
    let pid = child.id().to_string();
    let mut report = None;
    let mut list = Vec::new();
    let mut status = Vec::new();
    let mut cli_failures = Vec::new();
    std::thread::scope(|scope| {
        let (finished_ref, timed_out_ref, pid) = (&finished, &timed_out, &pid);
        scope.spawn(move || {
            let deadline = Instant::now() + SIZE_LIMIT;
            while !finished_ref.load(Ordering::Relaxed) {
                if Instant::now() >= deadline {
                    timed_out_ref.store(true, Ordering::Relaxed);
                    let _ = Command::new("kill").args(["-9", pid]).status();
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let sampler = cli.map(|cli| {
            let (running, finished, home) = (&running, &finished, home.path());
            scope.spawn(move || cli_samples(cli, home, running, finished))
        });
        for line in stdout.lines() {
            let line = line.expect("child output");
            if line == "SCALE-RUNNING" {
                running.store(true, Ordering::Relaxed);
            } else if let Some(json) = line.strip_prefix("SCALE-RESULT ") {
                finished.store(true, Ordering::Relaxed);
                report = Some(serde_json::from_str::<Value>(json).expect("child report"));
            } else {
                println!("   [child] {line}");
            }
        }
        finished.store(true, Ordering::Relaxed);
        if let Some(sampler) = sampler {
            (list, status, cli_failures) = sampler.join().expect("cli sampler");
        }
    });
    let exit = child.wait().expect("child exit");
    let report = match report {
        Some(report) => report,
        None if timed_out.load(Ordering::Relaxed) => json!({
            "completed": 0,
            "failures": format!("not finished within {} min; killed", SIZE_LIMIT.as_secs() / 60),
        }),
        None => panic!("the {n}-order child failed without a report: {exit}"),
    };
    SizeResult {
        orders: n,
        report,
        list,
        status,
        cli_failures,
    }
}

type Samples = Vec<(Duration, usize)>;

/// Times `codecafe order list` and `codecafe status`, alternately every 200 ms, while the
/// child's orders run.
fn cli_samples(
    cli: &Path,
    home: &Path,
    running: &AtomicBool,
    finished: &AtomicBool,
) -> (Samples, Samples, Vec<String>) {
    while !running.load(Ordering::Relaxed) && !finished.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
    }
    // The first cafe's repository, where a user would type the commands.
    let cwd = home.join("repos").join("cafe0");
    let (mut list, mut status, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    while !finished.load(Ordering::Relaxed) {
        for (args, samples) in [
            (&["order", "list"][..], &mut list),
            (&["status"][..], &mut status),
        ] {
            let start = Instant::now();
            let output = Command::new(cli)
                .args(args)
                .current_dir(&cwd)
                .env("CODECAFE_HOME", home)
                .env(
                    "CODECAFE_CACHE_DIR",
                    codecafe_test_support::shared_compile_cache(),
                )
                .env("NO_COLOR", "1")
                .env_remove("RUST_LOG")
                .stdin(Stdio::null())
                .output();
            let took = start.elapsed();
            match output {
                Ok(out) if out.status.success() => {
                    samples.push((took, out.stdout.iter().filter(|b| **b == b'\n').count()));
                }
                Ok(out) => failures.push(format!(
                    "codecafe {}: {}: {}",
                    args.join(" "),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                )),
                Err(err) => failures.push(format!("codecafe {}: {err}", args.join(" "))),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    (list, status, failures)
}

fn mib(kb: f64) -> f64 {
    kb / 1024.0
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

fn print_size(r: &SizeResult) {
    let n = r.orders;
    let completed = r.report["completed"].as_u64().unwrap_or(0);
    println!("\n{n} orders at once");
    println!(
        "   completed: {completed}/{n} (target: all: {}); slots afterwards: {} in use, {} waiting",
        verdict(completed == n as u64),
        r.report["leases_after"],
        r.report["waiting_after"]
    );
    println!(
        "   wall time: {:.0} ms (from the first order started to the last finished; the agents \
         alone need ≥ {} waves of 200 ms at pool.max {POOL_MAX})",
        r.f("wall_ms"),
        n.div_ceil(POOL_MAX as usize)
    );
    println!(
        "   CPU time: service process {:.0} ms ({:.1} ms per stage), agents (reaped children) \
         {:.0} ms ({:.1} ms per agent)",
        r.f("cpu_self_ms"),
        r.f("cpu_self_ms") / n as f64,
        r.f("cpu_children_ms"),
        r.f("cpu_children_ms") / n as f64
    );
    let peak = mib(r.f("peak_kb"));
    let base = mib(r.f("base_kb"));
    let target_note = if n >= 1000 {
        format!(
            " (target ≤ {TARGET_RSS_MIB:.0} MiB at 1,000: {})",
            verdict(peak <= TARGET_RSS_MIB)
        )
    } else {
        String::new()
    };
    println!(
        "   peak RSS (VmHWM): {peak:.1} MiB{target_note}; after set-up {base:.1} MiB; increase \
         {:.1} MiB = {:.0} KiB per order",
        peak - base,
        (r.f("peak_kb") - r.f("base_kb")) / n as f64
    );
    println!(
        "   peak threads {}, peak open file descriptors {} (sampled every 100 ms)",
        r.report["peak_threads"], r.report["peak_fds"]
    );
    if let Some(failures) = r.report.get("failures")
        && failures.as_array().is_none_or(|f| !f.is_empty())
    {
        println!("   not completed, e.g.: {failures}");
    }
}

fn stats(samples: &[(Duration, usize)]) -> Option<(Duration, Duration, usize)> {
    let mut times: Vec<Duration> = samples.iter().map(|s| s.0).collect();
    times.sort();
    let lines = samples.iter().map(|s| s.1).max().unwrap_or(0);
    Some((*times.get(times.len() / 2)?, *times.last()?, lines))
}

fn print_cli(r: &SizeResult, not_built: Option<&String>) {
    println!(
        "\n   CLI during the {}-order run (wall time of the release binary, sampled every ~200 ms, \
         target < {} ms)",
        r.orders,
        TARGET_CLI.as_millis()
    );
    if let Some(why) = not_built {
        println!("   not measured: {why}");
        return;
    }
    for (name, samples) in [
        ("codecafe order list", &r.list),
        ("codecafe status", &r.status),
    ] {
        match stats(samples) {
            Some((median, max, lines)) => println!(
                "   {name:<20} {} runs: median {:.1} ms, max {:.1} ms (up to {lines} lines \
                 printed): median {}, max {}",
                samples.len(),
                median.as_secs_f64() * 1e3,
                max.as_secs_f64() * 1e3,
                verdict(median < TARGET_CLI),
                verdict(max < TARGET_CLI)
            ),
            None => println!("   {name:<20} not measured: the run ended before a sample"),
        }
    }
    for failure in &r.cli_failures {
        println!("   FAILED: {failure}");
    }
}

fn print_curve(rows: &[SizeResult]) {
    println!("\ncurve (each size in a fresh process)");
    println!(
        "   {:>6} | {:>9} | {:>10} | {:>9} | {:>9} | {:>13} | {:>8}",
        "orders", "wall", "CPU total", "CPU/stage", "peak RSS", "RSS per order", "threads"
    );
    for r in rows {
        let n = r.orders as f64;
        println!(
            "   {:>6} | {:>6.0} ms | {:>7.0} ms | {:>6.1} ms | {:>5.1} MiB | {:>9.0} KiB | {:>8}",
            r.orders,
            r.f("wall_ms"),
            r.f("cpu_self_ms"),
            r.f("cpu_self_ms") / n,
            mib(r.f("peak_kb")),
            (r.f("peak_kb") - r.f("base_kb")) / n,
            r.report["peak_threads"]
        );
    }
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return;
    };
    if rows.len() < 2 {
        return;
    }
    let scale = last.orders as f64 / first.orders as f64;
    let per = |r: &SizeResult, key: &str| r.f(key) / r.orders as f64;
    let judge = |name: &str, a: f64, b: f64| {
        // Per-order figures within 1.5× of each other: linear; else worse (or better).
        let ratio = if a > 0.0 { b / a } else { 1.0 };
        let shape = if ratio <= 1.5 {
            "linear (per-order cost flat or falling)"
        } else {
            "worse than linear"
        };
        println!(
            "   {name}: per order {a:.2} at {} orders → {b:.2} at {} ({ratio:.2}×, orders ×{scale:.0}): \
             {shape}",
            first.orders, last.orders
        );
    };
    judge(
        "CPU (ms) per stage",
        per(first, "cpu_self_ms"),
        per(last, "cpu_self_ms"),
    );
    judge(
        "agents' CPU (ms) per agent",
        per(first, "cpu_children_ms"),
        per(last, "cpu_children_ms"),
    );
    let rss_per = |r: &SizeResult| (r.f("peak_kb") - r.f("base_kb")) / r.orders as f64;
    judge(
        "RSS increase (KiB) per order",
        rss_per(first),
        rss_per(last),
    );
    let waves = |r: &SizeResult| r.orders.div_ceil(POOL_MAX as usize) as f64;
    judge(
        "wall (ms) per wave of pool.max agents",
        first.f("wall_ms") / waves(first),
        last.f("wall_ms") / waves(last),
    );
    let met = last.orders < 1000 || mib(last.f("peak_kb")) <= TARGET_RSS_MIB;
    if last.orders >= 1000 {
        println!(
            "   peak RSS at {} orders: {:.1} MiB (target ≤ {TARGET_RSS_MIB:.0} MiB): {}",
            last.orders,
            mib(last.f("peak_kb")),
            verdict(met)
        );
    }
}

// ----- the child: one size in a fresh process -----

/// Sets up the home, runs a warm-up order, then `n` orders at once; prints `SCALE-RUNNING`
/// when they start and `SCALE-RESULT <json>` at the end.
fn child(n: usize, home: &Path) {
    let service = common::service(home);
    settings::set(&service, "pool.max", &POOL_MAX.to_string()).expect("pool.max");
    let script = home.join("script.json");
    std::fs::write(&script, SCRIPT).expect("script");
    let argv = codecafe_test_support::fake_agent_command(&script);
    let recipe = format!(
        "name: scale\nworkflow:\n  stages: [work]\nwork:\n  provider: command\n  command: {argv}\n"
    );
    let cafe_ids: Vec<String> = (0..CAFES)
        .map(|c| {
            common::cafe_with_recipe(
                &service,
                home,
                &format!("cafe{c}"),
                MAX_PARALLEL_ORDERS,
                "scale",
                &recipe,
            )
        })
        .collect();
    let request = |i: usize| common::request(&cafe_ids[i % CAFES], "scale", format!("order {i}"));
    let run = |i: usize| {
        execute::run(
            &service,
            &request(i),
            &CancelToken::new(),
            &mut |_| {},
            &mut |_| {},
        )
    };
    // Warm-up: the plugins loaded from the compile cache, every code path once.
    let warm = run(0).expect("warm-up order").1;
    assert!(completed(&warm), "warm-up: {warm:?}");

    let base_kb = status_kb("self", "VmHWM:");
    let done = AtomicBool::new(false);
    let peak_threads = AtomicU64::new(0);
    let peak_fds = AtomicU64::new(0);
    println!("SCALE-RUNNING");
    let (cpu_self_0, cpu_children_0) = cpu_times();
    let start = Instant::now();
    let outcomes: Vec<Result<RunOutcome, String>> = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                peak_threads.fetch_max(status_kb("self", "Threads:"), Ordering::Relaxed);
                let fds = std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count);
                peak_fds.fetch_max(fds as u64, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let outcomes = codecafe_test_support::on_threads(n, ORDER_STACK, |i| {
            run(i)
                .map(|(_, outcome)| outcome)
                .map_err(|e| e.to_string())
        });
        done.store(true, Ordering::Relaxed);
        outcomes
    });
    let wall = start.elapsed();
    let (cpu_self_1, cpu_children_1) = cpu_times();
    let peak_kb = status_kb("self", "VmHWM:");
    let ok = outcomes
        .iter()
        .filter(|o| o.as_ref().is_ok_and(completed))
        .count();
    let failures: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.as_ref().is_ok_and(completed))
        .take(3)
        .map(|o| format!("{o:?}"))
        .collect();
    let store = service.store().expect("store");
    let stored_completed = store
        .count_orders(&OrderFilter::all().status(OrderStatus::Completed))
        .expect("count");
    let report = json!({
        "orders": n,
        "completed": ok,
        "stored_completed": stored_completed,
        "failures": failures,
        "wall_ms": wall.as_secs_f64() * 1e3,
        "cpu_self_ms": cpu_self_1.saturating_sub(cpu_self_0).as_secs_f64() * 1e3,
        "cpu_children_ms": cpu_children_1.saturating_sub(cpu_children_0).as_secs_f64() * 1e3,
        "base_kb": base_kb,
        "peak_kb": peak_kb,
        "rss_after_kb": status_kb("self", "VmRSS:"),
        "peak_threads": peak_threads.load(Ordering::Relaxed),
        "peak_fds": peak_fds.load(Ordering::Relaxed),
        "leases_after": store.slots().expect("slots").len(),
        "waiting_after": store.slot_queue_len().expect("queue"),
    });
    if !failures.is_empty() {
        println!("failures: {failures:?}");
    }
    println!("SCALE-RESULT {report}");
}

fn completed(outcome: &RunOutcome) -> bool {
    matches!(outcome, RunOutcome::Completed { failed_stages } if failed_stages.is_empty())
}
