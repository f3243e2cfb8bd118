//! `GET /api/orders/{id}/plan`: the stage graph of an order from its pinned recipe — each
//! stage with the stages it waits for, and the groups that start together (the same groups its
//! `order:started` event carries once it runs); unknown orders are 404.

mod common;

use common::{Home, TestServer, WAIT, cafe, order};
use serde_json::json;

/// A plan, two stages after it side by side, then one after both.
const GRAPH: &str = r#"name: graph
workflow:
  stages: [plan, left, right, join]
plan:
  provider: command
  command: "cat > /dev/null; echo plan"
left:
  provider: command
  command: "cat > /dev/null; echo left"
  depends_on: [plan]
right:
  provider: command
  command: "cat > /dev/null; echo right"
  depends_on: [plan]
  model: m-1
join:
  provider: command
  command: "cat > /dev/null; echo join"
  depends_on: [left, right]
"#;

#[test]
fn the_plan_has_each_stage_its_dependencies_and_the_groups_the_run_starts() {
    let home = Home::new();
    let server = TestServer::start(&home);
    let http = &server.http;
    let work = tempfile::tempdir().expect("work");
    let (_repo, cafe_id) = cafe(http, work.path(), &[("graph", GRAPH)]);
    let id = order(http, &cafe_id, "graph");

    let plan = http.get(&format!("/api/orders/{}/plan", &id[..8]));
    assert_eq!(plan.status, 200, "{}", plan.body);
    let plan = plan.json();
    assert_eq!(plan["orderId"], id.as_str());
    assert_eq!(plan["recipeId"], "graph");
    assert_eq!(plan["pinned"], true);
    let ids: Vec<&str> = plan["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, ["plan", "left", "right", "join"]);
    assert_eq!(plan["stages"][0]["after"], json!([]));
    assert_eq!(plan["stages"][1]["after"], json!(["plan"]));
    assert_eq!(plan["stages"][3]["after"], json!(["left", "right"]));
    assert_eq!(plan["stages"][2]["provider"], "command");
    assert_eq!(plan["stages"][2]["model"], "m-1");
    assert_eq!(plan["stages"][2]["permissions"], "read-only");
    let groups = json!([["plan"], ["left", "right"], ["join"]]);
    assert_eq!(plan["groups"], groups);
    codecafe_test_support::casing::assert_one_casing(&["plan"], &plan.to_string());

    // The run announces the same groups.
    let mut stream = http.events(&format!("/api/orders/{id}/events"), &[]);
    let started = http.json(
        "POST",
        &format!("/api/orders/{id}/execute"),
        Some(&json!({})),
    );
    assert_eq!(started.status, 202, "{}", started.body);
    let events = stream.until("order:completed", WAIT);
    let announced = events
        .iter()
        .find(|e| e.event.as_deref() == Some("order:started"))
        .map(|e| e.json()["payload"]["groups"].clone());
    assert_eq!(announced, Some(groups));

    let missing = http.get("/api/orders/00000000-0000-4000-8000-000000000000/plan");
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert_eq!(missing.json()["error"]["kind"], "not-found");
    assert_eq!(
        http.anonymous()
            .get(&format!("/api/orders/{id}/plan"))
            .status,
        401
    );
}
