//! The `codex` provider: drives OpenAI's Codex CLI (`codex exec --json`).
//!
//! A fresh run is
//!
//! ```text
//! codex [-a APPROVAL] exec --json [--skip-git-repo-check] -C WORKDIR [-m MODEL] [-s SANDBOX]
//!       [-p PROFILE] [-c KEY=VALUE]... [EXTRA...] -- PROMPT
//! ```
//!
//! with standard input closed: `codex exec` reads standard input to its end before it starts,
//! so an open pipe would hang it. The prompt follows `--`, so a prompt that starts with `-` is
//! still the prompt; a prompt too long for one argument (over [`MAX_PROMPT_ARG`] bytes) is
//! given as `-` and written to standard input instead, which codex then reads as the prompt.
//!
//! A session is continued with `codex exec resume <THREAD_ID>` and copied into a new one with
//! `codex exec fork <THREAD_ID>` (both exist in codex 0.169). Those subcommands take neither
//! `-C` nor `-s`: the working directory is the process's own (the host starts the agent in the
//! worktree) and the sandbox goes in as `-c sandbox_mode="..."`; `--profile` is given to `exec`
//! before the subcommand.
//!
//! `codex exec` has no system-prompt flag; the invocation's `system_prompt` goes in as the
//! `developer_instructions` config value (`-c developer_instructions="..."`), which codex adds
//! to the model's developer message.
//!
//! **Permissions** come from the stage's provider-neutral policy: `read-only` runs in codex's
//! `read-only` sandbox, `edit` in its `workspace-write` sandbox (writes and commands confined to
//! the working directory, by codex's own bundled sandbox), `full` in `danger-full-access`; always
//! with approvals `never` (`-a never`): what the sandbox refuses is refused and reported
//! (`declined` items), nothing waits for a human. The sandbox goes in as `-s` (resume/fork:
//! `-c sandbox_mode=`).
//!
//! Stage options:
//!
//! | option | value | flag |
//! |---|---|---|
//! | `config` | a map of config keys to TOML value texts (`{"model_provider": "fake"}`); numbers and booleans are taken as they are | one `-c key=value` each, in key order |
//! | `profile` | a profile name | `-p` |
//! | `skip_git_repo_check` | bool (default `false`) | `--skip-git-repo-check` |
//! | `extra_args` | list of arguments, placed before the prompt | |
//!
//! `sandbox` and `approval` are refused with a hint to the stage's `permissions:` and
//! `approvals:`.
//!
//! **Approvals.** With the policy's approvals `ask` the run goes through `codex app-server`
//! instead (JSON-RPC over stdio, the `app_server` module): codex asks before what goes beyond
//! the stage's level, the request becomes an [`AgentEvent::ApprovalRequest`](codecafe_sdk::AgentEvent)
//! and [`Provider::encode_approval`] answers it; resuming and forking go through
//! `thread/resume` / `thread/fork`, so threads move freely between the two paths.
//!
//! The `--json` events are read by the `parse` module. Only headless mode is offered: Codex's
//! TUI has no documented screen states to detect waiting from, so interactive runs are refused
//! with [`BuildError::UnsupportedMode`].

mod app_server;
mod parse;

use codecafe_sdk::{
    AdapterError, ApprovalDecision, ApprovalPolicy, BuildError, Capabilities, CommandSpec,
    Invocation, Mode, ModelConfig, OutputBatch, PermissionLevel, Provider, ProviderInfo, Readiness,
    Requirements, Stdin, Stream,
};
use serde_json::Value;

/// The program started.
pub const PROGRAM: &str = "codex";

/// Longest prompt passed as an argument; longer ones go through standard input (Linux caps one
/// argument at 128 KiB).
pub const MAX_PROMPT_ARG: usize = 100 * 1024;

/// The options this provider knows.
const OPTIONS: &[&str] = &["config", "profile", "skip_git_repo_check", "extra_args"];

/// Options of earlier versions that the stage's permission policy replaces, with the hint.
const REPLACED: &[(&str, &str)] = &[
    (
        "sandbox",
        "the stage's `permissions: read-only | edit | full` chooses codex's sandbox",
    ),
    (
        "approval",
        "the stage's `approvals: ask | deny` decides what happens beyond its `permissions`",
    ),
];

/// The variables of the user's environment Codex may need: OpenAI / Azure credentials and
/// endpoints, its own settings, proxies and CA bundles.
const ENV: &[&str] = &[
    "OPENAI_*",
    "AZURE_OPENAI_*",
    "CODEX_*",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// Codex's sandbox for a permission level.
fn sandbox(level: PermissionLevel) -> &'static str {
    match level {
        PermissionLevel::ReadOnly => "read-only",
        PermissionLevel::Edit => "workspace-write",
        PermissionLevel::Full => "danger-full-access",
    }
}

/// The Codex adapter. One instance serves one stage session.
#[derive(Debug, Default)]
pub struct Codex {
    state: parse::ParseState,
    /// The app-server conversation, when the stage asks the user for approvals.
    app: Option<app_server::AppServer>,
}

