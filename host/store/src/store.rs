//! [`Store`]: one connection to the runtime database, and every operation on it.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use codecafe_engine::order::transition;
use codecafe_engine::{OrderAction, OrderStatus, StageAction, StageStatus};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior};
use rusqlite::{params, params_from_iter};
use uuid::Uuid;

use crate::error::{Result, StoreError};
use crate::event::{EVENT_VERSION, Event, EventBody};
use crate::model::{
    Deleted, NewOrder, NewStageRun, Order, OrderFilter, StageRun, StageRunUpdate, StatusChange,
    StatusChanged,
};
use crate::schema::{self, Migrated};
use crate::sql::{
    EVENT_COLUMNS, ORDER_COLUMNS, Parsed, STAGE_RUN_COLUMNS, event_from_row, millis, now,
    order_from_row, stage_run_from_row,
};

/// How long a write waits for another process's write to finish before giving up.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How many candidates an ambiguous prefix error lists.
const MAX_CANDIDATES: usize = 10;

/// A connection to the runtime database.
///
/// Each process (and each thread that writes concurrently) opens its own `Store`; SQLite
/// coordinates them. Every write is one `BEGIN IMMEDIATE` transaction: it takes the write lock
/// up front, so concurrent writers queue (for at most the busy timeout) instead of failing
/// half-way, and a read-check-write such as a status change can never interleave with another
/// process's. Readers never wait for writers (WAL).
#[derive(Debug)]
pub struct Store {
    pub(crate) conn: Connection,
    path: PathBuf,
    busy_timeout: Duration,
    /// This process's writers of the same database file take turns here (see
    /// [`Store::write`]); `None` in memory.
    gate: Option<Arc<Mutex<()>>>,
}

