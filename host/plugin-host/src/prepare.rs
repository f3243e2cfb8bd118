//! A plugin's linked component, made when its first session starts: a plugin known from the
//! index ([`crate::index`]) is loaded from the compile cache (or compiled) and linked only then,
//! by whichever session comes first — once per host ([`Linked`]), however many registries
//! (one per order) know the plugin. Loading it once per registry mapped the compiled file and
//! linked it again for every order: 1,000 orders held 1,000 mappings (135 MiB resident).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::session::Pre;
use crate::{HostInner, PluginError, PluginKind, PluginSource};

/// A linked component, or what is needed to make one.
pub(crate) struct LazyPre {
    cell: OnceLock<Pre>,
    /// The component to load, for a plugin that came from the index.
    source: Option<(PluginSource, PluginKind, Option<String>)>,
}

impl LazyPre {
    /// Already linked (the plugin was loaded in full).
    pub(crate) fn ready(pre: Pre) -> Self {
        Self {
            cell: OnceLock::from(pre),
            source: None,
        }
    }

    /// Linked on first use from `source`, a component of `kind` exporting `wit_version`.
    pub(crate) fn lazy(
        source: PluginSource,
        kind: PluginKind,
        wit_version: Option<String>,
    ) -> Self {
        Self {
            cell: OnceLock::new(),
            source: Some((source, kind, wit_version)),
        }
    }

    /// The linked component, loading and linking it first if the host has not yet. A failure
    /// is returned (and tried again next time), not kept.
    pub(crate) fn get(&self, host: &HostInner) -> Result<&Pre, PluginError> {
        if let Some(pre) = self.cell.get() {
            return Ok(pre);
        }
        let Some((source, kind, wit_version)) = &self.source else {
            return Err(PluginError::Instantiate {
                plugin: "(plugin)".to_owned(),
                message: "neither linked nor loadable".to_owned(),
            });
        };
        let key = (*source.hash.as_bytes(), *kind, wit_version.clone());
        let pre = host.linked.get_or_link(key, || {
            let component = host.compile(source)?;
            host.prepare(source, &component, *kind, wit_version.as_deref())
        })?;
        Ok(self.cell.get_or_init(|| pre))
    }

    /// Whether it is linked yet.
    pub(crate) fn is_ready(&self) -> bool {
        self.cell.get().is_some()
    }
}

/// What identifies a linking: the component's hash, the world it was linked as, and the WIT
/// version of that world.
pub(crate) type LinkKey = ([u8; 32], PluginKind, Option<String>);

/// The components a host has linked, shared by every plugin (and registry) that names the same
/// bytes; bounded by the distinct components a process loads. Each has its own lock, so the
/// first sessions of many orders at once link it once, and linking one component does not
/// hold up sessions of another.
#[derive(Default)]
pub(crate) struct Linked {
    map: Mutex<HashMap<LinkKey, Arc<Mutex<Option<Pre>>>>>,
}

impl Linked {
    fn slot(&self, key: LinkKey) -> Arc<Mutex<Option<Pre>>> {
        Arc::clone(
            self.map
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(key)
                .or_default(),
        )
    }

    /// The component linked under `key`, if it is.
    pub(crate) fn get(&self, key: LinkKey) -> Option<Pre> {
        self.slot(key)
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The component linked under `key`, linked first by `link` (once, whoever asks at the
    /// same time waits for it).
    pub(crate) fn get_or_link(
        &self,
        key: LinkKey,
        link: impl FnOnce() -> Result<Pre, PluginError>,
    ) -> Result<Pre, PluginError> {
        let slot = self.slot(key);
        let mut linked = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pre) = &*linked {
            return Ok(pre.clone());
        }
        let pre = link()?;
        *linked = Some(pre.clone());
        Ok(pre)
    }
}
