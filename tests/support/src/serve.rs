//! `codecafe serve --port 0` started for a test: the login URL and port it prints, an HTTP
//! client with its token, and the process, killed when dropped.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, ChildStdout, Command};
use std::time::{Duration, Instant};

use crate::http::Http;

/// How long the server may take to print its URL.
const STARTUP: Duration = Duration::from_secs(90);

/// A running `codecafe serve`.
pub struct Served {
    /// The server process.
    pub child: Child,
    /// The rest of its stdout.
    pub stdout: BufReader<ChildStdout>,
    /// What it printed before its URL, and the URL line.
    pub printed: String,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The URL it prints once: the base with `/?token=…`.
    pub login_url: String,
    /// A client with the token.
    pub http: Http,
}

impl Served {
    /// Starts `command` (a `codecafe serve --port 0` with stdout piped) and reads until it
    /// prints its login URL; panics with what it printed (and its stderr) when it exits first.
    pub fn start(mut command: Command) -> Self {
        let mut child = command.spawn().expect("codecafe serve starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut printed = String::new();
        let deadline = Instant::now() + STARTUP;
        while !printed.contains("?token=") {
            assert!(Instant::now() < deadline, "no URL printed: {printed}");
            let mut line = String::new();
            if stdout.read_line(&mut line).expect("read stdout") == 0 {
                let mut err = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
                }
                panic!("codecafe serve exited: {printed}{err}");
            }
            printed.push_str(&line);
        }
        let login_url = printed
            .split_whitespace()
            .find(|word| word.contains("?token="))
            .expect("the URL")
            .to_owned();
        let (base, token) = login_url.split_once("/?token=").expect("base and token");
        let port: u16 = base
            .strip_prefix("http://127.0.0.1:")
            .expect("a loopback URL")
            .parse()
            .expect("the port");
        Self {
            child,
            stdout,
            base: base.to_owned(),
            http: Http::new(port, Some(token)),
            login_url: login_url.clone(),
            printed,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.http.port()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
