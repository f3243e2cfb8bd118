//! The database schema and its migrations.
//!
//! The schema version is SQLite's `PRAGMA user_version`. [`MIGRATIONS`]`[i]` takes the database
//! from version `i` to `i + 1`; each runs in its own `BEGIN IMMEDIATE` transaction together
//! with the version bump, and re-reads the version inside the transaction, so two processes
//! opening a new database at once migrate it exactly once and a crash mid-migration leaves the
//! previous version intact. A database whose version is newer than [`SCHEMA_VERSION`] is
//! refused, never touched. Migrations are append-only: a released one is never edited.
//!
//! ## Version 1
//!
//! Times are INTEGER milliseconds since the Unix epoch, UTC (the API turns them into
//! [`jiff::Timestamp`]s, which serialize as RFC 3339): they sort and compare as numbers, and
//! never depend on how many fractional digits a formatter wrote. JSON columns hold compact JSON
//! text. Statuses are the kebab-case names of `codecafe-engine`'s enums; they are checked when
//! read (not with a `CHECK` constraint, so a later version can add a status without rebuilding
//! the table).
//!
//! ```sql
//! orders(id TEXT PK (UUID), cafe_id, recipe_id, status, prompt, vars JSON, branch NULL,
//!        base_branch NULL, worktree_path NULL (NULL = runs in place), created_at, updated_at,
//!        started_at NULL, finished_at NULL, error NULL, max_cost_usd NULL, cost_usd, attempt,
//!        runner NULL, heartbeat_at NULL)
//! stage_runs(id INTEGER PK, order_id FK → orders ON DELETE CASCADE, stage_id, attempt,
//!            order_attempt, status, provider NULL, agent_session_id NULL, started_at NULL,
//!            finished_at NULL, exit_code NULL, usage JSON NULL, cost_usd NULL, output NULL,
//!            error NULL, UNIQUE(order_id, stage_id, attempt))
//! events(seq INTEGER PK AUTOINCREMENT, order_id FK → orders ON DELETE CASCADE, at, kind,
//!        payload JSON)
//! ```
//!
//! ## Version 2
//!
//! Machine-wide terminal slots, kept here so the cap holds across every codecafe process of the
//! user ([`crate::slots`]), and user settings; stored JSON uses camelCase keys only.
//!
//! ```sql
//! settings(key TEXT PK, value JSON)
//! leases(id INTEGER PK, holder (runner id), provider, order_id NULL, stage NULL, acquired_at)
//! lease_queue(ticket INTEGER PK AUTOINCREMENT, holder, provider, since)
//! ```
//!
//! ## Version 3
//!
//! The recipe an order runs, pinned when it is created, and the questions orders asked.
//!
//! ```sql
//! order_snapshots(order_id PK FK → orders ON DELETE CASCADE, snapshot JSON, taken_at)
//! questions(id INTEGER PK, order_id FK → orders ON DELETE CASCADE, stage NULL (NULL: the
//!           budget), kind (questions | budget), questions JSON, asked_at, answer NULL,
//!           answered_at NULL)
//! ```
//!
//! ## Version 4
//!
//! What a stage run's cost and usage are based on: `stage_runs.session_cost_usd` and
//! `stage_runs.session_usage` (JSON) — the agent session's totals as the agent reported them, for
//! agents that report session totals: the next run continuing or forking that session costs and
//! uses the difference — and `stage_runs.cost_estimated` (1 when the cost was computed from
//! tokens with a price table).
//!
//! ## Version 5
//!
//! Approvals: a tool call beyond a stage's permissions that waits for the user's decision, and
//! the decision (the record later requests are answered from).
//!
//! ```sql
//! approvals(id INTEGER PK, order_id FK → orders ON DELETE CASCADE, stage, tool, input JSON,
//!           summary, detail NULL, rule NULL, asked_at, decision NULL (allow | allow-always |
//!           deny | withdrawn), reason NULL, decided_at NULL)
//! ```

use rusqlite::{Connection, TransactionBehavior, params};

