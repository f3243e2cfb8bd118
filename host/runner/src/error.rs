//! [`RunnerError`]: everything that can stop a run.

use codecafe_catalog::CatalogError;
use codecafe_engine::{EngineError, OrderStatus};
use codecafe_plugin_host::PluginError;
use codecafe_store::StoreError;

use crate::prompt::PromptError;

/// Why an order could not be run (a stage's failure is not an error: it is an outcome).
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The recipe is unknown, invalid, or a role or skill is missing.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The recipe resolves to a plan the engine refuses.
    #[error("the recipe's plan: {0}")]
    Engine(#[from] EngineError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A plugin could not be found or loaded.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// A prompt could not be rendered.
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// The order is not in a status this operation starts from.
    #[error("order {order} is {status}; {hint}")]
    NotRunnable {
        /// The order's short id.
        order: String,
        /// Its status.
        status: OrderStatus,
        /// What can be done instead.
        hint: String,
    },
    /// A stage named by the user is not in the recipe.
    #[error("the recipe has no stage `{stage}`; its stages are: {}", known.join(", "))]
    UnknownStage {
        /// The name given.
        stage: String,
        /// The recipe's stages.
        known: Vec<String>,
    },
    /// No terminal slot could be had for an agent.
    #[error("no terminal slot for `{provider}`: {message}")]
    Slot {
        /// The provider.
        provider: String,
        /// Why.
        message: String,
    },
    /// The order stayed queued behind its cafe's other orders for too long.
    #[error(
        "order {order} waited {waited_secs}s for a place: its cafe runs {running} orders, its \
         maxParallelOrders; raise it with `codecafe cafe update <cafe> --set maxParallelOrders=<n>` \
         or try again later"
    )]
    QueueTimeout {
        /// The order's short id.
        order: String,
        /// How long it waited.
        waited_secs: u64,
        /// The cafe's orders running.
        running: u32,
    },
    /// `retry --refresh` of an order whose recipe lost stages that already ran.
    #[error(
        "order {order}: recipe `{recipe}` changed: {} ran but {} no longer in it (its stages \
         now: {}); retry without --refresh to run the order's pinned recipe, or start a new \
         order",
        gone.join(", "),
        if gone.len() == 1 { "is" } else { "are" },
        now.join(", ")
    )]
    StagesChanged {
        /// The order's short id.
        order: String,
        /// The recipe.
        recipe: String,
        /// The stages that ran and are gone.
        gone: Vec<String>,
        /// The recipe's stages now.
        now: Vec<String>,
    },
    /// An answer was given to an order that waits for a decision on a tool call.
    #[error(
        "order {order} waits for your decision on a tool call ({pending}): approve it with \
         `codecafe order approve {order}` or refuse it with `codecafe order deny {order} --reason \
         \"…\"`"
    )]
    AwaitsApproval {
        /// The order's short id.
        order: String,
        /// The pending approval, `<id> <summary>`.
        pending: String,
    },
    /// Several approvals are pending and none was named.
    #[error(
        "order {order} has {} pending approvals; name one (`codecafe order approve {order} <id>`): {}",
        pending.len(),
        pending.join("; ")
    )]
    SeveralApprovals {
        /// The order's short id.
        order: String,
        /// Each pending approval, `<id> <summary>`.
        pending: Vec<String>,
    },
    /// The approval named is pending but the order waits on another one first.
    #[error(
        "order {order} decides approval {first} first (its stage waits on it); approval {named} \
         comes after"
    )]
    ApprovalOutOfTurn {
        /// The order's short id.
        order: String,
        /// The approval the order waits on.
        first: i64,
        /// The approval named.
        named: i64,
    },
    /// An answer was given to an order paused at its budget.
    #[error(
        "order {order} is paused at its budget (${spent:.2} spent): raise it with `codecafe order \
         input {order} --budget <usd>`, or stop with `codecafe order cancel {order}`; nothing \
         was spent"
    )]
    BudgetDecision {
        /// The order's short id.
        order: String,
        /// What it cost so far.
        spent: f64,
    },
    /// A new budget at or below what the order already cost.
    #[error(
        "order {order} has already cost ${spent:.2}; a budget of ${limit:.2} does not let it go \
         on: give more"
    )]
    BudgetTooLow {
        /// The order's short id.
        order: String,
        /// The limit given.
        limit: f64,
        /// What it cost so far.
        spent: f64,
    },
    /// The user's price table cannot be read.
    #[error("{}: {message}; fix the file or remove it to use the built-in prices", path.display())]
    Pricing {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A worker thread died.
    #[error("internal error: {0}")]
    Internal(String),
}
