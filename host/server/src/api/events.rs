//! `GET /api/orders/{id}/events` and `GET /api/events`: server-sent events ([`crate::sse`]) of
//! one order (from its first event unless resumed) or of every order (from now on unless
//! resumed). Resume with the `Last-Event-ID` header or `?after=<seq>`; the header wins, as it is
//! what a browser sends when it reconnects.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use codecafe_service::orders;
use serde::Deserialize;

use crate::error::{Result, ServerError};
use crate::extract::ApiQuery;
use crate::server::Shared;
use crate::sse::{self, Subject};

/// The query of an event stream.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StreamQuery {
    /// Only events after this sequence number (for clients that cannot set `Last-Event-ID`).
    after: Option<i64>,
}

/// Where a stream resumes: `Last-Event-ID`, else `?after=`, else `None`.
fn resume_after(headers: &HeaderMap, query: &StreamQuery) -> Result<Option<i64>> {
    match headers.get("last-event-id") {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .filter(|seq| *seq >= 0)
            .map(Some)
            .ok_or_else(|| {
                ServerError::bad_request("Last-Event-ID", "give the id of an event (its seq)")
            }),
        None => match query.after {
            Some(after) if after < 0 => Err(ServerError::bad_request("after", "give 0 or more")),
            after => Ok(after),
        },
    }
}

/// `GET /api/orders/{id}/events`.
pub async fn order_events(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<StreamQuery>,
) -> Result<Response> {
    let after = resume_after(&headers, &query)?.unwrap_or(0);
    let order = shared.call(move |s| orders::find(s, &id)).await?;
    Ok(sse::open(&shared, Subject::Order(order.id), after)?.into_response())
}

/// `GET /api/events`.
pub async fn all_events(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<StreamQuery>,
) -> Result<Response> {
    let after = resume_after(&headers, &query)?.unwrap_or_else(|| shared.hub.position());
    Ok(sse::open(&shared, Subject::All, after)?.into_response())
}
