//! End to end through the `codecafe` binary: `init`, `cafe add | list | show | update | rm |
//! use`, `completions`, and several processes changing the registry at once.

use std::path::PathBuf;
use std::process::{Command, Output};

use codecafe_test_support::{Codecafe, init_repo, text};

/// A private codecafe home, and a temporary folder for repositories.
struct Env {
    cli: Codecafe,
    work: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Self {
            cli: Codecafe::new(env!("CARGO_BIN_EXE_codecafe")),
            work: tempfile::tempdir().expect("temp work"),
        }
    }

    /// A new git repository with one commit on branch `main`.
    fn repo(&self, name: &str) -> PathBuf {
        init_repo(&self.work.path().join(name), "main")
    }
}

fn stderr(output: &Output) -> String {
    text(&output.stderr)
}

#[test]
fn init_registers_and_sets_up_orch() {
    let env = Env::new();
    let repo = env.repo("shop");
    std::fs::create_dir_all(repo.join("src")).expect("src");
    let out = env.cli.ok(&repo.join("src"), &["init"]);
    assert!(out.contains("registered cafe shop"), "{out}");
    for dir in ["workflows", "skills", "roles", "plugins"] {
        assert!(repo.join(".orch").join(dir).is_dir(), "{dir}");
    }
    assert!(repo.join(".orch/workflows/starter.workflow.yml").is_file());
    // Runtime files stay out of git.
    std::fs::create_dir_all(repo.join(".orch/runtime")).expect("runtime");
    std::fs::write(repo.join(".orch/runtime/state"), "x").expect("write");
    let ignored = Command::new("git")
        .args(["check-ignore", "-q", ".orch/runtime/state"])
        .current_dir(&repo)
        .status()
        .expect("git");
    assert!(ignored.success(), "runtime files are ignored by git");

    let again = env.cli.ok(&repo, &["init"]);
    assert!(again.contains("already"), "{again}");
    let list = env.cli.json(&repo, &["cafe", "list", "--json"]);
    assert_eq!(list.as_array().expect("list").len(), 1);
}

#[test]
fn cafe_crud() {
    let env = Env::new();
    let repo = env.repo("alpha");
    let elsewhere = env.work.path();
    env.cli
        .ok(elsewhere, &["cafe", "add", repo.to_str().expect("utf-8")]);
    let cafe = &env.cli.json(elsewhere, &["cafe", "list", "--json"])[0];
    let id = cafe["id"].as_str().expect("id").to_owned();
    assert_eq!(cafe["name"], "alpha");
    assert_eq!(cafe["path"], repo.to_str().expect("utf-8"));
    assert_eq!(cafe["currentBranch"], "main");
    assert_eq!(cafe["settings"]["baseBranch"], "main");
    assert_eq!(cafe["settings"]["maxParallelOrders"], 3);

    // Registering the same repository again (even by a subdirectory) is refused.
    std::fs::create_dir_all(repo.join("sub")).expect("sub");
    let dup = env.cli.run(
        elsewhere,
        &["cafe", "add", repo.join("sub").to_str().expect("utf-8")],
    );
    assert_eq!(dup.status.code(), Some(1));
    assert!(stderr(&dup).contains("already exists"), "{}", stderr(&dup));

    // Not a repository.
    let plain = elsewhere.join("plain");
    std::fs::create_dir_all(&plain).expect("plain");
    let bad = env
        .cli
        .run(elsewhere, &["cafe", "add", plain.to_str().expect("utf-8")]);
    assert!(stderr(&bad).contains("git init"), "{}", stderr(&bad));

    env.cli.ok(
        elsewhere,
        &[
            "cafe",
            "update",
            &id[..8],
            "--name",
            "Alpha Shop",
            "--set",
            "houseRules=Always run the tests.",
            "--set",
            "maxParallelOrders=2",
        ],
    );
    let shown = env
        .cli
        .json(elsewhere, &["cafe", "show", "Alpha Shop", "--json"]);
    assert_eq!(shown["settings"]["houseRules"], "Always run the tests.");
    assert_eq!(shown["settings"]["maxParallelOrders"], 2);
    let refused = env.cli.run(
        elsewhere,
        &["cafe", "update", &id, "--set", "maxParallelOrders=lots"],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("maxParallelOrders"),
        "{}",
        stderr(&refused)
    );

    let text = env.cli.ok(elsewhere, &["cafe", "show", &id]);
    assert!(
        text.contains("houseRules:        Always run the tests."),
        "{text}"
    );

    let second = env.repo("beta");
    env.cli
        .ok(elsewhere, &["cafe", "add", second.to_str().expect("utf-8")]);
    env.cli.ok(elsewhere, &["cafe", "use", &id]);
    let table = env.cli.ok(elsewhere, &["cafe", "list"]);
    let marked: Vec<&str> = table.lines().filter(|l| l.starts_with('*')).collect();
    assert_eq!(marked.len(), 1);
    assert!(marked[0].contains("Alpha Shop"), "{table}");

    env.cli.ok(elsewhere, &["cafe", "rm", &id]);
    assert!(
        repo.join(".git").is_dir(),
        "removing a cafe never touches the repository"
    );
    let list = env.cli.json(elsewhere, &["cafe", "list", "--json"]);
    assert_eq!(list.as_array().expect("list").len(), 1);
    let missing = env.cli.run(elsewhere, &["cafe", "show", &id]);
    assert!(stderr(&missing).contains("no cafe"), "{}", stderr(&missing));
}

