//! The handlers, one module per resource. Each reads its path, query and JSON body, makes its
//! service calls on the blocking pool ([`crate::server::Shared::call`]) and answers with the service's typed
//! result as JSON (camelCase keys), or with the error ([`crate::ServerError`]).
//!
//! | module | resources |
//! |---|---|
//! | [`cafes`] | `/api/cafes…`: register, list, show, update, delete, last accessed, trust |
//! | [`catalog`] | `/api/cafes/{cafe}/recipes…`, `/skills…`, `/roles…` |
//! | [`orders`] | `/api/orders…`: create, list, show, delete, diff, merge, cancel, log |
//! | [`plan`] | `/api/orders/{id}/plan`: an order's stage graph |
//! | [`runs`] | `/api/orders/…/execute`, `input`, `approve`, `deny`, `retry`, `resume`, `followup`, `/api/orders/run` |
//! | [`events`] | `/api/orders/{id}/events`, `/api/events`: server-sent events |
//! | [`system`] | `/api/status`, `/api/settings…`, `/api/server`, `/api/openapi.json` |

pub mod cafes;
pub mod catalog;
pub mod events;
pub mod orders;
pub mod plan;
pub mod runs;
pub mod system;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ServerError;

/// A JSON answer with `status` (serialized straight into the body: a page of 10,000 orders
/// is written once, not built as a tree first).
pub fn json_with<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(err) => {
            ServerError::Internal(format!("cannot write the answer: {err}")).into_response()
        }
    }
}

/// A JSON answer, 200.
pub fn json<T: Serialize>(value: &T) -> Response {
    json_with(StatusCode::OK, value)
}

/// Reads a string field of a JSON object given as text, number or boolean (how settings may
/// come); `None` for anything else.
pub fn scalar_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Number(number) => Some(number.to_string()),
        serde_json::Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}
