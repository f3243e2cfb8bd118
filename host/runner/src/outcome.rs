//! How a foreground run ended: [`RunOutcome`].

use serde::Serialize;

/// How a foreground run ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    rename_all = "kebab-case",
    rename_all_fields = "camelCase",
    tag = "status"
)]
pub enum RunOutcome {
    /// Every stage settled (for a follow-up: it completed).
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
        /// The tool call that waits for the user's decision, when that is what it waits for
        /// (`order approve` / `order deny`).
        approval: Option<Box<codecafe_store::Approval>>,
    },
    /// The answer went to an interactive stage's live agent, in the codecafe process running
    /// the order (which goes on with it).
    Delivered {
        /// The stage that got it.
        stage: String,
        /// What the stage's worker said.
        message: String,
    },
    /// The order was cancelled.
    Cancelled,
    /// The process running it was stopped (SIGTERM, SIGHUP, shutdown): its agents are gone,
    /// the order keeps its status and `order resume` continues it.
    Interrupted {
        /// Why.
        reason: String,
    },
}
