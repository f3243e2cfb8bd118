//! Several writers at once — threads with their own connections and real child processes —
//! and `kill -9` in the middle of writing.
//!
//! The child processes are this test binary run again with [`CHILD_ROLE`] set: it then runs
//! only [`child_process_entry_point`], which does the child's work and prints
//! `committed <id>` after each commit.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier, mpsc};
use std::time::{Duration, Instant};

use codecafe_engine::{OrderAction, OrderStatus, StageAction};
use codecafe_sdk::{AgentEvent, Usage};
use codecafe_store::event::{AgentOutput, EventBody, OrderCompleted, OrderStarted, Warning};
use codecafe_store::{
    NewOrder, NewStageRun, OrderFilter, StageRunUpdate, StatusChange, Store, StoreError,
};

fn started() -> EventBody {
    EventBody::OrderStarted(OrderStarted {
        recipe_id: "moon".into(),
        stages: Vec::new(),
        groups: Vec::new(),
    })
}
use uuid::Uuid;

/// Set in a child's environment: what it does (`writer`, `event-writer`, `crash-writer`).
const CHILD_ROLE: &str = "CODECAFE_STORE_TEST_CHILD";
/// The database the child writes to.
const CHILD_DB: &str = "CODECAFE_STORE_TEST_DB";
/// A number for the child (how many to write, or which order to write to).
const CHILD_ARG: &str = "CODECAFE_STORE_TEST_ARG";

/// Does nothing in a normal run; in a child process, does the child's work.
#[test]
fn child_process_entry_point() {
    let Ok(role) = std::env::var(CHILD_ROLE) else {
        return;
    };
    let db = std::env::var(CHILD_DB).expect("child needs a database");
    let arg = std::env::var(CHILD_ARG).unwrap_or_default();
    let store = Store::open(&db).expect("child opens the store");
    match role.as_str() {
        "writer" => {
            let count: usize = arg.parse().expect("count");
            for i in 0..count {
                let order = store
                    .create_order(&NewOrder::new("cafe", "moon").var("i", i))
                    .expect("create");
                println!("committed {}", order.id);
            }
        }
        "event-writer" => {
            let (order, count) = arg.split_once(',').expect("order,count");
            let order = Uuid::parse_str(order).expect("order id");
            let count: usize = count.parse().expect("count");
            let me = std::process::id();
            for n in 0..count {
                let event = store
                    .append_event(
                        order,
                        &EventBody::Warning(Warning {
                            message: format!("{me} {n}"),
                        }),
                    )
                    .expect("append");
                println!("committed {}", event.seq);
            }
        }
        "crash-writer" => loop {
            let id = write_full_order(&store);
            println!("committed {id}");
        },
        other => panic!("unknown child role {other}"),
    }
}

/// How many events [`write_full_order`] stores per order.
const EVENTS_PER_ORDER: usize = 22;

/// The life of an order as the engine writes it: seven transactions.
fn write_full_order(store: &Store) -> Uuid {
    let id = store
        .create_order(&NewOrder::new("cafe", "moon").prompt("x".repeat(500)))
        .expect("create")
        .id;
    store
        .change_status(id, &StatusChange::new(OrderAction::Start).event(started()))
        .expect("start");
    let run = store
        .start_stage_run(&NewStageRun::new(id, "code").provider("fake"))
        .expect("stage");
    let output: Vec<EventBody> = (0..EVENTS_PER_ORDER - 2)
        .map(|n| {
            EventBody::Output(AgentOutput {
                stage: "code".into(),
                attempt: 1,
                event: AgentEvent::AssistantText {
                    text: format!("{n} {}", "y".repeat(200)),
                },
            })
        })
        .collect();
    store.append_events(id, &output).expect("events");
    store
        .record_stage_usage(
            run.id,
            &Usage {
                input_tokens: 1000,
                ..Usage::default()
            },
            Some(0.01),
        )
        .expect("usage");
    store
        .update_stage_run(
            run.id,
            StageAction::Complete,
            &StageRunUpdate {
                exit_code: Some(0),
                output: Some("done".into()),
                error: None,
            },
        )
        .expect("stage done");
    store
        .change_status(
            id,
            &StatusChange::new(OrderAction::Complete).event(EventBody::OrderCompleted(
                OrderCompleted {
                    failed_stages: Vec::new(),
                    cost_usd: 0.01,
                    cost_estimated: false,
                },
            )),
        )
        .expect("complete");
    id
}

fn spawn_child(role: &str, db: &Path, arg: &str) -> Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child_process_entry_point",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ROLE, role)
        .env(CHILD_DB, db)
        .env(CHILD_ARG, arg)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child")
}

/// Sends every `committed <x>` line of the child's output, as it comes.
fn read_commits(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // libtest writes `test child_process_entry_point ... ` without a newline before
            // the child's first line, so the marker is looked for anywhere in the line.
            if let Some((_, rest)) = line.split_once("committed ")
                && send.send(rest.trim().to_owned()).is_err()
            {
                break;
            }
        }
    });
    receive
}

