//! # codecafe-store
//!
//! codecafe's runtime state — **orders**, their **stage runs** and their **events** (typed: one
//! Rust type per kind, documented in [`event`]) — and what must hold across every codecafe
//! process of the user — **settings** and the machine-wide **terminal slots** ([`slots`]) — in
//! one SQLite database, shared by every codecafe process on the machine.
//!
//! ## Guarantees
//!
//! - **Crash safety.** WAL journal with `synchronous=NORMAL`: a process killed at any moment
//!   (`kill -9` included) leaves every committed transaction and none of the uncommitted one;
//!   the next open recovers by itself. Tested by killing a writing child process.
//! - **Several processes at once.** Each process opens its own [`Store`]. Writes are
//!   `BEGIN IMMEDIATE` transactions, so concurrent writers queue for at most the busy timeout
//!   ([`DEFAULT_BUSY_TIMEOUT`], 10 s) rather than failing; readers never wait. Tested with
//!   threads and with child processes.
//! - **State machines enforced in the database.** [`Store::update_status`] and
//!   [`Store::update_stage_run`] apply `codecafe-engine`'s transition tables inside the write
//!   transaction: an illegal move is an error naming the state and the action, and changes
//!   nothing — even when two processes race.
//! - **Events are persisted before they are emitted.** [`Store::append_event`] returns the
//!   stored event (with its sequence number); emit that. [`Store::change_status`] stores a
//!   status change and its event in one transaction.
//! - **Versioned schema.** `PRAGMA user_version`, migrations each in a transaction, and a
//!   database from a newer codecafe is refused untouched (see [`schema`]).
//!
//! ## Representation
//!
//! Times are stored as INTEGER milliseconds since the Unix epoch (UTC) and returned as
//! [`jiff::Timestamp`]s, which serialize as RFC 3339. JSON columns (`vars`, `usage`,
//! `payload`) hold JSON text. Order ids are UUIDs stored as lowercase hyphenated text; any
//! unique prefix finds an order ([`Store::find_order`]).
//!
//! ```
//! use codecafe_engine::{OrderAction, OrderStatus};
//! use codecafe_store::event::{EventBody, Warning};
//! use codecafe_store::{NewOrder, OrderFilter, Store};
//!
//! let store = Store::open_in_memory()?;
//! let order = store.create_order(&NewOrder::new("cafe-1", "moon").prompt("Add rate limiting"))?;
//! let started = store.update_status(order.id, OrderAction::Start)?;
//! assert_eq!(started.status, OrderStatus::Running);
//! let event = store.append_event(order.id, &EventBody::Warning(Warning { message: "hi".into() }))?;
//! assert_eq!(event.kind(), "order:warning");
//! assert_eq!(store.events_since(order.id, 0, 100)?, vec![event]);
//! assert_eq!(store.find_order(&order.short_id())?.id, order.id);
//! assert_eq!(store.list_orders(&OrderFilter::all().cafe("cafe-1"))?.len(), 1);
//! // Illegal moves are refused and change nothing.
//! assert!(store.update_status(order.id, OrderAction::Start).is_err());
//! # Ok::<(), codecafe_store::StoreError>(())
//! ```

pub mod answers;
pub mod approvals;
pub mod error;
pub mod event;
pub mod model;
mod overview;
pub mod schema;
pub mod slots;
mod sql;
mod store;

pub use answers::{Question, QuestionKind};
pub use approvals::{Approval, Decision, NewApproval};
/// The state machines' types, re-exported so that users of the store need not name the engine.
pub use codecafe_engine::{OrderAction, OrderStatus, StageAction, StageStatus};
pub use error::{Result, StoreError};
pub use event::{EVENT_VERSION, Event, EventBody};
pub use model::{
    Deleted, NewOrder, NewStageRun, Order, OrderCursor, OrderFilter, StageRun, StageRunUpdate,
    StatusChange, StatusChanged,
};
pub use slots::{Claim, DEFAULT_POOL_MAX, PoolCaps, SlotLease, SlotRequest};
pub use store::{DEFAULT_BUSY_TIMEOUT, Store};
