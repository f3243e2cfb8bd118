//! End to end with the **real** agent CLIs: the pinned `claude` and `codex` of `tests/agents`
//! (installed by `npm ci --prefix tests/agents`, which `.ci/run` does) run a two-stage recipe
//! (claude-code `analyze` → codex `review`) through `codecafe`, offline, against the scripted fake
//! model server of `tests/fake-model` started in this process on 127.0.0.1.
//!
//! The agents get the fake server's address, a key and private config directories through
//! `CODECAFE_AGENT_ENV_ALLOW`, which adds variables of codecafe's environment to what agents
//! inherit.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use codecafe_fake_model::{Api, FakeModel, RecordedRequest, Script, Served, ServerOptions};
use codecafe_test_support::{Codecafe, git, init_repo_with, workspace_root};
use serde_json::Value;

/// The longest a whole `codecafe order run` of the two real agents may take.
const RUN_LIMIT: Duration = Duration::from_secs(240);

/// The model's side of the claude stage: `Write` creates `greet.sh` in the worktree, `Bash`
/// runs it, then a final answer with the signals block.
const CLAUDE_SCRIPT: &str = r##"[
  {
    "blocks": [
      {"type": "text", "text": "I'll create the script first."},
      {"type": "tool_use", "name": "Write", "input": {
        "file_path": "${REPO}/greet.sh",
        "content": "#!/bin/sh\necho \"Hello from greet.sh\"\n"}}
    ],
    "usage": {"input_tokens": 3, "cache_creation_input_tokens": 1900,
              "cache_read_input_tokens": 17300, "output_tokens": 96}
  },
  {
    "match": "greet.sh",
    "blocks": [
      {"type": "text", "text": "Now let me run it."},
      {"type": "tool_use", "name": "Bash", "input": {
        "command": "sh greet.sh | tee greet.out", "description": "Run greet.sh"}}
    ],
    "usage": {"input_tokens": 5, "cache_creation_input_tokens": 160,
              "cache_read_input_tokens": 19200, "output_tokens": 74}
  },
  {
    "match": "Hello from greet.sh",
    "blocks": [
      {"type": "text", "text": "Created `greet.sh` and ran it.\n\n```yaml\nsignals:\n  nextAction: proceed\n  needsUserInput: false\n```"}
    ],
    "usage": {"input_tokens": 4, "cache_creation_input_tokens": 90,
              "cache_read_input_tokens": 19360, "output_tokens": 41}
  }
]"##;

/// The model's side of the codex stage: `exec_command` writes `exec-ran.txt`, `apply_patch`
/// adds `NOTES.md`, then a final answer with the signals block.
const CODEX_SCRIPT: &str = r##"[
  {
    "blocks": [
      {"type": "function_call", "name": "exec_command", "arguments": {
        "cmd": "git status --short && echo exec-ran > exec-ran.txt", "workdir": "${REPO}"}}
    ],
    "usage": {"input_tokens": 1500, "cached_input_tokens": 11264, "output_tokens": 90,
              "reasoning_output_tokens": 24}
  },
  {
    "match": "Process exited with code 0",
    "blocks": [
      {"type": "custom_tool_call", "name": "apply_patch",
       "input": "*** Begin Patch\n*** Add File: NOTES.md\n+# Notes\n+\n+Reviewed greet.sh.\n*** End Patch\n"}
    ],
    "usage": {"input_tokens": 300, "cached_input_tokens": 12800, "output_tokens": 70,
              "reasoning_output_tokens": 0}
  },
  {
    "match": "Success. Updated the following files",
    "blocks": [
      {"type": "text", "text": "Added `NOTES.md`.\n\n```yaml\nsignals:\n  nextAction: proceed\n  needsUserInput: false\n```"}
    ],
    "usage": {"input_tokens": 200, "cached_input_tokens": 13056, "output_tokens": 40,
              "reasoning_output_tokens": 0}
  }
]"##;

/// Variables of codecafe's environment the agents inherit on top of the default allow-list.
const AGENT_ENV: &[&str] = &[
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_API_KEY",
    "CLAUDE_CONFIG_DIR",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
    "DISABLE_TELEMETRY",
    "DISABLE_ERROR_REPORTING",
    "DISABLE_AUTOUPDATER",
    "CODEX_HOME",
    "FAKE_KEY",
];

