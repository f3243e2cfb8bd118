//! The lifecycle of one stage of a recipe, as an explicit transition table.
//!
//! ```text
//! pending ─start─▶ running ─complete─▶ completed ─rerun─▶ pending
//!    │              │   ▲ ─fail────▶ failed ────retry─▶ pending
//!    │ await-input  │   │ input-received
//!    │              ▼   │
//!    │         awaiting-input ─fail─▶ failed
//!    ├─skip─▶ skipped ─rerun─▶ pending
//!    └─cancel─▶ cancelled ─retry─▶ pending   (cancel also from running and awaiting-input)
//! ```
//!
//! The table [`STAGE_TRANSITIONS`] is the whole truth. The engine keeps one of these per stage
//! of an order's plan; the store keeps one per *attempt* (a stage run), where a new attempt is
//! a new run rather than a `retry` of the old one, so every attempt's output, usage and error
//! stay on record.
//!
//! - `retry` (from `failed` or `cancelled`) puts the stage back in the queue as `pending`,
//!   where it waits out the recipe's `retry_backoff`; the engine bounds the number of retries.
//! - `rerun` (from `completed` or `skipped`) is for retrying an order from an earlier stage or
//!   from the beginning: the later stages run again.
//! - `resume-after-crash` is the self-loop on `running` used when codecafe died while the
//!   stage's agent ran, and execution continues from the database.
//! - `skip` only applies to a stage that has not started (`skip_next` and skip lists).

use crate::machine::{self, IllegalTransition, named_enum};

named_enum! {
    /// Where a stage (or one attempt of it) is in its lifecycle.
    pub enum StageStatus ("stage status") {
        /// Not started yet (or queued again for a retry).
        Pending = "pending",
        /// Its agent is running.
        Running = "running",
        /// Its agent asked the user something; the session waits to be continued.
        AwaitingInput = "awaiting-input",
        /// Finished successfully.
        Completed = "completed",
        /// Finished unsuccessfully (exit code, timeout, plugin error, ...).
        Failed = "failed",
        /// Not run, because a signal or the recipe said so.
        Skipped = "skipped",
        /// Stopped by the user, or never run because the order was cancelled.
        Cancelled = "cancelled",
    }
}

named_enum! {
    /// What moves a stage from one status to another.
    pub enum StageAction ("stage action") {
        /// Its agent is spawned.
        Start = "start",
        /// The stage signalled `await_user`.
        AwaitInput = "await-input",
        /// The user answered; the same agent session continues.
        InputReceived = "input-received",
        /// The agent finished and the stage succeeded.
        Complete = "complete",
        /// The stage failed.
        Fail = "fail",
        /// A signal or the recipe skips the stage before it starts.
        Skip = "skip",
        /// The order was cancelled.
        Cancel = "cancel",
        /// Queue a failed or cancelled stage again.
        Retry = "retry",
        /// Queue a completed or skipped stage again (retry from an earlier stage).
        Rerun = "rerun",
        /// codecafe died while this stage ran; continue from the database.
        ResumeAfterCrash = "resume-after-crash",
    }
}

/// The stage machine's error: names the status, the action and what is allowed.
pub type IllegalStageTransition = IllegalTransition<StageStatus, StageAction>;

/// Every allowed move, `(from, action, to)`. Anything not here is refused.
pub const STAGE_TRANSITIONS: &[(StageStatus, StageAction, StageStatus)] = {
    use StageAction as A;
    use StageStatus as S;
    &[
        (S::Pending, A::Start, S::Running),
        (S::Pending, A::Skip, S::Skipped),
        (S::Pending, A::Cancel, S::Cancelled),
        (S::Running, A::AwaitInput, S::AwaitingInput),
        (S::Running, A::Complete, S::Completed),
        (S::Running, A::Fail, S::Failed),
        (S::Running, A::Cancel, S::Cancelled),
        (S::Running, A::ResumeAfterCrash, S::Running),
        (S::AwaitingInput, A::InputReceived, S::Running),
        (S::AwaitingInput, A::Fail, S::Failed),
        (S::AwaitingInput, A::Cancel, S::Cancelled),
        (S::Failed, A::Retry, S::Pending),
        (S::Cancelled, A::Retry, S::Pending),
        (S::Completed, A::Rerun, S::Pending),
        (S::Skipped, A::Rerun, S::Pending),
    ]
};

/// The status `action` moves a stage in status `from` to, or why it cannot.
pub fn transition(
    from: StageStatus,
    action: StageAction,
) -> Result<StageStatus, IllegalStageTransition> {
    machine::apply("stage", STAGE_TRANSITIONS, from, action)
}

impl StageStatus {
    /// The status after `action`, or why it is not allowed (same as [`transition`]).
    pub fn apply(self, action: StageAction) -> Result<Self, IllegalStageTransition> {
        transition(self, action)
    }

    /// The actions allowed from this status, in table order.
    pub fn allowed_actions(self) -> impl Iterator<Item = StageAction> {
        machine::allowed_from(STAGE_TRANSITIONS, self)
    }

    /// Whether `action` is allowed from this status.
    pub fn allows(self, action: StageAction) -> bool {
        transition(self, action).is_ok()
    }

    /// The stage is done for this attempt (`completed`, `failed`, `skipped`, `cancelled`).
    pub const fn is_finished(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::Skipped | Self::Cancelled
        )
    }
}
