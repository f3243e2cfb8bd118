//! Terminal slots that hold machine-wide: [`Slots`] (which also keeps this process's
//! [`OrderQueue`]).
//!
//! An agent runs only while its stage holds a slot. A slot is granted in two steps: first a
//! lease of this process's [`TerminalPool`] (FIFO among this process's stages, woken by a
//! condition variable, no polling), then a lease in the store ([`codecafe_store::slots`]), which
//! counts every codecafe process of the user against the caps in the store's settings
//! (`pool.max`, `pool.provider.<id>`). The local pool is sized from those caps, so only as many
//! stages as could run at all ask the store, which they poll with a growing pause
//! ([`POLL_MIN`]..[`POLL_MAX`]) while other processes hold the slots. A [`Slot`] gives both
//! back when dropped, on every path.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use codecafe_store::{PoolCaps, SlotRequest, Store};
use codecafe_terminals::{Lease, TerminalPool};
use uuid::Uuid;

use crate::error::RunnerError;
use crate::queue::OrderQueue;

/// The first pause between two asks of the store.
pub const POLL_MIN: Duration = Duration::from_millis(10);
/// The longest pause between two asks of the store.
pub const POLL_MAX: Duration = Duration::from_millis(250);

/// Machine-wide terminal slots for one process.
pub struct Slots {
    store: Mutex<Store>,
    local: TerminalPool,
    holder: String,
    /// How many slots this process has returned, with a wake-up for its stages waiting in the
    /// store's queue: the oldest waiter (first served) asks again at once instead of after its
    /// pause, which had grown to [`POLL_MAX`] — one grant per pause for the whole queue.
    returned: (Mutex<u64>, Condvar),
    /// This process's orders waiting for a place in their cafe.
    queue: OrderQueue,
}

impl std::fmt::Debug for Slots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slots")
            .field("holder", &self.holder)
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

/// One granted slot; both leases are returned when it is dropped.
#[derive(Debug)]
pub struct Slot<'s> {
    slots: &'s Slots,
    lease: i64,
    _local: Lease,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let store = self.slots.store();
        // A failed release is retried once; a lease left behind is reaped when this process
        // is gone (its holder is dead then).
        if let Err(err) = store
            .release_slot(self.lease)
            .or_else(|_| store.release_slot(self.lease))
        {
            tracing::warn!(%err, lease = self.lease, "returning a terminal slot");
        }
        drop(store);
        let (count, wake) = &self.slots.returned;
        *count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        wake.notify_all();
    }
}

impl Slots {
    /// Slots for the process named `holder` (its runner id), on the database `store` (a
    /// connection of its own: slots are asked for from stage worker threads).
    pub fn new(store: Store, holder: &str) -> Result<Self, RunnerError> {
        let caps = store.pool_caps()?;
        let local = TerminalPool::new(to_usize(caps.max))
            .map_err(|err| RunnerError::Internal(err.to_string()))?;
        let slots = Self {
            store: Mutex::new(store),
            local,
            holder: holder.to_owned(),
            returned: (Mutex::new(0), Condvar::new()),
            queue: OrderQueue::default(),
        };
        slots.apply(&caps);
        Ok(slots)
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// This process's orders waiting for a place in their cafe (see [`crate::queue`]).
    pub fn queue(&self) -> &OrderQueue {
        &self.queue
    }

    /// The caps in force now (read from the store).
    pub fn caps(&self) -> Result<PoolCaps, RunnerError> {
        Ok(self.store().pool_caps()?)
    }

    /// Sizes the local pool to `caps` (so a changed setting applies here too).
    fn apply(&self, caps: &PoolCaps) {
        let _ = self.local.set_global_cap(to_usize(caps.max));
        for (provider, cap) in &caps.providers {
            let _ = self.local.set_limit(provider, to_usize(*cap));
        }
    }

    /// A slot for `provider`'s agent of `order`'s `stage`: waits at most `timeout`, gives up
    /// soon after `cancelled` returns true.
    pub fn acquire(
        &self,
        provider: &str,
        order: Uuid,
        stage: &str,
        timeout: Duration,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Slot<'_>, RunnerError> {
        let started = Instant::now();
        if let Ok(caps) = self.caps() {
            self.apply(&caps);
        }
        let local = self
            .local
            .lease_cancellable(provider, timeout, cancelled)
            .map_err(|err| RunnerError::Slot {
                provider: provider.to_owned(),
                message: err.to_string(),
            })?;
        let request = SlotRequest {
            holder: &self.holder,
            provider,
            order_id: Some(order),
            stage: Some(stage),
        };
        // The ticket and its first ask under one lock: no newer ticket of this process asks
        // in between (it would find this one older and wait for it).
        let mut first = Some({
            let store = self.store();
            let ticket = store.enqueue_for_slot(&self.holder, provider)?;
            (
                ticket,
                store.try_take_slot(ticket, &request, &crate::liveness::is_alive),
            )
        });
        let ticket = first.as_ref().map_or(0, |(ticket, _)| *ticket);
        let mut pause = POLL_MIN;
        loop {
            let granted = match first.take() {
                Some((_, granted)) => granted,
                None => self
                    .store()
                    .try_take_slot(ticket, &request, &crate::liveness::is_alive),
            };
            let give_up = |why: String| {
                let _ = self.store().leave_slot_queue(ticket);
                RunnerError::Slot {
                    provider: provider.to_owned(),
                    message: why,
                }
            };
            match granted {
                Ok(Some(lease)) => {
                    return Ok(Slot {
                        slots: self,
                        lease,
                        _local: local,
                    });
                }
                Ok(None) => {}
                Err(err) => return Err(give_up(err.to_string())),
            }
            if cancelled() {
                return Err(give_up("cancelled while waiting".to_owned()));
            }
            if started.elapsed() >= timeout {
                let caps = self.caps().map(|c| c.of(provider)).unwrap_or_default();
                return Err(give_up(format!(
                    "no slot within {}s: every one of the {caps} slots for it is in use by \
                     codecafe processes of this machine (`codecafe status` shows them; `codecafe \
                     config set pool.max <n>` raises the cap)",
                    timeout.as_secs()
                )));
            }
            if self.wait_for_a_return(pause) {
                pause = POLL_MIN;
            } else {
                pause = (pause * 2).min(POLL_MAX);
            }
        }
    }
}

impl Slots {
    /// Waits at most `pause` for a slot of this process to be returned; whether one was.
    fn wait_for_a_return(&self, pause: Duration) -> bool {
        let (count, wake) = &self.returned;
        let count = count.lock().unwrap_or_else(PoisonError::into_inner);
        let seen = *count;
        let (count, waited) = wake
            .wait_timeout_while(count, pause, |now| *now == seen)
            .unwrap_or_else(PoisonError::into_inner);
        drop(count);
        !waited.timed_out()
    }
}

fn to_usize(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX).max(1)
}
