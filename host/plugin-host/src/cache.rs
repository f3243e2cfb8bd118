//! On-disk cache of compiled plugins, so a second start does not compile.
//!
//! An entry is keyed by the BLAKE3 hash of the component's bytes, the engine's compatibility hash
//! (which covers the wasmtime version and every setting that changes generated code) and the
//! wasmtime version this host was built with. Entries are written to a temporary file and renamed
//! into place, so a crash never leaves a half-written entry under a real name. An entry that
//! wasmtime refuses to load is recompiled and replaced.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// The wasmtime release compiled into this host; part of every cache key.
pub const WASMTIME_VERSION: &str = "48.0.8";

/// A directory of compiled components.
#[derive(Debug, Clone)]
pub(crate) struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

impl CompileCache {
    pub(crate) fn new(dir: PathBuf, engine: &Engine) -> Self {
        // Any stable hasher will do: the value only has to be equal for equal engines.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = format!("{:016x}", hasher.finish());
        Self { dir, engine_key }
    }

    /// The cache's directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The engine's compatibility hash, as it appears in file names.
    pub(crate) fn engine_key(&self) -> &str {
        &self.engine_key
    }

    fn entry_path(&self, wasm_hash: &blake3::Hash) -> PathBuf {
        self.dir.join(format!(
            "{}-{}-wasmtime{}.cwasm",
            wasm_hash.to_hex(),
            self.engine_key,
            WASMTIME_VERSION
        ))
    }

    /// The cached compilation of a component, if there is a usable one.
    pub(crate) fn load(&self, engine: &Engine, wasm_hash: &blake3::Hash) -> Option<Component> {
        let path = self.entry_path(wasm_hash);
        if !path.is_file() {
            return None;
        }
        // SAFETY: `deserialize_file` trusts the file to be wasmtime's own output. Entries in this
        // directory are written only by `store` below (atomically, under a name that includes the
        // engine's compatibility hash), in the user's private data directory; wasmtime still
        // checks the header, version and engine settings and refuses a mismatch.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize_file(engine, &path) };
        match loaded {
            Ok(component) => Some(component),
            Err(err) => {
                tracing::warn!(path = %path.display(), "ignoring unusable compile cache entry: {err:#}");
                None
            }
        }
    }

    /// Stores a compiled component. Failure only costs a compile next time, so it is logged,
    /// not returned.
    pub(crate) fn store(&self, component: &Component, wasm_hash: &blake3::Hash) {
        if let Err(err) = self.try_store(component, wasm_hash) {
            tracing::warn!(dir = %self.dir.display(), "could not write the compile cache: {err}");
        }
    }

    fn try_store(&self, component: &Component, wasm_hash: &blake3::Hash) -> std::io::Result<()> {
        let bytes = component
            .serialize()
            .map_err(|err| std::io::Error::other(format!("{err:#}")))?;
        std::fs::create_dir_all(&self.dir)?;
        let path = self.entry_path(wasm_hash);
        write_atomically(&path, &bytes)
    }
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, and renames it over `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
