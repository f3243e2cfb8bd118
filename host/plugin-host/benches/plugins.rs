//! Plugin host benchmarks: compile, warm load, a run's plugins, instantiate, call overhead, and
//! the claude adapter's parse throughput in wasm against the same parser compiled natively with
//! the same optimisation settings.
//!
//! Run with `cargo bench -p codecafe-plugin-host --bench plugins` (`-- --skip-compile` leaves
//! out the cold compile; `-- --profile` only repeats the wasm parse in a host that writes a perf
//! map, for `perf record -e cpu-clock -g`). Without `--bench` (as under `cargo test --benches`) it makes one quick
//! pass that only checks everything works. Every figure is the median of its samples with the
//! fastest and slowest (`median (min–max)`), and those with a target say it and whether it is
//! met. What it prints, in order:
//!
//! 1. **cold compile** of every built-in through Cranelift (no cache);
//! 2. **warm load, all built-ins** — what a process does at start for every plugin it finds:
//!    the embedded bytes copied into sources, each plugin known from the plugin index (by
//!    hash), nothing compiled, loaded or instantiated (target ≤ 1 ms);
//! 3. **a run's plugins** — what a one-stage claude-code run adds before its agent starts: the
//!    claude-code provider and the default signal parser loaded from the compile cache, linked,
//!    and one session of each instantiated;
//! 4. **host start** (engine, linker, index, ticker);
//! 5. **instantiate** a session (target ≤ 30 µs) and an **empty call** (target ≤ 1 µs);
//! 6. **parse**: 100,000 lines cycled from a real Claude Code transcript, in wasm with one call
//!    per line and with one call per 64 KiB read (how the runner calls it), and natively — the
//!    claude-code crate built by a nested `cargo build --release` with the built-in plugins'
//!    own settings (`codecafe_builtins::PLUGIN_PROFILE`: fat LTO, one codegen unit, opt-level 3)
//!    into `target/native-baseline`, timing the same lines the same way in its own process in
//!    the same run. **wasm / native per read** has the target ≤ 1.5×. For reference it also
//!    prints the native parse compiled into this bench (the bench profile: no LTO, 16 codegen
//!    units), which is not a fair baseline.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use codecafe_builtins::BUILTINS;
use codecafe_native_baseline::reads;
use codecafe_plugin_host::{HostConfig, PluginHost, PluginSource};
use codecafe_sdk::{Provider, Stream};

/// Median, fastest and slowest of some timings.
#[derive(Debug, Clone, Copy)]
struct Stats {
    median: Duration,
    min: Duration,
    max: Duration,
}

impl Stats {
    fn of(mut timings: Vec<Duration>) -> Self {
        timings.sort();
        Self {
            median: timings[timings.len() / 2],
            min: timings[0],
            max: timings[timings.len() - 1],
        }
    }
}

/// `samples` timings of `f`, each averaged over `iterations` runs.
fn measure(samples: usize, iterations: u32, mut f: impl FnMut()) -> Stats {
    Stats::of(
        (0..samples)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..iterations {
                    f();
                }
                start.elapsed() / iterations
            })
            .collect(),
    )
}

fn report(name: &str, stats: Stats, target: Option<Duration>) {
    let verdict = match target {
        Some(target) if stats.median <= target => {
            format!("target <= {}: met", format_duration(target))
        }
        Some(target) => format!("target <= {}: MISSED", format_duration(target)),
        None => String::new(),
    };
    println!(
        "{name:<52} {:>10} ({}–{})  {verdict}",
        format_duration(stats.median),
        format_duration(stats.min),
        format_duration(stats.max)
    );
}

fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos < 10_000 {
        format!("{nanos} ns")
    } else if nanos < 1_000_000 {
        format!("{:.1} µs", nanos as f64 / 1e3)
    } else {
        format!("{:.2} ms", nanos as f64 / 1e6)
    }
}

fn host(cache: Option<&Path>) -> PluginHost {
    PluginHost::new(HostConfig {
        cache_dir: cache.map(Path::to_path_buf),
        ..HostConfig::default()
    })
    .expect("host starts")
}

