//! `fake-agent`: a scripted stand-in for an agent CLI, for deterministic engine and pool tests.
//!
//! The script is JSON: a list of steps, read from the file named by the first argument or, when
//! there is none, from `FAKE_AGENT_SCRIPT` (a path, or the JSON itself when it starts with `[`).
//! Steps run in order; output is flushed after every step. Each step is an object with one of:
//!
//! | step | effect |
//! |---|---|
//! | `{"print": "line"}` | the line on stdout |
//! | `{"eprint": "line"}` | the line on stderr |
//! | `{"sleep_ms": 50}` | sleeps |
//! | `{"spawn_grandchild_sleep_s": 300, "pid_file": "path"}` | starts `sleep 300` with null stdio in this process group, writes its pid to `pid_file` (optional) and does not wait for it |
//! | `{"write_file": {"path": "rel/path", "content": "..."}}` | writes a file (relative to the working directory; parents are created) |
//! | `{"echo_stdin": true}` | copies stdin lines to stdout until end of file |
//! | `{"claude_stream": {...}}` | prints Claude Code `stream-json`: `system`/`init`, one `assistant` text line and a `result` with usage and cost (see [`ClaudeStream`]) |
//! | `{"exit": 3}` | exits at once with this code |
//!
//! Without an `exit` step it exits 0. A script it cannot read makes it exit 2 with the reason on
//! stderr.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

/// The exit code for a script that cannot be read or run.
const SCRIPT_ERROR: i32 = 2;

/// What the `claude_stream` step prints.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ClaudeStream {
    /// The session id of the `init` and `result` lines.
    session_id: String,
    /// The model name.
    model: String,
    /// The assistant's text, which is also the `result` text.
    text: String,
    /// Input tokens in the usage.
    input_tokens: u64,
    /// Output tokens in the usage.
    output_tokens: u64,
    /// `total_cost_usd` of the result.
    cost_usd: f64,
    /// An error result (`is_error: true`, subtype `error_during_execution`).
    is_error: bool,
}

impl Default for ClaudeStream {
    fn default() -> Self {
        Self {
            session_id: "00000000-0000-4000-8000-000000000000".to_owned(),
            model: "claude-fake".to_owned(),
            text: "done".to_owned(),
            input_tokens: 10,
            output_tokens: 5,
            cost_usd: 0.001,
            is_error: false,
        }
    }
}

/// One step of a script.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Print(String),
    Eprint(String),
    SleepMs(u64),
    SpawnGrandchild {
        seconds: u64,
        pid_file: Option<PathBuf>,
    },
    WriteFile {
        path: PathBuf,
        content: String,
    },
    EchoStdin,
    ClaudeStream(Box<ClaudeStream>),
    Exit(i32),
}

fn string(value: &Value, what: &str) -> Result<String, String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("`{what}` must be a string, got {value}"))
}

fn number(value: &Value, what: &str) -> Result<u64, String> {
    value
        .as_u64()
        .ok_or_else(|| format!("`{what}` must be a whole number, got {value}"))
}

fn parse_step(index: usize, value: &Value) -> Result<Step, String> {
    let object = value
        .as_object()
        .ok_or_else(|| format!("step {index}: must be an object, got {value}"))?;
    let only = |key: &str| -> Result<(), String> {
        match object.keys().find(|k| *k != key) {
            Some(extra) => Err(format!("unexpected `{extra}` next to `{key}`")),
            None => Ok(()),
        }
    };
    let step = if let Some(v) = object.get("print") {
        only("print").and_then(|()| string(v, "print").map(Step::Print))
    } else if let Some(v) = object.get("eprint") {
        only("eprint").and_then(|()| string(v, "eprint").map(Step::Eprint))
    } else if let Some(v) = object.get("sleep_ms") {
        only("sleep_ms").and_then(|()| number(v, "sleep_ms").map(Step::SleepMs))
    } else if let Some(v) = object.get("spawn_grandchild_sleep_s") {
        let seconds = number(v, "spawn_grandchild_sleep_s");
        let pid_file = match object.get("pid_file") {
            None => Ok(None),
            Some(p) => string(p, "pid_file").map(|p| Some(PathBuf::from(p))),
        };
        match object
            .keys()
            .find(|k| *k != "spawn_grandchild_sleep_s" && *k != "pid_file")
        {
            Some(extra) => Err(format!("unexpected `{extra}`")),
            None => seconds.and_then(|seconds| {
                pid_file.map(|pid_file| Step::SpawnGrandchild { seconds, pid_file })
            }),
        }
    } else if let Some(v) = object.get("write_file") {
        only("write_file").and_then(|()| {
            let path = v
                .get("path")
                .ok_or("`write_file` needs `path`")
                .and_then(|p| p.as_str().ok_or("`write_file.path` must be a string"))?;
            let content = v
                .get("content")
                .map(|c| string(c, "write_file.content"))
                .transpose()?
                .unwrap_or_default();
            Ok(Step::WriteFile {
                path: PathBuf::from(path),
                content,
            })
        })
    } else if let Some(v) = object.get("echo_stdin") {
        only("echo_stdin").and_then(|()| match v {
            Value::Bool(true) => Ok(Step::EchoStdin),
            other => Err(format!("`echo_stdin` must be true, got {other}")),
        })
    } else if let Some(v) = object.get("claude_stream") {
        only("claude_stream").and_then(|()| {
            serde_json::from_value::<ClaudeStream>(v.clone())
                .map(|spec| Step::ClaudeStream(Box::new(spec)))
                .map_err(|err| format!("`claude_stream`: {err}"))
        })
    } else if let Some(v) = object.get("exit") {
        only("exit").and_then(|()| {
            v.as_i64()
                .and_then(|code| i32::try_from(code).ok())
                .map(Step::Exit)
                .ok_or_else(|| format!("`exit` must be an exit code, got {v}"))
        })
    } else {
        Err(format!(
            "unknown step {value}; known: print, eprint, sleep_ms, spawn_grandchild_sleep_s, \
             write_file, echo_stdin, claude_stream, exit"
        ))
    };
    step.map_err(|err| {
        if err.starts_with("step ") {
            err
        } else {
            format!("step {index}: {err}")
        }
    })
}

