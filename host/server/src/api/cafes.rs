//! `/api/cafes…`: registered repositories (IPC `cafe:*`) — register, list, show, update the
//! name and settings, delete (what happens to their orders: `?orders=refuse|keep|remove`), the
//! cafe used last, and workspace trust of a cafe's `.orch/`.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use codecafe_service::cafes::{self, OrdersPolicy};
use codecafe_service::{Scope, trust};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{json, json_with, scalar_text};
use crate::error::{Result, ServerError};
use crate::extract::{ApiJson, ApiQuery};
use crate::server::Shared;

/// `POST /api/cafes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCafe {
    /// The repository, or any directory inside it.
    path: PathBuf,
    /// A name instead of the one from the `origin` remote or the directory.
    name: Option<String>,
}

/// `PATCH /api/cafes/{cafe}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCafe {
    /// A new name.
    name: Option<String>,
    /// Settings to change, by their camelCase keys (`maxParallelOrders`, `baseBranch`, …).
    #[serde(default)]
    settings: Map<String, Value>,
}

/// `DELETE /api/cafes/{cafe}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteQuery {
    /// `refuse` (default), `keep` or `remove`.
    orders: Option<String>,
}

/// `PUT /api/cafes/last-accessed`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UseCafe {
    /// The cafe (id, id prefix, name or path).
    cafe: String,
}

/// `GET /api/cafes`.
pub async fn list(State(shared): State<Arc<Shared>>) -> Result<Response> {
    Ok(json(&shared.call(cafes::list).await?))
}

/// `POST /api/cafes`: registers the repository and creates its `.orch/` (201), or returns the
/// cafe it already is (200).
pub async fn create(
    State(shared): State<Arc<Shared>>,
    ApiJson(body): ApiJson<CreateCafe>,
) -> Result<Response> {
    let report = shared
        .call(move |service| cafes::init(service, &body.path, body.name))
        .await?;
    let status = if report.registered {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_with(status, &report))
}

/// `GET /api/cafes/{cafe}`.
pub async fn show(State(shared): State<Arc<Shared>>, Path(cafe): Path<String>) -> Result<Response> {
    Ok(json(&shared.call(move |s| cafes::show(s, &cafe)).await?))
}

/// `PATCH /api/cafes/{cafe}`.
pub async fn update(
    State(shared): State<Arc<Shared>>,
    Path(cafe): Path<String>,
    ApiJson(body): ApiJson<UpdateCafe>,
) -> Result<Response> {
    let mut settings = Vec::new();
    for (key, value) in &body.settings {
        let text = scalar_text(value).ok_or_else(|| {
            ServerError::bad_request(
                format!("settings.{key}"),
                "give a string, a number or a boolean",
            )
        })?;
        settings.push((key.clone(), text));
    }
    let updated = shared
        .call(move |s| cafes::update(s, &cafe, body.name.as_deref(), &settings))
        .await?;
    Ok(json(&updated))
}

/// `DELETE /api/cafes/{cafe}`: unregisters it; the repository is not touched.
pub async fn delete(
    State(shared): State<Arc<Shared>>,
    Path(cafe): Path<String>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> Result<Response> {
    let policy = match query.orders.as_deref() {
        None | Some("refuse") => OrdersPolicy::Refuse,
        Some("keep") => OrdersPolicy::Keep,
        Some("remove") => OrdersPolicy::Remove,
        Some(other) => {
            return Err(ServerError::bad_request(
                "orders",
                format!("`{other}` is not one of refuse, keep, remove"),
            ));
        }
    };
    Ok(json(
        &shared
            .call(move |s| cafes::remove(s, &cafe, policy))
            .await?,
    ))
}

/// `GET /api/cafes/last-accessed`: `{"cafe": <the cafe used last, or null>}`.
pub async fn last_accessed(State(shared): State<Arc<Shared>>) -> Result<Response> {
    let list = shared.call(cafes::list).await?;
    let cafe = list.cafes.iter().find(|cafe| list.is_current(cafe));
    Ok(json(&json!({ "cafe": cafe })))
}

/// `PUT /api/cafes/last-accessed`: makes a cafe the one used last.
pub async fn set_last_accessed(
    State(shared): State<Arc<Shared>>,
    ApiJson(body): ApiJson<UseCafe>,
) -> Result<Response> {
    let cafe = shared.call(move |s| cafes::use_cafe(s, &body.cafe)).await?;
    Ok(json(&json!({ "cafe": cafe })))
}

/// The repository of cafe `key`.
async fn repository(shared: &Shared, key: String) -> Result<PathBuf> {
    shared
        .call(move |s| Ok(s.registered_cafe(&Scope::cafe(&key))?.path))
        .await
}

/// `GET /api/cafes/{cafe}/trust`: what its `.orch/` holds that needs trust, and how it stands.
pub async fn trust_status(
    State(shared): State<Arc<Shared>>,
    Path(cafe): Path<String>,
) -> Result<Response> {
    let repo = repository(&shared, cafe).await?;
    Ok(json(&shared.call(move |s| trust::status(s, &repo)).await?))
}

/// `POST /api/cafes/{cafe}/trust`: trusts its `.orch/` as it is now (as `codecafe trust`).
pub async fn trust(
    State(shared): State<Arc<Shared>>,
    Path(cafe): Path<String>,
) -> Result<Response> {
    let repo = repository(&shared, cafe).await?;
    Ok(json(&shared.call(move |s| trust::trust(s, &repo)).await?))
}

/// `DELETE /api/cafes/{cafe}/trust`: withdraws the trust.
pub async fn revoke_trust(
    State(shared): State<Arc<Shared>>,
    Path(cafe): Path<String>,
) -> Result<Response> {
    let repo = repository(&shared, cafe).await?;
    Ok(json(&shared.call(move |s| trust::revoke(s, &repo)).await?))
}
