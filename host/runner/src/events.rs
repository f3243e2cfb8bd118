//! The events a run persists and emits, and how a run ends.
//!
//! Every event is appended to the order's event log in the store first, then handed to the
//! caller's `emit` callback. Payloads are JSON objects with camelCase keys:
//!
//! | kind | payload |
//! |---|---|
//! | `order:started` | `recipeId`, `stages` (ids in plan order), `groups` (stages that start together) |
//! | `stage:started` | `stage`, `attempt`, `provider`, `session` (`fresh`/`continue`/`fork`) |
//! | `order:output` | `stage`, `attempt`, `event` (the provider's normalized `AgentEvent`) |
//! | `stage:completed` | `stage`, `attempt`, `durationMs`, `usage`, `costUsd`, `signals` |
//! | `stage:failed` | `stage`, `attempt`, `durationMs`, `error`, `exitCode`, `usage`, `costUsd` |
//! | `stage:skipped` | `stage` |
//! | `stage:cancelled` | `stage` |
//! | `order:awaiting-input` | `stage`, `questions` (or `reason: budget`, `spentUsd`, `limitUsd`) |
//! | `order:completed` | `failedStages`, `costUsd` |
//! | `order:failed` | `stage`, `error`, `canRetry`, `costUsd` |
//! | `order:cancelled` | — |
//! | `order:warning` | `message` |
//! | `order:followup-started` | `stage` (`followup`), `provider`, `prompt`, `session` (`fresh`/`continue`) |
//! | `order:followup-completed` | `stage`, `durationMs`, `usage`, `sessionId`, `output` |
//! | `order:followup-failed` | `stage`, `durationMs`, `usage`, `error`, `exitCode`, `sessionId` |
//! | `order:followup-cancelled` | `stage`, `durationMs`, `sessionId` |

use serde::Serialize;

/// `order:started`.
pub const ORDER_STARTED: &str = "order:started";
/// `order:output`.
pub const ORDER_OUTPUT: &str = "order:output";
/// `stage:started`.
pub const STAGE_STARTED: &str = "stage:started";
/// `stage:completed`.
pub const STAGE_COMPLETED: &str = "stage:completed";
/// `stage:failed`.
pub const STAGE_FAILED: &str = "stage:failed";
/// `stage:skipped`.
pub const STAGE_SKIPPED: &str = "stage:skipped";
/// `stage:cancelled`.
pub const STAGE_CANCELLED: &str = "stage:cancelled";
/// `order:awaiting-input`.
pub const ORDER_AWAITING_INPUT: &str = "order:awaiting-input";
/// `order:completed`.
pub const ORDER_COMPLETED: &str = "order:completed";
/// `order:failed`.
pub const ORDER_FAILED: &str = "order:failed";
/// `order:cancelled`.
pub const ORDER_CANCELLED: &str = "order:cancelled";
/// `order:warning`.
pub const ORDER_WARNING: &str = "order:warning";
/// `order:followup-started` (`stage: followup`, `provider`, `prompt`, `session`).
pub const ORDER_FOLLOWUP_STARTED: &str = "order:followup-started";
/// `order:followup-completed` (`durationMs`, `usage`, `sessionId`, `output`).
pub const ORDER_FOLLOWUP_COMPLETED: &str = "order:followup-completed";
/// `order:followup-failed` (`durationMs`, `usage`, `error`, `exitCode`, `sessionId`).
pub const ORDER_FOLLOWUP_FAILED: &str = "order:followup-failed";
/// `order:followup-cancelled` (`durationMs`, `sessionId`).
pub const ORDER_FOLLOWUP_CANCELLED: &str = "order:followup-cancelled";
/// Another process asks the one running the order to cancel it (`{}`); the running loop
/// looks for it every [`crate::INTERRUPT_POLL`].
pub const ORDER_CANCEL_REQUESTED: &str = "order:cancel-requested";

/// How a foreground run ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum RunOutcome {
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
    },
    /// The order waits for the user (`codecafe order input`).
    AwaitingInput {
        /// The stage that asked, if a stage asked (else the budget was reached).
        stage: Option<String>,
        /// Its questions.
        questions: Vec<String>,
    },
    /// The order was cancelled.
    Cancelled,
}