/// The schema version this build writes and the newest it reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// One migration: SQL, or a function for what SQL cannot say (rewriting JSON).
pub enum Migration {
    /// Statements run as one batch.
    Sql(&'static str),
    /// Statements run as one batch, then a function over the rows.
    SqlThen(&'static str, fn(&Connection) -> rusqlite::Result<()>),
}

/// `MIGRATIONS[i]` migrates version `i` to `i + 1`.
pub const MIGRATIONS: &[Migration] = &[
    // 0 → 1: the first schema.
    Migration::Sql(
        r#"
    CREATE TABLE orders (
        id            TEXT PRIMARY KEY NOT NULL,
        cafe_id       TEXT NOT NULL,
        recipe_id     TEXT NOT NULL,
        status        TEXT NOT NULL,
        prompt        TEXT NOT NULL DEFAULT '',
        vars          TEXT NOT NULL DEFAULT '{}',
        branch        TEXT,
        base_branch   TEXT,
        worktree_path TEXT,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL,
        started_at    INTEGER,
        finished_at   INTEGER,
        error         TEXT,
        max_cost_usd  REAL,
        cost_usd      REAL NOT NULL DEFAULT 0,
        attempt       INTEGER NOT NULL DEFAULT 1,
        runner        TEXT,
        heartbeat_at  INTEGER
    );
    -- Listing: newest first, optionally by cafe or by status. The rowid (implicitly part of
    -- every index) breaks ties between orders created in the same millisecond.
    CREATE INDEX orders_by_created ON orders (created_at);
    CREATE INDEX orders_by_cafe ON orders (cafe_id, created_at);
    CREATE INDEX orders_by_status ON orders (status, created_at);

    CREATE TABLE stage_runs (
        id               INTEGER PRIMARY KEY,
        order_id         TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
        stage_id         TEXT NOT NULL,
        attempt          INTEGER NOT NULL,
        order_attempt    INTEGER NOT NULL,
        status           TEXT NOT NULL,
        provider         TEXT,
        agent_session_id TEXT,
        started_at       INTEGER,
        finished_at      INTEGER,
        exit_code        INTEGER,
        usage            TEXT,
        cost_usd         REAL,
        output           TEXT,
        error            TEXT,
        UNIQUE (order_id, stage_id, attempt)
    );
    CREATE INDEX stage_runs_by_order ON stage_runs (order_id, id);

    CREATE TABLE events (
        seq      INTEGER PRIMARY KEY AUTOINCREMENT,
        order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
        at       INTEGER NOT NULL,
        kind     TEXT NOT NULL,
        payload  TEXT NOT NULL DEFAULT 'null'
    );
    CREATE INDEX events_by_order ON events (order_id, seq);
    "#,
    ),
    // 1 → 2: machine-wide terminal slots and settings; one key casing (camelCase) in stored
    // JSON (agent events and usage were kebab-case).
    Migration::SqlThen(
        r#"
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    );
    CREATE TABLE leases (
        id          INTEGER PRIMARY KEY,
        holder      TEXT NOT NULL,
        provider    TEXT NOT NULL,
        order_id    TEXT,
        stage       TEXT,
        acquired_at INTEGER NOT NULL
    );
    CREATE TABLE lease_queue (
        ticket   INTEGER PRIMARY KEY AUTOINCREMENT,
        holder   TEXT NOT NULL,
        provider TEXT NOT NULL,
        since    INTEGER NOT NULL
    );
    "#,
        camel_case_json,
    ),
    // 2 → 3: each order's pinned recipe (what every later step of the order runs), and the
    // questions it asked with their answers.
    Migration::Sql(
        r#"
    CREATE TABLE order_snapshots (
        order_id TEXT PRIMARY KEY NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
        snapshot TEXT NOT NULL,
        taken_at INTEGER NOT NULL
    );
    CREATE TABLE questions (
        id          INTEGER PRIMARY KEY,
        order_id    TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
        stage       TEXT,
        kind        TEXT NOT NULL,
        questions   TEXT NOT NULL,
        asked_at    INTEGER NOT NULL,
        answer      TEXT,
        answered_at INTEGER
    );
    CREATE INDEX questions_by_order ON questions (order_id, id);
    "#,
    ),
    // 3 → 4: what a run's cost is based on.
    Migration::Sql(
        r#"
    ALTER TABLE stage_runs ADD COLUMN session_cost_usd REAL;
    ALTER TABLE stage_runs ADD COLUMN session_usage TEXT;
    ALTER TABLE stage_runs ADD COLUMN cost_estimated INTEGER NOT NULL DEFAULT 0;
    "#,
    ),
    // 4 → 5: approvals and their decisions.
    Migration::Sql(
        r#"
    CREATE TABLE approvals (
        id         INTEGER PRIMARY KEY,
        order_id   TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
        stage      TEXT NOT NULL,
        tool       TEXT NOT NULL,
        input      TEXT NOT NULL,
        summary    TEXT NOT NULL,
        detail     TEXT,
        rule       TEXT,
        asked_at   INTEGER NOT NULL,
        decision   TEXT,
        reason     TEXT,
        decided_at INTEGER
    );
    CREATE INDEX approvals_by_order ON approvals (order_id, id);
    "#,
    ),
];

/// Rewrites the kebab-case keys of stored agent events and usage (`input-tokens`,
/// `cost-usd`, `is-error`, …) in camelCase. Only the kinds that carry them are read.
fn camel_case_json(conn: &Connection) -> rusqlite::Result<()> {
    let mut rows: Vec<(i64, String)> = conn
        .prepare(
            "SELECT seq, payload FROM events WHERE kind IN ('order:output', 'stage:completed', \
             'stage:failed', 'order:followup-completed', 'order:followup-failed')",
        )?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (seq, text) in rows.drain(..) {
        if let Some(fixed) = camel_case_text(&text) {
            conn.execute(
                "UPDATE events SET payload = ?2 WHERE seq = ?1",
                params![seq, fixed],
            )?;
        }
    }
    let rows: Vec<(i64, String)> = conn
        .prepare("SELECT id, usage FROM stage_runs WHERE usage IS NOT NULL")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, text) in rows {
        if let Some(fixed) = camel_case_text(&text) {
            conn.execute(
                "UPDATE stage_runs SET usage = ?2 WHERE id = ?1",
                params![id, fixed],
            )?;
        }
    }
    Ok(())
}

