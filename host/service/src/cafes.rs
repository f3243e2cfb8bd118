//! Cafes: register a repository (`init`, `add`), list, show, update, use and unregister them.
//!
//! A cafe is a registered git repository with its settings; the registry lives in the
//! service's data directory (see [`codecafe_catalog::cafe`]).

use std::path::{Path, PathBuf};

use codecafe_catalog::CatalogError;
use codecafe_catalog::cafe::{self, Cafe, NewCafe};
use serde::Serialize;

use crate::error::{Result, ServiceError};
use crate::service::Service;

/// What `init` did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitReport {
    /// The cafe, registered now or before.
    pub cafe: Cafe,
    /// The repository was registered by this call (false: it already was a cafe).
    pub registered: bool,
    /// The files and folders of `.orch/` this call created (empty: it was already set up).
    pub created: Vec<PathBuf>,
    /// The cafe's `.orch/` folder.
    pub orch: PathBuf,
}

/// The registered cafes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CafeList {
    /// Every cafe, in registration order.
    pub cafes: Vec<Cafe>,
    /// The id of the cafe used last (the one commands use outside any repository).
    pub current: Option<String>,
}

impl CafeList {
    /// Whether `cafe` is the one used last.
    pub fn is_current(&self, cafe: &Cafe) -> bool {
        self.current.as_deref() == Some(cafe.id.as_str())
    }
}

/// The cafe settings a new cafe starts with: worktrees under the service's data directory.
fn new_cafe(service: &Service, name: Option<String>) -> NewCafe {
    NewCafe {
        name,
        worktrees_home: service.paths().worktrees(),
    }
}

/// Registers the repository containing `path` (if it is not registered yet) and creates its
/// `.orch/` folder; a registered one becomes the cafe used last.
pub fn init(service: &Service, path: &Path, name: Option<String>) -> Result<InitReport> {
    let cafes = service.cafes();
    let (cafe, registered) = match cafes.create(path, &new_cafe(service, name)) {
        Ok(cafe) => (cafe, true),
        Err(CatalogError::AlreadyExists { .. }) => {
            let found = cafes.find(&path.display().to_string())?;
            (cafes.touch(&found.id)?, false)
        }
        Err(err) => return Err(err.into()),
    };
    let orch = cafe.orch();
    let created = cafe::init_orch(&orch)?;
    Ok(InitReport {
        orch: orch.root().to_owned(),
        cafe,
        registered,
        created,
    })
}

/// Registers the repository containing `path`, without creating `.orch/`.
pub fn add(service: &Service, path: &Path, name: Option<String>) -> Result<Cafe> {
    Ok(service.cafes().create(path, &new_cafe(service, name))?)
}

/// Every registered cafe.
pub fn list(service: &Service) -> Result<CafeList> {
    let registry = service.cafes().read()?;
    Ok(CafeList {
        cafes: registry.cafes,
        current: registry.last_accessed_id,
    })
}

/// The cafe `key` names (id, id prefix, name or path).
pub fn show(service: &Service, key: &str) -> Result<Cafe> {
    Ok(service.cafes().find(key)?)
}

/// Reads `--set` settings written `KEY=VALUE`.
pub fn parse_settings(texts: &[String]) -> Result<Vec<(String, String)>> {
    texts
        .iter()
        .map(|text| match text.split_once('=') {
            Some((key, value)) => Ok((key.to_owned(), value.to_owned())),
            None => Err(ServiceError::bad_input(
                format!("--set {text}"),
                "write it as KEY=VALUE",
            )),
        })
        .collect()
}

/// Renames the cafe `key` and/or changes its settings (`(key, value)` pairs, as
/// [`parse_settings`] reads them).
pub fn update(
    service: &Service,
    key: &str,
    name: Option<&str>,
    settings: &[(String, String)],
) -> Result<Cafe> {
    if name.is_none() && settings.is_empty() {
        return Err(ServiceError::bad_input(
            "nothing to change",
            "give --name or --set KEY=VALUE",
        ));
    }
    Ok(service.cafes().update(key, name, settings)?)
}

/// What unregistering a cafe does with its orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrdersPolicy {
    /// Refuse when the cafe has orders (the default): they would be orphaned.
    #[default]
    Refuse,
    /// Keep them: registering the repository again brings the cafe back with them.
    Keep,
    /// Delete them first, each with the never-lose-work checks of `order rm` (no `--force`); the
    /// cafe stays registered when one refuses.
    Remove,
}

/// What unregistering a cafe did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Removed {
    /// The cafe as it was.
    pub cafe: Cafe,
    /// Its orders kept, to come back when the repository is registered again.
    pub kept_orders: usize,
    /// Its orders deleted first.
    pub deleted_orders: Vec<String>,
}

/// Unregisters the cafe `key`; its repository and files are not touched. With orders, what
/// `policy` says (by default it refuses, listing them).
pub fn remove(service: &Service, key: &str, policy: OrdersPolicy) -> Result<Removed> {
    let cafes = service.cafes();
    let cafe = cafes.find(key)?;
    let orders = service
        .store()?
        .list_orders(&codecafe_store::OrderFilter::all().cafe(cafe.id.clone()))?;
    if orders.is_empty() {
        let cafe = cafes.remove(&cafe.id)?;
        return Ok(Removed {
            cafe,
            kept_orders: 0,
            deleted_orders: Vec::new(),
        });
    }
    match policy {
        OrdersPolicy::Refuse => Err(ServiceError::CafeHasOrders {
            cafe: cafe.name.clone(),
            orders: orders
                .iter()
                .map(|o| format!("{} ({})", o.short_id(), o.status))
                .collect(),
        }),
        OrdersPolicy::Keep => Ok(Removed {
            kept_orders: orders.len(),
            cafe: cafes.retire(&cafe.id)?,
            deleted_orders: Vec::new(),
        }),
        OrdersPolicy::Remove => {
            let mut deleted = Vec::new();
            for order in &orders {
                crate::orders::delete(service, &order.id.to_string(), false, false)?;
                deleted.push(order.short_id());
            }
            Ok(Removed {
                cafe: cafes.remove(&cafe.id)?,
                kept_orders: 0,
                deleted_orders: deleted,
            })
        }
    }
}

/// Makes the cafe `key` the one used outside any repository.
pub fn use_cafe(service: &Service, key: &str) -> Result<Cafe> {
    Ok(service.cafes().touch(key)?)
}
