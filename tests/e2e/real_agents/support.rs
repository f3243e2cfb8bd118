//! What the real-agent end-to-end tests (`tests/e2e/real_agents*.rs`) share: a **new user**
//! of codecafe with the pinned `claude` and `codex` of `tests/agents` on their PATH, their
//! own home (`~/.claude`, `~/.codex`, `~/.gitconfig`), and the scripted fake model server of
//! `tests/fake-model` on 127.0.0.1 standing in for both model APIs.
//!
//! codecafe runs with an environment built from scratch (nothing of the developer's
//! environment, so no stray `ANTHROPIC_API_KEY` can make a test pass): `PATH`, `HOME`,
//! `TMPDIR`, `LANG`, what [`Codecafe`] sets (a private `CODECAFE_HOME`, trust), and — only for
//! [`Credentials::Environment`] — the API keys.
//!
//! `TMPDIR` is `<home>/tmp`: codex 0.171 refuses to make its `codex-linux-sandbox` helper link
//! when `CODEX_HOME` (here `~/.codex`) is inside the temp dir, and every sandboxed command
//! then fails; a home under `/tmp` with the default `TMPDIR` would be exactly that.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use codecafe_fake_model::{Api, FakeModel, RecordedRequest, Script, Served};
use codecafe_test_support::{Codecafe, init_repo_with, workspace_root};
use serde_json::Value;

/// The longest one `codecafe` command driving real agents may take.
pub const RUN_LIMIT: Duration = Duration::from_secs(180);
/// The longest a CLI's own status or login command may take.
const CLI_LIMIT: Duration = Duration::from_secs(30);

/// The request header Claude Code names its session in.
pub const CLAUDE_SESSION_HEADER: &str = "x-claude-code-session-id";

/// The Anthropic key of the tests (the fake server accepts any).
pub const ANTHROPIC_KEY: &str = "sk-ant-fake-key-for-offline-tests-0123456789";
/// The OpenAI key of the tests.
pub const OPENAI_KEY: &str = "sk-fake-openai-key-for-offline-tests-0123456789";

/// Exit codes of `codecafe run` / `order ...` (see `codecafe run --help`).
pub const EXIT_FAILED: i32 = 1;
/// The order waits for input (a question or its budget).
pub const EXIT_AWAITING_INPUT: i32 = 3;
/// The preflight found a provider not ready; nothing was created.
pub const EXIT_NOT_READY: i32 = 5;

/// Where the user keeps the agents' API keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// Only in the CLIs' own configuration, none in the environment: Claude Code's
    /// `~/.claude/settings.json` names an `apiKeyHelper` program that prints the key (and the
    /// endpoint in its `env` block); codex's key is in `~/.codex/auth.json`, written by
    /// `codex login --with-api-key`, used by a `config.toml` provider with
    /// `requires_openai_auth = true`.
    Config,
    /// Only in the environment: `ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL` for Claude Code,
    /// `OPENAI_API_KEY` for codex, whose `config.toml` provider names it as its `env_key`.
    Environment,
    /// Nowhere: the agents are installed and configured (endpoint, model), never logged in.
    Missing,
}

/// One user of codecafe and the agents, with a repository, and the fake model server the
/// agents talk to.
pub struct User {
    /// The `codecafe` binary with a private `CODECAFE_HOME` (codecafe's data directory).
    pub cli: Codecafe,
    /// The user's `HOME`.
    pub home: PathBuf,
    /// The user's repository (registered as a cafe with `codecafe init`).
    pub repo: PathBuf,
    /// The scripted model server of both APIs.
    pub model: FakeModel,
    credentials: Credentials,
    work: tempfile::TempDir,
}

impl User {
    /// A user whose agents' model speaks `script` (the fake server's JSON script; `${NAME}`
    /// is replaced by `vars`, `${CWD}` per request by the agent's working directory), keys
    /// kept as `credentials` says, in a repository with a `README.md` and `files`; `codecafe
    /// init` has run.
    pub fn new(
        script: &str,
        vars: &[(&str, String)],
        credentials: Credentials,
        files: &[(&str, &str)],
    ) -> Self {
        agents_bin();
        let work = tempfile::tempdir().expect("temp work");
        let mut seeded = vec![("README.md", "# shop\n\nA small shop.\n")];
        seeded.extend_from_slice(files);
        let repo = init_repo_with(&work.path().join("shop"), "main", &seeded);
        let home = work.path().join("home");
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect();
        let script = Script::from_json_with_vars(script, &vars).expect("a valid script");
        let model = FakeModel::start(script).expect("fake model server");
        let user = Self {
            cli: Codecafe::new(env!("CARGO_BIN_EXE_codecafe")).non_interactive(),
            home,
            repo,
            model,
            credentials,
            work,
        };
        user.set_up_home();
        let init = user.run(&["init"]);
        assert_eq!(init.code, Some(0), "codecafe init\n{}", init.context(&user));
        user
    }

