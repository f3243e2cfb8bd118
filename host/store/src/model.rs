//! The records the store keeps and the inputs that create or change them.
//!
//! Records serialize with camelCase fields (as the seeds' IPC payloads do) and RFC 3339
//! timestamps, ready for `--json` output and NDJSON event streams.

use std::collections::BTreeMap;
use std::path::PathBuf;

use codecafe_engine::{OrderAction, OrderStatus, StageStatus};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::event::{Event, EventBody};
use codecafe_sdk::Usage;

/// One unit of work on a cafe: a recipe run on its own branch and worktree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// UUID (v4).
    pub id: Uuid,
    /// The cafe (registered repository) it works on.
    pub cafe_id: String,
    /// The recipe it runs.
    pub recipe_id: String,
    /// Where it is in its lifecycle.
    pub status: OrderStatus,
    /// The user's prompt.
    pub prompt: String,
    /// Template variables (`--var k=v`).
    pub vars: BTreeMap<String, Value>,
    /// The order's branch, once it has one.
    pub branch: Option<String>,
    /// The branch it started from and merges into.
    pub base_branch: Option<String>,
    /// The order's worktree; `None` when it runs in the repository's own checkout.
    pub worktree_path: Option<PathBuf>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When it first started running.
    pub started_at: Option<Timestamp>,
    /// When it last reached completed, failed or cancelled (cleared by a retry).
    pub finished_at: Option<Timestamp>,
    /// The last failure's message (cleared by a retry or a completion).
    pub error: Option<String>,
    /// The cost limit, in US dollars, if any.
    pub max_cost_usd: Option<f64>,
    /// The cost recorded so far: the sum of its stage runs' costs.
    pub cost_usd: f64,
    /// 1 for the first run, incremented by each retry.
    pub attempt: u32,
    /// The runner (process) executing it, if one holds it (see `Store::claim_order`).
    pub runner: Option<String>,
    /// The holder's last heartbeat.
    pub heartbeat_at: Option<Timestamp>,
}

impl Order {
    /// The first 8 characters of the id, as branch names and listings show it.
    pub fn short_id(&self) -> String {
        let mut id = self.id.to_string();
        id.truncate(8);
        id
    }
}

/// What a new order is made of. [`NewOrder::new`] picks a fresh id, so the branch and the
/// worktree can be named after it before the order is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOrder {
    /// Its id.
    pub id: Uuid,
    /// The cafe.
    pub cafe_id: String,
    /// The recipe.
    pub recipe_id: String,
    /// The user's prompt.
    pub prompt: String,
    /// Template variables.
    pub vars: BTreeMap<String, Value>,
    /// Its branch.
    pub branch: Option<String>,
    /// The branch it starts from.
    pub base_branch: Option<String>,
    /// Its worktree; `None` to run in place.
    pub worktree_path: Option<PathBuf>,
    /// A cost limit in US dollars.
    pub max_cost_usd: Option<f64>,
}

impl NewOrder {
    /// An order of `recipe_id` on `cafe_id` with a fresh UUID and nothing else set.
    pub fn new(cafe_id: impl Into<String>, recipe_id: impl Into<String>) -> Self {
        Self {
            id: Uuid::new_v4(),
            cafe_id: cafe_id.into(),
            recipe_id: recipe_id.into(),
            prompt: String::new(),
            vars: BTreeMap::new(),
            branch: None,
            base_branch: None,
            worktree_path: None,
            max_cost_usd: None,
        }
    }

    /// Sets the prompt.
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = prompt.into();
        self
    }

    /// Adds a template variable.
    pub fn var(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.vars.insert(key.into(), value.into());
        self
    }
}

/// Which orders [`list_orders`](crate::Store::list_orders) returns. The default is every
/// order, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// Only this cafe's orders.
    pub cafe_id: Option<String>,
    /// Only orders in one of these statuses (empty: any status).
    pub statuses: Vec<OrderStatus>,
    /// At most this many.
    pub limit: Option<usize>,
    /// Skip this many of the newest first (for paging).
    pub offset: usize,
    /// Only orders listed after this one, newest first (keyset paging: a page stays right
    /// while new orders are created). Counting ignores it.
    pub before: Option<OrderCursor>,
}

/// Where a page of orders ended: the last order's creation time and id. The next page starts
/// after it ([`OrderFilter::before`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderCursor {
    /// The order's creation time.
    pub created_at: Timestamp,
    /// Its id.
    pub id: Uuid,
}