fn wait_success(mut child: Child) {
    let status = child.wait().expect("wait");
    assert!(status.success(), "child failed: {status}");
}

#[test]
fn threads_with_their_own_connections_lose_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("state.db");
    const THREADS: usize = 8;
    const EACH: usize = 40;
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let db = db.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                // Opening concurrently too: the first open creates and migrates.
                barrier.wait();
                let store = Store::open(&db).expect("open");
                let mut ids = Vec::new();
                for _ in 0..EACH {
                    let order = store
                        .create_order(&NewOrder::new(format!("cafe-{t}"), "moon"))
                        .expect("create");
                    store
                        .update_status(order.id, OrderAction::Start)
                        .expect("start");
                    store.append_event(order.id, &started()).expect("event");
                    ids.push(order.id);
                }
                ids
            })
        })
        .collect();
    let written: BTreeSet<Uuid> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("thread"))
        .collect();
    assert_eq!(written.len(), THREADS * EACH);
    let store = Store::open(&db).expect("open");
    let stored: BTreeSet<Uuid> = store
        .list_orders(&OrderFilter::all())
        .expect("list")
        .into_iter()
        .map(|o| {
            assert_eq!(o.status, OrderStatus::Running);
            o.id
        })
        .collect();
    assert_eq!(stored, written);
    assert_eq!(
        store.events_after(0, 10_000).expect("events").len(),
        THREADS * EACH
    );
}

#[test]
fn many_writing_threads_of_one_process_take_turns_instead_of_timing_out() {
    // A busy timeout far shorter than all the writes together: the threads of one process
    // wait for each other in turn, not in SQLite's busy handler, so none gives up.
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("state.db");
    const THREADS: usize = 32;
    const EACH: usize = 25;
    drop(Store::open(&db).expect("create"));
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let db = db.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let store = Store::open_with_timeout(&db, Duration::from_millis(20)).expect("open");
                barrier.wait();
                for _ in 0..EACH {
                    let order = store
                        .create_order(&NewOrder::new(format!("cafe-{t}"), "moon"))
                        .expect("create");
                    store.append_event(order.id, &started()).expect("event");
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("no writer timed out");
    }
    let store = Store::open(&db).expect("open");
    assert_eq!(
        store.count_orders(&OrderFilter::all()).expect("count"),
        THREADS * EACH
    );
}

#[test]
fn racing_status_changes_apply_exactly_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("state.db");
    let store = Store::open(&db).expect("open");
    const THREADS: usize = 8;
    for _round in 0..5 {
        let id = store
            .create_order(&NewOrder::new("cafe", "moon"))
            .expect("create")
            .id;
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let db = db.clone();
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let store = Store::open(&db).expect("open");
                    barrier.wait();
                    store.change_status(id, &StatusChange::new(OrderAction::Start).event(started()))
                })
            })
            .collect();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        let won = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "exactly one start wins: {results:?}");
        for result in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(
                matches!(result, StoreError::IllegalTransition { .. }),
                "losers see the transition refused: {result:?}"
            );
        }
        assert_eq!(
            store.events_since(id, 0, 100).expect("events").len(),
            1,
            "one event, from the winner"
        );
    }
}

#[test]
fn a_writer_waits_for_another_processes_lock_within_the_busy_timeout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("state.db");
    let store = Store::open_with_timeout(&db, Duration::from_secs(5)).expect("open");
    let holder = rusqlite::Connection::open(&db).expect("raw");
    holder.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        holder.execute_batch("COMMIT").expect("unlock");
    });
    let start = Instant::now();
    store
        .create_order(&NewOrder::new("cafe", "moon"))
        .expect("waits, then writes");
    assert!(
        start.elapsed() >= Duration::from_millis(250),
        "{:?}",
        start.elapsed()
    );
    release.join().expect("holder");
}

#[test]
fn a_writer_gives_up_after_the_busy_timeout_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("state.db");
    let store = Store::open_with_timeout(&db, Duration::from_millis(200)).expect("open");
    let holder = rusqlite::Connection::open(&db).expect("raw");
    holder.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let start = Instant::now();
    let err = store
        .create_order(&NewOrder::new("cafe", "moon"))
        .expect_err("locked");
    let waited = start.elapsed();
    assert!(matches!(err, StoreError::Busy { .. }), "{err:?}");
    assert!(
        err.to_string().contains("another codecafe process"),
        "{err}"
    );
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // Readers are not blocked by the writer (WAL).
    assert_eq!(store.count_orders(&OrderFilter::all()).expect("read"), 0);
    holder.execute_batch("ROLLBACK").expect("unlock");
    store
        .create_order(&NewOrder::new("cafe", "moon"))
        .expect("free again");
}

