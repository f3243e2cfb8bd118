//! The web page of `codecafe serve` in a real browser (headless Chromium through chromedriver,
//! [`webdriver`]): a browser without the cookie is shown how to log in and its API calls are
//! refused; the printed URL logs it in; an order made and run from the page's form shows its
//! stage graph (groups side by side, dependency lines) updating live, its escaped agent output,
//! its question, answered from the page; a second browser (phone-sized) follows the same order
//! and the dashboard live; the order completes and its diff is shown. Screenshots at 1280×800
//! and 390×844 are saved under `target/web-screenshots/` (test artifacts, not committed).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`bash tests/install-deps.sh`); without
//! them the test fails saying so.

#[path = "web_ui/webdriver.rs"]
mod webdriver;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use codecafe_test_support::serve::Served;
use codecafe_test_support::{Codecafe, init_repo_with, target_dir};
use serde_json::json;
use webdriver::{Driver, Session};

/// How long one step may take (an order's stages included).
const WAIT: Duration = Duration::from_secs(90);

/// Where the screenshots go.
pub fn screenshot_dir() -> PathBuf {
    target_dir().join("web-screenshots")
}

/// A stage running `script` with the `command` provider, waiting for `after`.
fn stage(id: &str, script: &str, after: &[&str]) -> String {
    let quoted = serde_json::to_string(script).expect("a JSON string is a YAML string");
    let depends = if after.is_empty() {
        String::new()
    } else {
        format!("  depends_on: [{}]\n", after.join(", "))
    };
    format!("{id}:\n  provider: command\n  command: {quoted}\n{depends}")
}

/// A plan, two stages side by side after it (slow enough to be seen running), then a stage
/// that asks which colour unless its prompt holds the answer `blue`.
fn graph_recipe() -> String {
    format!(
        "name: fence\ndescription: Plan, paint both sides at once, then ask.\nworkflow:\n  stages: [plan, left, right, ask]\n{}{}{}{}",
        stage(
            "plan",
            "cat > /dev/null; echo planning the fence; echo '<b>not bold</b> <img src=x>'",
            &[],
        ),
        stage(
            "left",
            "cat > /dev/null; sleep 3; echo left > left.txt; echo painted the left side",
            &["plan"],
        ),
        stage(
            "right",
            "cat > /dev/null; sleep 3; echo right > right.txt; echo painted the right side",
            &["plan"],
        ),
        stage(
            "ask",
            "p=$(cat); case \"$p\" in *blue*) echo blue > fence.txt; echo painted the fence blue;; *) printf '%s\\n' 'which colour?' '```yaml' 'signals:' '  nextAction: await_user' '  questions: [Which colour?]' '```';; esac",
            &["left", "right"],
        ),
    )
}

fn serve(cli: &Codecafe, cwd: &std::path::Path) -> Served {
    Served::start(cli.command(cwd, &["serve", "--port", "0"]))
}