impl OrderCursor {
    /// The cursor just after `order`.
    pub fn after(order: &Order) -> Self {
        Self {
            created_at: order.created_at,
            id: order.id,
        }
    }
}

impl OrderFilter {
    /// Every order.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only `cafe_id`'s orders.
    pub fn cafe(mut self, cafe_id: impl Into<String>) -> Self {
        self.cafe_id = Some(cafe_id.into());
        self
    }

    /// Only orders in `status` (may be called several times: any of them).
    pub fn status(mut self, status: OrderStatus) -> Self {
        self.statuses.push(status);
        self
    }

    /// At most `limit` orders.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Skip the `offset` newest.
    pub fn offset(mut self, offset: usize) -> Self {
        self.offset = offset;
        self
    }

    /// Only orders listed after `cursor`.
    pub fn before(mut self, cursor: OrderCursor) -> Self {
        self.before = Some(cursor);
        self
    }
}

/// A status change, and optionally the event that reports it, applied in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    /// The action to apply through the order state machine.
    pub action: OrderAction,
    /// For `fail`: the error to record.
    pub error: Option<String>,
    /// An event stored in the same transaction (so it exists if and only if the change does).
    pub event: Option<EventBody>,
}

impl StatusChange {
    /// Just the action.
    pub fn new(action: OrderAction) -> Self {
        Self {
            action,
            error: None,
            event: None,
        }
    }

    /// Records `error` as the order's error.
    pub fn error(mut self, error: impl Into<String>) -> Self {
        self.error = Some(error.into());
        self
    }

    /// Stores `event` with the change.
    pub fn event(mut self, event: EventBody) -> Self {
        self.event = Some(event);
        self
    }
}

/// What [`change_status`](crate::Store::change_status) did.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChanged {
    /// The status before.
    pub from: OrderStatus,
    /// The order after the change.
    pub order: Order,
    /// The event stored with it, if one was asked for.
    pub event: Option<Event>,
}

/// One attempt at one stage of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageRun {
    /// Its id (increasing in the order runs were started).
    pub id: i64,
    /// The order.
    pub order_id: Uuid,
    /// The stage's id in the recipe.
    pub stage_id: String,
    /// 1 for the stage's first run in this order, then 2, 3, ... across retries.
    pub attempt: u32,
    /// The order's attempt this run belongs to.
    pub order_attempt: u32,
    /// Where it is in the stage lifecycle.
    pub status: StageStatus,
    /// The provider plugin that ran it.
    pub provider: Option<String>,
    /// The agent's session id, for resuming and forking.
    pub agent_session_id: Option<String>,
    /// When its agent started.
    pub started_at: Option<Timestamp>,
    /// When it finished (completed, failed, skipped or cancelled).
    pub finished_at: Option<Timestamp>,
    /// The agent's exit code.
    pub exit_code: Option<i32>,
    /// Token usage as the provider reported it.
    pub usage: Option<Usage>,
    /// Cost in US dollars.
    pub cost_usd: Option<f64>,
    /// The stage's final text.
    pub output: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// The agent session's total cost as the agent reported it at the end of this run (for
    /// agents that report session totals; see [`crate::Store::record_stage_cost_basis`]).
    pub session_cost_usd: Option<f64>,
    /// The agent session's token totals as the agent reported them at the end of this run (for
    /// agents that report session totals).
    pub session_usage: Option<Usage>,
    /// `cost_usd` was computed from tokens with a price table.
    pub cost_estimated: bool,
}

/// A stage run about to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStageRun {
    /// The order.
    pub order_id: Uuid,
    /// The stage's id in the recipe.
    pub stage_id: String,
    /// The provider plugin running it.
    pub provider: Option<String>,
    /// An agent session it continues (`context: inherit`, answered input), if known already.
    pub agent_session_id: Option<String>,
}

impl NewStageRun {
    /// A run of `stage_id` in `order_id`.
    pub fn new(order_id: Uuid, stage_id: impl Into<String>) -> Self {
        Self {
            order_id,
            stage_id: stage_id.into(),
            provider: None,
            agent_session_id: None,
        }
    }

    /// Sets the provider.
    pub fn provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }
}

/// Fields set together with a stage transition; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageRunUpdate {
    /// The agent's exit code.
    pub exit_code: Option<i32>,
    /// The stage's final text.
    pub output: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

/// One result of [`delete_many`](crate::Store::delete_many).
#[derive(Debug)]
pub struct Deleted {
    /// The id or prefix given.
    pub query: String,
    /// The order removed, or why not.
    pub result: crate::Result<Order>,
}
