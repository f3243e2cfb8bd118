//! # codecafe-runner
//!
//! Runs orders: checks, resolves and plans the recipe, renders each stage's prompt, takes a
//! machine-wide terminal slot, starts the agent through its provider plugin, streams and
//! normalizes its output, reads the stage's signals with a signal parser plugin, and feeds the
//! result back to the engine — persisting every change and event in the store **before** it is
//! emitted to the caller. Follow-ups run through the same loop as a recipe's stages.
//!
//! - [`runner`]: [`Runner`] — run, continue (input, retry, resume), follow up; claims and the
//!   cafe's queue.
//! - [`run_loop`] (private): the loop that interprets the engine's commands.
//! - [`prepare`]: [`Prepared`], a recipe resolved and planned with its roles and skills;
//!   [`DryRun`].
//! - [`prompt`]: a stage's prompt (role template + stage `prompt` + signal-format block).
//! - [`slots`]: [`Slots`], terminal slots that hold across every codecafe process.
//! - [`snapshot`]: [`RecipeSnapshot`], the recipe an order runs, pinned when it is created.
//! - [`check`]: provider checks before anything is created.
//! - [`denials`]: tool calls an agent was refused, and what they do to its stage.
//! - [`pricing`]: prices for agents that report tokens but no cost.
//! - [`policy`]: a stage's permission policy, the command sandbox, the agent's environment.
//! - [`control`]: [`CancelToken`], how a caller cancels or stops a run.
//! - [`liveness`]: runner ids and whether their process lives.
//! - [`groups`]: the process groups of running agents, recorded for other processes.
//! - [`outcome`]: [`RunOutcome`]; [`error`]: [`RunnerError`].

mod approvals;
pub mod check;
pub mod control;
pub mod denials;
pub mod error;
pub mod groups;
mod interactive;
pub mod live;
pub mod liveness;
pub mod outcome;
pub mod policy;
pub mod prepare;
pub mod pricing;
pub mod prompt;
pub mod queue;
mod run_loop;
pub mod runner;
pub mod screen;
pub mod slots;
pub mod snapshot;
mod stage;

pub use control::{CancelToken, StopReason};
pub use error::RunnerError;
pub use outcome::RunOutcome;
pub use prepare::{
    CafePermissions, Catalogs, DryRun, DryRunStage, FOLLOWUP_STAGE, FollowupSpec, Prepared,
};
pub use runner::{
    Continuation, INTERRUPT_POLL, Runner, RunnerConfig, STALE_AFTER, finish_followup,
};
pub use slots::{Slot, Slots};
pub use snapshot::RecipeSnapshot;
