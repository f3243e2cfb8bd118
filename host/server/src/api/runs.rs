//! Running orders in the server: `execute` a created order, answer one awaiting `input` (or
//! raise its `budget`), `approve` / `deny` the tool call one waits on, `retry` a failed or cancelled one, `resume` one whose codecafe died,
//! run a `followup` on a completed one (and `finish` it), or create-and-run in one call
//! (`POST /api/orders/run`, as `codecafe run`).
//!
//! Each starts the service call on a thread of its own ([`crate::runs`]) and answers once the
//! run has begun: 202 `{order, run: "running"}` — the events follow on the event streams — or
//! `run: "starting"` when it has not begun within [`crate::ServerConfig::start_wait`]; 200
//! `{order, run: "finished", outcome}` when it was over before its first event; or the
//! service's error (a wrong status is 409, untrusted 403, not ready 409 with `problems`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use codecafe_service::execute::{self, Reply};
use codecafe_service::{Order, RetryFrom, RunOutcome, orders};
use serde::{Deserialize, Serialize};

use super::json_with;
use super::orders::CreateOrder;
use crate::error::{Result, ServerError};
use crate::extract::ApiJson;
use crate::runs::{Begun, RunBody};
use crate::server::Shared;

/// `POST /api/orders/{id}/execute`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Execute {
    /// A prompt replacing the order's own.
    prompt: Option<String>,
}

/// `POST /api/orders/{id}/input`: exactly one of the two.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Input {
    /// The answer to the order's open questions.
    answer: Option<String>,
    /// For an order paused at its budget: the new limit in US dollars.
    budget: Option<f64>,
}

/// `POST /api/orders/{id}/approve`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Approve {
    /// The approval (default: the only one pending).
    approval: Option<i64>,
    /// Also allow calls matching its rule for the rest of the order.
    #[serde(default)]
    always: bool,
}

/// `POST /api/orders/{id}/deny`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Deny {
    /// The approval (default: the only one pending).
    approval: Option<i64>,
    /// Why, for the agent.
    reason: Option<String>,
}

/// `POST /api/orders/{id}/retry`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Retry {
    /// Re-run from this stage (and what follows it) instead of the failed stages.
    from_stage: Option<String>,
    /// Re-run every stage.
    #[serde(default)]
    from_beginning: bool,
    /// New agent sessions instead of continuing the previous ones (the seeds'
    /// `preserveContext: false`).
    #[serde(default)]
    fresh: bool,
    /// Run the cafe's current recipe, roles and skills instead of the pinned ones.
    #[serde(default)]
    refresh: bool,
}

/// `POST /api/orders/{id}/followup`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Followup {
    /// What the follow-up should do.
    prompt: String,
    /// Base it on this stage of the recipe instead of the last one.
    stage: Option<String>,
}

/// How a run started, as answered.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Started {
    /// The order, as stored when the answer was made.
    order: Order,
    /// `running`, `starting` or `finished`.
    run: &'static str,
    /// How it ended, when it is `finished`.
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<RunOutcome>,
    /// What the user should know (`run` only: running in place, a taken branch name, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

/// Starts `body` for order `id` (after checking it exists) and answers how it began.
async fn start(
    shared: &Arc<Shared>,
    id: String,
    what: &'static str,
    body: impl FnOnce(
        &codecafe_service::Service,
        &str,
        &codecafe_service::CancelToken,
        &mut dyn FnMut(&codecafe_service::Event),
    ) -> codecafe_service::Result<RunOutcome>
    + Send
    + 'static,
) -> Result<Response> {
    shared.ensure_running()?;
    let order = shared.call(move |s| orders::find(s, &id)).await?;
    let full_id = order.id.to_string();
    let run: RunBody =
        Box::new(move |service, token, _created, emit| body(service, &full_id, token, emit));
    let heard = shared
        .runs
        .start(&shared.service, what, Some(order.id), run)?;
    let begun = crate::runs::begun(heard, shared.config.start_wait).await;
    let (status, run, outcome) = match begun {
        Some(Begun::Finished(Err(err))) => return Err(err.into()),
        Some(Begun::Finished(Ok(outcome))) => (StatusCode::OK, "finished", Some(outcome)),
        Some(Begun::Running | Begun::Created(_)) => (StatusCode::ACCEPTED, "running", None),
        None => (StatusCode::ACCEPTED, "starting", None),
    };
    let order_id = order.id.to_string();
    let order = shared.call(move |s| orders::find(s, &order_id)).await?;
    Ok(json_with(
        status,
        &Started {
            order,
            run,
            outcome,
            warnings: Vec::new(),
        },
    ))
}

/// `POST /api/orders/{id}/execute`: runs a created order.
pub async fn execute(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Execute>,
) -> Result<Response> {
    start(&shared, id, "execute", move |s, id, token, emit| {
        execute::execute(s, id, body.prompt.as_deref(), token, emit)
    })
    .await
}

