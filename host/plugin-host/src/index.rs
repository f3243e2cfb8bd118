//! The plugin index: what each component is — its world, exports and imports, and the `info`
//! it reported — kept by the BLAKE3 hash of its bytes in a file beside the compile cache. With
//! it a process knows every plugin's id, kind and declarations without compiling, loading or
//! instantiating any: a plugin is loaded from the compile cache (or compiled) only when a
//! session of it starts, so a run pays only for the plugins its recipe uses.
//!
//! An entry is a pure function of the component's bytes and of this host (its version and the
//! engine's settings are in the file name), so entries never go stale; a component that fails
//! to load is never indexed (it is checked in full each time). The file is rewritten atomically
//! (merged with what other processes added meanwhile); an unreadable file is ignored and
//! replaced.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::PluginKind;

/// What the index keeps of one component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Indexed {
    /// Which world it implements.
    pub(crate) kind: PluginKind,
    /// Its exported interface names.
    pub(crate) exports: Vec<String>,
    /// Its imported interface names.
    pub(crate) imports: Vec<String>,
    /// Its `info`, as the host read it (provider or signal parser info, camelCase).
    pub(crate) info: serde_json::Value,
}

/// The index file of one host configuration, and its entries in memory.
#[derive(Debug)]
pub(crate) struct PluginIndex {
    path: PathBuf,
    entries: Mutex<BTreeMap<String, Indexed>>,
}

impl PluginIndex {
    /// The index in `dir` for an engine whose settings hash to `engine_key`.
    pub(crate) fn open(dir: &Path, engine_key: &str) -> Self {
        let path = dir.join(format!(
            "index-{engine_key}-wasmtime{}-host{}.json",
            crate::cache::WASMTIME_VERSION,
            env!("CARGO_PKG_VERSION")
        ));
        let entries = read(&path);
        Self {
            path,
            entries: Mutex::new(entries),
        }
    }

    /// The entry of the component with this hash (hex), if indexed.
    pub(crate) fn get(&self, hash: &str) -> Option<Indexed> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(hash)
            .cloned()
    }

    /// Records a component that loaded; failure to write only costs a full load next time.
    pub(crate) fn insert(&self, hash: &str, entry: Indexed) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.get(hash) == Some(&entry) {
            return;
        }
        entries.insert(hash.to_owned(), entry);
        // Keep what other processes indexed meanwhile.
        for (hash, entry) in read(&self.path) {
            entries.entry(hash).or_insert(entry);
        }
        if let Err(err) = write(&self.path, &entries) {
            tracing::warn!(path = %self.path.display(), "could not write the plugin index: {err}");
        }
    }
}

fn read(path: &Path) -> BTreeMap<String, Indexed> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|err| {
            tracing::warn!(path = %path.display(), "ignoring an unreadable plugin index: {err}");
            BTreeMap::new()
        }),
        Err(_) => BTreeMap::new(),
    }
}

fn write(path: &Path, entries: &BTreeMap<String, Indexed>) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(entries).map_err(std::io::Error::other)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::cache::write_atomically(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> Indexed {
        Indexed {
            kind: PluginKind::SignalParser,
            exports: vec!["codecafe:signals/parser@0.1.0".to_owned()],
            imports: vec![],
            info: serde_json::json!({"id": id}),
        }
    }

    #[test]
    fn entries_persist_and_merge_across_processes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = PluginIndex::open(dir.path(), "k");
        let second = PluginIndex::open(dir.path(), "k");
        first.insert("aa", entry("a"));
        second.insert("bb", entry("b"));
        let reopened = PluginIndex::open(dir.path(), "k");
        assert_eq!(reopened.get("aa"), Some(entry("a")));
        assert_eq!(reopened.get("bb"), Some(entry("b")));
        // Another engine configuration has its own index.
        assert_eq!(PluginIndex::open(dir.path(), "other").get("aa"), None);
    }

    #[test]
    fn an_unreadable_index_is_ignored_and_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let index = PluginIndex::open(dir.path(), "k");
        std::fs::write(&index.path, b"{not json").expect("write");
        let index = PluginIndex::open(dir.path(), "k");
        assert_eq!(index.get("aa"), None);
        index.insert("aa", entry("a"));
        assert_eq!(
            PluginIndex::open(dir.path(), "k").get("aa"),
            Some(entry("a"))
        );
    }
}
