//! End to end through the `codecafe` binary on temporary git repositories: `skill list | show |
//! new | update | rm | dup | validate` and `role list | show [--render] | validate`, the
//! built-ins' protection, instructions kept across every change, and the corpus of malformed
//! skills and roles in `tests/fixtures/{skills,roles}/bad/`, each reported at its exact line
//! and column.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use codecafe_test_support::{Codecafe, git, text};
use serde_json::Value;

/// A private codecafe home and a git repository to run in, with no editor and no input.
struct Env {
    cli: Codecafe,
    work: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let env = Self {
            cli: Codecafe::new(env!("CARGO_BIN_EXE_codecafe")).non_interactive(),
            work: tempfile::tempdir().expect("temp work"),
        };
        git(env.repo(), &["init", "-q"]);
        env
    }

    fn repo(&self) -> &Path {
        self.work.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        self.cli.command(self.repo(), args)
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cli.run(self.repo(), args)
    }

    fn ok(&self, args: &[&str]) -> String {
        self.cli.ok(self.repo(), args)
    }

    /// Runs a command that must fail with exit code 1, returning its stderr.
    fn fails(&self, args: &[&str]) -> String {
        self.cli.fails(self.repo(), args)
    }

    fn json(&self, args: &[&str]) -> Value {
        self.cli.json(self.repo(), args)
    }

    fn skill(&self, id: &str) -> Value {
        self.json(&["skill", "show", id, "--json"])
    }
}

fn fixtures(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(kind)
        .join("bad")
}

/// The files of a fixture folder, sorted.
fn fixture_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("fixture dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    files
}

const INSTRUCTIONS: &str = "Run `cargo clippy`.\nFix every warning.\n\nReport what changed.";

