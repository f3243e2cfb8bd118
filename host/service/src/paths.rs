//! Where codecafe keeps its files.
//!
//! `CODECAFE_HOME`, when set, is the root of everything (tests and portable installs use it);
//! otherwise the platform's data and cache directories are used.

use std::path::{Path, PathBuf};

use crate::error::{Result, ServiceError};

/// codecafe's directories.
#[derive(Debug, Clone)]
pub struct Paths {
    /// User data: registries, the order database, installed plugins.
    pub data: PathBuf,
    /// Disposable data.
    pub cache: PathBuf,
    /// Compiled plugin code: `<cache>/compiled`, or `CODECAFE_CACHE_DIR` (tests share one
    /// cache so each does not compile the built-ins again).
    pub compiled: PathBuf,
}

impl Paths {
    /// The directories for this user, honouring `CODECAFE_HOME`.
    pub fn discover() -> Result<Self> {
        if let Some(home) = std::env::var_os("CODECAFE_HOME").filter(|h| !h.is_empty()) {
            return Ok(Self::under(PathBuf::from(home)));
        }
        let dirs = directories::ProjectDirs::from("dev", "codecafe", "codecafe")
            .ok_or(ServiceError::NoHome)?;
        Ok(Self::with(
            dirs.data_dir().to_owned(),
            dirs.cache_dir().to_owned(),
        ))
    }

    /// Everything under `home` (`<home>/cache` for the cache).
    pub fn under(home: PathBuf) -> Self {
        Self::with(home.clone(), home.join("cache"))
    }

    fn with(data: PathBuf, cache: PathBuf) -> Self {
        let compiled = match std::env::var_os("CODECAFE_CACHE_DIR").filter(|d| !d.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => cache.join("compiled"),
        };
        Self {
            data,
            cache,
            compiled,
        }
    }

    /// The order database.
    pub fn database(&self) -> PathBuf {
        self.data.join("codecafe.db")
    }

    /// Plugins installed with `codecafe plugin add`.
    pub fn user_plugins(&self) -> PathBuf {
        self.data.join("plugins")
    }

    /// Where running agents' process groups are recorded (see `codecafe_runner::groups`).
    pub fn agent_groups(&self) -> PathBuf {
        self.data.join("agent-groups")
    }

    /// Where interactive stages listen for `order attach` / `input` / `approve` (see
    /// `codecafe_runner::live`).
    pub fn live_terminals(&self) -> PathBuf {
        self.data.join("live")
    }

    /// Where cafes' worktrees go by default.
    pub fn worktrees(&self) -> PathBuf {
        self.data.join("worktrees")
    }
}

/// The top of the git repository containing `start`, if any.
pub fn repository_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf)
}
