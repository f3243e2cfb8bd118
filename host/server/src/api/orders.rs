//! `/api/orders…`: orders (IPC `order:*`) — create (on a new branch and worktree, or in place),
//! list (paged by `cursor` or `offset`, filtered by cafe and status), show, delete one or many
//! (never losing work unless `force`), diff, merge, cancel, and the stored log. Running them is
//! [`super::runs`]; their live events [`super::events`].

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use codecafe_service::orders::{self, ListRequest, NewOrderRequest};
use codecafe_service::{OrderCursor, OrderStatus, Scope, control};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{json, json_with, scalar_text};
use crate::error::{Result, ServerError};
use crate::extract::{ApiJson, ApiQuery};
use crate::server::Shared;

/// Orders per page unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 100;
/// The most orders one page holds.
const MAX_LIMIT: usize = 100_000;
/// Events per `log` page unless `limit` says otherwise.
const DEFAULT_LOG_LIMIT: usize = 1000;

/// `POST /api/orders` and `POST /api/orders/run`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateOrder {
    /// The cafe (id, id prefix, name or path).
    cafe: String,
    /// The recipe (default: the cafe's default recipe).
    recipe: Option<String>,
    /// What the order should do.
    #[serde(default)]
    prompt: String,
    /// Template variables.
    #[serde(default)]
    vars: BTreeMap<String, Value>,
    /// The branch to start from (default: the cafe's base branch).
    base_branch: Option<String>,
    /// The branch prefix (default: the cafe's).
    branch_prefix: Option<String>,
    /// A new branch and worktree (default); `false` runs in the repository's own checkout.
    create_worktree: Option<bool>,
    /// Stop spending when the order's recorded cost reaches this many US dollars.
    max_cost: Option<f64>,
}

impl CreateOrder {
    /// The service's request.
    pub fn request(self) -> Result<NewOrderRequest> {
        let mut vars = Vec::new();
        for (key, value) in &self.vars {
            if key.trim().is_empty() || key.contains('=') {
                return Err(ServerError::bad_request(
                    format!("vars.{key}"),
                    "a variable's name is not empty and has no `=`",
                ));
            }
            let text = scalar_text(value).ok_or_else(|| {
                ServerError::bad_request(format!("vars.{key}"), "give a string or a number")
            })?;
            vars.push(format!("{key}={text}"));
        }
        if let Some(cost) = self.max_cost
            && !(cost.is_finite() && cost > 0.0)
        {
            return Err(ServerError::bad_request(
                "maxCost",
                "give a number of US dollars above 0",
            ));
        }
        Ok(NewOrderRequest {
            scope: Scope::cafe(&self.cafe),
            recipe: self.recipe,
            prompt: self.prompt,
            vars,
            base: self.base_branch,
            prefix: self.branch_prefix,
            no_worktree: !self.create_worktree.unwrap_or(true),
            max_cost: self.max_cost,
        })
    }
}

/// `GET /api/orders`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListQuery {
    /// Only this cafe's orders (id, id prefix, name or path).
    cafe: Option<String>,
    /// Only orders in these statuses, comma-separated.
    status: Option<String>,
    /// At most this many (default 100).
    limit: Option<usize>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
    /// Skip this many of the newest.
    offset: Option<usize>,
}

/// One page of orders.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    orders: Vec<codecafe_service::Order>,
    /// How many orders match in all.
    total: usize,
    /// Where the next page starts, when this one is full.
    next_cursor: Option<String>,
}

/// `DELETE /api/orders/{id}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteQuery {
    /// Delete even with uncommitted changes or unmerged commits (the branch is still kept).
    #[serde(default)]
    force: bool,
    /// Delete the order's branch too.
    #[serde(default)]
    delete_branch: bool,
}

/// `POST /api/orders/delete`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteMany {
    /// Order ids or unique prefixes.
    ids: Vec<String>,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    delete_branch: bool,
}

/// `GET /api/orders/{id}/diff`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DiffQuery {
    /// A summary per file instead of the patch.
    #[serde(default)]
    stat: bool,
}

/// `POST /api/orders/{id}/merge`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Merge {
    /// The branch to merge into (default: the order's base branch).
    into: Option<String>,
    /// One commit with all the order's changes instead of a merge.
    #[serde(default)]
    squash: bool,
    /// Then remove the order's worktree and branch.
    #[serde(default)]
    delete: bool,
}

/// `GET /api/orders/{id}/log`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogQuery {
    /// Events after this sequence number (default: from the start).
    after: Option<i64>,
    /// At most this many (default 1000).
    limit: Option<usize>,
}

/// `POST /api/orders` (201): the order, its worktree, base branch and warnings.
pub async fn create(
    State(shared): State<Arc<Shared>>,
    ApiJson(body): ApiJson<CreateOrder>,
) -> Result<Response> {
    let request = body.request()?;
    let created = shared.call(move |s| orders::create(s, &request)).await?;
    Ok(json_with(StatusCode::CREATED, &created))
}

