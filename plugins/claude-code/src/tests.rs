//! Unit tests of the command builder, input encoding and approvals.

use super::*;
use codecafe_sdk::testing::invocation;
use codecafe_sdk::{AgentEvent, SessionRef};

/// Stage options, the key the error must name, and a text its message must contain.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

fn build(invocation: &Invocation) -> CommandSpec {
    match ClaudeCode::default().build_command(invocation) {
        Ok(spec) => spec,
        Err(err) => panic!("expected a command, got {err}"),
    }
}

fn option_error(options: &[(&str, &str)], mode: Mode) -> (String, String) {
    let mut invocation = invocation(options);
    invocation.mode = mode;
    match ClaudeCode::default().build_command(&invocation) {
        Err(BuildError::InvalidOption { key, message }) => (key, message),
        other => panic!("{options:?}: expected an invalid option, got {other:?}"),
    }
}

/// An invocation with `options` at permission `level` (approvals denied, no sandbox).
fn at_level(options: &[(&str, &str)], level: PermissionLevel) -> Invocation {
    let mut inv = invocation(options);
    inv.policy.level = level;
    inv
}

/// An invocation whose policy sends requests beyond its level to a human.
fn asking(options: &[(&str, &str)]) -> Invocation {
    let mut inv = invocation(options);
    inv.policy.approvals = ApprovalPolicy::Ask;
    inv
}

/// The values following `flag` in `args`, up to the next flag.
fn values_of<'a>(args: &'a [String], flag: &str) -> Vec<&'a str> {
    let Some(at) = args.iter().position(|arg| arg == flag) else {
        return Vec::new();
    };
    args[at + 1..]
        .iter()
        .take_while(|arg| !arg.starts_with("--"))
        .map(String::as_str)
        .collect()
}

/// The value following `flag` in `args`.
fn value_of<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let at = args.iter().position(|arg| arg == flag)?;
    args.get(at + 1).map(String::as_str)
}

#[test]
fn info_declares_modes_and_capabilities() {
    let info = ClaudeCode::default().info();
    assert_eq!(info.id, "claude-code");
    assert_eq!(info.modes, [Mode::Headless, Mode::Interactive]);
    let c = info.capabilities;
    assert!(
        c.resume && c.fork && c.live_input && c.approvals && c.usage && c.cost && c.screen_check
    );
}

#[test]
fn headless_puts_the_prompt_on_stdin_only() {
    let mut inv = invocation(&[]);
    inv.prompt = "--help me: a prompt that looks like a flag".to_owned();
    let spec = build(&inv);
    assert_eq!(spec.program, "claude");
    assert_eq!(
        spec.args[..4],
        ["-p", "--output-format", "stream-json", "--verbose"]
    );
    assert_eq!(spec.stdin, Stdin::Bytes(inv.prompt.clone().into_bytes()));
    assert_eq!(spec.io, Io::Pipes);
    assert!(spec.env.is_empty());
    assert!(!spec.args.iter().any(|arg| arg.contains("help me")));
}

#[test]
fn model_system_prompt_and_session_flags() {
    let mut inv = invocation(&[]);
    inv.model = Some("sonnet".to_owned());
    inv.system_prompt = Some("-Follow the house rules.".to_owned());
    inv.session = Some(SessionRef {
        id: "a11c48d1-6ff0-479b-8aa4-433a3048ddfa".to_owned(),
        fork: false,
    });
    let spec = build(&inv);
    assert_eq!(value_of(&spec.args, "--model"), Some("sonnet"));
    // A value starting with `-` is glued to its flag so it cannot read as an option.
    assert!(
        spec.args
            .contains(&"--append-system-prompt=-Follow the house rules.".to_owned())
    );
    assert_eq!(
        value_of(&spec.args, "--resume"),
        Some("a11c48d1-6ff0-479b-8aa4-433a3048ddfa")
    );
    assert!(!spec.args.contains(&"--fork-session".to_owned()));

    inv.session = Some(SessionRef {
        id: "a11c48d1-6ff0-479b-8aa4-433a3048ddfa".to_owned(),
        fork: true,
    });
    let spec = build(&inv);
    assert!(spec.args.contains(&"--fork-session".to_owned()));

    inv.session = Some(SessionRef {
        id: " ".to_owned(),
        fork: false,
    });
    assert!(matches!(
        ClaudeCode::default().build_command(&inv),
        Err(BuildError::InvalidInvocation { .. })
    ));
}