#[test]
fn processes_creating_orders_at_once_lose_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    // No database yet: the children race to create and migrate it.
    let db = dir.path().join("fresh/state.db");
    const CHILDREN: usize = 4;
    const EACH: usize = 60;
    let mut children: Vec<Child> = (0..CHILDREN)
        .map(|_| spawn_child("writer", &db, &EACH.to_string()))
        .collect();
    let receivers: Vec<_> = children.iter_mut().map(read_commits).collect();
    for child in children {
        wait_success(child);
    }
    let reported: BTreeSet<Uuid> = receivers
        .iter()
        .flat_map(|r| r.iter())
        .map(|id| Uuid::parse_str(&id).expect("id"))
        .collect();
    assert_eq!(reported.len(), CHILDREN * EACH);
    let store = Store::open(&db).expect("open");
    let stored: BTreeSet<Uuid> = store
        .list_orders(&OrderFilter::all())
        .expect("list")
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(stored, reported);
    assert!(store.integrity_check().expect("check").is_empty());
}

#[test]
fn processes_appending_events_to_one_order_keep_every_event_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("state.db");
    let store = Store::open(&db).expect("open");
    let id = store
        .create_order(&NewOrder::new("cafe", "moon"))
        .expect("create")
        .id;
    const CHILDREN: usize = 3;
    const EACH: usize = 60;
    let arg = format!("{id},{EACH}");
    let children: Vec<Child> = (0..CHILDREN)
        .map(|_| spawn_child("event-writer", &db, &arg))
        .collect();
    let pids: Vec<u32> = children.iter().map(Child::id).collect();
    for child in children {
        wait_success(child);
    }
    let events = store.events_since(id, 0, 10_000).expect("events");
    assert_eq!(events.len(), CHILDREN * EACH);
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    // Each process's events appear in the order it wrote them.
    for pid in pids {
        let ns: Vec<u64> = events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Warning(w) => w.message.split_once(' '),
                _ => None,
            })
            .filter(|(p, _)| *p == pid.to_string())
            .map(|(_, n)| n.parse().expect("n"))
            .collect();
        assert_eq!(ns, (0..EACH as u64).collect::<Vec<_>>(), "pid {pid}");
    }
}

#[test]
fn kill_9_in_the_middle_of_writing_loses_no_commit_and_corrupts_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("state.db");
    let mut committed: BTreeSet<Uuid> = BTreeSet::new();
    let mut interrupted: BTreeSet<Uuid> = BTreeSet::new();
    // Kill after different amounts of work; the database accumulates across rounds, and each
    // round starts by recovering from the previous kill.
    for (round, wait_for) in [1usize, 7, 25, 3, 60, 12].into_iter().enumerate() {
        let mut child = spawn_child("crash-writer", &db, "");
        let commits = read_commits(&mut child);
        let mut seen = 0;
        let deadline = Instant::now() + Duration::from_secs(120);
        while seen < wait_for {
            let id = commits
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the child keeps committing");
            committed.insert(Uuid::parse_str(&id).expect("id"));
            seen += 1;
        }
        // Let it get into the next order's transactions, at a different point each round.
        std::thread::sleep(Duration::from_micros(700 * round as u64));
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("reap");
        assert!(!status.success(), "the child was killed");
        // Commits reported before the kill are still in the pipe.
        committed.extend(commits.iter().map(|id| Uuid::parse_str(&id).expect("id")));

        let store = Store::open(&db).expect("reopens after kill -9");
        assert_eq!(
            store.integrity_check().expect("integrity check"),
            Vec::<String>::new(),
            "round {round}"
        );
        for id in &committed {
            let order = store.order(*id).expect("a reported commit is there");
            assert_eq!(order.status, OrderStatus::Completed);
            assert_eq!(order.cost_usd, 0.01);
            let events = store.events_since(*id, 0, 1000).expect("events");
            assert_eq!(events.len(), EVENTS_PER_ORDER);
            let runs = store.stage_runs(*id).expect("runs");
            assert_eq!(runs.len(), 1);
            assert_eq!(runs[0].output.as_deref(), Some("done"));
        }
        // The order in flight at the kill is whole up to its last commit: every stored order
        // is in a state its writer committed.
        for order in store.list_orders(&OrderFilter::all()).expect("list") {
            let events = store.events_since(order.id, 0, 1000).expect("events");
            if !committed.contains(&order.id) && interrupted.insert(order.id) {
                eprintln!(
                    "round {round}: killed while order {} was {} with {} events",
                    order.short_id(),
                    order.status,
                    events.len()
                );
            }
            match order.status {
                OrderStatus::Created => assert!(events.is_empty()),
                OrderStatus::Running => {
                    assert!(events.len() == 1 || events.len() == EVENTS_PER_ORDER - 1)
                }
                OrderStatus::Completed => assert_eq!(events.len(), EVENTS_PER_ORDER),
                other => panic!("unexpected status {other}"),
            }
        }
    }
    assert!(committed.len() >= 108, "{}", committed.len());
}