    /// A scratch directory of the test, outside the repository and the home.
    pub fn scratch(&self) -> &Path {
        self.work.path()
    }

    /// The user's home as a new user has it: a git identity, Claude Code's settings, codex's
    /// configuration (and, with [`Credentials::Config`], their keys).
    fn set_up_home(&self) {
        let home = &self.home;
        for dir in [".claude", ".codex", "tmp", "bin"] {
            std::fs::create_dir_all(home.join(dir)).expect("home dirs");
        }
        std::fs::write(
            home.join(".gitconfig"),
            "[user]\n\tname = Shop Dev\n\temail = dev@shop.example\n",
        )
        .expect(".gitconfig");

        // Claude Code: the switches that keep it quiet offline, always in its own settings;
        // the key and endpoint only with `Credentials::Config`.
        let mut env = serde_json::json!({
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "DISABLE_AUTOUPDATER": "1",
        });
        let mut settings = serde_json::json!({});
        if self.credentials == Credentials::Config {
            let helper = home.join("bin/anthropic-key");
            std::fs::write(&helper, format!("#!/bin/sh\necho {ANTHROPIC_KEY}\n")).expect("helper");
            make_executable(&helper);
            settings["apiKeyHelper"] = Value::String(helper.display().to_string());
        }
        if self.credentials != Credentials::Environment {
            env["ANTHROPIC_BASE_URL"] = Value::String(self.model.base_url());
        }
        settings["env"] = env;
        std::fs::write(
            home.join(".claude/settings.json"),
            serde_json::to_string_pretty(&settings).expect("json"),
        )
        .expect("claude settings");

        // Codex: a provider for the fake server, the model that gets `apply_patch`.
        let auth = match self.credentials {
            Credentials::Config | Credentials::Missing => "requires_openai_auth = true",
            Credentials::Environment => "env_key = \"OPENAI_API_KEY\"",
        };
        let config = format!(
            "model = \"gpt-5.5\"\nmodel_provider = \"fake\"\n\n[features]\nplugins = false\n\
             apps = false\nunbounded_connection_retries = false\n\n[analytics]\nenabled = false\n\n\
             [model_providers.fake]\nname = \"fake\"\nbase_url = \"{}\"\nwire_api = \"responses\"\n\
             {auth}\nrequest_max_retries = 1\nstream_max_retries = 1\n",
            self.model.openai_base_url()
        );
        std::fs::write(home.join(".codex/config.toml"), config).expect("codex config");
        if self.credentials == Credentials::Config {
            let mut login = self.agent_cli("codex", &["login", "--with-api-key"]);
            login.stdin(Stdio::piped());
            let (code, out) = run_cli(login, Some(OPENAI_KEY));
            assert_eq!(code, Some(0), "codex login --with-api-key: {out}");
            assert!(
                home.join(".codex/auth.json").is_file(),
                "codex login wrote no ~/.codex/auth.json: {out}"
            );
        }
    }

    /// The environment of everything the user runs: nothing inherited but what is set here.
    pub fn user_env(&self, command: &mut Command) {
        let kept: Vec<(std::ffi::OsString, std::ffi::OsString)> = command
            .get_envs()
            .filter_map(|(name, value)| value.map(|v| (name.to_owned(), v.to_owned())))
            .collect();
        command.env_clear().envs(kept);
        let path = format!(
            "{}:{}",
            agents_bin().display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".to_owned())
        );
        command
            .env("PATH", path)
            .env("HOME", &self.home)
            .env("TMPDIR", self.home.join("tmp"))
            .env("LANG", "C.UTF-8")
            .env("USER", "dev")
            .env("LOGNAME", "dev");
        if self.credentials == Credentials::Environment {
            command
                .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
                .env("ANTHROPIC_BASE_URL", self.model.base_url())
                .env("OPENAI_API_KEY", OPENAI_KEY);
        }
    }

