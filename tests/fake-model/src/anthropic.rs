//! The Anthropic Messages API (`POST /v1/messages`): reading requests and rendering replies as
//! a streaming SSE sequence or a plain JSON message.

use serde_json::{Map, Value, json};

use crate::ids::IdGen;
use crate::script::{Block, ErrorReply, Turn, Usage};
use crate::sse::{SseEvent, estimate_tokens, split_deltas};

/// The last user input: the `user` messages after the last `assistant` message (their text
/// blocks and the content of their `tool_result` blocks), joined with newlines.
///
/// `system` entries are skipped wherever they are: Claude Code 2.1.332 puts its environment
/// block ("Primary working directory: …", git status) in `{"role": "system"}` entries inside
/// `messages`, after the first prompt and also right after a tool result, so the last message
/// of a request is not always the user's. They are the agent's context, not the user's input.
pub fn last_user_text(body: &Value) -> String {
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return String::new();
    };
    fn role(message: &Value) -> Option<&str> {
        message.get("role").and_then(Value::as_str)
    }
    let start = messages
        .iter()
        .rposition(|m| role(m) == Some("assistant"))
        .map_or(0, |i| i + 1);
    let mut parts = Vec::new();
    for message in messages[start..].iter().filter(|m| role(m) == Some("user")) {
        collect_text(message.get("content"), &mut parts);
    }
    parts.join("\n")
}

