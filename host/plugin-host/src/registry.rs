//! Finding plugins: built-ins, then the user's plugins folder, then the repository's.
//!
//! Sources are loaded in that order; a later plugin with the same id overrides an earlier one and
//! the registry remembers which it replaced, so `plugin list` can say so. A plugin that fails to
//! load is kept as a broken entry with its error rather than stopping everything else.

use std::path::{Path, PathBuf};

use crate::{LoadedPlugin, Origin, PluginError, PluginHost, PluginKind, PluginSource};

/// One loaded plugin and what it overrides or is overridden by.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The plugin.
    pub plugin: LoadedPlugin,
    /// True when no later plugin with the same id replaced it.
    pub active: bool,
    /// The origin of the plugin this one replaced, if any.
    pub overrides: Option<Origin>,
    /// The origin of the plugin that replaced this one, if any.
    pub overridden_by: Option<Origin>,
}

/// A plugin file that could not be loaded.
#[derive(Debug)]
pub struct Broken {
    /// Where it was found.
    pub origin: Origin,
    /// The file or built-in name.
    pub label: String,
    /// Why it failed.
    pub error: PluginError,
}

/// Every plugin found, in discovery order.
#[derive(Debug, Default)]
pub struct Registry {
    /// Loaded plugins, active and overridden.
    pub entries: Vec<Entry>,
    /// Files that failed to load.
    pub broken: Vec<Broken>,
}

impl Registry {
    /// Loads `sources` in order (built-ins first, repository last).
    pub fn discover(host: &PluginHost, sources: Vec<PluginSource>) -> Self {
        let mut registry = Self::default();
        for source in sources {
            let origin = source.origin;
            let label = source.label.clone();
            match host.load(source) {
                Ok(plugin) => registry.add(plugin),
                Err(error) => registry.broken.push(Broken {
                    origin,
                    label,
                    error,
                }),
            }
        }
        registry
    }

    fn add(&mut self, plugin: LoadedPlugin) {
        let origin = plugin.inspection().origin;
        let mut overrides = None;
        for earlier in self
            .entries
            .iter_mut()
            .filter(|e| e.active && e.plugin.id() == plugin.id())
        {
            earlier.active = false;
            earlier.overridden_by = Some(origin);
            overrides = Some(earlier.plugin.inspection().origin);
        }
        self.entries.push(Entry {
            plugin,
            active: true,
            overrides,
            overridden_by: None,
        });
    }

    /// The active plugin with this id.
    pub fn get(&self, id: &str) -> Option<&LoadedPlugin> {
        self.entries
            .iter()
            .find(|e| e.active && e.plugin.id() == id)
            .map(|e| &e.plugin)
    }

    /// The active plugin with this id, which must be of `kind`.
    pub fn get_kind(&self, id: &str, kind: PluginKind) -> Result<&LoadedPlugin, PluginError> {
        let plugin = self
            .get(id)
            .ok_or_else(|| PluginError::NotFound { id: id.to_owned() })?;
        if plugin.kind() == kind {
            Ok(plugin)
        } else {
            Err(PluginError::WrongKind {
                id: id.to_owned(),
                found: plugin.kind().label(),
                expected: kind.label(),
            })
        }
    }

    /// Active plugins, in discovery order.
    pub fn active(&self) -> impl Iterator<Item = &LoadedPlugin> {
        self.entries.iter().filter(|e| e.active).map(|e| &e.plugin)
    }
}

/// The `.wasm` files of a plugins folder, sorted by name; a missing folder has none.
pub fn dir_sources(dir: &Path, origin: Origin) -> Result<Vec<PluginSource>, PluginError> {
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(PluginError::Io {
                path: dir.to_owned(),
                source,
            });
        }
    };
    let mut paths: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm") && path.is_file())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| PluginSource::from_file(path, origin))
        .collect()
}

/// Validates a component and copies it into `dir` as `<id>.wasm` (replacing an older copy of
/// the same id). Nothing is written unless the plugin loads.
pub fn install(
    host: &PluginHost,
    file: &Path,
    dir: &Path,
) -> Result<(LoadedPlugin, PathBuf), PluginError> {
    let source = PluginSource::from_file(file, Origin::User)?;
    let bytes = source.bytes.clone();
    let plugin = host.load(source)?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| PluginError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let target = dir.join(format!("{}.wasm", plugin.id()));
    let temp = dir.join(format!(".{}.wasm.{}.tmp", plugin.id(), std::process::id()));
    let written = (|| {
        use std::io::Write;
        let mut out = std::fs::File::create(&temp)?;
        out.write_all(&bytes)?;
        out.sync_all()?;
        std::fs::rename(&temp, &target)
    })();
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(PluginError::Io {
            path: target,
            source,
        });
    }
    Ok((plugin, target))
}

/// Removes the user-installed plugin with this id from `dir`. Built-ins cannot be removed.
pub fn remove(registry: &Registry, id: &str, dir: &Path) -> Result<PathBuf, PluginError> {
    let user_entry = registry
        .entries
        .iter()
        .rev()
        .find(|e| e.plugin.id() == id && e.plugin.inspection().origin == Origin::User);
    let Some(entry) = user_entry else {
        let exists = registry.entries.iter().any(|e| e.plugin.id() == id);
        let builtin_only = registry
            .entries
            .iter()
            .filter(|e| e.plugin.id() == id)
            .all(|e| e.plugin.inspection().origin == Origin::BuiltIn);
        return Err(if exists && builtin_only {
            PluginError::BuiltIn { id: id.to_owned() }
        } else {
            PluginError::NotFound { id: id.to_owned() }
        });
    };
    let path = entry
        .plugin
        .inspection()
        .path
        .clone()
        .unwrap_or_else(|| dir.join(format!("{id}.wasm")));
    std::fs::remove_file(&path).map_err(|source| PluginError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}