    /// `program args` (an agent CLI) in the repository, as the user runs it.
    pub fn agent_cli(&self, program: &str, args: &[&str]) -> Command {
        let mut command = Command::new(agents_bin().join(program));
        command
            .args(args)
            .current_dir(&self.repo)
            .stdin(Stdio::null());
        self.user_env(&mut command);
        command
    }

    /// `codecafe args` in the repository, as the user runs it, to its end (bounded by
    /// [`RUN_LIMIT`]).
    pub fn run(&self, args: &[&str]) -> Run {
        let mut command = self.cli.command(&self.repo, args);
        self.user_env(&mut command);
        let (code, stdout, stderr) = run_bounded(command, RUN_LIMIT);
        let events = stdout
            .lines()
            .filter(|l| l.trim_start().starts_with('{'))
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        Run {
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            code,
            stdout,
            stderr,
            events,
        }
    }

    /// `codecafe args` (a run with `--json`) that must stop awaiting the user (exit 3): the run
    /// and its order's id.
    pub fn run_awaiting(&self, args: &[&str]) -> (Run, String) {
        let run = self.run(args);
        assert_eq!(run.code, Some(EXIT_AWAITING_INPUT), "{}", run.context(self));
        let id = run.order_id();
        (run, id)
    }

    /// A CLI's own status command (`claude auth status`, `codex login status`): exit code and
    /// output.
    pub fn cli_status(&self, program: &str, args: &[&str]) -> (Option<i32>, String) {
        run_cli(self.agent_cli(program, args), None)
    }

    /// The model requests of `api` that a scripted turn answered, in arrival order.
    pub fn turns(&self, api: Api) -> Vec<RecordedRequest> {
        self.model
            .requests()
            .into_iter()
            .filter(|r| r.api == Some(api) && r.served == Served::Turn)
            .collect()
    }

    /// The requests scripted turn `index` of `api` answered.
    pub fn turn(&self, api: Api, index: usize) -> Vec<RecordedRequest> {
        self.turns(api)
            .into_iter()
            .filter(|r| r.turn == Some(index))
            .collect()
    }

