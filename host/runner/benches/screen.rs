//! The host's CPU cost of watching an interactive agent's screen.
//!
//! Run with `cargo bench -p codecafe-runner --bench screen`. Without `--bench` (as under
//! `cargo test --benches`) it runs a short quick pass that only checks everything works.
//!
//! An agent printing 10 KiB/s of real Claude Code TUI output (the recorded screens of the
//! claude-code plugin's tests, replayed in a loop) is watched the way an interactive stage's
//! worker watches it: every read (512-byte chunks, 20 per second) is rendered by the terminal
//! emulator ([`codecafe_runner::screen::Screen`]), and the screen is read — rendered to text
//! and passed with the title to the claude-code plugin's `check-screen` (WebAssembly) — four
//! times a second, the most the worker does (it reads after 250 ms of quiet, and at least every
//! second while output keeps coming). The loop runs single-threaded and CPU-bound, so its wall
//! time is its CPU time. Printed: the share of one core per agent (median, min–max over the
//! runs), split into rendering and screen reads; target under 2 %.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use codecafe_plugin_host::registry::Registry;
use codecafe_plugin_host::{HostConfig, PluginHost, PluginKind};
use codecafe_runner::screen::Screen;

/// Output per simulated second.
const BYTES_PER_SECOND: usize = 10 * 1024;
/// One read of the agent's terminal.
const CHUNK: usize = 512;
/// Screen reads per simulated second.
const CHECKS_PER_SECOND: usize = 4;
/// The target: share of one core per agent.
const TARGET: f64 = 0.02;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (seconds, runs) = if full { (60, 7) } else { (2, 1) };
    println!(
        "codecafe-runner screen bench ({} mode)",
        if full { "full" } else { "quick" }
    );
    let stream = recorded_stream();
    let host = PluginHost::new(HostConfig {
        cache_dir: Some(codecafe_test_support::shared_compile_cache()),
        ..HostConfig::default()
    })
    .expect("plugin host");
    let registry = Registry::discover(&host, codecafe_builtins::sources());
    let plugin = registry
        .get_kind("claude-code", PluginKind::Provider)
        .expect("the claude-code plugin");
    let mut session = plugin.provider_session().expect("a provider session");
    let mut totals = Vec::new();
    let mut renders = Vec::new();
    let mut checks = Vec::new();
    for _ in 0..runs {
        let mut screen = Screen::new(40, 120);
        let mut render = Duration::ZERO;
        let mut check = Duration::ZERO;
        let mut at = 0usize;
        let mut states = 0usize;
        for _ in 0..seconds {
            let per_check = BYTES_PER_SECOND / CHECKS_PER_SECOND;
            for _ in 0..CHECKS_PER_SECOND {
                let started = Instant::now();
                let mut fed = 0;
                while fed < per_check {
                    let end = (at + CHUNK).min(stream.len());
                    screen.feed(&stream[at..end]);
                    fed += end - at;
                    at = if end == stream.len() { 0 } else { end };
                }
                render += started.elapsed();
                let started = Instant::now();
                let state = session
                    .check_screen(&screen.text(), screen.title())
                    .expect("check-screen");
                check += started.elapsed();
                states += usize::from(!matches!(state, codecafe_sdk::ScreenState::Busy));
            }
        }
        std::hint::black_box(states);
        let per_second = |d: Duration| d.as_secs_f64() / f64::from(seconds);
        renders.push(per_second(render));
        checks.push(per_second(check));
        totals.push(per_second(render + check));
    }
    let (total, low, high) = summary(&mut totals);
    let (render, _, _) = summary(&mut renders);
    let (check, _, _) = summary(&mut checks);
    println!(
        "screen tracking per agent at 10 KiB/s: {:.3}% of one core (median of {runs}; \
         {:.3}–{:.3}%), rendering {:.3}%, {CHECKS_PER_SECOND} screen reads/s {:.3}% — target < \
         {:.0}%: {}",
        total * 100.0,
        low * 100.0,
        high * 100.0,
        render * 100.0,
        check * 100.0,
        TARGET * 100.0,
        if total < TARGET { "met" } else { "MISSED" }
    );
}

/// Median, min and max.
fn summary(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let median = values.get(values.len() / 2).copied().unwrap_or_default();
    let low = values.first().copied().unwrap_or_default();
    let high = values.last().copied().unwrap_or_default();
    (median, low, high)
}

/// The claude-code plugin's recorded TUI byte streams, concatenated.
fn recorded_stream() -> Vec<u8> {
    let dir: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "../../plugins/claude-code/tests/screens/2.1.332",
    ]
    .iter()
    .collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    files.sort();
    let stream: Vec<u8> = files
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap_or_default())
        .collect();
    assert!(
        stream.len() >= CHUNK,
        "no recorded screens in {}",
        dir.display()
    );
    stream
}
