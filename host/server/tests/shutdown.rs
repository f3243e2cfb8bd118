//! Stopping the server while it runs an order: the run is stopped as SIGTERM stops a CLI run —
//! its agent gone, the order left `running` (not failed) with an `order:interrupted` event that
//! the open streams still get — and a new server resumes it to completion. The streams end.
//! Cancelling through the API stops an order the server runs, for good.

mod common;

use common::{Home, TestServer, WAIT, cafe, order, order_state, wait_recipe};
use serde_json::json;

#[test]
fn stopping_the_server_leaves_its_running_order_resumable() {
    let home = Home::new();
    let work = tempfile::tempdir().expect("work");
    let flag = work.path().join("go");
    let mut server = TestServer::start(&home);
    let http = server.http.clone();
    let (_repo, cafe_id) = cafe(&http, work.path(), &[("wait", &wait_recipe(&flag))]);
    let id = order(&http, &cafe_id, "wait");
    let mut stream = http.events(&format!("/api/orders/{id}/events"), &[]);
    let mut global = http.events("/api/events", &[]);
    let started = http.json(
        "POST",
        &format!("/api/orders/{id}/execute"),
        Some(&json!({})),
    );
    assert_eq!(started.status, 202, "{}", started.body);
    stream.until("order:output", WAIT);
    assert_eq!(http.get("/api/server").json()["runsActive"], 1);

    let report = server.shutdown();
    assert_eq!(report.interrupted, vec![id[..8].to_owned()], "{report:?}");
    assert!(report.still_running.is_empty(), "{report:?}");
    // The streams get the last events, then end.
    let rest = stream.until("order:interrupted", WAIT);
    assert!(!rest.is_empty());
    assert!(
        stream.next(WAIT).is_none(),
        "the stream ends with the server"
    );
    global.until("order:interrupted", WAIT);

    let server = TestServer::start(&home);
    let http = server.http.clone();
    let order = order_state(&http, &id);
    assert_eq!(
        order["order"]["status"], "running",
        "resumable, not failed: {order}"
    );
    assert_eq!(
        order["order"]["runner"],
        serde_json::Value::Null,
        "the claim was released"
    );
    let mut stream = http.events(&format!("/api/orders/{id}/events"), &[]);
    let resumed = http.json("POST", &format!("/api/orders/{id}/resume"), None);
    assert_eq!(resumed.status, 202, "{}", resumed.body);
    std::fs::write(&flag, "").expect("flag");
    stream.until("order:completed", WAIT);
    assert_eq!(order_state(&http, &id)["order"]["status"], "completed");
}

#[test]
fn cancelling_through_the_api_stops_an_order_the_server_runs() {
    let home = Home::new();
    let work = tempfile::tempdir().expect("work");
    let flag = work.path().join("never");
    let server = TestServer::start(&home);
    let http = server.http.clone();
    let (_repo, cafe_id) = cafe(&http, work.path(), &[("wait", &wait_recipe(&flag))]);
    let id = order(&http, &cafe_id, "wait");
    let mut stream = http.events(&format!("/api/orders/{id}/events"), &[]);
    let started = http.json("POST", &format!("/api/orders/{id}/execute"), None);
    assert_eq!(started.status, 202, "{}", started.body);
    stream.until("order:output", WAIT);
    let cancelled = http.json("POST", &format!("/api/orders/{id}/cancel"), None);
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(
        cancelled.json()["order"]["status"],
        "cancelled",
        "{}",
        cancelled.body
    );
    stream.until("order:cancelled", WAIT);
    let again = http.json("POST", &format!("/api/orders/{id}/cancel"), None);
    assert_eq!(again.status, 409, "{}", again.body);
    common::wait_for("the run to end", || {
        http.get("/api/server").json()["runsActive"] == 0
    });
}
