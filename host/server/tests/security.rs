//! What the local server refuses, and how: no token (401), a wrong Host (421), a foreign
//! Origin (403), an oversized body (413), bad JSON (400 naming the field), unknown routes and
//! methods (JSON 404 / 405), no CORS headers; the login URL sets the cookie, which then works;
//! the token file is private and reused.

mod common;

use common::{Home, TestServer};
use serde_json::json;

#[test]
fn requests_without_the_token_or_from_elsewhere_are_refused() {
    let home = Home::new();
    let server = TestServer::start(&home);
    let http = &server.http;
    let port = http.port();

    let anonymous = http.anonymous().get("/api/orders");
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    let error = &anonymous.json()["error"];
    assert_eq!(error["kind"], "unauthorized");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("Authorization: Bearer")),
        "{error}"
    );
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some("Bearer realm=\"codecafe\"")
    );
    let wrong =
        codecafe_test_support::http::Http::new(port, Some(&"0".repeat(64))).get("/api/orders");
    assert_eq!(wrong.status, 401);

    // DNS rebinding: another name for 127.0.0.1 is refused, even with the token.
    let rebound = http.send(
        "GET",
        "/api/orders",
        &[("Host", &format!("evil.example:{port}"))],
        b"",
    );
    assert_eq!(rebound.status, 421, "{}", rebound.body);
    assert_eq!(rebound.json()["error"]["kind"], "wrong-host");
    let other_port = http.send("GET", "/", &[("Host", "127.0.0.1:1")], b"");
    assert_eq!(other_port.status, 421);
    let localhost = http.send(
        "GET",
        "/api/orders",
        &[("Host", &format!("localhost:{port}"))],
        b"",
    );
    assert_eq!(localhost.status, 200, "{}", localhost.body);

    // Another site's page: refused, even with the token.
    let foreign = http.send(
        "GET",
        "/api/orders",
        &[("Origin", "https://evil.example")],
        b"",
    );
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    assert_eq!(foreign.json()["error"]["kind"], "foreign-origin");
    let own = http.send(
        "GET",
        "/api/orders",
        &[("Origin", &format!("http://127.0.0.1:{port}"))],
        b"",
    );
    assert_eq!(own.status, 200, "{}", own.body);
    for reply in [&anonymous, &foreign, &own] {
        assert!(
            !reply
                .headers
                .iter()
                .any(|(k, _)| k.starts_with("access-control-")),
            "no CORS headers: {:?}",
            reply.headers
        );
    }
    let preflight = http.send(
        "OPTIONS",
        "/api/orders",
        &[("Origin", &format!("http://127.0.0.1:{port}"))],
        b"",
    );
    assert_eq!(preflight.status, 405, "{}", preflight.body);
}

#[test]
fn bodies_that_are_too_large_or_not_the_right_json_are_refused() {
    let home = Home::new();
    let server = TestServer::start(&home);
    let http = &server.http;

    let large = vec![b' '; 2 * 1024 * 1024];
    let too_large = http.send(
        "POST",
        "/api/orders",
        &[("Content-Type", "application/json")],
        &large,
    );
    assert_eq!(too_large.status, 413, "{}", too_large.body);
    assert_eq!(too_large.json()["error"]["kind"], "body-too-large");

    let syntax = http.send(
        "POST",
        "/api/orders",
        &[("Content-Type", "application/json")],
        b"{\"cafe\": ",
    );
    assert_eq!(syntax.status, 400, "{}", syntax.body);
    let wrong_type = http.json("POST", "/api/orders", Some(&json!({"cafe": 5})));
    assert_eq!(wrong_type.status, 400, "{}", wrong_type.body);
    assert!(
        wrong_type.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("cafe")),
        "{}",
        wrong_type.body
    );
    let missing = http.json("POST", "/api/orders", Some(&json!({"recipe": "demo"})));
    assert_eq!(missing.status, 400, "{}", missing.body);
    assert!(
        missing.body.contains("missing field `cafe`"),
        "{}",
        missing.body
    );
    let unknown = http.json(
        "POST",
        "/api/orders",
        Some(&json!({"cafe": "x", "colour": "red"})),
    );
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert!(unknown.body.contains("colour"), "{}", unknown.body);
    let not_json = http.send(
        "POST",
        "/api/orders",
        &[("Content-Type", "text/plain")],
        b"cafe=x",
    );
    assert_eq!(not_json.status, 415, "{}", not_json.body);
    let bad_var = http.json(
        "POST",
        "/api/orders",
        Some(&json!({"cafe": "x", "vars": {"a=b": "c"}})),
    );
    assert_eq!(
        bad_var.json()["error"]["field"],
        "vars.a=b",
        "{}",
        bad_var.body
    );

    let no_route = http.get("/api/nothing-here");
    assert_eq!(no_route.status, 404);
    assert_eq!(no_route.json()["error"]["kind"], "not-found");
    let no_method = http.send("PUT", "/api/orders", &[], b"");
    assert_eq!(no_method.status, 405, "{}", no_method.body);
    let no_order = http.get("/api/orders/0123abcd");
    assert_eq!(no_order.status, 404, "{}", no_order.body);
    assert!(
        no_order.body.contains("codecafe order list"),
        "the CLI's message: {}",
        no_order.body
    );
}

#[test]
fn the_login_url_sets_a_strict_cookie_that_then_authenticates() {
    let home = Home::new();
    let server = TestServer::start(&home);
    let http = &server.http;
    let anonymous = http.anonymous();
    let token = server.server().token().to_owned();

    let page = anonymous.get("/");
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    );
    assert!(page.header("content-security-policy").is_some());
    let script = anonymous.get("/assets/app.js");
    assert_eq!(script.status, 200);

    let login = anonymous.get(&format!("/?token={token}"));
    assert_eq!(login.status, 303, "{}", login.body);
    assert_eq!(login.header("location"), Some("/"));
    let cookie = login.header("set-cookie").expect("a cookie").to_owned();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let pair = cookie.split(';').next().expect("name=value");
    let with_cookie = anonymous.send("GET", "/api/orders", &[("Cookie", pair)], b"");
    assert_eq!(with_cookie.status, 200, "{}", with_cookie.body);
    let bad_login = anonymous.get("/?token=nope");
    assert_eq!(bad_login.status, 401);
    assert!(bad_login.header("set-cookie").is_none());
}

#[test]
fn the_token_file_is_private_and_reused() {
    use std::os::unix::fs::PermissionsExt as _;
    let home = Home::new();
    let mut first = TestServer::start(&home);
    let token = first.server().token().to_owned();
    let file = first.server().token_file().to_owned();
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    let mode = std::fs::metadata(&file)
        .expect("token file")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "{}", file.display());
    first.shutdown();
    let second = TestServer::start(&home);
    assert_eq!(second.server().token(), token, "reused");
    assert!(
        second
            .server()
            .login_url()
            .ends_with(&format!("/?token={token}"))
    );
}
