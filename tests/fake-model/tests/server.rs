//! End-to-end tests of the fake model server over real TCP on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use codecafe_fake_model::http::read_chunked;
use codecafe_fake_model::sse::{SseEvent, parse_stream};
use codecafe_fake_model::{Api, FakeModel, Script, Served, ServerOptions};
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn events(&self) -> Vec<SseEvent> {
        parse_stream(&String::from_utf8_lossy(&self.body))
    }
}

fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(stream)
}

/// Reads one response (fixed length or chunked); `head_only` for replies to HEAD.
fn read_response<R: BufRead>(reader: &mut R, head_only: bool) -> std::io::Result<Response> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim_end().is_empty() {
            break;
        }
        if let Some((n, v)) = h.trim_end().split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if head_only {
        return Ok(response);
    }
    if response.header("transfer-encoding") == Some("chunked") {
        response.body = read_chunked(reader)?;
    } else if let Some(n) = response
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        let mut body = vec![0; n];
        reader.read_exact(&mut body)?;
        response.body = body;
    }
    Ok(response)
}

fn post(addr: SocketAddr, path: &str, body: &Value) -> std::io::Result<Response> {
    let mut stream = connect(addr)?;
    let text = body.to_string();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         x-api-key: secret-key\r\nAuthorization: Bearer secret\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{text}",
        text.len()
    )?;
    read_response(&mut BufReader::new(stream), false)
}

fn anthropic_request(user: &str) -> Value {
    json!({
        "model": "claude-test",
        "max_tokens": 1024,
        "stream": true,
        "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": user}]}],
    })
}

fn openai_request(user: &str) -> Value {
    json!({
        "model": "gpt-test",
        "stream": true,
        "input": [{"type": "message", "role": "user",
                   "content": [{"type": "input_text", "text": user}]}],
    })
}

fn names(events: &[SseEvent]) -> Vec<&str> {
    events.iter().map(|e| e.name.as_str()).collect()
}

#[test]
fn anthropic_stream_is_framed_as_messages_sse() -> TestResult {
    let script = Script::from_json(
        r#"{"anthropic": [{"blocks": [
            {"type": "thinking", "thinking": "Consider the file."},
            {"type": "text", "text": "Writing it."},
            {"type": "tool_use", "name": "Write", "input": {"file_path": "/x", "content": "y"}}],
          "usage": {"input_tokens": 7, "output_tokens": 9, "cache_read_input_tokens": 100}}]}"#,
    )?;
    let server = FakeModel::start(script)?;
    let resp = post(
        server.addr(),
        "/v1/messages?beta=true",
        &anthropic_request("go"),
    )?;
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("content-type"),
        Some("text/event-stream; charset=utf-8")
    );
    let raw = String::from_utf8(resp.body.clone())?;
    // Every event is `event: NAME\ndata: JSON\n\n`.
    for block in raw.split_terminator("\n\n") {
        let lines: Vec<&str> = block.lines().collect();
        assert_eq!(lines.len(), 2, "{block:?}");
        assert!(lines[0].starts_with("event: ") && lines[1].starts_with("data: {"));
    }
    let events = resp.events();
    let names = names(&events);
    assert_eq!(names[0], "message_start");
    assert_eq!(names[names.len() - 2..], ["message_delta", "message_stop"]);
    let starts: Vec<&Value> = events
        .iter()
        .filter(|e| e.name == "content_block_start")
        .map(|e| &e.data["content_block"]["type"])
        .collect();
    assert_eq!(
        starts,
        [&json!("thinking"), &json!("text"), &json!("tool_use")]
    );
    let start = &events[0].data["message"];
    assert_eq!(start["model"], "claude-test");
    assert_eq!(start["usage"]["cache_read_input_tokens"], 100);
    let delta = events
        .iter()
        .find(|e| e.name == "message_delta")
        .ok_or("no message_delta")?;
    assert_eq!(delta.data["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta.data["usage"]["output_tokens"], 9);
    assert_eq!(server.remaining_turns(Api::Anthropic), 0);
    Ok(())
}

#[test]
fn openai_stream_is_framed_as_responses_sse() -> TestResult {
    let script = Script::from_json(
        r#"{"openai": [{"blocks": [
            {"type": "function_call", "name": "exec_command", "arguments": {"cmd": "ls"}},
            {"type": "custom_tool_call", "name": "apply_patch", "input": "*** Begin Patch\n*** End Patch\n"},
            {"type": "text", "text": "done"}]}]}"#,
    )?;
    let server = FakeModel::start(script)?;
    let resp = post(server.addr(), "/v1/responses", &openai_request("hi"))?;
    assert_eq!(resp.status, 200);
    let events = resp.events();
    let names = names(&events);
    assert_eq!(names[0], "response.created");
    assert_eq!(names.last(), Some(&"response.completed"));
    assert_eq!(
        names
            .iter()
            .filter(|n| **n == "response.output_item.added")
            .count(),
        3
    );
    assert!(names.contains(&"response.output_text.delta"));
    assert!(names.contains(&"response.function_call_arguments.delta"));
    assert!(names.contains(&"response.custom_tool_call_input.delta"));
    let completed = &events[events.len() - 1].data["response"];
    assert_eq!(completed["status"], "completed");
    assert!(completed["usage"]["input_tokens"].as_u64().is_some());
    assert!(completed["usage"]["total_tokens"].as_u64().is_some());
    let items: Vec<&Value> = events
        .iter()
        .filter(|e| e.name == "response.output_item.done")
        .map(|e| &e.data["item"])
        .collect();
    assert_eq!(items[0]["type"], "function_call");
    assert_eq!(items[0]["arguments"], "{\"cmd\":\"ls\"}");
    assert_eq!(items[1]["type"], "custom_tool_call");
    assert_eq!(items[2]["content"][0]["text"], "done");
    Ok(())
}

