//! Real processes on pipes and in pseudo-terminals: output, input, exit, process groups, env.

use std::path::Path;
use std::time::{Duration, Instant};

use codecafe_sdk::{CommandSpec, Io, Stdin, Stream};
use codecafe_terminals::{
    AgentProcess, DEFAULT_ENV_ALLOW, ExitStatus, Output, TerminalError, inherited_env, spawn,
};

const LONG: Duration = Duration::from_secs(60);
const LIMIT: usize = 1 << 20;

fn sh(script: &str, io: Io, stdin: Stdin) -> AgentProcess {
    let spec = CommandSpec::new("sh")
        .args(["-c", script])
        .stdin(stdin)
        .io(io);
    spawn(&spec, Path::new("/"), &inherited_env(DEFAULT_ENV_ALLOW)).expect("spawn sh")
}

fn finish(process: &mut AgentProcess) -> ExitStatus {
    process
        .wait_timeout(LONG)
        .expect("wait")
        .expect("the process ends")
}

/// Reads output until `needle` appears in the stream; returns everything read.
fn read_until(process: &AgentProcess, stream: Stream, needle: &str) -> String {
    let deadline = Instant::now() + LONG;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        match process.recv_output(Duration::from_millis(200)) {
            Output::Chunk(s, bytes) if s == stream => {
                seen.extend_from_slice(&bytes);
                if String::from_utf8_lossy(&seen).contains(needle) {
                    return String::from_utf8_lossy(&seen).into_owned();
                }
            }
            Output::Finished => break,
            _ => {}
        }
    }
    panic!(
        "`{needle}` never appeared; got {:?}",
        String::from_utf8_lossy(&seen)
    );
}

/// Alive and not a zombie (this container's init may never reap orphans).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
    }
}

