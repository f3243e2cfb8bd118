//! The OpenAI Responses API (`POST /v1/responses`): reading requests and rendering replies as
//! a streaming SSE sequence or a plain JSON response object.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::anthropic::ReplyContext;
use crate::script::{Block, ErrorReply, Turn, Usage};
use crate::sse::{SseEvent, estimate_tokens, split_deltas};

fn is_model_output(item: &Value) -> bool {
    match item.get("type").and_then(Value::as_str) {
        Some("message") | None => item.get("role").and_then(Value::as_str) == Some("assistant"),
        Some(kind) => matches!(
            kind,
            "function_call"
                | "custom_tool_call"
                | "reasoning"
                | "local_shell_call"
                | "web_search_call"
                | "tool_search_call"
        ),
    }
}

fn content_text(content: Option<&Value>, parts: &mut Vec<String>) {
    match content {
        Some(Value::String(s)) => parts.push(s.clone()),
        Some(Value::Array(items)) => {
            for item in items {
                if let Some(t) = item.get("text").and_then(Value::as_str) {
                    parts.push(t.to_string());
                }
            }
        }
        _ => {}
    }
}

/// The trailing user input of a request: the texts of the `input` items after the last item
/// the model produced (user / developer messages, `function_call_output` and
/// `custom_tool_call_output` outputs), in order, joined with newlines. A string `input` is
/// returned as is.
pub fn last_user_text(body: &Value) -> String {
    let items = match body.get("input") {
        Some(Value::String(s)) => return s.clone(),
        Some(Value::Array(items)) => items,
        _ => return String::new(),
    };
    let start = items.iter().rposition(is_model_output).map_or(0, |i| i + 1);
    let mut parts = Vec::new();
    for item in &items[start..] {
        match item.get("type").and_then(Value::as_str) {
            Some("function_call_output") | Some("custom_tool_call_output") => {
                content_text(item.get("output"), &mut parts);
            }
            _ => content_text(item.get("content"), &mut parts),
        }
    }
    parts.join("\n")
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// One output item with the events that stream it (between `output_item.added` and
/// `output_item.done`).
struct ItemPlan {
    added: Value,
    done: Value,
    middle: Vec<(String, Value)>,
}

fn plan_item(block: &Block, ctx: &ReplyContext<'_>) -> ItemPlan {
    match block {
        Block::Text { text } => {
            let id = ctx.ids.next("msg");
            let mut middle = vec![(
                "response.content_part.added".to_string(),
                json!({ "content_index": 0, "item_id": id,
                        "part": { "type": "output_text", "text": "", "annotations": [] } }),
            )];
            for delta in split_deltas(text) {
                middle.push((
                    "response.output_text.delta".into(),
                    json!({ "content_index": 0, "item_id": id, "delta": delta, "logprobs": [] }),
                ));
            }
            middle.push((
                "response.output_text.done".into(),
                json!({ "content_index": 0, "item_id": id, "text": text, "logprobs": [] }),
            ));
            let part = json!({ "type": "output_text", "text": text, "annotations": [] });
            middle.push((
                "response.content_part.done".into(),
                json!({ "content_index": 0, "item_id": id, "part": part }),
            ));
            ItemPlan {
                added: json!({ "id": id, "type": "message", "status": "in_progress",
                               "role": "assistant", "content": [] }),
                done: json!({ "id": id, "type": "message", "status": "completed",
                              "role": "assistant", "content": [part] }),
                middle,
            }
        }
        Block::Thinking { thinking, .. } => {
            let id = ctx.ids.next("rs");
            let mut middle = vec![(
                "response.reasoning_summary_part.added".to_string(),
                json!({ "item_id": id, "summary_index": 0,
                        "part": { "type": "summary_text", "text": "" } }),
            )];
            for delta in split_deltas(thinking) {
                middle.push((
                    "response.reasoning_summary_text.delta".into(),
                    json!({ "item_id": id, "summary_index": 0, "delta": delta }),
                ));
            }
            middle.push((
                "response.reasoning_summary_text.done".into(),
                json!({ "item_id": id, "summary_index": 0, "text": thinking }),
            ));
            let part = json!({ "type": "summary_text", "text": thinking });
            middle.push((
                "response.reasoning_summary_part.done".into(),
                json!({ "item_id": id, "summary_index": 0, "part": part }),
            ));
            ItemPlan {
                added: json!({ "id": id, "type": "reasoning", "summary": [] }),
                done: json!({ "id": id, "type": "reasoning", "summary": [part] }),
                middle,
            }
        }
        Block::FunctionCall {
            name,
            arguments,
            call_id,
        } => {
            let arguments = match arguments {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            function_call_plan(ctx, name, &arguments, call_id.clone())
        }
        Block::ToolUse { name, input, id } => {
            function_call_plan(ctx, name, &input.to_string(), id.clone())
        }
        Block::CustomToolCall {
            name,
            input,
            call_id,
        } => {
            let id = ctx.ids.next("ctc");
            let call_id = call_id.clone().unwrap_or_else(|| ctx.ids.next("call"));
            let mut middle = Vec::new();
            for delta in split_deltas(input) {
                middle.push((
                    "response.custom_tool_call_input.delta".to_string(),
                    json!({ "item_id": id, "delta": delta }),
                ));
            }
            middle.push((
                "response.custom_tool_call_input.done".into(),
                json!({ "item_id": id, "input": input }),
            ));
            ItemPlan {
                added: json!({ "id": id, "type": "custom_tool_call", "status": "in_progress",
                               "call_id": call_id, "name": name, "input": "" }),
                done: json!({ "id": id, "type": "custom_tool_call", "status": "completed",
                              "call_id": call_id, "name": name, "input": input }),
                middle,
            }
        }
    }
}

fn function_call_plan(
    ctx: &ReplyContext<'_>,
    name: &str,
    arguments: &str,
    call_id: Option<String>,
) -> ItemPlan {
    let id = ctx.ids.next("fc");
    let call_id = call_id.unwrap_or_else(|| ctx.ids.next("call"));
    let mut middle = Vec::new();
    for delta in split_deltas(arguments) {
        middle.push((
            "response.function_call_arguments.delta".to_string(),
            json!({ "item_id": id, "delta": delta }),
        ));
    }
    middle.push((
        "response.function_call_arguments.done".into(),
        json!({ "item_id": id, "arguments": arguments }),
    ));
    ItemPlan {
        added: json!({ "id": id, "type": "function_call", "status": "in_progress",
                       "call_id": call_id, "name": name, "arguments": "" }),
        done: json!({ "id": id, "type": "function_call", "status": "completed",
                      "call_id": call_id, "name": name, "arguments": arguments }),
        middle,
    }
}

fn usage_json(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.input_tokens + usage.cached_input_tokens,
        "input_tokens_details": { "cached_tokens": usage.cached_input_tokens },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": { "reasoning_tokens": usage.reasoning_output_tokens },
        "total_tokens": usage.input_tokens + usage.cached_input_tokens + usage.output_tokens,
    })
}

