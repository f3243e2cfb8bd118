//! # codecafe-service
//!
//! Every codecafe operation as a library call: the CLI parses its arguments, makes one call
//! here and prints the result; the local HTTP server calls the same functions. Nothing here
//! prints or exits the process; long operations report through callbacks and stop through a
//! [`CancelToken`]; a [`Service`] is shared by many threads running many orders at once.
//!
//! | module | operations |
//! |---|---|
//! | [`service`] | [`Service`] (set-up: data dir, database, plugin host, slots), [`Scope`] (which cafe) |
//! | [`orders`] | create (with or without worktree), list, get, logs (and follow), diff, merge, delete |
//! | [`execute`] | run, dry run, execute, input, retry, resume, follow-up (run, finish) |
//! | [`control`] | cancel from any process; whether an order's runner lives |
//! | [`status`] | what runs and waits, agents and slots machine-wide |
//! | [`settings`] | machine-wide settings (`pool.max`, `pool.provider.<id>`) |
//! | [`cafes`] | register (`init`), list, show, update, use, remove |
//! | [`catalog`] | recipes, skills, roles, profiles: list, show, validate, create, change |
//! | [`plugins`] | list, inspect, add, remove, check |
//! | [`demo`] | a complete offline order on a scratch repository |
//! | [`trust`] | workspace trust: what a repository's `.orch/` may run, pinned by content hash |
//! | [`doctor`] | is everything ready: agent CLIs, versions, logins, sandbox, git, trust |
//! | [`narrate`] | events in words: a human line per event, a run's live status line |
//! | [`feed`] | every order's events as one sequence, read by a server that streams them |
//!
//! Errors are one enum, [`ServiceError`], whose messages say what to do next; its
//! [`ErrorKind`] says what sort of failure it is (the HTTP server's status codes).

pub mod cafes;
pub mod catalog;
pub mod control;
pub mod demo;
pub mod doctor;
pub mod error;
mod error_kind;
pub mod execute;
pub mod feed;
pub mod live;
pub mod narrate;
pub mod orders;
pub mod paths;
pub mod plugins;
pub mod service;
pub mod settings;
pub mod status;
pub mod trust;

pub use error::{Result, ServiceError};
pub use error_kind::ErrorKind;
pub use paths::Paths;
pub use service::{Scope, Service};

/// The types an operation's caller sees, re-exported so that front ends depend on this crate
/// alone.
pub use codecafe_catalog as catalog_types;
pub use codecafe_engine::driver::RetryFrom;
pub use codecafe_engine::{OrderStatus, StageStatus};
pub use codecafe_runner::{CancelToken, DryRun, RunOutcome, StopReason};
pub use codecafe_store::event::{self, EVENT_VERSION, Event, EventBody};
pub use codecafe_store::{
    Approval, Decision, Order, OrderCursor, OrderFilter, QuestionKind, StageRun,
};
