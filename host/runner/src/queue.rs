//! The cafe queue: an order waits for a place among its cafe's running orders
//! (`maxParallelOrders`) before it runs — and, through [`wait_for_place`], before anything is
//! loaded for it (the service calls it with one shared database connection, so a thousand
//! queued orders hold a thread each and nothing else).
//!
//! The store decides, across processes ([`Store::claim_order_within`]). Within a process the
//! queued orders of a cafe line up in [`OrderQueue`]: only the first asks the store (every
//! [`QUEUE_POLL`], and at once when an order of this process gives its place back); the others
//! sleep until they are first, looking for a cancel every [`WAITING_POLL`]. Every order asking
//! the store several times a second was most of the machine's time with 1,000 orders queued.

use std::collections::{HashMap, VecDeque};
use std::ops::Deref;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use codecafe_engine::{OrderAction, OrderStatus};
use codecafe_store::event::{EventBody, OrderCancelled, OrderQueued};
use codecafe_store::{Claim, Event, Order, StatusChange, Store};
use uuid::Uuid;

use crate::control::CancelToken;
use crate::error::RunnerError;
use crate::outcome::RunOutcome;
use crate::runner::RunnerConfig;

/// How often the first queued order of a cafe asks the store again.
pub const QUEUE_POLL: Duration = Duration::from_millis(200);
/// How often an order further back looks for a cancel.
pub const WAITING_POLL: Duration = Duration::from_secs(1);

/// A connection to the order database for the queue: a runner's own, or one shared by the
/// orders a service keeps waiting.
pub trait StoreAccess {
    /// The connection, for one short use.
    fn store(&self) -> Result<impl Deref<Target = Store> + '_, RunnerError>;
}

impl StoreAccess for Store {
    fn store(&self) -> Result<impl Deref<Target = Store> + '_, RunnerError> {
        Ok(self)
    }
}

/// How a wait for a place ended.
#[derive(Debug)]
pub enum Place {
    /// The order is claimed for this process ([`RunnerConfig::runner_id`]).
    Claimed,
    /// It was cancelled or stopped while queued.
    Ended(RunOutcome),
}

/// What an order waits with.
pub struct QueueWait<'a> {
    /// The order.
    pub order: &'a Order,
    /// Its runner's settings: id, cafe limit, staleness, queue timeout.
    pub config: &'a RunnerConfig,
    /// Cancels or stops the wait.
    pub control: &'a CancelToken,
    /// This process's queue.
    pub queue: &'a OrderQueue,
}

/// Claims `wait.order` for this process once its cafe has a place: at once, or after waiting
/// in the queue (announced with `order:queued`, passed to `emit` after it is stored). Ends
/// early when the order is cancelled (recorded) or the run stopped; fails after
/// [`RunnerConfig::queue_timeout`].
pub fn wait_for_place<S: StoreAccess>(
    store: &S,
    wait: &QueueWait<'_>,
    emit: &mut dyn FnMut(&Event),
) -> Result<Place, RunnerError> {
    let QueueWait {
        order,
        config,
        control,
        queue,
    } = wait;
    let started = Instant::now();
    let mut seen = store.store()?.last_event_seq(order.id)?;
    let mut ticket: Option<Ticket<'_>> = None;
    let mut running = 0;
    let mut last_cancel_look = Instant::now();
    loop {
        let first = ticket.as_ref().is_none_or(Ticket::is_first);
        if first {
            // Bound first: the connection may be a shared one, held only for this call.
            let claim = store.store()?.claim_order_within(
                order.id,
                &config.runner_id,
                config.stale_after,
                config.max_parallel_orders,
                &crate::liveness::is_alive,
            )?;
            match claim {
                // Leaving the queue (the ticket dropped) wakes the next order.
                Claim::Claimed(_) => return Ok(Place::Claimed),
                Claim::Queued { running: now, max } => {
                    running = now;
                    if ticket.is_none() {
                        let event = store.store()?.append_event(
                            order.id,
                            &EventBody::OrderQueued(OrderQueued { running, max }),
                        )?;
                        emit(&event);
                        ticket = Some(queue.join(&order.cafe_id));
                    }
                }
            }
        }
        if let Some(reason) = control.stopped() {
            return Ok(Place::Ended(RunOutcome::Interrupted {
                reason: reason.to_string(),
            }));
        }
        let mut cancelled = control.is_cancelled();
        if !cancelled && (first || last_cancel_look.elapsed() >= WAITING_POLL) {
            last_cancel_look = Instant::now();
            let store = store.store()?;
            cancelled = cancel_requested(&store, order.id, &mut seen)?;
            if !cancelled
                && order.status != OrderStatus::Cancelled
                && store.order(order.id)?.status == OrderStatus::Cancelled
            {
                // `order cancel` from another process found nobody holding the order (it
                // waits here unclaimed) and recorded the cancel itself.
                return Ok(Place::Ended(RunOutcome::Cancelled));
            }
        }
        if cancelled {
            return cancel_queued(&*store.store()?, order, emit).map(Place::Ended);
        }
        if started.elapsed() >= config.queue_timeout {
            return Err(RunnerError::QueueTimeout {
                order: order.short_id(),
                waited_secs: started.elapsed().as_secs(),
                running,
            });
        }
        if let Some(ticket) = &ticket {
            ticket.wait(if first { QUEUE_POLL } else { WAITING_POLL });
        }
    }
}