impl Store {
    /// Opens (creating it and its directory if needed) the database at `path`, with the
    /// [`DEFAULT_BUSY_TIMEOUT`], and migrates it to this build's schema.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_timeout(path, DEFAULT_BUSY_TIMEOUT)
    }

    /// [`Store::open`] with a chosen busy timeout.
    pub fn open_with_timeout(path: impl AsRef<Path>, busy_timeout: Duration) -> Result<Self> {
        configure_sqlite();
        let path = path.as_ref().to_owned();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        let conn = Connection::open(&path).map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        Self::configure(conn, path, busy_timeout, true)
    }

    /// A private database in memory (for tests and dry runs): same schema, no durability.
    pub fn open_in_memory() -> Result<Self> {
        configure_sqlite();
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        Self::configure(conn, path, DEFAULT_BUSY_TIMEOUT, false)
    }

    fn configure(
        conn: Connection,
        path: PathBuf,
        busy_timeout: Duration,
        on_disk: bool,
    ) -> Result<Self> {
        let gate = on_disk.then(|| writer_gate(&path));
        let store = Self {
            conn,
            path,
            busy_timeout,
            gate,
        };
        let conn = &store.conn;
        // First, so that the pragmas and the migration below also wait for other processes.
        conn.busy_timeout(busy_timeout).map_err(store.db())?;
        if on_disk {
            // WAL: readers never block the writer nor the writer the readers, and a commit
            // is a single append to the log, so a crash (kill -9) at any moment leaves either
            // the whole transaction or none of it; the next open replays the log.
            let mode: String = retry_busy(busy_timeout, || {
                conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            })
            .map_err(store.db())?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(
                    path = %store.path.display(),
                    mode,
                    "the file system does not support WAL; concurrent readers will wait for writers"
                );
            }
        }
        // NORMAL in WAL mode syncs the log at checkpoints, not at every commit. A commit is
        // written to the OS before it returns, so it survives the process being killed
        // (kill -9, a panic, a crash of codecafe); only a power loss or an OS crash can lose
        // the last commits, and even then the database stays consistent (never corrupt).
        // FULL would fsync every commit: an order of magnitude slower for event streams,
        // and protecting only against losing the last moments before a power cut.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(store.db())?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(store.db())?;
        match retry_busy(busy_timeout, || schema::migrate(conn)).map_err(store.db())? {
            Migrated::Current => Ok(store),
            Migrated::Newer(found) => Err(StoreError::NewerSchema {
                path: store.path.clone(),
                found,
                supported: schema::SCHEMA_VERSION,
            }),
        }
    }

    /// The database file (`:memory:` for an in-memory store).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the database (its `PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64> {
        self.conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(self.db())
    }

    /// Runs SQLite's `PRAGMA integrity_check`: the problems found, empty when the database is
    /// sound.
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("PRAGMA integrity_check")
            .map_err(self.db())?;
        let lines = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(self.db())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.db())?;
        Ok(lines.into_iter().filter(|line| line != "ok").collect())
    }

    // ----- orders -----

    /// Stores a new order in status `created`.
    pub fn create_order(&self, new: &NewOrder) -> Result<Order> {
        if new.cafe_id.trim().is_empty() {
            return Err(bad("cafe id", "must not be empty"));
        }
        if new.recipe_id.trim().is_empty() {
            return Err(bad("recipe id", "must not be empty"));
        }
        if let Some(max) = new.max_cost_usd
            && !(max.is_finite() && max > 0.0)
        {
            return Err(bad(
                "cost limit",
                format!("{max} is not a positive amount of US dollars"),
            ));
        }
        let vars = serde_json::to_string(&new.vars).map_err(|err| bad("vars", err.to_string()))?;
        let worktree = new
            .worktree_path
            .as_deref()
            .map(|p| {
                p.to_str().ok_or_else(|| {
                    bad(
                        "worktree path",
                        format!("{} is not valid UTF-8", p.display()),
                    )
                })
            })
            .transpose()?;
        self.write(|tx| {
            let id = new.id.to_string();
            let exists = tx
                .prepare_cached("SELECT 1 FROM orders WHERE id = ?1")?
                .exists([&id])?;
            if exists {
                return Err(StoreError::OrderExists { id: new.id }.into());
            }
            let now = now();
            tx.prepare_cached(
                "INSERT INTO orders (id, cafe_id, recipe_id, status, prompt, vars, branch, \
                 base_branch, worktree_path, created_at, updated_at, max_cost_usd) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)",
            )?
            .execute(params![
                id,
                new.cafe_id,
                new.recipe_id,
                OrderStatus::Created.as_str(),
                new.prompt,
                vars,
                new.branch,
                new.base_branch,
                worktree,
                now,
                new.max_cost_usd,
            ])?;
            get_order(tx, new.id)
        })
    }

    /// The order with this id.
    pub fn order(&self, id: Uuid) -> Result<Order> {
        match get_order(&self.conn, id) {
            Ok(order) => Ok(order),
            Err(err) => Err(self.fail(err)),
        }
    }

    /// The order whose id is `id_or_prefix` or starts with it (case-insensitive). A prefix
    /// that matches several orders is an error listing them.
    pub fn find_order(&self, id_or_prefix: &str) -> Result<Order> {
        match find_order(&self.conn, id_or_prefix) {
            Ok(order) => Ok(order),
            Err(err) => Err(self.fail(err)),
        }
    }

    /// Orders matching `filter`, newest first.
    pub fn list_orders(&self, filter: &OrderFilter) -> Result<Vec<Order>> {
        let (mut conditions, mut values) = filter_sql(filter);
        if let Some(cursor) = &filter.before {
            // Ties in the same millisecond are broken by the rowid, as the ordering does.
            let after = "(created_at < ? OR (created_at = ? AND rowid < \
                         coalesce((SELECT rowid FROM orders WHERE id = ?), 0)))";
            conditions = if conditions.is_empty() {
                format!(" WHERE {after}")
            } else {
                format!("{conditions} AND {after}")
            };
            let at = millis(cursor.created_at);
            values.push(SqlValue::Integer(at));
            values.push(SqlValue::Integer(at));
            values.push(SqlValue::Text(cursor.id.to_string()));
        }
        let limit = filter
            .limit
            .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        values.push(SqlValue::Integer(limit));
        values.push(SqlValue::Integer(
            i64::try_from(filter.offset).unwrap_or(i64::MAX),
        ));
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders{conditions} \
             ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.db())?;
        let rows = stmt
            .query_map(params_from_iter(values), order_from_row)
            .map_err(self.db())?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.db())
    }

    /// How many orders match `filter` (its limit, offset and cursor are ignored).
    pub fn count_orders(&self, filter: &OrderFilter) -> Result<usize> {
        let (conditions, values) = filter_sql(filter);
        let sql = format!("SELECT count(*) FROM orders{conditions}");
        let count: i64 = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut stmt| stmt.query_row(params_from_iter(values), |row| row.get(0)))
            .map_err(self.db())?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// Applies `action` through the order state machine. An illegal move is an error naming
    /// the status and the action, and changes nothing.
    pub fn update_status(&self, id: Uuid, action: OrderAction) -> Result<Order> {
        self.change_status(id, &StatusChange::new(action))
            .map(|changed| changed.order)
    }

    /// Applies a status change — the transition, its bookkeeping and optionally its event —
    /// in one transaction, so the event exists if and only if the change happened.
    ///
    /// Bookkeeping: `start` and `retry` set `started_at` if it was unset; `retry` increments
    /// `attempt` and clears `error` and `finished_at`; entering completed, failed or cancelled
    /// sets `finished_at`; `complete` clears `error`; `change.error` (if given) is recorded;
    /// entering any status where no agent runs releases the runner's claim.
    pub fn change_status(&self, id: Uuid, change: &StatusChange) -> Result<StatusChanged> {
        self.write(|tx| {
            let order = get_order(tx, id)?;
            let to = transition(order.status, change.action)
                .map_err(|source| StoreError::IllegalTransition { id, source })?;
            let now = now();
            let action = change.action;
            let retry = action == OrderAction::Retry;
            let started_at = match (action, order.started_at) {
                (OrderAction::Start | OrderAction::Retry, None) => Some(now),
                (_, at) => at.map(millis),
            };
            let finished_at = if to.is_terminal() {
                Some(now)
            } else if retry {
                None
            } else {
                order.finished_at.map(millis)
            };
            let error = match (&change.error, action) {
                (Some(error), _) => Some(error.clone()),
                (None, OrderAction::Retry | OrderAction::Complete) => None,
                (None, _) => order.error.clone(),
            };
            let attempt = order.attempt + u32::from(retry);
            let release = !to.is_active();
            tx.prepare_cached(
                "UPDATE orders SET status = ?2, updated_at = ?3, started_at = ?4, \
                 finished_at = ?5, error = ?6, attempt = ?7, \
                 runner = CASE WHEN ?8 THEN NULL ELSE runner END, \
                 heartbeat_at = CASE WHEN ?8 THEN NULL ELSE heartbeat_at END \
                 WHERE id = ?1",
            )?
            .execute(params![
                id.to_string(),
                to.as_str(),
                now,
                started_at,
                finished_at,
                error,
                attempt,
                release,
            ])?;
            let event = match &change.event {
                Some(event) => Some(insert_event(tx, id, event)?),
                None => None,
            };
            Ok(StatusChanged {
                from: order.status,
                order: get_order(tx, id)?,
                event,
            })
        })
    }

    /// Records the order's branch, base branch and worktree (`None` worktree: runs in place),
    /// for when they are made after the order is stored.
    pub fn set_worktree(
        &self,
        id: Uuid,
        branch: Option<&str>,
        base_branch: Option<&str>,
        worktree_path: Option<&Path>,
    ) -> Result<Order> {
        let worktree = worktree_path
            .map(|p| {
                p.to_str().ok_or_else(|| {
                    bad(
                        "worktree path",
                        format!("{} is not valid UTF-8", p.display()),
                    )
                })
            })
            .transpose()?;
        self.write(|tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE orders SET branch = ?2, base_branch = ?3, worktree_path = ?4, \
                     updated_at = ?5 WHERE id = ?1",
                )?
                .execute(params![
                    id.to_string(),
                    branch,
                    base_branch,
                    worktree,
                    now()
                ])?;
            if changed == 0 {
                return Err(not_found(id).into());
            }
            get_order(tx, id)
        })
    }

    /// Removes an order with its stage runs and events. Refused while an agent may be running
    /// for it ([`OrderStatus::is_active`]): cancel it first. Removing its worktree and branch
    /// is the caller's business, and must happen before.
    pub fn delete_order(&self, id: Uuid) -> Result<Order> {
        self.write(|tx| delete_order(tx, get_order(tx, id)?))
    }

    /// Removes several orders, each given by id or unique prefix, each in its own transaction:
    /// one failure does not stop the others. One result per query, in order.
    pub fn delete_many<S: AsRef<str>>(&self, queries: &[S]) -> Vec<Deleted> {
        queries
            .iter()
            .map(|query| {
                let query = query.as_ref();
                Deleted {
                    query: query.to_owned(),
                    result: self.write(|tx| delete_order(tx, find_order(tx, query)?)),
                }
            })
            .collect()
    }

    // ----- runners -----

    /// Records that `runner`, which holds the order, is alive.
    pub fn heartbeat(&self, id: Uuid, runner: &str) -> Result<()> {
        self.write(|tx| {
            check_holder(tx, id, runner)?;
            tx.prepare_cached("UPDATE orders SET heartbeat_at = ?2 WHERE id = ?1")?
                .execute(params![id.to_string(), now()])?;
            Ok(())
        })
    }

    /// Gives the order up; `runner` must hold it.
    pub fn release_order(&self, id: Uuid, runner: &str) -> Result<()> {
        self.write(|tx| {
            check_holder(tx, id, runner)?;
            tx.prepare_cached(
                "UPDATE orders SET runner = NULL, heartbeat_at = NULL WHERE id = ?1",
            )?
            .execute([id.to_string()])?;
            Ok(())
        })
    }

    // ----- stage runs -----

    /// Records that a stage's agent started: a new run in status `running` (the stage
    /// machine's `pending --start--> running`), with the next attempt number for that stage
    /// and the order's current attempt.
    pub fn start_stage_run(&self, new: &NewStageRun) -> Result<StageRun> {
        self.insert_stage_run(new, StageAction::Start)
    }

    /// Records that a stage was skipped without running (`pending --skip--> skipped`).
    pub fn skip_stage(&self, order_id: Uuid, stage_id: &str) -> Result<StageRun> {
        self.insert_stage_run(&NewStageRun::new(order_id, stage_id), StageAction::Skip)
    }

    fn insert_stage_run(&self, new: &NewStageRun, action: StageAction) -> Result<StageRun> {
        if new.stage_id.is_empty() {
            return Err(bad("stage id", "must not be empty"));
        }
        let status = StageStatus::Pending.apply(action).map_err(|source| {
            StoreError::IllegalStageTransition {
                run_id: 0,
                stage_id: new.stage_id.clone(),
                source,
            }
        })?;
        self.write(|tx| {
            let order = get_order(tx, new.order_id)?;
            let order_id = new.order_id.to_string();
            let attempt: u32 = tx
                .prepare_cached(
                    "SELECT coalesce(max(attempt), 0) + 1 FROM stage_runs \
                     WHERE order_id = ?1 AND stage_id = ?2",
                )?
                .query_row(params![order_id, new.stage_id], |row| row.get(0))?;
            let now = now();
            let (started, finished) = if status.is_finished() {
                (None, Some(now))
            } else {
                (Some(now), None)
            };
            tx.prepare_cached(
                "INSERT INTO stage_runs (order_id, stage_id, attempt, order_attempt, status, \
                 provider, agent_session_id, started_at, finished_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                order_id,
                new.stage_id,
                attempt,
                order.attempt,
                status.as_str(),
                new.provider,
                new.agent_session_id,
                started,
                finished,
            ])?;
            get_stage_run(tx, tx.last_insert_rowid())
        })
    }

    /// Applies `action` to a stage run through the stage state machine, setting the fields of
    /// `update` that are given, in one transaction. Entering a finished status sets
    /// `finished_at`. An illegal move is an error and changes nothing. (A retry of a stage is
    /// a new run from [`Store::start_stage_run`], which keeps every attempt on record.)
    pub fn update_stage_run(
        &self,
        run_id: i64,
        action: StageAction,
        update: &StageRunUpdate,
    ) -> Result<StageRun> {
        self.write(|tx| {
            let run = get_stage_run(tx, run_id)?;
            let to =
                run.status
                    .apply(action)
                    .map_err(|source| StoreError::IllegalStageTransition {
                        run_id,
                        stage_id: run.stage_id.clone(),
                        source,
                    })?;
            let now = now();
            let finished_at = if to.is_finished() { Some(now) } else { None };
            let started_at = match (to, run.started_at) {
                (_, Some(at)) => Some(millis(at)),
                (StageStatus::Running, None) => Some(now),
                (_, None) => None,
            };
            tx.prepare_cached(
                "UPDATE stage_runs SET status = ?2, started_at = ?3, finished_at = ?4, \
                 exit_code = coalesce(?5, exit_code), output = coalesce(?6, output), \
                 error = coalesce(?7, error) WHERE id = ?1",
            )?
            .execute(params![
                run_id,
                to.as_str(),
                started_at,
                finished_at,
                update.exit_code,
                update.output,
                update.error,
            ])?;
            get_stage_run(tx, run_id)
        })
    }

    /// Records the agent session a stage run belongs to (as soon as the agent reports it, so
    /// the session can be resumed even if codecafe dies).
    pub fn set_stage_session(&self, run_id: i64, session_id: &str) -> Result<StageRun> {
        self.write(|tx| {
            let changed = tx
                .prepare_cached("UPDATE stage_runs SET agent_session_id = ?2 WHERE id = ?1")?
                .execute(params![run_id, session_id])?;
            if changed == 0 {
                return Err(StoreError::StageRunNotFound { id: run_id }.into());
            }
            get_stage_run(tx, run_id)
        })
    }

    /// Records a stage run's usage (replacing what was recorded: pass the latest totals) and
    /// cost, and brings the order's cost up to date (the sum over its runs) in the same
    /// transaction. Returns the order's cost, for the budget guard.
    pub fn record_stage_usage(
        &self,
        run_id: i64,
        usage: &codecafe_sdk::Usage,
        cost_usd: Option<f64>,
    ) -> Result<f64> {
        if let Some(cost) = cost_usd
            && !(cost.is_finite() && cost >= 0.0)
        {
            return Err(bad(
                "cost",
                format!("{cost} is not an amount of US dollars"),
            ));
        }
        let usage = serde_json::to_string(usage).map_err(|err| bad("usage", err.to_string()))?;
        self.write(|tx| {
            let run = get_stage_run(tx, run_id)?;
            tx.prepare_cached(
                "UPDATE stage_runs SET usage = ?2, cost_usd = coalesce(?3, cost_usd) \
                 WHERE id = ?1",
            )?
            .execute(params![run_id, usage, cost_usd])?;
            let order_id = run.order_id.to_string();
            tx.prepare_cached(
                "UPDATE orders SET updated_at = ?2, cost_usd = (SELECT coalesce(sum(cost_usd), 0) \
                 FROM stage_runs WHERE order_id = ?1) WHERE id = ?1",
            )?
            .execute(params![order_id, now()])?;
            let total: f64 = tx
                .prepare_cached("SELECT cost_usd FROM orders WHERE id = ?1")?
                .query_row([&order_id], |row| row.get(0))?;
            Ok(total)
        })
    }

    /// Records what run `run_id`'s cost and usage are based on: the agent session's totals as
    /// the agent reported them (when it reports totals), and whether the cost is an estimate.
    pub fn record_stage_cost_basis(
        &self,
        run_id: i64,
        session_cost_usd: Option<f64>,
        session_usage: Option<&codecafe_sdk::Usage>,
        estimated: bool,
    ) -> Result<()> {
        let session_usage = session_usage
            .map(serde_json::to_string)
            .transpose()
            .map_err(|err| bad("usage", err.to_string()))?;
        self.write(|tx| {
            tx.prepare_cached(
                "UPDATE stage_runs SET session_cost_usd = coalesce(?2, session_cost_usd), \
                 session_usage = coalesce(?3, session_usage), cost_estimated = ?4 WHERE id = ?1",
            )?
            .execute(params![run_id, session_cost_usd, session_usage, estimated])?;
            Ok(())
        })
    }

    /// The token totals agent session `session_id` of the order had when it was last left, as
    /// its agent reported them (for agents that report session totals).
    pub fn session_usage_total(
        &self,
        order_id: Uuid,
        session_id: &str,
    ) -> Result<Option<codecafe_sdk::Usage>> {
        let text: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT session_usage FROM stage_runs WHERE order_id = ?1 \
                 AND agent_session_id = ?2 AND session_usage IS NOT NULL \
                 ORDER BY id DESC LIMIT 1",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![order_id.to_string(), session_id], |row| row.get(0))
                    .optional()
            })
            .map_err(|err| self.fail(err.into()))?;
        text.map(|text| serde_json::from_str(&text).map_err(|err| bad("usage", err.to_string())))
            .transpose()
    }

    /// The total cost agent session `session_id` of the order had when it was last left, as
    /// its agent reported it: what a run continuing or forking it started from.
    pub fn session_cost_total(&self, order_id: Uuid, session_id: &str) -> Result<Option<f64>> {
        self.conn
            .prepare_cached(
                "SELECT session_cost_usd FROM stage_runs WHERE order_id = ?1 \
                 AND agent_session_id = ?2 AND session_cost_usd IS NOT NULL \
                 ORDER BY id DESC LIMIT 1",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![order_id.to_string(), session_id], |row| row.get(0))
                    .optional()
            })
            .map_err(|err| self.fail(err.into()))
    }

    /// The stage run with this id.
    pub fn stage_run(&self, run_id: i64) -> Result<StageRun> {
        get_stage_run(&self.conn, run_id).map_err(|err| self.fail(err))
    }

    /// Every run of the order's stages, in the order they were started.
    pub fn stage_runs(&self, order_id: Uuid) -> Result<Vec<StageRun>> {
        let sql =
            format!("SELECT {STAGE_RUN_COLUMNS} FROM stage_runs WHERE order_id = ?1 ORDER BY id");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.db())?;
        let rows = stmt
            .query_map([order_id.to_string()], stage_run_from_row)
            .map_err(self.db())?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.db())
    }

    // ----- events -----

    /// Stores an event and returns it as stored (with its sequence number and time). Emit an
    /// event only after this returns: what a follower sees is always on disk.
    pub fn append_event(&self, order_id: Uuid, event: &EventBody) -> Result<Event> {
        self.write(|tx| insert_event(tx, order_id, event))
    }

    /// Stores several events of one order in one transaction (cheaper for bursts of agent
    /// output), in order.
    pub fn append_events(&self, order_id: Uuid, events: &[EventBody]) -> Result<Vec<Event>> {
        self.write(|tx| {
            events
                .iter()
                .map(|event| insert_event(tx, order_id, event))
                .collect()
        })
    }

    /// The order's events with a sequence number above `after_seq` (0: all), oldest first, at
    /// most `limit` of them. `logs --follow` polls with the last `seq` it printed.
    pub fn events_since(&self, order_id: Uuid, after_seq: i64, limit: usize) -> Result<Vec<Event>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE order_id = ?1 AND seq > ?2 \
             ORDER BY seq LIMIT ?3"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.db())?;
        let rows = stmt
            .query_map(
                params![
                    order_id.to_string(),
                    after_seq,
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                event_from_row,
            )
            .map_err(self.db())?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.db())
    }

    /// The sequence number of the order's latest event (0: none yet).
    pub fn last_event_seq(&self, order_id: Uuid) -> Result<i64> {
        self.conn
            .prepare_cached("SELECT coalesce(max(seq), 0) FROM events WHERE order_id = ?1")
            .and_then(|mut stmt| stmt.query_row([order_id.to_string()], |row| row.get(0)))
            .map_err(self.db())
    }

    /// The sequence number of the order's latest event of `kind` after `after_seq`, if any (a
    /// cheap poll: `order:cancel-requested` while an order runs).
    pub fn last_event_of_kind(
        &self,
        order_id: Uuid,
        kind: &str,
        after_seq: i64,
    ) -> Result<Option<i64>> {
        self.conn
            .prepare_cached(
                "SELECT max(seq) FROM events WHERE order_id = ?1 AND seq > ?2 AND kind = ?3",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![order_id.to_string(), after_seq, kind], |row| {
                    row.get(0)
                })
            })
            .map_err(self.db())
    }

    /// The order's latest event of `kind`, if any.
    pub fn last_event_with_kind(&self, order_id: Uuid, kind: &str) -> Result<Option<Event>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE order_id = ?1 AND kind = ?2 \
             ORDER BY seq DESC LIMIT 1"
        );
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut stmt| {
                stmt.query_row(params![order_id.to_string(), kind], event_from_row)
                    .optional()
            })
            .map_err(self.db())
    }

    /// The sequence number of the latest event of any order (0: none yet).
    pub fn last_seq(&self) -> Result<i64> {
        self.conn
            .prepare_cached("SELECT coalesce(max(seq), 0) FROM events")
            .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
            .map_err(self.db())
    }

    /// Events of every order with a sequence number above `after_seq`, oldest first, at most
    /// `limit` (for a status view or a front end following everything).
    pub fn events_after(&self, after_seq: i64, limit: usize) -> Result<Vec<Event>> {
        let sql =
            format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.db())?;
        let rows = stmt
            .query_map(
                params![after_seq, i64::try_from(limit).unwrap_or(i64::MAX)],
                event_from_row,
            )
            .map_err(self.db())?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.db())
    }

    // ----- plumbing -----

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction, committed if it returns `Ok`, rolled
    /// back otherwise.
    ///
    /// The writers of this process on the same database first take turns on an in-process
    /// lock: SQLite's busy handler makes a writer that finds the database locked sleep for
    /// growing pauses (up to 100 ms), so with hundreds of threads writing (hundreds of orders
    /// in flight) some lost every race until their busy timeout. Other processes are still
    /// waited for by the busy timeout.
    pub(crate) fn write<T>(
        &self,
        body: impl FnOnce(&Transaction<'_>) -> Result<T, TxError>,
    ) -> Result<T> {
        let _turn = self.gate.as_deref().and_then(WriterTurn::take);
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(self.db())?;
        let value = body(&tx).map_err(|err| self.fail(err))?;
        tx.commit().map_err(self.db())?;
        Ok(value)
    }

    /// Turns a SQLite error into a [`StoreError`] that names this database.
    pub(crate) fn db(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy {
                path: self.path.clone(),
                waited: self.busy_timeout,
            },
            _ => match source {
                rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::IntegralValueOutOfRange(..) => StoreError::Corrupt {
                    path: self.path.clone(),
                    detail: source.to_string(),
                },
                source => StoreError::Sqlite {
                    path: self.path.clone(),
                    source,
                },
            },
        }
    }

    pub(crate) fn fail(&self, err: TxError) -> StoreError {
        match err {
            TxError::Store(err) => err,
            TxError::Sqlite(err) => self.db()(err),
        }
    }
}

