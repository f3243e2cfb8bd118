//! Approvals: a tool call beyond its stage's permissions that waits for the user's decision,
//! kept with the order so any later process can decide it, and the decisions themselves — the
//! record a repeated request is answered from, so the user is never asked twice.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Result, StoreError};
use crate::sql::{Millis, now};
use crate::store::{Store, TxError, get_order};

/// The user's decision on an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Run this call.
    Allow,
    /// Run this call, and calls matching its rule, for the rest of the order.
    AllowAlways,
    /// Refuse the call (with the user's reason, when given).
    Deny,
    /// Nobody decided: the order was cancelled while it waited.
    Withdrawn,
}

impl Decision {
    /// Its word, as stored and printed (`allow`, `allow-always`, `deny`, `withdrawn`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::AllowAlways => "allow-always",
            Self::Deny => "deny",
            Self::Withdrawn => "withdrawn",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "allow" => Self::Allow,
            "allow-always" => Self::AllowAlways,
            "deny" => Self::Deny,
            "withdrawn" => Self::Withdrawn,
            _ => return None,
        })
    }
}

/// A tool call that asks for approval, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApproval {
    /// The stage whose agent asks.
    pub stage: String,
    /// The tool (`Write`, `Bash`, …).
    pub tool: String,
    /// The tool's input, JSON text.
    pub input: String,
    /// One line for the user: the command line, or the file and what happens to it.
    pub summary: String,
    /// More for the user where there is more (the agent's reason, a diff preview).
    pub detail: Option<String>,
    /// The rule `--always` allows (`Bash(cargo test:*)`), else the tool is the rule.
    pub rule: Option<String>,
}

/// An approval of an order: asked, and decided once the user answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    /// Its id (increasing in the order asked; unique across orders).
    pub id: i64,
    /// The stage whose agent asks.
    pub stage: String,
    /// The tool.
    pub tool: String,
    /// The tool's input, JSON text.
    pub input: String,
    /// One line for the user.
    pub summary: String,
    /// More for the user, where there is more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The rule `--always` allows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// When it was asked.
    pub asked_at: Timestamp,
    /// The decision, once made.
    pub decision: Option<Decision>,
    /// The reason given with a deny.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<Timestamp>,
}

impl Approval {
    /// Whether it still waits for the user.
    pub fn is_pending(&self) -> bool {
        self.decision.is_none()
    }
}

const COLUMNS: &str =
    "id, stage, tool, input, summary, detail, rule, asked_at, decision, reason, decided_at";

fn approval_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Approval> {
    Ok(Approval {
        id: row.get(0)?,
        stage: row.get(1)?,
        tool: row.get(2)?,
        input: row.get(3)?,
        summary: row.get(4)?,
        detail: row.get(5)?,
        rule: row.get(6)?,
        asked_at: row.get::<_, Millis>(7)?.0,
        decision: row
            .get::<_, Option<String>>(8)?
            .as_deref()
            .and_then(Decision::parse),
        reason: row.get(9)?,
        decided_at: row.get::<_, Option<Millis>>(10)?.map(|m| m.0),
    })
}

