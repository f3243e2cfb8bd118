//! The pool of terminal slots: a global cap, optional per-provider limits, FIFO leases.
//!
//! **Fairness.** Every caller takes a ticket and joins one queue. Whenever a slot frees (or a
//! caller arrives, or a limit is raised) the queue is scanned in ticket order and every waiter
//! that fits — the global cap and its provider's limit both have room — is granted, removed from
//! the queue and woken through its own condition variable (no thundering herd). A waiter held back
//! only by its own provider's limit does not hold up waiters for other providers; among waiters
//! for the same provider, grants are strictly in arrival order.
//!
//! **No double grant, no leak.** Slots are counted under one mutex at grant time, and every
//! [`Lease`] gives its slot back in `Drop`, which also runs on panic unwind and when the task
//! holding it is cancelled (dropped). A poisoned mutex is recovered, never propagated.
//!
//! **What a lease is for.** Hold a lease only while an agent process runs. An order waiting for a
//! human answer must drop it and lease again when it resumes; otherwise a few waiting orders
//! starve everybody else.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{Result, TerminalError};

/// How often [`TerminalPool::lease_cancellable`] asks whether it was cancelled.
pub const CANCEL_POLL: Duration = Duration::from_millis(20);

struct Waiter {
    ticket: u64,
    provider: String,
    since: Instant,
    wake: Arc<Condvar>,
}

#[derive(Default)]
struct State {
    global_cap: usize,
    limits: HashMap<String, usize>,
    in_use: usize,
    in_use_by: HashMap<String, usize>,
    queue: VecDeque<Waiter>,
    granted_tickets: HashSet<u64>,
    next_ticket: u64,
    granted_total: u64,
    timed_out: u64,
    total_wait: Duration,
    max_wait: Duration,
}

impl State {
    fn in_use_of(&self, provider: &str) -> usize {
        self.in_use_by.get(provider).copied().unwrap_or(0)
    }

    fn fits(&self, provider: &str) -> bool {
        self.in_use < self.global_cap
            && self
                .limits
                .get(provider)
                .is_none_or(|limit| self.in_use_of(provider) < *limit)
    }

    /// Grants, in ticket order, every waiter that fits.
    fn dispatch(&mut self) {
        let mut i = 0;
        while i < self.queue.len() && self.in_use < self.global_cap {
            if !self.fits(&self.queue[i].provider) {
                i += 1;
                continue;
            }
            let Some(waiter) = self.queue.remove(i) else {
                break;
            };
            self.in_use += 1;
            *self.in_use_by.entry(waiter.provider.clone()).or_default() += 1;
            self.granted_total += 1;
            let waited = waiter.since.elapsed();
            self.total_wait += waited;
            self.max_wait = self.max_wait.max(waited);
            self.granted_tickets.insert(waiter.ticket);
            waiter.wake.notify_one();
        }
    }

    fn release(&mut self, provider: &str) {
        self.in_use = self.in_use.saturating_sub(1);
        if let Some(count) = self.in_use_by.get_mut(provider) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.in_use_by.remove(provider);
            }
        }
        self.dispatch();
    }
}

struct Inner {
    state: Mutex<State>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Hands out terminal slots. Cheap to clone; clones share the same slots.
#[derive(Clone)]
pub struct TerminalPool {
    inner: Arc<Inner>,
}

impl fmt::Debug for TerminalPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TerminalPool").field(&self.stats()).finish()
    }
}

/// Figures for one provider.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderStats {
    /// Its leases held now.
    pub in_use: usize,
    /// Its limit, if one was set (otherwise only the global cap applies).
    pub limit: Option<usize>,
    /// Callers waiting for it.
    pub waiting: usize,
}

/// A snapshot of the pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// The global cap.
    pub global_cap: usize,
    /// Leases held now.
    pub in_use: usize,
    /// Callers waiting now.
    pub waiting: usize,
    /// Leases granted since the pool was made.
    pub granted_total: u64,
    /// Lease calls that gave up at their timeout.
    pub timed_out: u64,
    /// Longest wait of a granted lease.
    pub max_wait: Duration,
    /// Average wait of granted leases.
    pub average_wait: Duration,
    /// Per provider that has a limit, a lease or a waiter.
    pub providers: BTreeMap<String, ProviderStats>,
}

