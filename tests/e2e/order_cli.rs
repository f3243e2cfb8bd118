//! End to end through the `codecafe` binary on real repositories: `order new | list | show |
//! diff | merge | rm`, and two processes creating orders at once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use codecafe_test_support::{Codecafe, git, init_repo_with, text};
use serde_json::Value;

/// A private codecafe home and a registered cafe to run in.
struct Env {
    cli: Codecafe,
    repo: PathBuf,
    _work: tempfile::TempDir,
}

impl Env {
    /// A registered cafe on a repository with one commit on `main`.
    fn new() -> Self {
        let work = tempfile::tempdir().expect("temp work");
        let repo = init_repo_with(
            &work.path().join("shop"),
            "main",
            &[("app.txt", "line one\n")],
        );
        let env = Self {
            cli: Codecafe::new(env!("CARGO_BIN_EXE_codecafe")),
            repo,
            _work: work,
        };
        env.ok(&["init"]);
        env
    }

    fn command(&self, args: &[&str]) -> Command {
        self.cli.command(&self.repo, args)
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cli.run(&self.repo, args)
    }

    fn ok(&self, args: &[&str]) -> String {
        self.cli.ok(&self.repo, args)
    }

    fn fails(&self, args: &[&str]) -> String {
        self.cli.fails(&self.repo, args)
    }

    /// Creates an order and returns its JSON.
    fn new_order(&self, extra: &[&str]) -> Value {
        let mut args = vec!["order", "new", "--recipe", "solo", "--json"];
        args.extend_from_slice(extra);
        self.cli.json(&self.repo, &args)
    }
}

fn id(order: &Value) -> String {
    order["id"].as_str().expect("id").to_owned()
}

fn worktree(order: &Value) -> PathBuf {
    PathBuf::from(order["worktreePath"].as_str().expect("worktree"))
}

fn commit_in(dir: &Path, file: &str, content: &str) {
    std::fs::write(dir.join(file), content).expect("write");
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", &format!("change {file}")]);
}

#[test]
fn create_list_show_and_diff() {
    let env = Env::new();
    // A dirty main checkout does not leak into the new worktree.
    std::fs::write(env.repo.join("app.txt"), "uncommitted edit\n").expect("dirty");
    let order = env.new_order(&["--prompt", "Add a greeting", "--var", "lang=en"]);
    let short = &id(&order)[..8];
    assert_eq!(order["status"], "created");
    assert_eq!(order["branch"], format!("codecafe/{short}"));
    assert_eq!(order["baseBranch"], "main");
    let tree = worktree(&order);
    assert!(
        !tree.starts_with(&env.repo),
        "worktrees live outside the repository"
    );
    assert_eq!(
        std::fs::read_to_string(tree.join("app.txt")).expect("file"),
        "line one\n"
    );
    assert!(git(&env.repo, &["worktree", "list"]).contains(tree.to_str().expect("utf-8")));

    let list: Value = serde_json::from_str(&env.ok(&["order", "list", "--json"])).expect("JSON");
    assert_eq!(list.as_array().expect("list").len(), 1);
    let table = env.ok(&["order", "list"]);
    assert!(
        table.contains(short) && table.contains("Add a greeting"),
        "{table}"
    );

    let shown: Value =
        serde_json::from_str(&env.ok(&["order", "show", &short[..5], "--json"])).expect("JSON");
    assert_eq!(shown["order"]["vars"]["lang"], "en");
    assert_eq!(shown["order"]["prompt"], "Add a greeting");
    let text_view = env.ok(&["order", "show", short]);
    assert!(text_view.contains("status:    created"), "{text_view}");

    commit_in(&tree, "greeting.txt", "hello\n");
    std::fs::write(tree.join("notes.txt"), "wip\n").expect("untracked");
    let stat = env.ok(&["order", "diff", short, "--stat"]);
    assert!(stat.contains("greeting.txt"), "{stat}");
    assert!(
        stat.contains("notes.txt"),
        "uncommitted work is shown too: {stat}"
    );
    let patch = env.ok(&["order", "diff", short]);
    assert!(patch.contains("+hello"), "{patch}");
}