/// Parses a script: a JSON list of steps.
fn parse_script(text: &str) -> Result<Vec<Step>, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|err| format!("the script is not JSON: {err}"))?;
    let steps = value
        .as_array()
        .ok_or("the script must be a JSON list of steps")?;
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| parse_step(i, step))
        .collect()
}

/// The script text from the first argument or `FAKE_AGENT_SCRIPT`.
fn load_script() -> Result<String, String> {
    let source = match std::env::args_os().nth(1) {
        Some(path) => return read(Path::new(&path)),
        None => std::env::var("FAKE_AGENT_SCRIPT").map_err(|_| {
            "give the script's path as the first argument or in FAKE_AGENT_SCRIPT".to_owned()
        })?,
    };
    if source.trim_start().starts_with('[') {
        Ok(source)
    } else {
        read(Path::new(&source))
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))
}

/// The Claude Code stream-json lines for `spec`, in order.
fn claude_lines(spec: &ClaudeStream, cwd: &str) -> Vec<Value> {
    let usage = json!({
        "input_tokens": spec.input_tokens,
        "output_tokens": spec.output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    });
    vec![
        json!({
            "type": "system",
            "subtype": "init",
            "session_id": spec.session_id,
            "cwd": cwd,
            "model": spec.model,
            "tools": ["Bash", "Edit", "Read", "Write"],
            "permissionMode": "default",
            "claude_code_version": "fake",
            "mcp_servers": [],
        }),
        json!({
            "type": "assistant",
            "message": {
                "id": "msg_fake_1",
                "type": "message",
                "role": "assistant",
                "model": spec.model,
                "content": [{"type": "text", "text": spec.text}],
                "stop_reason": null,
                "usage": usage,
            },
            "parent_tool_use_id": null,
            "session_id": spec.session_id,
        }),
        json!({
            "type": "result",
            "subtype": if spec.is_error { "error_during_execution" } else { "success" },
            "is_error": spec.is_error,
            "result": spec.text,
            "session_id": spec.session_id,
            "num_turns": 1,
            "duration_ms": 1,
            "duration_api_ms": 1,
            "total_cost_usd": spec.cost_usd,
            "usage": usage,
            "permission_denials": [],
        }),
    ]
}

/// Runs one step; `Some(code)` means exit now.
fn run_step(step: &Step) -> Result<Option<i32>, String> {
    let mut out = std::io::stdout().lock();
    let io = |err: std::io::Error| err.to_string();
    match step {
        Step::Print(line) => writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(io)?,
        Step::Eprint(line) => {
            let mut err = std::io::stderr().lock();
            writeln!(err, "{line}")
                .and_then(|()| err.flush())
                .map_err(io)?;
        }
        Step::SleepMs(ms) => std::thread::sleep(Duration::from_millis(*ms)),
        Step::SpawnGrandchild { seconds, pid_file } => {
            let child = Command::new("sleep")
                .arg(seconds.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|err| format!("cannot start `sleep`: {err}"))?;
            if let Some(path) = pid_file {
                std::fs::write(path, child.id().to_string())
                    .map_err(|err| format!("{}: {err}", path.display()))?;
            }
            // Dropping the handle neither waits for nor kills it.
        }
        Step::WriteFile { path, content } => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|err| format!("{}: {err}", parent.display()))?;
            }
            std::fs::write(path, content).map_err(|err| format!("{}: {err}", path.display()))?;
        }
        Step::EchoStdin => {
            for line in std::io::stdin().lock().lines() {
                let line = line.map_err(io)?;
                writeln!(out, "{line}")
                    .and_then(|()| out.flush())
                    .map_err(io)?;
            }
        }
        Step::ClaudeStream(spec) => {
            let cwd = std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default();
            for line in claude_lines(spec, &cwd) {
                writeln!(out, "{line}").map_err(io)?;
            }
            out.flush().map_err(io)?;
        }
        Step::Exit(code) => return Ok(Some(*code)),
    }
    Ok(None)
}

