/// How the built-in plugins are optimised: the release profile's settings, as the environment
/// overrides the nested `cargo build` gets (fat LTO, one codegen unit, opt-level 3, no debug
/// info). The plugin benchmark builds its native baseline with the same settings, so the
/// wasm / native ratio compares equal builds.
pub const PLUGIN_PROFILE: &[(&str, &str)] = &[
    ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
    ("CARGO_PROFILE_RELEASE_STRIP", "debuginfo"),
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3"),
    ("CARGO_PROFILE_RELEASE_LTO", "true"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1"),
];

/// Code generation flags of the plugins' wasm build: 128-bit SIMD (every wasmtime we run has
/// it), as the native baseline has SSE2 — the JSON scanning in the adapters uses it.
pub const PLUGIN_WASM_RUSTFLAGS: (&str, &str) = (
    "CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS",
    "-Ctarget-feature=+simd128",
);

/// Variables of an outer cargo build that must not reach a nested one (they are for the
/// outer build's target and tools).
pub const OUTER_BUILD_VARS: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_LLVM_COV",
];