#[test]
fn new_handles_bad_and_unusual_requests() {
    let env = Env::new();
    let missing_base = env.fails(&["order", "new", "--recipe", "solo", "--base", "nope"]);
    assert!(missing_base.contains("nope"), "{missing_base}");
    let missing_recipe = env.fails(&["order", "new", "--recipe", "no-such-recipe"]);
    assert!(
        missing_recipe.contains("no-such-recipe"),
        "{missing_recipe}"
    );
    assert_eq!(
        env.ok(&["order", "list", "--json"]).trim(),
        "[]",
        "nothing half-created"
    );

    let output = env.run(&[
        "order",
        "new",
        "--recipe",
        "solo",
        "--no-worktree",
        "--json",
    ]);
    assert!(output.status.success());
    assert!(
        text(&output.stderr).contains("warning"),
        "in place warns: {}",
        text(&output.stderr)
    );
    let in_place: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(in_place["worktreePath"].is_null());

    let custom = env.new_order(&["--prefix", "feature", "--base", "main"]);
    assert!(
        custom["branch"]
            .as_str()
            .expect("branch")
            .starts_with("feature/")
    );
}

#[test]
fn merge_clean_squash_and_conflicting() {
    let env = Env::new();
    let clean = env.new_order(&["--prompt", "Add feature A"]);
    commit_in(&worktree(&clean), "a.txt", "A\n");
    let out = env.ok(&["order", "merge", &id(&clean)[..8]]);
    assert!(out.contains("fast-forwarded"), "{out}");
    assert_eq!(git(&env.repo, &["show", "main:a.txt"]), "A\n");

    let squashed = env.new_order(&["--prompt", "Add feature B"]);
    commit_in(&worktree(&squashed), "b1.txt", "B1\n");
    commit_in(&worktree(&squashed), "b2.txt", "B2\n");
    let out = env.ok(&[
        "order",
        "merge",
        &id(&squashed)[..8],
        "--squash",
        "--delete",
    ]);
    assert!(out.contains("squashed"), "{out}");
    assert_eq!(
        git(&env.repo, &["log", "-1", "--format=%s", "main"]).trim(),
        "Add feature B"
    );
    assert_eq!(git(&env.repo, &["show", "main:b2.txt"]), "B2\n");
    assert!(
        !worktree(&squashed).exists(),
        "--delete removed the worktree"
    );

    // Uncommitted work survives `--delete`: the merge lands, the removal is refused.
    let wip = env.new_order(&["--prompt", "Add feature C"]);
    commit_in(&worktree(&wip), "c.txt", "C\n");
    std::fs::write(worktree(&wip).join("draft.txt"), "not committed\n").expect("write");
    let message = env.fails(&["order", "merge", &id(&wip)[..8], "--squash", "--delete"]);
    assert!(message.contains("draft.txt"), "{message}");
    assert_eq!(git(&env.repo, &["show", "main:c.txt"]), "C\n");
    assert!(
        worktree(&wip).join("draft.txt").exists(),
        "uncommitted work kept"
    );

    let conflicting = env.new_order(&[]);
    commit_in(&worktree(&conflicting), "app.txt", "theirs\n");
    commit_in(&env.repo, "app.txt", "ours\n");
    let before_main = git(&env.repo, &["rev-parse", "main"]);
    let before_branch = git(
        &env.repo,
        &["rev-parse", conflicting["branch"].as_str().expect("branch")],
    );
    let message = env.fails(&["order", "merge", &id(&conflicting)[..8]]);
    assert!(message.contains("app.txt"), "names the conflict: {message}");
    assert_eq!(
        git(&env.repo, &["rev-parse", "main"]),
        before_main,
        "main unchanged"
    );
    assert_eq!(
        git(
            &env.repo,
            &["rev-parse", conflicting["branch"].as_str().expect("branch")]
        ),
        before_branch
    );
    assert_eq!(
        std::fs::read_to_string(env.repo.join("app.txt")).expect("file"),
        "ours\n"
    );
    assert_eq!(
        git(&env.repo, &["status", "--porcelain"]).trim(),
        "",
        "checkout untouched"
    );
}

