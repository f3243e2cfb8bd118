//! JSON-RPC over stdio, one message per line — the framing of Codex's `app-server` and of the
//! Agent Client Protocol (ACP) — so an adapter for such an agent only maps methods to events.
//!
//! [`Message::parse`] sorts a line into a request (the agent asks the client: a permission, a
//! file), a notification (progress) or a response (to what the adapter sent), and the
//! [`Dialect`] writes lines the way the agent expects them (`"jsonrpc": "2.0"` for ACP, none for
//! Codex). The adapter keeps its own conversation state; replies go into
//! [`OutputBatch::replies`](crate::OutputBatch).
//!
//! ```
//! use codecafe_sdk::jsonrpc::{Dialect, Message};
//! use serde_json::json;
//!
//! let rpc = Dialect::JsonRpc2;
//! let hello = rpc.request(1, "initialize", &json!({"protocolVersion": 1}));
//! assert!(hello.ends_with(b"\n"));
//! match Message::parse(r#"{"jsonrpc":"2.0","id":7,"method":"fs/read_text_file","params":{}}"#) {
//!     Some(Message::Request { id, method, .. }) => {
//!         let refusal = rpc.method_not_found(&id, &method);
//!         assert!(String::from_utf8_lossy(&refusal).contains("-32601"));
//!     }
//!     other => panic!("{other:?}"),
//! }
//! ```

use serde_json::{Value, json};

/// JSON-RPC's "method not found": the answer to a request the adapter does not serve.
pub const METHOD_NOT_FOUND: i64 = -32601;

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// JSON-RPC 2.0: every message carries `"jsonrpc": "2.0"` (ACP).
    #[default]
    JsonRpc2,
    /// The same shapes without the `jsonrpc` field (Codex's `app-server`).
    Bare,
}

impl Dialect {
    /// A request the adapter sends.
    pub fn request(self, id: impl Into<Value>, method: &str, params: &Value) -> Vec<u8> {
        self.line(json!({"id": id.into(), "method": method, "params": params}))
    }

    /// A notification the adapter sends (no answer expected).
    pub fn notification(self, method: &str, params: Option<&Value>) -> Vec<u8> {
        let mut message = json!({"method": method});
        if let Some(params) = params {
            message["params"] = params.clone();
        }
        self.line(message)
    }

    /// The answer to the agent's request `id`.
    pub fn result(self, id: &Value, result: &Value) -> Vec<u8> {
        self.line(json!({"id": id, "result": result}))
    }

    /// An error answer to the agent's request `id`.
    pub fn error(self, id: &Value, code: i64, message: &str) -> Vec<u8> {
        self.line(json!({"id": id, "error": {"code": code, "message": message}}))
    }

    /// The answer to a request the adapter does not serve (`fs/write_text_file` although the
    /// client said it has no file system, …): the agent carries on.
    pub fn method_not_found(self, id: &Value, method: &str) -> Vec<u8> {
        self.error(
            id,
            METHOD_NOT_FOUND,
            &format!("codecafe does not handle `{method}`"),
        )
    }

    /// `message` as one line, in this dialect.
    pub fn line(self, mut message: Value) -> Vec<u8> {
        if self == Self::JsonRpc2
            && let Value::Object(map) = &mut message
        {
            map.insert("jsonrpc".to_owned(), Value::String("2.0".to_owned()));
        }
        let mut bytes = message.to_string().into_bytes();
        bytes.push(b'\n');
        bytes
    }
}

/// One message the agent wrote.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// The agent asks the client something; answer with the same `id`.
    Request {
        /// Its id (a number or a string), echoed in the answer.
        id: Value,
        /// The method.
        method: String,
        /// Its parameters (`null` when absent).
        params: Value,
    },
    /// Progress; nothing to answer.
    Notification {
        /// The method.
        method: String,
        /// Its parameters (`null` when absent).
        params: Value,
    },
    /// The answer to a request the adapter sent.
    Response {
        /// The id of that request.
        id: Value,
        /// The result, or the error object (`code`, `message`).
        outcome: Result<Value, Value>,
    },
}