fn gone_eventually(pid: i32) -> bool {
    let deadline = Instant::now() + LONG;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn first_line_pid(process: &AgentProcess) -> i32 {
    let text = read_until(process, Stream::Stdout, "\n");
    text.lines()
        .next()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or_else(|| panic!("a pid on the first line of {text:?}"))
}

#[test]
fn pipes_separate_stdout_stderr_and_exit_code() {
    let mut process = sh("echo out; echo err >&2; exit 3", Io::Pipes, Stdin::Closed);
    let collected = process.collect_output(LONG, LIMIT);
    assert!(collected.finished);
    assert!(!collected.truncated);
    assert_eq!(collected.stdout, b"out\n");
    assert_eq!(collected.stderr, b"err\n");
    assert_eq!(finish(&mut process), ExitStatus::Code(3));
    assert_eq!(
        process.try_wait().expect("again"),
        Some(ExitStatus::Code(3))
    );
}

#[test]
fn pty_has_a_terminal_of_fixed_size_and_exit_code() {
    let mut process = sh(
        "test -t 0 && test -t 1 && echo is-a-tty; stty size; echo err >&2; exit 4",
        Io::Pty,
        Stdin::Closed,
    );
    let collected = process.collect_output(LONG, LIMIT);
    let text = String::from_utf8_lossy(&collected.stdout);
    assert!(text.contains("is-a-tty"), "{text:?}");
    assert!(text.contains("40 120"), "{text:?}");
    assert!(
        text.contains("err"),
        "stderr goes to the terminal too: {text:?}"
    );
    assert!(collected.stderr.is_empty());
    assert_eq!(finish(&mut process), ExitStatus::Code(4));
}

#[test]
fn stdin_closed_gives_eof_at_once() {
    for io in [Io::Pipes, Io::Pty] {
        let mut process = sh("cat; echo after-eof", io, Stdin::Closed);
        let collected = process.collect_output(LONG, LIMIT);
        assert!(
            String::from_utf8_lossy(&collected.stdout).contains("after-eof"),
            "{io:?}"
        );
        assert_eq!(finish(&mut process), ExitStatus::Code(0));
        assert!(!process.input_open());
    }
}

#[test]
fn stdin_bytes_are_written_then_closed() {
    let mut process = sh(
        "cat; echo end",
        Io::Pipes,
        Stdin::Bytes(b"abc\ndef".to_vec()),
    );
    let collected = process.collect_output(LONG, LIMIT);
    assert_eq!(collected.stdout, b"abc\ndefend\n");
    assert_eq!(finish(&mut process), ExitStatus::Code(0));
    assert!(matches!(
        process.write_input(b"more"),
        Err(TerminalError::InputClosed { .. })
    ));

    let mut process = sh("cat; echo end", Io::Pty, Stdin::Bytes(b"in-pty\n".to_vec()));
    let collected = process.collect_output(LONG, LIMIT);
    let text = String::from_utf8_lossy(&collected.stdout);
    assert!(text.contains("in-pty") && text.contains("end"), "{text:?}");
    assert_eq!(finish(&mut process), ExitStatus::Code(0));
}

#[test]
fn stdin_kept_open_takes_writes_that_cat_echoes() {
    for io in [Io::Pipes, Io::Pty] {
        let mut process = sh("cat; echo closed", io, Stdin::KeepOpen(b"first\n".to_vec()));
        assert!(process.input_open());
        read_until(&process, Stream::Stdout, "first");
        process.write_input(b"second\n").expect("write");
        read_until(&process, Stream::Stdout, "second");
        process.write_input(b"third\n").expect("write");
        read_until(&process, Stream::Stdout, "third");
        process.close_input();
        process.close_input();
        read_until(&process, Stream::Stdout, "closed");
        assert_eq!(finish(&mut process), ExitStatus::Code(0), "{io:?}");
        assert!(matches!(
            process.write_input(b"late"),
            Err(TerminalError::InputClosed { .. })
        ));
    }
}

#[test]
fn a_signal_death_is_reported_as_a_signal() {
    for io in [Io::Pipes, Io::Pty] {
        let mut process = sh("kill -9 $$", io, Stdin::Closed);
        let status = finish(&mut process);
        assert_eq!(status, ExitStatus::Signal(9), "{io:?}");
        assert_eq!(status.signal(), Some(9));
        assert_eq!(status.code(), None);
        assert!(!status.success());
    }
}

#[test]
fn wait_timeout_returns_none_while_running() {
    let mut process = sh("sleep 300", Io::Pipes, Stdin::Closed);
    assert_eq!(
        process
            .wait_timeout(Duration::from_millis(50))
            .expect("wait"),
        None
    );
    let status = process.terminate(LONG).expect("terminate");
    assert_eq!(status, ExitStatus::Signal(15));
}

#[test]
fn terminate_kills_grandchildren() {
    for io in [Io::Pipes, Io::Pty] {
        let mut process = sh("sleep 300 & echo $!; wait", io, Stdin::Closed);
        let grandchild = first_line_pid(&process);
        let leader = i32::try_from(process.pid()).expect("pid");
        assert!(alive(grandchild));
        let status = process.terminate(LONG).expect("terminate");
        assert_eq!(status, ExitStatus::Signal(15), "{io:?}");
        assert!(
            gone_eventually(grandchild),
            "grandchild {grandchild} survived ({io:?})"
        );
        assert!(!alive(leader));
    }
}

#[test]
fn terminate_escalates_to_sigkill_when_term_is_ignored() {
    for io in [Io::Pipes, Io::Pty] {
        let mut process = sh("trap '' TERM; sleep 300 & echo $!; wait", io, Stdin::Closed);
        let grandchild = first_line_pid(&process);
        let status = process
            .terminate(Duration::from_millis(200))
            .expect("terminate");
        assert_eq!(status, ExitStatus::Signal(9), "{io:?}");
        assert!(
            gone_eventually(grandchild),
            "grandchild {grandchild} survived ({io:?})"
        );
    }
}

#[test]
fn terminate_after_the_leader_exited_still_kills_what_it_left_behind() {
    let mut process = sh(
        "sleep 300 </dev/null >/dev/null 2>&1 & echo $!",
        Io::Pipes,
        Stdin::Closed,
    );
    let grandchild = first_line_pid(&process);
    assert_eq!(finish(&mut process), ExitStatus::Code(0));
    assert!(
        alive(grandchild),
        "the orphan runs until the group is killed"
    );
    assert_eq!(
        process.terminate(LONG).expect("terminate"),
        ExitStatus::Code(0)
    );
    assert!(gone_eventually(grandchild));
}

#[test]
fn drop_kills_the_whole_group() {
    for io in [Io::Pipes, Io::Pty] {
        let process = sh("sleep 300 & echo $!; wait", io, Stdin::Closed);
        let grandchild = first_line_pid(&process);
        let leader = i32::try_from(process.pid()).expect("pid");
        drop(process);
        assert!(gone_eventually(grandchild), "{io:?}");
        assert!(gone_eventually(leader), "{io:?}");
    }
}

#[test]
fn the_environment_is_only_what_the_caller_gives() {
    let path = std::env::var("PATH").expect("PATH");
    for io in [Io::Pipes, Io::Pty] {
        let spec = CommandSpec::new("env")
            .env("FROM_SPEC", "yes")
            .env("SHARED", "spec-wins")
            .io(io);
        let base = vec![
            ("PATH".to_owned(), path.clone()),
            ("SHARED".to_owned(), "base".to_owned()),
        ];
        let mut process = spawn(&spec, Path::new("/"), &base).expect("spawn env");
        let collected = process.collect_output(LONG, LIMIT);
        assert_eq!(finish(&mut process), ExitStatus::Code(0));
        let text = String::from_utf8_lossy(&collected.stdout).replace('\r', "");
        let mut names: Vec<&str> = text
            .lines()
            .filter_map(|line| line.split('=').next())
            .collect();
        names.sort_unstable();
        let expected: &[&str] = match io {
            Io::Pipes => &["FROM_SPEC", "PATH", "SHARED"],
            Io::Pty => &["FROM_SPEC", "PATH", "SHARED", "TERM"],
        };
        assert_eq!(names, expected, "{text}");
        assert!(text.contains("SHARED=spec-wins\n"), "{text}");
        assert!(text.contains("FROM_SPEC=yes\n"), "{text}");
    }
    // Codecafe's own test environment (cargo sets CARGO_* variables) is not inherited.
    assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
}

#[test]
fn the_working_directory_is_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = CommandSpec::new("sh").args(["-c", "pwd; echo hi > made-here"]);
    let mut process = spawn(&spec, dir.path(), &inherited_env(DEFAULT_ENV_ALLOW)).expect("spawn");
    let collected = process.collect_output(LONG, LIMIT);
    assert_eq!(finish(&mut process), ExitStatus::Code(0));
    let canonical = dir.path().canonicalize().expect("canonical");
    assert_eq!(
        String::from_utf8_lossy(&collected.stdout).trim(),
        canonical.to_string_lossy()
    );
    assert!(dir.path().join("made-here").exists());
}

