//! Event streams under pressure: a stream that falls behind the live events (a buffer far
//! smaller than the burst) reads what it missed from the store and loses nothing; the most
//! streams a server serves is a limit (503 beyond it); a bad `Last-Event-ID` is refused.

mod common;

use codecafe_server::ServerConfig;
use common::{Home, TestServer, WAIT, cafe, command_recipe, order};
use serde_json::json;

#[test]
fn a_stream_that_falls_behind_reads_what_it_missed_from_the_store() {
    let home = Home::new();
    let config = ServerConfig {
        stream_buffer: 16,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(&home, config);
    let http = &server.http;
    let work = tempfile::tempdir().expect("work");
    let burst = command_recipe("burst", "cat > /dev/null; seq 1 300");
    let (_repo, cafe_id) = cafe(http, work.path(), &[("burst", &burst)]);
    let id = order(http, &cafe_id, "burst");
    let mut global = http.events("/api/events", &[]);
    let mut one = http.events(&format!("/api/orders/{id}/events"), &[]);
    let started = http.json(
        "POST",
        &format!("/api/orders/{id}/execute"),
        Some(&json!({})),
    );
    assert_eq!(started.status, 202, "{}", started.body);

    let log = || -> Vec<i64> {
        http.get(&format!("/api/orders/{id}/log?limit=100000"))
            .json()["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["seq"].as_i64())
            .collect()
    };
    let from_one: Vec<i64> = one
        .until("order:completed", WAIT)
        .iter()
        .map(|e| e.seq())
        .collect();
    let stored = log();
    assert!(
        stored.len() > 64,
        "a burst far beyond the buffer: {} events",
        stored.len()
    );
    assert_eq!(
        from_one, stored,
        "the order's stream: nothing lost or repeated"
    );
    // The global stream started after `order:created` was stored.
    let from_global: Vec<i64> = global
        .until("order:completed", WAIT)
        .iter()
        .map(|e| e.seq())
        .collect();
    assert_eq!(from_global[..], stored[stored.len() - from_global.len()..]);
    assert!(
        from_global.len() + 1 >= stored.len(),
        "{} of {}",
        from_global.len(),
        stored.len()
    );
}

#[test]
fn the_number_of_open_streams_is_bounded() {
    let home = Home::new();
    let config = ServerConfig {
        max_streams: 2,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(&home, config);
    let http = &server.http;
    let first = http.events("/api/events", &[]);
    let _second = http.events("/api/events", &[]);
    let third = http.get("/api/events");
    assert_eq!(third.status, 503, "{}", third.body);
    assert_eq!(third.json()["error"]["kind"], "busy");
    drop(first);
    common::wait_for("a closed stream to free its place", || {
        http.get("/api/server").json()["streamsOpen"] == 1
    });
    let _again = http.events("/api/events", &[]);

    let bad = http.send("GET", "/api/events", &[("Last-Event-ID", "yesterday")], b"");
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.json()["error"]["field"], "Last-Event-ID");
    let unknown = http.get("/api/orders/abcdef12/events");
    assert_eq!(unknown.status, 404, "{}", unknown.body);
}
