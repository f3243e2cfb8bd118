//! What runs and waits right now, machine-wide: [`status`].

use std::collections::{BTreeMap, HashMap};

use codecafe_store::{OrderFilter, OrderStatus, PoolCaps};
use serde::Serialize;
use uuid::Uuid;

use crate::control::holder_fresh;
use crate::error::Result;
use crate::service::Service;

/// The orders that run, wait or are queued, and the agents running machine-wide.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Orders running (recipe or follow-up), awaiting input, or queued behind their cafe's
    /// running orders, newest first.
    pub orders: Vec<StatusRow>,
    /// Agents holding terminal slots, by every codecafe process of this user.
    pub agents: Agents,
}

/// One order of a [`Status`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusRow {
    /// The order.
    pub id: Uuid,
    /// Its cafe.
    pub cafe: String,
    /// Its recipe.
    pub recipe: String,
    /// Its status.
    pub status: OrderStatus,
    /// Queued: created, waiting for a place among its cafe's running orders.
    pub queued: bool,
    /// The stages running or awaiting input (`followup` for a follow-up).
    pub stages: Vec<String>,
    /// Seconds since it first started.
    pub elapsed_secs: Option<i64>,
    /// The process running it, if one holds it.
    pub runner: Option<String>,
    /// Whether that process lives.
    pub runner_alive: bool,
    /// Its agents holding terminal slots now.
    pub agents: usize,
}

/// The agents running machine-wide.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Agents {
    /// Agents holding a terminal slot now.
    pub running: usize,
    /// Of which, by provider.
    pub by_provider: BTreeMap<String, usize>,
    /// Stages waiting for a slot.
    pub waiting: usize,
    /// The caps (`codecafe config set pool.max <n>`, `pool.provider.<id> <n>`).
    pub caps: PoolCaps,
}

/// What runs and waits now. A few queries in all, whatever the number of orders, and one
/// liveness check per process holding orders (reading `/proc` of a process with a thousand
/// threads is not cheap): `codecafe status` stays quick with a thousand orders in flight.
pub fn status(service: &Service) -> Result<Status> {
    let store = service.store()?;
    let mut alive = Liveness::default();
    let slots: Vec<_> = store
        .slots()?
        .into_iter()
        .filter(|slot| alive.of(&slot.holder))
        .collect();
    let mut by_provider: BTreeMap<String, usize> = BTreeMap::new();
    for slot in &slots {
        *by_provider.entry(slot.provider.clone()).or_default() += 1;
    }
    let statuses = vec![
        OrderStatus::Created,
        OrderStatus::Running,
        OrderStatus::AwaitingInput,
        OrderStatus::FollowupRunning,
        OrderStatus::FollowupAwaitingInput,
    ];
    let queued = store.queued_orders()?;
    let mut stages: HashMap<Uuid, Vec<String>> = HashMap::new();
    for (order, stage) in store.active_stages(&statuses)? {
        stages.entry(order).or_default().push(stage);
    }
    let filter = OrderFilter {
        statuses,
        ..OrderFilter::all()
    };
    let now = jiff::Timestamp::now().as_millisecond();
    let mut orders = Vec::new();
    for order in store.list_orders(&filter)? {
        let queued = order.status == OrderStatus::Created && queued.contains(&order.id);
        if order.status == OrderStatus::Created && !queued {
            continue;
        }
        orders.push(StatusRow {
            id: order.id,
            cafe: order.cafe_id.clone(),
            recipe: order.recipe_id.clone(),
            status: order.status,
            queued,
            stages: stages.remove(&order.id).unwrap_or_default(),
            elapsed_secs: order
                .started_at
                .map(|at| (now - at.as_millisecond()).max(0) / 1000),
            runner_alive: holder_fresh(&order)
                && order
                    .runner
                    .as_deref()
                    .is_some_and(|runner| alive.of(runner)),
            runner: order.runner.clone(),
            agents: slots
                .iter()
                .filter(|s| s.order_id == Some(order.id))
                .count(),
        });
    }
    Ok(Status {
        orders,
        agents: Agents {
            running: slots.len(),
            by_provider,
            waiting: store.slot_queue_len()?,
            caps: store.pool_caps()?,
        },
    })
}

/// Whether processes live, each looked up once.
#[derive(Default)]
struct Liveness(HashMap<String, bool>);

impl Liveness {
    fn of(&mut self, holder: &str) -> bool {
        *self
            .0
            .entry(holder.to_owned())
            .or_insert_with(|| codecafe_runner::liveness::is_alive(holder))
    }
}