/// The recorded transcript the parse figures cycle.
fn transcript_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../plugins/claude-code/tests/transcripts/2.1.332/tool-write-bash.jsonl")
}

/// `count` lines cycled from the recorded transcript.
fn transcript_lines(count: usize) -> Vec<String> {
    let transcript = std::fs::read_to_string(transcript_path()).expect("the recorded transcript");
    transcript
        .lines()
        .cycle()
        .take(count)
        .map(str::to_owned)
        .collect()
}

/// Builds the native baseline with the plugins' settings and runs it on `count` lines:
/// (per line, per read) timings.
fn native_baseline(count: usize, samples: usize) -> (Stats, Stats) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = codecafe_test_support::target_dir().join("native-baseline");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    build
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "codecafe-native-baseline",
        ])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target);
    for var in codecafe_builtins::OUTER_BUILD_VARS {
        build.env_remove(var);
    }
    build.envs(codecafe_builtins::PLUGIN_PROFILE.iter().copied());
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "building the native baseline failed");
    let output = Command::new(target.join("release/native-baseline"))
        .arg(transcript_path())
        .arg(count.to_string())
        .arg(samples.to_string())
        .output()
        .expect("the native baseline runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let figures: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the baseline prints JSON");
    let stats = |key: &str| {
        Stats::of(
            figures[key]
                .as_array()
                .expect("timings")
                .iter()
                .filter_map(serde_json::Value::as_u64)
                .map(Duration::from_nanos)
                .collect(),
        )
    };
    (stats("perLine"), stats("perRead"))
}

fn ratio(name: &str, wasm: Stats, native: Stats, target: Option<f64>) {
    let median = wasm.median.as_secs_f64() / native.median.as_secs_f64();
    let low = wasm.min.as_secs_f64() / native.max.as_secs_f64();
    let high = wasm.max.as_secs_f64() / native.min.as_secs_f64();
    let verdict = match target {
        Some(t) if median <= t => format!("target <= {t:.2}x: met"),
        Some(t) => format!("target <= {t:.2}x: MISSED"),
        None => String::new(),
    };
    println!("{name:<52} {median:>9.2}x ({low:.2}–{high:.2}x)  {verdict}");
}

