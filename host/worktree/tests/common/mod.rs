//! Real repositories in temp dirs, driven with the `git` CLI, for the worktree tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use codecafe_worktree::CreateSpec;

/// Runs `git` in `dir` and returns its stdout; panics with stderr on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_output(dir, args);
    assert!(
        out.status.success(),
        "git {args:?} in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Runs `git` in `dir` and returns everything.
pub fn git_output(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs")
}

/// Writes `content` to `dir/rel`, creating parents.
pub fn write(dir: &Path, rel: &str, content: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, content).expect("write");
}

/// Reads `dir/rel`.
pub fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).expect("read")
}

/// Writes a file and commits it.
pub fn commit_file(dir: &Path, rel: &str, content: &str, message: &str) -> String {
    write(dir, rel, content);
    git(dir, &["add", "--", rel]);
    git(dir, &["commit", "-q", "-m", message]);
    git(dir, &["rev-parse", "HEAD"]).trim().to_owned()
}

/// A repository on `main` with two committed files, and a worktree root beside it.
pub struct Fixture {
    /// Keeps the temp dir alive.
    pub temp: tempfile::TempDir,
    /// The repository's top level (canonical).
    pub repo: PathBuf,
    /// Where worktrees go (outside the repository).
    pub root: PathBuf,
}

impl Fixture {
    pub fn new() -> Self {
        let temp = tempfile::tempdir().expect("temp");
        let base = std::fs::canonicalize(temp.path()).expect("canonical");
        let repo = base.join("repo");
        std::fs::create_dir_all(&repo).expect("mkdir");
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["config", "user.name", "Config User"]);
        git(&repo, &["config", "user.email", "config@example.com"]);
        write(&repo, "a.txt", "one\ntwo\nthree\n");
        write(&repo, "src/lib.rs", "fn main() {}\n");
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "init"]);
        Fixture {
            temp,
            repo,
            root: base.join("worktrees"),
        }
    }

    /// A spec for `short_id` with prefix `cc` and base `main`.
    pub fn spec(&self, short_id: &str) -> CreateSpec {
        CreateSpec {
            short_id: short_id.to_owned(),
            branch_prefix: "cc".to_owned(),
            base_branch: "main".to_owned(),
            worktree_root: self.root.clone(),
            no_worktree: false,
        }
    }

    pub fn head(&self, rev: &str) -> String {
        git(&self.repo, &["rev-parse", rev]).trim().to_owned()
    }

    pub fn branch_exists(&self, name: &str) -> bool {
        git_output(
            &self.repo,
            &["show-ref", "--verify", "-q", &format!("refs/heads/{name}")],
        )
        .status
        .success()
    }

    /// `git worktree list --porcelain`.
    pub fn worktree_list(&self) -> String {
        git(&self.repo, &["worktree", "list", "--porcelain"])
    }
}

/// Everything a user could see change: all refs, and for each checkout its HEAD, index bytes,
/// `git status` and every file's content.
pub fn snapshot(repo: &Path, checkouts: &[&Path]) -> String {
    let mut out = git(repo, &["for-each-ref", "--format=%(refname) %(objectname)"]);
    for checkout in checkouts {
        out.push_str(&format!("== {}\n", checkout.display()));
        out.push_str(&git(checkout, &["rev-parse", "HEAD"]));
        out.push_str(&String::from_utf8_lossy(
            &git_output(checkout, &["symbolic-ref", "-q", "HEAD"]).stdout,
        ));
        let index = git(
            checkout,
            &["rev-parse", "--path-format=absolute", "--git-path", "index"],
        );
        let bytes = std::fs::read(index.trim()).unwrap_or_default();
        out.push_str(&format!("index {} bytes {:?}\n", bytes.len(), fnv(&bytes)));
        out.push_str(&git(
            checkout,
            &["--no-optional-locks", "status", "--porcelain=v1", "-uall"],
        ));
        let mut files = Vec::new();
        walk(checkout, checkout, &mut files);
        files.sort();
        for (rel, content) in files {
            out.push_str(&format!("{rel}: {content:?}\n"));
        }
    }
    out
}

fn walk(top: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let entry = entry.expect("entry");
        let path = entry.path();
        if entry.file_name() == ".git" {
            continue;
        }
        if path.is_dir() {
            walk(top, &path, out);
        } else {
            let rel = path
                .strip_prefix(top)
                .expect("inside")
                .to_string_lossy()
                .into_owned();
            out.push((rel, std::fs::read_to_string(&path).unwrap_or_default()));
        }
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}