/// Sets SQLite up for this process, once, before its first connection: without memory
/// statistics. They are on by default and take one process-wide mutex on every allocation and
/// free of every connection, so with hundreds of orders in flight (a connection each) the
/// threads spent their time waiting for it. Nothing here reads the statistics.
fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: every SQLite connection of this process is opened by `Store`, after this
        // `Once`, so no other thread uses SQLite while it runs; `SQLITE_CONFIG_MEMSTATUS` takes
        // one `int`. Had SQLite been initialised already, the call would change nothing and
        // return `SQLITE_MISUSE`.
        #[allow(unsafe_code)]
        let rc = unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                std::ffi::c_int::from(0u8),
            )
        };
        if rc != rusqlite::ffi::SQLITE_OK {
            tracing::debug!(rc, "SQLite memory statistics stay on");
        }
    });
}

/// The lock this process's writers of the database at `path` take turns on.
fn writer_gate(path: &Path) -> Arc<Mutex<()>> {
    static GATES: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = OnceLock::new();
    let key = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let mut gates = GATES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    Arc::clone(gates.entry(key).or_default())
}

thread_local! {
    /// Whether this thread holds a writer turn (a write on another connection inside a write
    /// then waits for SQLite's lock as before, instead of for itself).
    static HOLDS_TURN: Cell<bool> = const { Cell::new(false) };
}

