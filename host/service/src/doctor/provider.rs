//! The checks of one provider's agent CLI, from the readiness data its plugin declares
//! ([`Readiness`]): the program is on the PATH agents get, its version is within the range the
//! adapter was tested with, it is logged in (or a key is set), and — for Claude Code `edit`
//! stages — the sandbox it confines commands with can run (the runner's own probe).
//!
//! The commands run exactly as an agent would: the environment codecafe gives agents (its
//! allow-list plus the variables the plugin declares), in their own process group, each bounded
//! by [`COMMAND_TIMEOUT`] and reaped (`codecafe_terminals` does both).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use codecafe_sdk::{CommandSpec, ProviderInfo, Readiness, Requirements};

use super::{Check, Level};

/// Longest one check command (`--version`, a login status, the sandbox probe) may run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Output kept per stream of a check command; status commands print a few lines.
const OUTPUT_LIMIT: usize = 64 * 1024;

/// How long a check command that overran gets between SIGTERM and SIGKILL.
const TERMINATE_GRACE: Duration = Duration::from_millis(200);

/// Every check of provider `info`'s agent CLI, run in `cwd`; `sandbox` when a stage of it
/// edits (its sandbox is then checked too). Nothing for a provider that drives no CLI.
pub(crate) fn checks(info: &ProviderInfo, sandbox: bool, cwd: &Path) -> Vec<Check> {
    let Some(readiness) = &info.readiness else {
        return Vec::new();
    };
    let subject = info.id.as_str();
    let env = agent_env(&info.requirements);
    let path = env_value(&env, "PATH");
    let Some(program) = find_program(&readiness.program, path) else {
        return vec![Check::new(
            subject,
            "program",
            Level::Problem,
            format!(
                "`{}` is not on the PATH codecafe gives agents ({})",
                readiness.program,
                path.unwrap_or("PATH is not set")
            ),
            Some(install_hint(&readiness.program)),
        )];
    };
    let mut checks = vec![Check::ok(
        subject,
        "program",
        format!("`{}` is {}", readiness.program, program.display()),
    )];
    checks.push(version(subject, readiness, &program, cwd, &env));
    checks.push(login(subject, readiness, &program, cwd, &env));
    if sandbox {
        checks.extend(sandbox_check(subject));
    }
    checks
}

/// The environment a provider's agent starts with: codecafe's allow-list for agents plus the
/// variables of codecafe's own environment the plugin declares (`ANTHROPIC_*`, …).
pub(crate) fn agent_env(requirements: &Requirements) -> Vec<(String, String)> {
    let mut env = codecafe_terminals::agent_base_env();
    for (name, value) in std::env::vars_os() {
        let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else {
            continue;
        };
        if requirements.wants_env(name) && !env.iter().any(|(n, _)| n == name) {
            env.push((name.to_owned(), value.to_owned()));
        }
    }
    env
}

fn env_value<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter()
        .find(|(n, _)| n == name)
        .map(|(_, value)| value.as_str())
}

