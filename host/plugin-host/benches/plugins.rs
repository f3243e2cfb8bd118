//! Plugin host benchmarks: compile, cached load, instantiate, call overhead, and the claude
//! adapter's parse throughput in wasm against the same parser compiled natively.
//!
//! Run with `cargo bench -p codecafe-plugin-host --bench plugins`. Each figure is the median of
//! several samples; ratios compare figures taken in the same run, so machine noise affects both
//! sides alike. Targets (from the foundation issue) are printed beside the figures.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use codecafe_builtins::BUILTINS;
use codecafe_plugin_host::{HostConfig, PluginHost, PluginSource};
use codecafe_sdk::{Provider, Stream};

/// Median of `samples` timings of `f`, each averaged over `iterations` runs.
fn measure(samples: usize, iterations: u32, mut f: impl FnMut()) -> Duration {
    let mut timings: Vec<Duration> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                f();
            }
            start.elapsed() / iterations
        })
        .collect();
    timings.sort();
    timings[timings.len() / 2]
}

fn report(name: &str, value: Duration, target: Option<Duration>) {
    let verdict = match target {
        Some(target) if value <= target => format!("target <= {target:?}: met"),
        Some(target) => format!("target <= {target:?}: MISSED"),
        None => String::new(),
    };
    println!("{name:<46} {:>12}  {verdict}", format_duration(value));
}

fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos < 10_000 {
        format!("{nanos} ns")
    } else if nanos < 10_000_000 {
        format!("{:.1} µs", nanos as f64 / 1e3)
    } else {
        format!("{:.1} ms", nanos as f64 / 1e6)
    }
}

fn host(cache: Option<&Path>) -> PluginHost {
    PluginHost::new(HostConfig {
        cache_dir: cache.map(Path::to_path_buf),
        ..HostConfig::default()
    })
    .expect("host starts")
}

/// A claude stream-json `assistant` line of exactly 233 bytes.
fn assistant_line() -> String {
    let head = r#"{"type":"assistant","message":{"id":"msg_01","type":"message","role":"assistant","content":[{"type":"text","text":""#;
    let tail = r#""}]},"session_id":"ff5caa60-aadb-4f1f-ab1f-48db7b5bc9eb"}"#;
    let filler = "Now let me run the tests to see whether the change works.";
    let mut text = String::new();
    while head.len() + text.len() + tail.len() < 233 {
        let next = filler.chars().nth(text.len() % filler.len()).unwrap_or('x');
        text.push(next);
    }
    let line = format!("{head}{text}{tail}");
    assert_eq!(line.len(), 233);
    line
}