/// `--profile`: only the wasm parse per read, repeated, in a host that writes a perf map
/// (`perf record -e cpu-clock -g <bench binary> --profile`, then `perf report`).
fn profile() {
    let host = PluginHost::new_profiled(HostConfig::default()).expect("host starts");
    let claude = BUILTINS
        .iter()
        .find(|b| b.id == "claude-code")
        .map(|b| host.load(b.source()).expect("loads"))
        .expect("a claude-code built-in");
    let reads = reads(&transcript_lines(100_000));
    for _ in 0..10 {
        let mut session = claude.provider_session().expect("instantiates");
        for read in &reads {
            black_box(session.parse_output(Stream::Stdout, read).expect("parses"));
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--profile") {
        profile();
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and expects a quick run.
    let quick = !std::env::args().any(|a| a == "--bench");
    let samples = if quick { 1 } else { 9 };
    let scale = if quick { 1 } else { 1000 };
    println!(
        "codecafe plugin host benchmarks: median (min–max) of {samples} samples{}\n",
        if quick { ", quick pass" } else { "" }
    );

    if !std::env::args().any(|a| a == "--skip-compile") {
        let cold = measure(samples.min(3), 1, || {
            let host = host(None);
            for builtin in BUILTINS {
                black_box(host.compile(&builtin.source()).expect("compiles"));
            }
        });
        report(
            &format!("cold compile, all {} built-ins", BUILTINS.len()),
            cold,
            None,
        );
    }

    // Index and compile cache primed by an earlier process.
    let cache = tempfile::tempdir().expect("temp dir");
    let primed = host(Some(cache.path()));
    for builtin in BUILTINS {
        primed.load(builtin.source()).expect("loads");
    }
    drop(primed);
    let warm_host = host(Some(cache.path()));
    // As a fresh process pays it: the embedded bytes copied into sources, then each loaded.
    let warm = measure(samples, 10 * scale.min(10), || {
        for source in BUILTINS.iter().map(|b| b.source()) {
            black_box(warm_host.load(source).expect("loads"));
        }
    });
    let stats = warm_host.stats();
    assert_eq!(
        (stats.compiled, stats.cache_hits),
        (0, 0),
        "a warm load compiles and loads nothing"
    );
    report(
        &format!("warm load, all {} built-ins (index)", BUILTINS.len()),
        warm,
        Some(Duration::from_millis(1)),
    );

    // What a one-stage claude-code run adds: its provider and signal parser, each loaded from
    // the compile cache, linked and instantiated once, in a fresh process's host.
    let used: Vec<PluginSource> = BUILTINS
        .iter()
        .filter(|b| matches!(b.id, "claude-code" | "signals-default"))
        .map(|b| b.source())
        .collect();
    let run = measure(samples, scale.min(10) as u32, || {
        let host = host(Some(cache.path()));
        for source in &used {
            let plugin = host.load(source.clone()).expect("loads");
            match plugin.kind() {
                codecafe_plugin_host::PluginKind::Provider => {
                    black_box(plugin.provider_session().expect("instantiates"));
                }
                codecafe_plugin_host::PluginKind::SignalParser => {
                    black_box(plugin.signal_parser_session().expect("instantiates"));
                }
            }
        }
    });
    report(
        "a run's plugins: host start + 2 loaded, linked, started",
        run,
        None,
    );
    let start = measure(samples, 10, || {
        black_box(host(Some(cache.path())));
    });
    report("host start (engine, linker, index, ticker)", start, None);

    let claude_source = BUILTINS
        .iter()
        .find(|b| b.id == "claude-code")
        .expect("a claude-code built-in")
        .source();
    let claude = warm_host.load(claude_source).expect("claude-code loads");
    assert_eq!(claude.id(), "claude-code");
    black_box(claude.provider_session().expect("links"));

    let instantiate = measure(samples, 100 * scale.min(10) as u32, || {
        black_box(claude.provider_session().expect("instantiates"));
    });
    report(
        "instantiate (fresh store + instance)",
        instantiate,
        Some(Duration::from_micros(30)),
    );

    let mut session = claude.provider_session().expect("instantiates");
    let empty = measure(samples, 100 * scale as u32, || {
        black_box(session.check_screen("", "").expect("call"));
    });
    report(
        "empty call (check-screen \"\", \"\")",
        empty,
        Some(Duration::from_micros(1)),
    );

    let count = if quick { 1000 } else { 100_000 };
    let lines = transcript_lines(count);
    let reads = reads(&lines);
    let parse_samples = samples.min(7);
    let wasm_per_line = measure(parse_samples, 1, || {
        let mut session = claude.provider_session().expect("instantiates");
        for line in &lines {
            black_box(session.parse_output(Stream::Stdout, line).expect("parses"));
        }
    });
    let wasm_per_read = measure(parse_samples, 1, || {
        let mut session = claude.provider_session().expect("instantiates");
        for read in &reads {
            black_box(session.parse_output(Stream::Stdout, read).expect("parses"));
        }
    });
    let in_bench = measure(parse_samples, 1, || {
        let mut native = codecafe_plugin_claude_code::ClaudeCode::default();
        for line in &lines {
            black_box(native.parse_output(Stream::Stdout, line));
        }
    });
    let (native_per_line, native_per_read) = native_baseline(count, parse_samples);
    report(
        &format!("claude adapter, {count} lines, wasm, call per line"),
        wasm_per_line,
        None,
    );
    report(
        &format!("claude adapter, {count} lines, wasm, call per read"),
        wasm_per_read,
        None,
    );
    report(
        &format!("claude adapter, {count} lines, native, per line"),
        native_per_line,
        None,
    );
    report(
        &format!("claude adapter, {count} lines, native, per read"),
        native_per_read,
        None,
    );
    report(
        "  (reference: native in this bench's profile)",
        in_bench,
        None,
    );
    ratio(
        "wasm / native, call per read (same lines)",
        wasm_per_read,
        native_per_read,
        Some(1.5),
    );
    ratio(
        "wasm / native, call per line",
        wasm_per_line,
        native_per_line,
        None,
    );
}
