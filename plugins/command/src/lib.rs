//! The `command` provider: runs any program named in the stage config.
//!
//! For shell stages (tests, linters, formatters) and for agents nobody has written an adapter
//! for yet. Stage options:
//!
//! | option | value | default |
//! |---|---|---|
//! | `command` | a shell command line (run with `sh -c`) or an argv list | required |
//! | `prompt_via` | `stdin`, `arg` (appended as the last argument), `env` (`CODECAFE_PROMPT`) or `none` | `stdin` |
//! | `env` | a map of extra environment variables | none |
//! | `pty` | run in a pseudo-terminal instead of pipes | `false` |
//!
//! Every stdout line becomes assistant text and every stderr line a log entry; when the program
//! exits, its whole stdout (the last [`MAX_FINAL_TEXT`] bytes of it) is the stage's final text,
//! so a program can end a stage with a `signals:` block like any agent. A non-zero exit is a
//! failed result.

use codecafe_sdk::{
    AgentEvent, BuildError, CommandSpec, FinalResult, Invocation, Io, Mode, OutputBatch, Provider,
    ProviderInfo, Stdin, Stream, provider_info,
};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Most stdout text kept for the final result; older text is dropped from the front.
pub const MAX_FINAL_TEXT: usize = 1 << 20;

const OPTIONS: &[&str] = &["command", "prompt_via", "env", "pty"];

/// The command line: a string for `sh -c`, or an argv list.
#[derive(Deserialize)]
#[serde(untagged)]
enum CommandLine {
    Shell(String),
    Argv(Vec<String>),
}

/// Where the rendered prompt goes.
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum PromptVia {
    #[default]
    Stdin,
    Arg,
    Env,
    None,
}

/// The provider's state for one stage session: the stdout text seen so far.
#[derive(Default)]
pub struct CommandProvider {
    stdout_text: String,
}

impl Provider for CommandProvider {
    fn info(&self) -> ProviderInfo {
        let mut info = provider_info!(
            "command",
            "Command",
            "Runs any program from the stage's `command` option; its output is the stage's result."
        );
        // Headless only: it cannot read a program's screen, so an interactive stage would
        // never see it idle (the `pty` option still runs the program in a terminal).
        info.modes = vec![Mode::Headless];
        // Whatever program its stage names: a `command` stage is repository content that runs
        // a program, so the host runs it only for a repository the user trusts.
        info.requirements.programs = vec!["*".to_owned()];
        info
    }

    fn build_command(&mut self, invocation: &Invocation) -> Result<CommandSpec, BuildError> {
        invocation.reject_unknown_options(OPTIONS)?;
        let command: CommandLine = invocation.option("command")?.ok_or_else(|| {
            BuildError::invalid_option(
                "command",
                "required: a shell command line or a list of arguments",
            )
        })?;
        let mut spec = match command {
            CommandLine::Shell(line) if line.trim().is_empty() => {
                return Err(empty_command());
            }
            CommandLine::Shell(line) => CommandSpec::new("sh").arg("-c").arg(line),
            CommandLine::Argv(argv) => {
                let (program, args) = argv.split_first().ok_or_else(empty_command)?;
                if program.is_empty() {
                    return Err(empty_command());
                }
                CommandSpec::new(program.clone()).args(args.iter().cloned())
            }
        };
        let prompt_via: PromptVia = invocation.option("prompt_via")?.unwrap_or_default();
        match prompt_via {
            PromptVia::Stdin => {
                spec = spec.stdin(Stdin::Bytes(invocation.prompt.clone().into_bytes()))
            }
            PromptVia::Arg if matches!(spec.program.as_str(), "sh") && spec.args.len() == 2 => {
                // `sh -c LINE NAME ARG`: the prompt becomes `$1` of the shell line.
                spec = spec.arg("codecafe-stage").arg(invocation.prompt.clone());
            }
            PromptVia::Arg => spec = spec.arg(invocation.prompt.clone()),
            PromptVia::Env => spec = spec.env("CODECAFE_PROMPT", invocation.prompt.clone()),
            PromptVia::None => {}
        }
        let env: BTreeMap<String, String> = invocation.option("env")?.unwrap_or_default();
        for (key, value) in env {
            spec = spec.env(key, value);
        }
        if invocation.mode == Mode::Interactive {
            return Err(BuildError::UnsupportedMode {
                mode: Mode::Interactive,
            });
        }
        if invocation.bool_option("pty")? {
            spec = spec.io(Io::Pty);
        }
        Ok(spec)
    }

    fn parse_output(&mut self, source: Stream, line: &str) -> OutputBatch {
        if source == Stream::Stdout {
            self.stdout_text.push_str(line);
            self.stdout_text.push('\n');
            if self.stdout_text.len() > 2 * MAX_FINAL_TEXT {
                let mut cut = self.stdout_text.len() - MAX_FINAL_TEXT;
                while !self.stdout_text.is_char_boundary(cut) {
                    cut += 1;
                }
                self.stdout_text.drain(..cut);
            }
        }
        codecafe_sdk::default_parse_output(source, line)
    }

