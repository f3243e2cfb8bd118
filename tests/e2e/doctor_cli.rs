//! End to end through the `codecafe` binary: `codecafe doctor` reports a missing agent CLI, a
//! missing login and an untrusted repository, each with its fix; a run (and a continued order)
//! whose provider is not ready stops with exit 5 before anything is created or started; the
//! first start in a new data directory says it is compiling the built-in plugins.
//!
//! Hermetic: a private `CODECAFE_HOME`, `HOME` and `CLAUDE_CONFIG_DIR`, no API keys, and a
//! `PATH` chosen by each test — empty of agents, or with the pinned real `claude` of
//! `tests/agents` (it answers `--version` and `auth status` offline).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use codecafe_test_support::{Codecafe, casing, git, init_repo, text, workspace_root};
use serde_json::Value;

/// Exit code of a run (or `doctor`) that is not ready.
const NOT_READY: i32 = 5;

/// One Claude Code stage that edits (so its sandbox is checked too).
const CLAUDE: &str = "name: claude\nworkflow:\n  stages: [work]\nwork:\n  provider: claude-code\n  permissions: edit\n";

/// A stage that runs a program of the repository's choosing: it needs trust.
const RISKY: &str =
    "name: risky\nworkflow:\n  stages: [make]\nmake:\n  provider: command\n  command: \"make\"\n";

/// Variables that would count as a Claude login.
const CLAUDE_KEYS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
];

/// A registered cafe with the recipes `recipes` (id, text), a private home, and a directory
/// with no programs (a PATH without any agent).
struct Env {
    cli: Codecafe,
    repo: PathBuf,
    home: PathBuf,
    empty_bin: PathBuf,
    _work: tempfile::TempDir,
}

impl Env {
    fn new(recipes: &[(&str, &str)]) -> Self {
        let work = tempfile::tempdir().expect("temp work");
        let repo = init_repo(&work.path().join("shop"), "main");
        let home = work.path().join("home");
        let empty_bin = work.path().join("bin");
        std::fs::create_dir_all(home.join(".claude")).expect("claude config dir");
        std::fs::create_dir_all(&empty_bin).expect("bin");
        let env = Self {
            cli: Codecafe::new(env!("CARGO_BIN_EXE_codecafe")).non_interactive(),
            repo,
            home,
            empty_bin,
            _work: work,
        };
        env.cli.ok(&env.repo, &["init"]);
        let workflows = env.repo.join(".orch/workflows");
        std::fs::create_dir_all(&workflows).expect("workflows");
        for (id, text) in recipes {
            std::fs::write(workflows.join(format!("{id}.workflow.yml")), text).expect("recipe");
        }
        env
    }

    /// `codecafe args` with `PATH` = `path`, the private home and no login of any agent.
    fn command(&self, args: &[&str], path: &str) -> Command {
        let mut command = self.cli.command(&self.repo, args);
        command
            .env("PATH", path)
            .env("HOME", &self.home)
            .env("CLAUDE_CONFIG_DIR", self.home.join(".claude"))
            .env("CODEX_HOME", self.home.join(".codex"))
            .env_remove("CODECAFE_TRUST")
            .env_remove("OPENAI_API_KEY")
            .env_remove("CODEX_API_KEY");
        for key in CLAUDE_KEYS {
            command.env_remove(key);
        }
        command
    }

    /// Exit code, stdout and stderr of `command` (its JSON checked for camelCase keys).
    fn output(&self, args: &[&str], mut command: Command) -> (Option<i32>, String, String) {
        let out = command.output().expect("codecafe runs");
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        casing::assert_one_casing(args, &stdout);
        (out.status.code(), stdout, stderr)
    }

    fn run(&self, args: &[&str], path: &str) -> (Option<i32>, String, String) {
        self.output(args, self.command(args, path))
    }

    /// A PATH with no agent CLI on it.
    fn no_agents(&self) -> String {
        self.empty_bin.display().to_string()
    }

    /// `doctor --json` with `path`: exit code and report.
    fn doctor(&self, extra: &[&str], path: &str) -> (Option<i32>, Value) {
        let mut args = vec!["doctor", "--json"];
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = self.run(&args, path);
        let report = serde_json::from_str(&stdout)
            .unwrap_or_else(|err| panic!("doctor printed no JSON ({err}): {stdout}{stderr}"));
        (code, report)
    }
}