impl Provider for Codex {
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            id: "codex".to_owned(),
            name: "Codex".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "OpenAI's Codex CLI (`codex exec --json`; `codex app-server` when a \
                          stage asks for approvals)."
                .to_owned(),
            modes: vec![Mode::Headless],
            capabilities: Capabilities {
                resume: true,
                fork: true,
                usage: true,
                approvals: true,
                ..Capabilities::default()
            },
            requirements: Requirements {
                programs: vec![PROGRAM.to_owned()],
                env: ENV.iter().map(|v| (*v).to_owned()).collect(),
            },
            readiness: Some(Readiness {
                program: PROGRAM.to_owned(),
                version_args: vec!["--version".to_owned()],
                tested_versions: ">=0.169.0, <=0.171.0".to_owned(),
                login_check: Some(vec!["login".to_owned(), "status".to_owned()]),
                login_env: vec!["OPENAI_API_KEY".to_owned(), "CODEX_API_KEY".to_owned()],
                login_hint: "run `codex login`, or set OPENAI_API_KEY".to_owned(),
                // Codex reports no cost: the host prices its tokens by model.
                model_config: Some(ModelConfig {
                    files: vec![
                        "$CODEX_HOME/config.toml".to_owned(),
                        "~/.codex/config.toml".to_owned(),
                    ],
                    key: "model".to_owned(),
                }),
            }),
        }
    }

    fn build_command(&mut self, invocation: &Invocation) -> Result<CommandSpec, BuildError> {
        if invocation.mode != Mode::Headless {
            return Err(BuildError::UnsupportedMode {
                mode: invocation.mode,
            });
        }
        let options = Options::read(invocation)?;
        if invocation.prompt.trim().is_empty() {
            return Err(BuildError::InvalidInvocation {
                message: "the prompt is empty; `codex exec` needs one".to_owned(),
            });
        }
        if invocation.policy.approvals == ApprovalPolicy::Ask {
            return self.app_server(invocation, &options);
        }
        // A global flag: after `exec` codex rejects it. Nothing waits for a human: beyond the
        // sandbox a request is declined, and reported.
        let mut args = vec!["-a".to_owned(), "never".to_owned()];
        args.push("exec".to_owned());
        let sandbox = sandbox(invocation.policy.level);
        let mut config = options.config.clone();
        if let Some(system_prompt) = &invocation.system_prompt {
            config.push((
                "developer_instructions".to_owned(),
                toml_string(system_prompt),
            ));
        }
        match &invocation.session {
            None => {
                if invocation.working_dir.trim().is_empty() {
                    return Err(BuildError::InvalidInvocation {
                        message: "the working directory is empty".to_owned(),
                    });
                }
                args.push("--json".to_owned());
                if options.skip_git_repo_check {
                    args.push("--skip-git-repo-check".to_owned());
                }
                args.extend(["-C".to_owned(), invocation.working_dir.clone()]);
                if let Some(model) = &invocation.model {
                    args.extend(["-m".to_owned(), model.clone()]);
                }
                args.extend(["-s".to_owned(), sandbox.to_owned()]);
                if let Some(profile) = &options.profile {
                    args.extend(["-p".to_owned(), profile.clone()]);
                }
                push_config(&mut args, &config);
                args.extend(options.extra_args.iter().cloned());
            }
            Some(session) => {
                if session.id.trim().is_empty() || session.id.starts_with('-') {
                    return Err(BuildError::InvalidInvocation {
                        message: format!("`{}` is not a thread id to resume", session.id),
                    });
                }
                if let Some(profile) = &options.profile {
                    args.extend(["-p".to_owned(), profile.clone()]);
                }
                args.push(if session.fork { "fork" } else { "resume" }.to_owned());
                args.push("--json".to_owned());
                if options.skip_git_repo_check {
                    args.push("--skip-git-repo-check".to_owned());
                }
                if let Some(model) = &invocation.model {
                    args.extend(["-m".to_owned(), model.clone()]);
                }
                config.insert(0, ("sandbox_mode".to_owned(), toml_string(sandbox)));
                push_config(&mut args, &config);
                args.extend(options.extra_args.iter().cloned());
                args.push(session.id.clone());
            }
        }
        args.push("--".to_owned());
        let stdin = if invocation.prompt.len() > MAX_PROMPT_ARG {
            args.push("-".to_owned());
            Stdin::Bytes(invocation.prompt.clone().into_bytes())
        } else {
            args.push(invocation.prompt.clone());
            Stdin::Closed
        };
        Ok(CommandSpec::new(PROGRAM).args(args).stdin(stdin))
    }

    fn parse_output(&mut self, source: Stream, line: &str) -> OutputBatch {
        match &mut self.app {
            Some(app) => app.parse_line(source, line),
            None => self.state.parse_line(source, line),
        }
    }

    fn finish_output(&mut self, exit_code: Option<i32>) -> OutputBatch {
        match &mut self.app {
            Some(app) => app.finish(exit_code),
            None => self.state.finish(exit_code),
        }
    }

    fn encode_approval(
        &mut self,
        request_id: &str,
        decision: ApprovalDecision,
        reason: Option<&str>,
    ) -> Result<Vec<u8>, AdapterError> {
        // The app server's decisions carry no reason; the host tells the agent when it resumes.
        let _ = reason;
        match &mut self.app {
            Some(app) => app.encode_approval(request_id, decision),
            None => Err(AdapterError::Unsupported(
                "`codex exec` asks nobody; approvals need a stage with `approvals: ask`".to_owned(),
            )),
        }
    }

    fn encode_input(&mut self, text: &str) -> Result<Vec<u8>, AdapterError> {
        let _ = text;
        Err(AdapterError::Unsupported(
            "`codex exec` takes no input while it runs (its standard input is closed); answer \
             by resuming the thread"
                .to_owned(),
        ))
    }
}