/// The two-stage recipe, pointing codex at the fake server on `port`.
/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

fn recipe(port: u16) -> String {
    let provider = format!(
        "{{name=\"fake\",base_url=\"http://127.0.0.1:{port}/v1\",env_key=\"FAKE_KEY\",\
         wire_api=\"responses\",request_max_retries=1,stream_max_retries=1}}"
    );
    let provider = serde_json::to_string(&provider).expect("a JSON string");
    format!(
        r#"name: real
workflow:
  stages: [analyze, review]
analyze:
  provider: claude-code
  permission_mode: bypassPermissions
  timeout: 3m
  prompt: "Create greet.sh that prints a greeting, then run it."
review:
  provider: codex
  model: gpt-5.5
  sandbox: workspace-write
  timeout: 3m
  prompt: "Review the change and record notes in NOTES.md."
  options:
    approval: never
    extra_args: ["--disable", "unbounded_connection_retries"]
    config:
      model_provider: '"fake"'
      model_providers.fake: {provider}
      features.plugins: false
      features.apps: false
      analytics.enabled: false
"#
    )
}

/// `tests/agents/node_modules/.bin`, which must hold both CLIs.
fn agents_bin() -> PathBuf {
    let bin = workspace_root().join("tests/agents/node_modules/.bin");
    for name in ["claude", "codex"] {
        assert!(
            bin.join(name).is_file(),
            "the real agent CLIs are not installed ({} is missing): run `npm ci --prefix \
             tests/agents` in the workspace root (CI does)",
            bin.join(name).display()
        );
    }
    bin
}

/// `codecafe args` in `cwd` with the agents on `PATH`, private homes under `home` and the fake
/// server's address and key passed on to the agents through `CODECAFE_AGENT_ENV_ALLOW`.
fn agent_command(
    cli: &Codecafe,
    cwd: &Path,
    home: &Path,
    model: &FakeModel,
    args: &[&str],
) -> Command {
    let bin = agents_bin();
    let claude_dir = home.join(".claude");
    let codex_home = home.join("codex");
    std::fs::create_dir_all(&claude_dir).expect("claude dir");
    std::fs::create_dir_all(&codex_home).expect("codex home");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = cli.command(cwd, args);
    command
        .env("PATH", path)
        .env("HOME", home)
        .env("CLAUDE_CONFIG_DIR", &claude_dir)
        .env("CODEX_HOME", &codex_home)
        .env("ANTHROPIC_BASE_URL", model.base_url())
        .env("ANTHROPIC_API_KEY", "sk-ant-fake-key-for-offline-tests")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("FAKE_KEY", "fake-key")
        .env("CODECAFE_AGENT_ENV_ALLOW", AGENT_ENV.join(","));
    command
}

/// NDJSON lines as values.
fn ndjson(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Runs `command` to its end, killing it after `limit`; returns exit code, stdout, stderr.
fn run_bounded(mut command: Command, limit: Duration) -> (Option<i32>, String, String) {
    let stdout = tempfile::NamedTempFile::new().expect("stdout file");
    let stderr = tempfile::NamedTempFile::new().expect("stderr file");
    command
        .stdout(stdout.reopen().expect("stdout"))
        .stderr(stderr.reopen().expect("stderr"));
    let mut child = command.spawn().expect("codecafe starts");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = std::fs::read_to_string(stdout.path()).unwrap_or_default();
    let err = std::fs::read_to_string(stderr.path()).unwrap_or_default();
    assert!(
        status.is_some(),
        "codecafe did not finish within {limit:?}\nstdout:\n{out}\nstderr:\n{err}"
    );
    (status.and_then(|s| s.code()), out, err)
}

/// The events of one kind (and stage, when given).
fn events<'a>(all: &'a [Value], kind: &str, stage: Option<&str>) -> Vec<&'a Value> {
    all.iter()
        .filter(|e| e["kind"] == kind)
        .filter(|e| stage.is_none_or(|s| e["payload"]["stage"] == s))
        .collect()
}