fn response_object(
    id: &str,
    created_at: u64,
    ctx: &ReplyContext<'_>,
    status: &str,
    output: Vec<Value>,
    usage: Option<&Usage>,
) -> Value {
    json!({
        "id": id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": null,
        "incomplete_details": null,
        "model": ctx.model,
        "output": output,
        "parallel_tool_calls": false,
        "usage": usage.map(usage_json),
    })
}

struct Sequencer {
    events: Vec<SseEvent>,
}

impl Sequencer {
    fn push(&mut self, name: &str, mut data: Value) {
        if let Some(map) = data.as_object_mut() {
            map.insert("type".into(), Value::from(name));
            map.insert("sequence_number".into(), Value::from(self.events.len()));
        }
        self.events.push(SseEvent::new(name, data));
    }
}

/// The SSE events of a streamed reply: `response.created`, `response.in_progress`, per item
/// `response.output_item.added` / its deltas / `response.output_item.done`, and
/// `response.completed` with the whole output and usage.
///
/// Semantics of the reported usage follow the Responses API: `input_tokens` includes the
/// cached tokens (`input_tokens_details.cached_tokens`), so a script's `input_tokens` is the
/// *uncached* count and the wire value is `input_tokens + cached_input_tokens`.
pub fn stream_events(turn: &Turn, ctx: &ReplyContext<'_>) -> Vec<SseEvent> {
    let id = ctx.ids.next("resp");
    let created_at = now_secs();
    let mut seq = Sequencer { events: Vec::new() };
    let start = response_object(&id, created_at, ctx, "in_progress", Vec::new(), None);
    seq.push("response.created", json!({ "response": start }));
    seq.push("response.in_progress", json!({ "response": start }));
    let mut output = Vec::new();
    let mut output_bytes = 0;
    for (index, block) in turn.blocks.iter().enumerate() {
        let plan = plan_item(block, ctx);
        seq.push(
            "response.output_item.added",
            json!({ "output_index": index, "item": plan.added }),
        );
        for (name, mut data) in plan.middle {
            if let Some(map) = data.as_object_mut() {
                map.insert("output_index".into(), Value::from(index));
            }
            seq.push(&name, data);
        }
        output_bytes += plan.done.to_string().len();
        seq.push(
            "response.output_item.done",
            json!({ "output_index": index, "item": plan.done }),
        );
        output.push(plan.done);
    }
    let usage = turn.usage.clone().unwrap_or_else(|| Usage {
        input_tokens: estimate_tokens(ctx.request_bytes),
        output_tokens: estimate_tokens(output_bytes),
        ..Usage::default()
    });
    let done = response_object(&id, created_at, ctx, "completed", output, Some(&usage));
    seq.push("response.completed", json!({ "response": done }));
    seq.events
}

