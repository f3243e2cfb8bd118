//! Conversions between stored columns and Rust values, and the row readers.

use std::path::PathBuf;
use std::str::FromStr;

use jiff::Timestamp;
use rusqlite::Row;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};
use serde::de::DeserializeOwned;

use crate::event::{EVENT_VERSION, Event, EventBody};
use crate::model::{Order, StageRun};

/// A column holding the `FromStr` text of a value (statuses, UUIDs).
pub(crate) struct Parsed<T>(pub T);

impl<T> FromSql for Parsed<T>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map(Parsed)
            .map_err(FromSqlError::other)
    }
}

/// A column holding milliseconds since the Unix epoch.
pub(crate) struct Millis(pub Timestamp);

impl FromSql for Millis {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        Timestamp::from_millisecond(value.as_i64()?)
            .map(Millis)
            .map_err(FromSqlError::other)
    }
}

/// A column holding JSON text.
pub(crate) struct Json<T>(pub T);

impl<T: DeserializeOwned> FromSql for Json<T> {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        serde_json::from_str(value.as_str()?)
            .map(Json)
            .map_err(FromSqlError::other)
    }
}

/// A timestamp as stored.
pub(crate) fn millis(at: Timestamp) -> i64 {
    at.as_millisecond()
}

/// The current time as stored.
pub(crate) fn now() -> i64 {
    millis(Timestamp::now())
}

/// The columns [`order_from_row`] reads, in its order.
pub(crate) const ORDER_COLUMNS: &str = "id, cafe_id, recipe_id, status, prompt, vars, branch, \
    base_branch, worktree_path, created_at, updated_at, started_at, finished_at, error, \
    max_cost_usd, cost_usd, attempt, runner, heartbeat_at";

/// Reads an order selected with [`ORDER_COLUMNS`].
pub(crate) fn order_from_row(row: &Row<'_>) -> rusqlite::Result<Order> {
    Ok(Order {
        id: row.get::<_, Parsed<_>>(0)?.0,
        cafe_id: row.get(1)?,
        recipe_id: row.get(2)?,
        status: row.get::<_, Parsed<_>>(3)?.0,
        prompt: row.get(4)?,
        vars: row.get::<_, Json<_>>(5)?.0,
        branch: row.get(6)?,
        base_branch: row.get(7)?,
        worktree_path: row.get::<_, Option<String>>(8)?.map(PathBuf::from),
        created_at: row.get::<_, Millis>(9)?.0,
        updated_at: row.get::<_, Millis>(10)?.0,
        started_at: row.get::<_, Option<Millis>>(11)?.map(|m| m.0),
        finished_at: row.get::<_, Option<Millis>>(12)?.map(|m| m.0),
        error: row.get(13)?,
        max_cost_usd: row.get(14)?,
        cost_usd: row.get(15)?,
        attempt: row.get(16)?,
        runner: row.get(17)?,
        heartbeat_at: row.get::<_, Option<Millis>>(18)?.map(|m| m.0),
    })
}

/// The columns [`stage_run_from_row`] reads, in its order.
pub(crate) const STAGE_RUN_COLUMNS: &str = "id, order_id, stage_id, attempt, order_attempt, \
    status, provider, agent_session_id, started_at, finished_at, exit_code, usage, cost_usd, \
    output, error, session_cost_usd, session_usage, cost_estimated";

/// Reads a stage run selected with [`STAGE_RUN_COLUMNS`].
pub(crate) fn stage_run_from_row(row: &Row<'_>) -> rusqlite::Result<StageRun> {
    Ok(StageRun {
        id: row.get(0)?,
        order_id: row.get::<_, Parsed<_>>(1)?.0,
        stage_id: row.get(2)?,
        attempt: row.get(3)?,
        order_attempt: row.get(4)?,
        status: row.get::<_, Parsed<_>>(5)?.0,
        provider: row.get(6)?,
        agent_session_id: row.get(7)?,
        started_at: row.get::<_, Option<Millis>>(8)?.map(|m| m.0),
        finished_at: row.get::<_, Option<Millis>>(9)?.map(|m| m.0),
        exit_code: row.get(10)?,
        usage: row.get::<_, Option<Json<_>>>(11)?.map(|j| j.0),
        cost_usd: row.get(12)?,
        output: row.get(13)?,
        error: row.get(14)?,
        session_cost_usd: row.get(15)?,
        session_usage: row.get::<_, Option<Json<_>>>(16)?.map(|j| j.0),
        cost_estimated: row.get(17)?,
    })
}

/// The columns [`event_from_row`] reads, in its order.
pub(crate) const EVENT_COLUMNS: &str = "seq, order_id, at, kind, payload";

/// Reads an event selected with [`EVENT_COLUMNS`].
pub(crate) fn event_from_row(row: &Row<'_>) -> rusqlite::Result<Event> {
    let kind: String = row.get(3)?;
    let payload = row.get::<_, Json<serde_json::Value>>(4)?.0;
    Ok(Event {
        v: EVENT_VERSION,
        seq: row.get(0)?,
        order_id: row.get::<_, Parsed<_>>(1)?.0,
        at: row.get::<_, Millis>(2)?.0,
        body: EventBody::from_stored(&kind, payload),
    })
}
