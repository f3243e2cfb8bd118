//! Control of orders that another process may be running: cancel, and whether an order's
//! runner still lives.
//!
//! `cancel` asks the process running the order (an `order:cancel-requested` event it polls
//! for) and waits, bounded, until the order is recorded cancelled; when nobody runs it, it
//! kills the agent process groups a dead runner recorded and records the cancel itself.

use std::time::{Duration, Instant};

use codecafe_engine::{OrderAction, StageAction, StageStatus};
use codecafe_runner::{FOLLOWUP_STAGE, STALE_AFTER};
use codecafe_store::event::{EventBody, OrderCancelled, StageRef};
use codecafe_store::{Order, OrderStatus, StageRunUpdate, StatusChange, Store};
use serde::Serialize;

use crate::error::{Result, ServiceError};
use crate::service::Service;

/// How long `cancel` waits for the running process to record the cancel.
const CANCEL_WAIT: Duration = Duration::from_secs(60);
/// How often `cancel` repeats its request while it waits.
const CANCEL_RESEND: Duration = Duration::from_secs(2);
/// How often `cancel` looks at the order while it waits.
const CANCEL_POLL: Duration = Duration::from_millis(100);

/// What a cancel did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cancelled {
    /// The order after the cancel.
    pub order: Order,
    /// Whether a follow-up was cancelled (the order stays in `followup`).
    pub followup: bool,
}

/// Cancels order `id`: asks the codecafe running it and waits (bounded), or, when that process
/// is dead or nobody runs it, kills the agent process groups it left and records the cancel. A
/// running or waiting follow-up is cancelled the same way; the order is then back in
/// `followup`.
pub fn cancel(service: &Service, id: &str) -> Result<Cancelled> {
    let store = service.store()?;
    let order = store.find_order(id)?;
    let short = order.short_id();
    let followup = order.status.in_followup();
    if order.status.is_terminal() {
        return Err(ServiceError::AlreadyEnded {
            order: short,
            status: order.status,
        });
    }
    if order.status == OrderStatus::Followup {
        return Err(ServiceError::WrongStatus {
            order: short,
            status: order.status,
            hint: "no follow-up runs; `codecafe order followup <id> --finish` closes it".to_owned(),
        });
    }
    let mut current = order;
    if holder_alive(&current) {
        store.append_event(current.id, &EventBody::CancelRequested {})?;
        let deadline = Instant::now() + CANCEL_WAIT;
        let mut sent = Instant::now();
        loop {
            current = store.order(current.id)?;
            match current.status {
                OrderStatus::Cancelled => {
                    return Ok(Cancelled {
                        order: current,
                        followup,
                    });
                }
                OrderStatus::Followup if followup => {
                    return Ok(Cancelled {
                        order: current,
                        followup,
                    });
                }
                status if status.is_terminal() => {
                    return Err(ServiceError::EndedFirst {
                        order: short,
                        status,
                    });
                }
                _ if holder_alive(&current) => {}
                // Its runner died or stopped (e.g. to wait for input) meanwhile.
                _ => break,
            }
            if Instant::now() >= deadline {
                return Err(ServiceError::CancelTimeout {
                    order: short,
                    secs: CANCEL_WAIT.as_secs(),
                });
            }
            if sent.elapsed() >= CANCEL_RESEND {
                // A request made just as the run began may have come before it looked.
                sent = Instant::now();
                store.append_event(current.id, &EventBody::CancelRequested {})?;
            }
            std::thread::sleep(CANCEL_POLL);
        }
    }
    let order = record_cancelled(service, &store, &current)?;
    Ok(Cancelled { order, followup })
}

/// Records `order` cancelled here (nobody runs it): kills the agents a dead runner left
/// behind, then records the open stage runs and the order (or its follow-up) cancelled.
fn record_cancelled(service: &Service, store: &Store, order: &Order) -> Result<Order> {
    codecafe_runner::groups::kill_recorded(&service.paths().agent_groups(), order.id);
    let followup = order.status.in_followup();
    for run in store.stage_runs(order.id)? {
        if (run.stage_id == FOLLOWUP_STAGE) == followup
            && matches!(
                run.status,
                StageStatus::Running | StageStatus::AwaitingInput
            )
        {
            store.update_stage_run(run.id, StageAction::Cancel, &StageRunUpdate::default())?;
        }
    }
    let event = if followup {
        EventBody::FollowupCancelled(StageRef {
            stage: FOLLOWUP_STAGE.to_owned(),
        })
    } else {
        EventBody::OrderCancelled(OrderCancelled {
            cost_usd: order.cost_usd,
        })
    };
    let cancelled = store
        .change_status(
            order.id,
            &StatusChange::new(OrderAction::Cancel).event(event),
        )?
        .order;
    // Nobody is left to decide them.
    store.withdraw_approvals(order.id)?;
    Ok(cancelled)
}

/// Whether the process holding `order`'s claim is alive: its heartbeat is recent and the
/// process its runner id names exists (a killed codecafe counts as dead at once, a reused pid
/// never passes for it).
pub fn holder_alive(order: &Order) -> bool {
    holder_fresh(order)
        && order
            .runner
            .as_deref()
            .is_some_and(codecafe_runner::liveness::is_alive)
}

/// Whether `order` is claimed with a heartbeat younger than [`STALE_AFTER`].
pub(crate) fn holder_fresh(order: &Order) -> bool {
    order.runner.is_some()
        && order.heartbeat_at.is_some_and(|at| {
            let age = jiff::Timestamp::now().as_millisecond() - at.as_millisecond();
            u128::try_from(age).unwrap_or(0) < STALE_AFTER.as_millis()
        })
}
