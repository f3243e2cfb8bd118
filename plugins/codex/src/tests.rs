//! Unit tests of the command builder.

use super::*;
use codecafe_sdk::SessionRef;
use codecafe_sdk::testing::invocation;

/// Stage options, the key the error must name, and a text its message must contain.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

fn build(invocation: &Invocation) -> CommandSpec {
    match Codex::default().build_command(invocation) {
        Ok(spec) => spec,
        Err(err) => panic!("expected a command, got {err}"),
    }
}

fn session(id: &str, fork: bool) -> Option<SessionRef> {
    Some(SessionRef {
        id: id.to_owned(),
        fork,
    })
}

#[test]
fn info_is_headless_with_resume_fork_usage_and_approvals() {
    let info = Codex::default().info();
    assert_eq!(info.id, "codex");
    assert_eq!(info.modes, [Mode::Headless]);
    let c = info.capabilities;
    assert!(c.resume && c.fork && c.usage && c.approvals);
    assert!(!c.cost && !c.live_input && !c.screen_check);
}

#[test]
fn a_fresh_run_is_exec_json_in_the_worktree_with_stdin_closed() {
    let spec = build(&invocation(&[]));
    assert_eq!(spec.program, "codex");
    assert_eq!(
        spec.args,
        [
            "-a",
            "never",
            "exec",
            "--json",
            "-C",
            "/work/tree",
            "-s",
            "read-only",
            "--",
            "fix the bug"
        ]
    );
    assert_eq!(spec.stdin, Stdin::Closed);
    assert!(spec.env.is_empty());
}

