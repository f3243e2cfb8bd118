//! The store's behaviour in one process: orders, lookups, listing, status changes through the
//! state machine, stage runs, events, deletion, runner claims, schema versions.

use std::path::{Path, PathBuf};
use std::time::Duration;

use codecafe_engine::order::ORDER_TRANSITIONS;
use codecafe_engine::{OrderAction, OrderStatus, StageAction, StageStatus};
use codecafe_sdk::Usage;
use codecafe_store::event::{EventBody, OrderFailed, OrderStarted, StageRef, Warning};
use codecafe_store::schema::SCHEMA_VERSION;
use codecafe_store::{
    NewOrder, NewStageRun, OrderFilter, StageRunUpdate, StatusChange, Store, StoreError,
};

/// An `order:started` event.
fn started() -> EventBody {
    EventBody::OrderStarted(OrderStarted {
        recipe_id: "moon".into(),
        stages: vec!["analyze".into()],
        groups: vec![vec!["analyze".into()]],
    })
}

/// A `stage:started`-like event of `stage` (a skip is the simplest typed one).
fn about(stage: &str) -> EventBody {
    EventBody::StageSkipped(StageRef {
        stage: stage.into(),
    })
}

/// Usage with `input` tokens.
fn usage(input: u64) -> Usage {
    Usage {
        input_tokens: input,
        ..Usage::default()
    }
}
use serde_json::json;
use uuid::Uuid;

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().join("nested/dir/state.db")).expect("open");
    (dir, store)
}

fn order_with_id(store: &Store, id: &str) -> Uuid {
    let mut new = NewOrder::new("cafe", "moon");
    new.id = Uuid::parse_str(id).expect("uuid");
    store.create_order(&new).expect("create").id
}

/// Drives an order from `created` to `target` along table rows.
fn drive_to(store: &Store, id: Uuid, target: OrderStatus) {
    use OrderAction::*;
    let path: &[OrderAction] = match target {
        OrderStatus::Created => &[],
        OrderStatus::Running => &[Start],
        OrderStatus::AwaitingInput => &[Start, AwaitInput],
        OrderStatus::Completed => &[Start, Complete],
        OrderStatus::Failed => &[Start, Fail],
        OrderStatus::Cancelled => &[Cancel],
        OrderStatus::Followup => &[Start, Complete, EnterFollowup],
        OrderStatus::FollowupRunning => &[Start, Complete, EnterFollowup, RunFollowup],
        OrderStatus::FollowupAwaitingInput => {
            &[Start, Complete, EnterFollowup, RunFollowup, AwaitInput]
        }
    };
    for action in path {
        store.update_status(id, *action).expect("path step");
    }
    assert_eq!(store.order(id).expect("order").status, target);
}

#[test]
fn a_store_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Store>();
}

#[test]
fn open_creates_directories_and_the_schema() {
    let (dir, store) = temp_store();
    assert!(dir.path().join("nested/dir/state.db").is_file());
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    assert!(store.integrity_check().expect("check").is_empty());
    drop(store);
    // Reopening is a no-op migration and keeps data.
    let store = Store::open(dir.path().join("nested/dir/state.db")).expect("reopen");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
}

#[test]
fn the_database_is_in_wal_mode() {
    let (dir, store) = temp_store();
    store
        .create_order(&NewOrder::new("cafe", "moon"))
        .expect("create");
    let raw = rusqlite::Connection::open(dir.path().join("nested/dir/state.db")).expect("raw");
    let mode: String = raw
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .expect("journal mode");
    assert_eq!(mode, "wal");
}

#[test]
fn a_newer_database_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.db");
    drop(Store::open(&path).expect("create"));
    let raw = rusqlite::Connection::open(&path).expect("raw");
    raw.pragma_update(None, "user_version", SCHEMA_VERSION + 5)
        .expect("bump");
    drop(raw);
    let err = Store::open(&path).expect_err("newer schema");
    assert!(
        matches!(err, StoreError::NewerSchema { found, supported, .. }
            if found == SCHEMA_VERSION + 5 && supported == SCHEMA_VERSION),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("upgrade codecafe"), "{message}");
    assert!(message.contains("state.db"), "{message}");
    let raw = rusqlite::Connection::open(&path).expect("raw");
    let version: i64 = raw
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .expect("version");
    assert_eq!(version, SCHEMA_VERSION + 5, "the database was changed");
}