#[test]
fn skill_crud_keeps_instructions() {
    let env = Env::new();
    let created = env.ok(&[
        "skill",
        "new",
        "lint-fix",
        "--name",
        "Lint fixer",
        "--category",
        "implementation",
        "--description",
        "Fixes lint warnings",
        "--context",
        "inherit",
        "--instructions",
        INSTRUCTIONS,
    ]);
    assert!(created.contains(".orch/skills/lint-fix.json"), "{created}");
    let file = env.repo().join(".orch/skills/lint-fix.json");
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("written")).expect("JSON");
    assert_eq!(on_disk["instructions"], INSTRUCTIONS);
    assert_eq!(on_disk["version"], 1);

    let skill = env.skill("lint-fix");
    assert_eq!(skill["instructions"], INSTRUCTIONS);
    assert_eq!(skill["name"], "Lint fixer");
    assert_eq!(skill["category"], "implementation");
    assert_eq!(skill["context"], "inherit");
    assert_eq!(skill["skillCommand"], "/lint-fix");
    assert_eq!(skill["isBuiltIn"], false);
    let created_at = skill["createdAt"].as_str().expect("createdAt").to_owned();
    assert_eq!(skill["updatedAt"], created_at);

    // Changing anything else keeps the instructions (the original lost them).
    std::thread::sleep(std::time::Duration::from_millis(5));
    env.ok(&[
        "skill",
        "update",
        "lint-fix",
        "--name",
        "Lint fixer 2",
        "--category",
        "verification",
        "--command",
        "/lint",
        "--context",
        "fork",
    ]);
    let skill = env.skill("lint-fix");
    assert_eq!(skill["instructions"], INSTRUCTIONS);
    assert_eq!(skill["name"], "Lint fixer 2");
    assert_eq!(skill["category"], "verification");
    assert_eq!(skill["skillCommand"], "/lint");
    assert_eq!(skill["context"], "fork");
    assert_eq!(skill["createdAt"], created_at, "createdAt never changes");
    let updated_at = skill["updatedAt"].as_str().expect("updatedAt").to_owned();
    assert!(updated_at > created_at, "{updated_at} after {created_at}");

    // New instructions from a file.
    let instructions_file = env.work.path().join("instructions.md");
    std::fs::write(&instructions_file, "From a file.\nSecond line.\n").expect("write");
    env.ok(&[
        "skill",
        "update",
        "lint-fix",
        "--instructions-file",
        instructions_file.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        env.skill("lint-fix")["instructions"],
        "From a file.\nSecond line."
    );

    // Listed as the cafe's, filtered by category.
    let list = env.json(&["skill", "list", "--json", "--category", "verification"]);
    let ids: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .map(|s| s["id"].as_str().expect("id"))
        .collect();
    assert!(ids.contains(&"lint-fix"), "{ids:?}");
    assert!(ids.contains(&"preflight-check"), "{ids:?}");
    assert!(!ids.contains(&"classify-task"), "{ids:?}");
    let table = env.ok(&["skill", "list"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("lint-fix") && l.contains("user")),
        "{table}"
    );

    // Duplicates keep the instructions too.
    env.ok(&["skill", "dup", "lint-fix", "lint-copy"]);
    let copy = env.skill("lint-copy");
    assert_eq!(copy["instructions"], "From a file.\nSecond line.");
    assert_eq!(copy["name"], "Lint fixer 2 (copy)");
    assert_eq!(copy["skillCommand"], "/lint", "a custom command is kept");
    env.ok(&[
        "skill",
        "dup",
        "classify-task",
        "my-classify",
        "--name",
        "My classifier",
    ]);
    let mine = env.skill("my-classify");
    let builtin = env.skill("classify-task");
    assert_eq!(mine["instructions"], builtin["instructions"]);
    assert_eq!(mine["name"], "My classifier");
    assert_eq!(mine["isBuiltIn"], false);
    assert_eq!(mine["skillCommand"], "/my-classify");
    env.ok(&[
        "skill",
        "update",
        "my-classify",
        "--instructions",
        "Mine now.",
    ]);
    assert_eq!(env.skill("my-classify")["instructions"], "Mine now.");
    assert_eq!(
        env.skill("classify-task")["instructions"],
        builtin["instructions"]
    );

    // Taken ids are refused.
    let error = env.fails(&[
        "skill",
        "new",
        "lint-fix",
        "--name",
        "x",
        "--category",
        "utility",
        "--instructions",
        "x",
    ]);
    assert!(error.contains("already exists"), "{error}");
    let error = env.fails(&["skill", "dup", "classify-task", "lint-copy"]);
    assert!(error.contains("already exists"), "{error}");

    // Removal.
    env.ok(&["skill", "rm", "lint-fix"]);
    assert!(!file.exists());
    let error = env.fails(&["skill", "show", "lint-fix"]);
    assert!(error.contains("no skill `lint-fix`"), "{error}");
    assert!(error.contains("codecafe skill list"), "{error}");
    let error = env.fails(&["skill", "rm", "lint-fix"]);
    assert!(error.contains("no skill `lint-fix`"), "{error}");

    // Nothing to change is an error that says what to pass.
    let error = env.fails(&["skill", "update", "lint-copy"]);
    assert!(error.contains("nothing to change"), "{error}");
    // Bad values are refused with what would be accepted.
    let output = env.run(&[
        "skill",
        "new",
        "x",
        "--name",
        "X",
        "--category",
        "testing",
        "--instructions",
        "x",
    ]);
    assert_eq!(output.status.code(), Some(2), "clap rejects the category");
    assert!(
        text(&output.stderr).contains("planning"),
        "{}",
        text(&output.stderr)
    );
    let error = env.fails(&[
        "skill",
        "new",
        "x",
        "--name",
        "X",
        "--category",
        "utility",
        "--command",
        "no-slash",
        "--instructions",
        "x",
    ]);
    assert!(error.contains("not a skill command"), "{error}");
    let error = env.fails(&[
        "skill",
        "new",
        "Bad_Id",
        "--name",
        "X",
        "--category",
        "utility",
        "--instructions",
        "x",
    ]);
    assert!(error.contains("not a valid skill id"), "{error}");
}