#[test]
fn turns_match_and_side_requests_do_not_consume_them() -> TestResult {
    let script = Script::from_json(
        r#"{
          "anthropic": [
            {"error": {"status": 529}, "repeat": 2},
            {"blocks": [{"type": "text", "text": "first"}]},
            {"match": "my answer", "blocks": [{"type": "text", "text": "second"}]}
          ],
          "side": [{"match_body": "Generate a title", "blocks": [{"type": "text", "text": "A title"}]}],
          "fallback_text": "generic"
        }"#,
    )?;
    let server = FakeModel::start(script)?;
    let addr = server.addr();
    let text_of = |resp: &Response| -> String {
        resp.events()
            .iter()
            .filter(|e| e.data["delta"]["type"] == "text_delta")
            .filter_map(|e| e.data["delta"]["text"].as_str().map(String::from))
            .collect()
    };
    // The error turn answers twice, with the default Anthropic error body.
    for _ in 0..2 {
        let resp = post(addr, "/v1/messages", &anthropic_request("hello"))?;
        assert_eq!(resp.status, 529);
        assert_eq!(resp.json()["error"]["type"], "overloaded_error");
    }
    // A request without tools is a side request: generic reply, no turn consumed.
    let mut side = anthropic_request("quota");
    side.as_object_mut().ok_or("object")?.remove("tools");
    let resp = post(addr, "/v1/messages", &side)?;
    assert_eq!(text_of(&resp), "generic");
    // A side rule answers what it matches.
    let mut title = side.clone();
    title["system"] = json!("Generate a title for this conversation");
    assert_eq!(text_of(&post(addr, "/v1/messages", &title)?), "A title");
    assert_eq!(
        text_of(&post(addr, "/v1/messages", &anthropic_request("hello"))?),
        "first"
    );
    // The next turn needs "my answer": other requests get the fallback and do not consume it.
    assert_eq!(
        text_of(&post(
            addr,
            "/v1/messages",
            &anthropic_request("unrelated")
        )?),
        "generic"
    );
    assert_eq!(server.remaining_turns(Api::Anthropic), 1);
    assert_eq!(
        text_of(&post(
            addr,
            "/v1/messages",
            &anthropic_request("here is my answer: yes")
        )?),
        "second"
    );
    // Exhausted: fallback.
    assert_eq!(
        text_of(&post(addr, "/v1/messages", &anthropic_request("more"))?),
        "generic"
    );
    let served: Vec<(Served, Option<usize>)> = server
        .requests()
        .iter()
        .map(|r| (r.served, r.turn))
        .collect();
    assert_eq!(
        served,
        [
            (Served::Turn, Some(0)),
            (Served::Turn, Some(0)),
            (Served::Fallback, None),
            (Served::Side, Some(0)),
            (Served::Turn, Some(1)),
            (Served::Fallback, None),
            (Served::Turn, Some(2)),
            (Served::Fallback, None),
        ]
    );
    Ok(())
}