impl TerminalPool {
    /// A pool with at most `global_cap` leases at once; [`TerminalError::ZeroLimit`] for 0.
    pub fn new(global_cap: usize) -> Result<Self> {
        if global_cap == 0 {
            return Err(TerminalError::ZeroLimit {
                scope: "the whole pool".to_owned(),
            });
        }
        Ok(Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    global_cap,
                    ..State::default()
                }),
            }),
        })
    }

    /// Limits `provider` to `limit` leases at once (within the global cap). Lowering a limit
    /// takes no lease away; new grants wait until the count is under it.
    pub fn set_limit(&self, provider: &str, limit: usize) -> Result<()> {
        if limit == 0 {
            return Err(TerminalError::ZeroLimit {
                scope: format!("provider `{provider}`"),
            });
        }
        let mut state = self.inner.lock();
        state.limits.insert(provider.to_owned(), limit);
        state.dispatch();
        Ok(())
    }

    /// Changes the global cap. Lowering it takes no lease away; new grants wait until the
    /// count is under it.
    pub fn set_global_cap(&self, global_cap: usize) -> Result<()> {
        if global_cap == 0 {
            return Err(TerminalError::ZeroLimit {
                scope: "the whole pool".to_owned(),
            });
        }
        let mut state = self.inner.lock();
        state.global_cap = global_cap;
        state.dispatch();
        Ok(())
    }

    /// Removes `provider`'s limit; only the global cap applies to it afterwards.
    pub fn clear_limit(&self, provider: &str) {
        let mut state = self.inner.lock();
        state.limits.remove(provider);
        state.dispatch();
    }

    /// A lease for `provider`, waiting in FIFO order at most `timeout`; on timeout
    /// [`TerminalError::LeaseTimeout`] says how full the pool was.
    pub fn lease(&self, provider: &str, timeout: Duration) -> Result<Lease> {
        self.wait_for(provider, timeout, None)
    }

    /// Like [`TerminalPool::lease`], but gives up with [`TerminalError::LeaseCancelled`] soon
    /// (within [`CANCEL_POLL`]) after `cancelled` returns true, e.g. when the user cancels an
    /// order that is still waiting for a terminal.
    pub fn lease_cancellable(
        &self,
        provider: &str,
        timeout: Duration,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Lease> {
        self.wait_for(provider, timeout, Some(cancelled))
    }

    fn wait_for(
        &self,
        provider: &str,
        timeout: Duration,
        cancelled: Option<&dyn Fn() -> bool>,
    ) -> Result<Lease> {
        let started = Instant::now();
        let deadline = started + timeout;
        let wake = Arc::new(Condvar::new());
        let mut state = self.inner.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.queue.push_back(Waiter {
            ticket,
            provider: provider.to_owned(),
            since: started,
            wake: Arc::clone(&wake),
        });
        state.dispatch();
        loop {
            if state.granted_tickets.remove(&ticket) {
                return Ok(self.lease_for(provider, started.elapsed()));
            }
            if cancelled.is_some_and(|cancelled| cancelled()) {
                state.queue.retain(|waiter| waiter.ticket != ticket);
                return Err(TerminalError::LeaseCancelled {
                    provider: provider.to_owned(),
                });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                state.queue.retain(|waiter| waiter.ticket != ticket);
                state.timed_out += 1;
                let (in_use, limit) = match state.limits.get(provider) {
                    Some(limit) if state.in_use_of(provider) >= *limit => {
                        (state.in_use_of(provider), *limit)
                    }
                    _ => (state.in_use, state.global_cap),
                };
                return Err(TerminalError::LeaseTimeout {
                    provider: provider.to_owned(),
                    waited: started.elapsed(),
                    in_use,
                    limit,
                    waiting: state.queue.len(),
                });
            }
            let pause = match cancelled {
                Some(_) => left.min(CANCEL_POLL),
                None => left,
            };
            state = wake
                .wait_timeout(state, pause)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// A lease for `provider` if one is free now and nobody who fits is waiting, else `None`.
    pub fn try_lease(&self, provider: &str) -> Option<Lease> {
        let mut state = self.inner.lock();
        // After every dispatch no queued waiter fits, so a free slot is not owed to anybody.
        if !state.fits(provider) {
            return None;
        }
        state.in_use += 1;
        *state.in_use_by.entry(provider.to_owned()).or_default() += 1;
        state.granted_total += 1;
        drop(state);
        Some(self.lease_for(provider, Duration::ZERO))
    }

    fn lease_for(&self, provider: &str, waited: Duration) -> Lease {
        Lease {
            inner: Arc::clone(&self.inner),
            provider: provider.to_owned(),
            waited,
        }
    }

    /// A snapshot of the pool's figures.
    pub fn stats(&self) -> PoolStats {
        let state = self.inner.lock();
        let mut providers: BTreeMap<String, ProviderStats> = BTreeMap::new();
        for (provider, limit) in &state.limits {
            providers.entry(provider.clone()).or_default().limit = Some(*limit);
        }
        for (provider, in_use) in &state.in_use_by {
            providers.entry(provider.clone()).or_default().in_use = *in_use;
        }
        for waiter in &state.queue {
            providers
                .entry(waiter.provider.clone())
                .or_default()
                .waiting += 1;
        }
        let average_wait = u32::try_from(state.granted_total)
            .ok()
            .filter(|n| *n > 0)
            .map(|n| state.total_wait / n)
            .unwrap_or_default();
        PoolStats {
            global_cap: state.global_cap,
            in_use: state.in_use,
            waiting: state.queue.len(),
            granted_total: state.granted_total,
            timed_out: state.timed_out,
            max_wait: state.max_wait,
            average_wait,
            providers,
        }
    }
}

/// One terminal slot for one provider; given back when dropped (also on panic unwind).
pub struct Lease {
    inner: Arc<Inner>,
    provider: String,
    waited: Duration,
}

impl Lease {
    /// The provider it was granted for.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// How long the caller waited for it.
    pub fn waited(&self) -> Duration {
        self.waited
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("provider", &self.provider)
            .field("waited", &self.waited)
            .finish()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.inner.lock().release(&self.provider);
    }
}