impl Store {
    /// Records that a stage's tool call waits for the user's decision.
    pub fn request_approval(&self, order_id: Uuid, request: &NewApproval) -> Result<Approval> {
        self.write(|tx| {
            get_order(tx, order_id)?;
            tx.prepare_cached(
                "INSERT INTO approvals (order_id, stage, tool, input, summary, detail, rule, \
                 asked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                order_id.to_string(),
                request.stage,
                request.tool,
                request.input,
                request.summary,
                request.detail,
                request.rule,
                now()
            ])?;
            let id = tx.last_insert_rowid();
            let sql = format!("SELECT {COLUMNS} FROM approvals WHERE id = ?1");
            Ok(tx
                .prepare_cached(&sql)?
                .query_row([id], approval_from_row)?)
        })
    }

    /// Records the user's decision on pending approval `id` of the order; an error naming the
    /// pending ones when it is not pending (decided already, or not the order's).
    pub fn decide_approval(
        &self,
        order_id: Uuid,
        id: i64,
        decision: Decision,
        reason: Option<&str>,
    ) -> Result<Approval> {
        self.write(|tx| {
            let order = get_order(tx, order_id)?;
            let sql = format!(
                "SELECT {COLUMNS} FROM approvals WHERE id = ?1 AND order_id = ?2 \
                 AND decision IS NULL"
            );
            let Some(pending) = tx
                .prepare_cached(&sql)?
                .query_row(params![id, order_id.to_string()], approval_from_row)
                .optional()?
            else {
                let pending: Vec<String> = tx
                    .prepare_cached(
                        "SELECT id FROM approvals WHERE order_id = ?1 AND decision IS NULL \
                         ORDER BY id",
                    )?
                    .query_map([order_id.to_string()], |row| row.get::<_, i64>(0))?
                    .map(|id| id.map(|id| id.to_string()))
                    .collect::<rusqlite::Result<_>>()?;
                return Err(TxError::Store(StoreError::NoPendingApproval {
                    order: order.short_id(),
                    approval: id,
                    pending,
                }));
            };
            let at = now();
            tx.prepare_cached(
                "UPDATE approvals SET decision = ?2, reason = ?3, decided_at = ?4 WHERE id = ?1",
            )?
            .execute(params![id, decision.name(), reason, at])?;
            Ok(Approval {
                decision: Some(decision),
                reason: reason.map(str::to_owned),
                decided_at: Timestamp::from_millisecond(at).ok(),
                ..pending
            })
        })
    }

    /// Withdraws the order's pending approvals (it was cancelled); how many there were.
    pub fn withdraw_approvals(&self, order_id: Uuid) -> Result<usize> {
        self.write(|tx| {
            Ok(tx
                .prepare_cached(
                    "UPDATE approvals SET decision = 'withdrawn', decided_at = ?2 \
                     WHERE order_id = ?1 AND decision IS NULL",
                )?
                .execute(params![order_id.to_string(), now()])?)
        })
    }

    /// The order's approvals, in the order asked.
    pub fn approvals(&self, order_id: Uuid) -> Result<Vec<Approval>> {
        let sql = format!("SELECT {COLUMNS} FROM approvals WHERE order_id = ?1 ORDER BY id");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.db())?;
        let rows = stmt
            .query_map([order_id.to_string()], approval_from_row)
            .map_err(self.db())?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.db())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NewOrder;

    fn store_with_order() -> (tempfile::TempDir, Store, Uuid) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path().join("codecafe.db")).expect("opens");
        let order = store
            .create_order(&NewOrder::new("cafe", "solo"))
            .expect("order");
        (dir, store, order.id)
    }

    fn write_request(stage: &str) -> NewApproval {
        NewApproval {
            stage: stage.to_owned(),
            tool: "Write".to_owned(),
            input: r#"{"file_path":"a.txt","content":"hi"}"#.to_owned(),
            summary: "Write a.txt".to_owned(),
            detail: None,
            rule: None,
        }
    }

    #[test]
    fn an_approval_is_asked_decided_once_and_kept() {
        let (_dir, store, order) = store_with_order();
        let asked = store
            .request_approval(order, &write_request("code"))
            .expect("asked");
        assert!(asked.is_pending());
        let denied = store
            .decide_approval(order, asked.id, Decision::Deny, Some("not there"))
            .expect("decided");
        assert_eq!(denied.decision, Some(Decision::Deny));
        assert_eq!(denied.reason.as_deref(), Some("not there"));
        // Decided already: refused, naming what is pending (nothing).
        let again = store
            .decide_approval(order, asked.id, Decision::Allow, None)
            .expect_err("decided once");
        assert!(
            matches!(&again, StoreError::NoPendingApproval { pending, .. } if pending.is_empty()),
            "{again}"
        );
        assert_eq!(store.approvals(order).expect("listed"), vec![denied]);
    }

    #[test]
    fn cancelling_withdraws_what_is_pending_only() {
        let (_dir, store, order) = store_with_order();
        let first = store
            .request_approval(order, &write_request("a"))
            .expect("asked");
        store
            .decide_approval(order, first.id, Decision::Allow, None)
            .expect("decided");
        store
            .request_approval(order, &write_request("b"))
            .expect("asked");
        assert_eq!(store.withdraw_approvals(order).expect("withdrawn"), 1);
        let decisions: Vec<_> = store
            .approvals(order)
            .expect("listed")
            .iter()
            .map(|a| a.decision)
            .collect();
        assert_eq!(
            decisions,
            [Some(Decision::Allow), Some(Decision::Withdrawn)]
        );
    }
}
