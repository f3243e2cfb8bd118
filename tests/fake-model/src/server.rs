//! The server: accepts connections on a thread, serves each connection on its own thread,
//! matches requests to scripted turns and records every request.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::anthropic::{self, ReplyContext};
use crate::http::{self, ChunkedResponse, Request};
use crate::ids::IdGen;
use crate::openai;
use crate::script::{MAX_DELAY_MS, Script, Turn};
use crate::sse::SseEvent;
use crate::workdir;

/// Headers never recorded (credentials).
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "x-api-key",
    "api-key",
    "cookie",
    "proxy-authorization",
];

/// Most requests served on one connection before it is closed.
const MAX_REQUESTS_PER_CONNECTION: usize = 10_000;

/// Which API a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Api {
    /// Anthropic Messages API.
    Anthropic,
    /// OpenAI Responses API.
    Openai,
}

/// How a request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Served {
    /// By scripted turn `turn` of its API.
    Turn,
    /// By side turn `turn` (not consumed).
    Side,
    /// By the generic fallback reply.
    Fallback,
    /// `POST /v1/messages/count_tokens`.
    CountTokens,
    /// The body was not JSON (400).
    BadRequest,
    /// Unknown path or method (404).
    NotFound,
}

/// One request as received, for later assertions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// 0-based arrival order.
    pub seq: u64,
    /// HTTP method.
    pub method: String,
    /// Path without query string.
    pub path: String,
    /// Query string, if any.
    pub query: Option<String>,
    /// Headers (lower-case names; credentials removed; repeated headers joined with `, `).
    pub headers: BTreeMap<String, String>,
    /// Body as JSON; a JSON string when it is not JSON; `null` when empty.
    pub body: Value,
    /// The API of a model request.
    pub api: Option<Api>,
    /// The last user input of a model request (see [`crate::Turn`] for the definition).
    pub last_user_text: Option<String>,
    /// The agent's working directory, when the model request names it (see
    /// [`crate::workdir`]); it fills `${CWD}` in the reply.
    #[serde(default)]
    pub cwd: Option<String>,
    /// How the request was answered.
    pub served: Served,
    /// Index of the scripted or side turn that answered it.
    pub turn: Option<usize>,
    /// HTTP status of the answer.
    pub status: u16,
}

/// Options of [`FakeModel::start_with`].
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Append every recorded request as one JSON line to this file (flushed per request).
    pub record_file: Option<PathBuf>,
    /// Most connections served at once; more get a 503 and are closed.
    pub max_connections: usize,
    /// How long a connection may sit idle (or take to send a request) before it is closed.
    pub read_timeout: Duration,
    /// Log one line per request to stderr.
    pub log_requests: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            port: 0,
            record_file: None,
            max_connections: 64,
            read_timeout: Duration::from_secs(120),
            log_requests: false,
        }
    }
}

#[derive(Debug, Default)]
struct Cursor {
    index: usize,
    used: u32,
}

#[derive(Debug, Default)]
struct State {
    anthropic: Cursor,
    openai: Cursor,
    requests: Vec<RecordedRequest>,
}

struct Shared {
    script: Script,
    options: ServerOptions,
    state: Mutex<State>,
    record: Option<Mutex<File>>,
    ids: IdGen,
    shutdown: AtomicBool,
    active: AtomicUsize,
    last_activity: Mutex<Instant>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn touch(&self) {
        *self.last_activity.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }
}

/// A running fake model server. Dropping it shuts it down.
pub struct FakeModel {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FakeModel {
    /// Starts a server for `script` on 127.0.0.1 with a free port.
    pub fn start(script: Script) -> io::Result<FakeModel> {
        Self::start_with(script, ServerOptions::default())
    }

