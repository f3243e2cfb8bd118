//! End to end through the `codecafe` binary: `recipe list | show | new | validate | rm`,
//! `assign` and `profile list | show | use | rm`, on temporary git repositories; and the corpus
//! of malformed recipes in `tests/fixtures/recipes/bad/`, each reported at its exact line and
//! column.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Output;

use codecafe_test_support::{Codecafe, git, text, workspace_root};
use serde_json::Value;

/// A private codecafe home and a git repository to run in.
struct Env {
    cli: Codecafe,
    repo: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let repo = tempfile::tempdir().expect("temp repo");
        git(repo.path(), &["init", "-q"]);
        Self {
            cli: Codecafe::new(env!("CARGO_BIN_EXE_codecafe")),
            repo,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cli.run(self.repo.path(), args)
    }

    /// Runs a command that must succeed.
    fn ok(&self, args: &[&str]) -> String {
        self.cli.ok(self.repo.path(), args)
    }

    /// Runs a command that must fail with status 1; returns stdout and stderr.
    fn fails(&self, args: &[&str]) -> (String, String) {
        self.cli.failure(self.repo.path(), args)
    }

    fn json(&self, args: &[&str]) -> Value {
        self.cli.json(self.repo.path(), args)
    }

    fn recipe_file(&self, id: &str) -> PathBuf {
        self.repo
            .path()
            .join(".orch/workflows")
            .join(format!("{id}.workflow.yml"))
    }
}

fn fixtures(kind: &str) -> PathBuf {
    workspace_root().join("tests/fixtures/recipes").join(kind)
}

fn fixture_files(kind: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures(kind))
        .expect("fixtures folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".workflow.yml"))
        .collect();
    files.sort();
    files
}

fn stage<'a>(recipe: &'a Value, id: &str) -> &'a Value {
    recipe["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no stage {id} in {recipe:#}"))
}

fn row<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .expect("a list")
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {list:#}"))
}

#[derive(serde::Deserialize)]
struct Expected {
    at: String,
    message: String,
    hint: String,
}