#[test]
fn builtins_cannot_be_changed_or_removed() {
    let env = Env::new();
    let before = env.skill("classify-task");
    assert_eq!(before["isBuiltIn"], true);

    let error = env.fails(&["skill", "update", "classify-task", "--name", "Mine"]);
    assert!(error.contains("built in"), "{error}");
    assert!(
        error.contains("codecafe skill dup classify-task"),
        "{error}"
    );
    let error = env.fails(&["skill", "rm", "classify-task"]);
    assert!(error.contains("built in"), "{error}");
    assert!(error.contains("skill dup"), "{error}");
    let error = env.fails(&[
        "skill",
        "new",
        "classify-task",
        "--name",
        "x",
        "--category",
        "utility",
        "--instructions",
        "x",
    ]);
    assert!(
        error.contains("built-in") && error.contains("skill dup"),
        "{error}"
    );

    // `--edit` is refused before any editor opens.
    let marker = env.work.path().join("editor-ran");
    let editor = editor_script(env.work.path(), &format!("touch '{}'", marker.display()));
    let output = env
        .command(&["skill", "update", "classify-task", "--edit"])
        .env("EDITOR", &editor)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(!marker.exists(), "the editor must not run for a built-in");

    // A file with a built-in's id placed by hand is reported, not silently used.
    let skills = env.repo().join(".orch/skills");
    std::fs::create_dir_all(&skills).expect("mkdir");
    std::fs::write(
        skills.join("classify-task.json"),
        "{\n  \"id\": \"classify-task\",\n  \"name\": \"Fake\",\n  \"category\": \"utility\",\n  \"instructions\": \"x\"\n}\n",
    )
    .expect("write");
    let error = env.fails(&["skill", "list"]);
    assert!(
        error.contains("classify-task.json:2:9: `classify-task` is the id of a built-in skill"),
        "{error}"
    );
    std::fs::remove_file(skills.join("classify-task.json")).expect("rm");

    assert_eq!(env.skill("classify-task"), before, "unchanged");
    assert!(!env.repo().join(".orch/skills/classify-task.json").exists());
}

/// A shell script usable as `$EDITOR` that runs `body` with the file as `$1`.
fn editor_script(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join(format!("editor-{}.sh", body.len()));
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write editor");
    let status = Command::new("chmod")
        .arg("+x")
        .arg(&path)
        .status()
        .expect("chmod");
    assert!(status.success());
    path
}

#[test]
fn instructions_from_the_editor_and_stdin() {
    let env = Env::new();
    // No editor and no terminal: say what to pass.
    let error = env.fails(&["skill", "new", "a", "--name", "A", "--category", "utility"]);
    assert!(error.contains("--instructions"), "{error}");
    assert!(!env.repo().join(".orch/skills/a.json").exists());

    let editor = editor_script(
        env.work.path(),
        "printf 'Written in the editor.\\nLine two.\\n' > \"$1\"",
    );
    let output = env
        .command(&["skill", "new", "a", "--name", "A", "--category", "utility"])
        .env("EDITOR", &editor)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        env.skill("a")["instructions"],
        "Written in the editor.\nLine two."
    );

    // `update --edit` starts from the current text.
    let appender = editor_script(env.work.path(), "echo 'Line three.' >> \"$1\"");
    let output = env
        .command(&["skill", "update", "a", "--edit"])
        .env("EDITOR", &appender)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        env.skill("a")["instructions"],
        "Written in the editor.\nLine two.\nLine three."
    );

    // An editor that saves nothing creates nothing.
    let emptier = editor_script(env.work.path(), ": > \"$1\"");
    let output = env
        .command(&["skill", "new", "b", "--name", "B", "--category", "utility"])
        .env("EDITOR", &emptier)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("empty"),
        "{}",
        text(&output.stderr)
    );
    assert!(!env.repo().join(".orch/skills/b.json").exists());

    // `--instructions-file -` reads stdin.
    let mut child = env
        .command(&[
            "skill",
            "new",
            "c",
            "--name",
            "C",
            "--category",
            "review",
            "--instructions-file",
            "-",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawns");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"From stdin.\n")
        .expect("write");
    let output = child.wait_with_output().expect("waits");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(env.skill("c")["instructions"], "From stdin.");
}

#[test]
fn builtin_skills_are_listed_with_their_instructions() {
    let env = Env::new();
    let list = env.json(&["skill", "list", "--json"]);
    let list = list.as_array().expect("list");
    assert!(list.len() >= 10);
    for id in [
        "classify-task",
        "evaluate-complexity",
        "detect-uncertainty",
        "decide-sequence",
        "preflight-check",
        "gather-requirements",
        "build-context",
        "implementation-runner",
        "codex-review-code",
        "review-code",
        "integration-test",
    ] {
        let skill = list
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("no built-in {id}"));
        assert_eq!(skill["isBuiltIn"], true);
        assert!(
            skill["instructions"]
                .as_str()
                .expect("text")
                .lines()
                .count()
                >= 10,
            "{id}"
        );
    }
    let shown = env.ok(&["skill", "show", "detect-uncertainty"]);
    assert!(shown.contains("nextAction: await_user"), "{shown}");
    assert!(shown.contains("built-in"), "{shown}");
    env.ok(&["skill", "validate"]);
}

