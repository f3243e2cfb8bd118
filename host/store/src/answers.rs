//! What stays with an order besides its runs and events: the recipe it runs, pinned when it was
//! created (a JSON snapshot the runner writes and reads), and the questions it asked with the
//! user's answers — so later stages and re-runs in any process see them.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{Result, StoreError};
use crate::sql::{Json, Millis, now};
use crate::store::{Store, bad, get_order};

/// Why an order asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuestionKind {
    /// A stage asked questions; any text answers them.
    Questions,
    /// The order reached its budget; the user raises it or stops.
    Budget,
    /// A stage's tool call waits for the user's approval (`order approve` / `order deny`).
    Approval,
}

impl QuestionKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Questions => "questions",
            Self::Budget => "budget",
            Self::Approval => "approval",
        }
    }
}

/// A question an order asked, and its answer once given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Question {
    /// Its id (increasing in the order asked).
    pub id: i64,
    /// The stage that asked (`None` for the budget).
    pub stage: Option<String>,
    /// Why.
    pub kind: QuestionKind,
    /// What was asked.
    pub questions: Vec<String>,
    /// When.
    pub asked_at: Timestamp,
    /// The user's answer.
    pub answer: Option<String>,
    /// When it was given.
    pub answered_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, stage, kind, questions, asked_at, answer, answered_at";

fn question_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Question> {
    let kind: String = row.get(2)?;
    Ok(Question {
        id: row.get(0)?,
        stage: row.get(1)?,
        kind: match kind.as_str() {
            "budget" => QuestionKind::Budget,
            "approval" => QuestionKind::Approval,
            _ => QuestionKind::Questions,
        },
        questions: row.get::<_, Json<Vec<String>>>(3)?.0,
        asked_at: row.get::<_, Millis>(4)?.0,
        answer: row.get(5)?,
        answered_at: row.get::<_, Option<Millis>>(6)?.map(|m| m.0),
    })
}

impl Store {
    /// Pins `snapshot` (the recipe as the order runs it) to the order, replacing an earlier one.
    pub fn set_snapshot(&self, order_id: Uuid, snapshot: &Value) -> Result<()> {
        let text =
            serde_json::to_string(snapshot).map_err(|err| bad("snapshot", err.to_string()))?;
        self.write(|tx| {
            get_order(tx, order_id)?;
            tx.prepare_cached(
                "INSERT INTO order_snapshots (order_id, snapshot, taken_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (order_id) DO UPDATE SET snapshot = excluded.snapshot, \
                 taken_at = excluded.taken_at",
            )?
            .execute(params![order_id.to_string(), text, now()])?;
            Ok(())
        })
    }

    /// The order's pinned snapshot and when it was taken, if it has one (orders created before
    /// codecafe pinned recipes have none).
    pub fn snapshot(&self, order_id: Uuid) -> Result<Option<(Value, Timestamp)>> {
        self.conn
            .prepare_cached("SELECT snapshot, taken_at FROM order_snapshots WHERE order_id = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([order_id.to_string()], |row| {
                    Ok((row.get::<_, Json<Value>>(0)?.0, row.get::<_, Millis>(1)?.0))
                })
                .optional()
            })
            .map_err(self.db())
    }

    /// Records that the order asks `questions` (of `stage`, or about its budget).
    pub fn ask(
        &self,
        order_id: Uuid,
        stage: Option<&str>,
        kind: QuestionKind,
        questions: &[String],
    ) -> Result<Question> {
        let text =
            serde_json::to_string(questions).map_err(|err| bad("questions", err.to_string()))?;
        self.write(|tx| {
            get_order(tx, order_id)?;
            tx.prepare_cached(
                "INSERT INTO questions (order_id, stage, kind, questions, asked_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                order_id.to_string(),
                stage,
                kind.as_str(),
                text,
                now()
            ])?;
            let id = tx.last_insert_rowid();
            let sql = format!("SELECT {COLUMNS} FROM questions WHERE id = ?1");
            Ok(tx
                .prepare_cached(&sql)?
                .query_row([id], question_from_row)?)
        })
    }

    /// Records `answer` to the order's open question (the latest one not answered yet); an
    /// error when none is open.
    pub fn answer(&self, order_id: Uuid, answer: &str) -> Result<Question> {
        self.write(|tx| {
            let order = get_order(tx, order_id)?;
            let sql = format!(
                "SELECT {COLUMNS} FROM questions WHERE order_id = ?1 AND answer IS NULL \
                 ORDER BY id DESC LIMIT 1"
            );
            let open = tx
                .prepare_cached(&sql)?
                .query_row([order_id.to_string()], question_from_row)
                .optional()?
                .ok_or_else(|| StoreError::NoOpenQuestion {
                    order: order.short_id(),
                })?;
            let at = now();
            tx.prepare_cached("UPDATE questions SET answer = ?2, answered_at = ?3 WHERE id = ?1")?
                .execute(params![open.id, answer, at])?;
            Ok(Question {
                answer: Some(answer.to_owned()),
                answered_at: Timestamp::from_millisecond(at).ok(),
                ..open
            })
        })
    }

    /// The order's questions, in the order asked.
    pub fn questions(&self, order_id: Uuid) -> Result<Vec<Question>> {
        let sql = format!("SELECT {COLUMNS} FROM questions WHERE order_id = ?1 ORDER BY id");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.db())?;
        let rows = stmt
            .query_map([order_id.to_string()], question_from_row)
            .map_err(self.db())?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.db())
    }

    /// Sets (or clears) the order's cost limit, in US dollars.
    pub fn set_max_cost(&self, order_id: Uuid, max_cost_usd: Option<f64>) -> Result<()> {
        if let Some(limit) = max_cost_usd
            && !(limit.is_finite() && limit >= 0.0)
        {
            return Err(bad(
                "cost limit",
                format!("{limit} is not an amount of US dollars"),
            ));
        }
        self.write(|tx| {
            get_order(tx, order_id)?;
            tx.prepare_cached(
                "UPDATE orders SET max_cost_usd = ?2, updated_at = ?3 WHERE id = ?1",
            )?
            .execute(params![order_id.to_string(), max_cost_usd, now()])?;
            Ok(())
        })
    }
}