/// The pinned real CLIs' directory, then the system's PATH (codex needs `node`).
fn with_real_agents() -> String {
    let bin = workspace_root().join("tests/agents/node_modules/.bin");
    assert!(
        bin.join("claude").is_file(),
        "the real agent CLIs are not installed ({} is missing): run `npm ci --prefix \
         tests/agents` in the workspace root (CI does)",
        bin.join("claude").display()
    );
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// The check `subject`/`check` of a doctor report.
fn check<'a>(report: &'a Value, subject: &str, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|checks| {
            checks
                .iter()
                .find(|c| c["subject"] == subject && c["check"] == name)
        })
        .unwrap_or_else(|| panic!("no {subject} {name} check in {report:#}"))
}

#[test]
fn doctor_reports_a_missing_cli_with_its_fix_and_exits_5() {
    let env = Env::new(&[("claude", CLAUDE)]);
    let (code, report) = env.doctor(&["--recipe", "claude"], &env.no_agents());
    assert_eq!(code, Some(NOT_READY), "{report:#}");
    assert_eq!(report["ready"], false);
    assert_eq!(report["recipe"], "claude");
    let program = check(&report, "claude-code", "program");
    assert_eq!(program["level"], "problem");
    assert!(
        program["message"]
            .as_str()
            .is_some_and(|m| m.contains("`claude` is not on the PATH")),
        "{program}"
    );
    assert!(
        program["fix"]
            .as_str()
            .is_some_and(|f| f.contains("npm install -g @anthropic-ai/claude-code")),
        "{program}"
    );
    // The human report says the same, one line per check and the fix under it.
    let (code, stdout, _) = env.run(&["doctor", "--recipe", "claude"], &env.no_agents());
    assert_eq!(code, Some(NOT_READY));
    assert!(stdout.contains("problem"), "{stdout}");
    assert!(stdout.contains("fix"), "{stdout}");
    assert!(stdout.contains("not ready: 1 problem"), "{stdout}");
}

#[test]
fn doctor_reports_a_missing_login_with_its_fix_and_a_key_counts() {
    let env = Env::new(&[("claude", CLAUDE)]);
    let path = with_real_agents();
    let (code, report) = env.doctor(&["--recipe", "claude"], &path);
    assert_eq!(code, Some(NOT_READY), "{report:#}");
    assert_eq!(check(&report, "claude-code", "program")["level"], "ok");
    let version = check(&report, "claude-code", "version");
    assert_eq!(
        version["level"], "ok",
        "the pinned claude is a tested version"
    );
    let login = check(&report, "claude-code", "login");
    assert_eq!(login["level"], "problem", "{login}");
    assert!(
        login["message"]
            .as_str()
            .is_some_and(|m| m.contains("claude auth status") && m.contains("ANTHROPIC_API_KEY")),
        "{login}"
    );
    assert!(
        login["fix"]
            .as_str()
            .is_some_and(|f| f.contains("log in") && f.contains("ANTHROPIC_API_KEY")),
        "{login}"
    );
    // An `edit` stage: the sandbox is checked, and if it is missing the fix says what to do.
    let sandbox = check(&report, "claude-code", "sandbox");
    assert!(
        sandbox["level"] == "ok"
            || sandbox["fix"]
                .as_str()
                .is_some_and(|f| f.contains("bubblewrap")),
        "{sandbox}"
    );
    // Without a git identity (the private HOME has none, unless the system's git config
    // sets one) it is a warning with the commands, not a problem.
    let identity = check(&report, "git", "identity");
    assert!(
        identity["level"] == "ok"
            || (identity["level"] == "warning"
                && identity["fix"]
                    .as_str()
                    .is_some_and(|f| f.contains("git config"))),
        "{identity}"
    );
    assert_eq!(check(&report, "worktrees", "writable")["level"], "ok");

    let mut command = env.command(&["doctor", "--json", "--recipe", "claude"], &path);
    command.env("ANTHROPIC_API_KEY", "sk-ant-test");
    let (code, stdout, stderr) = env.output(&["doctor", "--json"], command);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(report["ready"], true);
    let login = check(&report, "claude-code", "login");
    assert_eq!(login["level"], "ok");
    assert!(
        login.get("fix").is_none(),
        "an ok check has no fix: {login}"
    );
}