/// `text` with every object key that contains `-` in camelCase, or `None` when nothing changes
/// (or it is not JSON: left for the reader to report).
fn camel_case_text(text: &str) -> Option<String> {
    let mut value: serde_json::Value = serde_json::from_str(text).ok()?;
    if !camel_case_keys(&mut value) {
        return None;
    }
    serde_json::to_string(&value).ok()
}

fn camel_case_keys(value: &mut serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(map) => {
            let mut changed = false;
            let entries: Vec<(String, serde_json::Value)> =
                std::mem::take(map).into_iter().collect();
            for (key, mut inner) in entries {
                changed |= camel_case_keys(&mut inner);
                let key = if key.contains('-') {
                    changed = true;
                    camel_case(&key)
                } else {
                    key
                };
                map.insert(key, inner);
            }
            changed
        }
        serde_json::Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, item| camel_case_keys(item) | changed),
        _ => false,
    }
}

/// `cached-input-tokens` → `cachedInputTokens`.
fn camel_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// What [`migrate`] found.
pub(crate) enum Migrated {
    /// The database is at [`SCHEMA_VERSION`] (possibly after migrating).
    Current,
    /// The database is newer than this build.
    Newer(i64),
}

/// Brings the database up to [`SCHEMA_VERSION`], one transaction per migration.
pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<Migrated> {
    // Nearly every open finds the schema current: a plain read says so without the write lock,
    // which a busy codecafe holds often (a `codecafe status` beside a thousand orders waited
    // for it for most of a second).
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version == SCHEMA_VERSION {
        return Ok(Migrated::Current);
    }
    loop {
        let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if !(0..=SCHEMA_VERSION).contains(&version) {
            return Ok(Migrated::Newer(version));
        }
        let Some(migration) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            tx.commit()?;
            return Ok(Migrated::Current);
        };
        tracing::info!(
            from = version,
            to = version + 1,
            "migrating the runtime database"
        );
        match migration {
            Migration::Sql(sql) => tx.execute_batch(sql)?,
            Migration::SqlThen(sql, then) => {
                tx.execute_batch(sql)?;
                then(&tx)?;
            }
        }
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}