#[test]
fn delete_never_loses_work() {
    let env = Env::new();
    // Clean: removed with its branch kept.
    let clean = env.new_order(&[]);
    env.ok(&["order", "rm", &id(&clean)[..8]]);
    assert!(!worktree(&clean).exists());
    let branch = clean["branch"].as_str().expect("branch");
    assert!(
        git(&env.repo, &["branch", "--list", branch]).contains(branch),
        "branch kept"
    );
    assert!(
        !git(&env.repo, &["worktree", "list"]).contains(worktree(&clean).to_str().expect("utf-8"))
    );

    // Dirty: refused, nothing changed.
    let dirty = env.new_order(&[]);
    std::fs::write(worktree(&dirty).join("wip.txt"), "work in progress\n").expect("write");
    let message = env.fails(&["order", "rm", &id(&dirty)[..8]]);
    assert!(message.contains("wip.txt"), "{message}");
    assert!(worktree(&dirty).join("wip.txt").exists());
    env.ok(&["order", "show", &id(&dirty)[..8]]);

    // Unmerged commits: refused.
    let unmerged = env.new_order(&[]);
    commit_in(&worktree(&unmerged), "feature.txt", "done\n");
    let message = env.fails(&["order", "rm", &id(&unmerged)[..8]]);
    assert!(message.contains("not merged"), "{message}");

    // --force removes the worktree but keeps the branch and its commit.
    env.ok(&["order", "rm", &id(&unmerged)[..8], "--force"]);
    let branch = unmerged["branch"].as_str().expect("branch");
    assert_eq!(
        git(&env.repo, &["show", &format!("{branch}:feature.txt")]),
        "done\n"
    );
    assert!(
        env.fails(&["order", "show", &id(&unmerged)[..8]])
            .contains("no order")
    );

    // Several at once: each reported, one failure does not stop the others.
    let other = env.new_order(&[]);
    let output = env.run(&[
        "order",
        "rm",
        &id(&dirty)[..8],
        &id(&other)[..8],
        "nonexistent",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(
        stdout.contains(&format!("deleted order {}", &id(&other)[..8])),
        "{stdout}"
    );
    assert!(stdout.contains("1 deleted, 2 failed"), "{stdout}");
    assert!(
        stderr.contains("wip.txt") && stderr.contains("nonexistent"),
        "{stderr}"
    );

    // --force --delete-branch deletes the branch too.
    env.ok(&[
        "order",
        "rm",
        &id(&dirty)[..8],
        "--force",
        "--delete-branch",
    ]);
    let branch = dirty["branch"].as_str().expect("branch");
    assert_eq!(git(&env.repo, &["branch", "--list", branch]).trim(), "");
}

#[test]
fn two_processes_create_orders_at_once() {
    let env = Env::new();
    let children: Vec<_> = (0..2)
        .flat_map(|_| {
            (0..3).map(|_| {
                env.command(&["order", "new", "--recipe", "solo"])
                    .spawn()
                    .expect("spawns")
            })
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().expect("waits");
        assert!(output.status.success(), "{}", text(&output.stderr));
    }
    let list: Value = serde_json::from_str(&env.ok(&["order", "list", "--json"])).expect("JSON");
    let orders = list.as_array().expect("list");
    assert_eq!(orders.len(), 6);
    let mut branches: Vec<&str> = orders
        .iter()
        .map(|o| o["branch"].as_str().expect("branch"))
        .collect();
    branches.sort();
    branches.dedup();
    assert_eq!(branches.len(), 6, "every order has its own branch");
    for order in orders {
        assert!(worktree(order).is_dir());
    }
}
