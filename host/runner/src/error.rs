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
    /// A worker thread died.
    #[error("internal error: {0}")]
    Internal(String),
}
