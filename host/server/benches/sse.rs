//! Load on the local server: 50 SSE clients following 20 orders running at once, and listing
//! 10,000 orders.
//!
//! Run with `cargo bench -p codecafe-server --bench sse`. Prints its figures; asserts nothing
//! about time (only that no event is lost, repeated or reordered).
//!
//! 1. **Streams.** A server in this process; a cafe whose recipe has three `command` stages,
//!    each printing 40 lines (about 130 events per order); `pool.max` and the cafe's
//!    `maxParallelOrders` raised to 32. 20 orders are created, 40 clients follow them two by
//!    two (`/api/orders/{id}/events`) and 10 follow everything (`/api/events`), then all 20
//!    are executed at once. Every client's events of each order must equal that order's stored
//!    log (`/api/orders/{id}/log`): none lost, none repeated, none out of order. Reported: the
//!    wall time, events delivered, delivery latency (receipt minus the event's stored time),
//!    the process's peak RSS (VmHWM) and CPU time (getrusage; the client threads' own CPU time
//!    measured and subtracted).
//! 2. **Listing.** 10,000 orders inserted through the store, then `GET /api/orders` — the
//!    first page of 100 (target ≤ 20 ms) and all 10,000 in one page (target ≤ 100 ms) — timed
//!    over HTTP, medians with min–max.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use codecafe_server::ServerConfig;
use codecafe_service::{Paths, Service, cafes, settings};
use codecafe_store::{NewOrder, Store};
use codecafe_test_support::http::Http;
use codecafe_test_support::{init_repo_with, shared_compile_cache};
use serde_json::json;

const ORDERS: usize = 20;
const ORDER_CLIENTS: usize = 40;
const GLOBAL_CLIENTS: usize = 10;
const LISTED: usize = 10_000;
const WAIT: Duration = Duration::from_secs(300);

fn main() {
    let streams = streams();
    let listing = listing();
    println!();
    println!("{streams}");
    println!("{listing}");
}

fn service(home: &std::path::Path) -> Arc<Service> {
    Arc::new(Service::with_paths(Paths {
        cache: home.join("cache"),
        data: home.to_owned(),
        compiled: shared_compile_cache(),
    }))
}

/// A recipe of three `command` stages printing 40 lines each.
fn chatty_recipe() -> String {
    let stage = |id: &str, after: Option<&str>| {
        let script = format!(
            "cat > /dev/null; for i in $(seq 1 40); do echo {id} line $i; sleep 0.01; done"
        );
        let quoted = serde_json::to_string(&script).unwrap_or_default();
        let depends = after.map_or_else(String::new, |a| format!("  depends_on: [{a}]\n"));
        format!("{id}:\n  provider: command\n  command: {quoted}\n{depends}")
    };
    format!(
        "name: chatty\nworkflow:\n  stages: [one, two, three]\n{}{}{}",
        stage("one", None),
        stage("two", Some("one")),
        stage("three", Some("two"))
    )
}

/// What one client saw: per order, the sequence numbers in the order received; and latencies.
#[derive(Default)]
struct Seen {
    by_order: BTreeMap<String, Vec<i64>>,
    latencies_ms: Vec<f64>,
    cpu: Duration,
}

