//! Listing 10,000 orders (target: at most 30 ms for all of them).
//!
//! Run with `cargo bench -p codecafe-store`. Inserts 10,000 realistic orders into a fresh
//! on-disk database (WAL, as codecafe uses it), then times listing all of them, the first page
//! of 50, filtered listings and prefix lookups, and prints the median of several runs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use codecafe_engine::{OrderAction, OrderStatus};
use codecafe_store::{NewOrder, OrderFilter, Store};

const ORDERS: usize = 10_000;
const TARGET_ALL: Duration = Duration::from_millis(30);

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.db");
    let store = Store::open(&path).expect("open");

    let start = Instant::now();
    let mut ids = Vec::with_capacity(ORDERS);
    for i in 0..ORDERS {
        let mut new = NewOrder::new(format!("cafe-{}", i % 5), "moon")
            .prompt(format!(
                "Order {i}: add rate limiting to the public API, with tests, and document the \
                 new settings in the README; keep the existing behaviour for internal callers"
            ))
            .var("ticket", format!("ABC-{i}"))
            .var("priority", i % 3);
        new.branch = Some(format!("orders/{}", &new.id.to_string()[..8]));
        new.base_branch = Some("main".into());
        new.worktree_path = Some(format!("/home/dev/.codecafe/worktrees/{}", new.id).into());
        let order = store.create_order(&new).expect("create");
        if i % 4 == 0 {
            store
                .update_status(order.id, OrderAction::Start)
                .expect("start");
        }
        ids.push(order.id);
    }
    let insert = start.elapsed();
    println!(
        "insert {ORDERS} orders (one transaction each, plus {} status changes): {:.0} ms \
         ({:.0} µs per write)",
        ORDERS / 4,
        ms(insert),
        insert.as_secs_f64() * 1e6 / (ORDERS + ORDERS / 4) as f64
    );
    drop(store);

    // A fresh connection, as a new `codecafe order list` process would have.
    let start = Instant::now();
    let store = Store::open(&path).expect("reopen");
    let open = start.elapsed();
    let start = Instant::now();
    let first = store.list_orders(&OrderFilter::all()).expect("list");
    let first_list = start.elapsed();
    assert_eq!(first.len(), ORDERS);
    println!(
        "open an existing database: {:.2} ms; first list of all {ORDERS} on a new connection: \
         {:.2} ms",
        ms(open),
        ms(first_list)
    );

    let all = median(21, || {
        store.list_orders(&OrderFilter::all()).expect("list").len()
    });
    let page = median(201, || {
        store
            .list_orders(&OrderFilter::all().limit(50))
            .expect("page")
            .len()
    });
    let last_page = median(201, || {
        store
            .list_orders(&OrderFilter::all().limit(50).offset(ORDERS - 50))
            .expect("page")
            .len()
    });
    let by_cafe = median(21, || {
        store
            .list_orders(&OrderFilter::all().cafe("cafe-3"))
            .expect("cafe")
            .len()
    });
    let by_status = median(21, || {
        store
            .list_orders(&OrderFilter::all().status(OrderStatus::Running))
            .expect("status")
            .len()
    });
    let cafe_page = median(201, || {
        store
            .list_orders(&OrderFilter::all().cafe("cafe-3").limit(50))
            .expect("cafe page")
            .len()
    });
    let count = median(201, || {
        store.count_orders(&OrderFilter::all()).expect("count")
    });
    let mut n = 0;
    let prefix = median(201, || {
        n = (n + 7919) % ORDERS;
        let short = ids[n].to_string()[..8].to_owned();
        store.find_order(&short).map(|o| o.attempt).unwrap_or(0) as usize
    });

    println!("median of repeated runs:");
    println!("  list all {ORDERS} orders:            {:8.3} ms", ms(all));
    println!("  first page of 50:                  {:8.3} ms", ms(page));
    println!(
        "  last page of 50 (offset 9950):     {:8.3} ms",
        ms(last_page)
    );
    println!(
        "  one cafe's orders (2,000):         {:8.3} ms",
        ms(by_cafe)
    );
    println!(
        "  running orders (2,500):            {:8.3} ms",
        ms(by_status)
    );
    println!(
        "  one cafe, first page of 50:        {:8.3} ms",
        ms(cafe_page)
    );
    println!("  count all:                         {:8.3} ms", ms(count));
    println!("  find by 8-character prefix:        {:8.3} ms", ms(prefix));
    println!(
        "target: list all {ORDERS} in at most {} ms: {}",
        TARGET_ALL.as_millis(),
        if all <= TARGET_ALL { "met" } else { "MISSED" }
    );
}

/// The median duration of `runs` calls of `f` (after one warm-up call).
fn median(runs: usize, mut f: impl FnMut() -> usize) -> Duration {
    black_box(f());
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
