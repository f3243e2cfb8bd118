//! Running the `codecafe` binary against a private home, and checking how it exited.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::shared_compile_cache;

/// The `codecafe` binary bound to a private, temporary `CODECAFE_HOME`.
///
/// Every command it makes runs with `CODECAFE_HOME` set to that home, `CODECAFE_CACHE_DIR` set
/// to [`shared_compile_cache`], `NO_COLOR=1`, no `RUST_LOG` and `CODECAFE_TRUST=1` (the tests'
/// repositories run `command` stages; [`Codecafe::untrusted`] leaves trust to the test), with
/// stdout and stderr piped. The home is deleted when this value is dropped.
///
/// ```no_run
/// # use std::path::Path;
/// # use codecafe_test_support::Codecafe;
/// // In a test of the `codecafe` package: `env!("CARGO_BIN_EXE_codecafe")`.
/// let codecafe = Codecafe::new("target/debug/codecafe");
/// let list = codecafe.json(Path::new("."), &["cafe", "list", "--json"]);
/// assert!(list.is_array());
/// ```
pub struct Codecafe {
    bin: PathBuf,
    home: tempfile::TempDir,
    non_interactive: bool,
    trust_all: bool,
}

impl Codecafe {
    /// The binary at `bin` with a new, empty home.
    ///
    /// `bin` is passed in because `CARGO_BIN_EXE_codecafe` only exists in the tests of the
    /// package that builds the binary.
    ///
    /// # Panics
    /// If no temporary directory can be made.
    pub fn new(bin: impl Into<PathBuf>) -> Self {
        Self {
            bin: bin.into(),
            home: tempfile::tempdir().expect("a temporary CODECAFE_HOME"),
            non_interactive: false,
            trust_all: true,
        }
    }

    /// From now on, commands run as for a user with no editor and no input: `EDITOR` and
    /// `VISUAL` are removed and stdin is null (a command may still set them again).
    #[must_use]
    pub fn non_interactive(mut self) -> Self {
        self.non_interactive = true;
        self
    }

    /// From now on, commands run without `CODECAFE_TRUST` (removed from the environment too), as
    /// for a user who trusts repositories one by one with `codecafe trust`.
    #[must_use]
    pub fn untrusted(mut self) -> Self {
        self.trust_all = false;
        self
    }

    /// The private `CODECAFE_HOME`.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// A command running `codecafe args` in `cwd`, its environment set, stdout and stderr
    /// piped; to change further (stdin, more variables) before running it.
    pub fn command(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .args(args)
            .current_dir(cwd)
            .env("CODECAFE_HOME", self.home.path())
            .env("CODECAFE_CACHE_DIR", shared_compile_cache())
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if self.trust_all {
            command.env("CODECAFE_TRUST", "1");
        } else {
            command.env_remove("CODECAFE_TRUST");
        }
        if self.non_interactive {
            command
                .env_remove("EDITOR")
                .env_remove("VISUAL")
                .stdin(Stdio::null());
        }
        command
    }

    /// Runs `codecafe args` in `cwd`, whatever its exit status. Whatever JSON it prints is
    /// checked for one key casing ([`crate::casing::assert_one_casing`]).
    ///
    /// # Panics
    /// If the binary cannot be started, or it printed a JSON key that is not camelCase.
    pub fn run(&self, cwd: &Path, args: &[&str]) -> Output {
        let output = self.command(cwd, args).output().expect("codecafe runs");
        crate::casing::assert_one_casing(args, &text(&output.stdout));
        output
    }

    /// Runs `codecafe args` in `cwd`, which must succeed; returns its stdout.
    ///
    /// # Panics
    /// If it does not succeed; the message has the arguments, stdout and stderr.
    pub fn ok(&self, cwd: &Path, args: &[&str]) -> String {
        let output = self.run(cwd, args);
        assert!(
            output.status.success(),
            "{args:?} failed: {}{}",
            text(&output.stdout),
            text(&output.stderr)
        );
        text(&output.stdout)
    }

    /// Runs `codecafe args` in `cwd`, which must exit with status 1; returns its stdout and
    /// stderr.
    ///
    /// # Panics
    /// If the exit status is not 1; the message has the arguments, stdout and stderr.
    pub fn failure(&self, cwd: &Path, args: &[&str]) -> (String, String) {
        let output = self.run(cwd, args);
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?} should fail: {stdout}{stderr}"
        );
        (stdout, stderr)
    }

    /// Runs `codecafe args` in `cwd`, which must stop as not ready (exit status 5: a provider,
    /// the repository's trust or the machine); returns its stderr.
    ///
    /// # Panics
    /// If it exits with another status.
    pub fn not_ready(&self, cwd: &Path, args: &[&str]) -> String {
        let output = self.run(cwd, args);
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert_eq!(
            output.status.code(),
            Some(5),
            "{args:?} should stop as not ready: {stdout}{stderr}"
        );
        stderr
    }

    /// Runs `codecafe args` in `cwd`, which must exit with status 1; returns its stderr.
    ///
    /// # Panics
    /// As [`Codecafe::failure`].
    pub fn fails(&self, cwd: &Path, args: &[&str]) -> String {
        self.failure(cwd, args).1
    }

    /// Runs `codecafe args` in `cwd`, which must succeed and print JSON; returns the JSON.
    ///
    /// # Panics
    /// As [`Codecafe::ok`], or if stdout is not JSON.
    pub fn json(&self, cwd: &Path, args: &[&str]) -> Value {
        let stdout = self.ok(cwd, args);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|err| panic!("{args:?} printed no valid JSON ({err}): {stdout}"))
    }
}

/// Bytes a process printed, as text (invalid UTF-8 replaced).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
