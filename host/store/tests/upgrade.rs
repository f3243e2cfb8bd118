//! A database written by an earlier release opens, migrates and reads: users' orders survive
//! an upgrade of codecafe.

use codecafe_engine::OrderStatus;
use codecafe_sdk::AgentEvent;
use codecafe_store::event::{AwaitKind, EventBody};
use codecafe_store::{OrderFilter, Store, schema};

/// A copy of the fixture written by codecafe 0.1.0 (`tests/fixtures/db/README.md`), to migrate.
fn release_0_1_0() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("codecafe.db");
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/db/codecafe-0.1.0.db");
    std::fs::copy(&fixture, &path).expect("copy the fixture");
    let store = Store::open(&path).expect("the old database opens");
    (dir, store)
}

#[test]
fn a_database_written_by_release_0_1_0_reads() {
    let (_dir, store) = release_0_1_0();
    assert_eq!(
        store.schema_version().expect("version"),
        schema::SCHEMA_VERSION
    );
    assert!(store.integrity_check().expect("check").is_empty());
    let orders = store.list_orders(&OrderFilter::all()).expect("orders");
    assert_eq!(orders.len(), 2);
    let ask = orders
        .iter()
        .find(|o| o.recipe_id == "ask")
        .expect("ask order");
    assert_eq!(ask.status, OrderStatus::Failed);
    assert!((ask.cost_usd - 0.0123).abs() < 1e-9, "{}", ask.cost_usd);
    let runs = store.stage_runs(ask.id).expect("runs");
    let usage = runs
        .iter()
        .find(|r| r.stage_id == "ask")
        .and_then(|r| r.usage)
        .expect("the ask stage's usage, once kebab-case");
    assert_eq!((usage.input_tokens, usage.output_tokens), (120, 30));
    assert_eq!(usage.cost_usd, Some(0.0123));

    let mut kinds = std::collections::BTreeSet::new();
    for order in &orders {
        for event in store.events_since(order.id, 0, 1000).expect("events") {
            assert!(
                !matches!(event.body, EventBody::Unreadable(_)),
                "every old row reads as its kind: {event:?}"
            );
            kinds.insert(event.kind());
            let line = serde_json::to_value(&event).expect("json");
            assert_eq!(line["v"], 1);
        }
    }
    for kind in [
        "order:created",
        "order:started",
        "stage:started",
        "order:output",
        "stage:completed",
        "stage:failed",
        "order:awaiting-input",
        "order:completed",
        "order:failed",
        "order:followup-started",
        "order:followup-completed",
    ] {
        assert!(kinds.contains(kind), "{kind} in {kinds:?}");
    }
    let events = store.events_since(ask.id, 0, 1000).expect("events");
    let usage_events: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Output(o) => match &o.event {
                AgentEvent::Usage(u) => Some(*u),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(usage_events.len(), 2);
    assert_eq!(usage_events[0].input_tokens, 100);
    assert_eq!(usage_events[1].cost_usd, Some(0.0123));
    let asked = events.iter().find_map(|e| match &e.body {
        EventBody::AwaitingInput(a) => Some(a.clone()),
        _ => None,
    });
    let asked = asked.expect("the question");
    assert_eq!(asked.reason, AwaitKind::Questions);
    assert_eq!(asked.questions, ["Which database?"]);
    let final_error = events.iter().any(|e| {
        matches!(&e.body, EventBody::Output(o)
            if matches!(&o.event, AgentEvent::FinalResult(r) if r.is_error))
    });
    assert!(final_error, "`is-error` read back as is_error");
}

#[test]
fn the_migrated_database_opens_again_unchanged() {
    let (dir, store) = release_0_1_0();
    let before: Vec<_> = store
        .list_orders(&OrderFilter::all())
        .expect("orders")
        .into_iter()
        .map(|o| store.events_since(o.id, 0, 1000).expect("events"))
        .collect();
    drop(store);
    let again = Store::open(dir.path().join("codecafe.db")).expect("reopen");
    let after: Vec<_> = again
        .list_orders(&OrderFilter::all())
        .expect("orders")
        .into_iter()
        .map(|o| again.events_since(o.id, 0, 1000).expect("events"))
        .collect();
    assert_eq!(before, after);
}
