//! [`Service`]: the set-up every operation shares — codecafe's directories, the order database,
//! the plugin host, the machine-wide terminal slots, this process's runner id — and
//! [`Scope`], which cafe an operation works on.
//!
//! A `Service` is `Sync`: a long-running server shares one between threads, each operation
//! opening its own database connection (SQLite coordinates them, also across processes).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use codecafe_catalog::CatalogError;
use codecafe_catalog::OrchDir;
use codecafe_catalog::cafe::{Cafe, Cafes};
use codecafe_catalog::grants::GrantStore;
use codecafe_catalog::profile::Profiles;
use codecafe_catalog::recipe::Known;
use codecafe_catalog::role::RoleCatalog;
use codecafe_catalog::skill::SkillCatalog;
use codecafe_plugin_host::registry::{self, Registry};
use codecafe_plugin_host::{HostConfig, Origin, PluginHost, PluginKind};
use codecafe_runner::{CancelToken, Slots};
use codecafe_store::{Order, Store};

use crate::error::{Result, ServiceError};
use crate::paths::{Paths, repository_root};

/// Which cafe an operation works on: the one named (`--cafe`: id, id prefix, name or path),
/// else the one containing `cwd`, else — when `cwd` is in no git repository — the cafe used
/// last.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The cafe named, if any.
    pub cafe: Option<String>,
    /// The caller's working directory.
    pub cwd: PathBuf,
}

impl Scope {
    /// The cafe named (if any), from this process's working directory.
    pub fn here(cafe: Option<&str>) -> Result<Self> {
        let cwd = std::env::current_dir().map_err(|err| ServiceError::io(".", err))?;
        Ok(Self {
            cafe: cafe.map(str::to_owned),
            cwd,
        })
    }

    /// Exactly the cafe `key` (a server's requests name their cafe).
    pub fn cafe(key: &str) -> Self {
        Self {
            cafe: Some(key.to_owned()),
            cwd: PathBuf::from("/"),
        }
    }
}

/// Every operation of codecafe, for one user's data directory.
pub struct Service {
    paths: Paths,
    host: Mutex<Option<PluginHost>>,
    slots: OnceLock<Arc<Slots>>,
    /// The connection every order waiting for a place in its cafe shares (see
    /// [`crate::execute`]): opened on first use.
    queue_store: QueueStore,
    shutdown: CancelToken,
}

/// One database connection shared by the orders that wait in their cafe's queue.
pub(crate) struct QueueStore {
    path: PathBuf,
    conn: OnceLock<Mutex<Store>>,
}