/// Where `program` is: itself when it is a path, else the first executable file of that name
/// in a directory of `path`.
pub(crate) fn find_program(program: &str, path: Option<&str>) -> Option<PathBuf> {
    if program.contains('/') {
        let program = PathBuf::from(program);
        return is_executable(&program).then_some(program);
    }
    path?
        .split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// How to install the agent CLI `program`.
fn install_hint(program: &str) -> String {
    let package = match program {
        "claude" => Some("@anthropic-ai/claude-code"),
        "codex" => Some("@openai/codex"),
        _ => None,
    };
    match package {
        Some(package) => format!(
            "install it (`npm install -g {package}`) and make sure its directory is on the PATH \
             codecafe runs with"
        ),
        None => format!(
            "install `{program}` and make sure its directory is on the PATH codecafe runs with"
        ),
    }
}

/// How a check command ended.
#[derive(Debug)]
pub(crate) enum Ran {
    /// It exited (`None`: killed by a signal); its stdout then stderr.
    Exited { code: Option<i32>, output: String },
    /// It did not end within the timeout; it was killed.
    TimedOut,
    /// It could not be started.
    Failed(String),
}

/// Runs `program args` in `cwd` with exactly `env`, for at most `timeout`; the process (and
/// anything it started) is killed and reaped in every case.
pub(crate) fn run_bounded(
    program: &Path,
    args: &[String],
    cwd: &Path,
    env: &[(String, String)],
    timeout: Duration,
) -> Ran {
    let deadline = Instant::now() + timeout;
    let mut spec = CommandSpec::new(program.to_string_lossy());
    spec.args = args.to_vec();
    let mut process = match codecafe_terminals::spawn(&spec, cwd, env) {
        Ok(process) => process,
        Err(err) => return Ran::Failed(err.to_string()),
    };
    let collected = process.collect_output(timeout, OUTPUT_LIMIT);
    let left = deadline.saturating_duration_since(Instant::now());
    let ran = match process.wait_timeout(left) {
        Ok(Some(status)) => {
            let mut output = String::from_utf8_lossy(&collected.stdout).into_owned();
            output.push_str(&String::from_utf8_lossy(&collected.stderr));
            Ran::Exited {
                code: status.code(),
                output,
            }
        }
        Ok(None) => {
            let _ = process.terminate(TERMINATE_GRACE);
            Ran::TimedOut
        }
        Err(err) => Ran::Failed(err.to_string()),
    };
    // Dropping the process kills its group (what it left behind) and reaps it.
    drop(process);
    ran
}

/// `program args` as the user would type it.
fn shown(program: &str, args: &[String]) -> String {
    std::iter::once(program)
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first line of `output` worth quoting, shortened.
fn first_line(output: &str) -> String {
    let line = output
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no output");
    let mut short: String = line.chars().take(160).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short
}

/// The first semver-looking token of a `--version` output (`2.1.332 (Claude Code)`,
/// `codex-cli 0.171.0`, `v1.2.3`).
pub(crate) fn parse_version(output: &str) -> Option<semver::Version> {
    output
        .split(|c: char| {
            c.is_whitespace() || matches!(c, '(' | ')' | ',' | ';' | '/' | '@' | '"' | '\'' | ':')
        })
        .map(|token| token.strip_prefix('v').unwrap_or(token))
        .find_map(|token| semver::Version::parse(token).ok())
}

fn version(
    subject: &str,
    readiness: &Readiness,
    program: &Path,
    cwd: &Path,
    env: &[(String, String)],
) -> Check {
    let command = shown(&readiness.program, &readiness.version_args);
    let check = |level, message: String, fix: Option<String>| {
        Check::new(subject, "version", level, message, fix)
    };
    let output = match run_bounded(program, &readiness.version_args, cwd, env, COMMAND_TIMEOUT) {
        Ran::Exited {
            code: Some(0),
            output,
        } => output,
        Ran::Exited { code, output } => {
            return check(
                Level::Problem,
                format!(
                    "`{command}` failed ({}): {}",
                    exit_text(code),
                    first_line(&output)
                ),
                Some(format!(
                    "`{}` is installed but does not run; reinstall it ({})",
                    readiness.program,
                    install_hint(&readiness.program)
                )),
            );
        }
        Ran::TimedOut => {
            return check(
                Level::Warning,
                format!(
                    "`{command}` did not answer within {} s",
                    COMMAND_TIMEOUT.as_secs()
                ),
                Some(format!("run `{command}` yourself to see what it waits for")),
            );
        }
        Ran::Failed(err) => {
            return check(
                Level::Problem,
                format!("`{command}` cannot be started: {err}"),
                Some(install_hint(&readiness.program)),
            );
        }
    };
    let Some(found) = parse_version(&output) else {
        return check(
            Level::Warning,
            format!(
                "no version in the output of `{command}`: {}",
                first_line(&output)
            ),
            Some(format!(
                "codecafe's adapter was tested with `{}` {}",
                readiness.program, readiness.tested_versions
            )),
        );
    };
    match semver::VersionReq::parse(&readiness.tested_versions) {
        Ok(tested) if tested.matches(&found) => check(
            Level::Ok,
            format!("{found} (tested: {})", readiness.tested_versions),
            None,
        ),
        Ok(_) => check(
            Level::Warning,
            format!(
                "{found} is outside the versions codecafe's adapter was tested with ({}); it \
                 may work, or its output may have changed",
                readiness.tested_versions
            ),
            Some(format!(
                "install a tested version of `{}` if stages fail to parse its output",
                readiness.program
            )),
        ),
        Err(err) => check(
            Level::Warning,
            format!(
                "{found}; the plugin's tested range `{}` is not a version requirement ({err})",
                readiness.tested_versions
            ),
            Some("report it to the plugin's author".to_owned()),
        ),
    }
}

fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(code) => format!("exit {code}"),
        None => "killed by a signal".to_owned(),
    }
}

