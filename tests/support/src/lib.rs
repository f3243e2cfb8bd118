//! Helpers shared by codecafe's tests.
//!
//! The hostile fixture plugins in `tests/fixtures/plugins/` are built from source here, once per
//! test process, by a nested `cargo build --target wasm32-wasip2` into their own target
//! directory; cargo's lock serialises concurrent test processes and makes later builds no-ops.
//!
//! The end-to-end tests run the `codecafe` binary through [`Codecafe`] (a private home, the
//! shared compile cache, exit status checks) and set up repositories with [`git`] and
//! [`init_repo`]; the local server's tests talk to it with [`http`].

pub mod casing;
mod cli;
mod git;
pub mod http;
pub mod procfs;
pub mod serve;

pub use cli::{Codecafe, text};
pub use git::{git, init_repo, init_repo_with};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The cargo target directory the tests run from.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("target"),
    }
}

/// A compile cache shared by every test, so each does not compile the plugins again.
pub fn shared_compile_cache() -> PathBuf {
    target_dir().join("test-compile-cache")
}

/// The fixture plugins, built once; the error is cargo's output.
fn fixtures_dir() -> &'static Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = workspace_root();
        let target = target_dir().join("wasm-fixtures");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let output = Command::new(cargo)
            .current_dir(&root)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--manifest-path",
            ])
            .arg(root.join("tests/fixtures/plugins/Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            .output()
            .map_err(|err| format!("cannot run cargo: {err}"))?;
        if output.status.success() {
            Ok(target.join("wasm32-wasip2/release"))
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    })
}

/// The `.wasm` of fixture plugin `name` (e.g. `memory-bomb`), building the fixtures if needed.
///
/// # Panics
/// If the fixtures do not build: a test cannot go on without them.
pub fn fixture_plugin(name: &str) -> PathBuf {
    match fixtures_dir() {
        Ok(dir) => dir.join(format!("fixture_{}.wasm", name.replace('-', "_"))),
        Err(output) => panic!("building the fixture plugins failed:\n{output}"),
    }
}

/// Names of all hostile fixtures.
pub const HOSTILE_FIXTURES: &[&str] = &[
    "loop",
    "memory-bomb",
    "deep-recursion",
    "panic",
    "oversized-output",
    "read-file",
    "read-env",
    "foreign-import",
    "wrong-version",
];

/// `work(0)` … `work(count - 1)`, all at once, each on a thread of its own with a `stack`-byte
/// stack; their results in that order.
///
/// # Panics
/// If a thread cannot start or `work` panics.
pub fn on_threads<T: Send>(count: usize, stack: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..count)
            .map(|i| {
                let work = &work;
                std::thread::Builder::new()
                    .stack_size(stack)
                    .spawn_scoped(scope, move || work(i))
                    .expect("a thread")
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("the thread ends"))
            .collect()
    })
}

/// A recipe stage's `command` running the fake agent with the script file `script`: an argv
/// list as JSON (which YAML reads as a list).
pub fn fake_agent_command(script: &Path) -> String {
    serde_json::json!([fake_agent(), script]).to_string()
}

/// The `fake-agent` binary (`tests/fake-agent`), built once per test process by a nested
/// `cargo build` into its own target directory (so it never waits on the outer build's lock).
///
/// # Panics
/// If it does not build: a test cannot go on without it.
pub fn fake_agent() -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let root = workspace_root();
        let target = target_dir().join("fake-agent");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let output = Command::new(cargo)
            .current_dir(&root)
            .args(["build", "-p", "codecafe-fake-agent", "--bin", "fake-agent"])
            .arg("--target-dir")
            .arg(&target)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            .output()
            .map_err(|err| format!("cannot run cargo: {err}"))?;
        if output.status.success() {
            Ok(target.join("debug/fake-agent"))
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    });
    match built {
        Ok(path) => path.clone(),
        Err(output) => panic!("building the fake agent failed:\n{output}"),
    }
}