#[test]
fn every_malformed_recipe_is_reported_at_its_line_and_column() {
    let env = Env::new();
    let expected: BTreeMap<String, Expected> = serde_json::from_str(
        &std::fs::read_to_string(fixtures("bad").join("expected.json")).expect("expected.json"),
    )
    .expect("expected.json parses");
    let files = fixture_files("bad");
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        expected.keys().cloned().collect::<Vec<_>>(),
        "every fixture has an expectation and every expectation a fixture"
    );
    assert!(files.len() >= 12);

    let mut args = vec!["recipe", "validate", "--json"];
    let paths: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    let output = env.run(&args);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let rows: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let rows = rows.as_array().expect("one row per file");
    assert_eq!(rows.len(), files.len());
    for (file, row) in files.iter().zip(rows) {
        let name = file.file_name().expect("name").to_string_lossy();
        let want = &expected[name.as_ref()];
        assert_eq!(row["valid"], false, "{name}");
        let problems = row["problems"].as_array().expect("problems");
        assert_eq!(
            problems.len(),
            1,
            "{name}: one mistake, one problem: {row:#}"
        );
        let problem = &problems[0];
        assert_eq!(
            problem["file"].as_str(),
            Some(file.to_str().expect("utf-8")),
            "{name}"
        );
        let at = format!("{}:{}", problem["line"], problem["column"]);
        assert_eq!(at, want.at, "{name}: {problem:#}");
        let message = problem["message"].as_str().expect("message");
        assert!(message.contains(&want.message), "{name}: {message}");
        let hint = problem["hint"].as_str().expect("a hint");
        assert!(hint.contains(&want.hint), "{name}: {hint}");
    }

    // The text form says the same, as `file:line:column: message` and a hint line.
    let output = env.run(
        &args[..2]
            .iter()
            .copied()
            .chain(paths.iter().map(String::as_str))
            .collect::<Vec<_>>(),
    );
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    for (file, name) in files.iter().zip(&names) {
        let want = &expected[name];
        let line = format!("{}:{}: ", file.display(), want.at);
        let found = stdout
            .lines()
            .find(|l| l.starts_with(&line))
            .unwrap_or_else(|| panic!("no line starting {line} in {stdout}"));
        assert!(found.contains(&want.message), "{found}");
    }
    assert!(
        stdout.contains("\n  hint: did you mean `provider`?"),
        "{stdout}"
    );
    assert!(
        text(&output.stderr).contains(&format!("{0} of {0} recipes have problems", files.len())),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn good_recipes_validate_including_the_seed_verbatim() {
    let env = Env::new();
    let files = fixture_files("good");
    assert!(files.iter().any(|f| f.ends_with("seed.workflow.yml")));
    let mut args = vec!["recipe".to_owned(), "validate".to_owned()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let stdout = env.ok(&args);
    for file in &files {
        assert!(
            stdout.contains(&format!("ok: {}", file.display())),
            "{stdout}"
        );
    }
}

#[test]
fn list_show_new_validate_rm() {
    let env = Env::new();
    let list = env.json(&["recipe", "list", "--json"]);
    for id in ["moon", "solo", "fix"] {
        let recipe = row(&list, id);
        assert_eq!(recipe["origin"], "built-in", "{recipe:#}");
        assert_eq!(recipe["valid"], true, "{recipe:#}");
    }
    assert_eq!(
        row(&list, "moon")["stages"],
        serde_json::json!(["analyze", "plan", "code", "review"])
    );

    let moon = env.json(&["recipe", "show", "moon", "--json"]);
    assert_eq!(moon["valid"], true);
    assert_eq!(moon["profile"], "default");
    let review = stage(&moon, "review");
    assert_eq!(
        review["provider"],
        serde_json::json!({"value": "codex", "source": "stage"})
    );
    assert_eq!(review["after"], serde_json::json!(["code"]));
    assert_eq!(review["onFailure"], "stop");
    assert_eq!(review["signals"]["value"], "signals-default");
    assert_eq!(
        stage(&moon, "code")["context"],
        serde_json::json!({"value": "inherit", "source": "skill:implementation-runner"}),
        "the skill's context applies"
    );
    let table = env.ok(&["recipe", "show", "moon"]);
    assert!(
        table.contains("STAGE") && table.contains("codex-review-code"),
        "{table}"
    );
    assert!(
        env.ok(&["recipe", "show", "moon", "--yaml"])
            .contains("workflow:")
    );

    let created = env.ok(&["recipe", "new", "quick"]);
    assert!(created.contains("created recipe quick"), "{created}");
    let file = env.recipe_file("quick");
    let starter = std::fs::read_to_string(&file).expect("written");
    assert!(starter.starts_with("# quick.workflow.yml"), "{starter}");
    let (_, stderr) = env.fails(&["recipe", "new", "quick"]);
    assert!(stderr.contains("recipe `quick` already exists"), "{stderr}");
    assert!(stderr.contains("edit "), "says what to do: {stderr}");
    assert_eq!(std::fs::read_to_string(&file).expect("kept"), starter);
    let (_, stderr) = env.fails(&["recipe", "new", "Bad_Id"]);
    assert!(stderr.contains("not a valid recipe id"), "{stderr}");

    let list = env.json(&["recipe", "list", "--json"]);
    assert_eq!(row(&list, "quick")["origin"], "user");
    assert!(env.ok(&["recipe", "validate", "quick"]).contains("ok: "));
    let all = env.ok(&["recipe", "validate"]);
    assert_eq!(
        all.lines().filter(|l| l.starts_with("ok: ")).count(),
        4,
        "{all}"
    );

    let (_, stderr) = env.fails(&["recipe", "show", "qiuck"]);
    assert!(stderr.contains("no recipe `qiuck`"), "{stderr}");
    assert!(stderr.contains("did you mean `quick`?"), "{stderr}");

    assert!(
        env.ok(&["recipe", "rm", "quick"])
            .contains("removed recipe quick")
    );
    assert!(!file.exists());
    let (_, stderr) = env.fails(&["recipe", "rm", "quick"]);
    assert!(stderr.contains("no recipe `quick`"), "{stderr}");
    let (_, stderr) = env.fails(&["recipe", "rm", "moon"]);
    assert!(
        stderr.contains("built in and cannot be changed or removed"),
        "{stderr}"
    );
    assert_eq!(
        row(&env.json(&["recipe", "list", "--json"]), "moon")["origin"],
        "built-in"
    );
}

#[test]
fn new_from_a_file_is_checked_first() {
    let env = Env::new();
    let bad = fixtures("bad").join("unknown-provider.workflow.yml");
    let (_, stderr) = env.fails(&[
        "recipe",
        "new",
        "mine",
        "--from",
        bad.to_str().expect("utf-8"),
    ]);
    assert!(
        stderr.contains(&format!(
            "{}:6:22: unknown provider `gemini-cli`",
            bad.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(!env.recipe_file("mine").exists());

    let good = fixtures("good").join("graph.workflow.yml");
    env.ok(&[
        "recipe",
        "new",
        "mine",
        "--from",
        good.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        std::fs::read_to_string(env.recipe_file("mine")).expect("written"),
        std::fs::read_to_string(&good).expect("fixture"),
        "copied as it is"
    );
    let mine = env.json(&["recipe", "show", "mine", "--json"]);
    assert_eq!(mine["name"], "Graph");
    assert_eq!(mine["budget"], 4.5);
    assert_eq!(stage(&mine, "back")["after"], serde_json::json!(["plan"]));
    assert_eq!(
        stage(&mine, "test")["after"],
        serde_json::json!(["front", "back"])
    );
    assert_eq!(stage(&mine, "test")["retries"], 2);
    assert_eq!(stage(&mine, "test")["retryBackoff"], "30s");
    assert_eq!(
        stage(&mine, "test")["options"]["command"],
        serde_json::json!({"value": "cargo test --workspace", "source": "stage"})
    );
    assert_eq!(stage(&mine, "plan")["timeout"], "15m");
}

#[test]
fn a_user_recipe_overrides_the_builtin_until_removed() {
    let env = Env::new();
    let created = env.ok(&["recipe", "new", "moon"]);
    assert!(
        created.contains("overrides the built-in recipe moon"),
        "{created}"
    );
    let file = env.recipe_file("moon");
    let copy = std::fs::read_to_string(&file).expect("a copy of the built-in");
    std::fs::write(
        &file,
        copy.replace(
            "review:\n  provider: codex",
            "review:\n  provider: claude-code",
        ),
    )
    .expect("edit");

    let list = env.json(&["recipe", "list", "--json"]);
    let moon = row(&list, "moon");
    assert_eq!(moon["origin"], "user");
    assert_eq!(moon["overridesBuiltin"], true);
    assert!(
        env.ok(&["recipe", "list"])
            .contains("overrides the built-in")
    );
    let shown = env.json(&["recipe", "show", "moon", "--json"]);
    assert_eq!(stage(&shown, "review")["provider"]["value"], "claude-code");
    assert_eq!(shown["overridesBuiltin"], true);

    let removed = env.ok(&["recipe", "rm", "moon"]);
    assert!(
        removed.contains("built-in recipe moon is used again"),
        "{removed}"
    );
    let shown = env.json(&["recipe", "show", "moon", "--json"]);
    assert_eq!(stage(&shown, "review")["provider"]["value"], "codex");
    assert_eq!(shown["origin"], "built-in");
}

#[test]
fn validate_without_arguments_checks_every_recipe_of_the_cafe() {
    let env = Env::new();
    let file = env.recipe_file("broken");
    std::fs::create_dir_all(file.parent().expect("dir")).expect("mkdir");
    std::fs::write(
        &file,
        "workflow:\n  stages: [a]\na: { role: coder, on_failure: sometimes }\n",
    )
    .expect("write");
    let (stdout, stderr) = env.fails(&["recipe", "validate"]);
    assert!(
        stdout.contains(&format!(
            "{}:3:31: `sometimes` is not a valid `on_failure`",
            file.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok: built-in:moon.workflow.yml"),
        "{stdout}"
    );
    assert!(stderr.contains("1 of 4 recipes has problems"), "{stderr}");
    let list = env.ok(&["recipe", "list"]);
    assert!(list.contains("1 problem"), "{list}");
    let (stdout, _) = env.fails(&["recipe", "show", "broken", "--json"]);
    let shown: Value = serde_json::from_str(&stdout).expect("JSON even when invalid");
    assert_eq!(shown["valid"], false);
    assert_eq!(shown["problems"][0]["line"], 3);

    // --cafe reaches the same recipes from elsewhere.
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let output = env.cli.run(
        elsewhere.path(),
        &[
            "recipe",
            "validate",
            "broken",
            "--cafe",
            env.repo.path().to_str().expect("utf-8"),
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains(":3:31: "),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn assignments_and_profiles_change_where_values_come_from() {
    let env = Env::new();
    let fix = env.json(&["recipe", "show", "fix", "--json"]);
    let code = stage(&fix, "code");
    assert_eq!(
        code["provider"],
        serde_json::json!({"value": "claude-code", "source": "default"})
    );
    assert_eq!(code["context"]["value"], "inherit");
    assert_eq!(
        stage(&fix, "review")["provider"]["value"],
        "codex",
        "reviewer default"
    );

    let said = env.ok(&[
        "assign",
        "coder",
        "codex",
        "--model",
        "gpt-5",
        "--option",
        "sandbox=workspace-write",
        "--option",
        "skip_git_repo_check=true",
    ]);
    assert!(said.contains("profile default: coder → codex"), "{said}");
    let fix = env.json(&["recipe", "show", "fix", "--json"]);
    let code = stage(&fix, "code");
    assert_eq!(
        code["provider"],
        serde_json::json!({"value": "codex", "source": "profile:default"})
    );
    assert_eq!(
        code["model"],
        serde_json::json!({"value": "gpt-5", "source": "profile:default"})
    );
    assert_eq!(
        code["options"]["sandbox"],
        serde_json::json!({"value": "workspace-write", "source": "profile:default"})
    );
    assert_eq!(code["options"]["skip_git_repo_check"]["value"], true);
    assert_eq!(
        code["context"],
        serde_json::json!({"value": "fork", "source": "default"}),
        "codex cannot continue the analyzer's claude-code session"
    );
    // A stage that insists on continuing the session is now a problem.
    let file = env.recipe_file("together");
    std::fs::create_dir_all(file.parent().expect("dir")).expect("mkdir");
    std::fs::write(
        &file,
        "workflow:\n  stages: [plan, code]\nplan: { role: planner }\ncode: { role: coder, context: inherit }\n",
    )
    .expect("write");
    let (stdout, _) = env.fails(&["recipe", "validate", "together"]);
    assert!(
        stdout.contains(":4:31: stage `code` has `context: inherit` but runs codex"),
        "{stdout}"
    );
    // A stage's own provider still wins: moon's code stage says claude-code.
    let moon = env.json(&["recipe", "show", "moon", "--json"]);
    assert_eq!(stage(&moon, "code")["provider"]["source"], "stage");
    assert_eq!(
        stage(&moon, "code")["model"]["value"],
        Value::Null,
        "another provider's model"
    );

    env.ok(&[
        "assign",
        "reviewer",
        "claude-code",
        "--profile",
        "solo-agent",
    ]);
    let profiles = env.json(&["profile", "list", "--json"]);
    assert_eq!(row_by_name(&profiles, "default")["active"], true);
    assert_eq!(row_by_name(&profiles, "solo-agent")["active"], false);
    env.ok(&["profile", "use", "solo-agent"]);
    let fix = env.json(&["recipe", "show", "fix", "--json"]);
    assert_eq!(fix["profile"], "solo-agent");
    assert_eq!(
        stage(&fix, "review")["provider"],
        serde_json::json!({"value": "claude-code", "source": "profile:solo-agent"})
    );
    assert_eq!(stage(&fix, "code")["provider"]["source"], "default");
    let other = env.json(&["recipe", "show", "fix", "--json", "--profile", "default"]);
    assert_eq!(
        stage(&other, "code")["provider"]["source"],
        "profile:default"
    );

    let shown = env.json(&["profile", "show", "solo-agent", "--json"]);
    assert_eq!(shown["active"], true);
    assert_eq!(shown["roles"]["reviewer"]["provider"], "claude-code");
    assert!(env.ok(&["profile", "list"]).contains("* "));

    let removed = env.ok(&["profile", "rm", "solo-agent"]);
    assert!(
        removed.contains("profile default is active now"),
        "{removed}"
    );
    let fix = env.json(&["recipe", "show", "fix", "--json"]);
    assert_eq!(fix["profile"], "default");
    assert!(env.ok(&["profile", "rm", "default"]).contains("emptied"));
    let fix = env.json(&["recipe", "show", "fix", "--json"]);
    assert_eq!(stage(&fix, "code")["provider"]["source"], "default");
    let profiles = env.json(&["profile", "list", "--json"]);
    assert_eq!(
        profiles.as_array().expect("list").len(),
        1,
        "default always exists"
    );

    let (_, stderr) = env.fails(&["assign", "coder", "gemini"]);
    assert!(stderr.contains("no provider plugin `gemini`"), "{stderr}");
    assert!(
        stderr.contains("claude-code"),
        "lists the installed ones: {stderr}"
    );
    let (_, stderr) = env.fails(&["profile", "use", "nope"]);
    assert!(stderr.contains("no profile `nope`"), "{stderr}");
    let (_, stderr) = env.fails(&["assign", "coder", "codex", "--option", "novalue"]);
    assert!(stderr.contains("KEY=VALUE"), "{stderr}");
    let (_, stderr) = env.fails(&["recipe", "show", "fix", "--profile", "nope"]);
    assert!(stderr.contains("no profile `nope`"), "{stderr}");

    let document: Value = serde_json::from_str(
        &std::fs::read_to_string(env.cli.home().join("profiles.json")).expect("profiles.json"),
    )
    .expect("JSON");
    assert_eq!(document["version"], 1);
    assert_eq!(document["active"], "default");
}

fn row_by_name<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .expect("a list")
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list:#}"))
}
