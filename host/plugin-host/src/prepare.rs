//! A plugin's linked component, made when its first session starts: a plugin known from the
//! index ([`crate::index`]) is loaded from the compile cache (or compiled) and linked only then,
//! by whichever session comes first — once per host ([`Linked`]), however many registries
//! (one per order) know the plugin. Loading it once per registry mapped the compiled file and
//! linked it again for every order: 1,000 orders held 1,000 mappings (135 MiB resident).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::session::Pre;
use crate::{HostInner, PluginError, PluginKind, PluginSource};

/// A linked component, or what is needed to make one.
pub(crate) struct LazyPre {
    cell: OnceLock<Pre>,
    /// The component to load, for a plugin that came from the index.
    source: Option<(PluginSource, PluginKind, Option<String>)>,
    /// Makes one session at a time link it.
    init: Mutex<()>,
}

impl LazyPre {
    /// Already linked (the plugin was loaded in full).
    pub(crate) fn ready(pre: Pre) -> Self {
        Self {
            cell: OnceLock::from(pre),
            source: None,
            init: Mutex::new(()),
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
            init: Mutex::new(()),
        }
    }

    /// The linked component, loading and linking it first if needed. A failure is returned
    /// (and tried again next time), not kept.
    pub(crate) fn get(&self, host: &HostInner) -> Result<&Pre, PluginError> {
        if let Some(pre) = self.cell.get() {
            return Ok(pre);
        }
        let _one_at_a_time = self.init.lock().unwrap_or_else(PoisonError::into_inner);
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
        let pre = match host.linked.get(&key) {
            Some(pre) => pre,
            None => {
                let component = host.compile(source)?;
                let pre = host.prepare(source, &component, *kind, wit_version.as_deref())?;
                host.linked.insert(key, &pre);
                pre
            }
        };
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
/// bytes. Bounded by the distinct components a process loads.
#[derive(Default)]
pub(crate) struct Linked {
    map: Mutex<HashMap<LinkKey, Pre>>,
}

impl Linked {
    pub(crate) fn get(&self, key: &LinkKey) -> Option<Pre> {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    pub(crate) fn insert(&self, key: LinkKey, pre: &Pre) {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_insert_with(|| pre.clone());
    }
}