/// A writer's turn on its database's gate, held for one transaction.
struct WriterTurn<'a> {
    _guard: MutexGuard<'a, ()>,
}

impl<'a> WriterTurn<'a> {
    /// Waits for the turn; `None` when this thread holds one already.
    fn take(gate: &'a Mutex<()>) -> Option<Self> {
        if HOLDS_TURN.get() {
            return None;
        }
        let guard = gate.lock().unwrap_or_else(PoisonError::into_inner);
        HOLDS_TURN.set(true);
        Some(Self { _guard: guard })
    }
}

impl Drop for WriterTurn<'_> {
    fn drop(&mut self) {
        HOLDS_TURN.set(false);
    }
}

/// Runs `step` again while SQLite answers "busy" at once, for at most `timeout`. Opening a new
/// database from several processes at the same moment (switching it to WAL, migrating it) can
/// be refused without SQLite's busy handler waiting, to avoid a lock deadlock; a short pause and
/// a retry then succeeds.
fn retry_busy<T>(
    timeout: Duration,
    mut step: impl FnMut() -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    loop {
        match step() {
            Err(err)
                if matches!(
                    err.sqlite_error_code(),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            result => return result,
        }
    }
}

/// An error inside a transaction: ours, or SQLite's (named with the path afterwards).
pub(crate) enum TxError {
    Store(StoreError),
    Sqlite(rusqlite::Error),
}

impl From<StoreError> for TxError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

impl From<rusqlite::Error> for TxError {
    fn from(err: rusqlite::Error) -> Self {
        Self::Sqlite(err)
    }
}

pub(crate) fn bad(what: &'static str, message: impl Into<String>) -> StoreError {
    StoreError::BadValue {
        what,
        message: message.into(),
    }
}

fn not_found(id: Uuid) -> StoreError {
    StoreError::OrderNotFound { id: id.to_string() }
}

pub(crate) fn get_order(conn: &Connection, id: Uuid) -> Result<Order, TxError> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1");
    conn.prepare_cached(&sql)?
        .query_row([id.to_string()], order_from_row)
        .optional()?
        .ok_or_else(|| not_found(id).into())
}