/// `(file, line, column, message fragment)` for every malformed skill.
const BAD_SKILLS: &[(&str, usize, usize, &str)] = &[
    ("bad-category.json", 4, 15, "unknown variant `testing`"),
    (
        "bad-command.json",
        5,
        19,
        "`run tests` is not a skill command",
    ),
    (
        "bad-context.json",
        5,
        14,
        "unknown variant `share`, expected `fork` or `inherit`",
    ),
    (
        "bad-timestamp.json",
        7,
        16,
        "`updatedAt` is not an RFC 3339 timestamp",
    ),
    ("claims-built-in.json", 6, 16, "`isBuiltIn` is true"),
    ("duplicate-key.json", 5, 3, "duplicate field `name`"),
    (
        "empty-instructions.json",
        5,
        19,
        "the instructions are empty",
    ),
    (
        "id-mismatch.json",
        2,
        9,
        "the id `something-else` differs from the file name",
    ),
    (
        "missing-instructions.json",
        5,
        1,
        "missing field `instructions`",
    ),
    (
        "not-an-object.json",
        1,
        1,
        "a skill file holds one JSON object",
    ),
    ("snake-case-key.json", 5, 3, "unknown field `skill_command`"),
    ("trailing-comma.json", 6, 1, "trailing comma"),
    ("unclosed.json", 6, 1, "control character"),
    ("unknown-key.json", 5, 3, "unknown field `colour`"),
    (
        "wrong-type.json",
        3,
        11,
        "invalid type: integer `42`, expected a string",
    ),
];

/// `(file, line, column, message fragment)` for every malformed role.
const BAD_ROLES: &[(&str, usize, usize, &str)] = &[
    ("bad-type.md", 5, 11, "`text` is not a variable type"),
    ("bad-yaml.md", 5, 1, "invalid YAML"),
    ("engine-variable.md", 4, 3, "`stage` is an engine variable"),
    (
        "list-default.md",
        6,
        14,
        "the default of `focus` is not a list",
    ),
    ("missing-name.md", 1, 1, "the front matter has no `name`"),
    (
        "no-front-matter.md",
        1,
        1,
        "a role starts with a `---` front matter block",
    ),
    (
        "required-with-default.md",
        4,
        3,
        "`ticket` is required and has a default",
    ),
    ("syntax-error.md", 7, 13, "template syntax error"),
    ("unclosed-block.md", 7, 11, "unexpected end of input"),
    (
        "unclosed-front-matter.md",
        1,
        1,
        "the front matter is never closed",
    ),
    (
        "undeclared-variable.md",
        8,
        13,
        "the template uses `focus_area`",
    ),
    ("unknown-key.md", 3, 1, "unknown front matter key `colour`"),
    (
        "unknown-variable-key.md",
        6,
        5,
        "unknown key `defualt` in the declaration of `verbose`",
    ),
    (
        "wrong-default.md",
        6,
        14,
        "the default of `retries` is not a number",
    ),
];