fn streams() -> String {
    let home = tempfile::tempdir().expect("home");
    let work = tempfile::tempdir().expect("work");
    let service = service(home.path());
    settings::set(&service, "pool.max", "32").expect("pool.max");
    let recipe = chatty_recipe();
    let repo = init_repo_with(
        &work.path().join("shop"),
        "main",
        &[
            ("README.md", "# shop\n"),
            (".orch/workflows/chatty.workflow.yml", &recipe),
        ],
    );
    let config = ServerConfig {
        max_streams: 128,
        ..ServerConfig::default()
    };
    let server = codecafe_server::start(Arc::clone(&service), config).expect("server");
    let http = Http::new(server.port(), Some(server.token()));
    let cafe = http
        .json("POST", "/api/cafes", Some(&json!({"path": repo})))
        .json();
    let cafe_id = cafe["cafe"]["id"].as_str().expect("cafe").to_owned();
    cafes::update(
        &service,
        &cafe_id,
        None,
        &[("maxParallelOrders".into(), "32".into())],
    )
    .expect("maxParallelOrders");
    http.json("POST", &format!("/api/cafes/{cafe_id}/trust"), None);
    let ids: Vec<String> = (0..ORDERS)
        .map(|i| {
            let made = http.json(
                "POST",
                "/api/orders",
                Some(&json!({"cafe": cafe_id, "recipe": "chatty", "prompt": format!("order {i}")})),
            );
            assert_eq!(made.status, 201, "{}", made.body);
            made.json()["order"]["id"].as_str().expect("id").to_owned()
        })
        .collect();

    let before = usage();
    let results: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let mut clients = Vec::new();
    for n in 0..ORDER_CLIENTS + GLOBAL_CLIENTS {
        let http = http.clone();
        let results = Arc::clone(&results);
        let (path, expect_completed) = if n < ORDER_CLIENTS {
            (format!("/api/orders/{}/events", ids[n % ORDERS]), 1)
        } else {
            ("/api/events?after=0".to_owned(), ORDERS)
        };
        clients.push(std::thread::spawn(move || {
            let mut stream = http.events(&path, &[]);
            let mut seen = Seen::default();
            let mut completed = 0;
            while completed < expect_completed {
                let Some(message) = stream.next(WAIT) else {
                    panic!("{path}: the stream stalled after {completed} completed orders");
                };
                let event = message.json();
                if let Some(at) = event["at"]
                    .as_str()
                    .and_then(|a| a.parse::<jiff::Timestamp>().ok())
                {
                    let late = jiff::Timestamp::now().as_millisecond() - at.as_millisecond();
                    seen.latencies_ms.push(late as f64);
                }
                let order = event["orderId"].as_str().unwrap_or_default().to_owned();
                seen.by_order.entry(order).or_default().push(message.seq());
                if message.event.as_deref() == Some("order:completed") {
                    completed += 1;
                }
            }
            seen.cpu = thread_cpu();
            results.lock().expect("results").push(seen);
        }));
    }
    // Every stream is open before the orders start.
    let deadline = Instant::now() + WAIT;
    while http.get("/api/server").json()["streamsOpen"].as_u64()
        < Some((ORDER_CLIENTS + GLOBAL_CLIENTS) as u64)
    {
        assert!(Instant::now() < deadline, "the streams did not open");
        std::thread::sleep(Duration::from_millis(20));
    }
    let running = Instant::now();
    for id in &ids {
        let started = http.json("POST", &format!("/api/orders/{id}/execute"), None);
        assert_eq!(started.status, 202, "{}", started.body);
    }
    for client in clients {
        client.join().expect("a client failed");
    }
    let wall = running.elapsed();
    let after = usage();

    // Every client saw every event of its orders, once, in order: exactly the stored log.
    let logs: BTreeMap<String, Vec<i64>> = ids
        .iter()
        .map(|id| {
            let log = http
                .get(&format!("/api/orders/{id}/log?limit=100000"))
                .json();
            let seqs = log["events"]
                .as_array()
                .expect("events")
                .iter()
                .filter_map(|e| e["seq"].as_i64())
                .collect();
            (id.clone(), seqs)
        })
        .collect();
    let results = results.lock().expect("results");
    let mut delivered = 0;
    let mut latencies = Vec::new();
    let mut client_cpu = Duration::ZERO;
    for seen in results.iter() {
        for (order, seqs) in &seen.by_order {
            let log = logs.get(order).expect("an order of the bench");
            assert_eq!(
                seqs, log,
                "order {order}: lost, repeated or reordered events"
            );
            delivered += seqs.len();
        }
        latencies.extend_from_slice(&seen.latencies_ms);
        client_cpu += seen.cpu;
    }
    let events: usize = logs.values().map(Vec::len).sum();
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let cpu = after.cpu.saturating_sub(before.cpu);
    let server_cpu = cpu.saturating_sub(client_cpu);
    drop(server);
    format!(
        "streams: {ORDERS} orders × ~{} events, {} clients ({ORDER_CLIENTS} per-order, {GLOBAL_CLIENTS} global): \
         all done in {:.2} s; {delivered} events delivered ({:.0}/s), none lost, repeated or reordered\n\
         \x20 delivery latency: median {:.0} ms, p99 {:.0} ms, max {:.0} ms (poll interval 100 ms)\n\
         \x20 process peak RSS (VmHWM): {:.1} MiB; CPU time: {:.2} s in all, {:.2} s of it the clients' threads, \
         so ~{:.2} s for the server (+ the orders' runs in this process)",
        events / ORDERS,
        ORDER_CLIENTS + GLOBAL_CLIENTS,
        wall.as_secs_f64(),
        delivered as f64 / wall.as_secs_f64(),
        percentile(0.5),
        percentile(0.99),
        latencies.last().copied().unwrap_or(0.0),
        after.peak_rss_kib as f64 / 1024.0,
        cpu.as_secs_f64(),
        client_cpu.as_secs_f64(),
        server_cpu.as_secs_f64(),
    )
}

