//! End to end through the `codecafe` binary: `plugin list | inspect | add | remove | check`,
//! `--version`, `--help`, with the real built-in plugins and the hostile fixtures.

use std::process::Output;

use codecafe_test_support::{Codecafe, HOSTILE_FIXTURES, fixture_plugin, text};
use serde_json::Value;

/// A private codecafe home, and a temporary folder the commands run in by default.
struct Env {
    cli: Codecafe,
    cwd: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Self {
            cli: Codecafe::new(env!("CARGO_BIN_EXE_codecafe")),
            cwd: tempfile::tempdir().expect("temp cwd"),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cli.run(self.cwd.path(), args)
    }

    fn json(&self, args: &[&str]) -> Value {
        self.cli.json(self.cwd.path(), args)
    }
}

fn row<'a>(list: &'a Value, id: &str, origin: &str) -> &'a Value {
    list.as_array()
        .expect("a list")
        .iter()
        .find(|row| row["id"] == id && row["origin"] == origin)
        .unwrap_or_else(|| panic!("no {origin} plugin {id} in {list:#}"))
}

#[test]
fn version_and_help() {
    let env = Env::new();
    let version = env.run(&["--version"]);
    assert!(version.status.success());
    assert_eq!(
        text(&version.stdout).trim(),
        format!("codecafe {}", env!("CARGO_PKG_VERSION"))
    );
    let help = env.run(&["--help"]);
    assert!(help.status.success());
    assert!(text(&help.stdout).contains("plugin"));
    let usage = env.run(&["plugin", "frobnicate"]);
    assert_eq!(usage.status.code(), Some(2), "bad usage exits 2");
}

#[test]
fn list_shows_the_five_builtins() {
    let env = Env::new();
    let list = env.json(&["plugin", "list", "--json"]);
    for (id, kind) in [
        ("acp", "provider"),
        ("claude-code", "provider"),
        ("codex", "provider"),
        ("command", "provider"),
        ("signals-default", "signal-parser"),
    ] {
        let row = row(&list, id, "built-in");
        assert_eq!(row["kind"], kind, "{row:#}");
        assert_eq!(row["active"], true, "{row:#}");
        assert_eq!(row["version"], env!("CARGO_PKG_VERSION"));
    }
    assert!(
        list.as_array()
            .expect("list")
            .iter()
            .all(|row| row.get("error").is_none()),
        "no built-in is broken: {list:#}"
    );
}

#[test]
fn inspect_a_builtin_and_a_file() {
    let env = Env::new();
    let info = env.json(&["plugin", "inspect", "claude-code", "--json"]);
    assert_eq!(info["world"], "codecafe:provider/provider@0.2.0");
    assert_eq!(info["valid"], true);
    assert!(
        info["exports"]
            .as_array()
            .expect("exports")
            .contains(&Value::from("codecafe:provider/adapter@0.2.0"))
    );
    // What it may make codecafe do.
    assert_eq!(
        info["requirements"]["programs"],
        serde_json::json!(["claude"])
    );
    assert!(
        info["requirements"]["env"]
            .as_array()
            .expect("env")
            .contains(&Value::from("ANTHROPIC_*"))
    );
    assert_eq!(info["needsGrant"], false);
    let human = env.run(&["plugin", "inspect", "codex"]);
    let shown = text(&human.stdout);
    assert!(shown.contains("programs:    codex"), "{shown}");
    assert!(shown.contains("environment: OPENAI_*"), "{shown}");
    assert!(info["size"].as_u64().expect("size") > 0);

    let file = fixture_plugin("wrong-version");
    let output = env.run(&[
        "plugin",
        "inspect",
        file.to_str().expect("utf-8 path"),
        "--json",
    ]);
    assert!(
        !output.status.success(),
        "an unusable plugin inspects with a failure status"
    );
    let info: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(info["valid"], false);
    assert!(info["error"].as_str().expect("error").contains("@0.9.0"));
}