/// Fails unless `runner` holds the order.
fn check_holder(conn: &Connection, id: Uuid, runner: &str) -> Result<(), TxError> {
    let order = get_order(conn, id)?;
    if order.runner.as_deref() == Some(runner) {
        Ok(())
    } else {
        Err(StoreError::NotClaimed {
            id,
            runner: runner.to_owned(),
            holder: order.runner,
        }
        .into())
    }
}

fn find_order(conn: &Connection, query: &str) -> Result<Order, TxError> {
    let text = query.trim().to_ascii_lowercase();
    if let Ok(id) = Uuid::parse_str(&text) {
        return get_order(conn, id);
    }
    if text.is_empty() {
        return Err(StoreError::InvalidOrderId {
            given: query.to_owned(),
            reason: "it is empty",
        }
        .into());
    }
    if text.len() > 36 || !text.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(StoreError::InvalidOrderId {
            given: query.to_owned(),
            reason: "an order id is a UUID (hexadecimal digits and dashes) or the start of one",
        }
        .into());
    }
    // Every UUID character sorts below `~`, so the ids starting with `text` are exactly those
    // in [text, text~): a range scan of the primary key.
    let upper = format!("{text}~");
    let ids: Vec<Uuid> = conn
        .prepare_cached(
            "SELECT id FROM orders WHERE id >= ?1 AND id < ?2 \
             ORDER BY created_at DESC, rowid DESC LIMIT ?3",
        )?
        .query_map(params![text, upper, (MAX_CANDIDATES + 1) as i64], |row| {
            row.get::<_, Parsed<Uuid>>(0).map(|id| id.0)
        })?
        .collect::<rusqlite::Result<_>>()?;
    match ids.as_slice() {
        [] => Err(StoreError::OrderNotFound {
            id: query.to_owned(),
        }
        .into()),
        [one] => get_order(conn, *one),
        _ => {
            let total: i64 = conn
                .prepare_cached("SELECT count(*) FROM orders WHERE id >= ?1 AND id < ?2")?
                .query_row(params![text, upper], |row| row.get(0))?;
            Err(StoreError::AmbiguousOrder {
                prefix: query.to_owned(),
                candidates: ids
                    .iter()
                    .take(MAX_CANDIDATES)
                    .map(Uuid::to_string)
                    .collect(),
                total: usize::try_from(total).unwrap_or(0),
            }
            .into())
        }
    }
}