    fn finish_output(&mut self, exit_code: Option<i32>) -> OutputBatch {
        let mut text = std::mem::take(&mut self.stdout_text);
        if text.len() > MAX_FINAL_TEXT {
            let mut cut = text.len() - MAX_FINAL_TEXT;
            while !text.is_char_boundary(cut) {
                cut += 1;
            }
            text.drain(..cut);
        }
        let text = text.trim_end().to_owned();
        let mut batch = OutputBatch::default();
        let is_error = exit_code != Some(0);
        if is_error {
            batch.push(AgentEvent::Error {
                message: match exit_code {
                    Some(code) => format!("command exited with code {code}"),
                    None => "command was killed by a signal".to_owned(),
                },
            });
        }
        batch.push(AgentEvent::FinalResult(FinalResult { text, is_error }));
        batch
    }
}

fn empty_command() -> BuildError {
    BuildError::invalid_option(
        "command",
        "is empty; give a shell command line or a list of arguments",
    )
}

codecafe_sdk::export_provider!(CommandProvider);

#[cfg(test)]
mod tests {
    use super::*;
    use codecafe_sdk::testing::invocation;

    #[test]
    fn shell_line_gets_the_prompt_on_stdin_by_default() {
        let spec = CommandProvider::default()
            .build_command(&invocation(&[("command", r#""cargo test""#)]))
            .expect("builds");
        assert_eq!(spec.program, "sh");
        assert_eq!(spec.args, ["-c", "cargo test"]);
        assert_eq!(spec.stdin, Stdin::Bytes(b"fix the bug".to_vec()));
        assert_eq!(spec.io, Io::Pipes);
    }

    #[test]
    fn argv_with_prompt_as_argument_and_env() {
        let spec = CommandProvider::default()
            .build_command(&invocation(&[
                ("command", r#"["my-agent","--fast"]"#),
                ("prompt_via", r#""arg""#),
                ("env", r#"{"A":"1"}"#),
                ("pty", "true"),
            ]))
            .expect("builds");
        assert_eq!(spec.program, "my-agent");
        assert_eq!(spec.args, ["--fast", "fix the bug"]);
        assert_eq!(spec.env, [("A".to_owned(), "1".to_owned())]);
        assert_eq!(spec.stdin, Stdin::Closed);
        assert_eq!(spec.io, Io::Pty);
    }

    #[test]
    fn shell_line_with_prompt_as_argument_sees_it_as_dollar_one() {
        let spec = CommandProvider::default()
            .build_command(&invocation(&[
                ("command", r#""echo \"$1\"""#),
                ("prompt_via", r#""arg""#),
            ]))
            .expect("builds");
        assert_eq!(
            spec.args,
            ["-c", "echo \"$1\"", "codecafe-stage", "fix the bug"]
        );
    }

    #[test]
    fn bad_options_are_typed_errors_naming_the_key() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "command"),
            (&[("command", r#""  ""#)], "command"),
            (&[("command", "[]")], "command"),
            (&[("command", "3")], "command"),
            (
                &[("command", r#""x""#), ("prompt_via", r#""carrier pigeon""#)],
                "prompt_via",
            ),
            (&[("command", r#""x""#), ("comand", r#""x""#)], "comand"),
        ];
        for (options, key) in cases {
            match CommandProvider::default().build_command(&invocation(options)) {
                Err(BuildError::InvalidOption { key: got, .. }) => assert_eq!(&got, key),
                other => panic!("{options:?}: expected an invalid-option error, got {other:?}"),
            }
        }
    }

    #[test]
    fn output_becomes_events_and_a_final_result() {
        let mut provider = CommandProvider::default();
        let batch = provider.parse_output(Stream::Stdout, "running 3 tests");
        assert_eq!(
            batch.events,
            [AgentEvent::AssistantText {
                text: "running 3 tests".to_owned()
            }]
        );
        let batch = provider.parse_output(Stream::Stderr, "warning: unused");
        assert_eq!(
            batch.events,
            [AgentEvent::Log {
                text: "warning: unused".to_owned()
            }]
        );
        provider.parse_output(Stream::Stdout, "ok");
        let batch = provider.finish_output(Some(0));
        assert_eq!(
            batch.events,
            [AgentEvent::FinalResult(FinalResult {
                text: "running 3 tests\nok".to_owned(),
                is_error: false
            })]
        );
    }

    #[test]
    fn failure_exit_is_an_error_result() {
        let mut provider = CommandProvider::default();
        provider.parse_output(Stream::Stdout, "1 failed");
        let batch = provider.finish_output(Some(101));
        assert!(
            matches!(&batch.events[0], AgentEvent::Error { message } if message.contains("101"))
        );
        assert!(
            matches!(&batch.events[1], AgentEvent::FinalResult(r) if r.is_error && r.text == "1 failed")
        );
        let batch = CommandProvider::default().finish_output(None);
        assert!(
            matches!(&batch.events[0], AgentEvent::Error { message } if message.contains("signal"))
        );
    }

    #[test]
    fn final_text_is_bounded() {
        let mut provider = CommandProvider::default();
        let line = "é".repeat(1000);
        for _ in 0..3000 {
            provider.parse_output(Stream::Stdout, &line);
        }
        let batch = provider.finish_output(Some(0));
        match &batch.events[0] {
            AgentEvent::FinalResult(r) => assert!(r.text.len() <= MAX_FINAL_TEXT),
            other => panic!("expected a final result, got {other:?}"),
        }
    }
}
