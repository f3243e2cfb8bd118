//! Git repositories for tests: running `git` with a fixed identity, making a repository.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::text;

/// Runs `git args` in `dir` as author and committer `t <t@example.com>`; returns its stdout.
///
/// # Panics
/// If git cannot be started or does not succeed; the message has the arguments and stderr.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// A new git repository at `path` (made if missing) on `branch`, with one empty commit
/// `first`; returns its canonical path.
///
/// # Panics
/// If the folder cannot be made or a git command fails.
pub fn init_repo(path: &Path, branch: &str) -> PathBuf {
    init_repo_with(path, branch, &[])
}

/// A new git repository at `path` (made if missing) on `branch`, with one commit `first`
/// holding `files` (each a relative path and its content; none makes an empty commit);
/// returns its canonical path.
///
/// # Panics
/// If the folder or a file cannot be written or a git command fails.
pub fn init_repo_with(path: &Path, branch: &str, files: &[(&str, &str)]) -> PathBuf {
    std::fs::create_dir_all(path).expect("repository folder");
    git(path, &["init", "-q", "-b", branch]);
    if files.is_empty() {
        git(path, &["commit", "-q", "--allow-empty", "-m", "first"]);
    } else {
        for (file, content) in files {
            let file = path.join(file);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent).expect("folder of a seeded file");
            }
            std::fs::write(file, content).expect("seeded file");
        }
        git(path, &["add", "."]);
        git(path, &["commit", "-q", "-m", "first"]);
    }
    std::fs::canonicalize(path).expect("canonical repository path")
}