impl Codex {
    /// `codex app-server [-c KEY=VALUE]... [EXTRA...]`, its conversation begun on standard
    /// input (kept open: the host writes the next steps and the decisions).
    fn app_server(
        &mut self,
        invocation: &Invocation,
        options: &Options,
    ) -> Result<CommandSpec, BuildError> {
        if invocation.working_dir.trim().is_empty() {
            return Err(BuildError::InvalidInvocation {
                message: "the working directory is empty".to_owned(),
            });
        }
        if let Some(session) = &invocation.session
            && (session.id.trim().is_empty() || session.id.starts_with('-'))
        {
            return Err(BuildError::InvalidInvocation {
                message: format!("`{}` is not a thread id to resume", session.id),
            });
        }
        let mut args = vec!["app-server".to_owned()];
        let mut config = options.config.clone();
        if let Some(profile) = &options.profile {
            config.insert(0, ("profile".to_owned(), toml_string(profile)));
        }
        push_config(&mut args, &config);
        args.extend(options.extra_args.iter().cloned());
        self.app = Some(app_server::AppServer::new(invocation));
        Ok(CommandSpec::new(PROGRAM)
            .args(args)
            .stdin(Stdin::KeepOpen(app_server::AppServer::greeting())))
    }
}

codecafe_sdk::export_provider!(Codex);

/// The stage options, checked.
#[derive(Debug, Default)]
struct Options {
    config: Vec<(String, String)>,
    profile: Option<String>,
    skip_git_repo_check: bool,
    extra_args: Vec<String>,
}

impl Options {
    fn read(invocation: &Invocation) -> Result<Self, BuildError> {
        for (key, hint) in REPLACED {
            if invocation.raw_option(key).is_some() {
                return Err(BuildError::invalid_option(
                    key,
                    format!("is replaced: {hint}"),
                ));
            }
        }
        invocation.reject_unknown_options(OPTIONS)?;
        let profile = match invocation.option::<String>("profile")? {
            Some(profile) if profile.trim().is_empty() || profile.starts_with('-') => {
                return Err(BuildError::invalid_option(
                    "profile",
                    "must be a profile name",
                ));
            }
            other => other,
        };
        Ok(Self {
            config: config(invocation)?,
            profile,
            skip_git_repo_check: invocation.bool_option("skip_git_repo_check")?,
            extra_args: invocation.string_list("extra_args")?,
        })
    }
}

/// The `config` map as `(key, TOML value text)` pairs.
fn config(invocation: &Invocation) -> Result<Vec<(String, String)>, BuildError> {
    let Some(map) = invocation.option::<serde_json::Map<String, Value>>("config")? else {
        return Ok(Vec::new());
    };
    let mut pairs = Vec::with_capacity(map.len());
    for (key, value) in map {
        let key_ok = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"'));
        if !key_ok {
            return Err(BuildError::invalid_option(
                "config",
                format!("`{key}` is not a config key (dotted names of letters, digits, `_`, `-`)"),
            ));
        }
        let text = match value {
            Value::String(text) if !text.trim().is_empty() => text,
            Value::Number(number) => number.to_string(),
            Value::Bool(flag) => flag.to_string(),
            other => {
                return Err(BuildError::invalid_option(
                    "config",
                    format!(
                        "`{key}` must map to TOML value text (a string such as \"\\\"o3\\\"\"), a \
                         number or a boolean, not {other}"
                    ),
                ));
            }
        };
        pairs.push((key, text));
    }
    Ok(pairs)
}

fn push_config(args: &mut Vec<String>, config: &[(String, String)]) {
    for (key, value) in config {
        args.push("-c".to_owned());
        args.push(format!("{key}={value}"));
    }
}

/// `text` as a TOML basic string. JSON's string syntax is TOML's, but for DEL, which TOML wants
/// escaped too.
fn toml_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned())
        .to_string()
        .replace('\u{7f}', "\\u007F")
}

#[cfg(test)]
mod tests;