#[test]
fn doctor_reports_an_untrusted_repository_with_its_fix() {
    let env = Env::new(&[("risky", RISKY)]);
    let (code, report) = env.doctor(&["--recipe", "risky"], &env.no_agents());
    assert_eq!(code, Some(NOT_READY), "{report:#}");
    let trust = check(&report, "trust", "state");
    assert_eq!(trust["level"], "problem", "{trust}");
    assert!(
        trust["message"]
            .as_str()
            .is_some_and(|m| m.contains("not trusted") && m.contains("risky")),
        "{trust}"
    );
    assert!(
        trust["fix"]
            .as_str()
            .is_some_and(|f| f.contains("codecafe trust")),
        "{trust}"
    );
    // The `command` provider drives no agent CLI: nothing of it is checked.
    assert!(
        report["checks"]
            .as_array()
            .is_some_and(|c| c.iter().all(|c| c["subject"] != "command")),
        "{report:#}"
    );
    let (code, _, stderr) = env.run(&["trust"], &env.no_agents());
    assert_eq!(code, Some(0), "{stderr}");
    let (code, report) = env.doctor(&["--recipe", "risky"], &env.no_agents());
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(check(&report, "trust", "state")["level"], "ok");
}

/// The branches of `repo`.
fn branches(repo: &Path) -> Vec<String> {
    git(repo, &["branch", "--format=%(refname:short)"])
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_run_whose_provider_is_not_ready_exits_5_and_creates_nothing() {
    let env = Env::new(&[("claude", CLAUDE)]);
    let repo = env.repo.display().to_string();
    let worktrees = env.cli.json(&env.repo, &["cafe", "show", &repo, "--json"]);
    let root = PathBuf::from(
        worktrees["settings"]["worktreeRoot"]
            .as_str()
            .expect("the cafe's worktree root"),
    );
    let (code, stdout, stderr) =
        env.run(&["run", "--recipe", "claude", "Fix it"], &env.no_agents());
    assert_eq!(code, Some(NOT_READY), "{stdout}{stderr}");
    assert!(stderr.contains("not ready to run"), "{stderr}");
    assert!(
        stderr.contains("`claude` is not on the PATH")
            && stderr.contains("npm install -g @anthropic-ai/claude-code"),
        "the problem and its fix: {stderr}"
    );
    assert!(stderr.contains("codecafe doctor"), "{stderr}");

    let args = ["run", "--json", "--recipe", "claude", "Fix it"];
    let (code, stdout, _) = env.run(&args, &env.no_agents());
    assert_eq!(code, Some(NOT_READY));
    let error: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("not ready"))
    );
    let problems = error["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 1, "{error:#}");
    assert_eq!(problems[0]["subject"], "claude-code");
    assert_eq!(problems[0]["check"], "program");
    assert!(problems[0]["fix"].is_string());

    let orders = env.cli.json(&env.repo, &["order", "list", "--json"]);
    assert_eq!(orders, serde_json::json!([]), "no order was created");
    assert_eq!(branches(&env.repo), vec!["main".to_owned()], "no branch");
    assert!(
        !root.exists() || std::fs::read_dir(&root).is_ok_and(|mut d| d.next().is_none()),
        "no worktree under {}",
        root.display()
    );
}

#[test]
fn a_created_order_whose_provider_is_not_ready_does_not_start() {
    let env = Env::new(&[("claude", CLAUDE)]);
    let created = env.cli.json(
        &env.repo,
        &[
            "order", "new", "--recipe", "claude", "--prompt", "Fix it", "--json",
        ],
    );
    let id = created["order"]["id"]
        .as_str()
        .or_else(|| created["id"].as_str())
        .expect("the order's id")
        .to_owned();
    let (code, stdout, stderr) = env.run(&["order", "run", &id], &env.no_agents());
    assert_eq!(code, Some(NOT_READY), "{stdout}{stderr}");
    assert!(stderr.contains("`claude` is not on the PATH"), "{stderr}");
    let order = env.cli.json(&env.repo, &["order", "show", &id, "--json"]);
    let status = order["status"]
        .as_str()
        .or_else(|| order["order"]["status"].as_str());
    assert_eq!(status, Some("created"), "it never started: {order:#}");
}

#[test]
fn the_first_start_in_a_new_data_directory_says_it_compiles_the_plugins() {
    let env = Env::new(&[]);
    // A warm cache (the tests' shared one, warmed here if this runs first): nothing to say.
    env.cli.ok(&env.repo, &["plugin", "list"]);
    let (_, _, stderr) = env.run(&["plugin", "list"], &env.no_agents());
    assert!(!stderr.contains("compiling"), "{stderr}");

    // A new cache: the note comes before the compiling; no need to wait for the compiling.
    let cache = tempfile::tempdir().expect("empty cache");
    let mut child = env
        .command(&["plugin", "list"], &env.no_agents())
        .env("CODECAFE_CACHE_DIR", cache.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("codecafe starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        let found = line.contains("compiling the built-in plugins (first run only");
        seen.push(line);
        if found {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    assert!(
        seen.iter()
            .any(|l| l.contains("compiling the built-in plugins")),
        "{seen:?}"
    );
}