#[test]
fn a_missing_program_is_a_spawn_error_that_says_what_to_do() {
    for io in [Io::Pipes, Io::Pty] {
        let spec = CommandSpec::new("no-such-agent-program-xyz").io(io);
        let err = spawn(&spec, Path::new("/"), &inherited_env(DEFAULT_ENV_ALLOW))
            .expect_err("missing program");
        assert!(matches!(err, TerminalError::Spawn { .. }), "{err:?}");
        assert!(err.to_string().contains("no-such-agent-program-xyz"));
        assert!(err.to_string().contains("PATH"));
    }
}

#[test]
fn large_output_arrives_complete_through_the_bounded_queue() {
    let mut process = sh(
        "head -c 5000000 /dev/zero; echo done >&2",
        Io::Pipes,
        Stdin::Closed,
    );
    // Not reading for a while must not lose anything: the agent just waits.
    std::thread::sleep(Duration::from_millis(200));
    let collected = process.collect_output(LONG, 10_000_000);
    assert!(collected.finished);
    assert_eq!(collected.stdout.len(), 5_000_000);
    assert_eq!(collected.stderr, b"done\n");
    assert_eq!(finish(&mut process), ExitStatus::Code(0));

    let mut process = sh("head -c 100000 /dev/zero", Io::Pipes, Stdin::Closed);
    let collected = process.collect_output(LONG, 1000);
    assert!(collected.finished && collected.truncated);
    assert_eq!(collected.stdout.len(), 1000);
    assert_eq!(finish(&mut process), ExitStatus::Code(0));
}

