//! The worktree crate against real repositories made with the `git` CLI: create, status,
//! unmerged commits, diff, merge and remove, plus interoperability with `git` itself.

mod common;

use codecafe_worktree::{
    BranchFate, ChangeKind, DiffFormat, DiffTarget, MergeKind, MergeSpec, RemoveSpec,
    WorktreeError, create, diff, merge, remove, status, unmerged_commits,
};
use common::{Fixture, commit_file, git, git_output, read, snapshot, write};

// ---------------------------------------------------------------------------------------------
// create

#[test]
fn create_makes_branch_and_worktree_from_the_base() {
    let fx = Fixture::new();
    let made = create(&fx.repo, &fx.spec("abc123")).expect("creates");
    assert_eq!(made.branch.as_deref(), Some("cc/abc123"));
    assert_eq!(made.path, fx.root.join("abc123"));
    assert_eq!(made.base_commit, fx.head("main"));
    assert_eq!(made.base_branch, "main");
    assert!(!made.in_place);
    assert!(made.warnings.is_empty(), "{:?}", made.warnings);
    assert_eq!(read(&made.path, "a.txt"), "one\ntwo\nthree\n");
    assert_eq!(read(&made.path, "src/lib.rs"), "fn main() {}\n");
    assert_eq!(fx.head("cc/abc123"), fx.head("main"));
    // The main checkout did not move.
    assert_eq!(
        git(&fx.repo, &["symbolic-ref", "HEAD"]).trim(),
        "refs/heads/main"
    );
}

#[test]
fn created_worktree_works_with_plain_git() {
    let fx = Fixture::new();
    let made = create(&fx.repo, &fx.spec("interop")).expect("creates");
    let list = fx.worktree_list();
    assert!(
        list.contains(&format!("worktree {}\n", made.path.display())),
        "{list}"
    );
    assert!(list.contains("branch refs/heads/cc/interop\n"), "{list}");
    assert!(!list.contains("prunable"), "{list}");
    assert!(!list.contains("locked"), "{list}");
    // Clean, on the branch, and the index's stat data is good (no refresh needed).
    assert_eq!(git(&made.path, &["status", "--porcelain"]), "");
    assert_eq!(
        git(&made.path, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        "cc/interop"
    );
    assert_eq!(git(&made.path, &["diff-files", "--name-only"]), "");
    // Work in it with git, then let git remove it: our metadata is git's.
    commit_file(&made.path, "new.txt", "hi\n", "work");
    assert_eq!(
        fx.head("cc/interop"),
        git(&made.path, &["rev-parse", "HEAD"]).trim()
    );
    git(
        &fx.repo,
        &["worktree", "remove", &made.path.to_string_lossy()],
    );
    assert!(!made.path.exists());
    assert!(!fx.worktree_list().contains("interop"));
    git(&fx.repo, &["fsck", "--no-progress"]);
}

#[test]
fn a_taken_branch_is_never_reused() {
    let fx = Fixture::new();
    // Someone's branch with the order's name, on a different commit.
    git(&fx.repo, &["branch", "cc/abc123"]);
    commit_file(&fx.repo, "a.txt", "changed\n", "move main");
    let theirs = fx.head("cc/abc123");

    let made = create(&fx.repo, &fx.spec("abc123")).expect("creates");
    assert_eq!(made.branch.as_deref(), Some("cc/abc123-2"));
    assert_eq!(made.path, fx.root.join("abc123-2"));
    assert_eq!(
        fx.head("cc/abc123"),
        theirs,
        "someone's branch is untouched"
    );
    assert_eq!(fx.head("cc/abc123-2"), fx.head("main"));
    assert!(
        made.warnings
            .iter()
            .any(|w| w.contains("cc/abc123-2") && w.contains("branch `cc/abc123` exists")),
        "{:?}",
        made.warnings
    );

    // A directory in the way is not reused either.
    std::fs::create_dir_all(fx.root.join("zzz")).expect("mkdir");
    write(&fx.root.join("zzz"), "mine.txt", "precious\n");
    let made = create(&fx.repo, &fx.spec("zzz")).expect("creates");
    assert_eq!(made.branch.as_deref(), Some("cc/zzz-2"));
    assert_eq!(read(&fx.root.join("zzz"), "mine.txt"), "precious\n");
    assert!(!fx.branch_exists("cc/zzz"));
}

#[test]
fn a_stale_worktree_entry_in_the_way_is_pruned() {
    let fx = Fixture::new();
    let path = fx.root.join("abc123");
    git(
        &fx.repo,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "someone",
            &path.to_string_lossy(),
            "main",
        ],
    );
    std::fs::remove_dir_all(&path).expect("rm");
    assert!(fx.worktree_list().contains("prunable"));

    let made = create(&fx.repo, &fx.spec("abc123")).expect("creates");
    assert_eq!(made.path, path);
    assert_eq!(made.branch.as_deref(), Some("cc/abc123"));
    assert!(
        made.warnings.iter().any(|w| w.contains("pruned the stale")),
        "{:?}",
        made.warnings
    );
    assert!(
        fx.branch_exists("someone"),
        "the stale entry's branch is kept"
    );
    let list = fx.worktree_list();
    assert!(!list.contains("prunable"), "{list}");
    assert!(list.contains("branch refs/heads/cc/abc123"), "{list}");
    assert_eq!(git(&path, &["status", "--porcelain"]), "");
}

