//! A small W3C WebDriver client for the browser tests: Debian's `chromedriver` driving headless
//! `chromium`, spoken to as JSON over HTTP/1.1 with `std::net` (nothing to build; chromedriver
//! keeps connections open, so an answer ends at its `Content-Length`, not at the close that
//! the support crate's client waits for).
//!
//! [`Driver::start`] starts `chromedriver` on a free port of 127.0.0.1 in its own process
//! group; [`Driver::session`] opens a browser with a fresh profile and an exact viewport
//! (Chrome's device metrics override, so screenshots are that size). Dropping a [`Session`]
//! closes its browser (chromedriver quits and reaps it) and deletes its profile; dropping the
//! [`Driver`] stops chromedriver and kills whatever is left of its process group — also when
//! a test panics. Every wait has a deadline.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key of an element reference in W3C WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long chromedriver and a browser get to start.
const START: Duration = Duration::from_secs(60);

/// How long one WebDriver command may take (a page load included).
const COMMAND: Duration = Duration::from_secs(120);

/// An answer of chromedriver: its status and body (JSON; `Null` when not).
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// chromedriver's HTTP endpoint on 127.0.0.1.
#[derive(Debug, Clone, Copy)]
struct Endpoint {
    port: u16,
}

impl Endpoint {
    /// `method path` with an optional JSON body; the answer, or why there is none.
    fn send(self, method: &str, path: &str, body: Option<&Value>) -> Result<Answer, String> {
        let fail = |what: &str, err: std::io::Error| format!("{method} {path}: {what}: {err}");
        let mut stream =
            TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| fail("connect", e))?;
        stream
            .set_read_timeout(Some(COMMAND))
            .map_err(|e| fail("timeout", e))?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.port,
            body.len()
        );
        stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body.as_bytes()))
            .map_err(|e| fail("send", e))?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .map_err(|e| fail("status line", e))?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("{method} {path}: not an HTTP answer: {line:?}"))?;
        let mut length = None;
        loop {
            line.clear();
            reader.read_line(&mut line).map_err(|e| fail("header", e))?;
            let text = line.trim_end();
            if text.is_empty() {
                break;
            }
            if let Some((key, value)) = text.split_once(':')
                && key.trim().eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let mut bytes = Vec::new();
        match length {
            Some(length) => {
                bytes.resize(length, 0);
                reader.read_exact(&mut bytes).map_err(|e| fail("body", e))?;
            }
            None => {
                reader
                    .read_to_end(&mut bytes)
                    .map_err(|e| fail("body", e))?;
            }
        }
        Ok(Answer {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }
}

/// The browser and its driver, found where Debian's `chromium` and `chromium-driver` put them
/// (or on the PATH).
///
/// # Panics
/// When either is missing, saying how to install them: a missing browser fails the test,
/// it never skips it.
pub fn binaries() -> (PathBuf, PathBuf) {
    let find = |candidates: &[&str], name: &str| -> Option<PathBuf> {
        candidates
            .iter()
            .map(PathBuf::from)
            .find(|path| path.is_file())
            .or_else(|| {
                std::env::var_os("PATH").and_then(|paths| {
                    std::env::split_paths(&paths)
                        .map(|dir| dir.join(name))
                        .find(|path| path.is_file())
                })
            })
    };
    let chromium = find(
        &["/usr/lib/chromium/chromium", "/usr/bin/chromium"],
        "chromium",
    );
    let driver = find(
        &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
        "chromedriver",
    );
    match (chromium, driver) {
        (Some(chromium), Some(driver)) => (chromium, driver),
        (chromium, driver) => panic!("{}", missing(chromium.is_none(), driver.is_none())),
    }
}

/// What a test says when the browser or its driver is missing.
fn missing(chromium: bool, driver: bool) -> String {
    let names: Vec<&str> = [(chromium, "chromium"), (driver, "chromedriver")]
        .into_iter()
        .filter_map(|(gone, name)| gone.then_some(name))
        .collect();
    format!(
        "the browser tests need chromium and chromedriver ({} missing): run `bash \
         tests/install-deps.sh` (it installs Debian's chromium and chromium-driver)",
        names.join(" and ")
    )
}

/// A running chromedriver.
pub struct Driver {
    child: Child,
    http: Endpoint,
    chromium: PathBuf,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it is ready.
    ///
    /// # Panics
    /// When it does not start (its log is in the message).
    pub fn start() -> Self {
        let (chromium, driver) = binaries();
        let dir = tempfile::tempdir().expect("a directory for the browser's files");
        let log = dir.path().join("chromedriver.log");
        let port = free_port();
        let child = {
            use std::os::unix::process::CommandExt as _;
            Command::new(&driver)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_or_else(|err| panic!("{} does not start: {err}", driver.display()))
        };
        let mut started = Self {
            child,
            http: Endpoint { port },
            chromium,
            log,
            dir,
        };
        let deadline = Instant::now() + START;
        loop {
            if let Some(status) = started.child.try_wait().ok().flatten() {
                panic!("chromedriver exited ({status}): {}", started.log_tail());
            }
            if let Ok(answer) = started.http.send("GET", "/status", None)
                && answer.json()["value"]["ready"] == true
            {
                return started;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver was not ready within {START:?}: {}",
                started.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(4000);
        text.get(start..).unwrap_or_default().to_owned()
    }

    /// A new browser (headless, a fresh profile) with a `width` × `height` viewport; `mobile`
    /// makes it a phone's (its meta viewport applies, touch-sized).
    ///
    /// # Panics
    /// When the browser does not start.
    pub fn session(&self, width: u32, height: u32, mobile: bool) -> Session<'_> {
        let profile = tempfile::Builder::new()
            .prefix("profile-")
            .tempdir_in(self.dir.path())
            .expect("a browser profile directory");
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {"binary": self.chromium, "args": args},
        }}});
        let answer = self
            .http
            .send("POST", "/session", Some(&capabilities))
            .unwrap_or_else(|err| panic!("{err}: {}", self.log_tail()));
        let body = answer.json();
        let id = body["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| {
                panic!(
                    "no browser session ({}): {} {}",
                    answer.status,
                    answer.body,
                    self.log_tail()
                )
            })
            .to_owned();
        let session = Session {
            driver: self,
            id,
            _profile: profile,
        };
        session
            .command(
                "POST",
                "goog/cdp/execute",
                json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                    "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile,
                }}),
            )
            .unwrap_or_else(|err| panic!("setting the viewport: {err}"));
        session
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Sessions were dropped first (they borrow the driver): their browsers are gone.
        // chromedriver leads its own process group: whatever it started goes with it.
        let group = format!("-{}", self.child.id());
        let signal = |sig: &str| {
            let _ = Command::new("kill")
                .args([sig, "--", &group])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        signal("-KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on 127.0.0.1 (free when asked; chromedriver takes it right after).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// One browser, driven through its session.
pub struct Session<'d> {
    driver: &'d Driver,
    id: String,
    _profile: tempfile::TempDir,
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = self
            .driver
            .http
            .send("DELETE", &format!("/session/{}", self.id), None);
    }
}