fn run() -> Result<i32, String> {
    let steps = parse_script(&load_script()?)?;
    for step in &steps {
        if let Some(code) = run_step(step)? {
            return Ok(code);
        }
    }
    Ok(0)
}

fn main() {
    let code = run().unwrap_or_else(|err| {
        eprintln!("fake-agent: {err}");
        SCRIPT_ERROR
    });
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_step() {
        let steps = parse_script(
            r#"[
                {"print": "hello"},
                {"eprint": "oops"},
                {"sleep_ms": 50},
                {"spawn_grandchild_sleep_s": 300, "pid_file": "gc.pid"},
                {"spawn_grandchild_sleep_s": 1},
                {"write_file": {"path": "a/b.txt", "content": "x"}},
                {"echo_stdin": true},
                {"claude_stream": {"session_id": "s-1", "text": "hi", "cost_usd": 0.5}},
                {"exit": 3}
            ]"#,
        )
        .expect("parses");
        assert_eq!(
            steps,
            vec![
                Step::Print("hello".into()),
                Step::Eprint("oops".into()),
                Step::SleepMs(50),
                Step::SpawnGrandchild {
                    seconds: 300,
                    pid_file: Some("gc.pid".into())
                },
                Step::SpawnGrandchild {
                    seconds: 1,
                    pid_file: None
                },
                Step::WriteFile {
                    path: "a/b.txt".into(),
                    content: "x".into()
                },
                Step::EchoStdin,
                Step::ClaudeStream(Box::new(ClaudeStream {
                    session_id: "s-1".into(),
                    text: "hi".into(),
                    cost_usd: 0.5,
                    ..ClaudeStream::default()
                })),
                Step::Exit(3),
            ]
        );
    }

    #[test]
    fn an_empty_script_is_fine() {
        assert_eq!(parse_script("[]"), Ok(vec![]));
    }

    #[test]
    fn mistakes_name_the_step_and_the_problem() {
        let cases = [
            ("{}", "must be a JSON list"),
            ("not json", "not JSON"),
            ("[1]", "step 0: must be an object"),
            (
                r#"[{"print": "a"}, {"shout": "b"}]"#,
                "step 1: unknown step",
            ),
            (r#"[{"print": 5}]"#, "step 0: `print` must be a string"),
            (
                r#"[{"print": "a", "exit": 1}]"#,
                "step 0: unexpected `exit`",
            ),
            (r#"[{"sleep_ms": -1}]"#, "whole number"),
            (r#"[{"echo_stdin": false}]"#, "must be true"),
            (r#"[{"write_file": {"content": "x"}}]"#, "needs `path`"),
            (
                r#"[{"claude_stream": {"sesion_id": "x"}}]"#,
                "unknown field",
            ),
            (r#"[{"exit": "3"}]"#, "exit code"),
            (
                r#"[{"spawn_grandchild_sleep_s": 1, "pidfile": "x"}]"#,
                "unexpected `pidfile`",
            ),
        ];
        for (script, expected) in cases {
            let err = parse_script(script).expect_err(script);
            assert!(err.contains(expected), "{script}: {err}");
        }
    }

    #[test]
    fn claude_lines_look_like_stream_json() {
        let spec = ClaudeStream {
            is_error: true,
            ..ClaudeStream::default()
        };
        let lines = claude_lines(&spec, "/w");
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["type"], "system");
        assert_eq!(lines[0]["subtype"], "init");
        assert_eq!(lines[0]["session_id"], spec.session_id);
        assert_eq!(lines[0]["cwd"], "/w");
        assert_eq!(lines[1]["message"]["content"][0]["text"], "done");
        assert_eq!(lines[2]["type"], "result");
        assert_eq!(lines[2]["subtype"], "error_during_execution");
        assert_eq!(lines[2]["is_error"], true);
        assert_eq!(lines[2]["usage"]["output_tokens"], 5);
        assert_eq!(lines[2]["total_cost_usd"], 0.001);
    }
}
