//! Builds the built-in plugins from source for `wasm32-wasip2` and embeds them.
//!
//! A nested `cargo build` compiles every crate in `plugins/` into its own target directory
//! (beside this build's, so it is shared by all profiles), then `OUT_DIR/builtins.rs` embeds each
//! component with its BLAKE3 hash, so the compile cache needs no hashing at start-up.

use std::path::{Path, PathBuf};
use std::process::Command;

include!("plugin_profile.rs");

/// (package, id) of each built-in plugin.
const PLUGINS: &[(&str, &str)] = &[
    ("codecafe-plugin-acp", "acp"),
    ("codecafe-plugin-claude-code", "claude-code"),
    ("codecafe-plugin-codex", "codex"),
    ("codecafe-plugin-command", "command"),
    ("codecafe-plugin-signals-default", "signals-default"),
];

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .ancestors()
        .nth(2)
        .expect("host/builtins sits two levels below the workspace root")
        .to_owned();
    for watched in [
        "sdk",
        "plugins",
        "wit",
        "Cargo.lock",
        "host/builtins/plugin_profile.rs",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let out_dir = PathBuf::from(env("OUT_DIR"));
    let target_dir = wasm_target_dir(&out_dir);

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    for (package, _) in PLUGINS {
        command.args(["-p", package]);
    }
    // The outer build's flags are for the host, not for wasm; the profile is the plugins' own.
    for var in OUTER_BUILD_VARS {
        command.env_remove(var);
    }
    command.envs(PLUGIN_PROFILE.iter().copied());
    command.env(PLUGIN_WASM_RUSTFLAGS.0, PLUGIN_WASM_RUSTFLAGS.1);
    let status = command
        .status()
        .expect("cannot run cargo to build the built-in plugins");
    assert!(
        status.success(),
        "building the built-in plugins for wasm32-wasip2 failed ({status}); \
         is the target installed? run `rustup target add wasm32-wasip2`"
    );

    let mut code = String::from(
        "/// The built-in plugins, in discovery order.\npub const BUILTINS: &[BuiltinPlugin] = &[\n",
    );
    for (package, id) in PLUGINS {
        let file = format!("{}.wasm", package.replace('-', "_"));
        let built = target_dir.join("wasm32-wasip2/release").join(&file);
        let bytes =
            std::fs::read(&built).unwrap_or_else(|err| panic!("{}: {err}", built.display()));
        let embedded = out_dir.join(&file);
        std::fs::write(&embedded, &bytes)
            .unwrap_or_else(|err| panic!("{}: {err}", embedded.display()));
        let hash = blake3::hash(&bytes).to_hex();
        code.push_str(&format!(
            "    BuiltinPlugin {{ id: {id:?}, bytes: include_bytes!({path:?}), hash: {hash:?} }},\n",
            path = embedded.display().to_string(),
        ));
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("builtins.rs"), code).expect("write builtins.rs");
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets {name}"))
}

/// `<target>/wasm-plugins`, found from `OUT_DIR` (`<target>[/<triple>]/<profile>/build/<pkg>/out`).
fn wasm_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "build"))
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(|target| target.join("wasm-plugins"))
        .unwrap_or_else(|| out_dir.join("wasm-plugins"))
}