    /// Starts a server with options.
    pub fn start_with(script: Script, options: ServerOptions) -> io::Result<FakeModel> {
        let listener = TcpListener::bind(("127.0.0.1", options.port))?;
        let addr = listener.local_addr()?;
        let record = match &options.record_file {
            Some(path) => Some(Mutex::new(
                OpenOptions::new().create(true).append(true).open(path)?,
            )),
            None => None,
        };
        let shared = Arc::new(Shared {
            script,
            options,
            state: Mutex::new(State::default()),
            record,
            ids: IdGen::new(),
            shutdown: AtomicBool::new(false),
            active: AtomicUsize::new(0),
            last_activity: Mutex::new(Instant::now()),
        });
        let accept_shared = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("fake-model-accept".into())
            .spawn(move || accept_loop(&listener, &accept_shared))?;
        Ok(FakeModel {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` — the value for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1` — the `base_url` of a Codex model provider.
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.state().requests.clone()
    }

    /// The model requests (Anthropic or OpenAI) answered by scripted turns, in order.
    pub fn turn_requests(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.served == Served::Turn)
            .collect()
    }

    /// How many scripted turns of an API have not been (fully) used yet.
    pub fn remaining_turns(&self, api: Api) -> usize {
        let state = self.shared.state();
        let (turns, cursor) = match api {
            Api::Anthropic => (&self.shared.script.anthropic, &state.anthropic),
            Api::Openai => (&self.shared.script.openai, &state.openai),
        };
        turns.len().saturating_sub(cursor.index)
    }

    /// Time since the last request arrived (or since start).
    pub fn idle_for(&self) -> Duration {
        self.shared
            .last_activity
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
    }

    /// Stops accepting connections and waits for the accept thread. Open connections finish
    /// their current response and close.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        // Wake the blocking accept() with a throwaway connection.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.shutdown.load(Ordering::SeqCst) {
            break;
        }
        let Ok(mut stream) = stream else {
            // Transient accept errors (e.g. EMFILE): back off briefly.
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        if shared.active.load(Ordering::SeqCst) >= shared.options.max_connections {
            let _ = http::write_response(
                &mut stream,
                503,
                &[("content-type".into(), "text/plain".into())],
                b"too many connections\n",
                false,
                false,
            );
            continue;
        }
        shared.active.fetch_add(1, Ordering::SeqCst);
        let conn_shared = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name("fake-model-conn".into())
            .spawn(move || {
                serve_connection(&conn_shared, stream);
                conn_shared.active.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            shared.active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn serve_connection(shared: &Shared, stream: TcpStream) {
    let timeout = Some(shared.options.read_timeout);
    if stream.set_read_timeout(timeout).is_err()
        || stream.set_write_timeout(timeout).is_err()
        || stream.set_nodelay(true).is_err()
    {
        return;
    }
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
        if shared.shutdown.load(Ordering::SeqCst) {
            break;
        }
        let request = match http::read_request(&mut reader, &mut writer) {
            Ok(Some(request)) => request,
            Ok(None) => break,
            Err(e) => {
                if e.kind() == io::ErrorKind::InvalidData {
                    let _ = http::write_response(
                        &mut writer,
                        400,
                        &[("content-type".into(), "text/plain".into())],
                        format!("bad request: {e}\n").as_bytes(),
                        false,
                        false,
                    );
                }
                break;
            }
        };
        shared.touch();
        let keep_alive = request.keep_alive() && !shared.shutdown.load(Ordering::SeqCst);
        if handle_request(shared, &request, &mut writer, keep_alive).is_err() || !keep_alive {
            break;
        }
        shared.touch();
    }
}

/// What to send back.
enum Reply {
    Json(u16, Value, Vec<(String, String)>),
    Stream(Vec<SseEvent>, u64),
    NotFound,
}

fn handle_request(
    shared: &Shared,
    request: &Request,
    writer: &mut TcpStream,
    keep_alive: bool,
) -> io::Result<()> {
    let raw_body = String::from_utf8_lossy(&request.body).to_string();
    let body: Value = if request.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&request.body).unwrap_or_else(|_| Value::String(raw_body.clone()))
    };
    let api = match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/v1/messages" | "/messages") => Some(Api::Anthropic),
        ("POST", "/v1/responses" | "/responses") => Some(Api::Openai),
        _ => None,
    };
    let is_count_tokens = request.method == "POST"
        && matches!(
            request.path.as_str(),
            "/v1/messages/count_tokens" | "/messages/count_tokens"
        );