impl Message {
    /// Reads one line; `None` when it is not a JSON-RPC message (not JSON, not an object, or
    /// neither a method nor an id).
    pub fn parse(line: &str) -> Option<Self> {
        let Value::Object(mut map) = serde_json::from_str::<Value>(line.trim()).ok()? else {
            return None;
        };
        let params = map.remove("params").unwrap_or(Value::Null);
        let method = map.get("method").and_then(Value::as_str).map(str::to_owned);
        match (method, map.remove("id")) {
            (Some(method), Some(id)) => Some(Self::Request { id, method, params }),
            (Some(method), None) => Some(Self::Notification { method, params }),
            (None, Some(id)) => Some(Self::Response {
                id,
                outcome: match map.remove("error") {
                    Some(error) => Err(error),
                    None => Ok(map.remove("result").unwrap_or(Value::Null)),
                },
            }),
            (None, None) => None,
        }
    }
}

/// A response's result, or the peer's error as one line naming the request
/// (`"<peer> refused request 2: <message> (<code>)"`).
pub fn response_result(
    peer: &str,
    id: &Value,
    outcome: Result<Value, Value>,
) -> Result<Value, String> {
    outcome.map_err(|error| format!("{peer} refused request {id}: {}", error_text(&error)))
}

/// The text of an error object (`message`), for an error event.
pub fn error_text(error: &Value) -> String {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("an error without a message");
    match error.get("code").and_then(Value::as_i64) {
        Some(code) => format!("{message} ({code})"),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_response_names_the_peer_and_the_request() {
        let error = serde_json::json!({"code": -32601, "message": "no such method"});
        assert_eq!(
            response_result("the agent", &Value::from(2), Err(error)),
            Err("the agent refused request 2: no such method (-32601)".to_owned())
        );
        assert_eq!(
            response_result("the agent", &Value::from(2), Ok(Value::Null)),
            Ok(Value::Null)
        );
    }

    #[test]
    fn lines_sort_into_requests_notifications_and_responses() {
        assert!(matches!(
            Message::parse(r#"{"id":0,"method":"item/x/requestApproval","params":{"a":1}}"#),
            Some(Message::Request { id, method, params })
                if id == 0 && method == "item/x/requestApproval" && params["a"] == 1
        ));
        assert!(matches!(
            Message::parse(r#"{"jsonrpc":"2.0","method":"session/update"}"#),
            Some(Message::Notification {
                params: Value::Null,
                ..
            })
        ));
        assert_eq!(
            Message::parse(r#"{"id":"a","result":{"ok":true}}"#),
            Some(Message::Response {
                id: json!("a"),
                outcome: Ok(json!({"ok": true}))
            })
        );
        let refused = Message::parse(r#"{"id":3,"error":{"code":-32600,"message":"bad"}}"#);
        let Some(Message::Response {
            outcome: Err(error),
            ..
        }) = refused
        else {
            panic!("{refused:?}");
        };
        assert_eq!(error_text(&error), "bad (-32600)");
        for odd in ["", "[]", "not json", r#"{"other":1}"#] {
            assert_eq!(Message::parse(odd), None, "{odd}");
        }
    }

    #[test]
    fn the_dialect_decides_the_jsonrpc_field() {
        let acp: Value =
            serde_json::from_slice(&Dialect::JsonRpc2.notification("session/cancel", None))
                .expect("JSON");
        assert_eq!(acp, json!({"jsonrpc": "2.0", "method": "session/cancel"}));
        let codex: Value = serde_json::from_slice(
            &Dialect::Bare.result(&json!(4), &json!({"decision": "accept"})),
        )
        .expect("JSON");
        assert_eq!(codex, json!({"id": 4, "result": {"decision": "accept"}}));
    }
}
