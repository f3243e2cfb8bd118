//! The lease pool under contention: caps, FIFO order, panics, timeouts, figures.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use codecafe_terminals::{TerminalError, TerminalPool};

const LONG: Duration = Duration::from_secs(120);

/// Waits (bounded) until `check` holds on the pool's figures.
fn eventually(pool: &TerminalPool, check: impl Fn(&codecafe_terminals::PoolStats) -> bool) {
    let deadline = Instant::now() + LONG;
    while Instant::now() < deadline {
        if check(&pool.stats()) {
            return;
        }
        thread::sleep(Duration::from_millis(2));
    }
    panic!("never reached; last stats {:?}", pool.stats());
}

/// Records the highest value a counter reaches.
struct Gauge {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Gauge {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            now: AtomicUsize::new(0),
            max: AtomicUsize::new(0),
        })
    }
    fn enter(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
    }
    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

#[test]
fn many_threads_never_exceed_the_global_cap() {
    let pool = TerminalPool::new(3).expect("pool");
    let gauge = Gauge::new();
    let threads = 16;
    let rounds = 25;
    let start = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (pool, gauge, start) = (pool.clone(), Arc::clone(&gauge), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                for _ in 0..rounds {
                    let provider = if i % 2 == 0 { "claude-code" } else { "codex" };
                    let lease = pool.lease(provider, LONG).expect("lease");
                    gauge.enter();
                    assert!(pool.stats().in_use <= 3);
                    thread::yield_now();
                    gauge.leave();
                    drop(lease);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("thread");
    }
    assert!(gauge.max() <= 3, "max holders {}", gauge.max());
    assert!(gauge.max() >= 1);
    let stats = pool.stats();
    assert_eq!(stats.in_use, 0);
    assert_eq!(stats.waiting, 0);
    assert_eq!(stats.granted_total, (threads * rounds) as u64);
    assert!(stats.max_wait >= stats.average_wait);
    assert!(
        stats
            .providers
            .values()
            .all(|p| p.in_use == 0 && p.waiting == 0)
    );
}

#[test]
fn provider_limits_hold_within_the_global_cap() {
    let pool = TerminalPool::new(4).expect("pool");
    pool.set_limit("codex", 1).expect("limit");
    pool.set_limit("claude-code", 2).expect("limit");
    let gauges = [Gauge::new(), Gauge::new(), Gauge::new()];
    let all = Gauge::new();
    let providers = ["codex", "claude-code", "command"];
    let handles: Vec<_> = (0..18)
        .map(|i| {
            let pool = pool.clone();
            let gauge = Arc::clone(&gauges[i % 3]);
            let all = Arc::clone(&all);
            let provider = providers[i % 3];
            thread::spawn(move || {
                for _ in 0..10 {
                    let _lease = pool.lease(provider, LONG).expect("lease");
                    gauge.enter();
                    all.enter();
                    thread::yield_now();
                    all.leave();
                    gauge.leave();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("thread");
    }
    assert!(gauges[0].max() <= 1);
    assert!(gauges[1].max() <= 2);
    assert!(all.max() <= 4);
    let stats = pool.stats();
    assert_eq!(stats.in_use, 0);
    assert_eq!(stats.granted_total, 180);
    assert_eq!(stats.providers["codex"].limit, Some(1));
    assert_eq!(stats.providers["claude-code"].limit, Some(2));
}

#[test]
fn grants_go_in_arrival_order() {
    let pool = TerminalPool::new(1).expect("pool");
    let holder = pool.lease("p", LONG).expect("first");
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for i in 0..8 {
        let (pool2, order) = (pool.clone(), Arc::clone(&order));
        handles.push(thread::spawn(move || {
            let lease = pool2.lease("p", LONG).expect("lease");
            order.lock().expect("order").push(i);
            drop(lease);
        }));
        // The next thread starts only once this one is queued.
        eventually(&pool, |s| s.waiting == i + 1);
    }
    drop(holder);
    for handle in handles {
        handle.join().expect("thread");
    }
    assert_eq!(*order.lock().expect("order"), (0..8).collect::<Vec<_>>());
    assert_eq!(pool.stats().granted_total, 9);
}

#[test]
fn a_waiter_held_back_by_its_provider_does_not_block_others() {
    let pool = TerminalPool::new(2).expect("pool");
    pool.set_limit("codex", 1).expect("limit");
    let held = pool.lease("codex", LONG).expect("codex");
    let waiter = {
        let pool = pool.clone();
        thread::spawn(move || {
            pool.lease("codex", LONG)
                .map(|lease| lease.provider().to_owned())
        })
    };
    eventually(&pool, |s| s.waiting == 1);
    assert_eq!(pool.stats().providers["codex"].waiting, 1);
    let other = pool
        .try_lease("claude-code")
        .expect("the global cap has room");
    assert_eq!(pool.stats().in_use, 2);
    drop(other);
    drop(held);
    assert_eq!(waiter.join().expect("thread").expect("granted"), "codex");
}

#[test]
fn raising_a_limit_wakes_waiters() {
    let pool = TerminalPool::new(4).expect("pool");
    pool.set_limit("codex", 1).expect("limit");
    let held = pool.lease("codex", LONG).expect("codex");
    let waiter = {
        let pool = pool.clone();
        thread::spawn(move || pool.lease("codex", LONG).map(drop))
    };
    eventually(&pool, |s| s.waiting == 1);
    pool.set_limit("codex", 2).expect("raise");
    waiter.join().expect("thread").expect("granted");
    drop(held);
    pool.clear_limit("codex");
    assert_eq!(pool.stats().providers.get("codex"), None);
}

#[test]
fn panics_inside_lease_holders_give_every_slot_back() {
    let pool = TerminalPool::new(2).expect("pool");
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let pool = pool.clone();
            thread::spawn(move || {
                let caught = std::panic::catch_unwind(|| {
                    let _lease = pool.lease("p", LONG).expect("lease");
                    panic!("agent runner {i} blew up");
                });
                assert!(caught.is_err());
                // And a panic that kills the thread outright.
                let _lease = pool.lease("p", LONG).expect("lease");
                if i % 2 == 0 {
                    panic!("thread {i} dies holding a lease");
                }
            })
        })
        .collect();
    let died = handles
        .into_iter()
        .map(|handle| handle.join())
        .filter(Result::is_err)
        .count();
    assert_eq!(died, 4);
    let stats = pool.stats();
    assert_eq!(stats.in_use, 0);
    assert_eq!(stats.granted_total, 16);
    let a = pool.try_lease("p").expect("slot 1 is back");
    let b = pool.try_lease("p").expect("slot 2 is back");
    assert!(pool.try_lease("p").is_none());
    drop((a, b));
}

#[test]
fn a_lease_dropped_by_a_cancelled_task_is_returned() {
    // Cancelling a run drops what it holds; model that as a struct owning the lease.
    struct Run {
        _lease: codecafe_terminals::Lease,
    }
    let pool = TerminalPool::new(1).expect("pool");
    let run = Run {
        _lease: pool.lease("p", LONG).expect("lease"),
    };
    assert!(pool.try_lease("p").is_none());
    drop(run);
    assert!(pool.try_lease("p").is_some());
}

#[test]
fn a_lease_times_out_with_an_explaining_error() {
    let pool = TerminalPool::new(1).expect("pool");
    let held = pool.lease("codex", LONG).expect("lease");
    let err = pool
        .lease("codex", Duration::from_millis(20))
        .expect_err("no slot");
    match &err {
        TerminalError::LeaseTimeout {
            provider,
            in_use,
            limit,
            waiting,
            ..
        } => {
            assert_eq!(provider, "codex");
            assert_eq!((*in_use, *limit, *waiting), (1, 1, 0));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("raise the pool limits"));
    let stats = pool.stats();
    assert_eq!((stats.timed_out, stats.waiting, stats.in_use), (1, 0, 1));
    drop(held);
    // The timed-out waiter left no ghost in the queue: the slot goes to the next caller.
    assert!(pool.try_lease("codex").is_some());
}

#[test]
fn try_lease_never_jumps_the_queue_or_the_limits() {
    let pool = TerminalPool::new(2).expect("pool");
    pool.set_limit("codex", 1).expect("limit");
    let a = pool.try_lease("codex").expect("free");
    assert!(pool.try_lease("codex").is_none());
    let b = pool.try_lease("claude-code").expect("free");
    assert!(
        pool.try_lease("claude-code").is_none(),
        "global cap reached"
    );
    assert_eq!(a.provider(), "codex");
    assert_eq!(a.waited(), Duration::ZERO);
    let stats = pool.stats();
    assert_eq!(stats.in_use, 2);
    assert_eq!(stats.providers["codex"].in_use, 1);
    assert_eq!(stats.providers["claude-code"].in_use, 1);
    drop((a, b));
    assert_eq!(pool.stats().in_use, 0);
}

#[test]
fn zero_limits_are_refused() {
    assert!(matches!(
        TerminalPool::new(0),
        Err(TerminalError::ZeroLimit { .. })
    ));
    let pool = TerminalPool::new(1).expect("pool");
    let err = pool.set_limit("codex", 0).expect_err("zero");
    assert!(err.to_string().contains("codex"));
}

#[test]
fn a_waiting_caller_can_be_cancelled() {
    use std::sync::atomic::AtomicBool;
    let pool = TerminalPool::new(1).expect("pool");
    let held = pool.lease("p", LONG).expect("lease");
    let cancel = Arc::new(AtomicBool::new(false));
    let waiter = {
        let (pool, cancel) = (pool.clone(), Arc::clone(&cancel));
        thread::spawn(move || {
            pool.lease_cancellable("p", LONG, &|| cancel.load(Ordering::SeqCst))
                .map(drop)
        })
    };
    eventually(&pool, |s| s.waiting == 1);
    cancel.store(true, Ordering::SeqCst);
    let result = waiter.join().expect("thread");
    assert!(
        matches!(result, Err(TerminalError::LeaseCancelled { ref provider }) if provider == "p"),
        "{result:?}"
    );
    let stats = pool.stats();
    assert_eq!((stats.waiting, stats.in_use, stats.timed_out), (0, 1, 0));
    drop(held);
    // Not cancelled: behaves like `lease`.
    pool.lease_cancellable("p", LONG, &|| false)
        .expect("free slot");
}

#[test]
fn handles_can_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<TerminalPool>();
    send_sync::<codecafe_terminals::Lease>();
    send::<codecafe_terminals::AgentProcess>();
}
