//! The scripted fake agent under the terminal pool: a grandchild that detaches its output is
//! still killed with the group, and claude-like output streams through a lease.

use std::path::Path;
use std::time::{Duration, Instant};

use codecafe_sdk::{CommandSpec, Io};
use codecafe_terminals::{DEFAULT_ENV_ALLOW, ExitStatus, TerminalPool, inherited_env, spawn};

const LONG: Duration = Duration::from_secs(60);

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit(')').next().unwrap_or("").trim_start();
        !state.starts_with('Z') && !state.starts_with('X')
    })
}

#[test]
fn terminate_kills_the_fake_agents_detached_grandchild() {
    let agent = codecafe_test_support::fake_agent();
    let dir = tempfile::tempdir().expect("tempdir");
    for io in [Io::Pipes, Io::Pty] {
        let script = r#"[{"spawn_grandchild_sleep_s": 300, "pid_file": "gc.pid"},
                         {"print": "ready"}, {"sleep_ms": 300000}]"#;
        let spec = CommandSpec::new(agent.to_string_lossy())
            .env("FAKE_AGENT_SCRIPT", script)
            .io(io);
        let pool = TerminalPool::new(1).expect("pool");
        let lease = pool.lease("fake", LONG).expect("lease");
        let mut process =
            spawn(&spec, dir.path(), &inherited_env(DEFAULT_ENV_ALLOW)).expect("spawn");
        let deadline = Instant::now() + LONG;
        let pid_file = dir.path().join("gc.pid");
        let grandchild: i32 = loop {
            assert!(Instant::now() < deadline, "no pid file");
            if let Some(pid) = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|text| text.trim().parse().ok())
            {
                break pid;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(alive(grandchild));
        assert_eq!(
            process.terminate(LONG).expect("terminate"),
            ExitStatus::Signal(15)
        );
        // Cancel order: kill, then release, then record.
        drop(lease);
        assert_eq!(pool.stats().in_use, 0);
        let deadline = Instant::now() + LONG;
        while alive(grandchild) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            !alive(grandchild),
            "grandchild {grandchild} survived ({io:?})"
        );
        std::fs::remove_file(&pid_file).expect("remove pid file");
    }
}

#[test]
fn claude_like_output_streams_and_exit_code_is_kept() {
    let agent = codecafe_test_support::fake_agent();
    let spec = CommandSpec::new(agent.to_string_lossy()).env(
        "FAKE_AGENT_SCRIPT",
        r#"[{"claude_stream": {"session_id": "s-9", "text": "ok"}}, {"exit": 5}]"#,
    );
    let mut process =
        spawn(&spec, Path::new("/"), &inherited_env(DEFAULT_ENV_ALLOW)).expect("spawn");
    let collected = process.collect_output(LONG, 1 << 20);
    assert!(collected.finished);
    let text = String::from_utf8_lossy(&collected.stdout);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains(r#""session_id":"s-9""#), "{text}");
    assert_eq!(
        process.wait_timeout(LONG).expect("wait"),
        Some(ExitStatus::Code(5))
    );
}