/// `POST /api/orders/{id}/input`: answers its questions, or raises its budget, and continues
/// it (the asking stage continues its own agent session).
pub async fn input(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Input>,
) -> Result<Response> {
    let reply = match (body.answer, body.budget) {
        (Some(answer), None) => Reply::Answer(answer),
        (None, Some(budget)) if budget.is_finite() && budget > 0.0 => Reply::Budget(budget),
        (None, Some(_)) => {
            return Err(ServerError::bad_request(
                "budget",
                "give a number of US dollars above 0",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(ServerError::bad_request(
                "budget",
                "give answer or budget, not both",
            ));
        }
        (None, None) => {
            return Err(ServerError::bad_request(
                "answer",
                "give the answer, or budget for an order paused at its budget",
            ));
        }
    };
    start(&shared, id, "input", move |s, id, token, emit| {
        execute::input(s, id, &reply, token, emit)
    })
    .await
}

/// `POST /api/orders/{id}/approve`: allows the tool call it waits on and continues it (the
/// asking stage's agent session repeats the call, which then runs).
pub async fn approve(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Approve>,
) -> Result<Response> {
    let reply = Reply::Approve {
        approval: body.approval,
        always: body.always,
    };
    start(&shared, id, "approve", move |s, id, token, emit| {
        execute::input(s, id, &reply, token, emit)
    })
    .await
}

/// `POST /api/orders/{id}/deny`: refuses the tool call it waits on and continues it (the
/// agent hears the reason and carries on without the call).
pub async fn deny(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Deny>,
) -> Result<Response> {
    let reply = Reply::Deny {
        approval: body.approval,
        reason: body.reason,
    };
    start(&shared, id, "deny", move |s, id, token, emit| {
        execute::input(s, id, &reply, token, emit)
    })
    .await
}

/// `POST /api/orders/{id}/retry`: from its failed stages, a stage, or the beginning.
pub async fn retry(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Retry>,
) -> Result<Response> {
    let from = match (body.from_stage, body.from_beginning) {
        (Some(_), true) => {
            return Err(ServerError::bad_request(
                "fromStage",
                "give fromStage or fromBeginning, not both",
            ));
        }
        (Some(stage), false) => RetryFrom::Stage(stage),
        (None, true) => RetryFrom::Beginning,
        (None, false) => RetryFrom::Failed,
    };
    let (fresh, refresh) = (body.fresh, body.refresh);
    start(&shared, id, "retry", move |s, id, token, emit| {
        execute::retry(s, id, from, fresh, refresh, token, emit)
    })
    .await
}

/// `POST /api/orders/{id}/resume`: continues a running order whose codecafe died or stopped.
pub async fn resume(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Result<Response> {
    start(&shared, id, "resume", execute::resume).await
}

/// `POST /api/orders/{id}/followup`: one more prompt on a completed order, in its worktree.
pub async fn followup(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Followup>,
) -> Result<Response> {
    if body.prompt.trim().is_empty() {
        return Err(ServerError::bad_request(
            "prompt",
            "say what the follow-up should do",
        ));
    }
    start(&shared, id, "followup", move |s, id, token, emit| {
        execute::followup(s, id, &body.prompt, body.stage.as_deref(), token, emit)
    })
    .await
}

/// `POST /api/orders/{id}/followup/finish`: closes the follow-up; the order is completed again.
pub async fn finish_followup(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response> {
    let order = shared
        .call(move |s| execute::finish_followup(s, &id))
        .await?;
    Ok(super::json(&order))
}

/// `POST /api/orders/run` (201): creates an order and runs it (`codecafe run`); nothing is
/// created when its recipe, prompts or providers are not ready.
pub async fn run(
    State(shared): State<Arc<Shared>>,
    ApiJson(body): ApiJson<CreateOrder>,
) -> Result<Response> {
    shared.ensure_running()?;
    let request = body.request()?;
    let run: RunBody = Box::new(move |service, token, created, emit| {
        execute::run(service, &request, token, created, emit).map(|(_, outcome)| outcome)
    });
    let heard = shared.runs.start(&shared.service, "run", None, run)?;
    let created = match crate::runs::begun(heard, shared.config.start_wait).await {
        Some(Begun::Created(created)) => created,
        Some(Begun::Finished(Err(err))) => return Err(err.into()),
        Some(Begun::Finished(Ok(_)) | Begun::Running) | None => {
            return Err(ServerError::Internal(
                "the run did not say which order it created".to_owned(),
            ));
        }
    };
    let order_id = created.order.id.to_string();
    let order = shared.call(move |s| orders::find(s, &order_id)).await?;
    Ok(json_with(
        StatusCode::CREATED,
        &Started {
            order,
            run: "running",
            outcome: None,
            warnings: created.warnings,
        },
    ))
}