#[test]
fn every_option_becomes_its_flag() {
    let spec = build(&at_level(
        &[
            ("allowed_tools", r#"["Bash(git *)", "Edit"]"#),
            ("disallowed_tools", r#""WebFetch""#),
            ("max_turns", "12"),
            ("max_budget_usd", "2.5"),
            ("fallback_model", r#""haiku""#),
            ("include_partial_messages", "true"),
            ("settings", r#"{"env": {"A": "1"}}"#),
            ("mcp_config", r#""/etc/mcp.json""#),
            ("add_dirs", r#"["/data", "/docs"]"#),
            ("extra_args", r#"["--betas", "x"]"#),
        ],
        PermissionLevel::Edit,
    ));
    let args = &spec.args;
    assert_eq!(value_of(args, "--permission-mode"), Some("acceptEdits"));
    let at = args
        .iter()
        .position(|a| a == "--allowedTools")
        .expect("allowed tools");
    assert_eq!(&args[at + 1..at + 3], ["Bash(git *)", "Edit"]);
    assert_eq!(value_of(args, "--disallowedTools"), Some("WebFetch"));
    assert_eq!(value_of(args, "--max-turns"), Some("12"));
    assert_eq!(value_of(args, "--max-budget-usd"), Some("2.5"));
    assert_eq!(value_of(args, "--fallback-model"), Some("haiku"));
    assert!(args.contains(&"--include-partial-messages".to_owned()));
    assert_eq!(value_of(args, "--settings"), Some(r#"{"env":{"A":"1"}}"#));
    assert_eq!(value_of(args, "--mcp-config"), Some("/etc/mcp.json"));
    let at = args
        .iter()
        .position(|a| a == "--add-dir")
        .expect("add dirs");
    assert_eq!(&args[at + 1..at + 3], ["/data", "/docs"]);
    assert_eq!(&args[args.len() - 2..], ["--betas", "x"]);
    assert!(spec.env.is_empty());
}

#[test]
fn read_only_allows_reading_tools_and_commands_only() {
    let mut inv = invocation(&[("allowed_tools", r#"["WebSearch"]"#)]);
    inv.policy.allowed_commands = vec!["cargo metadata".to_owned()];
    let spec = build(&inv);
    assert_eq!(value_of(&spec.args, "--permission-mode"), Some("default"));
    let allowed = values_of(&spec.args, "--allowedTools");
    assert_eq!(allowed[0], "WebSearch");
    for tool in [
        "Read",
        "Grep",
        "Glob",
        "Bash(git diff:*)",
        "Bash(cargo metadata:*)",
    ] {
        assert!(allowed.contains(&tool), "{tool} in {allowed:?}");
    }
    for tool in ["Write", "Edit", "Bash(find:*)", "Bash(rg:*)"] {
        assert!(!allowed.contains(&tool), "{tool} in {allowed:?}");
    }
    assert!(value_of(&spec.args, "--settings").is_none());
    assert!(spec.env.is_empty());
}

#[test]
fn edit_accepts_edits_and_confines_commands_to_the_sandbox() {
    let mut inv = at_level(&[], PermissionLevel::Edit);
    inv.policy.sandbox_available = true;
    inv.policy.allowed_commands = vec!["cargo test".to_owned()];
    let spec = build(&inv);
    assert_eq!(
        value_of(&spec.args, "--permission-mode"),
        Some("acceptEdits")
    );
    let settings: Value =
        serde_json::from_str(value_of(&spec.args, "--settings").expect("settings")).expect("json");
    assert_eq!(settings["sandbox"]["enabled"], true);
    assert_eq!(settings["sandbox"]["allowUnsandboxedCommands"], false);
    // In the sandbox every command is confined; no allow-list is needed.
    assert!(values_of(&spec.args, "--allowedTools").is_empty());

    // The user's own settings are kept, the sandbox added.
    inv = inv.with_option("settings", r#"{"env": {"A": "1"}}"#);
    let spec = build(&inv);
    let settings: Value =
        serde_json::from_str(value_of(&spec.args, "--settings").expect("settings")).expect("json");
    assert_eq!(settings["env"]["A"], "1");
    assert_eq!(settings["sandbox"]["enabled"], true);
}

#[test]
fn edit_without_a_sandbox_runs_only_the_allowed_commands() {
    let mut inv = at_level(&[], PermissionLevel::Edit);
    inv.policy.allowed_commands = vec!["cargo test".to_owned(), " npm test ".to_owned()];
    let spec = build(&inv);
    assert_eq!(
        value_of(&spec.args, "--permission-mode"),
        Some("acceptEdits")
    );
    assert!(value_of(&spec.args, "--settings").is_none());
    assert_eq!(
        values_of(&spec.args, "--allowedTools"),
        ["Bash(cargo test:*)", "Bash(npm test:*)"]
    );
}

#[test]
fn full_bypasses_permissions_and_marks_the_sandbox() {
    let spec = build(&at_level(&[], PermissionLevel::Full));
    assert_eq!(
        value_of(&spec.args, "--permission-mode"),
        Some("bypassPermissions")
    );
    assert_eq!(spec.env, [("IS_SANDBOX".to_owned(), "1".to_owned())]);
}

#[test]
fn bad_options_name_the_key_and_what_is_accepted() {
    let cases: &[Case] = &[
        (
            &[("permission_mode", r#""acceptEdits""#)],
            "permission_mode",
            "permissions: read-only | edit | full",
        ),
        (
            &[("approvals", r#""stdio""#)],
            "approvals",
            "approvals: ask | deny",
        ),
        (&[("max_turns", "0")], "max_turns", "1 or more"),
        (&[("max_turns", "2.5")], "max_turns", "whole number"),
        (&[("max_budget_usd", "-1")], "max_budget_usd", "positive"),
        (
            &[("max_budget_usd", r#""lots""#)],
            "max_budget_usd",
            "positive",
        ),
        (&[("allowed_tools", "[1]")], "allowed_tools", ""),
        (
            &[("allowed_tools", r#"["Edit", ""]"#)],
            "allowed_tools",
            "empty",
        ),
        (&[("fallback_model", r#""""#)], "fallback_model", "empty"),
        (
            &[("include_partial_messages", r#""yes""#)],
            "include_partial_messages",
            "",
        ),
        (&[("settings", "[1]")], "settings", "JSON"),
        (&[("extra_args", r#""--x""#)], "extra_args", ""),
        (&[("max_turn", "3")], "max_turn", "max_turns"),
    ];
    for (options, key, needle) in cases {
        let (got, message) = option_error(options, Mode::Headless);
        assert_eq!(&got, key, "{options:?}");
        assert!(message.contains(needle), "{options:?}: {message}");
    }
}

#[test]
fn headless_only_options_are_rejected_in_interactive_mode() {
    for key in [
        "max_turns",
        "max_budget_usd",
        "fallback_model",
        "include_partial_messages",
    ] {
        let value = match key {
            "fallback_model" => r#""haiku""#,
            "include_partial_messages" => "true",
            _ => "1",
        };
        let (got, message) = option_error(&[(key, value)], Mode::Interactive);
        assert_eq!(got, key);
        assert!(message.contains("headless"), "{message}");
    }
}

#[test]
fn an_empty_headless_prompt_is_refused() {
    let mut inv = invocation(&[]);
    inv.prompt = "  ".to_owned();
    assert!(matches!(
        ClaudeCode::default().build_command(&inv),
        Err(BuildError::InvalidInvocation { .. })
    ));
}

const NEW_ID: &str = "0b6f4c1e-8f1a-4d2c-9a57-3f1f6d2a9e10";

#[test]
fn interactive_runs_the_tui_and_types_the_prompt() {
    let mut inv = at_level(&[("allowed_tools", r#"["Edit"]"#)], PermissionLevel::Edit);
    inv.mode = Mode::Interactive;
    inv.prompt = "-starts with a dash".to_owned();
    inv.model = Some("opus".to_owned());
    inv.session_id = NEW_ID.to_owned();
    let mut claude = ClaudeCode::default();
    let spec = claude.build_command(&inv).expect("builds");
    assert_eq!(spec.program, "claude");
    assert_eq!(spec.io, Io::Pty);
    assert!(!spec.args.contains(&"-p".to_owned()));
    // No prompt argument: the host types it once the TUI is idle.
    assert!(
        !spec
            .args
            .iter()
            .any(|a| a == "--" || a.contains("starts with"))
    );
    assert_eq!(value_of(&spec.args, "--model"), Some("opus"));
    assert_eq!(
        value_of(&spec.args, "--permission-mode"),
        Some("acceptEdits")
    );
    assert_eq!(value_of(&spec.args, "--session-id"), Some(NEW_ID));
    assert!(!spec.args.contains(&"--resume".to_owned()));
    assert_eq!(
        spec.transcript,
        [
            format!("$CLAUDE_CONFIG_DIR/projects/*/{NEW_ID}.jsonl"),
            format!("~/.claude/projects/*/{NEW_ID}.jsonl"),
        ]
    );
    assert_eq!(claude.encode_input("yes").expect("types"), b"yes\r");
}

#[test]
fn interactive_resume_and_fork() {
    let mut inv = invocation(&[]);
    inv.mode = Mode::Interactive;
    inv.session_id = NEW_ID.to_owned();
    inv.session = Some(SessionRef {
        id: "old-session".to_owned(),
        fork: false,
    });
    let spec = ClaudeCode::default().build_command(&inv).expect("builds");
    assert_eq!(value_of(&spec.args, "--resume"), Some("old-session"));
    assert!(!spec.args.contains(&"--session-id".to_owned()));
    assert!(!spec.args.contains(&"--fork-session".to_owned()));
    // A plain resume appends to the resumed session's file.
    assert_eq!(
        spec.transcript[0],
        "$CLAUDE_CONFIG_DIR/projects/*/old-session.jsonl"
    );

    // A fork gets the new id up front (2.1.332 accepts --session-id with --fork-session).
    inv.session = Some(SessionRef {
        id: "old-session".to_owned(),
        fork: true,
    });
    let spec = ClaudeCode::default().build_command(&inv).expect("builds");
    assert_eq!(value_of(&spec.args, "--resume"), Some("old-session"));
    assert!(spec.args.contains(&"--fork-session".to_owned()));
    assert_eq!(value_of(&spec.args, "--session-id"), Some(NEW_ID));
    assert_eq!(
        spec.transcript[1],
        format!("~/.claude/projects/*/{NEW_ID}.jsonl")
    );

    // Without the host's id a fork's file is unknown.
    inv.session_id = String::new();
    let spec = ClaudeCode::default().build_command(&inv).expect("builds");
    assert!(!spec.args.contains(&"--session-id".to_owned()));
    assert!(spec.transcript.is_empty());
}

#[test]
fn headless_input_goes_through_resume() {
    let mut claude = ClaudeCode::default();
    claude.build_command(&invocation(&[])).expect("builds");
    match claude.encode_input("more") {
        Err(AdapterError::Unsupported(message)) => assert!(message.contains("resum"), "{message}"),
        other => panic!("expected unsupported, got {other:?}"),
    }
    assert!(matches!(
        claude.encode_approval("r1", ApprovalDecision::Allow, None),
        Err(AdapterError::Unsupported(_))
    ));
}

#[test]
fn stdio_approvals_stream_the_prompt_and_keep_stdin_open() {
    let mut claude = ClaudeCode::default();
    let spec = claude.build_command(&asking(&[])).expect("builds");
    assert_eq!(value_of(&spec.args, "--input-format"), Some("stream-json"));
    assert_eq!(
        value_of(&spec.args, "--permission-prompt-tool"),
        Some("stdio")
    );
    let Stdin::KeepOpen(bytes) = &spec.stdin else {
        panic!("stdin must stay open, got {:?}", spec.stdin);
    };
    assert_eq!(bytes.last(), Some(&b'\n'));
    let message: Value = serde_json::from_slice(bytes).expect("a JSON line");
    assert_eq!(message["type"], "user");
    assert_eq!(message["message"]["role"], "user");
    assert_eq!(message["message"]["content"][0]["text"], "fix the bug");
    assert_eq!(message["parent_tool_use_id"], Value::Null);

    let more: Value =
        serde_json::from_slice(&claude.encode_input("and the tests").expect("encodes"))
            .expect("json");
    assert_eq!(more["message"]["content"][0]["text"], "and the tests");
}

#[test]
fn approval_requests_are_answered_with_control_responses() {
    let mut claude = ClaudeCode::default();
    claude.build_command(&asking(&[])).expect("builds");
    let request = r#"{"type":"control_request","request_id":"req-1","request":{"subtype":"can_use_tool","tool_name":"Write","display_name":"Write","input":{"file_path":"/w/a.txt","content":"hi"},"tool_use_id":"toolu_1","description":"Write a.txt","permission_suggestions":[{"type":"setMode","mode":"acceptEdits","destination":"session"}]}}"#;
    let batch = claude.parse_output(Stream::Stdout, request);
    assert_eq!(
        batch.events,
        [AgentEvent::ApprovalRequest(codecafe_sdk::ApprovalRequest {
            id: "req-1".to_owned(),
            tool: "Write".to_owned(),
            input: r#"{"content":"hi","file_path":"/w/a.txt"}"#.to_owned(),
            description: "Write a.txt".to_owned(),
            rule: None,
        })]
    );
    let bytes = claude
        .encode_approval("req-1", ApprovalDecision::AllowAlways, None)
        .expect("encodes");
    assert_eq!(bytes.last(), Some(&b'\n'));
    let reply: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(reply["type"], "control_response");
    assert_eq!(reply["response"]["subtype"], "success");
    assert_eq!(reply["response"]["request_id"], "req-1");
    let decision = &reply["response"]["response"];
    assert_eq!(decision["behavior"], "allow");
    assert_eq!(decision["updatedInput"]["file_path"], "/w/a.txt");
    assert_eq!(decision["updatedPermissions"][0]["mode"], "acceptEdits");
    assert_eq!(decision["toolUseID"], "toolu_1");
    // Answered once only.
    assert!(matches!(
        claude.encode_approval("req-1", ApprovalDecision::Allow, None),
        Err(AdapterError::InvalidInput(_))
    ));

    claude.parse_output(Stream::Stdout, &request.replace("req-1", "req-2"));
    let reply: Value = serde_json::from_slice(
        &claude
            .encode_approval("req-2", ApprovalDecision::Deny, None)
            .expect("encodes"),
    )
    .expect("json");
    let decision = &reply["response"]["response"];
    assert_eq!(decision["behavior"], "deny");
    assert!(decision["message"].as_str().is_some_and(|m| !m.is_empty()));

    claude.parse_output(Stream::Stdout, &request.replace("req-1", "req-3"));
    let reply: Value = serde_json::from_slice(
        &claude
            .encode_approval("req-3", ApprovalDecision::Allow, None)
            .expect("encodes"),
    )
    .expect("json");
    assert!(
        reply["response"]["response"]
            .get("updatedPermissions")
            .is_none()
    );
}

#[test]
fn withdrawn_approval_requests_cannot_be_answered() {
    let mut claude = ClaudeCode::default();
    claude.build_command(&asking(&[])).expect("builds");
    claude.parse_output(
        Stream::Stdout,
        r#"{"type":"control_request","request_id":"r9","request":{"subtype":"can_use_tool","tool_name":"Bash","input":{"command":"ls"},"tool_use_id":"t9"}}"#,
    );
    let batch = claude.parse_output(
        Stream::Stdout,
        r#"{"type":"control_cancel_request","request_id":"r9"}"#,
    );
    assert!(
        matches!(&batch.events[0], AgentEvent::Other { kind, .. } if kind == "approval-withdrawn")
    );
    assert!(
        claude
            .encode_approval("r9", ApprovalDecision::Allow, None)
            .is_err()
    );
}

#[test]
fn streamed_input_is_closed_after_the_result_only() {
    let result = r#"{"type":"result","subtype":"success","is_error":false,"result":"done","session_id":"s-1","usage":{"input_tokens":1,"output_tokens":2},"total_cost_usd":0.01}"#;
    let text = r#"{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"working"}]},"session_id":"s-1"}"#;
    let mut streamed = ClaudeCode::default();
    streamed.build_command(&asking(&[])).expect("builds");
    assert!(!streamed.parse_output(Stream::Stdout, text).close_input);
    assert!(streamed.parse_output(Stream::Stdout, result).close_input);

    let mut closed = ClaudeCode::default();
    closed.build_command(&invocation(&[])).expect("builds");
    assert!(!closed.parse_output(Stream::Stdout, result).close_input);
}

#[test]
fn a_deferred_call_ends_the_turn_and_is_no_denial() {
    let mut claude = ClaudeCode::default();
    claude.build_command(&asking(&[])).expect("builds");
    let request = r#"{"type":"control_request","request_id":"req-9","request":{"subtype":"can_use_tool","tool_name":"Bash","input":{"command":"cargo test --all"},"tool_use_id":"toolu_9","permission_suggestions":[{"type":"addRules","rules":[{"toolName":"Bash","ruleContent":"cargo test:*"}],"behavior":"allow","destination":"localSettings"}]}}"#;
    let batch = claude.parse_output(Stream::Stdout, request);
    let [AgentEvent::ApprovalRequest(asked)] = batch.events.as_slice() else {
        panic!("one approval request: {:?}", batch.events);
    };
    assert_eq!(asked.rule.as_deref(), Some("Bash(cargo test:*)"));
    let reply: Value = serde_json::from_slice(
        &claude
            .encode_approval("req-9", ApprovalDecision::Defer, None)
            .expect("encodes"),
    )
    .expect("json");
    let decision = &reply["response"]["response"];
    assert_eq!(decision["behavior"], "deny");
    assert_eq!(decision["interrupt"], true);
    // Claude Code then lists the call among its denials: a decision, not a refusal.
    let denied = r#"{"type":"system","subtype":"permission_denied","tool_name":"Bash","tool_use_id":"toolu_9","message":"waits"}"#;
    let result = r#"{"type":"result","subtype":"error_during_execution","is_error":true,"session_id":"s1","permission_denials":[{"tool_name":"Bash","tool_use_id":"toolu_9","tool_input":{"command":"cargo test --all"}}]}"#;
    for line in [denied, result] {
        let batch = claude.parse_output(Stream::Stdout, line);
        assert!(
            !batch
                .events
                .iter()
                .any(|e| matches!(e, AgentEvent::ToolDenied(_))),
            "{line}: {:?}",
            batch.events
        );
    }
}
