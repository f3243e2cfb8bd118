//! The `fake-agent` binary run for real: output, exit codes, files, stdin, errors.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn fake_agent(script: &str, dir: &std::path::Path, stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-agent"))
        .current_dir(dir)
        .env("FAKE_AGENT_SCRIPT", script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fake-agent");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("wait")
}

#[test]
fn prints_writes_and_exits_as_scripted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = fake_agent(
        r#"[{"print": "one"}, {"eprint": "two"}, {"sleep_ms": 1},
            {"write_file": {"path": "sub/out.txt", "content": "made"}},
            {"exit": 7}, {"print": "never"}]"#,
        dir.path(),
        b"",
    );
    assert_eq!(output.status.code(), Some(7));
    assert_eq!(output.stdout, b"one\n");
    assert_eq!(output.stderr, b"two\n");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("sub/out.txt")).expect("file"),
        "made"
    );
}

#[test]
fn reads_the_script_from_a_file_argument_and_echoes_stdin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("script.json");
    std::fs::write(&script, r#"[{"print": "start"}, {"echo_stdin": true}]"#).expect("script");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-agent"))
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(b"a\nb\n").expect("write");
    drop(input);
    let output = child.wait_with_output().expect("wait");
    assert!(output.status.success());
    assert_eq!(output.stdout, b"start\na\nb\n");
}

#[test]
fn prints_claude_stream_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = fake_agent(
        r#"[{"claude_stream": {"session_id": "abc", "text": "all done", "cost_usd": 0.25}}]"#,
        dir.path(),
        b"",
    );
    assert!(output.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let kinds: Vec<&str> = lines
        .iter()
        .map(|l| l["type"].as_str().expect("type"))
        .collect();
    assert_eq!(kinds, ["system", "assistant", "result"]);
    assert_eq!(lines[2]["result"], "all done");
    assert_eq!(lines[2]["session_id"], "abc");
    assert_eq!(lines[2]["total_cost_usd"], 0.25);
}

#[test]
fn spawns_a_grandchild_that_outlives_it_and_writes_its_pid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = fake_agent(
        r#"[{"spawn_grandchild_sleep_s": 300, "pid_file": "gc.pid"}, {"print": "bye"}]"#,
        dir.path(),
        b"",
    );
    assert!(output.status.success());
    assert_eq!(output.stdout, b"bye\n");
    let pid = std::fs::read_to_string(dir.path().join("gc.pid")).expect("pid file");
    let pid: u32 = pid.trim().parse().expect("a pid");
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the grandchild runs on"
    );
    // Clean up the orphan.
    let _ = Command::new("kill").arg(pid.to_string()).status();
}

#[test]
fn a_bad_script_exits_2_and_says_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = fake_agent(r#"[{"shout": "x"}]"#, dir.path(), b"");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("step 0: unknown step"), "{stderr}");

    let output = Command::new(env!("CARGO_BIN_EXE_fake-agent"))
        .env_remove("FAKE_AGENT_SCRIPT")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("FAKE_AGENT_SCRIPT"));
}
