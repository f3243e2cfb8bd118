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

use rusqlite::{Connection, TransactionBehavior};

/// The schema version this build writes and the newest it reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// `MIGRATIONS[i]` migrates version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 0 → 1: the first schema.
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
];

/// What [`migrate`] found.
pub(crate) enum Migrated {
    /// The database is at [`SCHEMA_VERSION`] (possibly after migrating).
    Current,
    /// The database is newer than this build.
    Newer(i64),
}

/// Brings the database up to [`SCHEMA_VERSION`], one transaction per migration.
pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<Migrated> {
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
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}