fn collect_text(content: Option<&Value>, parts: &mut Vec<String>) {
    match content {
        Some(Value::String(s)) => parts.push(s.clone()),
        Some(Value::Array(blocks)) => {
            for block in blocks {
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        if let Some(t) = block.get("text").and_then(Value::as_str) {
                            parts.push(t.to_string());
                        }
                    }
                    Some("tool_result") => collect_text(block.get("content"), parts),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// Whether a request looks like a side request rather than an agent turn: Claude Code's agent
/// loop always sends its `tools`, while title generation, quota probes and similar helpers
/// send none.
pub fn looks_like_side_request(body: &Value) -> bool {
    body.get("tools")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
}

/// What a rendered reply needs besides the turn.
pub struct ReplyContext<'a> {
    /// Model name to report.
    pub model: String,
    /// Size of the request body, for usage estimates.
    pub request_bytes: usize,
    /// Id generator.
    pub ids: &'a IdGen,
}

fn tool_input(block: &Block) -> Option<(String, Value, Option<String>)> {
    match block {
        Block::ToolUse { name, input, id } => Some((name.clone(), input.clone(), id.clone())),
        Block::FunctionCall {
            name,
            arguments,
            call_id,
        } => {
            let input = match arguments {
                Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| json!({})),
                other => other.clone(),
            };
            Some((name.clone(), input, call_id.clone()))
        }
        Block::CustomToolCall {
            name,
            input,
            call_id,
        } => Some((name.clone(), json!({ "input": input }), call_id.clone())),
        Block::Text { .. } | Block::Thinking { .. } => None,
    }
}

/// A fully resolved content block (ids and signatures filled in).
fn resolve_blocks(turn: &Turn, ids: &IdGen) -> Vec<Value> {
    turn.blocks
        .iter()
        .map(|block| match block {
            Block::Text { text } => json!({ "type": "text", "text": text }),
            Block::Thinking {
                thinking,
                signature,
            } => json!({
                "type": "thinking",
                "thinking": thinking,
                "signature": signature.clone().unwrap_or_else(|| fake_signature(thinking)),
            }),
            other => {
                let (name, input, id) = tool_input(other).unwrap_or_default();
                json!({
                    "type": "tool_use",
                    "id": id.unwrap_or_else(|| ids.next("toolu")),
                    "name": name,
                    "input": input,
                })
            }
        })
        .collect()
}

fn fake_signature(thinking: &str) -> String {
    format!("fake-signature-{:x}", thinking.len())
}

fn stop_reason(turn: &Turn, blocks: &[Value]) -> String {
    turn.stop_reason.clone().unwrap_or_else(|| {
        if blocks
            .iter()
            .any(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"))
        {
            "tool_use".into()
        } else {
            "end_turn".into()
        }
    })
}

fn usage_for(turn: &Turn, ctx: &ReplyContext<'_>, blocks: &[Value]) -> Usage {
    turn.usage.clone().unwrap_or_else(|| Usage {
        input_tokens: estimate_tokens(ctx.request_bytes),
        output_tokens: estimate_tokens(blocks.iter().map(|b| b.to_string().len()).sum()),
        ..Usage::default()
    })
}

fn usage_json(usage: &Usage, output_tokens: u64) -> Value {
    json!({
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cached_input_tokens,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    })
}

/// The SSE events of a streamed reply: `message_start`, per block `content_block_start` /
/// `content_block_delta`s / `content_block_stop`, `message_delta` with `stop_reason` and final
/// usage, `message_stop`.
pub fn stream_events(turn: &Turn, ctx: &ReplyContext<'_>) -> Vec<SseEvent> {
    let blocks = resolve_blocks(turn, ctx.ids);
    let usage = usage_for(turn, ctx, &blocks);
    let message_id = ctx.ids.next("msg");
    let mut events = vec![SseEvent::new(
        "message_start",
        json!({
            "type": "message_start",
            "message": {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": ctx.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": usage_json(&usage, 1),
            }
        }),
    )];
    for (index, block) in blocks.iter().enumerate() {
        let kind = block.get("type").and_then(Value::as_str).unwrap_or("text");
        let (start, deltas): (Value, Vec<Value>) = match kind {
            "thinking" => {
                let thinking = block.get("thinking").and_then(Value::as_str).unwrap_or("");
                let signature = block.get("signature").cloned().unwrap_or(Value::Null);
                let mut deltas: Vec<Value> = split_deltas(thinking)
                    .into_iter()
                    .map(|t| json!({ "type": "thinking_delta", "thinking": t }))
                    .collect();
                deltas.push(json!({ "type": "signature_delta", "signature": signature }));
                (
                    json!({ "type": "thinking", "thinking": "", "signature": "" }),
                    deltas,
                )
            }
            "tool_use" => {
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                let deltas = split_deltas(&input.to_string())
                    .into_iter()
                    .map(|p| json!({ "type": "input_json_delta", "partial_json": p }))
                    .collect();
                (
                    json!({
                        "type": "tool_use",
                        "id": block.get("id"),
                        "name": block.get("name"),
                        "input": {},
                    }),
                    deltas,
                )
            }
            _ => {
                let text = block.get("text").and_then(Value::as_str).unwrap_or("");
                let deltas = split_deltas(text)
                    .into_iter()
                    .map(|t| json!({ "type": "text_delta", "text": t }))
                    .collect();
                (json!({ "type": "text", "text": "" }), deltas)
            }
        };
        events.push(SseEvent::new(
            "content_block_start",
            json!({ "type": "content_block_start", "index": index, "content_block": start }),
        ));
        if index == 0 {
            events.push(SseEvent::new("ping", json!({ "type": "ping" })));
        }
        for delta in deltas {
            events.push(SseEvent::new(
                "content_block_delta",
                json!({ "type": "content_block_delta", "index": index, "delta": delta }),
            ));
        }
        events.push(SseEvent::new(
            "content_block_stop",
            json!({ "type": "content_block_stop", "index": index }),
        ));
    }
    events.push(SseEvent::new(
        "message_delta",
        json!({
            "type": "message_delta",
            "delta": { "stop_reason": stop_reason(turn, &blocks), "stop_sequence": null },
            "usage": usage_json(&usage, usage.output_tokens),
        }),
    ));
    events.push(SseEvent::new(
        "message_stop",
        json!({ "type": "message_stop" }),
    ));
    events
}

/// The non-streaming reply: one complete `message` object.
pub fn message_json(turn: &Turn, ctx: &ReplyContext<'_>) -> Value {
    let blocks = resolve_blocks(turn, ctx.ids);
    let usage = usage_for(turn, ctx, &blocks);
    json!({
        "id": ctx.ids.next("msg"),
        "type": "message",
        "role": "assistant",
        "model": ctx.model,
        "content": blocks,
        "stop_reason": stop_reason(turn, &blocks),
        "stop_sequence": null,
        "usage": usage_json(&usage, usage.output_tokens),
    })
}

/// The default error body for a status, in the Anthropic error format.
pub fn default_error_body(status: u16) -> Value {
    let (kind, message) = match status {
        400 => ("invalid_request_error", "Invalid request"),
        401 => ("authentication_error", "invalid x-api-key"),
        403 => ("permission_error", "Permission denied"),
        404 => ("not_found_error", "Not found"),
        413 => ("request_too_large", "Request too large"),
        429 => ("rate_limit_error", "Rate limited"),
        529 => ("overloaded_error", "Overloaded"),
        _ => ("api_error", "Internal server error"),
    };
    json!({ "type": "error", "error": { "type": kind, "message": message } })
}

/// The error body of an error turn (scripted or default).
pub fn error_body(error: &ErrorReply) -> Value {
    error
        .body
        .clone()
        .unwrap_or_else(|| default_error_body(error.status))
}

/// A stream that starts normally and then fails with an `error` event.
pub fn in_stream_error_events(error: &ErrorReply, ctx: &ReplyContext<'_>) -> Vec<SseEvent> {
    let usage = Usage {
        input_tokens: estimate_tokens(ctx.request_bytes),
        ..Usage::default()
    };
    vec![
        SseEvent::new(
            "message_start",
            json!({
                "type": "message_start",
                "message": {
                    "id": ctx.ids.next("msg"), "type": "message", "role": "assistant",
                    "model": ctx.model, "content": [], "stop_reason": null,
                    "stop_sequence": null, "usage": usage_json(&usage, 1),
                }
            }),
        ),
        SseEvent::new("error", error_body(error)),
    ]
}

/// The reply of `POST /v1/messages/count_tokens`.
pub fn count_tokens(request_bytes: usize) -> Value {
    let mut map = Map::new();
    map.insert(
        "input_tokens".into(),
        Value::from(estimate_tokens(request_bytes)),
    );
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::parse_stream;

    fn ctx(ids: &IdGen) -> ReplyContext<'_> {
        ReplyContext {
            model: "claude-test".into(),
            request_bytes: 400,
            ids,
        }
    }

    #[test]
    fn last_user_text_reads_strings_blocks_and_tool_results() {
        let body = json!({"messages": [
            {"role": "user", "content": "first"},
            {"role": "system", "content": "ignored"},
            {"role": "assistant", "content": [{"type": "text", "text": "a"}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "File created"}]},
                {"type": "tool_result", "tool_use_id": "u", "content": "exit 0"},
                {"type": "text", "text": "<system-reminder>x</system-reminder>"}
            ]},
            {"role": "system", "content": "also ignored"}
        ]});
        assert_eq!(
            last_user_text(&body),
            "File created\nexit 0\n<system-reminder>x</system-reminder>"
        );
        assert_eq!(last_user_text(&json!({})), "");
        assert!(looks_like_side_request(&json!({"messages": []})));
        assert!(!looks_like_side_request(
            &json!({"tools": [{"name": "Bash"}]})
        ));
    }

    /// The request shapes of Claude Code 2.1.332: the environment block is a `system` entry
    /// after the prompt, and again after a tool result.
    #[test]
    fn last_user_text_skips_the_system_entries_of_2_1_332() {
        let env = |path: &str| {
            json!({"role": "system", "content": [{"type": "text", "cache_control": {"type": "ephemeral"},
                "text": format!("# Environment\n - Primary working directory: {path}\n")}]})
        };
        let first = json!({"messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "<system-reminder>context</system-reminder>"},
                {"type": "text", "text": "Write a release notes draft to notes.txt"}]},
            env("/w")
        ]});
        let text = last_user_text(&first);
        assert!(
            text.ends_with("Write a release notes draft to notes.txt"),
            "{text}"
        );
        assert!(!text.contains("Primary working directory"), "{text}");
        let after_tool = json!({"messages": [
            {"role": "user", "content": "Write notes.txt"},
            env("/w"),
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Write", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                "content": "Claude requested permissions to write to /w/notes.txt", "is_error": true}]},
            env("/w")
        ]});
        assert_eq!(
            last_user_text(&after_tool),
            "Claude requested permissions to write to /w/notes.txt"
        );
        // A request whose only message after the assistant's is a system entry has no user input.
        let only_system = json!({"messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            env("/w")
        ]});
        assert_eq!(last_user_text(&only_system), "");
    }

    #[test]
    fn stream_has_the_messages_api_shape() {
        let ids = IdGen::new();
        let turn = Turn {
            blocks: vec![
                Block::Thinking {
                    thinking: "Let me think about this.".into(),
                    signature: None,
                },
                Block::Text {
                    text: "Writing the file now.".into(),
                },
                Block::ToolUse {
                    name: "Write".into(),
                    input: json!({"file_path": "/tmp/x", "content": "hello\n"}),
                    id: None,
                },
            ],
            ..Turn::default()
        };
        let events = stream_events(&turn, &ctx(&ids));
        let wire: String = events.iter().map(SseEvent::frame).collect();
        let parsed = parse_stream(&wire);
        let names: Vec<&str> = parsed.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names.first(), Some(&"message_start"));
        assert_eq!(names.last(), Some(&"message_stop"));
        assert_eq!(
            names
                .iter()
                .filter(|n| **n == "content_block_start")
                .count(),
            3
        );
        assert_eq!(
            names.iter().filter(|n| **n == "content_block_stop").count(),
            3
        );
        // Every event's data carries its own name as `type`.
        assert!(parsed.iter().all(|e| e.data["type"] == e.name.as_str()));
        // Tool input reassembles from the partial JSON deltas.
        let partial: String = parsed
            .iter()
            .filter(|e| e.data["index"] == 2 && e.data["delta"]["type"] == "input_json_delta")
            .filter_map(|e| e.data["delta"]["partial_json"].as_str().map(String::from))
            .collect();
        let input: Value = serde_json::from_str(&partial).unwrap_or_default();
        assert_eq!(input["content"], "hello\n");
        let delta = parsed.iter().find(|e| e.name == "message_delta");
        assert_eq!(
            delta.map(|e| e.data["delta"]["stop_reason"].clone()),
            Some(json!("tool_use"))
        );
        assert!(
            parsed
                .iter()
                .any(|e| e.data["delta"]["type"] == "signature_delta")
        );
    }

    #[test]
    fn message_json_and_errors() {
        let ids = IdGen::new();
        let msg = message_json(&Turn::text("hi"), &ctx(&ids));
        assert_eq!(msg["content"][0]["text"], "hi");
        assert_eq!(msg["stop_reason"], "end_turn");
        assert_eq!(default_error_body(529)["error"]["type"], "overloaded_error");
        assert_eq!(count_tokens(8)["input_tokens"], 2);
    }
}
