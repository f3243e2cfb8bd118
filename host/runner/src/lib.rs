//! # codecafe-runner
//!
//! Runs orders: loads and checks the recipe, plans it with the engine, renders each stage's
//! prompt, leases a terminal, starts the agent through its provider plugin, streams and
//! normalizes its output, reads the stage's signals with a signal parser plugin, and feeds the
//! result back to the engine — persisting every change and event in the store **before** it is
//! emitted to the caller.
//!
//! - [`prompt`]: a stage's prompt (role template + stage `prompt` + signal-format block).
//! - [`runner`]: [`Runner`], which executes one order in the foreground, and [`runner::DryRun`].
//! - [`groups`]: the process groups of running agents, recorded for other processes.
//! - [`events`]: the event kinds and the [`RunOutcome`].
//! - [`error`]: the [`RunnerError`] type.

pub mod error;
pub mod events;
pub mod groups;
pub mod prompt;
pub mod runner;
mod stage;

pub use error::RunnerError;
pub use events::RunOutcome;
pub use runner::{Catalogs, Continuation, DryRun, INTERRUPT_POLL, Prepared, Runner, RunnerConfig};
