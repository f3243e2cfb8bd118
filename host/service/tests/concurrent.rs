//! One `Service` shared by threads, as a long-running server uses it: several orders run at
//! once in one process, each with its own cancel token, none printing or exiting.

use std::sync::Arc;

use codecafe_service::orders::NewOrderRequest;
use codecafe_service::{CancelToken, Paths, RunOutcome, Scope, Service, demo, execute};

#[test]
fn a_service_is_shared_by_threads_running_orders_at_once() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Service>();
    let home = tempfile::tempdir().expect("home");
    // The tests share one compile cache, so the built-ins are compiled once.
    let mut paths = Paths::under(home.path().to_owned());
    paths.compiled = codecafe_test_support::shared_compile_cache();
    let service = Arc::new(Service::with_paths(paths));
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