/// Checks one corpus: each file validated directly, and placed in a cafe and listed.
fn check_corpus(kind: &str, table: &[(&str, usize, usize, &str)]) {
    let dir = fixtures(kind);
    let listed: Vec<&str> = table.iter().map(|(file, ..)| *file).collect();
    assert_eq!(
        fixture_files(&dir),
        listed,
        "every fixture in {} has exactly one row in the table",
        dir.display()
    );
    assert!(table.len() >= 6);
    let singular = kind.trim_end_matches('s');
    for (file, line, column, fragment) in table {
        let expected = format!("{file}:{line}:{column}: ");
        // Validated where it lies.
        let env = Env::new();
        let path = dir.join(file);
        let error = env.fails(&[singular, "validate", path.to_str().expect("utf-8")]);
        let located = error
            .lines()
            .find(|l| l.contains(&expected))
            .unwrap_or_else(|| panic!("{file}: expected `{expected}` in:\n{error}"));
        assert!(
            located.contains(fragment),
            "{file}: `{fragment}` in:\n{error}"
        );
        assert!(error.contains("\n  hint: "), "{file} has a hint:\n{error}");
        assert_eq!(
            error
                .lines()
                .filter(|l| l.contains(&format!("{file}:")))
                .count(),
            1,
            "{file}: exactly one problem:\n{error}"
        );

        // Placed in a cafe: listing and showing report it at the same place.
        let target = env.repo().join(".orch").join(kind);
        std::fs::create_dir_all(&target).expect("mkdir");
        std::fs::copy(&path, target.join(file)).expect("copy");
        for args in [[singular, "list"], [singular, "validate"]] {
            let error = env.fails(&args);
            assert!(
                error.contains(&format!(".orch/{kind}/{expected}")),
                "{file} via {args:?}: expected `{expected}` in:\n{error}"
            );
            assert!(error.contains(fragment), "{file} via {args:?}:\n{error}");
        }
    }
}

#[test]
fn malformed_skills_are_reported_at_their_line_and_column() {
    check_corpus("skills", BAD_SKILLS);
}

#[test]
fn malformed_roles_are_reported_at_their_line_and_column() {
    check_corpus("roles", BAD_ROLES);
}

#[test]
fn roles_list_show_and_render() {
    let env = Env::new();
    let list = env.json(&["role", "list", "--json"]);
    let ids: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["analyzer", "coder", "planner", "reviewer", "tester"]);
    assert!(
        list.as_array()
            .expect("list")
            .iter()
            .all(|r| r["origin"] == "built-in")
    );

    let coder = env.json(&["role", "show", "coder", "--json"]);
    assert_eq!(coder["name"], "Coder");
    assert_eq!(coder["variables"]["commit"]["type"], "boolean");
    assert_eq!(coder["variables"]["commit"]["default"], true);
    assert!(
        coder["template"]
            .as_str()
            .expect("template")
            .contains("{{ prompt")
    );
    let shown = env.ok(&["role", "show", "coder"]);
    assert!(
        shown.contains("test_command") && shown.contains("template (from line"),
        "{shown}"
    );

    // Rendered with sample engine values, order variables and real skills.
    let prompt = env.ok(&[
        "role",
        "show",
        "reviewer",
        "--render",
        "--prompt",
        "Add a --dry-run flag.",
        "--var",
        "focus=security,error handling",
        "--var",
        "ticket=CLI-7",
        "--skill",
        "review-code",
        "--stage",
        "review",
    ]);
    assert!(prompt.contains("Add a --dry-run flag."), "{prompt}");
    assert!(
        prompt.contains("Look first at: security, error handling."),
        "{prompt}"
    );
    assert!(prompt.contains("CLI-7"), "{prompt}");
    assert!(prompt.contains("stage `review`"), "{prompt}");
    let review_code = env.skill("review-code");
    assert!(
        prompt.contains(review_code["instructions"].as_str().expect("text")),
        "the skill's instructions are in the prompt"
    );
    assert!(
        prompt.contains("signals:\n  nextAction: proceed"),
        "{prompt}"
    );
    for role in ["analyzer", "coder", "planner", "reviewer", "tester"] {
        let prompt = env.ok(&["role", "show", role, "--render"]);
        assert!(prompt.contains("Add rate limiting"), "{role}: {prompt}");
    }
    let rendered = env.json(&[
        "role",
        "show",
        "coder",
        "--render",
        "--var",
        "commit=false",
        "--json",
    ]);
    assert!(
        rendered["prompt"]
            .as_str()
            .expect("prompt")
            .contains("Do not commit"),
        "{rendered:#}"
    );
    let error = env.fails(&["role", "show", "coder", "--render", "--var", "commit=maybe"]);
    assert!(
        error.contains("variable `commit`") && error.contains("true or false"),
        "{error}"
    );
    let error = env.fails(&["role", "show", "nobody"]);
    assert!(
        error.contains("no role `nobody`") && error.contains("role list"),
        "{error}"
    );
}