impl codecafe_runner::queue::StoreAccess for QueueStore {
    fn store(
        &self,
    ) -> std::result::Result<impl std::ops::Deref<Target = Store> + '_, codecafe_runner::RunnerError>
    {
        let conn = match self.conn.get() {
            Some(conn) => conn,
            None => {
                let opened = Mutex::new(Store::open(&self.path)?);
                // Another thread may have opened it first; either connection does.
                self.conn.get_or_init(|| opened)
            }
        };
        Ok(conn.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// The service for this user (`CODECAFE_HOME`, else the platform's data directory).
    pub fn open() -> Result<Self> {
        Ok(Self::with_paths(Paths::discover()?))
    }

    /// The service for the data under `paths`.
    pub fn with_paths(paths: Paths) -> Self {
        let database = paths.database();
        Self {
            paths,
            host: Mutex::new(None),
            slots: OnceLock::new(),
            queue_store: QueueStore {
                path: database,
                conn: OnceLock::new(),
            },
            shutdown: CancelToken::new(),
        }
    }

    /// codecafe's directories.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The token above every run of this service: stopping it stops them all (a server
    /// shutting down); each run gets a child of it.
    pub fn shutdown_token(&self) -> &CancelToken {
        &self.shutdown
    }

    /// The cafe registry.
    pub fn cafes(&self) -> Cafes {
        Cafes::new(&self.paths.data)
    }

    /// A new connection to the order database.
    pub fn store(&self) -> Result<Store> {
        Ok(Store::open(self.paths.database())?)
    }

    /// The user's profiles.
    pub fn profiles(&self) -> Result<Profiles> {
        Ok(Profiles::load(&Profiles::path(&self.paths.data))?)
    }

    /// The plugin host with the user's compile cache (made on first use, then shared).
    pub fn plugin_host(&self) -> Result<PluginHost> {
        let mut host = self.host.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(host) = &*host {
            return Ok(host.clone());
        }
        let made = PluginHost::new(HostConfig {
            cache_dir: Some(self.paths.compiled.clone()),
            ..HostConfig::default()
        })?;
        *host = Some(made.clone());
        Ok(made)
    }

    /// Every plugin: built-ins, the user's, then the repository's at `repo` (when given) —
    /// only those the user trusted as they are (`codecafe trust`), so an untrusted one never
    /// replaces a built-in.
    pub fn plugins(&self, repo: Option<&Path>) -> Result<Registry> {
        let host = self.plugin_host()?;
        let mut sources = codecafe_builtins::sources();
        sources.extend(registry::dir_sources(
            &self.paths.user_plugins(),
            Origin::User,
        )?);
        if let Some(repo) = repo {
            let found =
                registry::dir_sources(&OrchDir::of_repo(repo).plugins(), Origin::Repository)?;
            sources.extend(crate::trust::allowed_plugins(self, repo, found)?);
        }
        let mut registry = Registry::discover(&host, sources);
        // Providers that cannot declare programs (WIT 0.1) start only what the user granted.
        let grants = GrantStore::new(&self.paths.data);
        for entry in &mut registry.entries {
            if entry.plugin.needs_grant() {
                let programs = grants.programs(&entry.plugin.inspection().hash)?;
                entry.plugin = entry.plugin.clone().with_granted_programs(programs);
            }
        }
        Ok(registry)
    }

    /// The machine-wide terminal slots of this process (made on first use).
    /// The connection shared by orders waiting for a place in their cafe.
    pub(crate) fn queue_store(&self) -> &QueueStore {
        &self.queue_store
    }

    pub(crate) fn slots(&self) -> Result<&Slots> {
        if let Some(slots) = self.slots.get() {
            return Ok(slots);
        }
        let slots = Slots::new(self.store()?, codecafe_runner::liveness::this_process())?;
        Ok(self.slots.get_or_init(|| Arc::new(slots)))
    }

    /// The registered cafe `scope` means, if any.
    pub fn cafe(&self, scope: &Scope) -> Result<Option<Cafe>> {
        let cafes = self.cafes();
        if let Some(key) = &scope.cafe {
            return match cafes.find(key) {
                Ok(cafe) => Ok(Some(cafe)),
                // An unregistered repository given by path is still usable.
                Err(CatalogError::NotFound { .. }) if Path::new(key).is_dir() => Ok(None),
                Err(err) => Err(err.into()),
            };
        }
        if let Some(cafe) = cafes.containing(&scope.cwd)? {
            return Ok(Some(cafe));
        }
        if repository_root(&scope.cwd).is_some() {
            return Ok(None);
        }
        Ok(cafes.last_accessed()?)
    }

    /// The registered cafe `scope` means; an error saying how to register one otherwise.
    pub fn registered_cafe(&self, scope: &Scope) -> Result<Cafe> {
        self.cafe(scope)?.ok_or(ServiceError::NoCafe)
    }

    /// The repository `scope` means: its cafe's, or the unregistered repository given by path
    /// or containing the working directory.
    pub fn repository(&self, scope: &Scope) -> Result<PathBuf> {
        if let Some(found) = self.cafe(scope)? {
            return Ok(found.path);
        }
        let start = match &scope.cafe {
            Some(path) => PathBuf::from(path),
            None => scope.cwd.clone(),
        };
        repository_root(&start).ok_or(ServiceError::NotInRepository { path: start })
    }

    /// The `.orch/` folder of the repository `scope` means.
    pub fn orch(&self, scope: &Scope) -> Result<OrchDir> {
        Ok(OrchDir::of_repo(&self.repository(scope)?))
    }

    /// What is installed for the cafe `scope` means — plugins, roles, skills — for checking the
    /// names recipes use.
    pub fn known(&self, scope: &Scope) -> Result<Known> {
        let repo = self.repository(scope).ok();
        let orch = repo.as_deref().map(OrchDir::of_repo);
        let registry = self.plugins(repo.as_deref())?;
        let (mut providers, mut parsers) = (Vec::new(), Vec::new());
        for plugin in registry.active() {
            match plugin.kind() {
                PluginKind::Provider => providers.push(plugin.id().to_owned()),
                PluginKind::SignalParser => parsers.push(plugin.id().to_owned()),
            }
        }
        let (roles, skills) = match &orch {
            Some(orch) => (
                RoleCatalog::load(orch)?
                    .ids()
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
                SkillCatalog::load(orch)?
                    .ids()
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            ),
            // Outside any repository only the built-ins exist.
            None => (
                codecafe_catalog::role::builtin_roles()?
                    .into_iter()
                    .map(|r| r.id)
                    .collect(),
                codecafe_catalog::skill::builtin_skills()?
                    .into_iter()
                    .map(|s| s.id)
                    .collect(),
            ),
        };
        Ok(Known {
            providers: Some(providers),
            signal_parsers: Some(parsers),
            roles: Some(roles),
            skills: Some(skills),
        })
    }

    /// The cafe `order` belongs to.
    pub fn order_cafe(&self, order: &Order) -> Result<Cafe> {
        self.cafes().find(&order.cafe_id).map_err(|_| {
            let retired = self
                .cafes()
                .retired()
                .ok()
                .and_then(|r| r.into_iter().find(|r| r.cafe.id == order.cafe_id))
                .map(|r| r.cafe.path);
            let path = retired.or_else(|| order_repository(order));
            ServiceError::CafeGone {
                order: order.short_id(),
                cafe: order.cafe_id.clone(),
                path: path.map_or_else(|| "<path>".to_owned(), |p| p.display().to_string()),
            }
        })
    }
}

/// The repository an order's worktree belongs to, read from the worktree itself (for an order
/// whose cafe is no longer registered).
pub fn order_repository(order: &Order) -> Option<PathBuf> {
    let worktree = order.worktree_path.as_ref().filter(|p| p.exists())?;
    let repo = git2::Repository::open(worktree).ok()?;
    // A linked worktree's common directory is the main repository's `.git`.
    let common = repo.commondir().canonicalize().ok()?;
    common.parent().map(Path::to_path_buf)
}
