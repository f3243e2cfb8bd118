//! One `Service` shared by threads, as a long-running server uses it: several orders run at
//! once in one process, each with its own cancel token, none printing or exiting.

use std::sync::Arc;

mod common;

use codecafe_service::orders::NewOrderRequest;
use codecafe_service::{CancelToken, RunOutcome, Scope, Service, demo, execute};

#[test]
fn a_service_is_shared_by_threads_running_orders_at_once() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Service>();
    let home = tempfile::tempdir().expect("home");
    let service = Arc::new(common::service(home.path()));
    let demo = demo::setup(&service, Some(&home.path().join("demo"))).expect("demo repository");
    let request = |n: usize| NewOrderRequest {
        scope: Scope::cafe(&demo.cafe.id),
        prompt: format!("order {n}"),
        ..demo.request.clone()
    };
    let cancelled = CancelToken::new();
    let outcomes: Vec<RunOutcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|n| {
                let (service, request, cancelled) = (&service, request(n), &cancelled);
                scope.spawn(move || {
                    // One of them is cancelled before it starts; the others are not affected.
                    let token = if n == 3 {
                        cancelled.clone()
                    } else {
                        CancelToken::new()
                    };
                    if n == 3 {
                        token.cancel();
                    }
                    execute::run(service, &request, &token, &mut |_| {}, &mut |_| {})
                        .expect("run")
                        .1
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    for (n, outcome) in outcomes.iter().enumerate() {
        let expected = if n == 3 {
            RunOutcome::Cancelled
        } else {
            RunOutcome::Completed {
                failed_stages: vec![],
            }
        };
        assert_eq!(*outcome, expected, "order {n}");
    }
    let store = service.store().expect("store");
    assert!(store.slots().expect("slots").is_empty(), "no slot leaked");
}

#[test]
fn orders_beyond_the_cafe_limit_wait_in_line_in_one_process_and_can_be_cancelled_there() {
    use std::sync::mpsc;
    let home = tempfile::tempdir().expect("home");
    let service = common::service(home.path());
    let go = home.path().join("go");
    let recipe = format!(
        "name: wait\nworkflow:\n  stages: [wait]\nwait:\n  provider: command\n  command: \
         \"while [ ! -f {} ]; do sleep 0.05; done; echo through\"\n",
        go.display()
    );
    let cafe = common::cafe_with_recipe(&service, home.path(), "line", 1, "wait", &recipe);
    let request = |n: usize| common::request(&cafe, "wait", format!("order {n}"));
    // (order, event kind) as each run emits them.
    let (tx, rx) = mpsc::channel::<(usize, String)>();
    let tokens: Vec<CancelToken> = (0..3).map(|_| CancelToken::new()).collect();
    let outcomes: Vec<RunOutcome> = std::thread::scope(|scope| {
        let start = |n: usize| {
            let (service, request, token, tx) = (&service, request(n), &tokens[n], tx.clone());
            scope.spawn(move || {
                let mut emit = |event: &codecafe_service::Event| {
                    let _ = tx.send((n, event.kind().to_owned()));
                };
                execute::run(service, &request, token, &mut |_| {}, &mut emit)
                    .expect("run")
                    .1
            })
        };
        let wait_for = |order: usize, kind: &str| loop {
            let (n, seen) = rx
                .recv_timeout(std::time::Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("order {order} never emitted {kind}"));
            if n == order && seen == kind {
                return;
            }
        };
        // The first runs (its agent waits for `go`); the next two line up behind it.
        let first = start(0);
        wait_for(0, "stage:started");
        let second = start(1);
        wait_for(1, "order:queued");
        let third = start(2);
        wait_for(2, "order:queued");
        // The third, behind the second, is cancelled while it sleeps in line (it looks at its
        // token at least every second): nothing of it ran.
        std::thread::sleep(std::time::Duration::from_millis(400));
        tokens[2].cancel();
        let third = third.join().expect("third");
        std::fs::write(&go, "").expect("go");
        vec![
            first.join().expect("first"),
            second.join().expect("second"),
            third,
        ]
    });
    let completed = RunOutcome::Completed {
        failed_stages: vec![],
    };
    assert_eq!(
        outcomes,
        [completed.clone(), completed, RunOutcome::Cancelled]
    );
    let store = service.store().expect("store");
    assert!(store.slots().expect("slots").is_empty(), "no slot leaked");
    let orders = store
        .list_orders(&codecafe_service::OrderFilter::all())
        .expect("orders");
    assert!(
        orders.iter().all(|order| order.runner.is_none()),
        "every place was given back: {orders:?}"
    );
}
