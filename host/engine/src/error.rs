//! The crate's one error type: everything the engine refuses, with the stage or state named.

use crate::order::{IllegalOrderTransition, OrderStatus};
use crate::stage::IllegalStageTransition;

/// Everything the engine refuses. Nothing is silently ignored: a refused event leaves the run
/// exactly as it was before the event.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// Two stages of a plan share an id.
    #[error("stage `{0}` appears twice in the plan")]
    DuplicateStage(String),
    /// A stage waits for a stage the plan does not have.
    #[error("stage `{stage}` runs after `{after}`, which is not a stage of the plan")]
    UnknownPredecessor {
        /// The stage.
        stage: String,
        /// The id it names.
        after: String,
    },
    /// The `after` lists form a cycle, so no stage of it could ever start.
    #[error("the stages form a cycle through `{0}`; no stage of the cycle could ever start")]
    Cycle(String),
    /// An event or a snapshot names a stage the plan does not have.
    #[error("`{0}` is not a stage of the plan")]
    UnknownStage(String),
    /// The order machine refused a move.
    #[error(transparent)]
    IllegalOrder(#[from] IllegalOrderTransition),
    /// A stage machine refused a move.
    #[error("stage `{stage}`: {source}")]
    IllegalStage {
        /// The stage.
        stage: String,
        /// The refused move.
        source: IllegalStageTransition,
    },
    /// An event that makes no sense in the run's current state (e.g. a backoff that no stage
    /// waits for, or an answer when no question is open).
    #[error("unexpected {event} while the order is {status}: {why}")]
    UnexpectedEvent {
        /// The event's name.
        event: &'static str,
        /// The order's status then.
        status: OrderStatus,
        /// Why it does not apply.
        why: String,
    },
    /// A snapshot given to [`crate::driver::OrderRun::restore`] does not fit the plan.
    #[error("cannot restore the order: {0}")]
    BadSnapshot(String),
}