    let mut record = RecordedRequest {
        seq: 0,
        method: request.method.clone(),
        path: request.path.clone(),
        query: request.query.clone(),
        headers: recorded_headers(request),
        body: body.clone(),
        api,
        last_user_text: None,
        cwd: None,
        served: Served::NotFound,
        turn: None,
        status: 404,
    };

    let reply = if is_count_tokens {
        record.served = Served::CountTokens;
        record.status = 200;
        Reply::Json(200, anthropic::count_tokens(request.body.len()), Vec::new())
    } else if let Some(api) = api {
        if !body.is_object() {
            record.served = Served::BadRequest;
            record.status = 400;
            let err = match api {
                Api::Anthropic => anthropic::default_error_body(400),
                Api::Openai => openai::default_error_body(400),
            };
            Reply::Json(400, err, Vec::new())
        } else {
            model_reply(
                shared,
                api,
                &body,
                &raw_body,
                request.body.len(),
                &mut record,
            )
        }
    } else {
        Reply::NotFound
    };

    // Record before answering, so a client that exits right after the reply is fully recorded.
    {
        let mut state = shared.state();
        record.seq = state.requests.len() as u64;
        if let Some(file) = &shared.record
            && let Ok(line) = serde_json::to_string(&record)
        {
            let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
            let _ = writeln!(file, "{line}").and_then(|()| file.flush());
        }
        if shared.options.log_requests {
            eprintln!(
                "fake-model: #{} {} {} -> {:?}{} {}",
                record.seq,
                record.method,
                record.path,
                record.served,
                record.turn.map(|t| format!(" {t}")).unwrap_or_default(),
                record.status
            );
        }
        state.requests.push(record);
    }

    let head_only = request.method == "HEAD";
    match reply {
        Reply::NotFound => {
            let body = json!({ "type": "error", "error": { "type": "not_found_error",
                "message": format!("fake-model: no route for {} {}", request.method, request.path) } });
            http::write_response(
                writer,
                404,
                &[("content-type".into(), "application/json".into())],
                body.to_string().as_bytes(),
                keep_alive,
                head_only,
            )
        }
        Reply::Json(status, body, extra) => {
            let mut headers = vec![
                ("content-type".to_string(), "application/json".to_string()),
                ("request-id".to_string(), shared.ids.next("req")),
            ];
            headers.extend(extra);
            http::write_response(
                writer,
                status,
                &headers,
                body.to_string().as_bytes(),
                keep_alive,
                head_only,
            )
        }
        Reply::Stream(events, delay_ms) => {
            let headers = vec![
                (
                    "content-type".to_string(),
                    "text/event-stream; charset=utf-8".to_string(),
                ),
                ("cache-control".to_string(), "no-cache".to_string()),
                ("request-id".to_string(), shared.ids.next("req")),
                ("x-request-id".to_string(), shared.ids.next("req")),
            ];
            let mut response = ChunkedResponse::start(writer, 200, &headers, keep_alive)?;
            for event in events {
                pause(shared, delay_ms);
                response.chunk(event.frame().as_bytes())?;
            }
            response.finish()
        }
    }
}

/// Sleeps `delay_ms` (capped), in small steps so that shutdown is not delayed.
fn pause(shared: &Shared, delay_ms: u64) {
    let deadline = Instant::now() + Duration::from_millis(delay_ms.min(MAX_DELAY_MS));
    for _ in 0..=(MAX_DELAY_MS / 20) {
        let now = Instant::now();
        if now >= deadline || shared.shutdown.load(Ordering::SeqCst) {
            break;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(20)));
    }
}

