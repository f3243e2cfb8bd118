//! # codecafe-engine
//!
//! The pure core of codecafe's execution engine: no I/O, no clock, no randomness. Everything
//! here is a function of its inputs, so it is tested exhaustively and shared by every front end
//! (the CLI and the local API, through the service library).
//!
//! - [`order`]: the order lifecycle (`created → running → (awaiting-input ↔ running) →
//!   completed | failed | cancelled`, `completed → followup → completed`, `failed → running`)
//!   as an explicit transition table.
//! - [`stage`]: the lifecycle of one stage of a recipe (pending, running, awaiting-input,
//!   completed, failed, skipped, cancelled), also a table.
//! - [`machine`]: what both machines share: table lookup and the [`IllegalTransition`] error,
//!   which names the state, the action, and what is allowed from that state.
//! - [`plan`]: a recipe's stages as a graph (petgraph) built from each stage's predecessors,
//!   validated (duplicates, unknown ids, cycles) and asked which stages may start now. The
//!   engine does not depend on the catalog: the runner maps each resolved `StageSpec` onto a
//!   [`plan::StageDef`] (the table is in the [`plan`] docs).
//! - [`driver`]: one order's run, [`driver::OrderRun`]: events in ([`driver::EngineEvent`]),
//!   commands out ([`driver::EngineCommand`]), every status change through the two tables,
//!   persisted (as a command) before it is acted on.
//! - [`error`]: [`EngineError`], everything the plan and the driver refuse.
//!
//! ```
//! use codecafe_engine::driver::{EngineEvent, OrderRun, RunOptions, StageOutcome};
//! use codecafe_engine::plan::{Plan, StageDef};
//!
//! let plan = Plan::new(vec![StageDef::new("analyze", &[]), StageDef::new("code", &["analyze"])])?;
//! let mut run = OrderRun::new(plan, RunOptions::default());
//! let commands = run.handle(EngineEvent::Start)?; // persist order, persist stage, start `analyze`
//! assert_eq!(commands.len(), 3);
//! run.handle(EngineEvent::StageFinished {
//!     stage: "analyze".into(),
//!     outcome: StageOutcome::Succeeded { signals: vec![] },
//! })?; // ... and `code` starts
//! # Ok::<(), codecafe_engine::EngineError>(())
//! ```
//!
//! ## Design, in the manner of Temporal's state machines
//!
//! Each lifecycle is a `const` slice of `(from, action, to)` rows and nothing else: there is no
//! hidden rule in code, so reading the table is reading the behaviour. Callers that persist
//! state (the `codecafe-store` crate) apply a transition inside a database transaction, so an
//! illegal move is refused before anything changes. The tests check every allowed row, every
//! forbidden `(state, action)` pair of the full cross product, and that realistic lifecycles
//! exercise every row of each table.
//!
//! ```
//! use codecafe_engine::order::{transition, OrderAction, OrderStatus};
//!
//! let running = transition(OrderStatus::Created, OrderAction::Start)?;
//! assert_eq!(running, OrderStatus::Running);
//!
//! let err = transition(OrderStatus::Completed, OrderAction::Start).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "cannot `start` an order that is completed; from completed the allowed actions are: \
//!      enter-followup"
//! );
//! # Ok::<(), codecafe_engine::order::IllegalOrderTransition>(())
//! ```

pub mod machine;
pub mod order;
pub mod stage;

pub use machine::{IllegalTransition, UnknownName};
pub use order::{IllegalOrderTransition, OrderAction, OrderStatus};
pub use stage::{IllegalStageTransition, StageAction, StageStatus};
pub mod driver;
pub mod error;
pub mod plan;

pub use error::EngineError;