/// `GET /api/orders`: `{orders, total, nextCursor}`, newest first.
pub async fn list(
    State(shared): State<Arc<Shared>>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ServerError::bad_request(
            "limit",
            format!("give 1 to {MAX_LIMIT}"),
        ));
    }
    if query.cursor.is_some() && query.offset.is_some() {
        return Err(ServerError::bad_request(
            "cursor",
            "give cursor or offset, not both",
        ));
    }
    let cursor = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let mut statuses = Vec::new();
    for word in query.status.iter().flat_map(|s| s.split(',')) {
        let word = word.trim();
        if word.is_empty() {
            continue;
        }
        let status = word
            .parse::<OrderStatus>()
            .map_err(|err| ServerError::bad_request("status", err.to_string()))?;
        statuses.push(status);
    }
    let request = ListRequest {
        scope: query.cafe.as_deref().map(Scope::cafe),
        statuses,
        limit: Some(limit),
        offset: query.offset.unwrap_or(0),
    };
    let page = shared
        .call(move |s| orders::list_after(s, &request, cursor))
        .await?;
    let next_cursor = match page.orders.last() {
        Some(last) if page.orders.len() == limit => Some(format_cursor(&OrderCursor::after(last))),
        _ => None,
    };
    Ok(json(&Page {
        orders: page.orders,
        total: page.total,
        next_cursor,
    }))
}

/// A cursor as clients see it: `<created-at in ms>.<order id>` (opaque to them).
fn format_cursor(cursor: &OrderCursor) -> String {
    format!("{}.{}", cursor.created_at.as_millisecond(), cursor.id)
}

fn parse_cursor(text: &str) -> Result<OrderCursor> {
    let bad = || ServerError::bad_request("cursor", "not a cursor: give a page's nextCursor");
    let (millis, id) = text.split_once('.').ok_or_else(bad)?;
    let millis = millis.parse::<i64>().map_err(|_| bad())?;
    Ok(OrderCursor {
        created_at: jiff::Timestamp::from_millisecond(millis).map_err(|_| bad())?,
        id: id.parse().map_err(|_| bad())?,
    })
}

/// `GET /api/orders/{id}`: the order with its stage runs, pinned recipe and questions.
pub async fn show(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Result<Response> {
    Ok(json(&shared.call(move |s| orders::get(s, &id)).await?))
}

/// `DELETE /api/orders/{id}`: cancels it if it runs, removes its worktree (never losing work
/// unless `force`), then its state.
pub async fn delete(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> Result<Response> {
    let deletion = shared
        .call(move |s| orders::delete(s, &id, query.force, query.delete_branch))
        .await?;
    Ok(json(&deletion))
}

/// `POST /api/orders/delete`: each order on its own; `{deleted, failed, results: [{id, ok,
/// deletion | error}]}` (200 even when some fail).
pub async fn delete_many(
    State(shared): State<Arc<Shared>>,
    ApiJson(body): ApiJson<DeleteMany>,
) -> Result<Response> {
    if body.ids.is_empty() {
        return Err(ServerError::bad_request(
            "ids",
            "give at least one order id",
        ));
    }
    let mut results = Vec::new();
    let (mut deleted, mut failed) = (0, 0);
    for id in body.ids {
        let query = id.clone();
        let (force, delete_branch) = (body.force, body.delete_branch);
        match shared
            .call(move |s| orders::delete(s, &query, force, delete_branch))
            .await
        {
            Ok(deletion) => {
                deleted += 1;
                results.push(json!({ "id": id, "ok": true, "deletion": deletion }));
            }
            Err(err) => {
                failed += 1;
                let error = err.body()["error"].clone();
                results.push(json!({ "id": id, "ok": false, "error": error }));
            }
        }
    }
    Ok(json(
        &json!({ "deleted": deleted, "failed": failed, "results": results }),
    ))
}

/// `GET /api/orders/{id}/diff`: its changes against its base.
pub async fn diff(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<DiffQuery>,
) -> Result<Response> {
    Ok(json(
        &shared
            .call(move |s| orders::diff(s, &id, query.stat))
            .await?,
    ))
}

/// `POST /api/orders/{id}/merge`.
pub async fn merge(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Merge>,
) -> Result<Response> {
    let report = shared
        .call(move |s| orders::merge(s, &id, body.into, body.squash, body.delete))
        .await?;
    Ok(json(&report))
}

/// `POST /api/orders/{id}/cancel`: asks whoever runs it (this server or another process) and
/// waits, bounded, until it is recorded cancelled.
pub async fn cancel(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Result<Response> {
    Ok(json(&shared.call(move |s| control::cancel(s, &id)).await?))
}

/// `GET /api/orders/{id}/log`: its stored events, `{events, last}` (`last`: the sequence
/// number to ask after next).
pub async fn log(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<Response> {
    let after = query.after.unwrap_or(0);
    let limit = query.limit.unwrap_or(DEFAULT_LOG_LIMIT).clamp(1, MAX_LIMIT);
    let events = shared
        .call(move |s| {
            let order = orders::find(s, &id)?;
            orders::events(s, order.id, after, limit)
        })
        .await?;
    let last = events.last().map_or(after, |event| event.seq);
    Ok(json(&json!({ "events": events, "last": last })))
}