/// A provider of plugin interface 0.1 loads, starts nothing until the user grants it a
/// program, and then runs it.
#[test]
fn an_interface_0_1_provider_runs_only_what_the_user_granted() {
    let env = Env::new();
    let file = fixture_plugin("legacy-v1");
    let path = file.to_str().expect("utf-8 path");
    let added = env.run(&["plugin", "add", path]);
    let shown = text(&added.stdout);
    assert!(added.status.success(), "{shown}{}", text(&added.stderr));
    assert!(
        shown.contains("granted by you: nothing"),
        "add shows it may start nothing: {shown}"
    );
    assert!(
        shown.contains("codecafe plugin grant legacy <program>"),
        "{shown}"
    );

    // Its command is refused where it asks for it, naming the plugin, the program and the fix.
    let refused = env.run(&["plugin", "check", "legacy"]);
    let report = text(&refused.stdout);
    assert_eq!(refused.status.code(), Some(1), "{report}");
    assert!(
        report.contains("plugin `legacy` asked to start `sh`")
            && report.contains("codecafe plugin grant legacy sh"),
        "{report}"
    );

    let granted = env.json(&["plugin", "grant", "legacy", "sh", "--json"]);
    assert_eq!(granted["programs"], serde_json::json!(["sh"]));
    let info = env.json(&["plugin", "inspect", "legacy", "--json"]);
    assert_eq!(info["needsGrant"], true);
    assert_eq!(info["grantedPrograms"], serde_json::json!(["sh"]));
    let checked = env.run(&["plugin", "check", "legacy"]);
    assert!(
        checked.status.success(),
        "granted, it builds its command: {}",
        text(&checked.stdout)
    );

    // A plugin that declares its programs cannot be granted more.
    let refused = env.run(&["plugin", "grant", "claude-code", "sh"]);
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("declares the programs it may start itself"));
}

