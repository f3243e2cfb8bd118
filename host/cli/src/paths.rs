//! Where codecafe keeps its files.
//!
//! `CODECAFE_HOME`, when set, is the root of everything (tests and portable installs use it);
//! otherwise the platform's data and cache directories are used.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// codecafe's directories.
#[derive(Debug, Clone)]
pub struct Paths {
    /// User data: registries, installed plugins.
    pub data: PathBuf,
    /// Disposable data: compiled plugins.
    pub cache: PathBuf,
}

impl Paths {
    /// The directories for this user, honouring `CODECAFE_HOME`.
    pub fn discover() -> Result<Self> {
        if let Some(home) = std::env::var_os("CODECAFE_HOME").filter(|h| !h.is_empty()) {
            let home = PathBuf::from(home);
            return Ok(Self {
                cache: home.join("cache"),
                data: home,
            });
        }
        let dirs = directories::ProjectDirs::from("dev", "codecafe", "codecafe").context(
            "cannot find a home directory for codecafe's data; set CODECAFE_HOME to a directory",
        )?;
        Ok(Self {
            data: dirs.data_dir().to_owned(),
            cache: dirs.cache_dir().to_owned(),
        })
    }

    /// Plugins installed with `codecafe plugin add`.
    pub fn user_plugins(&self) -> PathBuf {
        self.data.join("plugins")
    }

    /// Compiled plugin code; `CODECAFE_CACHE_DIR` overrides it (tests share one cache so
    /// each does not compile the built-ins again).
    pub fn compile_cache(&self) -> PathBuf {
        match std::env::var_os("CODECAFE_CACHE_DIR").filter(|d| !d.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => self.cache.join("compiled"),
        }
    }
}

/// The top of the git repository containing `start`, if any.
pub fn repository_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf)
}