/// 100,000 lines cycled from a real claude transcript.
fn transcript_lines() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../plugins/claude-code/tests/transcripts/2.1.332/tool-write-bash.jsonl");
    let transcript = std::fs::read_to_string(&path).expect("the recorded transcript");
    let lines: Vec<&str> = transcript.lines().collect();
    lines
        .iter()
        .cycle()
        .take(100_000)
        .map(|l| (*l).to_owned())
        .collect()
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and expects a quick run.
    let quick = !std::env::args().any(|a| a == "--bench");
    let samples = if quick { 1 } else { 9 };
    let scale = if quick { 1 } else { 1000 };
    println!("codecafe plugin host benchmarks (median of {samples} samples)\n");

    // `cargo bench ... -- --skip-compile` leaves out the slow cold compile (for profiling).
    if !std::env::args().any(|a| a == "--skip-compile") {
        // Cold compile: every built-in through Cranelift, no cache.
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

    // Warm load: a primed cache; load = cache read, checks, link, instantiate and `info`.
    let cache = tempfile::tempdir().expect("temp dir");
    let primed = host(Some(cache.path()));
    for builtin in BUILTINS {
        primed.load(builtin.source()).expect("loads");
    }
    let sources: Vec<PluginSource> = BUILTINS.iter().map(|b| b.source()).collect();
    let warm_host = host(Some(cache.path()));
    let warm = measure(samples, 10 * scale.min(10), || {
        for source in &sources {
            black_box(warm_host.load(source.clone()).expect("loads"));
        }
    });
    assert_eq!(warm_host.stats().compiled, 0, "warm loads must not compile");
    report(
        &format!("warm load from cache, all {} built-ins", BUILTINS.len()),
        warm,
        Some(Duration::from_millis(1)),
    );
    let start = measure(samples, 10, || {
        black_box(host(Some(cache.path())));
    });
    report("host start (engine, linker, ticker)", start, None);

    let claude = warm_host
        .load(sources[0].clone())
        .expect("claude-code loads");
    assert_eq!(claude.id(), "claude-code");

    let instantiate = measure(samples, 100 * scale.min(10), || {
        black_box(claude.provider_session().expect("instantiates"));
    });
    report(
        "instantiate (fresh store + instance)",
        instantiate,
        Some(Duration::from_micros(30)),
    );

    let mut session = claude.provider_session().expect("instantiates");
    let empty = measure(samples, 100 * scale, || {
        black_box(session.check_screen("", "").expect("call"));
    });
    report(
        "empty call (check-screen \"\", \"\")",
        empty,
        Some(Duration::from_micros(1)),
    );

    let line = assistant_line();
    let wasm_line = measure(samples, 10 * scale, || {
        black_box(session.parse_output(Stream::Stdout, &line).expect("parses"));
    });
    report("parse one 233-byte assistant line, wasm", wasm_line, None);
    let mut native = codecafe_plugin_claude_code::ClaudeCode::default();
    let native_line = measure(samples, 10 * scale, || {
        black_box(native.parse_output(Stream::Stdout, &line));
    });
    report(
        "parse one 233-byte assistant line, native",
        native_line,
        None,
    );

    let lines = transcript_lines();
    let lines = if quick { &lines[..1000] } else { &lines[..] };
    let wasm_bulk = measure(samples.min(5), 1, || {
        let mut session = claude.provider_session().expect("instantiates");
        for line in lines {
            black_box(session.parse_output(Stream::Stdout, line).expect("parses"));
        }
    });
    let native_bulk = measure(samples.min(5), 1, || {
        let mut native = codecafe_plugin_claude_code::ClaudeCode::default();
        for line in lines {
            black_box(native.parse_output(Stream::Stdout, line));
        }
    });
    // As the runner calls it: every complete line of a pipe read (up to 64 KiB) in one call.
    let mut chunks: Vec<String> = Vec::new();
    for line in lines {
        match chunks.last_mut() {
            Some(chunk) if chunk.len() + line.len() < 64 << 10 => {
                chunk.push('\n');
                chunk.push_str(line);
            }
            _ => chunks.push(line.clone()),
        }
    }
    let wasm_chunked = measure(samples.min(5), 1, || {
        let mut session = claude.provider_session().expect("instantiates");
        for chunk in &chunks {
            black_box(session.parse_output(Stream::Stdout, chunk).expect("parses"));
        }
    });
    let count = lines.len();
    report(
        &format!("claude adapter, {count} lines, wasm, call per line"),
        wasm_bulk,
        None,
    );
    report(
        &format!("claude adapter, {count} lines, wasm, call per 64 KiB read"),
        wasm_chunked,
        None,
    );
    report(
        &format!("claude adapter, {count} lines, native"),
        native_bulk,
        None,
    );
    let per_line = wasm_bulk.as_secs_f64() / native_bulk.as_secs_f64();
    println!(
        "{:<46} {:>12.2}x",
        "wasm (call per line) / native", per_line
    );
    let ratio = wasm_chunked.as_secs_f64() / native_bulk.as_secs_f64();
    println!(
        "{:<46} {:>12.2}x  target <= 1.50x: {}",
        "wasm (call per read) / native parse time",
        ratio,
        if ratio <= 1.5 { "met" } else { "MISSED" }
    );
    println!(
        "{:<46} {:>12.2}x",
        "233-byte line, wasm / native",
        wasm_line.as_secs_f64() / native_line.as_secs_f64()
    );
}