fn turn_requests(model: &FakeModel, api: Api) -> Vec<RecordedRequest> {
    model
        .requests()
        .into_iter()
        .filter(|r| r.api == Some(api) && r.served == Served::Turn)
        .collect()
}

#[test]
fn claude_then_codex_write_files_and_run_commands_in_the_worktree() {
    agents_bin();
    let work = tempfile::tempdir().expect("temp work");
    let repo = init_repo_with(
        &work.path().join("shop"),
        "main",
        &[("app.txt", "line one\n")],
    );
    let cli = Codecafe::new(env!("CARGO_BIN_EXE_codecafe")).non_interactive();
    cli.ok(&repo, &["init"]);
    let workflows = repo.join(".orch/workflows");
    std::fs::create_dir_all(&workflows).expect("workflows dir");
    let recipe_file = workflows.join("real.workflow.yml");
    // The order pins its recipe when it is created, and the fake server's script needs the
    // order's worktree: pick the server's port first, start it once the script is known.
    let port = free_port();
    std::fs::write(&recipe_file, recipe(port)).expect("recipe");

    let order = cli.json(
        &repo,
        &[
            "order",
            "new",
            "--recipe",
            "real",
            "--prompt",
            "Add a greeting script",
            "--json",
        ],
    );
    let id = order["id"].as_str().expect("order id").to_owned();
    let branch = order["branch"].as_str().expect("branch").to_owned();
    let worktree = PathBuf::from(order["worktreePath"].as_str().expect("worktree"));

    let vars = [("REPO".to_owned(), worktree.display().to_string())];
    let script = format!(
        r#"{{"anthropic": {CLAUDE_SCRIPT}, "openai": {CODEX_SCRIPT}, "fallback_text": "OK."}}"#
    );
    let script = Script::from_json_with_vars(&script, &vars).expect("script");
    let model = FakeModel::start_with(
        script,
        ServerOptions {
            port,
            ..ServerOptions::default()
        },
    )
    .expect("fake model server");

    let command = agent_command(
        &cli,
        &repo,
        &work.path().join("agent-home"),
        &model,
        &["order", "run", &id, "--json"],
    );
    let (code, stdout, stderr) = run_bounded(command, RUN_LIMIT);
    let all = ndjson(&stdout);
    let context = || {
        format!(
            "exit {code:?}\nstdout:\n{stdout}\nstderr:\n{stderr}\nrequests:\n{:#?}",
            model
                .requests()
                .iter()
                .map(|r| (&r.method, &r.path, r.api, r.served, &r.last_user_text))
                .collect::<Vec<_>>()
        )
    };
    assert_eq!(code, Some(0), "{}", context());

    // The agents' side effects, in the order's worktree (the agents do not commit).
    let greet = std::fs::read_to_string(worktree.join("greet.sh")).expect("greet.sh written");
    assert!(greet.contains("Hello from greet.sh"), "{greet}");
    let ran = std::fs::read_to_string(worktree.join("greet.out")).expect("Bash ran greet.sh");
    assert_eq!(ran.trim(), "Hello from greet.sh");
    let exec = std::fs::read_to_string(worktree.join("exec-ran.txt")).expect("exec_command ran");
    assert_eq!(exec.trim(), "exec-ran");
    let notes = std::fs::read_to_string(worktree.join("NOTES.md")).expect("apply_patch added");
    assert!(notes.contains("Reviewed greet.sh."), "{notes}");
    assert_eq!(git(&worktree, &["branch", "--show-current"]).trim(), branch);
    let status = git(&worktree, &["status", "--porcelain"]);
    for file in ["greet.sh", "greet.out", "exec-ran.txt", "NOTES.md"] {
        assert!(status.contains(&format!("?? {file}")), "{file}: {status}");
    }
    // Nothing leaked into the main checkout.
    assert!(!repo.join("greet.sh").exists() && !repo.join("NOTES.md").exists());

    // Events.
    for stage in ["analyze", "review"] {
        assert_eq!(
            events(&all, "stage:completed", Some(stage)).len(),
            1,
            "{stage}: {}",
            context()
        );
    }
    assert_eq!(
        events(&all, "order:completed", None).len(),
        1,
        "{}",
        context()
    );
    let outputs = |stage: &str, kind: &str| -> Vec<Value> {
        events(&all, "order:output", Some(stage))
            .into_iter()
            .map(|e| e["payload"]["event"].clone())
            .filter(|e| e["type"] == kind)
            .collect()
    };
    let claude_tools: Vec<Value> = outputs("analyze", "tool-call");
    assert!(
        claude_tools.iter().any(|t| t.to_string().contains("Write"))
            && claude_tools.iter().any(|t| t.to_string().contains("Bash")),
        "{claude_tools:?}"
    );
    let codex_changes = outputs("review", "file-change");
    assert!(
        codex_changes
            .iter()
            .any(|c| c["path"].as_str().is_some_and(|p| p.ends_with("NOTES.md"))),
        "{codex_changes:?}\n{}",
        context()
    );
    let codex_tools = outputs("review", "tool-call");
    assert!(
        codex_tools
            .iter()
            .any(|t| t.to_string().contains("exec-ran")),
        "{codex_tools:?}"
    );

    // Usage from the scripted figures.
    let usage =
        |stage: &str| events(&all, "stage:completed", Some(stage))[0]["payload"]["usage"].clone();
    // Claude reports the sum of its three turns (and a cost); codex the sum of its three turns,
    // its input without the cached part.
    let claude_usage = usage("analyze");
    assert_eq!(claude_usage["inputTokens"], 3 + 5 + 4, "{claude_usage}");
    assert_eq!(claude_usage["outputTokens"], 96 + 74 + 41, "{claude_usage}");
    assert_eq!(
        claude_usage["cachedInputTokens"],
        17300 + 19200 + 19360,
        "{claude_usage}"
    );
    assert_eq!(
        claude_usage["cacheWriteTokens"],
        1900 + 160 + 90,
        "{claude_usage}"
    );
    assert!(
        claude_usage["costUsd"].as_f64().is_some_and(|c| c > 0.0),
        "{claude_usage}"
    );
    let codex_usage = usage("review");
    assert_eq!(
        codex_usage["inputTokens"],
        1500 + 300 + 200,
        "{codex_usage}"
    );
    assert_eq!(codex_usage["outputTokens"], 90 + 70 + 40, "{codex_usage}");
    assert_eq!(
        codex_usage["cachedInputTokens"],
        11264 + 12800 + 13056,
        "{codex_usage}"
    );
    let completed = events(&all, "order:completed", None)[0]["payload"]["costUsd"].as_f64();
    assert_eq!(
        completed,
        claude_usage["costUsd"].as_f64(),
        "the order's cost is claude's"
    );

    // What the fake server received.
    let claude = turn_requests(&model, Api::Anthropic);
    assert_eq!(claude.len(), 3, "{}", context());
    let second = claude[1].body.to_string();
    assert!(second.contains("tool_result"), "{second}");
    let codex = turn_requests(&model, Api::Openai);
    assert_eq!(codex.len(), 3, "{}", context());
    assert!(codex.iter().all(|r| r.path == "/v1/responses"));
    assert!(
        codex[0].body.to_string().contains("NOTES.md"),
        "the review prompt reached codex"
    );
    assert_eq!(model.remaining_turns(Api::Anthropic), 0);
    assert_eq!(model.remaining_turns(Api::Openai), 0);
}

