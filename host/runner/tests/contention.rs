//! Slot contention at the runner level: more orders than terminal slots, run concurrently from
//! threads of two "processes" — two [`Slots`] with different runner ids on one database, as two
//! codecafe processes have — under the machine-wide cap in the store's settings (`pool.max` 2,
//! and a per-provider cap). No more than two agents ever run at once, every order finishes
//! (completed, failed or cancelled), and no slot is leaked afterwards — also when one agent fails
//! and another is cancelled midway.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use codecafe_catalog::OrchDir;
use codecafe_catalog::profile::Profiles;
use codecafe_catalog::recipe::RecipeCatalog;
use codecafe_catalog::role::RoleCatalog;
use codecafe_catalog::skill::SkillCatalog;
use codecafe_plugin_host::registry::Registry;
use codecafe_plugin_host::{HostConfig, PluginHost};
use codecafe_runner::{CancelToken, Catalogs, RunOutcome, Runner, RunnerConfig, Slots};
use codecafe_store::{NewOrder, OrderStatus, Store};
use serde_json::json;

/// Orders run at once.
const ORDERS: usize = 6;
/// Terminal slots.
const CAP: usize = 2;

/// A one-stage recipe whose agent logs `S <order>` when it starts and `E <order>` before it
/// exits (appends of one short line each, so the log is the global order of those moments),
/// sleeping in between. The prompt (on stdin, first line: the user's prompt) names the order;
/// `ZZFAILZZ` in it makes the agent exit 1, `ZZHOLDZZ` makes it sleep long (to be cancelled;
/// it logs its `E` on SIGTERM).
fn recipe(log: &Path) -> String {
    let log = log.display();
    let script = format!(
        "P=$(cat); N=$(printf '%s\\n' \"$P\" | head -n 1); \
         case \"$P\" in *ZZHOLDZZ*) trap 'echo \"E $N\" >> {log}; exit 143' TERM;; esac; \
         echo \"S $N\" >> '{log}'; echo started; \
         case \"$P\" in *ZZHOLDZZ*) sleep 30 & wait $!;; esac; sleep 0.2; \
         echo \"E $N\" >> '{log}'; case \"$P\" in *ZZFAILZZ*) exit 1;; esac; echo done"
    );
    format!(
        "name: one\nworkflow:\n  stages: [work]\nwork:\n  provider: command\n  command: {}\n",
        serde_json::to_string(&script).expect("json")
    )
}

/// The most agents between their `S` and `E` lines at any point of the log (the cancelled
/// agent writes its `E` when it gets SIGTERM — its trap is set before it says it started, which
/// is when the test cancels it; one killed before its `E` would count as running until the end,
/// which only makes the figure larger).
fn peak_overlap(log: &str) -> usize {
    let (mut running, mut peak) = (0usize, 0usize);
    for line in log.lines() {
        if line.starts_with('S') {
            running += 1;
            peak = peak.max(running);
        } else if line.starts_with('E') {
            running = running.saturating_sub(1);
        }
    }
    peak
}

fn catalogs(repo: &Path) -> Catalogs {
    let orch = OrchDir::of_repo(repo);
    Catalogs {
        recipes: RecipeCatalog::load(&orch).expect("recipes"),
        roles: RoleCatalog::load(&orch).expect("roles"),
        skills: SkillCatalog::load(&orch).expect("skills"),
        profiles: Profiles::default(),
    }
}

fn run_one(
    db: &Path,
    repo: &Path,
    registry: &Registry,
    catalogs: &Catalogs,
    slots: &Slots,
    n: usize,
) -> (RunOutcome, OrderStatus) {
    let store = Store::open(db).expect("store");
    let prompt = match n {
        1 => format!("order {n} ZZFAILZZ"),
        2 => format!("order {n} ZZHOLDZZ"),
        _ => format!("order {n}"),
    };
    let order = store
        .create_order(&NewOrder::new("cafe", "test").prompt(prompt))
        .expect("order");
    let token = CancelToken::new();
    let runner = Runner::new(
        &store,
        registry,
        slots,
        catalogs,
        repo.to_path_buf(),
        String::new(),
        RunnerConfig {
            lease_timeout: Duration::from_secs(120),
            ..RunnerConfig::default()
        },
    )
    .with_control(token.clone());
    let outcome = runner
        .run(order.id, None, &mut |event| {
            // The held agent is cancelled once it has printed its first line.
            if n == 2 && event.kind() == "order:output" {
                token.cancel();
            }
        })
        .expect("run");
    let status = store.order(order.id).expect("order").status;
    (outcome, status)
}

