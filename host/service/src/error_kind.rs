//! [`ErrorKind`]: what sort of failure a [`ServiceError`] is — a missing thing, a bad value,
//! an order in the wrong state, … — for front ends that answer by category (the HTTP server's
//! status codes) rather than by message. The message stays the error's own.

use codecafe_catalog::CatalogError;
use codecafe_engine::EngineError;
use codecafe_runner::RunnerError;
use codecafe_store::StoreError;
use codecafe_worktree::WorktreeError;
use serde::Serialize;

use crate::error::ServiceError;

/// The category of a [`ServiceError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// No cafe, order, recipe, skill, role or profile has this id.
    NotFound,
    /// An id prefix matches several.
    Ambiguous,
    /// A value given is malformed or names something unusable.
    BadInput,
    /// A recipe, skill or role has mistakes (all listed in the message).
    Invalid,
    /// Something with this id exists already.
    AlreadyExists,
    /// A built-in cannot be changed or removed.
    BuiltIn,
    /// The order is not in a state for this operation.
    WrongStatus,
    /// The operation conflicts with the state of the repository, a cafe or another process.
    Conflict,
    /// Going on would lose uncommitted or unmerged work.
    WouldLoseWork,
    /// A provider, the repository or the machine is not ready to run.
    NotReady,
    /// The repository's `.orch/` needs the user's trust first.
    Untrusted,
    /// The database or the terminal slots are busy; try again.
    Busy,
    /// A bounded wait ran out.
    Timeout,
    /// Anything else: files, the database, plugins, codecafe itself.
    Internal,
}

impl ServiceError {
    /// What sort of failure this is.
    pub fn kind(&self) -> ErrorKind {
        use ServiceError as E;
        match self {
            E::Catalog(err) => catalog_kind(err),
            E::Store(err) => store_kind(err),
            E::Runner(err) => runner_kind(err),
            E::Worktree(err) => worktree_kind(err),
            E::Live { .. } => ErrorKind::Conflict,
            E::NoCafe
            | E::NotInRepository { .. }
            | E::BadInput { .. }
            | E::GivenTwice { .. }
            | E::UnknownProvider { .. }
            | E::PluginNotAdded { .. } => ErrorKind::BadInput,
            E::WrongStatus { .. } | E::AlreadyEnded { .. } | E::EndedFirst { .. } => {
                ErrorKind::WrongStatus
            }
            E::CafeHasOrders { .. }
            | E::CafeGone { .. }
            | E::StillRunning { .. }
            | E::NothingToMerge { .. }
            | E::WorktreeGone { .. } => ErrorKind::Conflict,
            E::CancelTimeout { .. } => ErrorKind::Timeout,
            E::NotReady { .. } => ErrorKind::NotReady,
            E::Untrusted { .. } => ErrorKind::Untrusted,
            E::Plugin(_) | E::Io { .. } | E::NoHome => ErrorKind::Internal,
        }
    }
}

fn catalog_kind(err: &CatalogError) -> ErrorKind {
    use CatalogError as E;
    match err {
        E::NotFound { .. } => ErrorKind::NotFound,
        E::Ambiguous { .. } => ErrorKind::Ambiguous,
        E::Invalid { .. } => ErrorKind::Invalid,
        E::AlreadyExists { .. } => ErrorKind::AlreadyExists,
        E::BuiltIn { .. } => ErrorKind::BuiltIn,
        E::InvalidId { .. } | E::NotARepository { .. } | E::BadValue { .. } => ErrorKind::BadInput,
        _ => ErrorKind::Internal,
    }
}

fn store_kind(err: &StoreError) -> ErrorKind {
    use StoreError as E;
    match err {
        E::OrderNotFound { .. } | E::InvalidOrderId { .. } => ErrorKind::NotFound,
        E::AmbiguousOrder { .. } => ErrorKind::Ambiguous,
        E::IllegalTransition { .. }
        | E::IllegalStageTransition { .. }
        | E::StillActive { .. }
        | E::NoOpenQuestion { .. }
        | E::NoPendingApproval { .. } => ErrorKind::WrongStatus,
        E::OrderExists { .. } | E::Claimed { .. } | E::NotClaimed { .. } => ErrorKind::Conflict,
        E::Busy { .. } => ErrorKind::Busy,
        E::BadValue { .. } => ErrorKind::BadInput,
        _ => ErrorKind::Internal,
    }
}

fn runner_kind(err: &RunnerError) -> ErrorKind {
    use RunnerError as E;
    match err {
        E::Catalog(err) => catalog_kind(err),
        E::Store(err) => store_kind(err),
        E::Engine(
            EngineError::IllegalOrder(_)
            | EngineError::IllegalStage { .. }
            | EngineError::UnexpectedEvent { .. },
        ) => ErrorKind::WrongStatus,
        E::Engine(_) => ErrorKind::Invalid,
        E::Prompt(_) | E::UnknownStage { .. } | E::BudgetTooLow { .. } => ErrorKind::BadInput,
        E::NotRunnable { .. }
        | E::BudgetDecision { .. }
        | E::AwaitsApproval { .. }
        | E::ApprovalOutOfTurn { .. } => ErrorKind::WrongStatus,
        E::SeveralApprovals { .. } => ErrorKind::Ambiguous,
        E::StagesChanged { .. } => ErrorKind::Conflict,
        E::Slot { .. } => ErrorKind::Busy,
        E::QueueTimeout { .. } => ErrorKind::Timeout,
        _ => ErrorKind::Internal,
    }
}

fn worktree_kind(err: &WorktreeError) -> ErrorKind {
    use WorktreeError as E;
    match err {
        E::NotARepository { .. }
        | E::InvalidName { .. }
        | E::BranchNotFound { .. }
        | E::BadValue { .. } => ErrorKind::BadInput,
        E::WouldLoseWork { .. } => ErrorKind::WouldLoseWork,
        E::NoIdentity { .. } => ErrorKind::NotReady,
        E::Io { .. } => ErrorKind::Internal,
        _ => ErrorKind::Conflict,
    }
}