fn recorded_headers(request: &Request) -> BTreeMap<String, String> {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &request.headers {
        if SECRET_HEADERS.contains(&name.as_str()) {
            continue;
        }
        headers
            .entry(name.clone())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(value);
            })
            .or_insert_with(|| value.clone());
    }
    headers
}

/// Chooses the turn for a model request and renders it.
fn model_reply(
    shared: &Shared,
    api: Api,
    body: &Value,
    raw_body: &str,
    request_bytes: usize,
    record: &mut RecordedRequest,
) -> Reply {
    let last_user = match api {
        Api::Anthropic => anthropic::last_user_text(body),
        Api::Openai => openai::last_user_text(body),
    };
    let side_like = api == Api::Anthropic && anthropic::looks_like_side_request(body);
    let script = &shared.script;

    let chosen: Option<(Served, usize)> = {
        let mut state = shared.state();
        let (turns, cursor) = match api {
            Api::Anthropic => (&script.anthropic, &mut state.anthropic),
            Api::Openai => (&script.openai, &mut state.openai),
        };
        let next = turns.get(cursor.index).filter(|turn| {
            if turn.has_condition() {
                turn.matches(&last_user, raw_body)
            } else {
                !side_like
            }
        });
        if let Some(turn) = next {
            let index = cursor.index;
            cursor.used += 1;
            if cursor.used >= turn.repeat_count() {
                cursor.index += 1;
                cursor.used = 0;
            }
            Some((Served::Turn, index))
        } else {
            script
                .side
                .iter()
                .position(|t| t.has_condition() && t.matches(&last_user, raw_body))
                .map(|i| (Served::Side, i))
        }
    };
    record.last_user_text = Some(last_user);
    record.cwd = workdir::working_directory(api, body);

    let fallback;
    let turn: &Turn = match chosen {
        Some((Served::Turn, i)) => {
            record.served = Served::Turn;
            record.turn = Some(i);
            match api {
                Api::Anthropic => &script.anthropic[i],
                Api::Openai => &script.openai[i],
            }
        }
        Some((_, i)) => {
            record.served = Served::Side;
            record.turn = Some(i);
            &script.side[i]
        }
        None => {
            record.served = Served::Fallback;
            fallback = Turn::text(script.fallback());
            &fallback
        }
    };
    let filled;
    let turn: &Turn = match &record.cwd {
        Some(cwd) if workdir::mentions_cwd(turn) => {
            filled = workdir::fill_cwd(turn, cwd);
            &filled
        }
        _ => turn,
    };

    let model = turn
        .model
        .clone()
        .or_else(|| body.get("model").and_then(Value::as_str).map(String::from))
        .unwrap_or_else(|| "fake-model".into());
    let ctx = ReplyContext {
        model,
        request_bytes,
        ids: &shared.ids,
    };
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);

    if let Some(error) = &turn.error {
        if error.in_stream {
            record.status = 200;
            let events = match api {
                Api::Anthropic => anthropic::in_stream_error_events(error, &ctx),
                Api::Openai => openai::in_stream_error_events(error, &ctx),
            };
            return Reply::Stream(events, turn.delay_ms);
        }
        record.status = error.status;
        let body = match api {
            Api::Anthropic => anthropic::error_body(error),
            Api::Openai => openai::error_body(error),
        };
        let headers = error
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        return Reply::Json(error.status, body, headers);
    }

    record.status = 200;
    match (api, stream) {
        (Api::Anthropic, true) => {
            Reply::Stream(anthropic::stream_events(turn, &ctx), turn.delay_ms)
        }
        (Api::Openai, true) => Reply::Stream(openai::stream_events(turn, &ctx), turn.delay_ms),
        (Api::Anthropic, false) => {
            Reply::Json(200, anthropic::message_json(turn, &ctx), Vec::new())
        }
        (Api::Openai, false) => Reply::Json(200, openai::response_json(turn, &ctx), Vec::new()),
    }
}
