//! What the server's tests share: a server in this process on a free port with a private data
//! directory (and the shared plugin compile cache), a cafe made from a temporary git
//! repository with the recipes a test needs, and bounded waits.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use codecafe_server::{RunningServer, ServerConfig};
use codecafe_service::{Paths, Service};
use codecafe_test_support::http::Http;
use codecafe_test_support::{init_repo_with, shared_compile_cache};
use serde_json::{Value, json};

/// How long a test waits for one event or state.
pub const WAIT: Duration = Duration::from_secs(90);

/// A one-stage recipe `id` whose stage runs `script` with the `command` provider.
pub fn command_recipe(id: &str, script: &str) -> String {
    let quoted = serde_json::to_string(script).expect("a JSON string is a YAML string");
    format!(
        "name: {id}\nworkflow:\n  stages: [{id}]\n{id}:\n  provider: command\n  command: {quoted}\n"
    )
}

/// A recipe whose stage asks a question unless its prompt holds `ANSWER-42`.
pub fn ask_recipe() -> String {
    command_recipe(
        "ask",
        "p=$(cat); case \"$p\" in *ANSWER-42*) echo thanks;; *) printf '%s\\n' 'which one?' '```yaml' 'signals:' '  nextAction: await_user' '  questions: [Which one?]' '```';; esac",
    )
}

/// A recipe whose stage waits until the file `flag` exists.
pub fn wait_recipe(flag: &Path) -> String {
    command_recipe(
        "wait",
        &format!(
            "cat > /dev/null; echo waiting; while [ ! -f '{}' ]; do sleep 0.05; done; echo through",
            flag.display()
        ),
    )
}

/// A private codecafe home.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp home"),
        }
    }

    /// A service on this home, with the tests' shared compile cache.
    pub fn service(&self) -> Arc<Service> {
        let data = self.dir.path().to_owned();
        Arc::new(Service::with_paths(Paths {
            cache: data.join("cache"),
            data,
            compiled: shared_compile_cache(),
        }))
    }
}

/// A server on this process.
pub struct TestServer {
    pub server: Option<RunningServer>,
    pub http: Http,
}

impl TestServer {
    pub fn start(home: &Home) -> Self {
        Self::start_with(home, ServerConfig::default())
    }

    pub fn start_with(home: &Home, config: ServerConfig) -> Self {
        let server = codecafe_server::start(home.service(), config).expect("the server starts");
        let http = Http::new(server.port(), Some(server.token()));
        Self {
            server: Some(server),
            http,
        }
    }

    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().expect("running")
    }

    pub fn shutdown(&mut self) -> codecafe_server::ShutdownReport {
        self.server.take().expect("running").shutdown()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown();
        }
    }
}

/// A git repository with `recipes` (id, YAML) in `.orch/workflows/`, registered and trusted
/// through the API; returns its path and the cafe id.
pub fn cafe(http: &Http, work: &Path, recipes: &[(&str, &str)]) -> (PathBuf, String) {
    let files: Vec<(String, &str)> = recipes
        .iter()
        .map(|(id, yaml)| (format!(".orch/workflows/{id}.workflow.yml"), *yaml))
        .collect();
    let mut all: Vec<(&str, &str)> = vec![("README.md", "# shop\n")];
    all.extend(files.iter().map(|(path, yaml)| (path.as_str(), *yaml)));
    let repo = init_repo_with(&work.join("shop"), "main", &all);
    let created = http.json("POST", "/api/cafes", Some(&json!({ "path": repo })));
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["cafe"]["id"]
        .as_str()
        .expect("cafe id")
        .to_owned();
    let trusted = http.json("POST", &format!("/api/cafes/{id}/trust"), None);
    assert_eq!(trusted.status, 200, "{}", trusted.body);
    (repo, id)
}

/// Creates an order of `recipe` on `cafe`; returns its id.
pub fn order(http: &Http, cafe: &str, recipe: &str) -> String {
    let created = http.json(
        "POST",
        "/api/orders",
        Some(&json!({ "cafe": cafe, "recipe": recipe, "prompt": "do it" })),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    created.json()["order"]["id"]
        .as_str()
        .expect("order id")
        .to_owned()
}

/// The order `id` as the API shows it.
pub fn order_state(http: &Http, id: &str) -> Value {
    let shown = http.get(&format!("/api/orders/{id}"));
    assert_eq!(shown.status, 200, "{}", shown.body);
    shown.json()
}

/// Waits (bounded) until `done` holds.
pub fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