/// Claude Code 2.1.332's request shape: the environment block is a `system` entry inside
/// `messages` (also after a tool result); 2.1.197 had it in the top-level `system` prompt.
#[test]
fn the_working_directory_is_found_and_fills_cwd_in_replies() -> TestResult {
    let script = Script::from_json(
        r#"{
          "anthropic": [
            {"blocks": [{"type": "tool_use", "name": "Write", "id": "toolu_1",
                         "input": {"file_path": "${CWD}/notes.txt", "content": "x"}}]},
            {"match": "requested permissions", "blocks": [{"type": "text", "text": "Not allowed in ${CWD}."}]},
            {"blocks": [{"type": "text", "text": "old: ${CWD}"}]}
          ],
          "openai": [
            {"blocks": [{"type": "function_call", "name": "exec_command",
                         "arguments": {"cmd": "ls", "workdir": "${CWD}"}}]},
            {"blocks": [{"type": "text", "text": "no directory: ${CWD}"}]}
          ]
        }"#,
    )?;
    let server = FakeModel::start(script)?;
    let addr = server.addr();
    let env = |path: &str| {
        json!({"role": "system", "content": [{"type": "text", "cache_control": {"type": "ephemeral"},
            "text": format!("# Environment\n - Primary working directory: {path}\n - Is a git repository: true\n")}]})
    };
    let mut first = anthropic_request("Write a release notes draft to notes.txt");
    first["messages"]
        .as_array_mut()
        .ok_or("messages")?
        .push(env("/w/repo"));
    let events = post(addr, "/v1/messages", &first)?.events();
    let input: String = events
        .iter()
        .filter_map(|e| e.data["delta"]["partial_json"].as_str().map(String::from))
        .collect();
    let input: Value = serde_json::from_str(&input)?;
    assert_eq!(input["file_path"], "/w/repo/notes.txt");

    // The tool result is followed by another system entry: the turn still sees the result.
    let mut second = first.clone();
    let messages = second["messages"].as_array_mut().ok_or("messages")?;
    messages.push(json!({"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_1", "name": "Write", "input": {}}]}));
    messages.push(json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
        "is_error": true, "content": "Claude requested permissions to write to /w/repo/notes.txt"}]}));
    messages.push(env("/w/repo"));
    let text: String = post(addr, "/v1/messages", &second)?
        .events()
        .iter()
        .filter_map(|e| e.data["delta"]["text"].as_str().map(String::from))
        .collect();
    assert_eq!(text, "Not allowed in /w/repo.");

    // 2.1.197: the block is in the top-level system prompt.
    let mut old = anthropic_request("hello");
    old["system"] = json!([{"type": "text", "text": "You are Claude Code."},
        {"type": "text", "text": "# Environment\n - Primary working directory: /old/repo\n"}]);
    let text: String = post(addr, "/v1/messages", &old)?
        .events()
        .iter()
        .filter_map(|e| e.data["delta"]["text"].as_str().map(String::from))
        .collect();
    assert_eq!(text, "old: /old/repo");

    // Codex: the environment context's <cwd>; without one the placeholder stays.
    let mut codex = openai_request("List the files");
    codex["input"].as_array_mut().ok_or("input")?.insert(
        0,
        json!({"type": "message", "role": "user", "content": [{"type": "input_text",
            "text": "<environment_context>\n  <cwd>/c/repo</cwd>\n</environment_context>"}]}),
    );
    let args = post(addr, "/v1/responses", &codex)?
        .events()
        .iter()
        .find(|e| e.name == "response.function_call_arguments.done")
        .and_then(|e| e.data["arguments"].as_str().map(String::from))
        .ok_or("function call arguments")?;
    assert_eq!(serde_json::from_str::<Value>(&args)?["workdir"], "/c/repo");
    let plain = post(addr, "/v1/responses", &openai_request("hi"))?;
    assert!(String::from_utf8_lossy(&plain.body).contains("no directory: ${CWD}"));

    let cwds: Vec<Option<String>> = server.requests().into_iter().map(|r| r.cwd).collect();
    let expected = [
        Some("/w/repo"),
        Some("/w/repo"),
        Some("/old/repo"),
        Some("/c/repo"),
        None,
    ];
    assert_eq!(cwds, expected.map(|c| c.map(String::from)));
    Ok(())
}

