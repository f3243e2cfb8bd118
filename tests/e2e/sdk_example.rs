//! The minimal provider in `codecafe-sdk`'s crate docs is a real plugin: it is at most 25 lines,
//! builds for `wasm32-wasip2` as its own crate, and `codecafe plugin check` runs it.

use std::path::Path;
use std::process::Command;

use codecafe_test_support::{Codecafe, target_dir, workspace_root};

/// The code block under "A provider in a few lines" in the SDK's crate docs.
fn doc_example() -> String {
    let lib = std::fs::read_to_string(workspace_root().join("sdk/src/lib.rs")).expect("sdk lib.rs");
    let mut lines = lib
        .lines()
        .skip_while(|l| !l.starts_with("//! ## A provider in a few lines"))
        .skip_while(|l| l.trim() != "//! ```")
        .skip(1);
    let mut code = String::new();
    for line in lines.by_ref() {
        if line.trim() == "//! ```" {
            return code;
        }
        code.push_str(
            line.strip_prefix("//! ")
                .unwrap_or(line.trim_start_matches("//!")),
        );
        code.push('\n');
    }
    panic!("the example's code block is not closed");
}

#[test]
fn the_documented_minimal_provider_builds_and_runs() {
    let code = doc_example();
    let lines = code.lines().count();
    assert!(
        lines <= 25,
        "the minimal provider has {lines} lines:\n{code}"
    );
    assert!(code.contains("export_provider!"));

    let root = workspace_root();
    let crate_dir = target_dir().join("sdk-doc-example");
    std::fs::create_dir_all(crate_dir.join("src")).expect("crate dir");
    std::fs::write(
        crate_dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"echo-plugin\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [lib]\ncrate-type = [\"cdylib\"]\n\n\
             [dependencies]\ncodecafe-sdk = {{ path = {:?} }}\n\n[workspace]\n",
            root.join("sdk").display().to_string()
        ),
    )
    .expect("Cargo.toml");
    std::fs::write(crate_dir.join("src/lib.rs"), &code).expect("lib.rs");
    // The workspace's lock file pins the same dependency versions the SDK is tested with.
    std::fs::copy(root.join("Cargo.lock"), crate_dir.join("Cargo.lock")).expect("Cargo.lock");

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let build = Command::new(cargo)
        .current_dir(&crate_dir)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    assert!(
        build.status.success(),
        "the doc example does not build:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let wasm = crate_dir.join("target/wasm32-wasip2/release/echo_plugin.wasm");
    assert!(wasm.is_file());

    // In the test's working folder (cargo runs tests in the package's folder).
    let report = Codecafe::new(env!("CARGO_BIN_EXE_codecafe")).json(
        Path::new("."),
        &["plugin", "check", path_str(&wasm), "--json"],
    );
    assert_eq!(report["plugin"], "echo");
    assert_eq!(report["failures"], 0);
    let build_command = &report["calls"][1];
    assert_eq!(build_command["result"]["command"]["program"], "echo");
    assert_eq!(build_command["result"]["command"]["args"][0], "Say hello.");
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}