impl Session<'_> {
    /// Sends a session command (`path` after `/session/<id>/`); its `value`, or the error.
    pub fn command(&self, method: &str, path: &str, body: Value) -> Result<Value, String> {
        let path = format!("/session/{}/{path}", self.id);
        let body = (method != "GET").then_some(&body);
        let answer = self.driver.http.send(method, &path, body)?;
        let mut value = answer.json();
        if answer.status == 200 {
            Ok(value["value"].take())
        } else {
            Err(format!(
                "{method} {path}: {} {}",
                answer.status,
                value["value"]["message"].as_str().unwrap_or(&answer.body)
            ))
        }
    }

    /// Opens `url` and waits for it to load.
    pub fn goto(&self, url: &str) {
        self.command("POST", "url", json!({"url": url}))
            .unwrap_or_else(|err| panic!("{err}"));
    }

    /// The page's URL.
    pub fn url(&self) -> String {
        self.command("GET", "url", Value::Null)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page; awaits a promise it
    /// returns.
    pub fn script(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "execute/sync",
            json!({"script": script, "args": args}),
        )
        .unwrap_or_else(|err| panic!("{err}"))
    }

    /// The element matching `css`, if any (its WebDriver reference).
    pub fn find(&self, css: &str) -> Option<String> {
        self.command(
            "POST",
            "element",
            json!({"using": "css selector", "value": css}),
        )
        .ok()
        .and_then(|v| v[ELEMENT].as_str().map(str::to_owned))
    }

    /// Waits (bounded) for an element matching `css`; its reference.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> String {
        self.wait_until(&format!("an element `{css}`"), timeout, || self.find(css))
    }

    /// Clicks the element matching `css` (waiting for it), as a user would.
    pub fn click(&self, css: &str, timeout: Duration) {
        let element = self.wait_for(css, timeout);
        self.wait_until(&format!("a click on `{css}`"), timeout, || {
            self.command("POST", &format!("element/{element}/click"), json!({}))
                .ok()
        });
    }

    /// Types `text` into the element matching `css` (waiting for it), key by key.
    pub fn type_into(&self, css: &str, text: &str, timeout: Duration) {
        let element = self.wait_for(css, timeout);
        self.command(
            "POST",
            &format!("element/{element}/value"),
            json!({"text": text}),
        )
        .unwrap_or_else(|err| panic!("typing into `{css}`: {err}"));
    }

    /// The text of what the page shows (for failure messages).
    pub fn page_text(&self) -> String {
        self.script(
            "return document.body ? document.body.innerText : ''",
            json!([]),
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Polls `check` every 100 ms until it gives a value, for at most `timeout`.
    ///
    /// # Panics
    /// When the time is up, with what the page shows (and a screenshot saved next to the
    /// others as `failed-….png`).
    pub fn wait_until<T>(&self, what: &str, timeout: Duration, check: impl Fn() -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = check() {
                return value;
            }
            if Instant::now() >= deadline {
                let shot = crate::screenshot_dir().join(format!(
                    "failed-{}.png",
                    what.chars()
                        .filter(char::is_ascii_alphanumeric)
                        .take(40)
                        .collect::<String>()
                ));
                let _ = self.try_screenshot(&shot);
                panic!(
                    "gave up after {timeout:?} waiting for {what} (screenshot {}); the page \
                     shows:\n{}",
                    shot.display(),
                    self.page_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn try_screenshot(&self, path: &Path) -> Result<(u32, u32), String> {
        let data = self.command("GET", "screenshot", Value::Null)?;
        let png = base64_decode(data.as_str().unwrap_or_default())?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|err| err.to_string())?;
        }
        std::fs::write(path, &png).map_err(|err| format!("{}: {err}", path.display()))?;
        png_size(&png).ok_or_else(|| "not a PNG".to_owned())
    }

    /// Saves a screenshot of the viewport as `path` (PNG); returns its width and height.
    ///
    /// # Panics
    /// When the browser gives none or it cannot be written.
    pub fn screenshot(&self, path: &Path) -> (u32, u32) {
        self.try_screenshot(path)
            .unwrap_or_else(|err| panic!("screenshot {}: {err}", path.display()))
    }
}

/// The width and height in a PNG's header.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    if png.get(..8)? != b"\x89PNG\r\n\x1a\n" {
        return None;
    }
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(png.get(at..at + 4)?.try_into().ok()?))
    };
    Some((word(16)?, word(20)?))
}

/// Standard base64 (as WebDriver sends screenshots), padding and whitespace allowed.
fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut count) = (0u32, 0u32);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let v = value(c).ok_or_else(|| format!("not base64: {:?}", char::from(c)))?;
        bits = ((bits << 6) | v) & 0xffff;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push(((bits >> count) & 0xff) as u8);
        }
    }
    Ok(out)
}

#[test]
fn a_missing_browser_says_how_to_install_it() {
    let message = missing(true, false);
    assert!(message.contains("(chromium missing)"), "{message}");
    assert!(
        message.contains("run `bash tests/install-deps.sh`"),
        "{message}"
    );
    assert!(missing(true, true).contains("(chromium and chromedriver missing)"));
}

#[test]
fn base64_and_png_headers_read() {
    assert_eq!(base64_decode("aGVsbG8=").as_deref(), Ok(&b"hello"[..]));
    assert_eq!(base64_decode("aGk").as_deref(), Ok(&b"hi"[..]));
    assert!(base64_decode("a*b").is_err());
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend_from_slice(&1280u32.to_be_bytes());
    png.extend_from_slice(&800u32.to_be_bytes());
    assert_eq!(png_size(&png), Some((1280, 800)));
    assert_eq!(png_size(b"GIF89a"), None);
}
