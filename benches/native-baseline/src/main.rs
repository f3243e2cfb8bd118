//! The native side of the plugin benchmark (`cargo bench -p codecafe-plugin-host --bench
//! plugins`): the claude-code adapter's parser, compiled natively by the benchmark with the
//! built-in plugins' own optimisation settings (`codecafe_builtins::PLUGIN_PROFILE`), timing the
//! same work as the wasm side on the same lines.
//!
//! `native-baseline <transcript.jsonl> <lines> <samples>` cycles the transcript's lines up to
//! `<lines>` and prints one JSON object: the nanoseconds of each sample of parsing them with one
//! call per line (`perLine`) and with one call per 64 KiB read (`perRead`: the lines of a read
//! parsed in turn into one batch, as the SDK's guest glue does inside one `parse-output` call).

use std::hint::black_box;
use std::time::Instant;

use codecafe_native_baseline::reads;
use codecafe_plugin_claude_code::ClaudeCode;
use codecafe_sdk::{Provider, Stream};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(count), Some(samples)) = (
        args.get(1),
        args.get(2).and_then(|n| n.parse::<usize>().ok()),
        args.get(3).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: native-baseline <transcript.jsonl> <lines> <samples>");
        std::process::exit(2);
    };
    let transcript = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("{path}: {err}");
            std::process::exit(2);
        }
    };
    let lines: Vec<&str> = transcript.lines().cycle().take(count).collect();
    let reads = reads(&lines);
    let per_line: Vec<u128> = (0..samples)
        .map(|_| {
            let started = Instant::now();
            let mut parser = ClaudeCode::default();
            for line in &lines {
                black_box(parser.parse_output(Stream::Stdout, line));
            }
            started.elapsed().as_nanos()
        })
        .collect();
    let per_read: Vec<u128> = (0..samples)
        .map(|_| {
            let started = Instant::now();
            let mut parser = ClaudeCode::default();
            for read in &reads {
                let mut split = read.split('\n');
                let mut batch = parser.parse_output(Stream::Stdout, split.next().unwrap_or(""));
                for line in split {
                    batch.extend(parser.parse_output(Stream::Stdout, line));
                }
                black_box(batch);
            }
            started.elapsed().as_nanos()
        })
        .collect();
    println!("{{\"perLine\":{per_line:?},\"perRead\":{per_read:?}}}");
}