fn login(
    subject: &str,
    readiness: &Readiness,
    program: &Path,
    cwd: &Path,
    env: &[(String, String)],
) -> Check {
    let check = |level, message: String, fix: Option<String>| {
        Check::new(subject, "login", level, message, fix)
    };
    // A key counts even where the CLI's own status says "not logged in" (`codex login status`
    // ignores OPENAI_API_KEY, which `codex exec` uses).
    if let Some(key) = readiness
        .login_env
        .iter()
        .find(|name| env_value(env, name).is_some_and(|v| !v.is_empty()))
    {
        return check(Level::Ok, format!("{key} is set"), None);
    }
    let keys = if readiness.login_env.is_empty() {
        String::new()
    } else {
        format!("; none of {} is set", readiness.login_env.join(", "))
    };
    let hint = Some(readiness.login_hint.clone()).filter(|h| !h.is_empty());
    let Some(args) = &readiness.login_check else {
        return if readiness.login_env.is_empty() {
            check(Level::Ok, "no login needed".to_owned(), None)
        } else {
            check(
                Level::Warning,
                format!("cannot tell whether it is logged in{keys}"),
                hint,
            )
        };
    };
    let command = shown(&readiness.program, args);
    match run_bounded(program, args, cwd, env, COMMAND_TIMEOUT) {
        Ran::Exited { code: Some(0), .. } => {
            check(Level::Ok, format!("logged in (`{command}`)"), None)
        }
        Ran::Exited { code, .. } => check(
            Level::Problem,
            format!(
                "not logged in: `{command}` says no ({}){keys}",
                exit_text(code)
            ),
            hint,
        ),
        Ran::TimedOut => check(
            Level::Warning,
            format!(
                "`{command}` did not answer within {} s",
                COMMAND_TIMEOUT.as_secs()
            ),
            Some(format!("run `{command}` yourself to see what it waits for")),
        ),
        Ran::Failed(err) => check(
            Level::Warning,
            format!("`{command}` cannot be started: {err}"),
            hint,
        ),
    }
}

/// Whether the commands of provider `id`'s `edit` stages rely on the machine's sandbox:
/// Claude Code confines them with its own sandbox, which the runner enables only where
/// bubblewrap works (see `codecafe_runner::policy`); Codex bundles its sandbox.
fn uses_machine_sandbox(id: &str) -> bool {
    id == "claude-code"
}