#[test]
fn a_corrupt_registry_is_reported_not_replaced() {
    let env = Env::new();
    let repo = env.repo("gamma");
    env.cli.ok(&repo, &["init"]);
    let registry = env.cli.home().join("cafes.json");
    std::fs::write(&registry, "{ this is not json").expect("corrupt");
    for args in [&["cafe", "list"][..], &["cafe", "add", "."][..]] {
        let output = env.cli.run(&repo, args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let message = stderr(&output);
        assert!(message.contains("cafes.json"), "{message}");
        assert!(message.contains("left untouched"), "{message}");
    }
    assert_eq!(
        std::fs::read_to_string(&registry).expect("kept"),
        "{ this is not json"
    );
}

#[test]
fn concurrent_processes_lose_no_update() {
    let env = Env::new();
    let repos: Vec<PathBuf> = (0..8).map(|i| env.repo(&format!("repo-{i}"))).collect();
    let cwd = env.work.path();
    let children: Vec<_> = repos
        .iter()
        .map(|repo| {
            env.cli
                .command(cwd, &["cafe", "add", repo.to_str().expect("utf-8")])
                .spawn()
                .expect("spawns")
        })
        .collect();
    for child in children {
        assert!(child.wait_with_output().expect("waits").status.success());
    }
    let children: Vec<_> = (0..8)
        .map(|i| {
            env.cli
                .command(
                    cwd,
                    &[
                        "cafe",
                        "update",
                        &format!("repo-{i}"),
                        "--set",
                        &format!("houseRules=rule {i}"),
                    ],
                )
                .spawn()
                .expect("spawns")
        })
        .collect();
    for child in children {
        assert!(child.wait_with_output().expect("waits").status.success());
    }
    let list = env.cli.json(cwd, &["cafe", "list", "--json"]);
    let cafes = list.as_array().expect("list");
    assert_eq!(cafes.len(), 8, "{list:#}");
    for i in 0..8 {
        let cafe = cafes
            .iter()
            .find(|c| c["name"] == format!("repo-{i}"))
            .unwrap_or_else(|| panic!("repo-{i} missing"));
        assert_eq!(cafe["settings"]["houseRules"], format!("rule {i}"));
    }
}

#[test]
fn completions_for_every_shell() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = env.cli.ok(env.work.path(), &["completions", shell]);
        assert!(script.contains("codecafe"), "{shell}");
        assert!(script.contains("cafe"), "{shell}");
    }
}