#[test]
fn requests_are_recorded_without_credentials() -> TestResult {
    let dir = std::env::temp_dir().join(format!("fake-model-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let record = dir.join("requests.jsonl");
    let _ = std::fs::remove_file(&record);
    let script =
        Script::from_json(r#"{"openai": [{"blocks": [{"type": "text", "text": "ok"}]}]}"#)?;
    let server = FakeModel::start_with(
        script,
        ServerOptions {
            record_file: Some(record.clone()),
            ..ServerOptions::default()
        },
    )?;
    let body = json!({"model": "m", "stream": true, "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "question?"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ask"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "the answer"}]}
    ]});
    post(server.addr(), "/v1/responses", &body)?;
    post(server.addr(), "/nope", &json!({}))?;
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let first = &requests[0];
    assert_eq!(first.api, Some(Api::Openai));
    assert_eq!(first.path, "/v1/responses");
    assert_eq!(first.body, body);
    assert_eq!(first.last_user_text.as_deref(), Some("the answer"));
    assert!(!first.headers.contains_key("authorization"));
    assert!(!first.headers.contains_key("x-api-key"));
    assert_eq!(
        first.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    assert_eq!(
        (requests[1].served, requests[1].status),
        (Served::NotFound, 404)
    );
    let text = std::fs::read_to_string(&record)?;
    let lines: Vec<Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["served"], "turn");
    assert_eq!(lines[0]["seq"], 0);
    assert!(!text.contains("secret"));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn head_and_unknown_paths_are_404_on_a_keep_alive_connection() -> TestResult {
    let server = FakeModel::start(Script::default())?;
    let stream = connect(server.addr())?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    writer.write_all(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let head = read_response(&mut reader, true)?;
    assert_eq!(head.status, 404);
    assert_eq!(head.header("connection"), Some("keep-alive"));
    writer.write_all(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let get = read_response(&mut reader, false)?;
    assert_eq!(get.status, 404);
    assert_eq!(get.json()["type"], "error");
    // count_tokens is answered; a chunked request body is accepted.
    let body = anthropic_request("count me").to_string();
    let (a, b) = body.split_at(body.len() / 2);
    write!(
        writer,
        "POST /v1/messages/count_tokens?beta=true HTTP/1.1\r\nHost: x\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    )?;
    let count = read_response(&mut reader, false)?;
    assert_eq!(count.status, 200);
    assert!(count.json()["input_tokens"].as_u64().unwrap_or(0) > 0);
    // The last request of the connection.
    writer.write_all(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nnope!")?;
    let bad = read_response(&mut reader, false)?;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.header("connection"), Some("close"));
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest)?;
    assert!(rest.is_empty());
    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    assert_eq!(requests[2].served, Served::CountTokens);
    assert_eq!(requests[2].body, anthropic_request("count me"));
    assert_eq!(requests[3].served, Served::BadRequest);
    Ok(())
}

#[test]
fn plain_json_and_in_stream_errors() -> TestResult {
    let script = Script::from_json(
        r#"{"anthropic": [{"blocks": [{"type": "text", "text": "plain"}]},
                          {"error": {"in_stream": true}}],
            "openai": [{"error": {"status": 429, "headers": {"Retry-After": "0"}}},
                       {"error": {"in_stream": true, "body": {"error": {"message": "boom", "code": "server_error"}}}}]}"#,
    )?;
    let server = FakeModel::start(script)?;
    let addr = server.addr();
    let mut plain = anthropic_request("x");
    plain["stream"] = json!(false);
    let resp = post(addr, "/v1/messages", &plain)?;
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.json()["content"][0]["text"], "plain");
    let failing = post(addr, "/v1/messages", &anthropic_request("x"))?;
    assert_eq!(failing.status, 200);
    assert_eq!(names(&failing.events()), ["message_start", "error"]);

    let limited = post(addr, "/v1/responses", &openai_request("x"))?;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("0"));
    assert_eq!(limited.json()["error"]["code"], "rate_limit_exceeded");
    let failed = post(addr, "/v1/responses", &openai_request("x"))?;
    let events = failed.events();
    assert_eq!(names(&events), ["response.created", "response.failed"]);
    assert_eq!(events[1].data["response"]["error"]["message"], "boom");
    Ok(())
}