fn listing() -> String {
    let home = tempfile::tempdir().expect("home");
    let service = service(home.path());
    let store = Store::open(service.paths().database()).expect("store");
    let insert = Instant::now();
    for i in 0..LISTED {
        let mut new = NewOrder::new(format!("cafe-{}", i % 5), "moon")
            .prompt(format!(
                "Order {i}: add rate limiting to the public API, with tests and docs"
            ))
            .var("ticket", format!("ABC-{i}"));
        new.branch = Some(format!("orders/{}", &new.id.to_string()[..8]));
        new.base_branch = Some("main".into());
        new.worktree_path = Some(format!("/home/dev/.codecafe/worktrees/{}", new.id).into());
        store.create_order(&new).expect("create");
    }
    let inserted = insert.elapsed();
    drop(store);
    let server = codecafe_server::start(service, ServerConfig::default()).expect("server");
    let http = Http::new(server.port(), Some(server.token()));
    let first = time(&http, "/api/orders?limit=100", 41, 100);
    let all = time(&http, &format!("/api/orders?limit={LISTED}"), 15, LISTED);
    drop(server);
    format!(
        "listing ({LISTED} orders inserted through the store in {:.1} s), GET /api/orders over HTTP:\n\
         \x20 first page of 100: {}\n\x20 all {LISTED}: {}",
        inserted.as_secs_f64(),
        figure(&first, Duration::from_millis(20)),
        figure(&all, Duration::from_millis(100)),
    )
}

/// `runs` timings of `GET path` (the answer read whole, not parsed); its JSON must hold
/// `expect` orders.
fn time(http: &Http, path: &str, runs: usize, expect: usize) -> Vec<Duration> {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let page = http.get(path);
            let took = start.elapsed();
            assert_eq!(page.status, 200, "{}", page.body);
            let got = page.json()["orders"].as_array().map_or(0, Vec::len);
            assert_eq!(got, expect);
            took
        })
        .collect();
    times.sort();
    times
}

fn figure(times: &[Duration], target: Duration) -> String {
    let median = times[times.len() / 2];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "median {:.1} ms (min {:.1} – max {:.1}, {} runs); target ≤ {:.0} ms: {}",
        ms(median),
        ms(times[0]),
        ms(times[times.len() - 1]),
        times.len(),
        ms(target),
        if median <= target { "met" } else { "MISSED" }
    )
}

/// The process's CPU time and peak RSS.
struct Usage {
    cpu: Duration,
    peak_rss_kib: u64,
}

fn usage() -> Usage {
    let peak_rss_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0);
    Usage {
        cpu: rusage(libc::RUSAGE_SELF),
        peak_rss_kib,
    }
}

fn thread_cpu() -> Duration {
    rusage(libc::RUSAGE_THREAD)
}

fn rusage(who: libc::c_int) -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a `rusage` into the pointer it is given, which points at one.
    #[allow(unsafe_code)]
    let usage = unsafe {
        if libc::getrusage(who, usage.as_mut_ptr()) != 0 {
            return Duration::ZERO;
        }
        usage.assume_init()
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}
