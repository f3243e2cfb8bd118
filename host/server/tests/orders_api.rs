//! Orders through the API of a server in this process: the demo recipe run with the `command`
//! provider and followed on its event stream to `order:completed`; the stream resumed with
//! `Last-Event-ID` (and `?after=`) giving exactly the events after it; an order awaiting input
//! answered through the API; listing pages by cursor and offset; wrong states refused with 409.

mod common;

use std::collections::BTreeSet;

use codecafe_service::demo::DEMO_RECIPE;
use common::{Home, TestServer, WAIT, ask_recipe, cafe, order, order_state};
use serde_json::{Value, json};

#[test]
fn the_demo_order_runs_through_the_api_and_its_stream_resumes_exactly() {
    let home = Home::new();
    let server = TestServer::start(&home);
    let http = &server.http;
    let work = tempfile::tempdir().expect("work");
    let (_repo, cafe_id) = cafe(http, work.path(), &[("demo", DEMO_RECIPE)]);
    let id = order(http, &cafe_id, "demo");

    let mut stream = http.events(&format!("/api/orders/{id}/events"), &[]);
    let started = http.json(
        "POST",
        &format!("/api/orders/{id}/execute"),
        Some(&json!({})),
    );
    assert_eq!(started.status, 202, "{}", started.body);
    assert_eq!(started.json()["run"], "running", "{}", started.body);
    let events = stream.until("order:completed", WAIT);
    let kinds: Vec<&str> = events.iter().filter_map(|e| e.event.as_deref()).collect();
    assert_eq!(kinds.first(), Some(&"order:created"), "{kinds:?}");
    for kind in ["order:started", "stage:started", "stage:completed"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let seqs: Vec<i64> = events.iter().map(|e| e.seq()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
    for event in &events {
        let data = event.json();
        assert_eq!(data["seq"].as_i64(), Some(event.seq()), "id is the seq");
        assert_eq!(
            data["kind"].as_str(),
            event.event.as_deref(),
            "event is the kind"
        );
        assert_eq!(data["orderId"], id.as_str());
        codecafe_test_support::casing::assert_one_casing(&["sse"], &event.data);
    }

    // Resumed after the third event: exactly the events after it, by header or by query.
    let third = seqs[2];
    let mut resumed = http.events(
        &format!("/api/orders/{id}/events"),
        &[("Last-Event-ID", &third.to_string())],
    );
    let again: Vec<i64> = resumed
        .until("order:completed", WAIT)
        .iter()
        .map(|e| e.seq())
        .collect();
    assert_eq!(again, seqs[3..].to_vec(), "no loss, no duplicate");
    let mut by_query = http.events(&format!("/api/orders/{id}/events?after={third}"), &[]);
    let again: Vec<i64> = by_query
        .until("order:completed", WAIT)
        .iter()
        .map(|e| e.seq())
        .collect();
    assert_eq!(again, seqs[3..].to_vec());

    // The stored log says the same; the order is completed with its work on its branch.
    let log = http.get(&format!("/api/orders/{id}/log")).json();
    let logged: Vec<i64> = log["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["seq"].as_i64())
        .collect();
    assert_eq!(logged, seqs);
    let details = order_state(http, &id);
    assert_eq!(details["order"]["status"], "completed", "{details}");
    let diff = http.get(&format!("/api/orders/{id}/diff")).json();
    let files: Vec<&str> = diff["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert!(files.contains(&"hello.sh"), "{diff}");

    // A completed order cannot be executed again: 409, the CLI's message.
    let again = http.json(
        "POST",
        &format!("/api/orders/{id}/execute"),
        Some(&json!({})),
    );
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(
        again.json()["error"]["kind"],
        "wrong-status",
        "{}",
        again.body
    );
    assert!(
        again.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("completed")),
        "{}",
        again.body
    );
}

#[test]
fn an_order_awaiting_input_is_answered_through_the_api() {
    let home = Home::new();
    let server = TestServer::start(&home);
    let http = &server.http;
    let work = tempfile::tempdir().expect("work");
    let (_repo, cafe_id) = cafe(http, work.path(), &[("ask", &ask_recipe())]);
    let id = order(http, &cafe_id, "ask");
    let mut stream = http.events(&format!("/api/orders/{id}/events"), &[]);

    // Not awaiting input yet: refused, nothing started.
    let early = http.json(
        "POST",
        &format!("/api/orders/{id}/input"),
        Some(&json!({"answer": "x"})),
    );
    assert_eq!(early.status, 409, "{}", early.body);

    let started = http.json("POST", &format!("/api/orders/{id}/execute"), None);
    assert_eq!(started.status, 202, "{}", started.body);
    let asked = stream.until("order:awaiting-input", WAIT);
    let question = asked.last().expect("the question").json();
    assert_eq!(
        question["payload"]["questions"],
        json!(["Which one?"]),
        "{question}"
    );
    common::wait_for("the order to await input", || {
        order_state(http, &id)["order"]["status"] == "awaiting-input"
    });

    // Bad inputs name their field.
    let both = http.json(
        "POST",
        &format!("/api/orders/{id}/input"),
        Some(&json!({"answer": "a", "budget": 2.0})),
    );
    assert_eq!(both.status, 400);
    assert_eq!(both.json()["error"]["field"], "budget", "{}", both.body);
    let none = http.json("POST", &format!("/api/orders/{id}/input"), Some(&json!({})));
    assert_eq!(none.status, 400);
    assert_eq!(none.json()["error"]["field"], "answer", "{}", none.body);
    // A question is not an approval: approve and deny say what to use, nothing changes.
    for action in ["approve", "deny"] {
        let wrong = http.json(
            "POST",
            &format!("/api/orders/{id}/{action}"),
            Some(&json!({})),
        );
        assert_eq!(wrong.status, 409, "{action}: {}", wrong.body);
        assert!(
            wrong.json()["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("order input")),
            "{action}: {}",
            wrong.body
        );
    }
    let unknown = http.json(
        "POST",
        &format!("/api/orders/{id}/approve"),
        Some(&json!({"always": "yes"})),
    );
    assert_eq!(unknown.status, 400, "{}", unknown.body);

    let answered = http.json(
        "POST",
        &format!("/api/orders/{id}/input"),
        Some(&json!({"answer": "ANSWER-42"})),
    );
    assert!(
        matches!(answered.status, 200 | 202),
        "{} {}",
        answered.status,
        answered.body
    );
    stream.until("order:completed", WAIT);
    let details = order_state(http, &id);
    assert_eq!(details["order"]["status"], "completed");
    assert_eq!(details["questions"][0]["answer"], "ANSWER-42", "{details}");
}

#[test]
fn orders_are_listed_newest_first_by_cursor_and_by_offset() {
    let home = Home::new();
    let server = TestServer::start(&home);
    let http = &server.http;
    let work = tempfile::tempdir().expect("work");
    let (_repo, cafe_id) = cafe(http, work.path(), &[("demo", DEMO_RECIPE)]);
    let made: Vec<String> = (0..5).map(|_| order(http, &cafe_id, "demo")).collect();

    let mut seen = Vec::new();
    let mut path = "/api/orders?limit=2".to_owned();
    for _ in 0..10 {
        let page = http.get(&path);
        assert_eq!(page.status, 200, "{}", page.body);
        let page = page.json();
        assert_eq!(page["total"], 5);
        seen.extend(ids(&page));
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/api/orders?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let newest_first: Vec<String> = made.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first, "every order once, newest first");

    let by_offset = http.get("/api/orders?limit=2&offset=2").json();
    assert_eq!(ids(&by_offset), newest_first[2..4].to_vec());
    let filtered = http
        .get(&format!(
            "/api/orders?cafe={cafe_id}&status=created,running"
        ))
        .json();
    assert_eq!(filtered["total"], 5);
    let none = http.get("/api/orders?status=failed").json();
    assert_eq!(none["orders"], json!([]));
    assert_eq!(none["nextCursor"], Value::Null);

    for (path, field) in [
        ("/api/orders?cursor=nonsense", "cursor"),
        ("/api/orders?status=sleeping", "status"),
        ("/api/orders?limit=0", "limit"),
        ("/api/orders?offset=1&cursor=1.x", "cursor"),
    ] {
        let refused = http.get(path);
        assert_eq!(refused.status, 400, "{path}: {}", refused.body);
        assert_eq!(refused.json()["error"]["field"], field, "{path}");
    }

    // Deleting many: each on its own, one unknown id reported, the others deleted.
    let deleted = http.json(
        "POST",
        "/api/orders/delete",
        Some(&json!({"ids": [made[0], "ffffffff"], "deleteBranch": true})),
    );
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let deleted = deleted.json();
    assert_eq!(
        (deleted["deleted"].as_i64(), deleted["failed"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        deleted["results"][1]["error"]["kind"], "not-found",
        "{deleted}"
    );
    assert_eq!(http.get(&format!("/api/orders/{}", made[0])).status, 404);
    let one = http.send("DELETE", &format!("/api/orders/{}", made[1]), &[], b"");
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(http.get("/api/orders").json()["total"], 3);
}

fn ids(page: &Value) -> Vec<String> {
    page["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .filter_map(|o| o["id"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn cafes_and_their_catalog_are_resources() {
    let home = Home::new();
    let server = TestServer::start(&home);
    let http = &server.http;
    let work = tempfile::tempdir().expect("work");
    let (repo, cafe_id) = cafe(http, work.path(), &[("demo", DEMO_RECIPE)]);

    let again = http.json("POST", "/api/cafes", Some(&json!({"path": repo})));
    assert_eq!(again.status, 200, "registered already: {}", again.body);
    let list = http.get("/api/cafes").json();
    assert_eq!(list["cafes"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        http.get(&format!("/api/cafes/{cafe_id}")).json()["id"],
        cafe_id.as_str()
    );
    let updated = http.json(
        "PATCH",
        &format!("/api/cafes/{cafe_id}"),
        Some(&json!({"settings": {"maxParallelOrders": 3}})),
    );
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.json()["settings"]["maxParallelOrders"], 3);
    let bad = http.json(
        "PATCH",
        &format!("/api/cafes/{cafe_id}"),
        Some(&json!({"settings": {"maxParallelOrders": 0}})),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    let used = http.json(
        "PUT",
        "/api/cafes/last-accessed",
        Some(&json!({"cafe": cafe_id})),
    );
    assert_eq!(used.status, 200, "{}", used.body);
    assert_eq!(
        http.get("/api/cafes/last-accessed").json()["cafe"]["id"],
        cafe_id.as_str()
    );
    assert_eq!(http.get("/api/cafes/nope").status, 404);

    let recipes = http.get(&format!("/api/cafes/{cafe_id}/recipes")).json();
    let ids: BTreeSet<&str> = recipes["recipes"]
        .as_array()
        .expect("recipes")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert!(ids.contains("demo") && ids.contains("moon"), "{ids:?}");
    let demo = http
        .get(&format!("/api/cafes/{cafe_id}/recipes/demo"))
        .json();
    assert_eq!(demo["stages"].as_array().map(Vec::len), Some(2), "{demo}");
    let checked = http.json(
        "POST",
        &format!("/api/cafes/{cafe_id}/recipes/validate"),
        Some(&json!({"ids": ["demo"]})),
    );
    assert_eq!(checked.json()["valid"], true, "{}", checked.body);
    assert_eq!(
        http.get(&format!("/api/cafes/{cafe_id}/recipes/nope"))
            .status,
        404
    );

    let skills = format!("/api/cafes/{cafe_id}/skills");
    let made = http.json(
        "POST",
        &skills,
        Some(
            &json!({"id": "lint-first", "name": "Lint first", "category": "verification",
            "instructions": "Run the linter before anything else."}),
        ),
    );
    assert_eq!(made.status, 201, "{}", made.body);
    let twice = http.json(
        "POST",
        &skills,
        Some(&json!({"id": "lint-first", "name": "x", "category": "verification", "instructions": "x"})),
    );
    assert_eq!(twice.status, 409, "{}", twice.body);
    let bad_category = http.json(
        "POST",
        &skills,
        Some(&json!({"id": "x", "name": "x", "category": "dancing", "instructions": "x"})),
    );
    assert_eq!(bad_category.status, 400, "{}", bad_category.body);
    assert!(
        bad_category.body.contains("category"),
        "{}",
        bad_category.body
    );
    let changed = http.json(
        "PATCH",
        &format!("{skills}/lint-first"),
        Some(&json!({"description": "Lint, then work"})),
    );
    assert_eq!(
        changed.json()["skill"]["description"],
        "Lint, then work",
        "{}",
        changed.body
    );
    let copy = http.json(
        "POST",
        &format!("{skills}/lint-first/duplicate"),
        Some(&json!({"newId": "lint-twice"})),
    );
    assert_eq!(copy.status, 201, "{}", copy.body);
    assert_eq!(
        http.get(&format!("{skills}/lint-twice")).json()["id"],
        "lint-twice"
    );
    assert_eq!(
        http.send("DELETE", &format!("{skills}/lint-twice"), &[], b"")
            .status,
        200
    );
    assert_eq!(http.get(&format!("{skills}/lint-twice")).status, 404);

    let roles = http.get(&format!("/api/cafes/{cafe_id}/roles")).json();
    assert!(
        roles["roles"].as_array().is_some_and(|r| !r.is_empty()),
        "{roles}"
    );
    let coder = http
        .get(&format!("/api/cafes/{cafe_id}/roles/coder"))
        .json();
    assert!(coder["template"].as_str().is_some(), "{coder}");

    let status = http.get("/api/status");
    assert_eq!(status.status, 200, "{}", status.body);
    let set = http.json("PUT", "/api/settings/pool.max", Some(&json!({"value": 12})));
    assert_eq!(set.json()["value"], 12, "{}", set.body);
    assert_eq!(
        http.get("/api/settings").json()["settings"][0]["key"],
        "pool.max"
    );
    let refused = http.json("PUT", "/api/settings/pool.nope", Some(&json!({"value": 2})));
    assert_eq!(refused.status, 400, "{}", refused.body);

    // A cafe with orders is not removed unless told what to do with them.
    order(http, &cafe_id, "demo");
    let kept = http.send("DELETE", &format!("/api/cafes/{cafe_id}"), &[], b"");
    assert_eq!(kept.status, 409, "{}", kept.body);
    let removed = http.send(
        "DELETE",
        &format!("/api/cafes/{cafe_id}?orders=keep"),
        &[],
        b"",
    );
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(removed.json()["keptOrders"], 1);
}