    /// Every request the server got, one line each, for failure messages.
    pub fn requests_summary(&self) -> String {
        self.model
            .requests()
            .iter()
            .map(|r| {
                format!(
                    "#{} {} {} {:?} {:?} turn {:?} status {} session {:?} last user: {:.160}",
                    r.seq,
                    r.method,
                    r.path,
                    r.api,
                    r.served,
                    r.turn,
                    r.status,
                    r.headers.get(CLAUDE_SESSION_HEADER),
                    r.last_user_text.as_deref().unwrap_or("").replace('\n', " ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Order `id` as `codecafe order list --json` shows it (`branch`, `worktreePath`,
    /// `status`, `costUsd`, ...).
    pub fn order(&self, id: &str) -> Value {
        let run = self.run(&["order", "list", "--json"]);
        assert_eq!(run.code, Some(0), "{}", run.context(self));
        let list: Value = serde_json::from_str(&run.stdout).expect("order list prints JSON");
        list.as_array()
            .expect("a list of orders")
            .iter()
            .find(|o| o["id"] == id)
            .unwrap_or_else(|| panic!("order {id} is not listed: {list}"))
            .clone()
    }

    /// Order `id`'s worktree.
    pub fn worktree(&self, id: &str) -> PathBuf {
        PathBuf::from(
            self.order(id)["worktreePath"]
                .as_str()
                .unwrap_or_else(|| panic!("order {id} has no worktree")),
        )
    }

    /// `git args` in `dir`, which must succeed.
    pub fn git(&self, dir: &Path, args: &[&str]) -> String {
        codecafe_test_support::git(dir, args)
    }
}

/// How one `codecafe` command ended.
pub struct Run {
    /// Its arguments.
    pub args: Vec<String>,
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Everything it printed.
    pub stdout: String,
    /// Its diagnostics.
    pub stderr: String,
    /// The NDJSON events of `--json`.
    pub events: Vec<Value>,
}

impl Run {
    /// The events of `kind` (and of `stage`, when given).
    pub fn events(&self, kind: &str, stage: Option<&str>) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["kind"] == kind)
            .filter(|e| stage.is_none_or(|s| e["payload"]["stage"] == s))
            .collect()
    }

    /// The payload of the one event of `kind` (and `stage`).
    pub fn one(&self, kind: &str, stage: Option<&str>, user: &User) -> Value {
        let found = self.events(kind, stage);
        assert_eq!(
            found.len(),
            1,
            "one {kind} event of stage {stage:?}\n{}",
            self.context(user)
        );
        found[0]["payload"].clone()
    }

    /// The agent events (`order:output`) of `stage` of type `kind`.
    pub fn agent_events(&self, stage: &str, kind: &str) -> Vec<Value> {
        self.events("order:output", Some(stage))
            .into_iter()
            .map(|e| e["payload"]["event"].clone())
            .filter(|e| e["type"] == kind)
            .collect()
    }

    /// The agent session ids `stage` reported.
    pub fn sessions(&self, stage: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .agent_events(stage, "session-started")
            .iter()
            .filter_map(|e| e["id"].as_str().map(str::to_owned))
            .collect();
        ids.dedup();
        ids
    }

    /// The one session id `stage` reported.
    pub fn session(&self, stage: &str, user: &User) -> String {
        let ids = self.sessions(stage);
        assert_eq!(
            ids.len(),
            1,
            "one session of `{stage}`\n{}",
            self.context(user)
        );
        ids[0].clone()
    }

    /// The order id (of the first event).
    pub fn order_id(&self) -> String {
        self.events
            .iter()
            .find_map(|e| e["orderId"].as_str())
            .unwrap_or_else(|| panic!("no event names an order: {}", self.stdout))
            .to_owned()
    }

    /// Everything worth seeing when an assertion about this run fails.
    pub fn context(&self, user: &User) -> String {
        let events: Vec<String> = self
            .events
            .iter()
            .map(|e| {
                let mut line = e.to_string();
                if line.len() > 1500 {
                    let mut cut = 1500;
                    while !line.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    line.truncate(cut);
                    line.push('…');
                }
                line
            })
            .collect();
        format!(
            "codecafe {:?}: exit {:?}\nevents:\n{}\nother stdout lines:\n{}\nstderr:\n{}\nmodel requests:\n{}",
            self.args,
            self.code,
            events.join("\n"),
            self.stdout
                .lines()
                .filter(|l| !l.trim_start().starts_with('{'))
                .collect::<Vec<_>>()
                .join("\n"),
            self.stderr,
            user.requests_summary()
        )
    }
}

/// `tests/agents/node_modules/.bin`, which must hold both CLIs.
///
/// Also checks for what Claude Code's sandbox needs (bubblewrap and socat): without them an
/// `edit` stage runs no commands (the coder could not commit) and these tests cannot pass.
pub fn agents_bin() -> PathBuf {
    for program in ["bwrap", "socat"] {
        let found = std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
        });
        assert!(
            found,
            "`{program}` is not on PATH: Claude Code's sandbox for `permissions: edit` stages \
             needs bubblewrap and socat (`apt-get install bubblewrap socat`)"
        );
    }
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

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mut permissions = std::fs::metadata(path).expect("metadata").permissions();
    permissions.set_mode(0o755);
    std::fs::set_permissions(path, permissions).expect("chmod");
}

/// Runs an agent CLI's own command (stdin: `input`, else nothing) to its end within
/// [`CLI_LIMIT`]; its exit code and stdout + stderr.
fn run_cli(command: Command, input: Option<&str>) -> (Option<i32>, String) {
    let mut command = command;
    if input.is_some() {
        command.stdin(Stdio::piped());
    }
    let stdout = tempfile::NamedTempFile::new().expect("stdout file");
    let stderr = tempfile::NamedTempFile::new().expect("stderr file");
    command
        .stdout(stdout.reopen().expect("stdout"))
        .stderr(stderr.reopen().expect("stderr"));
    let mut child = command.spawn().expect("the agent CLI starts");
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        use std::io::Write as _;
        stdin.write_all(text.as_bytes()).expect("write stdin");
        stdin.write_all(b"\n").expect("write stdin");
    }
    let status = wait_bounded(&mut child, CLI_LIMIT);
    let out = std::fs::read_to_string(stdout.path()).unwrap_or_default()
        + &std::fs::read_to_string(stderr.path()).unwrap_or_default();
    assert!(status.is_some(), "the agent CLI did not finish: {out}");
    (status.and_then(|s| s.code()), out)
}

