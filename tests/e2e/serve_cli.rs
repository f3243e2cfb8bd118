//! End to end through the `codecafe` binary: `codecafe serve --port 0` prints its URL and
//! port; an order run by the CLI in another process shows up live on the server's global event
//! stream; the demo recipe runs through the API; SIGTERM stops the server cleanly.

use std::time::{Duration, Instant};

use codecafe_service::demo::DEMO_RECIPE;
use codecafe_test_support::serve::Served;
use codecafe_test_support::{Codecafe, init_repo_with, text};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(90);

fn serve(cli: &Codecafe, cwd: &std::path::Path) -> Served {
    let served = Served::start(cli.command(cwd, &["serve", "--port", "0"]));
    let port = served.port();
    assert!(port > 0);
    assert!(
        served.printed.contains(&format!("(port {port})")),
        "{}",
        served.printed
    );
    served
}

#[test]
fn serve_streams_an_order_run_by_the_cli_elsewhere_and_stops_on_sigterm() {
    let cli = Codecafe::new(env!("CARGO_BIN_EXE_codecafe")).non_interactive();
    let work = tempfile::tempdir().expect("work");
    let repo = init_repo_with(
        &work.path().join("shop"),
        "main",
        &[
            ("README.md", "# shop\n"),
            (".orch/workflows/demo.workflow.yml", DEMO_RECIPE),
        ],
    );
    cli.ok(&repo, &["init"]);
    let mut served = serve(&cli, &repo);
    let http = served.http.clone();
    assert!(
        served.login_url.starts_with("http://127.0.0.1:"),
        "{}",
        served.login_url
    );
    assert_eq!(http.anonymous().get("/api/orders").status, 401);

    // An order run by the CLI in another process appears on the global stream, live.
    let mut global = http.events("/api/events", &[]);
    let run = cli.run(&repo, &["run", "--recipe", "demo", "--json", "hello"]);
    assert!(
        run.status.success(),
        "{}{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    let printed: Vec<serde_json::Value> = text(&run.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let streamed = global.until("order:completed", WAIT);
    let streamed_seqs: Vec<i64> = streamed.iter().map(|e| e.seq()).collect();
    let printed_seqs: Vec<i64> = printed.iter().filter_map(|e| e["seq"].as_i64()).collect();
    let streamed_kinds: Vec<_> = streamed.iter().filter_map(|e| e.event.clone()).collect();
    let printed_kinds: Vec<_> = printed.iter().filter_map(|e| e["kind"].as_str()).collect();
    // The stream has the order's `order:created` too, which `run` does not print.
    assert_eq!(
        streamed_kinds.first().map(String::as_str),
        Some("order:created")
    );
    assert_eq!(
        streamed_seqs[1..],
        printed_seqs[..],
        "the stream carries the CLI's events, in order: {streamed_kinds:?} {printed_kinds:?}"
    );
    assert!(streamed.len() >= 5, "{streamed:?}");

    // The demo through the API of the binary.
    let cafes = http.get("/api/cafes").json();
    let cafe = cafes["cafes"][0]["id"].as_str().expect("cafe").to_owned();
    let created = http.json(
        "POST",
        "/api/orders/run",
        Some(&json!({"cafe": cafe, "recipe": "demo", "prompt": "again"})),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["order"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let mut stream = http.events(&format!("/api/orders/{id}/events"), &[]);
    stream.until("order:completed", WAIT);

    // SIGTERM: a clean stop, exit 0.
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(killed.success());
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = served.child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "codecafe serve did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut served.stdout, &mut rest);
    assert!(status.success(), "{status:?} {rest}");
    assert!(rest.contains("stopped"), "{rest}");
}