#[test]
fn connections_and_waits_are_bounded() -> TestResult {
    let server = FakeModel::start_with(
        Script::default(),
        ServerOptions {
            read_timeout: Duration::from_millis(300),
            max_connections: 2,
            ..ServerOptions::default()
        },
    )?;
    // An idle connection is closed by the server after the read timeout.
    let idle = connect(server.addr())?;
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let n = (&idle).read(&mut buf)?;
    assert_eq!(n, 0);
    assert!(started.elapsed() < Duration::from_secs(5));

    // A request that never finishes its head is dropped too.
    let mut slow = connect(server.addr())?;
    slow.write_all(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n")?;
    assert_eq!((&slow).read(&mut buf)?, 0);

    // Oversized heads get a 400.
    let mut big = connect(server.addr())?;
    let huge = "a".repeat(codecafe_fake_model::http::MAX_HEAD_BYTES + 1);
    let _ = write!(big, "GET / HTTP/1.1\r\nX: {huge}\r\n\r\n");
    let resp = read_response(&mut BufReader::new(big), false)?;
    assert_eq!(resp.status, 400);

    server.shutdown();

    // Beyond max_connections the server answers 503 at once. A server whose connections stay
    // open long enough: with the short timeout above, a slow test machine could see the first
    // two closed before the third arrives.
    let server = FakeModel::start_with(
        Script::default(),
        ServerOptions {
            read_timeout: Duration::from_secs(30),
            max_connections: 2,
            ..ServerOptions::default()
        },
    )?;
    let _a = connect(server.addr())?;
    let _b = connect(server.addr())?;
    let extra = connect(server.addr())?;
    let resp = read_response(&mut BufReader::new(extra), false)?;
    assert_eq!(resp.status, 503);

    // Shutdown does not wait for open connections.
    let started = Instant::now();
    server.shutdown();
    assert!(started.elapsed() < Duration::from_secs(2));
    Ok(())
}

#[test]
fn binary_prints_its_port_records_and_exits_on_stdin_eof() -> TestResult {
    let dir = std::env::temp_dir().join(format!("fake-model-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let script = dir.join("script.json");
    let record = dir.join("record.jsonl");
    std::fs::write(
        &script,
        r#"{"anthropic": [{"blocks": [{"type": "text", "text": "in ${DIR}"}]}]}"#,
    )?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-model-server"))
        .args([
            "--script",
            &script.to_string_lossy(),
            "--port",
            "0",
            "--quiet",
        ])
        .args(["--record", &record.to_string_lossy(), "--var", "DIR=/tmp/x"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first)?;
    let port: u16 = first
        .trim()
        .strip_prefix("listening on 127.0.0.1:")
        .ok_or("bad first line")?
        .parse()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let resp = post(addr, "/v1/messages", &anthropic_request("hi"))?;
    let text: String = resp
        .events()
        .iter()
        .filter_map(|e| e.data["delta"]["text"].as_str().map(String::from))
        .collect();
    assert_eq!(text, "in /tmp/x");
    drop(child.stdin.take());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > Duration::from_secs(10) {
            child.kill()?;
            return Err("server did not exit on stdin EOF".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(&record)?.lines().count(), 1);

    // --idle-timeout ends it too (stdin ignored).
    let mut idle = Command::new(env!("CARGO_BIN_EXE_fake-model-server"))
        .args(["--idle-timeout", "1", "--ignore-stdin", "--quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = idle.try_wait()? {
            break status;
        }
        if started.elapsed() > Duration::from_secs(10) {
            idle.kill()?;
            return Err("server did not exit after the idle timeout".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    assert!(started.elapsed() >= Duration::from_millis(900));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