/// Waits for `child` at most `limit`; past it, SIGTERM (codecafe then stops its agents), a
/// moment's grace, SIGKILL. `None` when it had to be stopped.
fn wait_bounded(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        if start.elapsed() > limit {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let grace = Instant::now();
            while grace.elapsed() < Duration::from_secs(5) {
                if child.try_wait().expect("wait").is_some() {
                    return None;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `command` to its end, stopping it after `limit`; returns exit code, stdout, stderr.
pub fn run_bounded(mut command: Command, limit: Duration) -> (Option<i32>, String, String) {
    let stdout = tempfile::NamedTempFile::new().expect("stdout file");
    let stderr = tempfile::NamedTempFile::new().expect("stderr file");
    command
        .stdout(stdout.reopen().expect("stdout"))
        .stderr(stderr.reopen().expect("stderr"));
    let mut child = command.spawn().expect("codecafe starts");
    let status = wait_bounded(&mut child, limit);
    let out = std::fs::read_to_string(stdout.path()).unwrap_or_default();
    let err = std::fs::read_to_string(stderr.path()).unwrap_or_default();
    assert!(
        status.is_some(),
        "codecafe did not finish within {limit:?}\nstdout:\n{out}\nstderr:\n{err}"
    );
    (status.and_then(|s| s.code()), out, err)
}

/// The value of `key` (a number) in `value`, or a panic naming it.
pub fn number(value: &Value, key: &str) -> f64 {
    value[key]
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}` is not a number in {value}"))
}

/// Whether `a` and `b` are equal up to rounding.
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9_f64.max(b.abs() * 1e-9)
}

// ---------------------------------------------------------------------------------------------
// The model's side of the built-in `moon` recipe: analyze → plan → code (claude-code), review
// (codex). Every scripted turn waits for its stage's prompt (`working on stage `…``, from the
// built-in roles) or for the tool result it follows, so a request that reaches the wrong turn
// is answered by the fallback text and the test sees it.
// ---------------------------------------------------------------------------------------------

/// What analyze reports; the forked plan session must carry it.
pub const ANALYSIS: &str = "ANALYSIS-7F3: the shop has no greeting script yet; add greet.sh.";
/// What plan reports; the code stage continues its session.
pub const PLAN: &str = "PLAN-5C1: 1. write greet.sh 2. commit it";
/// The file the coder writes and commits.
pub const GREET: &str = "greet.sh";
/// Its content.
pub const GREET_CONTENT: &str = "#!/bin/sh\necho \"Hello from greet.sh\"\n";
/// The coder's commit message.
pub const COMMIT_MESSAGE: &str = "Add greet.sh";

/// The usage of every scripted Claude request (identical, so each request costs the same).
pub fn claude_usage() -> Value {
    serde_json::json!({
        "input_tokens": 1200,
        "output_tokens": 300,
        "cache_read_input_tokens": 4000,
        "cache_creation_input_tokens": 600
    })
}

/// `text` ending with a signals block of `next_action` (plus `extra` YAML lines).
pub fn with_signals(text: &str, next_action: &str, extra: &str) -> String {
    format!("{text}\n\n```yaml\nsignals:\n  nextAction: {next_action}\n{extra}```")
}

/// A Claude turn answering the prompt of `stage` with `text` (ending `proceed`).
pub fn claude_text(matching: &str, text: &str) -> Value {
    serde_json::json!({
        "match": matching,
        "blocks": [{"type": "text", "text": text}],
        "usage": claude_usage()
    })
}

/// A Claude turn answering a request that matches `matching` with one call of `tool` with
/// `input`.
pub fn claude_tool(matching: &str, tool: &str, input: Value) -> Value {
    serde_json::json!({
        "match": matching,
        "blocks": [{"type": "tool_use", "name": tool, "input": input}],
        "usage": claude_usage()
    })
}

/// The prompt of stage `stage` of a built-in role.
pub fn stage_prompt(stage: &str) -> String {
    format!("working on stage `{stage}`")
}

/// analyze: one turn, its report.
pub fn analyze_turn() -> Value {
    claude_text(
        &stage_prompt("analyze"),
        &with_signals(ANALYSIS, "proceed", ""),
    )
}

/// plan: one turn, the plan.
pub fn plan_turn() -> Value {
    claude_text(&stage_prompt("plan"), &with_signals(PLAN, "proceed", ""))
}

/// code: `Write` greet.sh in the worktree, commit it with `Bash`, report (three turns).
pub fn code_turns() -> Vec<Value> {
    vec![
        serde_json::json!({
            "match": stage_prompt("code"),
            "blocks": [
                {"type": "text", "text": "Following the plan: step 1."},
                {"type": "tool_use", "name": "Write",
                 "input": {"file_path": format!("${{CWD}}/{GREET}"), "content": GREET_CONTENT}}
            ],
            "usage": claude_usage()
        }),
        serde_json::json!({
            "match": "File created successfully",
            "blocks": [
                {"type": "text", "text": "Step 2: commit."},
                {"type": "tool_use", "name": "Bash",
                 "input": {"command": format!("git add {GREET} && git commit -q -m '{COMMIT_MESSAGE}' && git log --oneline -1"),
                           "description": "Commit greet.sh"}}
            ],
            "usage": claude_usage()
        }),
        claude_text(
            COMMIT_MESSAGE,
            &with_signals(&format!("Wrote and committed `{GREET}`."), "proceed", ""),
        ),
    ]
}

/// The two usages of the scripted review requests: `(input, cached, output)` per request,
/// input without the cached part.
pub const REVIEW_USAGE: [(u64, u64, u64); 2] = [(1000, 2000, 100), (500, 3000, 50)];

fn codex_usage(index: usize) -> Value {
    let (input, cached, output) = REVIEW_USAGE[index];
    serde_json::json!({
        "input_tokens": input,
        "cached_input_tokens": cached,
        "output_tokens": output,
        "reasoning_output_tokens": 0
    })
}

/// review: codex looks at the commit with a command (read-only sandbox), then answers with
/// `final_text` (two turns).
pub fn review_turns(final_text: &str) -> Vec<Value> {
    vec![
        serde_json::json!({
            "match": stage_prompt("review"),
            "blocks": [{"type": "function_call", "name": "exec_command",
                        "arguments": {"cmd": "git log --oneline -3 && git show --stat HEAD"}}],
            "usage": codex_usage(0)
        }),
        serde_json::json!({
            "match": COMMIT_MESSAGE,
            "blocks": [{"type": "text", "text": final_text}],
            "usage": codex_usage(1)
        }),
    ]
}

/// The fake server's script from its turns.
pub fn script(anthropic: &[Value], openai: &[Value], side: &[Value]) -> String {
    serde_json::json!({
        "anthropic": anthropic,
        "openai": openai,
        "side": side,
        "fallback_text": "FALLBACK: no scripted turn matched this request."
    })
    .to_string()
}

/// Whether the request's body carries `text` anywhere (its history included).
pub fn body_has(request: &RecordedRequest, text: &str) -> bool {
    let escaped = serde_json::to_string(text).expect("json");
    request
        .body
        .to_string()
        .contains(&escaped[1..escaped.len() - 1])
}

/// Whether the history a request carries (Anthropic `messages`, OpenAI `input`) has an entry of
/// `role` mentioning `text`.
pub fn history_has(request: &RecordedRequest, role: &str, text: &str) -> bool {
    let escaped = serde_json::to_string(text).expect("json");
    let needle = &escaped[1..escaped.len() - 1];
    ["messages", "input"]
        .iter()
        .filter_map(|key| request.body[key].as_array())
        .flatten()
        .filter(|item| item["role"] == role)
        .any(|item| item["content"].to_string().contains(needle))
}

/// The Claude session a request belongs to.
pub fn claude_session(request: &RecordedRequest) -> Option<String> {
    request.headers.get(CLAUDE_SESSION_HEADER).cloned()
}

/// Asserts that the coder's commit of greet.sh is on `branch` (with the file as written), the
/// worktree is clean, and nothing reached the main checkout or its branch.
pub fn assert_committed_on_branch(user: &User, order: &Value) {
    let branch = order["branch"].as_str().expect("the order's branch");
    let worktree = PathBuf::from(order["worktreePath"].as_str().expect("its worktree"));
    let repo = &user.repo;
    let log = user.git(
        repo,
        &["log", "--format=%s%x09%an", &format!("main..{branch}")],
    );
    assert_eq!(
        log.trim(),
        format!("{COMMIT_MESSAGE}\tShop Dev"),
        "one commit by the coder (with the user's git identity) on {branch}"
    );
    let committed = user.git(repo, &["show", &format!("{branch}:{GREET}")]);
    assert_eq!(committed, GREET_CONTENT);
    assert_eq!(
        user.git(&worktree, &["branch", "--show-current"]).trim(),
        branch
    );
    let status = user.git(&worktree, &["status", "--porcelain"]);
    assert_eq!(status.trim(), "", "the worktree is clean after the commit");
    // The main checkout and its branch are untouched.
    assert!(
        !repo.join(GREET).exists(),
        "greet.sh leaked into the main checkout"
    );
    assert_eq!(
        user.git(repo, &["log", "--format=%s", "main"]).trim(),
        "first",
        "main has only its first commit"
    );
}
