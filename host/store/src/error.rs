//! The store's errors: one enum, each variant with the facts needed to act on it.

use std::path::PathBuf;
use std::time::Duration;

use codecafe_engine::{IllegalOrderTransition, IllegalStageTransition, OrderStatus};
use uuid::Uuid;

/// Everything that can go wrong opening or using the runtime database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database's directory could not be created.
    #[error("{}: {source}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },

    /// SQLite refused an operation.
    #[error("{}: database error: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's explanation.
        source: rusqlite::Error,
    },

    /// Another process kept the database locked for longer than the busy timeout.
    #[error(
        "{}: another codecafe process kept the database locked for over {} s; try again, and \
         if this repeats look for a stuck codecafe process",
        path.display(),
        waited.as_secs_f64()
    )]
    Busy {
        /// The database file.
        path: PathBuf,
        /// How long this process waited.
        waited: Duration,
    },

    /// The database was written by a newer codecafe.
    #[error(
        "{}: written by a newer codecafe (schema version {found}, this one knows up to \
         {supported}); upgrade codecafe. The database was left untouched",
        path.display()
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },

    /// A stored value cannot be read back (unknown status, bad JSON, bad timestamp, ...).
    #[error(
        "{}: unreadable stored data: {detail}; nothing was changed. If it was written by a \
         newer codecafe, upgrade; otherwise check the file with `sqlite3 <file> 'PRAGMA \
         integrity_check'`",
        path.display()
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What could not be read.
        detail: String,
    },

    /// `answer` was given but the order asks nothing.
    #[error("order {order} asks no question")]
    NoOpenQuestion {
        /// The order's short id.
        order: String,
    },

    /// No approval of the order has this id, or it is no longer pending.
    #[error("order {order} has no pending approval {approval}{}", if pending.is_empty() { String::new() } else { format!(" (pending: {})", pending.join(", ")) })]
    NoPendingApproval {
        /// The order's short id.
        order: String,
        /// The approval named.
        approval: i64,
        /// The ids of the approvals that are pending.
        pending: Vec<String>,
    },

    /// No order has this id or id prefix.
    #[error("no order `{id}`; `codecafe order list` shows the orders")]
    OrderNotFound {
        /// The id or prefix given.
        id: String,
    },

    /// An id prefix matches several orders.
    #[error(
        "`{prefix}` matches {total} orders: {}{}; give more of the id",
        candidates.join(", "),
        if *total > candidates.len() { ", ..." } else { "" }
    )]
    AmbiguousOrder {
        /// The prefix given.
        prefix: String,
        /// Some of the ids it matches (up to ten), newest first.
        candidates: Vec<String>,
        /// How many ids it matches.
        total: usize,
    },

    /// The text given cannot be an order id or a prefix of one.
    #[error("`{given}` is not an order id: {reason}")]
    InvalidOrderId {
        /// The text given.
        given: String,
        /// Why.
        reason: &'static str,
    },

    /// An order with this id exists already.
    #[error("order {id} already exists; generate a new id")]
    OrderExists {
        /// The id.
        id: Uuid,
    },

    /// The order's state machine does not allow this action now; nothing was changed.
    #[error("order {id}: {source}")]
    IllegalTransition {
        /// The order.
        id: Uuid,
        /// The state, the action and what is allowed.
        source: IllegalOrderTransition,
    },

    /// No stage run has this id.
    #[error("no stage run {id}")]
    StageRunNotFound {
        /// The stage run's id.
        id: i64,
    },

    /// The stage's state machine does not allow this action now; nothing was changed.
    #[error("stage `{stage_id}` (run {run_id}): {source}")]
    IllegalStageTransition {
        /// The stage run.
        run_id: i64,
        /// The stage's id in the recipe.
        stage_id: String,
        /// The state, the action and what is allowed.
        source: IllegalStageTransition,
    },

    /// The order may still have an agent running; deleting it now could lose work.
    #[error(
        "order {id} is {status}: an agent may still be running for it; cancel it first \
         (`codecafe order cancel {}`)",
        short(id)
    )]
    StillActive {
        /// The order.
        id: Uuid,
        /// Its status.
        status: OrderStatus,
    },

    /// Another runner holds the order and has been heard from recently.
    #[error(
        "order {id} is being run by {runner} (last heard from {} s ago); wait for it, or cancel \
         the order",
        heard_ago.as_secs()
    )]
    Claimed {
        /// The order.
        id: Uuid,
        /// The runner holding it.
        runner: String,
        /// Time since its last heartbeat.
        heard_ago: Duration,
    },

    /// A runner tried to heartbeat or release an order it does not hold.
    #[error("order {id} is not held by {runner}{}", match holder {
        Some(h) => format!(" (it is held by {h})"),
        None => " (nobody holds it)".to_owned(),
    })]
    NotClaimed {
        /// The order.
        id: Uuid,
        /// The runner that thought it held the order.
        runner: String,
        /// Who holds it, if anyone.
        holder: Option<String>,
    },

    /// A value given to the store is unusable.
    #[error("{what}: {message}")]
    BadValue {
        /// Which value.
        what: &'static str,
        /// Why, and what would be accepted.
        message: String,
    },
}

fn short(id: &Uuid) -> String {
    let mut text = id.to_string();
    text.truncate(8);
    text
}

/// The store's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