/// The model asks a question (`await_user`), then answers once the user's answer arrives.
const ASK_SCRIPT: &str = r##"{"anthropic": [
  {
    "blocks": [
      {"type": "text", "text": "Before I start: which limit should apply per API key?\n\n```yaml\nsignals:\n  nextAction: await_user\n  needsUserInput: true\n  questions:\n    - Which limit should apply per API key?\n```"}
    ],
    "usage": {"input_tokens": 10, "output_tokens": 30}
  },
  {
    "match": "100 requests per minute",
    "blocks": [
      {"type": "text", "text": "Noted: 100 requests per minute per API key.\n\n```yaml\nsignals:\n  nextAction: proceed\n  needsUserInput: false\n```"}
    ],
    "usage": {"input_tokens": 20, "output_tokens": 25}
  }
], "fallback_text": "OK."}"##;

const ASK_RECIPE: &str = "name: ask
workflow:
  stages: [analyze]
analyze:
  provider: claude-code
  permission_mode: bypassPermissions
  timeout: 3m
";

#[test]
fn claude_asks_and_order_input_continues_the_same_session() {
    agents_bin();
    let work = tempfile::tempdir().expect("temp work");
    let repo = init_repo_with(
        &work.path().join("shop"),
        "main",
        &[
            ("app.txt", "line one\n"),
            (".orch/workflows/ask.workflow.yml", ASK_RECIPE),
        ],
    );
    let cli = Codecafe::new(env!("CARGO_BIN_EXE_codecafe")).non_interactive();
    cli.ok(&repo, &["init"]);
    let model = FakeModel::start(Script::from_json(ASK_SCRIPT).expect("script")).expect("server");
    let home = work.path().join("agent-home");
    let requests = |model: &FakeModel| {
        format!(
            "{:#?}",
            model
                .requests()
                .iter()
                .map(|r| (&r.method, &r.path, r.served, &r.last_user_text))
                .collect::<Vec<_>>()
        )
    };

    let first = agent_command(
        &cli,
        &repo,
        &home,
        &model,
        &[
            "run",
            "--recipe",
            "ask",
            "Add rate limiting to the API",
            "--json",
        ],
    );
    let (code, stdout, stderr) = run_bounded(first, RUN_LIMIT);
    assert_eq!(
        code,
        Some(3),
        "awaiting input\nstdout:\n{stdout}\nstderr:\n{stderr}\n{}",
        requests(&model)
    );
    let all = ndjson(&stdout);
    let asked = events(&all, "order:awaiting-input", None);
    assert_eq!(asked.len(), 1, "{stdout}");
    assert!(
        asked[0]
            .to_string()
            .contains("Which limit should apply per API key?"),
        "{stdout}"
    );
    let id = all[0]["orderId"].as_str().expect("order id").to_owned();
    let session = |all: &[Value]| -> Vec<String> {
        events(all, "order:output", Some("analyze"))
            .into_iter()
            .filter(|e| e["payload"]["event"]["type"] == "session-started")
            .filter_map(|e| e["payload"]["event"]["id"].as_str().map(str::to_owned))
            .collect()
    };
    let first_session = session(&all);
    assert_eq!(first_session.len(), 1, "{stdout}");

    // The answer, from a separate process after the first one exited.
    let second = agent_command(
        &cli,
        &repo,
        &home,
        &model,
        &[
            "order",
            "input",
            &id,
            "Use 100 requests per minute per API key.",
            "--json",
        ],
    );
    let (code, stdout, stderr) = run_bounded(second, RUN_LIMIT);
    assert_eq!(
        code,
        Some(0),
        "completed\nstdout:\n{stdout}\nstderr:\n{stderr}\n{}",
        requests(&model)
    );
    let all = ndjson(&stdout);
    assert_eq!(events(&all, "order:completed", None).len(), 1, "{stdout}");
    assert_eq!(
        session(&all),
        first_session,
        "the same claude session continued"
    );

    // The fake server saw the continuation: the answer after the earlier question.
    let turns = turn_requests(&model, Api::Anthropic);
    assert_eq!(turns.len(), 2, "{}", requests(&model));
    let answer = turns[1].last_user_text.as_deref().unwrap_or_default();
    assert!(
        answer.contains("Use 100 requests per minute per API key."),
        "{answer}"
    );
    let body = turns[1].body.to_string();
    assert!(
        body.contains("Add rate limiting to the API")
            && body.contains("which limit should apply per API key?"),
        "the resumed request carries the earlier messages: {body}"
    );
    let header = |r: &RecordedRequest| r.headers.get("x-claude-code-session-id").cloned();
    assert_eq!(header(&turns[0]), Some(first_session[0].clone()));
    assert_eq!(header(&turns[1]), Some(first_session[0].clone()));
    assert_eq!(model.remaining_turns(Api::Anthropic), 0);
}
