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
    /// The order is not in a status this runner can start it from.
    #[error(
        "order {order} is {status}; only a created order can be run (input, retry and resume \
         are not available yet)"
    )]
    NotRunnable {
        /// The order's short id.
        order: String,
        /// Its status.
        status: OrderStatus,
    },
    /// A worker thread died.
    #[error("internal error: {0}")]
    Internal(String),
}