#[test]
fn every_option_in_its_place() {
    let mut inv = invocation(&[
        (
            "config",
            r#"{"model_provider": "fake", "features.apps": false, "model_providers.fake": "{name=\"fake\"}", "request_max_retries": 1}"#,
        ),
        ("profile", r#""ci""#),
        ("skip_git_repo_check", "true"),
        ("extra_args", r#"["--ephemeral"]"#),
    ]);
    inv.policy.level = PermissionLevel::Edit;
    inv.model = Some("gpt-5.5".to_owned());
    inv.system_prompt = Some("Keep \"it\" short.\nNo emojis.".to_owned());
    inv.prompt = "-a prompt that looks like a flag".to_owned();
    let spec = build(&inv);
    assert_eq!(
        spec.args,
        [
            "-a",
            "never",
            "exec",
            "--json",
            "--skip-git-repo-check",
            "-C",
            "/work/tree",
            "-m",
            "gpt-5.5",
            "-s",
            "workspace-write",
            "-p",
            "ci",
            "-c",
            "features.apps=false",
            "-c",
            "model_provider=fake",
            "-c",
            "model_providers.fake={name=\"fake\"}",
            "-c",
            "request_max_retries=1",
            "-c",
            "developer_instructions=\"Keep \\\"it\\\" short.\\nNo emojis.\"",
            "--ephemeral",
            "--",
            "-a prompt that looks like a flag",
        ]
    );
}

#[test]
fn resume_and_fork_put_the_sandbox_in_config_and_the_thread_before_the_prompt() {
    let mut inv = invocation(&[
        ("profile", r#""ci""#),
        ("config", r#"{"model_provider": "fake"}"#),
    ]);
    inv.model = Some("gpt-5.5".to_owned());
    inv.session = session("01a20070-ca9b-7893-9697-da9a35eb433c", false);
    let spec = build(&inv);
    assert_eq!(
        spec.args,
        [
            "-a",
            "never",
            "exec",
            "-p",
            "ci",
            "resume",
            "--json",
            "-m",
            "gpt-5.5",
            "-c",
            "sandbox_mode=\"read-only\"",
            "-c",
            "model_provider=fake",
            "01a20070-ca9b-7893-9697-da9a35eb433c",
            "--",
            "fix the bug",
        ]
    );
    assert!(!spec.args.contains(&"-C".to_owned()));
    assert!(!spec.args.contains(&"-s".to_owned()));

    inv.session = session("01a20070-ca9b-7893-9697-da9a35eb433c", true);
    let spec = build(&inv);
    assert_eq!(spec.args[5], "fork");

    for bad in ["", "--last"] {
        inv.session = session(bad, false);
        assert!(matches!(
            Codex::default().build_command(&inv),
            Err(BuildError::InvalidInvocation { .. })
        ));
    }
}

#[test]
fn each_level_chooses_its_sandbox_and_nothing_waits_for_a_human() {
    for (level, sandbox) in [
        (PermissionLevel::ReadOnly, "read-only"),
        (PermissionLevel::Edit, "workspace-write"),
        (PermissionLevel::Full, "danger-full-access"),
    ] {
        let mut inv = invocation(&[]);
        inv.policy.level = level;
        let spec = build(&inv);
        assert_eq!(&spec.args[..2], ["-a", "never"]);
        let at = spec.args.iter().position(|a| a == "-s").expect("-s");
        assert_eq!(spec.args[at + 1], sandbox);
        inv.session = session("01a20070-ca9b-7893-9697-da9a35eb433c", false);
        let spec = build(&inv);
        assert!(spec.args.contains(&format!("sandbox_mode=\"{sandbox}\"")));
    }
}

#[test]
fn a_huge_prompt_goes_through_stdin() {
    let mut inv = invocation(&[]);
    inv.prompt = "x".repeat(MAX_PROMPT_ARG + 1);
    let spec = build(&inv);
    assert_eq!(spec.args.last().map(String::as_str), Some("-"));
    assert_eq!(spec.stdin, Stdin::Bytes(inv.prompt.clone().into_bytes()));
}

#[test]
fn bad_options_name_the_key_and_what_is_accepted() {
    let cases: &[Case] = &[
        (
            &[("sandbox", r#""workspace-write""#)],
            "sandbox",
            "permissions: read-only | edit | full",
        ),
        (
            &[("approval", r#""never""#)],
            "approval",
            "approvals: ask | deny",
        ),
        (&[("config", r#"["a=b"]"#)], "config", ""),
        (
            &[("config", r#"{"a=b": "1"}"#)],
            "config",
            "not a config key",
        ),
        (&[("config", r#"{"": "1"}"#)], "config", "not a config key"),
        (&[("config", r#"{"a": null}"#)], "config", "TOML value text"),
        (&[("config", r#"{"a": " "}"#)], "config", "TOML value text"),
        (&[("profile", r#""""#)], "profile", "profile name"),
        (
            &[("skip_git_repo_check", r#""yes""#)],
            "skip_git_repo_check",
            "",
        ),
        (&[("extra_args", "3")], "extra_args", ""),
        (&[("profle", r#""ci""#)], "profle", "profile"),
    ];
    for (options, key, needle) in cases {
        match Codex::default().build_command(&invocation(options)) {
            Err(BuildError::InvalidOption { key: got, message }) => {
                assert_eq!(&got, key, "{options:?}");
                assert!(message.contains(needle), "{options:?}: {message}");
            }
            other => panic!("{options:?}: expected an invalid option, got {other:?}"),
        }
    }
}

#[test]
fn interactive_mode_and_empty_prompts_are_refused() {
    let mut inv = invocation(&[]);
    inv.mode = Mode::Interactive;
    assert_eq!(
        Codex::default().build_command(&inv),
        Err(BuildError::UnsupportedMode {
            mode: Mode::Interactive
        })
    );
    let mut inv = invocation(&[]);
    inv.prompt = " ".to_owned();
    assert!(matches!(
        Codex::default().build_command(&inv),
        Err(BuildError::InvalidInvocation { .. })
    ));
    let mut inv = invocation(&[]);
    inv.working_dir = String::new();
    assert!(matches!(
        Codex::default().build_command(&inv),
        Err(BuildError::InvalidInvocation { .. })
    ));
}

#[test]
fn live_input_is_unsupported_and_says_to_resume() {
    match Codex::default().encode_input("more") {
        Err(AdapterError::Unsupported(message)) => assert!(message.contains("resum"), "{message}"),
        other => panic!("expected unsupported, got {other:?}"),
    }
}

#[test]
fn toml_strings_escape_what_toml_needs() {
    assert_eq!(
        toml_string("a\"b\\c\nd\u{7f}"),
        "\"a\\\"b\\\\c\\nd\\u007F\""
    );
}
