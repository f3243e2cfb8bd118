//! `fake-model-server`: runs the scripted fake model server as a process.
//!
//! ```text
//! fake-model-server [--script FILE] [--var NAME=VALUE]... [--port N] [--record FILE]
//!                   [--idle-timeout SECS] [--max-lifetime SECS] [--ignore-stdin] [--quiet]
//! ```
//!
//! `--var NAME=VALUE` replaces `${NAME}` in the script text (JSON-escaped). The first line on
//! stdout is `listening on 127.0.0.1:PORT`. The server exits with status 0
//! when stdin reaches EOF (unless `--ignore-stdin`), after `--idle-timeout` seconds without a
//! request (default 300), or after `--max-lifetime` seconds (default 3600). SIGTERM terminates
//! it (the default action); the record file is flushed after every request, so nothing is lost.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use codecafe_fake_model::{FakeModel, Script, ServerOptions};

const USAGE: &str = "usage: fake-model-server [--script FILE] [--var NAME=VALUE]... [--port N] \
[--record FILE] [--idle-timeout SECS] [--max-lifetime SECS] [--ignore-stdin] [--quiet]";

struct Args {
    script: Option<PathBuf>,
    vars: Vec<(String, String)>,
    port: u16,
    record: Option<PathBuf>,
    idle_timeout: u64,
    max_lifetime: u64,
    watch_stdin: bool,
    quiet: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        script: None,
        vars: Vec::new(),
        port: 0,
        record: None,
        idle_timeout: 300,
        max_lifetime: 3600,
        watch_stdin: true,
        quiet: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--script" => args.script = Some(PathBuf::from(value("--script")?)),
            "--var" => {
                let pair = value("--var")?;
                let (name, val) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("--var expects NAME=VALUE, got {pair:?}"))?;
                args.vars.push((name.to_string(), val.to_string()));
            }
            "--record" => args.record = Some(PathBuf::from(value("--record")?)),
            "--port" => {
                args.port = value("--port")?
                    .parse()
                    .map_err(|e| format!("--port: {e}"))?;
            }
            "--idle-timeout" => {
                args.idle_timeout = value("--idle-timeout")?
                    .parse()
                    .map_err(|e| format!("--idle-timeout: {e}"))?;
            }
            "--max-lifetime" => {
                args.max_lifetime = value("--max-lifetime")?
                    .parse()
                    .map_err(|e| format!("--max-lifetime: {e}"))?;
            }
            "--ignore-stdin" => args.watch_stdin = false,
            "--quiet" => args.quiet = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if args.idle_timeout == 0 || args.max_lifetime == 0 {
        return Err("--idle-timeout and --max-lifetime must be positive".into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let script = match &args.script {
        Some(path) => match Script::load(path, &args.vars) {
            Ok(script) => script,
            Err(msg) => {
                eprintln!("fake-model-server: {msg}");
                return ExitCode::from(2);
            }
        },
        None => Script::default(),
    };
    let options = ServerOptions {
        port: args.port,
        record_file: args.record.clone(),
        log_requests: !args.quiet,
        ..ServerOptions::default()
    };
    let server = match FakeModel::start_with(script, options) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("fake-model-server: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let mut stdout = std::io::stdout();
    if writeln!(stdout, "listening on {}", server.addr())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::from(1);
    }

    let stdin_closed = Arc::new(AtomicBool::new(false));
    if args.watch_stdin {
        let flag = Arc::clone(&stdin_closed);
        let spawned = std::thread::Builder::new()
            .name("stdin-watch".into())
            .spawn(move || {
                let mut sink = [0u8; 4096];
                let mut stdin = std::io::stdin();
                // Ends at EOF or on a read error; bytes read are ignored.
                while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
                flag.store(true, Ordering::SeqCst);
            });
        if spawned.is_err() {
            eprintln!("fake-model-server: cannot watch stdin");
        }
    }

    let started = Instant::now();
    let idle = Duration::from_secs(args.idle_timeout);
    let lifetime = Duration::from_secs(args.max_lifetime);
    // Bounded by `lifetime`: the loop always ends.
    let reason = loop {
        std::thread::sleep(Duration::from_millis(50));
        if stdin_closed.load(Ordering::SeqCst) {
            break "stdin closed";
        }
        if server.idle_for() >= idle {
            break "idle timeout";
        }
        if started.elapsed() >= lifetime {
            break "max lifetime reached";
        }
    };
    let served = server.requests().len();
    server.shutdown();
    if !args.quiet {
        eprintln!("fake-model-server: exiting ({reason}) after {served} requests");
    }
    ExitCode::SUCCESS
}