/// The non-streaming reply: the final response object.
pub fn response_json(turn: &Turn, ctx: &ReplyContext<'_>) -> Value {
    let events = stream_events(turn, ctx);
    events
        .into_iter()
        .rev()
        .find(|e| e.name == "response.completed")
        .map(|e| e.data["response"].clone())
        .unwrap_or(Value::Null)
}

/// The default error body for a status, in the OpenAI error format.
pub fn default_error_body(status: u16) -> Value {
    let (kind, code, message) = match status {
        400 => (
            "invalid_request_error",
            "invalid_request",
            "Invalid request",
        ),
        401 => (
            "invalid_request_error",
            "invalid_api_key",
            "Incorrect API key",
        ),
        429 => (
            "rate_limit_error",
            "rate_limit_exceeded",
            "Rate limit reached",
        ),
        503 => (
            "server_error",
            "server_overloaded",
            "The server is overloaded",
        ),
        _ => ("server_error", "server_error", "The server had an error"),
    };
    json!({ "error": { "message": message, "type": kind, "param": null, "code": code } })
}

/// The error body of an error turn (scripted or default).
pub fn error_body(error: &ErrorReply) -> Value {
    error
        .body
        .clone()
        .unwrap_or_else(|| default_error_body(error.status))
}

/// A stream that starts normally and then ends with `response.failed`.
pub fn in_stream_error_events(error: &ErrorReply, ctx: &ReplyContext<'_>) -> Vec<SseEvent> {
    let id = ctx.ids.next("resp");
    let created_at = now_secs();
    let mut seq = Sequencer { events: Vec::new() };
    let start = response_object(&id, created_at, ctx, "in_progress", Vec::new(), None);
    seq.push("response.created", json!({ "response": start }));
    let body = error_body(error);
    let mut failed = response_object(&id, created_at, ctx, "failed", Vec::new(), None);
    if let Some(map) = failed.as_object_mut() {
        map.insert(
            "error".into(),
            body.get("error").cloned().unwrap_or(body.clone()),
        );
    }
    seq.push("response.failed", json!({ "response": failed }));
    seq.events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::IdGen;
    use crate::sse::parse_stream;

    #[test]
    fn last_user_text_takes_trailing_inputs() {
        let body = json!({"input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "dev"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "do it"}]},
            {"type": "function_call", "name": "exec_command", "arguments": "{}", "call_id": "c1"},
            {"type": "function_call_output", "call_id": "c1", "output": "Process exited with code 0"},
            {"type": "custom_tool_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "Success."}]}
        ]});
        assert_eq!(
            last_user_text(&body),
            "Process exited with code 0\nSuccess."
        );
        assert_eq!(last_user_text(&json!({"input": "plain"})), "plain");
        let first = json!({"input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "b"}]}
        ]});
        assert_eq!(last_user_text(&first), "a\nb");
    }

    #[test]
    fn stream_has_the_responses_api_shape() {
        let ids = IdGen::new();
        let ctx = ReplyContext {
            model: "gpt-test".into(),
            request_bytes: 100,
            ids: &ids,
        };
        let turn = Turn {
            blocks: vec![
                Block::Thinking {
                    thinking: "plan".into(),
                    signature: None,
                },
                Block::FunctionCall {
                    name: "exec_command".into(),
                    arguments: json!({"cmd": "ls -la"}),
                    call_id: None,
                },
                Block::CustomToolCall {
                    name: "apply_patch".into(),
                    input: "*** Begin Patch\n*** End Patch\n".into(),
                    call_id: Some("call_x".into()),
                },
                Block::Text {
                    text: "done".into(),
                },
            ],
            usage: Some(Usage {
                input_tokens: 10,
                output_tokens: 5,
                cached_input_tokens: 90,
                ..Usage::default()
            }),
            ..Turn::default()
        };
        let events = stream_events(&turn, &ctx);
        let wire: String = events.iter().map(SseEvent::frame).collect();
        let parsed = parse_stream(&wire);
        assert_eq!(parsed[0].name, "response.created");
        for (i, e) in parsed.iter().enumerate() {
            assert_eq!(e.data["type"], e.name.as_str());
            assert_eq!(e.data["sequence_number"], i);
        }
        let done: Vec<&Value> = parsed
            .iter()
            .filter(|e| e.name == "response.output_item.done")
            .map(|e| &e.data["item"])
            .collect();
        assert_eq!(done.len(), 4);
        assert_eq!(done[1]["arguments"], "{\"cmd\":\"ls -la\"}");
        assert_eq!(done[2]["call_id"], "call_x");
        assert_eq!(done[3]["content"][0]["text"], "done");
        let completed = parsed.last().map(|e| e.data.clone()).unwrap_or_default();
        assert_eq!(completed["type"], "response.completed");
        assert_eq!(completed["response"]["usage"]["input_tokens"], 100);
        assert_eq!(
            completed["response"]["usage"]["input_tokens_details"]["cached_tokens"],
            90
        );
        assert_eq!(
            completed["response"]["output"].as_array().map(Vec::len),
            Some(4)
        );
        assert_eq!(response_json(&turn, &ctx)["status"], "completed");
    }
}