#[test]
fn a_locked_worktree_entry_in_the_way_is_reported() {
    let fx = Fixture::new();
    let path = fx.root.join("abc123");
    git(
        &fx.repo,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "someone",
            &path.to_string_lossy(),
            "main",
        ],
    );
    git(
        &fx.repo,
        &[
            "worktree",
            "lock",
            "--reason",
            "on the usb drive",
            &path.to_string_lossy(),
        ],
    );
    std::fs::remove_dir_all(&path).expect("rm");
    let before = git(&fx.repo, &["for-each-ref"]);

    let err = create(&fx.repo, &fx.spec("abc123")).expect_err("refused");
    assert!(
        matches!(err, WorktreeError::WorktreeLocked { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("on the usb drive"), "{msg}");
    assert!(msg.contains("git worktree unlock"), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert_eq!(git(&fx.repo, &["for-each-ref"]), before, "no branch made");
    assert!(
        fx.worktree_list().contains("locked"),
        "the entry is left alone"
    );
}

#[test]
fn a_missing_base_branch_is_a_clear_error() {
    let fx = Fixture::new();
    git(&fx.repo, &["branch", "release"]);
    let mut spec = fx.spec("abc123");
    spec.base_branch = "develop".to_owned();
    let err = create(&fx.repo, &spec).expect_err("refused");
    assert!(
        matches!(err, WorktreeError::BranchNotFound { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("`develop`"), "{msg}");
    assert!(msg.contains("main, release"), "{msg}");
    assert!(msg.contains("--base"), "{msg}");
    assert!(!fx.branch_exists("cc/abc123"));
    assert!(!fx.root.join("abc123").exists());
}

#[test]
fn the_base_can_be_a_branch_that_is_not_checked_out() {
    let fx = Fixture::new();
    git(&fx.repo, &["checkout", "-q", "-b", "release"]);
    let release = commit_file(&fx.repo, "release.txt", "r\n", "release work");
    git(&fx.repo, &["checkout", "-q", "main"]);
    let mut spec = fx.spec("rel");
    spec.base_branch = "release".to_owned();
    let made = create(&fx.repo, &spec).expect("creates");
    assert_eq!(made.base_commit, release);
    assert_eq!(read(&made.path, "release.txt"), "r\n");
}

#[test]
fn a_dirty_main_checkout_gives_a_clean_worktree() {
    let fx = Fixture::new();
    write(&fx.repo, "a.txt", "uncommitted edit\n");
    write(&fx.repo, "src/lib.rs", "staged edit\n");
    git(&fx.repo, &["add", "src/lib.rs"]);
    write(&fx.repo, "scratch/notes.txt", "untracked\n");
    let main_before = snapshot(&fx.repo, &[&fx.repo]);

    let made = create(&fx.repo, &fx.spec("dirty")).expect("creates");
    assert_eq!(read(&made.path, "a.txt"), "one\ntwo\nthree\n");
    assert_eq!(read(&made.path, "src/lib.rs"), "fn main() {}\n");
    assert!(!made.path.join("scratch").exists());
    assert_eq!(git(&made.path, &["status", "--porcelain", "-uall"]), "");
    let main_after = snapshot(&fx.repo, &[&fx.repo]);
    // Only the new branch appears among the refs; the main checkout is exactly as it was.
    assert_eq!(
        main_after.replace(&format!("refs/heads/cc/dirty {}\n", fx.head("main")), ""),
        main_before
    );
}

#[test]
fn no_worktree_runs_in_place_with_a_warning() {
    let fx = Fixture::new();
    let mut spec = fx.spec("inplace");
    spec.no_worktree = true;
    let made = create(&fx.repo, &spec).expect("in place");
    assert!(made.in_place);
    assert_eq!(made.path, fx.repo);
    assert_eq!(made.branch.as_deref(), Some("main"));
    assert_eq!(made.base_commit, fx.head("HEAD"));
    assert!(
        made.warnings.iter().any(|w| w.contains("in place")),
        "{:?}",
        made.warnings
    );
    assert!(!fx.branch_exists("cc/inplace"));
    assert!(!fx.root.exists());
    assert_eq!(fx.worktree_list().matches("worktree ").count(), 1);
}

#[test]
fn bad_names_and_prefix_conflicts_are_refused() {
    let fx = Fixture::new();
    for bad in ["", "-x", "a b", "a/b", "x.lock", "..", "a..b"] {
        let err = create(&fx.repo, &fx.spec(bad)).expect_err(bad);
        assert!(
            matches!(err, WorktreeError::InvalidName { .. }),
            "{bad}: {err:?}"
        );
    }
    let mut spec = fx.spec("ok");
    spec.branch_prefix = "bad prefix".to_owned();
    assert!(matches!(
        create(&fx.repo, &spec),
        Err(WorktreeError::InvalidName { .. })
    ));

    git(&fx.repo, &["branch", "cc"]);
    let err = create(&fx.repo, &fx.spec("ok")).expect_err("conflict");
    assert!(
        matches!(err, WorktreeError::PrefixConflict { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("choose another branch prefix"));

    let mut spec = fx.spec("ok");
    spec.branch_prefix = "team/agents/".to_owned();
    let made = create(&fx.repo, &spec).expect("nested prefix");
    assert_eq!(made.branch.as_deref(), Some("team/agents/ok"));
}

#[test]
fn not_a_repository_is_a_clear_error() {
    let temp = tempfile::tempdir().expect("temp");
    let err = create(
        temp.path(),
        &codecafe_worktree::CreateSpec {
            short_id: "x".into(),
            branch_prefix: "cc".into(),
            base_branch: "main".into(),
            worktree_root: temp.path().join("wt"),
            no_worktree: false,
        },
    )
    .expect_err("not a repo");
    assert!(
        matches!(err, WorktreeError::NotARepository { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("git init"));
}

// ---------------------------------------------------------------------------------------------
// status and unmerged commits

#[test]
fn status_lists_staged_unstaged_and_untracked() {
    let fx = Fixture::new();
    let made = create(&fx.repo, &fx.spec("st")).expect("creates");
    let clean = status(&made.path).expect("status");
    assert!(clean.is_clean());
    assert_eq!(clean.branch.as_deref(), Some("cc/st"));

    write(&made.path, "src/lib.rs", "staged\n");
    git(&made.path, &["add", "src/lib.rs"]);
    write(&made.path, "a.txt", "unstaged\n");
    write(&made.path, "new/deep/file.txt", "untracked\n");
    std::fs::write(made.path.join(".gitignore"), "target/\n").expect("write");
    write(&made.path, "target/build.o", "ignored\n");

    let st = status(&made.path).expect("status");
    assert_eq!(st.staged, vec!["src/lib.rs".to_owned()]);
    assert_eq!(st.unstaged, vec!["a.txt".to_owned()]);
    assert_eq!(
        st.untracked,
        vec![".gitignore".to_owned(), "new/deep/file.txt".to_owned()]
    );
    assert!(!st.is_clean());
    let lines = st.describe(5);
    assert_eq!(lines.len(), 3, "{lines:?}");
}

#[test]
fn unmerged_commits_are_listed_newest_first() {
    let fx = Fixture::new();
    let made = create(&fx.repo, &fx.spec("um")).expect("creates");
    assert!(
        unmerged_commits(&fx.repo, "cc/um", "main")
            .expect("none")
            .is_empty()
    );
    let first = commit_file(&made.path, "x.txt", "1\n", "first change");
    let second = commit_file(&made.path, "x.txt", "2\n", "second change");
    // Base moving on does not make its commits "unmerged".
    commit_file(&fx.repo, "base.txt", "b\n", "base work");
    let commits = unmerged_commits(&fx.repo, "cc/um", "main").expect("lists");
    assert_eq!(commits.len(), 2);
    assert_eq!(commits[0].id, second);
    assert_eq!(commits[0].summary, "second change");
    assert_eq!(commits[1].id, first);
    assert!(commits[1].line().ends_with(" first change"));

    let err = unmerged_commits(&fx.repo, "cc/nope", "main").expect_err("missing");
    assert!(err.to_string().contains("`cc/nope`"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// diff

#[test]
fn diff_shows_committed_and_uncommitted_changes() {
    let fx = Fixture::new();
    let made = create(&fx.repo, &fx.spec("df")).expect("creates");
    // Committed: a.txt one line changed and one added (+2 -1), a new file (+3).
    write(&made.path, "a.txt", "one\nTWO\nthree\nfour\n");
    write(&made.path, "docs/new.md", "# new\n\ntext\n");
    git(&made.path, &["add", "-A"]);
    git(&made.path, &["commit", "-q", "-m", "branch work"]);
    // The base moves on; its change must not show in the order's diff.
    commit_file(&fx.repo, "base-only.txt", "base\n", "base work");
    // Uncommitted: an edit (+1 -1) and an untracked file (+2).
    write(&made.path, "src/lib.rs", "fn main() { work() }\n");
    write(&made.path, "wip/todo.txt", "a\nb\n");

    let stat = diff(
        &fx.repo,
        &DiffTarget::Branch("cc/df".into()),
        "main",
        DiffFormat::Stat,
    )
    .expect("diff");
    assert_eq!(stat.branch.as_deref(), Some("cc/df"));
    assert_eq!(stat.merge_base, made.base_commit);
    let c = &stat.committed;
    assert_eq!(
        (c.files.len(), c.insertions, c.deletions),
        (2, 5, 1),
        "{c:?}"
    );
    let a = c.files.iter().find(|f| f.path == "a.txt").expect("a.txt");
    assert_eq!(
        (a.insertions, a.deletions, a.kind),
        (2, 1, ChangeKind::Modified)
    );
    let n = c
        .files
        .iter()
        .find(|f| f.path == "docs/new.md")
        .expect("new");
    assert_eq!((n.insertions, n.kind), (3, ChangeKind::Added));
    assert!(!c.files.iter().any(|f| f.path == "base-only.txt"));
    // The same numbers as `git diff --numstat main...cc/df`.
    let numstat = git(&fx.repo, &["diff", "--numstat", "main...cc/df"]);
    assert_eq!(numstat, "2\t1\ta.txt\n3\t0\tdocs/new.md\n");
    assert!(
        c.text
            .contains("2 files changed, 5 insertions(+), 1 deletion(-)"),
        "{}",
        c.text
    );

    let u = stat.uncommitted.as_ref().expect("worktree section");
    assert_eq!(stat.worktree.as_deref(), Some(made.path.as_path()));
    assert_eq!(
        (u.files.len(), u.insertions, u.deletions),
        (2, 3, 1),
        "{u:?}"
    );
    let wip = u
        .files
        .iter()
        .find(|f| f.path == "wip/todo.txt")
        .expect("wip");
    assert_eq!(wip.kind, ChangeKind::Untracked);
    assert!(u.text.contains("2 files changed"), "{}", u.text);

    let shown = stat.to_string();
    assert!(shown.contains("# committed on `cc/df`"), "{shown}");
    assert!(shown.contains("# uncommitted in"), "{shown}");

    // Patch form, through the worktree path.
    let patch = diff(
        &fx.repo,
        &DiffTarget::Worktree(made.path.clone()),
        "main",
        DiffFormat::Patch,
    )
    .expect("diff");
    assert!(patch.committed.text.contains("diff --git a/a.txt b/a.txt"));
    assert!(
        patch.committed.text.contains("-two\n+TWO\n"),
        "{}",
        patch.committed.text
    );
    assert!(patch.committed.text.contains("+four\n"));
    let u = patch.uncommitted.expect("uncommitted");
    assert!(u.text.contains("+fn main() { work() }"), "{}", u.text);
    assert!(u.text.contains("+++ b/wip/todo.txt"), "{}", u.text);
}

#[test]
fn diff_of_a_branch_without_a_worktree_has_no_uncommitted_section() {
    let fx = Fixture::new();
    git(&fx.repo, &["branch", "side"]);
    let report = diff(
        &fx.repo,
        &DiffTarget::Branch("side".into()),
        "main",
        DiffFormat::Patch,
    )
    .expect("diff");
    assert!(report.committed.is_empty());
    assert!(report.uncommitted.is_none());
    assert!(report.to_string().contains("(no changes)"));
}

// ---------------------------------------------------------------------------------------------
// merge

fn merge_spec(branch: &str, into: &str, squash: bool) -> MergeSpec {
    MergeSpec {
        branch: branch.to_owned(),
        into: into.to_owned(),
        squash,
        message: None,
    }
}

#[test]
fn merge_fast_forwards_a_branch_that_is_not_checked_out() {
    let fx = Fixture::new();
    git(&fx.repo, &["branch", "release"]);
    let made = create(&fx.repo, &fx.spec("ff")).expect("creates");
    let tip = commit_file(&made.path, "feature.txt", "f\n", "feature");
    // The main checkout is on `main` and dirty; merging into `release` must not touch it.
    write(&fx.repo, "a.txt", "local edit\n");
    let main_before = snapshot(&fx.repo, &[&fx.repo]);

    let out = merge(&fx.repo, &merge_spec("cc/ff", "release", false)).expect("merges");
    assert_eq!(out.kind, MergeKind::FastForward);
    assert_eq!(out.new_tip, tip);
    assert_eq!(fx.head("release"), tip);
    assert!(out.updated_checkout.is_none());
    let main_after = snapshot(&fx.repo, &[&fx.repo]);
    assert_eq!(
        main_after,
        main_before.replace(
            &format!("refs/heads/release {}", out.old_tip),
            &format!("refs/heads/release {tip}")
        )
    );

    let again = merge(&fx.repo, &merge_spec("cc/ff", "release", false)).expect("no-op");
    assert_eq!(again.kind, MergeKind::UpToDate);
}

#[test]
fn merge_makes_a_merge_commit_when_both_moved() {
    let fx = Fixture::new();
    git(&fx.repo, &["branch", "target"]);
    let made = create(&fx.repo, &fx.spec("mc")).expect("creates");
    let theirs = commit_file(&made.path, "feature.txt", "f\n", "feature");
    // Move `target` in another worktree, so it is not the main checkout's branch.
    let other = fx.root.join("other");
    git(
        &fx.repo,
        &["worktree", "add", "-q", &other.to_string_lossy(), "target"],
    );
    let ours = commit_file(&other, "a.txt", "one\ntwo\nthree\nfour\n", "target work");
    git(&fx.repo, &["worktree", "remove", &other.to_string_lossy()]);

    let out = merge(&fx.repo, &merge_spec("cc/mc", "target", false)).expect("merges");
    assert_eq!(out.kind, MergeKind::MergeCommit);
    assert_eq!(out.old_tip, ours);
    let parents = git(&fx.repo, &["rev-list", "--parents", "-n1", "target"]);
    assert_eq!(parents.trim(), format!("{} {ours} {theirs}", out.new_tip));
    assert_eq!(
        git(&fx.repo, &["log", "-1", "--format=%s", "target"]).trim(),
        "Merge branch 'cc/mc' into target"
    );
    let files = git(&fx.repo, &["ls-tree", "-r", "--name-only", "target"]);
    assert!(
        files.contains("feature.txt") && files.contains("a.txt"),
        "{files}"
    );
    assert_eq!(
        git(&fx.repo, &["show", "target:a.txt"]),
        "one\ntwo\nthree\nfour\n"
    );
    assert_eq!(fx.head("cc/mc"), theirs, "the order's branch is unchanged");
    // The author is GIT_AUTHOR_* when set (as for `git`), else the repository's config.
    let expected = match (
        std::env::var("GIT_AUTHOR_NAME"),
        std::env::var("GIT_AUTHOR_EMAIL"),
    ) {
        (Ok(name), Ok(email)) => format!("{name} <{email}>"),
        _ => "Config User <config@example.com>".to_owned(),
    };
    assert_eq!(
        git(&fx.repo, &["log", "-1", "--format=%an <%ae>", "target"]).trim(),
        expected
    );
}

#[test]
fn merge_squash_makes_one_commit_with_one_parent() {
    let fx = Fixture::new();
    git(&fx.repo, &["branch", "target"]);
    let made = create(&fx.repo, &fx.spec("sq")).expect("creates");
    commit_file(&made.path, "f1.txt", "1\n", "step one");
    commit_file(&made.path, "f2.txt", "2\n", "step two");
    let old = fx.head("target");

    let out = merge(&fx.repo, &merge_spec("cc/sq", "target", true)).expect("squashes");
    assert_eq!(out.kind, MergeKind::Squash);
    let parents = git(&fx.repo, &["rev-list", "--parents", "-n1", "target"]);
    assert_eq!(parents.trim(), format!("{} {old}", out.new_tip));
    let message = git(&fx.repo, &["log", "-1", "--format=%B", "target"]);
    assert!(message.starts_with("Squashed branch 'cc/sq'"), "{message}");
    assert!(message.contains("* step one\n* step two"), "{message}");
    assert_eq!(
        git(&fx.repo, &["rev-parse", "target^{tree}"]),
        git(&fx.repo, &["rev-parse", "cc/sq^{tree}"])
    );

    // With a message of our own.
    let made = create(&fx.repo, &fx.spec("sq2")).expect("creates");
    commit_file(&made.path, "f3.txt", "3\n", "more");
    let mut spec = merge_spec("cc/sq2", "target", true);
    spec.message = Some("Add f3 (order sq2)".into());
    merge(&fx.repo, &spec).expect("squashes");
    assert_eq!(
        git(&fx.repo, &["log", "-1", "--format=%s", "target"]).trim(),
        "Add f3 (order sq2)"
    );
}

#[test]
fn merge_into_the_checked_out_branch_updates_a_clean_checkout() {
    let fx = Fixture::new();
    let made = create(&fx.repo, &fx.spec("co")).expect("creates");
    commit_file(&made.path, "feature.txt", "f\n", "feature");
    commit_file(&fx.repo, "a.txt", "one\ntwo\nthree\nmain\n", "main work");
    write(&fx.repo, "untracked.txt", "mine\n");

    let out = merge(&fx.repo, &merge_spec("cc/co", "main", false)).expect("merges");
    assert_eq!(out.kind, MergeKind::MergeCommit);
    assert_eq!(out.updated_checkout.as_deref(), Some(fx.repo.as_path()));
    assert_eq!(fx.head("HEAD"), out.new_tip);
    assert_eq!(read(&fx.repo, "feature.txt"), "f\n");
    assert_eq!(read(&fx.repo, "untracked.txt"), "mine\n");
    assert_eq!(
        git(&fx.repo, &["status", "--porcelain"]),
        "?? untracked.txt\n"
    );
}

#[test]
fn merge_into_a_dirty_checked_out_branch_is_refused_with_nothing_changed() {
    let fx = Fixture::new();
    let made = create(&fx.repo, &fx.spec("dt")).expect("creates");
    commit_file(&made.path, "feature.txt", "f\n", "feature");
    write(&fx.repo, "a.txt", "local edit\n");
    let before = snapshot(&fx.repo, &[&fx.repo, &made.path]);

    let err = merge(&fx.repo, &merge_spec("cc/dt", "main", false)).expect_err("refused");
    assert!(
        matches!(err, WorktreeError::TargetCheckoutDirty { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("a.txt"), "{err}");
    assert_eq!(snapshot(&fx.repo, &[&fx.repo, &made.path]), before);
}

#[test]
fn merge_blocked_by_an_untracked_file_changes_nothing() {
    let fx = Fixture::new();
    let made = create(&fx.repo, &fx.spec("ut")).expect("creates");
    commit_file(&made.path, "feature.txt", "from the branch\n", "feature");
    write(&fx.repo, "feature.txt", "my untracked copy\n");
    let before = snapshot(&fx.repo, &[&fx.repo, &made.path]);

    let err = merge(&fx.repo, &merge_spec("cc/ut", "main", false)).expect_err("refused");
    assert!(
        matches!(err, WorktreeError::TargetCheckoutBlocked { .. }),
        "{err:?}"
    );
    assert_eq!(snapshot(&fx.repo, &[&fx.repo, &made.path]), before);
}

#[test]
fn a_conflicting_merge_is_refused_and_changes_nothing() {
    let fx = Fixture::new();
    git(&fx.repo, &["branch", "target"]);
    let made = create(&fx.repo, &fx.spec("cf")).expect("creates");
    commit_file(&made.path, "a.txt", "one\nBRANCH\nthree\n", "branch edit");
    commit_file(&made.path, "src/lib.rs", "fn branch() {}\n", "branch lib");
    commit_file(&fx.repo, "a.txt", "one\nMAIN\nthree\n", "main edit");
    commit_file(&fx.repo, "src/lib.rs", "fn main_side() {}\n", "main lib");
    git(&fx.repo, &["branch", "-f", "target", "main"]);
    // Some uncommitted state in both checkouts, which must survive untouched.
    write(&made.path, "wip.txt", "wip\n");
    write(&fx.repo, "notes.txt", "notes\n");

    for into in ["target", "main"] {
        let before = snapshot(&fx.repo, &[&fx.repo, &made.path]);
        for squash in [false, true] {
            let err = merge(&fx.repo, &merge_spec("cc/cf", into, squash)).expect_err("conflict");
            let WorktreeError::MergeConflict { paths, .. } = &err else {
                panic!("{err:?}");
            };
            assert_eq!(paths, &vec!["a.txt".to_owned(), "src/lib.rs".to_owned()]);
            let msg = err.to_string();
            assert!(msg.contains("nothing was changed"), "{msg}");
            assert!(msg.contains("  - a.txt"), "{msg}");
            assert_eq!(
                snapshot(&fx.repo, &[&fx.repo, &made.path]),
                before,
                "into {into}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// remove

fn remove_spec(path: &std::path::Path, branch: &str) -> RemoveSpec {
    RemoveSpec {
        worktree: path.to_owned(),
        branch: Some(branch.to_owned()),
        base: "main".to_owned(),
        force: false,
        delete_branch: false,
    }
}

fn assert_no_entry(fx: &Fixture, name: &str) {
    let list = fx.worktree_list();
    assert!(!list.contains(&format!("/{name}\n")), "{list}");
    assert!(!list.contains("prunable"), "{list}");
    assert_eq!(list.matches("worktree ").count(), 1, "{list}");
    let admin = fx.repo.join(".git/worktrees").join(name);
    assert!(!admin.exists(), "{}", admin.display());
}

#[test]
fn remove_clean_worktree() {
    let fx = Fixture::new();
    let made = create(&fx.repo, &fx.spec("clean")).expect("creates");
    let out = remove(&fx.repo, &remove_spec(&made.path, "cc/clean")).expect("removes");
    assert_eq!(out.removed_path.as_deref(), Some(made.path.as_path()));
    assert_eq!(out.pruned_entry.as_deref(), Some("clean"));
    assert_eq!(out.branch, BranchFate::Kept("cc/clean".into()));
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert!(!made.path.exists());
    assert!(fx.branch_exists("cc/clean"));
    assert_no_entry(&fx, "clean");
}

#[test]
fn remove_deletes_ignored_files_with_the_worktree() {
    let fx = Fixture::new();
    commit_file(&fx.repo, ".gitignore", "target/\n", "ignore target");
    let made = create(&fx.repo, &fx.spec("ign")).expect("creates");
    write(&made.path, "target/debug/out.o", "build output\n");
    remove(&fx.repo, &remove_spec(&made.path, "cc/ign")).expect("removes");
    assert!(!made.path.exists());
    assert_no_entry(&fx, "ign");
}

#[test]
fn remove_a_dirty_worktree_is_refused() {
    let fx = Fixture::new();
    let made = create(&fx.repo, &fx.spec("dirty")).expect("creates");
    write(&made.path, "a.txt", "edited\n");
    write(&made.path, "notes/idea.txt", "untracked\n");
    let before = snapshot(&fx.repo, &[&fx.repo, &made.path]);

    let err = remove(&fx.repo, &remove_spec(&made.path, "cc/dirty")).expect_err("refused");
    let WorktreeError::WouldLoseWork { reasons, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    let msg = err.to_string();
    assert!(msg.contains("1 unstaged change: a.txt"), "{msg}");
    assert!(msg.contains("1 untracked file: notes/idea.txt"), "{msg}");
    assert!(msg.contains("--force"), "{msg}");
    assert_eq!(snapshot(&fx.repo, &[&fx.repo, &made.path]), before);
    assert!(fx.worktree_list().contains("cc/dirty"));

    // Only untracked files is still work.
    git(&made.path, &["checkout", "--", "a.txt"]);
    let err = remove(&fx.repo, &remove_spec(&made.path, "cc/dirty")).expect_err("refused");
    assert!(err.to_string().contains("notes/idea.txt"), "{err}");
    assert!(made.path.join("notes/idea.txt").exists());
}

#[test]
fn remove_with_unmerged_commits_is_refused() {
    let fx = Fixture::new();
    let made = create(&fx.repo, &fx.spec("um")).expect("creates");
    commit_file(&made.path, "x.txt", "x\n", "unmerged work");
    let err = remove(&fx.repo, &remove_spec(&made.path, "cc/um")).expect_err("refused");
    let msg = err.to_string();
    assert!(
        msg.contains("branch `cc/um` has 1 commit not merged into `main`"),
        "{msg}"
    );
    assert!(msg.contains("unmerged work"), "{msg}");
    assert!(made.path.join("x.txt").exists());

    // After merging, it goes.
    merge(&fx.repo, &merge_spec("cc/um", "main", false)).expect("merges");
    let mut spec = remove_spec(&made.path, "cc/um");
    spec.delete_branch = true;
    let out = remove(&fx.repo, &spec).expect("removes");
    assert!(matches!(out.branch, BranchFate::Deleted { .. }));
    assert!(!fx.branch_exists("cc/um"));
    assert_no_entry(&fx, "um");
}

#[test]
fn remove_with_force_keeps_the_branch() {
    let fx = Fixture::new();
    let made = create(&fx.repo, &fx.spec("fk")).expect("creates");
    let tip = commit_file(&made.path, "x.txt", "x\n", "unmerged work");
    write(&made.path, "wip.txt", "wip\n");
    let mut spec = remove_spec(&made.path, "cc/fk");
    spec.force = true;
    let out = remove(&fx.repo, &spec).expect("removes");
    assert_eq!(out.branch, BranchFate::Kept("cc/fk".into()));
    assert_eq!(fx.head("cc/fk"), tip, "the commits are kept on the branch");
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("--force") && w.contains("wip.txt"))
    );
    assert!(out.warnings.iter().any(|w| w.contains("unmerged work")));
    assert!(!made.path.exists());
    assert_no_entry(&fx, "fk");
}

#[test]
fn remove_with_force_and_delete_branch_deletes_it() {
    let fx = Fixture::new();
    let made = create(&fx.repo, &fx.spec("fd")).expect("creates");
    let tip = commit_file(&made.path, "x.txt", "x\n", "unmerged work");
    let mut spec = remove_spec(&made.path, "cc/fd");
    spec.force = true;
    spec.delete_branch = true;
    let out = remove(&fx.repo, &spec).expect("removes");
    assert_eq!(
        out.branch,
        BranchFate::Deleted {
            name: "cc/fd".into(),
            tip: tip.clone()
        }
    );
    assert!(!fx.branch_exists("cc/fd"));
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains(&format!("git branch cc/fd {tip}"))),
        "{:?}",
        out.warnings
    );
    assert_no_entry(&fx, "fd");
}

#[test]
fn remove_refuses_to_delete_an_unmerged_branch_without_force() {
    let fx = Fixture::new();
    let made = create(&fx.repo, &fx.spec("nd")).expect("creates");
    commit_file(&made.path, "x.txt", "x\n", "unmerged work");
    let mut spec = remove_spec(&made.path, "cc/nd");
    spec.delete_branch = true;
    remove(&fx.repo, &spec).expect_err("refused");
    assert!(fx.branch_exists("cc/nd"));
    assert!(made.path.exists());
}

#[test]
fn remove_protects_commits_on_a_detached_head() {
    let fx = Fixture::new();
    let made = create(&fx.repo, &fx.spec("det")).expect("creates");
    git(&made.path, &["checkout", "-q", "--detach"]);
    commit_file(&made.path, "lost.txt", "x\n", "commit on no branch");
    let err = remove(&fx.repo, &remove_spec(&made.path, "cc/det")).expect_err("refused");
    assert!(err.to_string().contains("detached"), "{err}");
    assert!(made.path.exists());
}

#[test]
fn remove_a_worktree_whose_directory_is_gone_prunes_the_entry() {
    let fx = Fixture::new();
    let made = create(&fx.repo, &fx.spec("gone")).expect("creates");
    std::fs::remove_dir_all(&made.path).expect("rm");
    let out = remove(&fx.repo, &remove_spec(&made.path, "cc/gone")).expect("prunes");
    assert_eq!(out.removed_path, None);
    assert_eq!(out.pruned_entry.as_deref(), Some("gone"));
    assert!(out.warnings.iter().any(|w| w.contains("already gone")));
    assert_no_entry(&fx, "gone");
    // And again: nothing left to do, still fine.
    let out = remove(&fx.repo, &remove_spec(&made.path, "cc/gone")).expect("idempotent");
    assert_eq!(out.pruned_entry, None);
}

#[test]
fn remove_refuses_unknown_directories_and_keeps_in_place_checkouts() {
    let fx = Fixture::new();
    let stranger = fx.root.join("stranger");
    write(&stranger, "file.txt", "not a worktree\n");
    let err = remove(&fx.repo, &remove_spec(&stranger, "cc/x")).expect_err("refused");
    assert!(matches!(err, WorktreeError::NotAWorktree { .. }), "{err:?}");
    assert!(stranger.join("file.txt").exists());

    let mut spec = remove_spec(&fx.repo, "main");
    spec.force = true;
    spec.delete_branch = true;
    let out = remove(&fx.repo, &spec).expect("in place");
    assert_eq!(out.removed_path, None);
    assert_eq!(out.branch, BranchFate::Kept("main".into()));
    assert!(fx.repo.join("a.txt").exists());
    assert!(fx.branch_exists("main"));
}

#[test]
fn remove_a_locked_worktree_needs_force() {
    let fx = Fixture::new();
    let made = create(&fx.repo, &fx.spec("lk")).expect("creates");
    git(
        &fx.repo,
        &[
            "worktree",
            "lock",
            "--reason",
            "keep me",
            &made.path.to_string_lossy(),
        ],
    );
    let err = remove(&fx.repo, &remove_spec(&made.path, "cc/lk")).expect_err("refused");
    assert!(err.to_string().contains("keep me"), "{err}");
    let mut spec = remove_spec(&made.path, "cc/lk");
    spec.force = true;
    remove(&fx.repo, &spec).expect("forced");
    assert_no_entry(&fx, "lk");
    let out = git_output(&fx.repo, &["worktree", "prune", "-v"]);
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
}

#[test]
fn remove_after_a_squash_merge_needs_no_force() {
    let fx = Fixture::new();
    let made = create(&fx.repo, &fx.spec("sqm")).expect("creates");
    commit_file(&made.path, "f1.txt", "1\n", "step one");
    commit_file(&made.path, "f2.txt", "2\n", "step two");
    merge(&fx.repo, &merge_spec("cc/sqm", "main", true)).expect("squashes");
    // The commits are not reachable from main, but their changes are there.
    assert_eq!(
        unmerged_commits(&fx.repo, "cc/sqm", "main")
            .expect("lists")
            .len(),
        2
    );
    let mut spec = remove_spec(&made.path, "cc/sqm");
    spec.delete_branch = true;
    let out = remove(&fx.repo, &spec).expect("removes");
    assert!(matches!(out.branch, BranchFate::Deleted { .. }));
    assert!(
        out.warnings.iter().any(|w| w.contains("squash-merged")),
        "{:?}",
        out.warnings
    );
    assert_no_entry(&fx, "sqm");
}

#[test]
fn remove_after_a_squash_merge_that_was_reverted_is_refused() {
    let fx = Fixture::new();
    let made = create(&fx.repo, &fx.spec("rv")).expect("creates");
    commit_file(&made.path, "f1.txt", "1\n", "step one");
    merge(&fx.repo, &merge_spec("cc/rv", "main", true)).expect("squashes");
    git(&fx.repo, &["revert", "--no-edit", "HEAD"]);
    let err = remove(&fx.repo, &remove_spec(&made.path, "cc/rv")).expect_err("refused");
    assert!(err.to_string().contains("step one"), "{err}");
}

#[test]
fn concurrent_creations_with_the_same_id_get_distinct_names() {
    let fx = Fixture::new();
    let made: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| create(&fx.repo, &fx.spec("same")).expect("creates")))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let mut branches: Vec<_> = made.iter().filter_map(|m| m.branch.clone()).collect();
    branches.sort();
    assert_eq!(
        branches,
        vec!["cc/same", "cc/same-2", "cc/same-3", "cc/same-4"]
    );
    for m in &made {
        assert_eq!(git(&m.path, &["status", "--porcelain"]), "");
    }
    let list = fx.worktree_list();
    assert_eq!(list.matches("worktree ").count(), 5, "{list}");
    assert!(
        !list.contains("locked") && !list.contains("prunable"),
        "{list}"
    );
}

#[test]
fn a_failed_creation_leaves_nothing_behind() {
    let fx = Fixture::new();
    // A base whose tree has a path no checkout may write (`sub/.git`): the branch is made
    // first, the checkout fails, and everything is undone.
    let blob = run_stdin(&fx.repo, &["hash-object", "-w", "--stdin"], "x\n");
    let inner = run_stdin(
        &fx.repo,
        &["mktree"],
        &format!("100644 blob {blob}\t.git\n"),
    );
    let outer = run_stdin(
        &fx.repo,
        &["mktree"],
        &format!("040000 tree {inner}\tsub\n"),
    );
    let commit = git(
        &fx.repo,
        &["commit-tree", &outer, "-p", "main", "-m", "evil"],
    );
    git(&fx.repo, &["branch", "evil", commit.trim()]);
    let before = git(&fx.repo, &["for-each-ref"]);
    let mut spec = fx.spec("fail");
    spec.base_branch = "evil".to_owned();
    let err = create(&fx.repo, &spec).expect_err("fails");
    assert!(matches!(err, WorktreeError::Git { .. }), "{err:?}");
    assert!(err.to_string().contains("checking out `cc/fail`"), "{err}");
    assert_eq!(
        git(&fx.repo, &["for-each-ref"]),
        before,
        "the new branch was undone"
    );
    assert_eq!(fx.worktree_list().matches("worktree ").count(), 1);
    assert!(!fx.repo.join(".git/worktrees/fail").exists());
    assert!(!fx.root.join("fail").exists());
}

fn run_stdin(dir: &std::path::Path, args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("git runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("git ends");
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}