#[test]
fn more_orders_than_slots_never_overlap_beyond_the_cap_and_leak_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo: PathBuf = codecafe_test_support::init_repo(&dir.path().join("repo"), "main");
    let log = dir.path().join("agents.log");
    let orch = OrchDir::of_repo(&repo);
    std::fs::create_dir_all(orch.workflows()).expect("workflows dir");
    std::fs::write(orch.recipe_file("test"), recipe(&log)).expect("recipe");
    let host = PluginHost::new(HostConfig {
        cache_dir: Some(codecafe_test_support::shared_compile_cache()),
        ..HostConfig::default()
    })
    .expect("plugin host");
    let registry = Registry::discover(&host, codecafe_builtins::sources());
    let catalogs = catalogs(&repo);
    let db = dir.path().join("db.sqlite");
    let store = Store::open(&db).expect("store");
    store
        .set_setting("pool.max", &json!(CAP))
        .expect("machine-wide cap");
    store
        .set_setting("pool.provider.command", &json!(CAP))
        .expect("provider cap");
    let processes = [
        Slots::new(Store::open(&db).expect("store"), "process-a").expect("slots"),
        Slots::new(Store::open(&db).expect("store"), "process-b").expect("slots"),
    ];

    let results: Vec<(RunOutcome, OrderStatus)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..ORDERS)
            .map(|n| {
                let (db, repo, registry, catalogs, slots) =
                    (&db, &repo, &registry, &catalogs, &processes[n % 2]);
                scope.spawn(move || run_one(db, repo, registry, catalogs, slots, n))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("order thread"))
            .collect()
    });

    for (n, (outcome, status)) in results.iter().enumerate() {
        match n {
            1 => {
                assert!(
                    matches!(outcome, RunOutcome::Failed { .. }),
                    "{n}: {outcome:?}"
                );
                assert_eq!(*status, OrderStatus::Failed, "{n}");
            }
            2 => {
                assert_eq!(*outcome, RunOutcome::Cancelled, "{n}");
                assert_eq!(*status, OrderStatus::Cancelled, "{n}");
            }
            _ => {
                assert_eq!(
                    *outcome,
                    RunOutcome::Completed {
                        failed_stages: vec![]
                    },
                    "{n}"
                );
                assert_eq!(*status, OrderStatus::Completed, "{n}");
            }
        }
    }
    let log = std::fs::read_to_string(&log).expect("log");
    assert_eq!(
        log.lines().filter(|l| l.starts_with('S')).count(),
        ORDERS,
        "every agent started exactly once:\n{log}"
    );
    let peak = peak_overlap(&log);
    assert!(
        (1..=CAP).contains(&peak),
        "{peak} agents ran at once:\n{log}"
    );
    assert!(store.slots().expect("slots").is_empty(), "a slot leaked");
    assert_eq!(store.slot_queue_len().expect("queue"), 0, "a ticket leaked");
}

#[test]
fn a_returned_slot_goes_to_the_waiting_stage_at_once_not_after_its_pause() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db.sqlite");
    let store = Store::open(&db).expect("store");
    store
        .set_setting("pool.max", &serde_json::json!(1))
        .expect("cap");
    let slots = Slots::new(store, "process-a").expect("slots");
    let order = uuid::Uuid::new_v4();
    let held = slots
        .acquire("command", order, "one", Duration::from_secs(10), &|| false)
        .expect("first slot");
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| {
            let slot = slots
                .acquire("command", order, "two", Duration::from_secs(10), &|| false)
                .expect("second slot");
            (Instant::now(), slot)
        });
        // Long enough for the waiter's pause between asks to reach its longest.
        std::thread::sleep(Duration::from_millis(800));
        let returned = Instant::now();
        drop(held);
        let (granted, slot) = waiter.join().expect("waiter");
        let after = granted.duration_since(returned);
        assert!(
            after < codecafe_runner::slots::POLL_MAX,
            "granted {after:?} after the return"
        );
        drop(slot);
    });
}