#[test]
fn an_unreadable_row_is_a_corrupt_error_not_a_panic() {
    let (dir, store) = temp_store();
    let order = store
        .create_order(&NewOrder::new("cafe", "moon"))
        .expect("create");
    let raw = rusqlite::Connection::open(dir.path().join("nested/dir/state.db")).expect("raw");
    raw.execute("UPDATE orders SET status = 'exploded'", [])
        .expect("tamper");
    let err = store.order(order.id).expect_err("unknown status");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("exploded"), "{err}");
}

#[test]
fn create_and_get_round_trip_every_field() {
    let (_dir, store) = temp_store();
    let mut new = NewOrder::new("cafe-1", "moon")
        .prompt("Add rate limiting")
        .var("ticket", "ABC-1")
        .var("depth", 3);
    new.branch = Some("orders/abcd1234".into());
    new.base_branch = Some("main".into());
    new.worktree_path = Some(PathBuf::from("/tmp/wt/abcd1234"));
    new.max_cost_usd = Some(2.5);
    let order = store.create_order(&new).expect("create");
    assert_eq!(order.id, new.id);
    assert_eq!(order.status, OrderStatus::Created);
    assert_eq!(order.prompt, "Add rate limiting");
    assert_eq!(order.vars["ticket"], json!("ABC-1"));
    assert_eq!(order.vars["depth"], json!(3));
    assert_eq!(order.branch.as_deref(), Some("orders/abcd1234"));
    assert_eq!(order.base_branch.as_deref(), Some("main"));
    assert_eq!(
        order.worktree_path.as_deref(),
        Some(Path::new("/tmp/wt/abcd1234"))
    );
    assert_eq!(order.max_cost_usd, Some(2.5));
    assert_eq!(order.cost_usd, 0.0);
    assert_eq!(order.attempt, 1);
    assert_eq!(order.created_at, order.updated_at);
    assert_eq!(order.started_at, None);
    assert_eq!(order.finished_at, None);
    assert_eq!(store.order(order.id).expect("get"), order);

    let in_place = store
        .create_order(&NewOrder::new("cafe-1", "moon"))
        .expect("create");
    assert_eq!(
        in_place.worktree_path, None,
        "NULL worktree = runs in place"
    );
}

#[test]
fn create_rejects_bad_input_and_duplicate_ids() {
    let (_dir, store) = temp_store();
    let err = store
        .create_order(&NewOrder::new("", "moon"))
        .expect_err("empty cafe");
    assert!(err.to_string().contains("cafe id"), "{err}");
    let err = store
        .create_order(&NewOrder::new("cafe", " "))
        .expect_err("empty recipe");
    assert!(err.to_string().contains("recipe id"), "{err}");
    let mut new = NewOrder::new("cafe", "moon");
    new.max_cost_usd = Some(-1.0);
    let err = store.create_order(&new).expect_err("negative budget");
    assert!(err.to_string().contains("cost limit"), "{err}");
    new.max_cost_usd = None;
    store.create_order(&new).expect("create");
    let err = store.create_order(&new).expect_err("duplicate");
    assert!(
        matches!(err, StoreError::OrderExists { id } if id == new.id),
        "{err:?}"
    );
    assert_eq!(store.count_orders(&OrderFilter::all()).expect("count"), 1);
}

