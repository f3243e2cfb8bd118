//! End to end through the `codecafe` binary: `codecafe demo` runs a complete order offline (a
//! scratch repository, the `command` provider, the order's own worktree).

use std::path::PathBuf;

use codecafe_test_support::{Codecafe, text};
use serde_json::Value;

#[test]
fn demo_runs_a_complete_order_on_its_own_worktree() {
    let work = tempfile::tempdir().expect("temp work");
    let cli = Codecafe::new(env!("CARGO_BIN_EXE_codecafe")).non_interactive();
    let dir = work.path().join("demo");
    let out = cli.run(
        work.path(),
        &["demo", "--dir", dir.to_str().expect("utf-8 path")],
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("✓ write completed"), "{stdout}");
    assert!(stdout.contains("✓ check completed"), "{stdout}");
    assert!(stdout.contains("codecafe order diff"), "{stdout}");

    let orders = cli.json(&dir, &["order", "list", "--json"]);
    let orders = orders.as_array().expect("orders");
    assert_eq!(orders.len(), 1);
    let order = &orders[0];
    assert_eq!(order["status"], "completed");
    assert_eq!(order["recipeId"], "demo");
    let worktree = PathBuf::from(order["worktreePath"].as_str().expect("worktree"));
    assert_ne!(worktree, dir.canonicalize().expect("dir"));
    let script = std::fs::read_to_string(worktree.join("hello.sh")).expect("hello.sh");
    assert!(script.contains("hello from codecafe"), "{script}");
    assert!(
        !dir.join("hello.sh").exists(),
        "nothing in the main checkout"
    );

    // The events say the same: both stages, then the order completed.
    let id = order["id"].as_str().expect("id");
    let logs = cli.ok(&dir, &["order", "logs", &id[..8], "--json"]);
    let kinds: Vec<String> = logs
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("event"))
        .filter(|e| e["kind"] != "order:output")
        .map(|e| e["kind"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "order:created",
            "order:started",
            "stage:started",
            "stage:completed",
            "stage:started",
            "stage:completed",
            "order:completed"
        ]
    );
}

#[test]
fn demo_refuses_a_directory_that_is_not_empty() {
    let work = tempfile::tempdir().expect("temp work");
    let cli = Codecafe::new(env!("CARGO_BIN_EXE_codecafe")).non_interactive();
    std::fs::write(work.path().join("keep.txt"), "mine").expect("write");
    let err = cli.fails(
        work.path(),
        &["demo", "--dir", work.path().to_str().expect("utf-8 path")],
    );
    assert!(err.contains("not empty"), "{err}");
    assert_eq!(
        std::fs::read_to_string(work.path().join("keep.txt")).expect("kept"),
        "mine"
    );
}
