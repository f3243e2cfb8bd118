//! One key casing: every `--json` output of the CLI — every command that has one, and the
//! NDJSON events of runs (agent events and usage nested in them included) — has camelCase keys
//! at every level. (Every JSON any e2e test prints is checked the same way by
//! `Codecafe::run`; this test makes sure each command is covered.)

use codecafe_test_support::casing::non_camel_keys;
use codecafe_test_support::{Codecafe, init_repo_with, text};
use serde_json::Value;

const ASK: &str = "name: ask\nworkflow:\n  stages: [ask, write]\nask:\n  provider: command\n  command: \"cat > /dev/null; printf '%s\\\\n' 'which?' '```yaml' 'signals:' '  nextAction: await_user' '  questions: [Which?]' '```'\"\nwrite:\n  provider: command\n  command: \"cat > /dev/null; echo hi > hi.txt; echo wrote\"\n  depends_on: [ask]\n";

/// Every JSON document `args` printed (whole, or NDJSON lines).
fn documents(cli: &Codecafe, cwd: &std::path::Path, args: &[&str]) -> Vec<Value> {
    let out = cli.command(cwd, args).output().expect("codecafe");
    let stdout = text(&out.stdout);
    let docs: Vec<Value> = match serde_json::from_str(&stdout) {
        Ok(value) => vec![value],
        Err(_) => stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{args:?}: {e}: {l}")))
            .collect(),
    };
    assert!(
        !docs.is_empty(),
        "{args:?} printed no JSON: {stdout}{}",
        text(&out.stderr)
    );
    docs
}

#[test]
fn every_json_the_cli_prints_has_camel_case_keys_at_every_level() {
    let work = tempfile::tempdir().expect("dir");
    let repo = init_repo_with(
        &work.path().join("shop"),
        "main",
        &[
            ("app.txt", "one\n"),
            (".orch/workflows/ask.workflow.yml", ASK),
        ],
    );
    let cli = Codecafe::new(env!("CARGO_BIN_EXE_codecafe")).non_interactive();
    cli.ok(&repo, &["init"]);
    let demo = work.path().join("demo");
    let demo_str = demo.display().to_string();

    let mut checked: Vec<(Vec<String>, Value)> = Vec::new();
    let mut check = |cwd: &std::path::Path, args: &[&str]| {
        for doc in documents(&cli, cwd, args) {
            checked.push((args.iter().map(|a| (*a).to_owned()).collect(), doc));
        }
    };
    check(&repo, &["demo", "--dir", &demo_str, "--json"]);
    check(&repo, &["run", "--recipe", "ask", "--json", "a task"]);
    check(
        &repo,
        &["run", "--recipe", "ask", "--dry-run", "--json", "a task"],
    );
    let list = cli.json(&repo, &["order", "list", "--all", "--json"]);
    let ask = list
        .as_array()
        .and_then(|l| l.iter().find(|o| o["recipeId"] == "ask"))
        .and_then(|o| o["id"].as_str())
        .expect("the ask order")
        .to_owned();
    let demo_id = list
        .as_array()
        .and_then(|l| l.iter().find(|o| o["recipeId"] == "demo"))
        .and_then(|o| o["id"].as_str())
        .expect("the demo order")
        .to_owned();
    check(&repo, &["order", "input", &ask, "that one", "--json"]);
    check(&demo, &["order", "followup", &demo_id, "again", "--json"]);
    for args in [
        vec!["order", "list", "--all", "--json"],
        vec!["order", "show", &ask, "--json"],
        vec!["order", "logs", &ask, "--json"],
        vec!["order", "new", "--recipe", "ask", "--prompt", "p", "--json"],
        vec!["status", "--json"],
        vec!["config", "list", "--json"],
        vec!["cafe", "list", "--json"],
        vec!["cafe", "show", &repo.display().to_string(), "--json"],
        vec!["recipe", "list", "--json"],
        vec!["recipe", "show", "moon", "--json"],
        vec!["recipe", "show", "ask", "--json"],
        vec!["recipe", "validate", "ask", "--json"],
        vec!["skill", "list", "--json"],
        vec!["skill", "show", "classify-task", "--json"],
        vec!["role", "list", "--json"],
        vec!["role", "show", "coder", "--json"],
        vec!["profile", "list", "--json"],
        vec!["plugin", "list", "--json"],
        vec!["plugin", "inspect", "claude-code", "--json"],
        vec!["plugin", "check", "claude-code", "--json"],
        vec!["plugin", "check", "signals-default", "--json"],
        vec!["trust", "--status", "--json"],
        vec!["trust", "--list", "--json"],
        vec!["doctor", "--all", "--json"],
    ]
    .iter()
    .map(|args| args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        check(&repo, &args);
    }
    let mut bad = Vec::new();
    let mut keys = 0usize;
    for (args, doc) in &checked {
        keys += count_keys(doc);
        for key in non_camel_keys(doc) {
            bad.push(format!("{}: {key}", args.join(" ")));
        }
    }
    assert!(bad.is_empty(), "keys not in camelCase:\n{}", bad.join("\n"));
    assert!(keys > 500, "only {keys} keys were checked");
    // Every event line carries the event format's version.
    let events: Vec<&Value> = checked
        .iter()
        .filter(|(args, _)| args.iter().any(|a| a == "logs"))
        .map(|(_, doc)| doc)
        .collect();
    assert!(events.len() > 5);
    assert!(events.iter().all(|e| e["v"] == 1), "{events:?}");
}

fn count_keys(value: &Value) -> usize {
    match value {
        Value::Object(map) => map.len() + map.values().map(count_keys).sum::<usize>(),
        Value::Array(items) => items.iter().map(count_keys).sum(),
        _ => 0,
    }
}
