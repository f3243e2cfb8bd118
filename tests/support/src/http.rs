//! A small HTTP/1.1 client for the tests of the local server (`codecafe serve`): plain
//! `std::net` (nothing to build), any header a test wants to send — a wrong `Host`, a foreign
//! `Origin` — and server-sent event streams read event by event, every read bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long one read may wait before a request is given up.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// An answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Reply {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A client of the server at `127.0.0.1:<port>`, sending its token unless told not to.
#[derive(Debug, Clone)]
pub struct Http {
    port: u16,
    token: Option<String>,
}

impl Http {
    /// A client of the server on `port`, authenticating with `token` when given.
    pub fn new(port: u16, token: Option<&str>) -> Self {
        Self {
            port,
            token: token.map(str::to_owned),
        }
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// This client without a token.
    pub fn anonymous(&self) -> Self {
        Self {
            port: self.port,
            token: None,
        }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the server");
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("read timeout");
        stream
    }

    /// The request head: the method, path, `Host`, the token, `headers`, and the body's.
    fn head(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> String {
        let mut head = format!("{method} {path} HTTP/1.1\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            head.push_str(&format!("Host: 127.0.0.1:{}\r\n", self.port));
        }
        if let Some(token) = &self.token {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        for (key, value) in headers {
            head.push_str(&format!("{key}: {value}\r\n"));
        }
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("Connection: close\r\n\r\n");
        head
    }

    /// Sends a request and reads the whole answer.
    ///
    /// # Panics
    /// When the server cannot be reached or answers what is not HTTP.
    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut stream = self.connect();
        let head = self.head(method, path, headers, body);
        stream.write_all(head.as_bytes()).expect("send the head");
        // A server may answer (413) before it reads a large body; a failed write is fine then.
        let _ = stream.write_all(body);
        let mut reader = BufReader::new(stream);
        let (status, headers) = read_head(&mut reader);
        let mut bytes = Vec::new();
        let chunked = headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
        if chunked {
            Chunked::new(reader)
                .read_to_end(&mut bytes)
                .expect("read the body");
        } else {
            reader.read_to_end(&mut bytes).expect("read the body");
        }
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Reply {
        self.send("GET", path, &[], b"")
    }

    /// `method path` with a JSON body (`None`: no body).
    pub fn json(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        match body {
            Some(body) => self.send(
                method,
                path,
                &[("Content-Type", "application/json")],
                body.to_string().as_bytes(),
            ),
            None => self.send(method, path, &[], b""),
        }
    }

    /// Opens an event stream at `path` (with extra `headers`, e.g. `Last-Event-ID`).
    ///
    /// # Panics
    /// When the server cannot be reached, or does not answer 200 with `text/event-stream`.
    pub fn events(&self, path: &str, headers: &[(&str, &str)]) -> EventStream {
        let mut stream = self.connect();
        let mut all = vec![("Accept", "text/event-stream")];
        all.extend_from_slice(headers);
        let head = self.head("GET", path, &all, b"");
        stream.write_all(head.as_bytes()).expect("send the head");
        let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
        let (status, head) = read_head(&mut reader);
        let content_type = head
            .iter()
            .find(|(k, _)| k == "content-type")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        assert!(
            status == 200 && content_type.starts_with("text/event-stream"),
            "{path}: {status} {content_type}"
        );
        EventStream {
            socket: stream,
            lines: BufReader::new(Chunked::new(reader)),
        }
    }
}

fn read_head(reader: &mut impl BufRead) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    reader.read_line(&mut line).expect("the status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP status line: {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).expect("a header line");
        let text = line.trim_end();
        if text.is_empty() {
            return (status, headers);
        }
        if let Some((key, value)) = text.split_once(':') {
            headers.push((key.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
}

/// A chunked body, decoded.
struct Chunked<R> {
    inner: R,
    left: usize,
    done: bool,
}

impl<R: BufRead> Chunked<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            left: 0,
            done: false,
        }
    }
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = String::new();
            // The CRLF ending the previous chunk, then the size line.
            while line.trim().is_empty() {
                line.clear();
                if self.inner.read_line(&mut line)? == 0 {
                    self.done = true;
                    return Ok(0);
                }
            }
            let size = line.trim().split(';').next().unwrap_or("0");
            self.left = usize::from_str_radix(size, 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk size {line:?}")))?;
            if self.left == 0 {
                self.done = true;
                return Ok(0);
            }
        }
        let want = buf.len().min(self.left);
        let read = self.inner.read(&mut buf[..want])?;
        self.left -= read;
        Ok(read)
    }
}

/// One server-sent event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SseMessage {
    /// `id:`.
    pub id: Option<String>,
    /// `event:`.
    pub event: Option<String>,
    /// `data:` lines, joined by newlines.
    pub data: String,
}

impl SseMessage {
    /// The id as a sequence number.
    pub fn seq(&self) -> i64 {
        self.id
            .as_deref()
            .and_then(|id| id.parse().ok())
            .unwrap_or(-1)
    }

    /// The data as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }
}

/// An open event stream.
pub struct EventStream {
    socket: TcpStream,
    lines: BufReader<Chunked<BufReader<TcpStream>>>,
}

impl EventStream {
    /// The next event within `timeout` (keep-alive comments skipped); `None` when the stream
    /// ended or nothing came in time.
    pub fn next(&mut self, timeout: Duration) -> Option<SseMessage> {
        let deadline = Instant::now() + timeout;
        let mut message = SseMessage::default();
        let mut has_field = false;
        let mut line = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.socket.set_read_timeout(Some(left)).ok()?;
            line.clear();
            match self.lines.read_line(&mut line) {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
            let text = line.trim_end_matches(['\r', '\n']);
            if text.is_empty() {
                if has_field {
                    return Some(message);
                }
                continue;
            }
            if text.starts_with(':') {
                continue;
            }
            let (field, value) = text.split_once(':').unwrap_or((text, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            has_field = true;
            match field {
                "id" => message.id = Some(value.to_owned()),
                "event" => message.event = Some(value.to_owned()),
                "data" => {
                    if !message.data.is_empty() {
                        message.data.push('\n');
                    }
                    message.data.push_str(value);
                }
                _ => {}
            }
        }
    }

    /// Events until one of kind `kind` (included), each within `timeout` of the last.
    ///
    /// # Panics
    /// When the stream ends or stalls before it.
    pub fn until(&mut self, kind: &str, timeout: Duration) -> Vec<SseMessage> {
        let mut seen = Vec::new();
        loop {
            let Some(message) = self.next(timeout) else {
                let kinds: Vec<_> = seen
                    .iter()
                    .map(|m: &SseMessage| m.event.clone().unwrap_or_default())
                    .collect();
                panic!("no `{kind}` event within {timeout:?}; saw {kinds:?}");
            };
            let done = message.event.as_deref() == Some(kind);
            seen.push(message);
            if done {
                return seen;
            }
        }
    }
}
