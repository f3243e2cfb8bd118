//! What a stage's agent may do and what it gets: the permission policy handed to its provider
//! (see [`codecafe_catalog::recipe::permissions`]), whether this machine has a sandbox that
//! confines an agent's commands, and the agent's environment.
//!
//! The environment is a short base list ([`codecafe_terminals::DEFAULT_ENV_ALLOW`]) plus the
//! variables of codecafe's own environment that the provider declares its agent needs
//! (`ANTHROPIC_*`, proxies, …), the stage's `pass_env` and the active profile's `passEnv`.
//! Nothing else of the user's environment reaches an agent.

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use codecafe_catalog::recipe::{Approvals, Permissions, StageSpec};
use codecafe_plugin_host::LoadedPlugin;
use codecafe_sdk::{ApprovalPolicy, PermissionLevel, Policy};

/// Programs a sandbox for agents' commands needs on Linux: bubblewrap confines the files,
/// socat relays the network proxy (Claude Code's sandbox uses both; codex bundles its own).
pub const SANDBOX_PROGRAMS: &[&str] = &["bwrap", "socat"];
/// Longest wait for the sandbox probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether commands can be confined to the worktree here, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxProbe {
    /// A confining sandbox works.
    pub available: bool,
    /// Why it does not (a missing program, a failing probe).
    pub problem: Option<String>,
}

/// The sandbox probe, run once per process: the programs are on PATH and bubblewrap can
/// start a process in a read-only view of the system.
pub fn command_sandbox() -> &'static SandboxProbe {
    static PROBE: OnceLock<SandboxProbe> = OnceLock::new();
    PROBE.get_or_init(probe_sandbox)
}

fn probe_sandbox() -> SandboxProbe {
    let unavailable = |problem: String| SandboxProbe {
        available: false,
        problem: Some(problem),
    };
    if !cfg!(target_os = "linux") {
        return unavailable("the sandbox codecafe checks for is Linux's bubblewrap".to_owned());
    }
    let missing: Vec<&str> = SANDBOX_PROGRAMS
        .iter()
        .copied()
        .filter(|program| find_on_path(program).is_none())
        .collect();
    if !missing.is_empty() {
        return unavailable(format!("{} not found on PATH", missing.join(" and ")));
    }
    let child = Command::new("bwrap")
        .args([
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "true",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(err) => return unavailable(format!("bwrap cannot start: {err}")),
    };
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => {
                return SandboxProbe {
                    available: true,
                    problem: None,
                };
            }
            Ok(Some(status)) => {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    use std::io::Read;
                    let _ = pipe.read_to_string(&mut stderr);
                }
                return unavailable(format!(
                    "bwrap fails here ({status}): {} (user namespaces may be disabled)",
                    stderr.trim()
                ));
            }
            Ok(None) if started.elapsed() < PROBE_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return unavailable("bwrap did not finish its probe in time".to_owned());
            }
            Err(err) => return unavailable(format!("bwrap probe: {err}")),
        }
    }
}

/// The first `program` on PATH.
pub fn find_on_path(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            use std::os::unix::fs::PermissionsExt;
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// How a stage's agent runs: its own TUI for `interactive: true`, else headless.
pub fn mode(spec: &StageSpec) -> codecafe_sdk::Mode {
    if spec.interactive {
        codecafe_sdk::Mode::Interactive
    } else {
        codecafe_sdk::Mode::Headless
    }
}

/// The policy a stage's provider gets in its invocation.
pub fn invocation_policy(spec: &StageSpec) -> Policy {
    Policy {
        level: match spec.permissions.value {
            Permissions::ReadOnly => PermissionLevel::ReadOnly,
            Permissions::Edit => PermissionLevel::Edit,
            Permissions::Full => PermissionLevel::Full,
        },
        approvals: match spec.approvals.value {
            Approvals::Ask => ApprovalPolicy::Ask,
            Approvals::Deny => ApprovalPolicy::Deny,
        },
        allowed_commands: spec.allowed_commands.clone(),
        sandbox_available: command_sandbox().available,
    }
}

/// Whether variable `name` matches one of `patterns` (names, or prefixes ending in `*`).
pub fn env_matches(patterns: &[String], name: &str) -> bool {
    patterns
        .iter()
        .any(|pattern| codecafe_sdk::types::env_pattern_matches(pattern, name))
}

/// The environment of a stage's agent: `base`, then every variable of codecafe's own
/// environment that `provider` declares or the stage's `pass_env` names (sorted by name; a
/// base variable is not repeated).
pub fn agent_env(
    base: &[(String, String)],
    provider: &LoadedPlugin,
    spec: &StageSpec,
) -> Vec<(String, String)> {
    agent_env_from(
        base,
        provider.declared_env(),
        &spec.pass_env,
        std::env::vars(),
    )
}

fn agent_env_from(
    base: &[(String, String)],
    declared: &[String],
    pass_env: &[String],
    environment: impl Iterator<Item = (String, String)>,
) -> Vec<(String, String)> {
    let mut extra: Vec<(String, String)> = environment
        .filter(|(name, _)| !base.iter().any(|(b, _)| b == name))
        .filter(|(name, _)| env_matches(declared, name) || env_matches(pass_env, name))
        .collect();
    extra.sort();
    base.iter().cloned().chain(extra).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn agents_get_the_base_what_the_provider_declares_and_what_the_stage_passes() {
        let base = pairs(&[("PATH", "/bin"), ("HOME", "/home/u")]);
        let environment = pairs(&[
            ("ANTHROPIC_API_KEY", "k"),
            ("ANTHROPIC_BASE_URL", "http://127.0.0.1:1"),
            ("OPENAI_API_KEY", "o"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("MY_TOOL_TOKEN", "t"),
            ("PATH", "/other"),
        ]);
        let env = agent_env_from(
            &base,
            &strings(&["ANTHROPIC_*", "HTTPS_PROXY"]),
            &strings(&["MY_TOOL_TOKEN"]),
            environment.into_iter(),
        );
        assert_eq!(
            env,
            pairs(&[
                ("PATH", "/bin"),
                ("HOME", "/home/u"),
                ("ANTHROPIC_API_KEY", "k"),
                ("ANTHROPIC_BASE_URL", "http://127.0.0.1:1"),
                ("MY_TOOL_TOKEN", "t"),
            ])
        );
    }

    #[test]
    fn nothing_undeclared_leaks() {
        let env = agent_env_from(
            &[],
            &[],
            &[],
            pairs(&[("OPENAI_API_KEY", "o"), ("SECRET", "s")]).into_iter(),
        );
        assert!(env.is_empty());
    }

    #[test]
    fn prefixes_match_only_their_prefix() {
        let patterns = strings(&["CLAUDE_*", "NO_PROXY"]);
        assert!(env_matches(&patterns, "CLAUDE_CONFIG_DIR"));
        assert!(env_matches(&patterns, "NO_PROXY"));
        assert!(!env_matches(&patterns, "NO_PROXY_X"));
        assert!(!env_matches(&patterns, "XCLAUDE_A"));
    }

    #[test]
    fn the_probe_answers_and_explains_a_missing_sandbox() {
        let probe = command_sandbox();
        assert_eq!(probe.available, probe.problem.is_none(), "{probe:?}");
    }
}