#[test]
fn a_missing_working_directory_is_an_error_not_a_fallback() {
    for io in [Io::Pipes, Io::Pty] {
        let spec = CommandSpec::new("pwd").io(io);
        let err = spawn(
            &spec,
            Path::new("/no/such/worktree"),
            &inherited_env(DEFAULT_ENV_ALLOW),
        )
        .expect_err("missing cwd");
        assert!(matches!(err, TerminalError::Spawn { .. }), "{err:?}");
        assert!(err.to_string().contains("/no/such/worktree"));
    }
}

#[test]
fn an_agent_dies_with_the_thread_that_started_it() {
    for io in [Io::Pipes, Io::Pty] {
        // The agent is leaked on purpose (no Drop kills it): only the parent-death signal can
        // end it once the thread that spawned it is gone — as when codecafe is `kill -9`ed.
        let pid = std::thread::spawn(move || {
            let process = sh("sleep 300", io, Stdin::Closed);
            let pid = i32::try_from(process.pid()).expect("pid");
            std::mem::forget(process);
            pid
        })
        .join()
        .expect("spawning thread");
        let deadline = Instant::now() + Duration::from_secs(1);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            !alive(pid),
            "{io:?}: the agent {pid} outlived its thread by a second"
        );
    }
}

#[test]
fn the_agent_starts_with_default_signal_handling_and_an_empty_mask() {
    // Rust ignores SIGPIPE for itself; the agent must not inherit that, nor a blocked signal.
    for io in [Io::Pipes, Io::Pty] {
        let mut process = sh(
            "grep -E '^Sig(Blk|Ign)' /proc/self/status; kill -PIPE $$; echo survived",
            io,
            Stdin::Closed,
        );
        let collected = process.collect_output(LONG, LIMIT);
        let text = String::from_utf8_lossy(&collected.stdout).replace('\r', "");
        assert!(text.contains("SigBlk:\t0000000000000000"), "{io:?}: {text}");
        assert!(!text.contains("survived"), "{io:?}: {text}");
        assert_eq!(finish(&mut process), ExitStatus::Signal(13), "{io:?}");
    }
}

#[test]
fn a_pty_agent_leads_its_session_with_the_terminal_as_its_controlling_one() {
    // Fields 6 and 7 of /proc/<pid>/stat: session id and controlling terminal (0 = none).
    let script = "read -r _ _ _ _ _ sid tty _ < /proc/$$/stat; echo \"pid=$$ sid=$sid tty=$tty\"";
    let mut process = sh(script, Io::Pty, Stdin::Closed);
    let collected = process.collect_output(LONG, LIMIT);
    assert_eq!(finish(&mut process), ExitStatus::Code(0));
    let text = String::from_utf8_lossy(&collected.stdout).replace('\r', "");
    let pid = process.pid();
    assert!(text.contains(&format!("pid={pid} sid={pid} ")), "{text}");
    assert!(!text.contains("tty=0\n"), "{text}");
    // On pipes it leads its own process group in codecafe's session, without a terminal.
    let mut process = sh(script, Io::Pipes, Stdin::Closed);
    let collected = process.collect_output(LONG, LIMIT);
    assert_eq!(finish(&mut process), ExitStatus::Code(0));
    let text = String::from_utf8_lossy(&collected.stdout);
    assert!(!text.contains(&format!("sid={} ", process.pid())), "{text}");
}

#[test]
fn a_program_that_cannot_be_executed_is_a_spawn_error_and_leaves_no_child() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("not-executable");
    std::fs::write(&script, "#!/bin/sh\necho ran\n").expect("write");
    for io in [Io::Pipes, Io::Pty] {
        let spec = CommandSpec::new(script.to_string_lossy()).io(io);
        let err = spawn(&spec, dir.path(), &inherited_env(DEFAULT_ENV_ALLOW))
            .expect_err("not executable");
        assert!(matches!(err, TerminalError::Spawn { .. }), "{err:?}");
        assert!(err.to_string().contains("ermission denied"), "{err}");
    }
    // The failed children were reaped: this thread (which started them) has no child left.
    let children = std::fs::read_to_string("/proc/thread-self/children").expect("children");
    assert_eq!(children.trim(), "", "unreaped children");
}
