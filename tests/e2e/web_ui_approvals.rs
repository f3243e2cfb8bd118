//! The approval panel of the web page in a real browser (headless Chromium, see `web_ui.rs`),
//! with the real `claude` (see `real_agents.rs`): an order stopped at a pending approval — run
//! by the CLI elsewhere — shows what the agent wants to do (the call and a preview of the file);
//! "Approve" in the page continues the order in the server, the same agent session writes the
//! file, and the page follows it to completed.

#[allow(dead_code, reason = "web_ui.rs uses the rest of the driver")]
#[path = "web_ui/webdriver.rs"]
mod webdriver;

#[allow(
    dead_code,
    reason = "each real-agent test binary uses some of the helpers"
)]
#[path = "real_agents/support.rs"]
mod support;

use std::process::Stdio;
use std::time::Duration;

use codecafe_test_support::serve::Served;
use serde_json::json;
use support::{Credentials, User, script, with_signals};
use webdriver::Driver;

const WAIT: Duration = Duration::from_secs(90);

/// Where a failed wait saves its screenshot (as for `web_ui.rs`).
pub fn screenshot_dir() -> std::path::PathBuf {
    codecafe_test_support::target_dir().join("web-screenshots")
}
const RECIPE: &str = "name: ask\nworkflow:\n  stages: [code]\ncode:\n  provider: claude-code\n  permissions: read-only\n  approvals: ask\n";
const PROMPT: &str = "Write the page note PAGE-5";
const CONTENT: &str = "approved in the browser\n";

#[test]
fn an_approval_is_decided_in_the_page_and_the_order_goes_on() {
    webdriver::binaries();
    let write = |matching: &str| {
        support::claude_tool(
            matching,
            "Write",
            json!({"file_path": "${CWD}/page-note.txt", "content": CONTENT}),
        )
    };
    let user = User::new(
        &script(
            &[
                write(PROMPT),
                write("The user approved your tool call"),
                support::claude_text(
                    "File created successfully",
                    &with_signals("Wrote the page note.", "proceed", ""),
                ),
            ],
            &[],
            &[],
        ),
        &[],
        Credentials::Environment,
        &[(".orch/workflows/ask.workflow.yml", RECIPE)],
    );
    let (_, id) = user.run_awaiting(&["run", "--recipe", "ask", PROMPT, "--json"]);

    let mut command = user.cli.command(&user.repo, &["serve", "--port", "0"]);
    user.user_env(&mut command);
    command.stderr(Stdio::null());
    let served = Served::start(command);
    let (login, base) = (&served.login_url, &served.base);

    let driver = Driver::start();
    let page = driver.session(1280, 800, false);
    page.goto(login);
    page.wait_for("#dashboard", WAIT);
    page.goto(&format!("{base}/#/orders/{id}"));
    page.wait_for("#approval-summary", WAIT);
    let summary = page.script(
        "return document.querySelector('#approval-summary').textContent",
        json!([]),
    );
    assert!(
        summary
            .as_str()
            .is_some_and(|s| s.starts_with("Write ") && s.ends_with("page-note.txt")),
        "{summary}"
    );
    let preview = page.script(
        "return document.querySelector('#approval-detail').textContent",
        json!([]),
    );
    assert!(
        preview
            .as_str()
            .is_some_and(|p| p.contains("+approved in the browser")),
        "{preview}"
    );
    assert!(!user.worktree(&id).join("page-note.txt").exists());

    page.click("#approve", WAIT);
    let status = page.wait_until("the order to complete", WAIT, || {
        let status = page.script(
            "const el = document.querySelector('#order-status'); return el ? el.dataset.status : '';",
            json!([]),
        );
        (status == "completed").then_some(status)
    });
    assert_eq!(status, "completed");
    assert_eq!(
        std::fs::read_to_string(user.worktree(&id).join("page-note.txt")).expect("written"),
        CONTENT
    );
    let log = page.page_text();
    assert!(
        log.contains("approved"),
        "the log shows the decision: {log}"
    );
    drop(served);
}