#[test]
fn check_contains_every_hostile_fixture() {
    let env = Env::new();
    let sample = env.cwd.path().join("sample.txt");
    std::fs::write(&sample, "hello\nattack\nafter\n").expect("sample");
    for fixture in HOSTILE_FIXTURES {
        let path = fixture_plugin(fixture);
        let output = env.run(&[
            "plugin",
            "check",
            path.to_str().expect("utf-8 path"),
            "--sample",
            sample.to_str().expect("utf-8 path"),
        ]);
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert_eq!(output.status.code(), Some(1), "{fixture}: {stdout}{stderr}");
        match *fixture {
            "foreign-import" => assert!(stderr.contains("fixture:evil/net@0.1.0"), "{stderr}"),
            "wrong-version" => assert!(
                stderr.contains("codecafe:provider/adapter@0.9.0"),
                "{stderr}"
            ),
            _ => {
                assert!(stdout.contains("FAIL  parse-output"), "{fixture}: {stdout}");
                assert!(
                    stdout.contains(&format!("plugin `fixture-{fixture}`")),
                    "{stdout}"
                );
                // The call after the attack ran normally.
                assert!(
                    stdout.contains(r#"[{"text":"after","type":"assistant-text"}]"#),
                    "{stdout}"
                );
                assert!(stdout.contains("1 failed"), "{stdout}");
                assert!(!stdout.contains("root:"), "{stdout}");
            }
        }
    }
}

#[test]
fn check_a_builtin_parser_and_provider() {
    let env = Env::new();
    let report = env.json(&["plugin", "check", "signals-default", "--json"]);
    assert_eq!(report["failures"], 0, "{report:#}");
    let report = env.json(&[
        "plugin",
        "check",
        "command",
        "--option",
        r#"command="echo hi""#,
        "--json",
    ]);
    assert_eq!(report["failures"], 0, "{report:#}");
    let build = &report["calls"][1];
    assert_eq!(build["call"], "build-command");
    assert_eq!(
        build["result"]["command"]["args"][1], "echo hi",
        "{report:#}"
    );

    let bad = env.run(&["plugin", "check", "command", "--option", "command=echo"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("not JSON"),
        "{}",
        text(&bad.stderr)
    );
}

/// A two-way transcript (`<< ` the agent, `>> ` the client) replayed through the `acp` plugin
/// as a stage that asks for approvals: the plugin's replies step by step, each approval request
/// answered with `--decide`, the recorded client lines beside them.
#[test]
fn check_replays_a_two_way_transcript_and_answers_approvals() {
    let env = Env::new();
    let recorded = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../plugins/acp/tests/transcripts/claude-agent-acp-0.101.0/allow.jsonl");
    let agent = std::fs::read_to_string(recorded).expect("the recorded transcript");
    let mut sample = String::new();
    for line in agent.lines() {
        sample.push_str(&format!("<< {line}\n"));
        if line.contains("session/request_permission") {
            sample.push_str(">> {\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"outcome\":{\"outcome\":\"selected\",\"optionId\":\"allow-once\"}}}\n");
        }
    }
    let file = env.cwd.path().join("two-way.jsonl");
    std::fs::write(&file, sample).expect("sample written");
    let report = env.json(&[
        "plugin",
        "check",
        "acp",
        "--option",
        r#"command=["claude-agent-acp"]"#,
        "--decide",
        "allow",
        "--sample",
        file.to_str().expect("utf-8 path"),
        "--json",
    ]);
    assert_eq!(report["failures"], 0, "{report:#}");
    let calls = report["calls"].as_array().expect("calls");
    let answered: Vec<&Value> = calls
        .iter()
        .filter(|c| c["call"] == "encode-approval")
        .collect();
    assert_eq!(answered.len(), 1, "{report:#}");
    let reply = answered[0]["result"]["reply"].as_str().expect("a reply");
    assert!(reply.contains("\"optionId\":\"allow-once\""), "{reply}");
    let position = |call: &str| calls.iter().position(|c| c["call"] == call);
    assert_eq!(
        position("encode-approval").map(|p| p + 1),
        position("recorded-reply"),
        "the recorded client line follows the plugin's own answer: {report:#}"
    );
    // The plugin's replies along the way: session/new after initialize, the prompt after it.
    let replies: Vec<String> = calls
        .iter()
        .filter_map(|c| c["result"]["replies"].as_array())
        .flatten()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    assert!(replies[0].contains("session/new"), "{replies:?}");
    assert!(replies[1].contains("session/prompt"), "{replies:?}");
}

#[test]
fn add_override_and_remove() {
    let env = Env::new();
    // A user plugin with the id of a built-in overrides it.
    let command = codecafe_builtins::BUILTINS
        .iter()
        .find(|b| b.id == "command")
        .expect("built-in command");
    let file = env.cwd.path().join("my-command.wasm");
    std::fs::write(&file, command.bytes).expect("write");
    let added = env.run(&["plugin", "add", file.to_str().expect("utf-8 path")]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    assert!(text(&added.stdout).contains("overrides the built-in"));
    assert!(env.cli.home().join("plugins/command.wasm").is_file());

    let list = env.json(&["plugin", "list", "--json"]);
    assert_eq!(row(&list, "command", "built-in")["active"], false);
    assert_eq!(row(&list, "command", "built-in")["overriddenBy"], "user");
    assert_eq!(row(&list, "command", "user")["active"], true);
    assert_eq!(row(&list, "command", "user")["overrides"], "built-in");
    let table = text(&env.run(&["plugin", "list"]).stdout);
    assert!(table.contains("overridden by the user plugin"), "{table}");

    let removed = env.run(&["plugin", "remove", "command"]);
    assert!(removed.status.success(), "{}", text(&removed.stderr));
    let list = env.json(&["plugin", "list", "--json"]);
    assert_eq!(row(&list, "command", "built-in")["active"], true);

    let builtin = env.run(&["plugin", "remove", "codex"]);
    assert_eq!(builtin.status.code(), Some(1));
    assert!(
        text(&builtin.stderr).contains("built in"),
        "{}",
        text(&builtin.stderr)
    );
    let missing = env.run(&["plugin", "remove", "nope"]);
    assert!(text(&missing.stderr).contains("no plugin `nope`"));
}

#[test]
fn add_refuses_a_bad_plugin_and_writes_nothing() {
    let env = Env::new();
    for fixture in ["wrong-version", "foreign-import"] {
        let path = fixture_plugin(fixture);
        let output = env.run(&["plugin", "add", path.to_str().expect("utf-8 path")]);
        assert_eq!(output.status.code(), Some(1));
        let stderr = text(&output.stderr);
        assert!(stderr.contains("was not added"), "{stderr}");
    }
    assert!(
        !env.cli.home().join("plugins").exists()
            || std::fs::read_dir(env.cli.home().join("plugins"))
                .expect("dir")
                .next()
                .is_none()
    );
}

#[test]
fn repository_plugins_are_discovered_last() {
    let env = Env::new();
    let repo = env.cwd.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).expect("a .git dir marks the repository");
    let plugins = repo.join(".orch/plugins");
    std::fs::create_dir_all(&plugins).expect("plugins dir");
    std::fs::copy(fixture_plugin("sleeper"), plugins.join("sleeper.wasm")).expect("copy");
    std::fs::create_dir_all(repo.join("src/deep")).expect("subdir");

    let output = env
        .cli
        .run(&repo.join("src/deep"), &["plugin", "list", "--json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let list: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let row = row(&list, "fixture-sleeper", "repository");
    assert_eq!(row["active"], true);
    assert!(
        row["path"]
            .as_str()
            .expect("path")
            .ends_with(".orch/plugins/sleeper.wasm")
    );
}