#[test]
fn user_roles_override_builtins_and_render_strictly() {
    let env = Env::new();
    let roles = env.repo().join(".orch/roles");
    std::fs::create_dir_all(&roles).expect("mkdir");
    std::fs::write(
        roles.join("coder.md"),
        "---\nname: House coder\ndescription: Ours.\nvariables:\n  ticket:\n    type: string\n    required: true\n---\nTicket {{ ticket }}: {{ prompt }}\n{% for p in previous %}{{ p.stage }}: {{ p.summary }}{% endfor %}\n",
    )
    .expect("write");
    std::fs::write(
        roles.join("doc-writer.md"),
        "---\nname: Doc writer\n---\nDocument {{ prompt }}.\n",
    )
    .expect("write");

    let list = env.json(&["role", "list", "--json"]);
    let list = list.as_array().expect("list");
    let coder = list.iter().find(|r| r["id"] == "coder").expect("coder");
    assert_eq!(coder["origin"], "user");
    assert_eq!(coder["overridesBuiltIn"], true);
    assert_eq!(coder["name"], "House coder");
    let docs = list.iter().find(|r| r["id"] == "doc-writer").expect("docs");
    assert_eq!(docs["overridesBuiltIn"], false);
    let table = env.ok(&["role", "list"]);
    assert!(table.contains("user (overrides built-in)"), "{table}");

    // A required variable without a value is named.
    let error = env.fails(&["role", "show", "coder", "--render"]);
    assert!(
        error.contains("`ticket`") && error.contains("--var ticket="),
        "{error}"
    );
    // A missing attribute is an error naming it, located in the file.
    let error = env.fails(&["role", "show", "coder", "--render", "--var", "ticket=T-1"]);
    assert!(error.contains("coder.md:10:"), "{error}");
    assert!(error.contains("`p.summary` is undefined"), "{error}");

    std::fs::write(
        roles.join("coder.md"),
        "---\nname: House coder\nvariables:\n  ticket:\n    type: string\n    required: true\n---\nTicket {{ ticket }}: {{ prompt }}\n",
    )
    .expect("write");
    let prompt = env.ok(&[
        "role",
        "show",
        "coder",
        "--render",
        "--var",
        "ticket=T-1",
        "--prompt",
        "Fix it",
    ]);
    assert_eq!(prompt, "Ticket T-1: Fix it\n");
    env.ok(&["role", "validate"]);

    // From outside the repository, with --cafe.
    let outside = tempfile::tempdir().expect("temp");
    let output = env
        .command(&[
            "role",
            "show",
            "doc-writer",
            "--json",
            "--cafe",
            env.repo().to_str().expect("utf-8"),
        ])
        .current_dir(outside.path())
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
}
