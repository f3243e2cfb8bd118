//! Programs the user let a plugin start that cannot declare them itself (a provider built for
//! plugin interface 0.1), kept in `<data dir>/grants.json` and pinned to the plugin's content
//! hash: a changed file has no grant until the user gives it again.
//!
//! ```json
//! { "version": 1, "grants": [ { "plugin": "my-agent", "hash": "…", "programs": ["my-agent"],
//!   "grantedAt": "2026-12-06T10:00:00Z" } ] }
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::storage::{self, Versioned};

/// The file name in the data directory.
pub const GRANTS_FILE: &str = "grants.json";

/// The programs granted to one plugin file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Grant {
    /// The plugin's id, for people reading the file.
    pub plugin: String,
    /// BLAKE3 hash of the plugin file the grant holds for.
    pub hash: String,
    /// Programs it may start (names or absolute paths).
    pub programs: Vec<String>,
    /// RFC 3339.
    pub granted_at: String,
}

/// The grants document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantRecord {
    /// Schema version.
    pub version: u32,
    /// Grants, one per plugin file.
    pub grants: Vec<Grant>,
}

impl Versioned for GrantRecord {
    const VERSION: u32 = 1;

    fn empty() -> Self {
        Self {
            version: Self::VERSION,
            grants: Vec::new(),
        }
    }
}

/// The grants file and the operations on it (locked, atomic read-modify-writes).
#[derive(Debug, Clone)]
pub struct GrantStore {
    file: PathBuf,
}

impl GrantStore {
    /// The grants in `data_dir/grants.json`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            file: data_dir.join(GRANTS_FILE),
        }
    }

    /// The file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Every grant.
    pub fn read(&self) -> Result<GrantRecord> {
        storage::read_or_empty(&self.file)
    }

    /// The programs granted to the plugin file with `hash`.
    pub fn programs(&self, hash: &str) -> Result<Vec<String>> {
        Ok(self
            .read()?
            .grants
            .into_iter()
            .find(|grant| grant.hash == hash)
            .map(|grant| grant.programs)
            .unwrap_or_default())
    }

    /// Adds `programs` to what plugin `plugin` (file `hash`) may start; returns every program
    /// it may start now.
    pub fn grant(&self, plugin: &str, hash: &str, programs: &[String]) -> Result<Vec<String>> {
        storage::update(&self.file, |record: &mut GrantRecord| {
            let now = jiff::Timestamp::now().to_string();
            let grant = match record.grants.iter_mut().position(|g| g.hash == hash) {
                Some(at) => &mut record.grants[at],
                None => {
                    record.grants.push(Grant {
                        plugin: plugin.to_owned(),
                        hash: hash.to_owned(),
                        programs: Vec::new(),
                        granted_at: now.clone(),
                    });
                    let last = record.grants.len() - 1;
                    &mut record.grants[last]
                }
            };
            for program in programs {
                if !grant.programs.contains(program) {
                    grant.programs.push(program.clone());
                }
            }
            grant.granted_at = now;
            Ok(grant.programs.clone())
        })
    }

    /// Withdraws every grant of plugin `plugin` (any file of it); returns how many there were.
    pub fn revoke(&self, plugin: &str) -> Result<usize> {
        storage::update(&self.file, |record: &mut GrantRecord| {
            let before = record.grants.len();
            record.grants.retain(|grant| grant.plugin != plugin);
            Ok(before - record.grants.len())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_are_pinned_to_the_file_and_accumulate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = GrantStore::new(dir.path());
        assert!(store.programs("h1").expect("reads").is_empty());
        store
            .grant("old", "h1", &["old-agent".to_owned()])
            .expect("grants");
        let all = store
            .grant("old", "h1", &["old-agent".to_owned(), "git".to_owned()])
            .expect("grants");
        assert_eq!(all, ["old-agent", "git"]);
        // Another file of the same plugin has none.
        assert!(store.programs("h2").expect("reads").is_empty());
        assert_eq!(store.revoke("old").expect("revokes"), 1);
        assert!(store.programs("h1").expect("reads").is_empty());
    }
}
