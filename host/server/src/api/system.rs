//! `/api/status` (what runs and waits, machine-wide), `/api/settings…` (`pool.max`,
//! `pool.provider.<id>`), `/api/server` (this server: version, runs, streams) and
//! `/api/openapi.json` (the API described).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use codecafe_service::{settings, status};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{json, scalar_text};
use crate::error::{Result, ServerError};
use crate::extract::ApiJson;
use crate::server::Shared;

/// `PUT /api/settings/{key}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetSetting {
    /// The value (a number of agents, 1 or more).
    value: Value,
}

/// `GET /api/status`.
pub async fn status(State(shared): State<Arc<Shared>>) -> Result<Response> {
    Ok(json(&shared.call(status::status).await?))
}

/// `GET /api/settings`.
pub async fn settings(State(shared): State<Arc<Shared>>) -> Result<Response> {
    let list = shared.call(settings::list).await?;
    Ok(json(&json!({ "settings": list })))
}

/// `GET /api/settings/{key}`.
pub async fn setting(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
) -> Result<Response> {
    Ok(json(&shared.call(move |s| settings::get(s, &key)).await?))
}

/// `PUT /api/settings/{key}`.
pub async fn set_setting(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<SetSetting>,
) -> Result<Response> {
    let value = scalar_text(&body.value)
        .ok_or_else(|| ServerError::bad_request("value", "give a number"))?;
    Ok(json(
        &shared.call(move |s| settings::set(s, &key, &value)).await?,
    ))
}

/// `DELETE /api/settings/{key}`: back to its default; `{key, wasSet}`.
pub async fn unset_setting(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
) -> Result<Response> {
    let name = key.clone();
    let was_set = shared.call(move |s| settings::unset(s, &name)).await?;
    Ok(json(&json!({ "key": key, "wasSet": was_set })))
}

/// `GET /api/server`: this server.
pub async fn server(State(shared): State<Arc<Shared>>) -> Result<Response> {
    let streams_open = shared
        .config
        .max_streams
        .saturating_sub(shared.streams.available_permits());
    Ok(json(&json!({
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "runsActive": shared.runs.active(),
        "streamsOpen": streams_open,
        "maxStreams": shared.config.max_streams,
        "eventSeq": shared.hub.position(),
    })))
}

/// `GET /api/openapi.json`.
pub async fn openapi() -> Result<Response> {
    Ok(json(crate::openapi::document()?))
}