/// Whether an `order:cancel-requested` event of order `id` came after `seen` (which moves on).
pub(crate) fn cancel_requested(
    store: &Store,
    id: Uuid,
    seen: &mut i64,
) -> Result<bool, RunnerError> {
    match store.last_event_of_kind(id, "order:cancel-requested", *seen)? {
        Some(seq) => {
            *seen = seq;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// A cancel of an order that never left the queue: recorded here, nothing ran.
fn cancel_queued(
    store: &Store,
    order: &Order,
    emit: &mut dyn FnMut(&Event),
) -> Result<RunOutcome, RunnerError> {
    let current = store.order(order.id)?;
    let changed = store.change_status(
        order.id,
        &StatusChange::new(OrderAction::Cancel).event(EventBody::OrderCancelled(OrderCancelled {
            cost_usd: current.cost_usd,
        })),
    )?;
    if let Some(event) = &changed.event {
        emit(event);
    }
    Ok(RunOutcome::Cancelled)
}

/// The orders of this process waiting for a place, in arrival order per cafe.
#[derive(Debug, Default)]
pub struct OrderQueue {
    cafes: Mutex<HashMap<String, VecDeque<Arc<Waiter>>>>,
}

#[derive(Debug, Default)]
struct Waiter {
    woken: Mutex<bool>,
    wake: Condvar,
}

impl Waiter {
    fn wake(&self) {
        *self.woken.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_one();
    }
}

/// An order's place in the [`OrderQueue`]; leaves it when dropped.
struct Ticket<'q> {
    queue: &'q OrderQueue,
    cafe: String,
    waiter: Arc<Waiter>,
}

impl OrderQueue {
    fn cafes(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Arc<Waiter>>>> {
        self.cafes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn join(&self, cafe: &str) -> Ticket<'_> {
        let waiter = Arc::new(Waiter::default());
        self.cafes()
            .entry(cafe.to_owned())
            .or_default()
            .push_back(Arc::clone(&waiter));
        Ticket {
            queue: self,
            cafe: cafe.to_owned(),
            waiter,
        }
    }

    /// An order of `cafe` gave its place back: the first waiting order asks at once.
    pub fn released(&self, cafe: &str) {
        if let Some(first) = self.cafes().get(cafe).and_then(VecDeque::front) {
            first.wake();
        }
    }

    /// How many orders of `cafe` wait here.
    #[cfg(test)]
    fn waiting(&self, cafe: &str) -> usize {
        self.cafes().get(cafe).map_or(0, VecDeque::len)
    }
}

impl Ticket<'_> {
    fn is_first(&self) -> bool {
        self.queue
            .cafes()
            .get(&self.cafe)
            .and_then(VecDeque::front)
            .is_some_and(|first| Arc::ptr_eq(first, &self.waiter))
    }

    /// Sleeps at most `timeout`, less when woken.
    fn wait(&self, timeout: Duration) {
        let woken = self
            .waiter
            .woken
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (mut woken, _) = self
            .waiter
            .wake
            .wait_timeout_while(woken, timeout, |woken| !*woken)
            .unwrap_or_else(PoisonError::into_inner);
        *woken = false;
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut cafes = self.queue.cafes();
        if let Some(line) = cafes.get_mut(&self.cafe) {
            let was_first = line
                .front()
                .is_some_and(|first| Arc::ptr_eq(first, &self.waiter));
            line.retain(|waiter| !Arc::ptr_eq(waiter, &self.waiter));
            if was_first && let Some(next) = line.front() {
                next.wake();
            }
            if line.is_empty() {
                cafes.remove(&self.cafe);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_first_in_arrival_order_and_leaving_wakes_the_next() {
        let queue = OrderQueue::default();
        let a = queue.join("cafe");
        let b = queue.join("cafe");
        let other = queue.join("other");
        assert!(a.is_first());
        assert!(!b.is_first());
        assert!(other.is_first(), "each cafe has its own line");
        assert_eq!(queue.waiting("cafe"), 2);
        drop(a);
        assert!(b.is_first());
        // Woken by the leave: the wait returns at once.
        let started = Instant::now();
        b.wait(Duration::from_secs(60));
        assert!(started.elapsed() < Duration::from_secs(30));
        drop(b);
        assert_eq!(queue.waiting("cafe"), 0);
    }

    #[test]
    fn a_released_place_wakes_the_first_waiter_only() {
        let queue = Arc::new(OrderQueue::default());
        let first = queue.join("cafe");
        let second = queue.join("cafe");
        queue.released("cafe");
        let started = Instant::now();
        first.wait(Duration::from_secs(60));
        assert!(started.elapsed() < Duration::from_secs(30));
        assert!(!*second.waiter.woken.lock().expect("lock"));
    }
}