#[test]
fn orders_are_found_by_id_and_by_unique_prefix() {
    let (_dir, store) = temp_store();
    let a = order_with_id(&store, "abcd1111-0000-4000-8000-000000000001");
    let b = order_with_id(&store, "abcd2222-0000-4000-8000-000000000002");
    let c = order_with_id(&store, "ffff0000-0000-4000-8000-000000000003");

    assert_eq!(store.find_order(&a.to_string()).expect("full").id, a);
    assert_eq!(
        store
            .find_order(&a.to_string().to_uppercase())
            .expect("upper")
            .id,
        a
    );
    assert_eq!(
        store
            .find_order(&a.simple().to_string())
            .expect("simple")
            .id,
        a
    );
    assert_eq!(store.find_order("abcd1").expect("prefix").id, a);
    assert_eq!(store.find_order("ABCD2").expect("prefix").id, b);
    assert_eq!(store.find_order("f").expect("one char").id, c);
    assert_eq!(store.find_order(" ffff0000- ").expect("trimmed").id, c);

    let err = store.find_order("abcd").expect_err("ambiguous");
    match &err {
        StoreError::AmbiguousOrder {
            candidates, total, ..
        } => {
            assert_eq!(*total, 2);
            // Newest first.
            assert_eq!(candidates, &[b.to_string(), a.to_string()]);
        }
        other => panic!("expected ambiguous, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains(&a.to_string()) && message.contains(&b.to_string()));
    assert!(message.contains("give more"), "{message}");

    let err = store.find_order("0123").expect_err("no match");
    assert!(matches!(err, StoreError::OrderNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("codecafe order list"), "{err}");
    let err = store.order(Uuid::new_v4()).expect_err("unknown full id");
    assert!(matches!(err, StoreError::OrderNotFound { .. }), "{err:?}");

    for bad in ["", "xyz", "abcd%", "abcd_", "a".repeat(40).as_str()] {
        let err = store.find_order(bad).expect_err("invalid");
        assert!(
            matches!(err, StoreError::InvalidOrderId { .. }),
            "{bad}: {err:?}"
        );
    }
}

#[test]
fn ambiguous_prefixes_list_at_most_ten_candidates() {
    let (_dir, store) = temp_store();
    for i in 0..15 {
        order_with_id(&store, &format!("aaaa{i:04x}-0000-4000-8000-000000000000"));
    }
    let err = store.find_order("aaaa").expect_err("ambiguous");
    match &err {
        StoreError::AmbiguousOrder {
            candidates, total, ..
        } => {
            assert_eq!(candidates.len(), 10);
            assert_eq!(*total, 15);
        }
        other => panic!("expected ambiguous, got {other:?}"),
    }
    assert!(err.to_string().contains("matches 15 orders"), "{err}");
    assert!(err.to_string().contains(", ..."), "{err}");
}

#[test]
fn listing_filters_sorts_newest_first_and_pages() {
    let (_dir, store) = temp_store();
    let mut ids = Vec::new();
    for i in 0..30 {
        let cafe = if i % 3 == 0 { "cafe-a" } else { "cafe-b" };
        let order = store
            .create_order(&NewOrder::new(cafe, "moon"))
            .expect("create");
        if i % 5 == 0 {
            store
                .update_status(order.id, OrderAction::Start)
                .expect("start");
        }
        ids.push(order.id);
    }
    let newest_first: Vec<Uuid> = ids.iter().rev().copied().collect();

    let all = store.list_orders(&OrderFilter::all()).expect("list");
    assert_eq!(all.iter().map(|o| o.id).collect::<Vec<_>>(), newest_first);
    assert_eq!(store.count_orders(&OrderFilter::all()).expect("count"), 30);

    let page = store
        .list_orders(&OrderFilter::all().limit(7).offset(7))
        .expect("page");
    assert_eq!(
        page.iter().map(|o| o.id).collect::<Vec<_>>(),
        newest_first[7..14]
    );

    let cafe_a = store
        .list_orders(&OrderFilter::all().cafe("cafe-a"))
        .expect("cafe");
    assert_eq!(cafe_a.len(), 10);
    assert!(cafe_a.iter().all(|o| o.cafe_id == "cafe-a"));
    assert!(
        cafe_a
            .windows(2)
            .all(|w| w[0].created_at >= w[1].created_at)
    );

    let running = store
        .list_orders(&OrderFilter::all().status(OrderStatus::Running))
        .expect("status");
    assert_eq!(running.len(), 6);
    assert!(running.iter().all(|o| o.status == OrderStatus::Running));

    let running_a = OrderFilter::all()
        .cafe("cafe-a")
        .status(OrderStatus::Running);
    assert_eq!(store.count_orders(&running_a).expect("count"), 2);
    let either = OrderFilter::all()
        .status(OrderStatus::Running)
        .status(OrderStatus::Created);
    assert_eq!(store.list_orders(&either).expect("either").len(), 30);
    assert!(
        store
            .list_orders(&OrderFilter::all().cafe("nobody"))
            .expect("empty")
            .is_empty()
    );
}

#[test]
fn every_table_row_works_through_the_store() {
    let (_dir, store) = temp_store();
    for (from, action, to) in ORDER_TRANSITIONS {
        let id = store
            .create_order(&NewOrder::new("cafe", "moon"))
            .expect("create")
            .id;
        drive_to(&store, id, *from);
        let order = store.update_status(id, *action).expect("allowed row");
        assert_eq!(order.status, *to, "{from} --{action}--> {to}");
    }
}

#[test]
fn every_forbidden_move_is_refused_and_changes_nothing() {
    let (_dir, store) = temp_store();
    for from in OrderStatus::ALL {
        let id = store
            .create_order(&NewOrder::new("cafe", "moon"))
            .expect("create")
            .id;
        drive_to(&store, id, *from);
        for action in OrderAction::ALL {
            if from.allows(*action) {
                continue;
            }
            let before = store.order(id).expect("before");
            let events_before = store.events_since(id, 0, 1000).expect("events").len();
            let change = StatusChange::new(*action).event(EventBody::Warning(Warning {
                message: "whatever".into(),
            }));
            let err = store.change_status(id, &change).expect_err("forbidden");
            match &err {
                StoreError::IllegalTransition { id: got, source } => {
                    assert_eq!(*got, id);
                    assert_eq!(source.from, *from);
                    assert_eq!(source.action, *action);
                }
                other => panic!("expected an illegal transition, got {other:?}"),
            }
            let message = err.to_string();
            assert!(message.contains(&format!("`{action}`")), "{message}");
            assert!(message.contains(&format!("that is {from}")), "{message}");
            assert_eq!(store.order(id).expect("after"), before, "the order changed");
            assert_eq!(
                store.events_since(id, 0, 1000).expect("events").len(),
                events_before,
                "an event was stored for a refused change"
            );
        }
    }
}

#[test]
fn status_changes_keep_the_books() {
    let (_dir, store) = temp_store();
    let id = store
        .create_order(&NewOrder::new("cafe", "moon"))
        .expect("create")
        .id;
    let started = store.update_status(id, OrderAction::Start).expect("start");
    let first_start = started.started_at.expect("started_at set");
    assert_eq!(started.finished_at, None);

    let failed = store
        .change_status(
            id,
            &StatusChange::new(OrderAction::Fail)
                .error("stage `code` failed: exit 1")
                .event(EventBody::OrderFailed(OrderFailed {
                    stage: "code".into(),
                    error: "exit 1".into(),
                    can_retry: true,
                    cost_usd: 0.0,
                })),
        )
        .expect("fail");
    assert_eq!(failed.from, OrderStatus::Running);
    assert_eq!(failed.order.status, OrderStatus::Failed);
    assert_eq!(
        failed.order.error.as_deref(),
        Some("stage `code` failed: exit 1")
    );
    assert!(failed.order.finished_at.is_some());
    let event = failed.event.expect("event stored with the change");
    assert_eq!(event.kind(), "order:failed");
    assert_eq!(
        store.events_since(id, 0, 10).expect("events"),
        vec![event.clone()]
    );

    let retried = store.update_status(id, OrderAction::Retry).expect("retry");
    assert_eq!(retried.attempt, 2);
    assert_eq!(retried.error, None);
    assert_eq!(retried.finished_at, None);
    assert_eq!(retried.started_at, Some(first_start), "first start is kept");

    let done = store
        .update_status(id, OrderAction::Complete)
        .expect("complete");
    assert_eq!(done.status, OrderStatus::Completed);
    assert!(done.finished_at.is_some());
    assert!(done.updated_at >= retried.updated_at);

    // A follow-up's failure keeps the order's result and records the error.
    store
        .update_status(id, OrderAction::EnterFollowup)
        .expect("enter");
    store
        .update_status(id, OrderAction::RunFollowup)
        .expect("run");
    let back = store
        .change_status(
            id,
            &StatusChange::new(OrderAction::Fail).error("agent crashed"),
        )
        .expect("fail follow-up")
        .order;
    assert_eq!(back.status, OrderStatus::Followup);
    assert_eq!(back.error.as_deref(), Some("agent crashed"));
    assert_eq!(back.finished_at, done.finished_at);
    store
        .update_status(id, OrderAction::FinishFollowup)
        .expect("finish");
}

#[test]
fn set_worktree_records_branch_and_path() {
    let (_dir, store) = temp_store();
    let id = store
        .create_order(&NewOrder::new("cafe", "moon"))
        .expect("create")
        .id;
    let order = store
        .set_worktree(
            id,
            Some("orders/1234"),
            Some("main"),
            Some(Path::new("/wt/1234")),
        )
        .expect("set");
    assert_eq!(order.branch.as_deref(), Some("orders/1234"));
    assert_eq!(order.base_branch.as_deref(), Some("main"));
    assert_eq!(order.worktree_path.as_deref(), Some(Path::new("/wt/1234")));
    let err = store
        .set_worktree(Uuid::new_v4(), None, None, None)
        .expect_err("unknown");
    assert!(matches!(err, StoreError::OrderNotFound { .. }), "{err:?}");
}

#[test]
fn stage_runs_number_attempts_and_follow_the_stage_machine() {
    let (_dir, store) = temp_store();
    let id = store
        .create_order(&NewOrder::new("cafe", "moon"))
        .expect("create")
        .id;
    store.update_status(id, OrderAction::Start).expect("start");

    let analyze = store
        .start_stage_run(&NewStageRun::new(id, "analyze").provider("claude-code"))
        .expect("start analyze");
    assert_eq!(analyze.status, StageStatus::Running);
    assert_eq!(analyze.attempt, 1);
    assert_eq!(analyze.order_attempt, 1);
    assert_eq!(analyze.provider.as_deref(), Some("claude-code"));
    assert!(analyze.started_at.is_some());

    let with_session = store
        .set_stage_session(analyze.id, "sess-1")
        .expect("session");
    assert_eq!(with_session.agent_session_id.as_deref(), Some("sess-1"));

    let total = store
        .record_stage_usage(
            analyze.id,
            &Usage {
                input_tokens: 10,
                output_tokens: 5,
                ..Usage::default()
            },
            Some(0.25),
        )
        .expect("usage");
    assert_eq!(total, 0.25);

    let failed = store
        .update_stage_run(
            analyze.id,
            StageAction::Fail,
            &StageRunUpdate {
                exit_code: Some(1),
                error: Some("exit 1".into()),
                ..StageRunUpdate::default()
            },
        )
        .expect("fail");
    assert_eq!(failed.status, StageStatus::Failed);
    assert_eq!(failed.exit_code, Some(1));
    assert!(failed.finished_at.is_some());

    // Illegal stage moves are refused and change nothing.
    let err = store
        .update_stage_run(
            analyze.id,
            StageAction::Complete,
            &StageRunUpdate::default(),
        )
        .expect_err("failed cannot complete");
    match &err {
        StoreError::IllegalStageTransition {
            run_id,
            stage_id,
            source,
        } => {
            assert_eq!(*run_id, analyze.id);
            assert_eq!(stage_id, "analyze");
            assert_eq!(source.from, StageStatus::Failed);
        }
        other => panic!("expected illegal stage transition, got {other:?}"),
    }
    assert!(err.to_string().contains("stage `analyze`"), "{err}");
    assert_eq!(store.stage_run(analyze.id).expect("run"), failed);

    // The retry is a new run: attempt 2, the old one kept.
    let again = store
        .start_stage_run(&NewStageRun::new(id, "analyze"))
        .expect("retry analyze");
    assert_eq!(again.attempt, 2);
    store
        .record_stage_usage(again.id, &usage(1), Some(0.5))
        .expect("usage");
    let total = store
        .record_stage_usage(again.id, &usage(2), Some(0.75))
        .expect("usage replaced");
    assert_eq!(
        total, 1.0,
        "order cost is the sum of the runs' latest costs"
    );
    assert_eq!(store.order(id).expect("order").cost_usd, 1.0);

    store
        .update_stage_run(
            again.id,
            StageAction::AwaitInput,
            &StageRunUpdate::default(),
        )
        .expect("await");
    store
        .update_stage_run(
            again.id,
            StageAction::InputReceived,
            &StageRunUpdate::default(),
        )
        .expect("answered");
    let done = store
        .update_stage_run(
            again.id,
            StageAction::Complete,
            &StageRunUpdate {
                exit_code: Some(0),
                output: Some("signals:\n  proceed: true".into()),
                error: None,
            },
        )
        .expect("complete");
    assert_eq!(done.output.as_deref(), Some("signals:\n  proceed: true"));

    let skipped = store.skip_stage(id, "plan").expect("skip");
    assert_eq!(skipped.status, StageStatus::Skipped);
    assert_eq!(skipped.started_at, None);
    assert!(skipped.finished_at.is_some());

    let runs = store.stage_runs(id).expect("runs");
    assert_eq!(
        runs.iter()
            .map(|r| (r.stage_id.as_str(), r.attempt, r.status))
            .collect::<Vec<_>>(),
        [
            ("analyze", 1, StageStatus::Failed),
            ("analyze", 2, StageStatus::Completed),
            ("plan", 1, StageStatus::Skipped),
        ]
    );

    // After an order retry, new runs record the order's attempt.
    store.update_status(id, OrderAction::Fail).expect("fail");
    store.update_status(id, OrderAction::Retry).expect("retry");
    let third = store
        .start_stage_run(&NewStageRun::new(id, "analyze"))
        .expect("third");
    assert_eq!((third.attempt, third.order_attempt), (3, 2));

    let err = store
        .start_stage_run(&NewStageRun::new(Uuid::new_v4(), "analyze"))
        .expect_err("unknown order");
    assert!(matches!(err, StoreError::OrderNotFound { .. }), "{err:?}");
    let err = store.stage_run(9999).expect_err("unknown run");
    assert!(
        matches!(err, StoreError::StageRunNotFound { id: 9999 }),
        "{err:?}"
    );
    let err = store.set_stage_session(9999, "x").expect_err("unknown run");
    assert!(
        matches!(err, StoreError::StageRunNotFound { .. }),
        "{err:?}"
    );
    let err = store
        .record_stage_usage(third.id, &usage(0), Some(f64::NAN))
        .expect_err("NaN cost");
    assert!(err.to_string().contains("cost"), "{err}");
}

#[test]
fn events_are_stored_in_order_and_followed_by_sequence() {
    let (_dir, store) = temp_store();
    let a = store
        .create_order(&NewOrder::new("cafe", "moon"))
        .expect("a")
        .id;
    let b = store
        .create_order(&NewOrder::new("cafe", "moon"))
        .expect("b")
        .id;
    let first = store.append_event(a, &started()).expect("append");
    assert!(first.seq > 0);
    assert_eq!(first.kind(), "order:started");
    let other = store.append_event(b, &started()).expect("b");
    let batch = store
        .append_events(a, &[about("analyze"), about("code"), about("review")])
        .expect("batch");
    assert!(first.seq < other.seq && other.seq < batch[0].seq);
    assert!(batch.windows(2).all(|w| w[0].seq < w[1].seq));

    let all = store.events_since(a, 0, 100).expect("all");
    assert_eq!(all.len(), 4);
    assert_eq!(all[0], first);
    assert_eq!(all[1..], batch[..]);
    let rest = store.events_since(a, first.seq, 100).expect("since");
    assert_eq!(rest, batch);
    let limited = store.events_since(a, 0, 2).expect("limited");
    assert_eq!(limited.len(), 2);
    assert!(
        store
            .events_since(a, batch[2].seq, 100)
            .expect("none")
            .is_empty()
    );

    let everything = store.events_after(0, 100).expect("after");
    assert_eq!(everything.len(), 5);
    assert!(everything.windows(2).all(|w| w[0].seq < w[1].seq));

    let err = store
        .append_event(Uuid::new_v4(), &started())
        .expect_err("unknown order");
    assert!(matches!(err, StoreError::OrderNotFound { .. }), "{err:?}");
    assert_eq!(store.events_since(a, 0, 100).expect("all").len(), 4);
}

#[test]
fn sequence_numbers_are_never_reused_after_a_delete() {
    let (_dir, store) = temp_store();
    let a = store
        .create_order(&NewOrder::new("cafe", "moon"))
        .expect("a")
        .id;
    let last = store.append_event(a, &started()).expect("event");
    store.delete_order(a).expect("delete");
    let b = store
        .create_order(&NewOrder::new("cafe", "moon"))
        .expect("b")
        .id;
    let next = store.append_event(b, &started()).expect("event");
    assert!(next.seq > last.seq);
}

#[test]
fn deleting_removes_stage_runs_and_events_and_refuses_active_orders() {
    let (dir, store) = temp_store();
    let id = store
        .create_order(&NewOrder::new("cafe", "moon"))
        .expect("create")
        .id;
    store.update_status(id, OrderAction::Start).expect("start");
    store
        .start_stage_run(&NewStageRun::new(id, "analyze"))
        .expect("run");
    store.append_event(id, &started()).expect("event");

    let err = store.delete_order(id).expect_err("running");
    assert!(
        matches!(
            err,
            StoreError::StillActive {
                status: OrderStatus::Running,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("cancel it first"), "{err}");
    assert!(store.order(id).is_ok(), "nothing was deleted");

    store
        .update_status(id, OrderAction::Cancel)
        .expect("cancel");
    let deleted = store.delete_order(id).expect("delete");
    assert_eq!(deleted.id, id);
    assert!(matches!(
        store.order(id),
        Err(StoreError::OrderNotFound { .. })
    ));
    let raw = rusqlite::Connection::open(dir.path().join("nested/dir/state.db")).expect("raw");
    for table in ["stage_runs", "events"] {
        let left: i64 = raw
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                row.get(0)
            })
            .expect("count");
        assert_eq!(left, 0, "{table} kept rows of a deleted order");
    }
}

#[test]
fn delete_many_reports_each_result_and_one_failure_does_not_stop_the_rest() {
    let (_dir, store) = temp_store();
    let a = order_with_id(&store, "aaaa0000-0000-4000-8000-000000000001");
    let b = order_with_id(&store, "bbbb0000-0000-4000-8000-000000000002");
    let busy = order_with_id(&store, "cccc0000-0000-4000-8000-000000000003");
    order_with_id(&store, "dddd0001-0000-4000-8000-000000000004");
    order_with_id(&store, "dddd0002-0000-4000-8000-000000000005");
    store
        .update_status(busy, OrderAction::Start)
        .expect("start");

    let results = store.delete_many(&["aaaa", "cccc", "nope", "dddd", "!", &b.to_string()]);
    let summary: Vec<(&str, Result<Uuid, &'static str>)> = results
        .iter()
        .map(|d| {
            (
                d.query.as_str(),
                match &d.result {
                    Ok(order) => Ok(order.id),
                    Err(StoreError::StillActive { .. }) => Err("active"),
                    Err(StoreError::OrderNotFound { .. }) => Err("not found"),
                    Err(StoreError::AmbiguousOrder { .. }) => Err("ambiguous"),
                    Err(StoreError::InvalidOrderId { .. }) => Err("invalid"),
                    Err(other) => panic!("unexpected {other:?}"),
                },
            )
        })
        .collect();
    let b_text = b.to_string();
    assert_eq!(
        summary,
        [
            ("aaaa", Ok(a)),
            ("cccc", Err("active")),
            ("nope", Err("invalid")),
            ("dddd", Err("ambiguous")),
            ("!", Err("invalid")),
            (b_text.as_str(), Ok(b)),
        ]
    );
    assert_eq!(store.count_orders(&OrderFilter::all()).expect("count"), 3);
}

#[test]
fn runners_claim_heartbeat_and_release() {
    let (_dir, store) = temp_store();
    let id = store
        .create_order(&NewOrder::new("cafe", "moon"))
        .expect("create")
        .id;
    let claimed = store
        .claim_order(id, "host:1", Duration::from_secs(30))
        .expect("claim");
    assert_eq!(claimed.runner.as_deref(), Some("host:1"));
    assert!(claimed.heartbeat_at.is_some());
    // Re-claiming by the holder is fine; by another runner it is refused.
    store
        .claim_order(id, "host:1", Duration::from_secs(30))
        .expect("reclaim");
    let err = store
        .claim_order(id, "host:2", Duration::from_secs(30))
        .expect_err("held");
    assert!(
        matches!(&err, StoreError::Claimed { runner, .. } if runner == "host:1"),
        "{err:?}"
    );
    assert!(err.to_string().contains("being run by host:1"), "{err}");
    store.heartbeat(id, "host:1").expect("heartbeat");
    let err = store.heartbeat(id, "host:2").expect_err("not holder");
    assert!(matches!(err, StoreError::NotClaimed { .. }), "{err:?}");
    // A holder silent for longer than `stale_after` is presumed dead.
    std::thread::sleep(Duration::from_millis(30));
    let taken = store
        .claim_order(id, "host:2", Duration::from_millis(10))
        .expect("stale claim taken over");
    assert_eq!(taken.runner.as_deref(), Some("host:2"));
    let err = store.release_order(id, "host:1").expect_err("lost it");
    assert!(err.to_string().contains("held by host:2"), "{err}");
    store.release_order(id, "host:2").expect("release");
    assert_eq!(store.order(id).expect("order").runner, None);

    // Reaching a status where no agent runs releases the claim by itself.
    store
        .claim_order(id, "host:3", Duration::from_secs(30))
        .expect("claim");
    store.update_status(id, OrderAction::Start).expect("start");
    assert_eq!(
        store.order(id).expect("order").runner.as_deref(),
        Some("host:3")
    );
    store
        .update_status(id, OrderAction::AwaitInput)
        .expect("await");
    assert_eq!(store.order(id).expect("order").runner, None);
}

#[test]
fn orders_and_events_serialize_as_camel_case_with_rfc3339_times() {
    let store = Store::open_in_memory().expect("memory");
    let order = store
        .create_order(&NewOrder::new("cafe", "moon").prompt("p"))
        .expect("create");
    let json = serde_json::to_value(&order).expect("json");
    assert_eq!(json["status"], "created");
    assert_eq!(json["cafeId"], "cafe");
    assert_eq!(json["worktreePath"], serde_json::Value::Null);
    let created = json["createdAt"].as_str().expect("string time");
    assert!(created.ends_with('Z') && created.contains('T'), "{created}");
    let event = store.append_event(order.id, &started()).expect("event");
    let line = serde_json::to_string(&event).expect("ndjson line");
    assert!(line.contains("\"orderId\""), "{line}");
    assert!(line.starts_with("{\"v\":1,"), "{line}");
    let back: codecafe_store::Event = serde_json::from_str(&line).expect("parse back");
    assert_eq!(back, event);
}

#[test]
fn the_overview_queries_find_queued_orders_and_active_stages_in_one_query_each() {
    use codecafe_store::event::OrderQueued;
    let (_dir, store) = temp_store();
    let create = || {
        store
            .create_order(&NewOrder::new("cafe", "moon"))
            .expect("create")
            .id
    };
    let (queued, fresh, running, done) = (create(), create(), create(), create());
    store
        .append_event(
            queued,
            &EventBody::OrderQueued(OrderQueued { running: 1, max: 1 }),
        )
        .expect("queued");
    // A queued order that has started since is no longer queued.
    store
        .append_event(
            running,
            &EventBody::OrderQueued(OrderQueued { running: 1, max: 1 }),
        )
        .expect("queued");
    for id in [running, done] {
        store.update_status(id, OrderAction::Start).expect("start");
        store
            .start_stage_run(&NewStageRun::new(id, "analyze"))
            .expect("stage");
    }
    store
        .start_stage_run(&NewStageRun::new(running, "code"))
        .expect("stage");
    store
        .update_status(done, OrderAction::Cancel)
        .expect("cancel");

    let found = store.queued_orders().expect("queued orders");
    assert_eq!(found.into_iter().collect::<Vec<_>>(), vec![queued]);
    assert!(!store.queued_orders().expect("again").contains(&fresh));
    let active = store
        .active_stages(&[OrderStatus::Created, OrderStatus::Running])
        .expect("active stages");
    assert_eq!(
        active,
        vec![
            (running, "analyze".to_owned()),
            (running, "code".to_owned())
        ],
        "the cancelled order's stage is not in flight"
    );
}
