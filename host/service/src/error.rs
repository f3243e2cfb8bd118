//! [`ServiceError`]: everything an operation can refuse or fail with, each message saying what
//! to do next (the CLI prints it as it is; the HTTP server sends it as JSON).

use std::path::PathBuf;

use codecafe_catalog::CatalogError;
use codecafe_engine::OrderStatus;
use codecafe_plugin_host::PluginError;
use codecafe_runner::RunnerError;
use codecafe_store::StoreError;
use codecafe_worktree::WorktreeError;

/// The result of a service operation.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A cafe, recipe, skill, role, profile or settings file.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The order database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Running an order.
    #[error(transparent)]
    Runner(#[from] RunnerError),
    /// An order's branch or worktree.
    #[error(transparent)]
    Worktree(#[from] WorktreeError),
    /// A plugin.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// A file or directory could not be read or written.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause (in the message, so not a `source` printed twice).
        error: std::io::Error,
    },
    /// No directory for codecafe's data.
    #[error("cannot find a home directory for codecafe's data; set CODECAFE_HOME to a directory")]
    NoHome,
    /// The command needs a cafe and none applies.
    #[error(
        "orders belong to a registered cafe: run `codecafe init` in the repository, or pass --cafe"
    )]
    NoCafe,
    /// The command needs a repository and none applies.
    #[error(
        "{} is not inside a git repository and no cafe was used before; run codecafe inside a \
         cafe, pass --cafe, or register one with `codecafe init`",
        path.display()
    )]
    NotInRepository {
        /// Where the search started.
        path: PathBuf,
    },
    /// `cafe rm` of a cafe that has orders.
    #[error(
        "cafe {cafe} has {} orders ({}); they would be orphaned: `--keep-orders` keeps them \
         (registering the repository again brings them back), `--remove-orders` deletes them \
         first (refusing to lose uncommitted or unmerged work), or delete them with `codecafe \
         order rm`",
        orders.len(),
        orders.join(", ")
    )]
    CafeHasOrders {
        /// The cafe's name.
        cafe: String,
        /// Its orders: short id and status.
        orders: Vec<String>,
    },
    /// An order's cafe is no longer registered.
    #[error(
        "order {order} belongs to cafe {cafe}, which is no longer registered; `codecafe cafe add \
         {path}` registers its repository again and brings its orders back"
    )]
    CafeGone {
        /// The order's short id.
        order: String,
        /// Its cafe id.
        cafe: String,
        /// Its repository, as far as it can be told (`<path>` when not).
        path: String,
    },
    /// An interactive stage's live agent could not take the answer or viewer.
    #[error("order {order}: {message}")]
    Live {
        /// The order's short id.
        order: String,
        /// Why (the stage's worker's words, or that no live terminal listens).
        message: String,
    },
    /// The order is not in a status the operation works on.
    #[error("order {order} is {status}; {hint}")]
    WrongStatus {
        /// The order's short id.
        order: String,
        /// Its status.
        status: OrderStatus,
        /// What can be done instead.
        hint: String,
    },
    /// The order already ended; there is nothing to cancel.
    #[error("order {order} is already {status}")]
    AlreadyEnded {
        /// The order's short id.
        order: String,
        /// How it ended.
        status: OrderStatus,
    },
    /// Another living process runs the order.
    #[error(
        "order {order} is still being run by {runner}; wait for it, or stop it with `codecafe \
         order cancel {order}`"
    )]
    StillRunning {
        /// The order's short id.
        order: String,
        /// The runner holding it.
        runner: String,
    },
    /// `order cancel` waited in vain.
    #[error("order {order} was not cancelled within {secs}s")]
    CancelTimeout {
        /// The order's short id.
        order: String,
        /// How long it waited.
        secs: u64,
    },
    /// The order ended another way while a cancel was on its way.
    #[error("order {order} ended {status} before the cancel took effect")]
    EndedFirst {
        /// The order's short id.
        order: String,
        /// How it ended.
        status: OrderStatus,
    },
    /// A value given by the user is malformed.
    #[error("{what}: {message}")]
    BadInput {
        /// What was given (`--var a`, `pool.max`, …).
        what: String,
        /// What is wrong and how to write it.
        message: String,
    },
    /// An order that ran in place has no branch of its own.
    #[error(
        "order {order} ran in place, on the repository's own checkout: its changes are already \
         there, there is nothing to merge"
    )]
    NothingToMerge {
        /// The order's short id.
        order: String,
    },
    /// The order's worktree was removed.
    #[error("the order's worktree {} is gone", path.display())]
    WorktreeGone {
        /// Where it was.
        path: PathBuf,
    },
    /// The same value was given twice.
    #[error("{what} is given twice")]
    GivenTwice {
        /// What was repeated (`--option model`, …).
        what: String,
    },
    /// No installed provider plugin has this id.
    #[error(
        "no provider plugin `{provider}` is installed; the providers are {} (`codecafe plugin \
         list`)",
        installed.join(", ")
    )]
    UnknownProvider {
        /// The id given.
        provider: String,
        /// The installed providers' ids.
        installed: Vec<String>,
    },
    /// A provider the run needs, the repository or the machine is not ready (see
    /// [`crate::doctor`]); nothing was created or started.
    #[error(
        "not ready to run:{}\n`codecafe doctor` checks again",
        problems.iter().map(|p| format!("\n  - {p}")).collect::<String>()
    )]
    NotReady {
        /// Each problem, with its fix.
        problems: Vec<crate::doctor::Check>,
    },
    /// A plugin file did not validate, so it was not installed.
    #[error("{} was not added: {reason}", file.display())]
    PluginNotAdded {
        /// The file given.
        file: PathBuf,
        /// Why it cannot be used.
        reason: PluginError,
    },
    /// The repository's `.orch/` holds what can run programs or reach beyond the worktree, and
    /// the user has not trusted it as it is.
    #[error(
        "{}: its .orch/ holds what can run programs or reach beyond the worktree, {}:{}\n\
         nothing was run. Review it, then trust it with `codecafe trust {}` (for a \
         non-interactive run: `codecafe run --trust …`, or {}=1 in the environment)",
        repository.display(),
        if *changed { "changed since you trusted it" } else { "and you have not trusted it" },
        items.iter().map(|item| format!("\n  - {item}")).collect::<String>(),
        repository.display(),
        crate::trust::TRUST_ENV
    )]
    Untrusted {
        /// The repository.
        repository: PathBuf,
        /// It was trusted, and changed since.
        changed: bool,
        /// What needs trust (new or changed), in words.
        items: Vec<String>,
    },
}

impl ServiceError {
    /// A [`ServiceError::BadInput`].
    pub fn bad_input(what: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadInput {
            what: what.into(),
            message: message.into(),
        }
    }

    /// A [`ServiceError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            error: source,
        }
    }
}