/// The `data-state` of stage `id`'s card, as the page shows it now.
fn stage_state(page: &Session<'_>, id: &str) -> String {
    page.script(
        "const card = document.querySelector(`.stage[data-stage='${arguments[0]}']`); \
         return card ? card.dataset.state : '';",
        json!([id]),
    )
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// The order status the page shows.
fn order_status(page: &Session<'_>) -> String {
    page.script(
        "const el = document.querySelector('#order-status'); return el ? el.dataset.status : '';",
        json!([]),
    )
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// Saves a screenshot named `name`, checking it has the viewport's size.
fn shoot(page: &Session<'_>, name: &str, size: (u32, u32)) {
    page.script("window.scrollTo(0, 0)", json!([]));
    let path = screenshot_dir().join(format!("{name}-{}x{}.png", size.0, size.1));
    assert_eq!(page.screenshot(&path), size, "{}", path.display());
}

/// The page is no wider than the viewport (nothing to scroll sideways).
fn fits_width(page: &Session<'_>) {
    let widths = page.script(
        "return [document.documentElement.scrollWidth, window.innerWidth]",
        json!([]),
    );
    assert!(
        widths[0].as_i64() <= widths[1].as_i64(),
        "the page is wider than the screen: {widths}"
    );
}

#[test]
fn the_page_runs_an_order_live_in_two_browsers() {
    let started = Instant::now();
    // First of all: without a browser this test fails, saying what to install.
    webdriver::binaries();
    // Screenshots of an earlier failure would mislead.
    for entry in std::fs::read_dir(screenshot_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        if entry.file_name().to_string_lossy().starts_with("failed-") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let cli = Codecafe::new(env!("CARGO_BIN_EXE_codecafe")).non_interactive();
    let work = tempfile::tempdir().expect("work");
    let recipe = graph_recipe();
    let repo = init_repo_with(
        &work.path().join("fence"),
        "main",
        &[
            ("README.md", "# fence\n"),
            (".orch/workflows/fence.workflow.yml", &recipe),
        ],
    );
    cli.ok(&repo, &["init"]);
    let served = serve(&cli, &repo);
    let base = served.base.clone();
    let driver = Driver::start();
    const DESKTOP: (u32, u32) = (1280, 800);
    const PHONE: (u32, u32) = (390, 844);
    let desktop = driver.session(DESKTOP.0, DESKTOP.1, false);

    // Without the cookie: the page says how to log in, and the API refuses it.
    desktop.goto(&format!("{base}/"));
    desktop.wait_for("#login-needed", WAIT);
    let text = desktop.page_text();
    assert!(
        text.contains("Open the URL printed by codecafe serve"),
        "{text}"
    );
    let refused = desktop.script("return fetch('/api/orders').then(r => r.status)", json!([]));
    assert_eq!(refused, 401);
    assert_eq!(served.http.anonymous().get("/api/orders").status, 401);
    shoot(&desktop, "login-needed", DESKTOP);

    // The printed URL logs in: the cookie is set (not readable by scripts), the token leaves
    // the address bar, the dashboard lists the cafe.
    desktop.goto(&served.login_url);
    desktop.wait_for("#dashboard #cafes li[data-cafe-id]", WAIT);
    let url = desktop.url();
    assert!(!url.contains("token"), "{url}");
    assert_eq!(desktop.script("return document.cookie", json!([])), "");
    let agents = desktop.wait_until("the live indicator", WAIT, || {
        let state = desktop.script(
            "return document.querySelector('#live').dataset.state",
            json!([]),
        );
        (state == "live").then_some(state)
    });
    assert_eq!(agents, "live");

    // A new order from the form: cafe, recipe, prompt, "Create and run".
    desktop.click("a.button[href='#/new']", WAIT);
    desktop.click("#no-recipe option[value='fence']", WAIT);
    desktop.type_into("#no-prompt", "Paint the fence", WAIT);
    let info = desktop.wait_until("the recipe's stages", WAIT, || {
        let text = desktop.script(
            "return document.querySelector('#no-recipe-info').textContent",
            json!([]),
        );
        text.as_str()
            .filter(|t| t.contains("plan → left → right → ask"))
            .map(str::to_owned)
    });
    assert!(info.contains("Plan, paint both sides"), "{info}");
    shoot(&desktop, "new-order", DESKTOP);
    desktop.click("#no-run", WAIT);
    let id = desktop.wait_until("the order page", WAIT, || {
        let id = desktop.script(
            "const v = document.querySelector('#order-view'); return v && v.dataset.orderId.length === 36 ? v.dataset.orderId : null",
            json!([]),
        );
        id.as_str().map(str::to_owned)
    });
    assert!(desktop.url().contains(&format!("#/orders/{id}")));

    // The stage graph: three rows, `left` and `right` side by side under `plan`, a line for
    // each dependency; states change live.
    let layout = desktop.wait_until("the stage graph", WAIT, || {
        let layout = desktop.script(
            "const r = (s) => { const c = document.querySelector(`.stage[data-stage='${s}']`); \
             if (!c) return null; const b = c.getBoundingClientRect(); return [b.left, b.top]; }; \
             return { groups: document.querySelectorAll('#graph .group').length, \
                      plan: r('plan'), left: r('left'), right: r('right'), ask: r('ask'), \
                      edges: [...document.querySelectorAll('#graph path.edge')].map(p => p.dataset.from + '>' + p.dataset.to).sort() };",
            json!([]),
        );
        (layout["edges"].as_array().map_or(0, Vec::len) == 4).then_some(layout)
    });
    assert_eq!(layout["groups"], 3, "{layout}");
    assert_eq!(
        layout["edges"],
        json!(["left>ask", "plan>left", "plan>right", "right>ask"])
    );
    let top = |s: &str| layout[s][1].as_f64().unwrap_or(f64::NAN);
    let left_of = |s: &str| layout[s][0].as_f64().unwrap_or(f64::NAN);
    assert!(
        (top("left") - top("right")).abs() < 2.0,
        "side by side: {layout}"
    );
    assert!(left_of("left") < left_of("right"), "{layout}");
    assert!(
        top("plan") < top("left") && top("left") < top("ask"),
        "{layout}"
    );
    let running = desktop.wait_until("`left` or `right` running", WAIT, || {
        ["left", "right"]
            .into_iter()
            .find(|s| stage_state(&desktop, s) == "running")
    });
    assert_eq!(stage_state(&desktop, "plan"), "completed");
    shoot(&desktop, "order-running", DESKTOP);
    // The order's details may be read a little ahead of its stream: wait for both to agree.
    desktop.wait_until(&format!("the question (after {running} ran)"), WAIT, || {
        (order_status(&desktop) == "awaiting-input"
            && stage_state(&desktop, "ask") == "awaiting-input"
            && ["plan", "left", "right"]
                .iter()
                .all(|s| stage_state(&desktop, s) == "completed"))
        .then_some(())
    });
    let question = desktop.wait_for("#question .question", WAIT);
    let asked = desktop
        .command("GET", &format!("element/{question}/text"), json!(null))
        .unwrap_or_default();
    assert_eq!(asked, "Which colour?");

    // Agent output is text: the markup a stage printed is shown, not made into elements.
    let escaped = desktop.script(
        "const texts = [...document.querySelectorAll(\"#log .ev[data-stage='plan'] .ev-text\")].map(e => e.textContent); \
         return { shown: texts.some(t => t.includes('<b>not bold</b> <img src=x>')), \
                  elements: document.querySelectorAll('#log b, #log img').length };",
        json!([]),
    );
    assert_eq!(escaped, json!({"shown": true, "elements": 0}));
    shoot(&desktop, "order-awaiting", DESKTOP);

    // A second browser, phone-sized, logs in and follows the same order.
    let phone = driver.session(PHONE.0, PHONE.1, true);
    phone.goto(&served.login_url);
    phone.wait_for("#dashboard", WAIT);
    phone.goto(&format!("{base}/#/orders/{id}"));
    phone.wait_until("the question on the phone", WAIT, || {
        (order_status(&phone) == "awaiting-input"
            && stage_state(&phone, "ask") == "awaiting-input"
            && phone.find("#question .question").is_some())
        .then_some(())
    });
    assert_eq!(stage_state(&phone, "left"), "completed");
    fits_width(&phone);
    shoot(&phone, "order-awaiting", PHONE);
    phone.goto(&format!("{base}/#/"));
    let row = format!("#orders-table tr[data-order-id='{id}']");
    phone.wait_for(&format!("{row}[data-status='awaiting-input']"), WAIT);
    fits_width(&phone);
    shoot(&phone, "dashboard-awaiting", PHONE);

    // The answer, from the page: the asking stage runs again and the order completes — in
    // both browsers, the phone's dashboard live.
    desktop.type_into("#answer", "blue", WAIT);
    desktop.click("#answer-send", WAIT);
    desktop.wait_until("the order to complete", WAIT, || {
        (order_status(&desktop) == "completed" && stage_state(&desktop, "ask") == "completed")
            .then_some(())
    });
    phone.wait_for(&format!("{row}[data-status='completed']"), WAIT);
    let log = desktop.wait_until("the answer's effect in the log", WAIT, || {
        let text = desktop.script(
            "return document.querySelector('#log').textContent",
            json!([]),
        );
        text.as_str()
            .filter(|t| t.contains("painted the fence blue"))
            .map(str::to_owned)
    });
    assert!(log.contains("painted the left side"), "{log}");
    assert!(desktop.find("#question").is_none(), "the question is gone");

    // The diff of the branch: the files the stages wrote.
    desktop.wait_for("#diff-files li[data-path='fence.txt']", WAIT);
    let patch = desktop.script(
        "return document.querySelector('#diff').textContent",
        json!([]),
    );
    assert!(
        patch.as_str().is_some_and(|p| p.contains("+blue")),
        "{patch}"
    );
    assert!(
        desktop
            .find("#diff-files li[data-path='left.txt']")
            .is_some()
    );
    let total = desktop.script(
        "return document.querySelector('#cost-total').textContent",
        json!([]),
    );
    assert!(
        total.as_str().is_some_and(|t| t.contains("$0.00")),
        "{total}"
    );
    desktop.wait_until("the order's finish time", WAIT, || {
        let finished = desktop.script(
            "const dt = [...document.querySelectorAll('.meta dt')].find(d => d.textContent === 'Finished'); \
             return dt ? dt.nextElementSibling.textContent : '';",
            json!([]),
        );
        finished
            .as_str()
            .is_some_and(|t| !t.is_empty() && t != "—")
            .then_some(())
    });
    shoot(&desktop, "order-completed", DESKTOP);
    desktop.script(
        "document.querySelector('#diff-section').scrollIntoView()",
        json!([]),
    );
    let path = screenshot_dir().join("order-diff-1280x800.png");
    assert_eq!(desktop.screenshot(&path), DESKTOP);

    phone.goto(&format!("{base}/#/orders/{id}"));
    phone.wait_until("the completed order on the phone", WAIT, || {
        (order_status(&phone) == "completed" && stage_state(&phone, "ask") == "completed")
            .then_some(())
    });
    fits_width(&phone);
    shoot(&phone, "order-completed", PHONE);

    desktop.goto(&format!("{base}/#/"));
    desktop.wait_for(&format!("{row}[data-status='completed']"), WAIT);
    shoot(&desktop, "dashboard", DESKTOP);
    eprintln!(
        "web_ui: done in {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        screenshot_dir().display()
    );
}
