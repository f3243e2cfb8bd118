//! The order lifecycle as an explicit transition table.
//!
//! ```text
//! created ─start─▶ running ─complete─▶ completed ─enter-followup─▶ followup ─run-followup─▶ followup-running
//!                   │   ▲                  ▲                         │  ▲                        │
//!        await-input│   │input-received    └─────finish-followup─────┘  └─complete|fail|cancel──┘
//!                   ▼   │
//!              awaiting-input          running|awaiting-input ─fail─▶ failed ─retry─▶ running
//!                                created|running|awaiting-input ─cancel─▶ cancelled ─retry─▶ running
//!   followup-running ─await-input─▶ followup-awaiting-input ─input-received─▶ followup-running
//! ```
//!
//! The table [`ORDER_TRANSITIONS`] is the whole truth; the picture is a summary. Choices worth
//! knowing:
//!
//! - **Follow-ups** keep the order's work done: `completed --enter-followup--> followup` opens a
//!   conversation on the finished order; each follow-up prompt runs as `followup-running` and
//!   comes back to `followup` whether it completes, fails or is cancelled (its outcome is
//!   recorded on its stage run and in the events), because the order's own result is not undone
//!   by a follow-up. A follow-up that asks the user (or reaches the budget) waits in
//!   `followup-awaiting-input` until `input-received` continues it (or it is cancelled or
//!   fails, back to `followup`). `finish-followup` closes it again (`followup → completed`).
//! - **Retry** is allowed from `failed` and from `cancelled` (a user who cancelled by mistake can
//!   continue); it increments the order's attempt.
//! - **Crash resume**: when codecafe itself died while an agent ran, the order is still
//!   `running` (or `followup-running`) in the database; `resume-after-crash` is the explicit
//!   self-loop that restarts execution from the last durable point.
//! - `awaiting-input --fail--> failed` covers a session that can no longer be resumed.

use crate::machine::{self, IllegalTransition, named_enum};

named_enum! {
    /// Where an order is in its lifecycle.
    pub enum OrderStatus ("order status") {
        /// Made, with its branch and worktree, not started.
        Created = "created",
        /// A stage's agent is running (or about to).
        Running = "running",
        /// A stage asked the user something (or the budget was reached); no agent runs.
        AwaitingInput = "awaiting-input",
        /// Every stage finished; the work is on the order's branch.
        Completed = "completed",
        /// A stage failed and the recipe said to stop; can be retried.
        Failed = "failed",
        /// The user cancelled; the agent's processes are gone. Can be retried.
        Cancelled = "cancelled",
        /// Completed and open for follow-up prompts; no agent runs.
        Followup = "followup",
        /// A follow-up prompt is running.
        FollowupRunning = "followup-running",
        /// A follow-up asked the user something (or the budget was reached); no agent runs.
        FollowupAwaitingInput = "followup-awaiting-input",
    }
}

named_enum! {
    /// What moves an order from one status to another.
    pub enum OrderAction ("order action") {
        /// Begin executing the recipe.
        Start = "start",
        /// A stage signalled `await_user`, or the budget guard paused the order.
        AwaitInput = "await-input",
        /// The user answered; the same agent session continues.
        InputReceived = "input-received",
        /// The run (or the follow-up prompt) finished successfully.
        Complete = "complete",
        /// The run (or the follow-up prompt) failed.
        Fail = "fail",
        /// The user cancelled; the agent's process group has been killed.
        Cancel = "cancel",
        /// Run again after a failure or a cancellation (from a stage or from the beginning).
        Retry = "retry",
        /// Open a completed order for follow-up prompts.
        EnterFollowup = "enter-followup",
        /// Run one follow-up prompt.
        RunFollowup = "run-followup",
        /// Close the follow-up conversation.
        FinishFollowup = "finish-followup",
        /// codecafe died while this order ran; continue from the last durable point.
        ResumeAfterCrash = "resume-after-crash",
    }
}

/// The order machine's error: names the status, the action and what is allowed.
pub type IllegalOrderTransition = IllegalTransition<OrderStatus, OrderAction>;