/// The sandbox check of provider `subject`, from the very probe the runner uses to decide
/// whether `edit` stages get it.
fn sandbox_check(subject: &str) -> Option<Check> {
    if !uses_machine_sandbox(subject) {
        return None;
    }
    let probe = codecafe_runner::policy::command_sandbox();
    if probe.available {
        return Some(Check::ok(
            subject,
            "sandbox",
            "bubblewrap works: `edit` stages confine commands to the worktree".to_owned(),
        ));
    }
    let fix = if cfg!(target_os = "linux") {
        "apt-get install bubblewrap socat, or add the commands the stage may run to \
         `allowed_commands`"
    } else {
        "add the commands the stage may run to `allowed_commands`"
    };
    Some(Check::new(
        subject,
        "sandbox",
        Level::Warning,
        format!(
            "no sandbox for commands ({}): `edit` stages run only their `allowed_commands`",
            probe.problem.as_deref().unwrap_or("unavailable")
        ),
        Some(fix.to_owned()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_what_the_clis_print() {
        let v = |text| parse_version(text).map(|v| v.to_string());
        assert_eq!(v("2.1.332 (Claude Code)").as_deref(), Some("2.1.332"));
        assert_eq!(v("codex-cli 0.171.0\n").as_deref(), Some("0.171.0"));
        assert_eq!(v("tool v1.2.3-beta.1").as_deref(), Some("1.2.3-beta.1"));
        assert_eq!(v("tool/4.5.6").as_deref(), Some("4.5.6"));
        assert_eq!(v("version 1.2"), None);
        assert_eq!(v(""), None);
    }

    #[test]
    fn the_tested_ranges_of_the_builtins_parse_and_bound_both_ends() {
        let tested = semver::VersionReq::parse(">=2.1.197, <=2.1.332").expect("a requirement");
        let at = |s| tested.matches(&semver::Version::parse(s).expect("a version"));
        assert!(at("2.1.197") && at("2.1.332") && at("2.1.200"));
        assert!(!at("2.1.196") && !at("2.1.333") && !at("3.0.0"));
    }

    #[test]
    fn programs_are_found_on_the_given_path_only_when_executable() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("dir");
        let tool = dir.path().join("tool");
        std::fs::write(&tool, "#!/bin/sh\n").expect("tool");
        let path = dir.path().display().to_string();
        assert_eq!(find_program("tool", Some(&path)), None, "not executable");
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(find_program("tool", Some(&path)), Some(tool.clone()));
        assert_eq!(find_program("tool", Some("/nonexistent::")), None);
        assert_eq!(find_program("tool", None), None);
        assert_eq!(find_program(&tool.display().to_string(), None), Some(tool));
    }

    #[test]
    fn a_check_command_that_hangs_is_killed_at_its_deadline() {
        let dir = tempfile::tempdir().expect("dir");
        let env = vec![("PATH".to_owned(), "/usr/bin:/bin".to_owned())];
        let started = Instant::now();
        let ran = run_bounded(
            Path::new("/bin/sh"),
            &["-c".to_owned(), "sleep 30".to_owned()],
            dir.path(),
            &env,
            Duration::from_millis(300),
        );
        assert!(matches!(ran, Ran::TimedOut), "{ran:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let ran = run_bounded(
            Path::new("/bin/sh"),
            &["-c".to_owned(), "echo out; echo err >&2; exit 3".to_owned()],
            dir.path(),
            &env,
            COMMAND_TIMEOUT,
        );
        match ran {
            Ran::Exited { code, output } => {
                assert_eq!(code, Some(3));
                assert_eq!(output, "out\nerr\n");
            }
            other => panic!("{other:?}"),
        }
    }

    fn readiness(program: &str, login_check: Option<&str>, login_env: &[&str]) -> Readiness {
        Readiness {
            program: program.to_owned(),
            version_args: vec!["--version".to_owned()],
            tested_versions: ">=1.0.0, <=1.2.0".to_owned(),
            login_check: login_check.map(|c| vec![c.to_owned()]),
            login_env: login_env.iter().map(|s| (*s).to_owned()).collect(),
            login_hint: "log in".to_owned(),
            model_config: None,
        }
    }

    /// A fake CLI: `--version` prints `version`, `status` exits `status`.
    fn fake_cli(dir: &Path, version: &str, status: i32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let cli = dir.join("agent");
        std::fs::write(
            &cli,
            format!(
                "#!/bin/sh\ncase \"$1\" in\n  --version) echo 'agent {version}' ;;\n  \
                 status) exit {status} ;;\nesac\n"
            ),
        )
        .expect("cli");
        std::fs::set_permissions(&cli, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        cli
    }

    #[test]
    fn version_and_login_checks_read_the_cli() {
        let dir = tempfile::tempdir().expect("dir");
        let env = vec![("PATH".to_owned(), "/usr/bin:/bin".to_owned())];
        let cli = fake_cli(dir.path(), "1.1.0", 1);
        let r = readiness("agent", Some("status"), &["AGENT_KEY"]);
        let v = version("a", &r, &cli, dir.path(), &env);
        assert_eq!(v.level, Level::Ok, "{v}");
        let l = login("a", &r, &cli, dir.path(), &env);
        assert_eq!(l.level, Level::Problem, "{l}");
        assert_eq!(l.fix.as_deref(), Some("log in"));
        assert!(l.message.contains("AGENT_KEY"), "{l}");

        let mut keyed = env.clone();
        keyed.push(("AGENT_KEY".to_owned(), "k".to_owned()));
        assert_eq!(login("a", &r, &cli, dir.path(), &keyed).level, Level::Ok);

        let newer = fake_cli(dir.path(), "1.3.0", 0);
        let v = version("a", &r, &newer, dir.path(), &env);
        assert_eq!(v.level, Level::Warning, "{v}");
        assert_eq!(login("a", &r, &newer, dir.path(), &env).level, Level::Ok);
    }
}
