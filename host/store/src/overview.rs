//! Queries for an overview of every order in flight (`codecafe status`), one query each
//! instead of one per order: with a thousand orders in flight, asking per order took longer
//! than the 50 ms a status line may take.

use std::collections::HashSet;

use codecafe_engine::StageStatus;
use rusqlite::params;
use uuid::Uuid;

use crate::OrderStatus;
use crate::error::Result;
use crate::store::Store;

impl Store {
    /// The created orders that waited for a place in their cafe (an `order:queued` event).
    pub fn queued_orders(&self) -> Result<HashSet<Uuid>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id FROM orders WHERE status = ?1 AND EXISTS \
                 (SELECT 1 FROM events WHERE events.order_id = orders.id AND kind = ?2)",
            )
            .map_err(self.db())?;
        let ids = stmt
            .query_map(
                params![OrderStatus::Created.as_str(), "order:queued"],
                |row| row.get::<_, String>(0),
            )
            .map_err(self.db())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.db())?;
        Ok(ids
            .iter()
            .filter_map(|id| Uuid::parse_str(id).ok())
            .collect())
    }

    /// The stages running or awaiting input of the orders in one of `statuses`, as (order,
    /// stage), in the order they started.
    pub fn active_stages(&self, statuses: &[OrderStatus]) -> Result<Vec<(Uuid, String)>> {
        let placeholders = (3..3 + statuses.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT s.order_id, s.stage_id FROM orders o JOIN stage_runs s ON s.order_id = o.id \
             WHERE o.status IN ({placeholders}) AND s.status IN (?1, ?2) ORDER BY s.id"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.db())?;
        let mut values: Vec<&str> = vec![
            StageStatus::Running.as_str(),
            StageStatus::AwaitingInput.as_str(),
        ];
        values.extend(statuses.iter().map(|status| status.as_str()));
        let rows = stmt
            .query_map(rusqlite::params_from_iter(values), |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(self.db())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.db())?;
        Ok(rows
            .into_iter()
            .filter_map(|(order, stage)| Some((Uuid::parse_str(&order).ok()?, stage)))
            .collect())
    }
}
