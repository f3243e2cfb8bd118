//! What goes in and out of an order run: [`EngineEvent`]s in, [`EngineCommand`]s out, and the
//! values they carry; [`RunOptions`] and the persisted [`OrderSnapshot`].

use std::time::Duration;

use crate::order::{OrderAction, OrderStatus};
use crate::stage::{StageAction, StageStatus};

/// A signal a stage returned with its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// Carry on.
    Proceed,
    /// Ask the user these questions before going on.
    AwaitUser {
        /// The questions.
        questions: Vec<String>,
    },
    /// Skip these stages (by id).
    Skip {
        /// The stage ids.
        stages: Vec<String>,
    },
    /// Skip the stages that wait directly for this one.
    SkipNext,
    /// Run this stage again.
    Retry {
        /// Why.
        reason: String,
    },
}

/// How a stage's agent run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageOutcome {
    /// It succeeded, with the signals its result carried.
    Succeeded {
        /// The parsed signals.
        signals: Vec<Signal>,
    },
    /// It failed.
    Failed {
        /// What went wrong.
        error: String,
    },
    /// It ran past its timeout and was stopped.
    TimedOut,
    /// It was killed by a cancel.
    Cancelled,
}

/// Where a user's retry starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RetryFrom {
    /// The failed (or cancelled) stages.
    #[default]
    Failed,
    /// This stage and everything downstream of it.
    Stage(String),
    /// Every stage.
    Beginning,
}

/// What happens to the run.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// Begin the order.
    Start,
    /// The runner spawned the agent of a stage it was told to start.
    StageStarted {
        /// The stage.
        stage: String,
    },
    /// A stage's agent ended.
    StageFinished {
        /// The stage.
        stage: String,
        /// How.
        outcome: StageOutcome,
    },
    /// A `ScheduleBackoff` delay is over.
    BackoffElapsed {
        /// The stage.
        stage: String,
    },
    /// The user answered the open question of a stage.
    InputReceived {
        /// The answer.
        answer: String,
    },
    /// The user raised the budget of an order paused at its budget, to this many USD.
    BudgetRaised {
        /// The new limit, in USD; above the cost so far.
        limit_usd: f64,
    },
    /// The user cancelled the order.
    CancelRequested,
    /// The order's total recorded cost so far.
    CostRecorded {
        /// In USD.
        total_usd: f64,
    },
    /// The user retried a failed or cancelled order.
    RetryRequested {
        /// Where from.
        from: RetryFrom,
        /// New sessions (`true`) or each stage continuing its previous session.
        fresh: bool,
    },
    /// codecafe died; continue a run rebuilt by [`OrderRun::restore`].
    ResumeAfterCrash,
}

/// Which agent session a stage attempt runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    /// A new session.
    Fresh,
    /// Continue the latest session of this stage (possibly the stage itself).
    Continue {
        /// The stage whose session continues.
        of: String,
    },
    /// A forked copy of this stage's session where the provider can, else a new one.
    Fork {
        /// The stage whose session is forked.
        of: String,
    },
}

/// Why the order waits for the user.
#[derive(Debug, Clone, PartialEq)]
pub enum AwaitReason {
    /// A stage asked questions.
    Questions {
        /// The stage.
        stage: String,
        /// Its questions.
        questions: Vec<String>,
    },
    /// The recorded cost reached the limit.
    Budget {
        /// Cost so far, USD.
        spent_usd: f64,
        /// The limit reached, USD.
        limit_usd: f64,
    },
}

/// How the order ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderOutcome {
    /// Every stage settled.
    Completed {
        /// Stages that failed under `on_failure: continue`.
        failed_stages: Vec<String>,
    },
    /// A stage failed and the recipe said to stop.
    Failed {
        /// The stage.
        stage: String,
        /// Its error.
        error: String,
        /// Whether `RetryRequested` may follow (every failure can be retried).
        can_retry: bool,
    },
    /// The user cancelled.
    Cancelled,
}

/// What the runner must do, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineCommand {
    /// Record the order's new status (before emitting anything about it).
    PersistOrder {
        /// The action applied.
        action: OrderAction,
        /// The resulting status.
        status: OrderStatus,
    },
    /// Record a stage's new status.
    PersistStage {
        /// The stage.
        stage: String,
        /// The action applied (`skip` is how a skip is announced).
        action: StageAction,
        /// The resulting status.
        status: StageStatus,
        /// Its attempt number (1-based; 0 before its first start).
        attempt: u32,
    },
    /// Run a stage's agent (lease a terminal, spawn, stream).
    StartStage {
        /// The stage.
        stage: String,
        /// Attempt number, 1-based; the same when a session is continued after input or a crash.
        attempt: u32,
        /// Which session.
        session: Session,
        /// Why it runs again, for the prompt's attempt context.
        retry_reason: Option<String>,
        /// Answers the session has not seen yet.
        answers: Vec<String>,
        /// Its time limit.
        timeout: Duration,
    },
    /// Send `BackoffElapsed { stage }` after `delay`.
    ScheduleBackoff {
        /// The stage.
        stage: String,
        /// The delay.
        delay: Duration,
    },
    /// Tell the user the order waits for input (no lease is held).
    AwaitInput {
        /// Why.
        reason: AwaitReason,
    },
    /// Kill these stages' agents (process groups), release their leases, then report each
    /// with `StageFinished { outcome: Cancelled }`.
    CancelRunning {
        /// The stages.
        stages: Vec<String>,
    },
    /// The run is over.
    FinishOrder {
        /// How.
        outcome: OrderOutcome,
    },
    /// Something was ignored on purpose (e.g. a skip of an unknown stage): log it.
    Warn {
        /// What.
        message: String,
    },
}

/// Options of one run.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RunOptions {
    /// Pause once the recorded cost reaches this, in USD.
    pub max_cost_usd: Option<f64>,
}

/// One stage's persisted state, for [`OrderRun::restore`] (and [`OrderRun::snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageSnapshot {
    /// The stage id.
    pub id: String,
    /// Its status.
    pub status: StageStatus,
    /// Its attempt number.
    pub attempt: u32,
    /// Retries used in this order attempt.
    pub retries_used: u32,
    /// Its open questions, when awaiting input.
    pub questions: Vec<String>,
}

/// An order's persisted state.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderSnapshot {
    /// The order's status.
    pub status: OrderStatus,
    /// Stage states; a plan stage missing here is `pending`.
    pub stages: Vec<StageSnapshot>,
    /// Recorded cost so far, USD.
    pub cost_usd: f64,
}