/// Every allowed move, `(from, action, to)`. Anything not here is refused.
pub const ORDER_TRANSITIONS: &[(OrderStatus, OrderAction, OrderStatus)] = {
    use OrderAction as A;
    use OrderStatus as S;
    &[
        (S::Created, A::Start, S::Running),
        (S::Created, A::Cancel, S::Cancelled),
        (S::Running, A::AwaitInput, S::AwaitingInput),
        (S::Running, A::Complete, S::Completed),
        (S::Running, A::Fail, S::Failed),
        (S::Running, A::Cancel, S::Cancelled),
        (S::Running, A::ResumeAfterCrash, S::Running),
        (S::AwaitingInput, A::InputReceived, S::Running),
        (S::AwaitingInput, A::Fail, S::Failed),
        (S::AwaitingInput, A::Cancel, S::Cancelled),
        (S::Failed, A::Retry, S::Running),
        (S::Cancelled, A::Retry, S::Running),
        (S::Completed, A::EnterFollowup, S::Followup),
        (S::Followup, A::RunFollowup, S::FollowupRunning),
        (S::Followup, A::FinishFollowup, S::Completed),
        (S::FollowupRunning, A::Complete, S::Followup),
        (S::FollowupRunning, A::Fail, S::Followup),
        (S::FollowupRunning, A::Cancel, S::Followup),
        (S::FollowupRunning, A::ResumeAfterCrash, S::FollowupRunning),
        (S::FollowupRunning, A::AwaitInput, S::FollowupAwaitingInput),
        (
            S::FollowupAwaitingInput,
            A::InputReceived,
            S::FollowupRunning,
        ),
        (S::FollowupAwaitingInput, A::Fail, S::Followup),
        (S::FollowupAwaitingInput, A::Cancel, S::Followup),
        (S::FollowupAwaitingInput, A::FinishFollowup, S::Completed),
    ]
};

/// The status `action` moves an order in status `from` to, or why it cannot.
pub fn transition(
    from: OrderStatus,
    action: OrderAction,
) -> Result<OrderStatus, IllegalOrderTransition> {
    machine::apply("order", ORDER_TRANSITIONS, from, action)
}

impl OrderStatus {
    /// The status after `action`, or why it is not allowed (same as [`transition`]).
    pub fn apply(self, action: OrderAction) -> Result<Self, IllegalOrderTransition> {
        transition(self, action)
    }

    /// The actions allowed from this status, in table order.
    pub fn allowed_actions(self) -> impl Iterator<Item = OrderAction> {
        machine::allowed_from(ORDER_TRANSITIONS, self)
    }

    /// Whether `action` is allowed from this status.
    pub fn allows(self, action: OrderAction) -> bool {
        transition(self, action).is_ok()
    }

    /// An agent may be running for the order right now (`running`, `followup-running`): it
    /// must be cancelled before it is deleted.
    pub const fn is_active(self) -> bool {
        matches!(self, Self::Running | Self::FollowupRunning)
    }

    /// The run is over (`completed`, `failed`, `cancelled`): only a user's retry or follow-up
    /// starts anything again.
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// The order waits for a person (`awaiting-input`, `followup`,
    /// `followup-awaiting-input`) and holds no agent.
    pub const fn is_waiting(self) -> bool {
        matches!(
            self,
            Self::AwaitingInput | Self::Followup | Self::FollowupAwaitingInput
        )
    }

    /// The order waits for an answer to its questions or its budget (`awaiting-input`,
    /// `followup-awaiting-input`): `order input` continues it.
    pub const fn awaits_input(self) -> bool {
        matches!(self, Self::AwaitingInput | Self::FollowupAwaitingInput)
    }

    /// The order is in a follow-up (`followup`, `followup-running`,
    /// `followup-awaiting-input`).
    pub const fn in_followup(self) -> bool {
        matches!(
            self,
            Self::Followup | Self::FollowupRunning | Self::FollowupAwaitingInput
        )
    }
}
