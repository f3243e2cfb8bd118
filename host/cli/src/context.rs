//! What every command needs: codecafe's directories, the cafe it works on, the installed plugins.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use codecafe_catalog::CatalogError;
use codecafe_catalog::OrchDir;
use codecafe_catalog::cafe::{Cafe, Cafes};
use codecafe_plugin_host::registry::{self, Registry};
use codecafe_plugin_host::{HostConfig, Origin, PluginHost, PluginKind};

use crate::paths::{self, Paths};

/// Shared state of one command invocation.
pub struct Context {
    /// codecafe's directories.
    pub paths: Paths,
}

/// Ids of the installed plugins, by kind.
#[derive(Debug, Clone, Default)]
pub struct KnownPlugins {
    /// Provider ids.
    pub providers: Vec<String>,
    /// Signal parser ids.
    pub signal_parsers: Vec<String>,
}

impl Context {
    /// The context for this process (honours `CODECAFE_HOME`).
    pub fn new() -> Result<Self> {
        Ok(Self {
            paths: Paths::discover()?,
        })
    }

    /// The cafe registry.
    pub fn cafes(&self) -> Cafes {
        Cafes::new(&self.paths.data)
    }

    /// The registered cafe a command works on, if any: the `--cafe` given (id, id prefix, name
    /// or path), else the cafe containing the current directory, else — when the current
    /// directory is in no git repository at all — the last accessed cafe.
    pub fn cafe(&self, cafe: Option<&str>) -> Result<Option<Cafe>> {
        let cafes = self.cafes();
        if let Some(key) = cafe {
            return match cafes.find(key) {
                Ok(cafe) => Ok(Some(cafe)),
                // An unregistered repository given by path is still usable.
                Err(CatalogError::NotFound { .. }) if Path::new(key).is_dir() => Ok(None),
                Err(err) => Err(err.into()),
            };
        }
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        if let Some(cafe) = cafes.containing(&cwd)? {
            return Ok(Some(cafe));
        }
        if paths::repository_root(&cwd).is_some() {
            return Ok(None);
        }
        Ok(cafes.last_accessed()?)
    }

    /// The repository a command works on: the cafe chosen as [`Context::cafe`] says, or the
    /// unregistered repository given by path or containing the current directory.
    pub fn repository(&self, cafe: Option<&str>) -> Result<PathBuf> {
        if let Some(found) = self.cafe(cafe)? {
            return Ok(found.path);
        }
        let start = match cafe {
            Some(path) => PathBuf::from(path),
            None => std::env::current_dir().context("cannot read the current directory")?,
        };
        match paths::repository_root(&start) {
            Some(root) => Ok(root),
            None => bail!(
                "{} is not inside a git repository and no cafe was used before; run codecafe \
                 inside a cafe, pass --cafe, or register one with `codecafe init`",
                start.display()
            ),
        }
    }

    /// The `.orch/` folder of the cafe a command works on (see [`Context::repository`]).
    pub fn orch(&self, cafe: Option<&str>) -> Result<OrchDir> {
        Ok(OrchDir::of_repo(&self.repository(cafe)?))
    }

    /// A plugin host with the user's compile cache.
    pub fn plugin_host(&self) -> Result<PluginHost> {
        Ok(PluginHost::new(HostConfig {
            cache_dir: Some(self.paths.compile_cache()),
            ..HostConfig::default()
        })?)
    }

    /// Every plugin: built-ins, the user's, then the repository's (for `cafe`, as above).
    pub fn plugins(&self, host: &PluginHost, cafe: Option<&str>) -> Result<Registry> {
        let mut sources = codecafe_builtins::sources();
        sources.extend(registry::dir_sources(
            &self.paths.user_plugins(),
            Origin::User,
        )?);
        if let Ok(orch) = self.orch(cafe) {
            sources.extend(registry::dir_sources(&orch.plugins(), Origin::Repository)?);
        }
        Ok(Registry::discover(host, sources))
    }

    /// The ids of the installed plugins, for validating recipes.
    pub fn known_plugins(&self, cafe: Option<&str>) -> Result<KnownPlugins> {
        let host = self.plugin_host()?;
        let registry = self.plugins(&host, cafe)?;
        let mut known = KnownPlugins::default();
        for plugin in registry.active() {
            match plugin.kind() {
                PluginKind::Provider => known.providers.push(plugin.id().to_owned()),
                PluginKind::SignalParser => known.signal_parsers.push(plugin.id().to_owned()),
            }
        }
        Ok(known)
    }
}