fn delete_order(tx: &Transaction<'_>, order: Order) -> Result<Order, TxError> {
    if order.status.is_active() {
        return Err(StoreError::StillActive {
            id: order.id,
            status: order.status,
        }
        .into());
    }
    // Stage runs and events go with it (ON DELETE CASCADE).
    tx.prepare_cached("DELETE FROM orders WHERE id = ?1")?
        .execute([order.id.to_string()])?;
    Ok(order)
}

fn get_stage_run(conn: &Connection, run_id: i64) -> Result<StageRun, TxError> {
    let sql = format!("SELECT {STAGE_RUN_COLUMNS} FROM stage_runs WHERE id = ?1");
    conn.prepare_cached(&sql)?
        .query_row([run_id], stage_run_from_row)
        .optional()?
        .ok_or_else(|| StoreError::StageRunNotFound { id: run_id }.into())
}

fn insert_event(tx: &Transaction<'_>, order_id: Uuid, event: &EventBody) -> Result<Event, TxError> {
    let id = order_id.to_string();
    let exists = tx
        .prepare_cached("SELECT 1 FROM orders WHERE id = ?1")?
        .exists([&id])?;
    if !exists {
        return Err(not_found(order_id).into());
    }
    let payload = serde_json::to_string(&event.payload())
        .map_err(|err| bad("event payload", err.to_string()))?;
    let at = now();
    tx.prepare_cached("INSERT INTO events (order_id, at, kind, payload) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![id, at, event.kind(), payload])?;
    let seq = tx.last_insert_rowid();
    Ok(Event {
        v: EVENT_VERSION,
        seq,
        order_id,
        at: jiff::Timestamp::from_millisecond(at).map_err(|err| bad("clock", err.to_string()))?,
        body: event.clone(),
    })
}

/// The `WHERE` clause and its values for `filter`.
fn filter_sql(filter: &OrderFilter) -> (String, Vec<SqlValue>) {
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    if let Some(cafe) = &filter.cafe_id {
        conditions.push("cafe_id = ?".to_owned());
        values.push(SqlValue::Text(cafe.clone()));
    }
    if !filter.statuses.is_empty() {
        let marks = vec!["?"; filter.statuses.len()].join(", ");
        conditions.push(format!("status IN ({marks})"));
        values.extend(
            filter
                .statuses
                .iter()
                .map(|s| SqlValue::Text(s.as_str().to_owned())),
        );
    }
    if conditions.is_empty() {
        (String::new(), values)
    } else {
        (format!(" WHERE {}", conditions.join(" AND ")), values)
    }
}
