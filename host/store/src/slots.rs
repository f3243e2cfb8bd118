//! What must hold across every codecafe process of the user, kept in the database: settings,
//! the machine-wide terminal slots (how many agents run at once, in total and per provider),
//! and claims that respect a cafe's `maxParallelOrders`.
//!
//! **Slots.** A process that wants to start an agent takes a ticket in `lease_queue`, then asks
//! [`Store::try_take_slot`] until it is granted (each ask is one write transaction): a slot is
//! granted when the total and the provider's leases are under their caps and no *older* ticket
//! could be granted instead, so waiters are served first come first served across processes
//! (a waiter for a provider at its own cap does not hold up the others). Leases and tickets of
//! dead holders are removed on every ask: the caller says which holders are alive (a process
//! id check, which a library of SQL cannot do), so a `kill -9`'d codecafe never leaks a slot.
//!
//! **Caps** are settings, read inside each ask, so a change (`codecafe config set pool.max 16`)
//! applies at once to every process: `pool.max` (default [`DEFAULT_POOL_MAX`]) and
//! `pool.provider.<id>` (no per-provider cap by default).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::error::Result;
use crate::model::Order;
use crate::sql::{Millis, millis, now};
use crate::store::{Store, TxError, bad, get_order};
use crate::{OrderStatus, StoreError as E};

/// The machine-wide cap on agents running at once when `pool.max` is not set.
pub const DEFAULT_POOL_MAX: u32 = 8;
/// The setting holding the machine-wide cap.
pub const POOL_MAX_KEY: &str = "pool.max";
/// The prefix of the per-provider cap settings (`pool.provider.claude-code`).
pub const POOL_PROVIDER_PREFIX: &str = "pool.provider.";

/// The caps on agents running at once, machine-wide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolCaps {
    /// In total.
    pub max: u32,
    /// Per provider, where set.
    pub providers: BTreeMap<String, u32>,
}

impl PoolCaps {
    /// The cap of `provider` (the total when it has none of its own).
    pub fn of(&self, provider: &str) -> u32 {
        self.providers
            .get(provider)
            .copied()
            .unwrap_or(self.max)
            .min(self.max)
    }
}

/// A granted slot, as [`Store::slots`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SlotLease {
    /// Its id.
    pub id: i64,
    /// The runner (process) holding it.
    pub holder: String,
    /// The provider whose agent runs in it.
    pub provider: String,
    /// The order, if given.
    pub order_id: Option<Uuid>,
    /// The stage, if given.
    pub stage: Option<String>,
    /// When it was granted.
    pub acquired_at: Timestamp,
}

/// What a slot is asked for.
#[derive(Debug, Clone, Copy)]
pub struct SlotRequest<'a> {
    /// The runner (process) asking.
    pub holder: &'a str,
    /// The provider whose agent will run.
    pub provider: &'a str,
    /// The order.
    pub order_id: Option<Uuid>,
    /// The stage.
    pub stage: Option<&'a str>,
}

/// What [`Store::claim_order_within`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The order is ours to run.
    Claimed(Box<Order>),
    /// The cafe already runs `max` orders: wait and ask again.
    Queued {
        /// The cafe's orders running agents now.
        running: u32,
        /// Its `maxParallelOrders`.
        max: u32,
    },
}

impl Store {
    // ----- settings -----

    /// Every setting, by key.
    pub fn settings(&self) -> Result<BTreeMap<String, Value>> {
        read_settings(&self.conn).map_err(|err| self.db()(err))
    }

    /// Sets `key` to `value` (JSON).
    pub fn set_setting(&self, key: &str, value: &Value) -> Result<()> {
        if key.trim().is_empty() {
            return Err(bad("setting", "the key must not be empty"));
        }
        let text = value.to_string();
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key, text])?;
            Ok(())
        })
    }

    /// Removes `key`; whether it was set.
    pub fn remove_setting(&self, key: &str) -> Result<bool> {
        self.write(|tx| {
            Ok(tx
                .prepare_cached("DELETE FROM settings WHERE key = ?1")?
                .execute([key])?
                > 0)
        })
    }

    /// The caps in force.
    pub fn pool_caps(&self) -> Result<PoolCaps> {
        pool_caps(&self.conn).map_err(|err| self.fail(err))
    }

    // ----- slots -----

    /// Takes a ticket in the queue for a slot for `provider`; ask with it in
    /// [`Store::try_take_slot`], and give it up with [`Store::leave_slot_queue`] when no longer
    /// waiting.
    pub fn enqueue_for_slot(&self, holder: &str, provider: &str) -> Result<i64> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO lease_queue (holder, provider, since) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![holder, provider, now()])?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// Grants the slot `ticket` waits for, if the caps allow it and no older ticket could be
    /// granted instead; `None`: ask again later. Leases and tickets of holders `alive` says are
    /// dead are removed first.
    pub fn try_take_slot(
        &self,
        ticket: i64,
        request: &SlotRequest<'_>,
        alive: &dyn Fn(&str) -> bool,
    ) -> Result<Option<i64>> {
        self.write(|tx| {
            reap_dead(tx, alive)?;
            let mine: Option<String> = tx
                .prepare_cached("SELECT provider FROM lease_queue WHERE ticket = ?1")?
                .query_row([ticket], |row| row.get(0))
                .optional()?;
            if mine.is_none() {
                // Reaped (its holder looked dead) or never taken: queue again at the back.
                tx.prepare_cached(
                    "INSERT INTO lease_queue (ticket, holder, provider, since) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![ticket, request.holder, request.provider, now()])?;
            }
            let caps = pool_caps(tx)?;
            let mut per_provider: BTreeMap<String, u32> = BTreeMap::new();
            let mut total = 0u32;
            for provider in tx
                .prepare_cached("SELECT provider FROM leases")?
                .query_map([], |row| row.get::<_, String>(0))?
            {
                total += 1;
                *per_provider.entry(provider?).or_default() += 1;
            }
            let free = |provider: &str| {
                total < caps.max
                    && per_provider.get(provider).copied().unwrap_or(0) < caps.of(provider)
            };
            let older: Vec<String> = tx
                .prepare_cached("SELECT provider FROM lease_queue WHERE ticket < ?1 ORDER BY ticket")?
                .query_map([ticket], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            if older.iter().any(|provider| free(provider)) || !free(request.provider) {
                return Ok(None);
            }
            tx.prepare_cached(
                "INSERT INTO leases (holder, provider, order_id, stage, acquired_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                request.holder,
                request.provider,
                request.order_id.map(|id| id.to_string()),
                request.stage,
                now()
            ])?;
            let lease = tx.last_insert_rowid();
            tx.prepare_cached("DELETE FROM lease_queue WHERE ticket = ?1")?
                .execute([ticket])?;
            Ok(Some(lease))
        })
    }

    /// Gives up waiting with `ticket`.
    pub fn leave_slot_queue(&self, ticket: i64) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM lease_queue WHERE ticket = ?1")?
                .execute([ticket])?;
            Ok(())
        })
    }

    /// Returns slot `lease`.
    pub fn release_slot(&self, lease: i64) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM leases WHERE id = ?1")?
                .execute([lease])?;
            Ok(())
        })
    }

    /// The granted slots, oldest first (leases of dead holders included until the next ask).
    pub fn slots(&self) -> Result<Vec<SlotLease>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, holder, provider, order_id, stage, acquired_at FROM leases ORDER BY id",
            )
            .map_err(self.db())?;
        let rows = stmt
            .query_map([], |row| {
                Ok(SlotLease {
                    id: row.get(0)?,
                    holder: row.get(1)?,
                    provider: row.get(2)?,
                    order_id: row
                        .get::<_, Option<crate::sql::Parsed<Uuid>>>(3)?
                        .map(|id| id.0),
                    stage: row.get(4)?,
                    acquired_at: row.get::<_, Millis>(5)?.0,
                })
            })
            .map_err(self.db())?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.db())
    }

    /// How many tickets wait for a slot.
    pub fn slot_queue_len(&self) -> Result<usize> {
        self.conn
            .query_row("SELECT count(*) FROM lease_queue", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|n| usize::try_from(n).unwrap_or(0))
            .map_err(self.db())
    }

    // ----- claims -----

    /// [`Store::claim_order`] — also taking over a claim whose holder `alive` says is dead —
    /// unless `limit` (the cafe's `maxParallelOrders`) of the order's cafe's *other* orders are
    /// claimed by living runners and running or about to:
    /// then nothing changes and the answer is [`Claim::Queued`]. One transaction, so two
    /// processes can never both take the last place.
    pub fn claim_order_within(
        &self,
        id: Uuid,
        runner: &str,
        stale_after: Duration,
        limit: Option<u32>,
        alive: &dyn Fn(&str) -> bool,
    ) -> Result<Claim> {
        if runner.is_empty() {
            return Err(bad("runner", "must not be empty"));
        }
        if let Some(max) = limit {
            // A read first, without the write lock: the orders queued behind a full cafe ask
            // several times a second each, and most answers are "still full".
            let running = get_order(&self.conn, id)
                .and_then(|order| cafe_running(&self.conn, &order, stale_after, alive))
                .map_err(|err| self.fail(err))?;
            if running >= max {
                return Ok(Claim::Queued { running, max });
            }
        }
        self.write(|tx| {
            let order = get_order(tx, id)?;
            if let Some(max) = limit {
                let running = cafe_running(tx, &order, stale_after, alive)?;
                if running >= max {
                    return Ok(Claim::Queued { running, max });
                }
            }
            claim(tx, &order, runner, stale_after, alive)
                .map(|order| Claim::Claimed(Box::new(order)))
        })
    }

    /// Marks the order as being executed by `runner` (a name unique to one process). Succeeds
    /// if nobody holds it, `runner` already does, or the holder's last heartbeat is older than
    /// `stale_after` (it died); otherwise an error naming the holder. This is how two processes
    /// are kept from running the same order.
    pub fn claim_order(&self, id: Uuid, runner: &str, stale_after: Duration) -> Result<Order> {
        if runner.is_empty() {
            return Err(bad("runner", "must not be empty"));
        }
        self.write(|tx| {
            let order = get_order(tx, id)?;
            claim(tx, &order, runner, stale_after, &|_| true)
        })
    }
}

/// Takes the order for `runner` unless another holder is alive: its heartbeat is younger than
/// `stale_after` and `alive` does not know it dead.
fn claim(
    tx: &Transaction<'_>,
    order: &Order,
    runner: &str,
    stale_after: Duration,
    alive: &dyn Fn(&str) -> bool,
) -> Result<Order, TxError> {
    let now = now();
    if let (Some(holder), Some(at)) = (&order.runner, order.heartbeat_at)
        && holder != runner
        && alive(holder)
    {
        let heard_ago = Duration::from_millis(u64::try_from(now - millis(at)).unwrap_or(0));
        if heard_ago < stale_after {
            return Err(E::Claimed {
                id: order.id,
                runner: holder.clone(),
                heard_ago,
            }
            .into());
        }
    }
    tx.prepare_cached("UPDATE orders SET runner = ?2, heartbeat_at = ?3 WHERE id = ?1")?
        .execute(params![order.id.to_string(), runner, now])?;
    get_order(tx, order.id)
}

/// The other orders of `order`'s cafe that a living runner holds while they run (or are about
/// to start).
fn cafe_running(
    tx: &rusqlite::Connection,
    order: &Order,
    stale_after: Duration,
    alive: &dyn Fn(&str) -> bool,
) -> Result<u32, TxError> {
    let fresh_since = now() - i64::try_from(stale_after.as_millis()).unwrap_or(i64::MAX);
    // By holder: `alive` reads `/proc` once per process, not once per order (every order
    // queued behind a busy cafe asks here several times a second).
    let holders: Vec<(String, i64)> = tx
        .prepare_cached(
            "SELECT runner, count(*) FROM orders WHERE cafe_id = ?1 AND id != ?2 \
             AND runner IS NOT NULL AND heartbeat_at >= ?3 AND status IN (?4, ?5, ?6) \
             GROUP BY runner",
        )?
        .query_map(
            params![
                order.cafe_id,
                order.id.to_string(),
                fresh_since,
                OrderStatus::Created.as_str(),
                OrderStatus::Running.as_str(),
                OrderStatus::FollowupRunning.as_str()
            ],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?
        .collect::<rusqlite::Result<_>>()?;
    let running: i64 = holders
        .iter()
        .filter(|(holder, _)| alive(holder))
        .map(|(_, orders)| orders)
        .sum();
    Ok(u32::try_from(running).unwrap_or(u32::MAX))
}

fn read_settings(conn: &rusqlite::Connection) -> rusqlite::Result<BTreeMap<String, Value>> {
    let mut stmt = conn.prepare_cached("SELECT key, value FROM settings ORDER BY key")?;
    let rows = stmt.query_map([], |row| {
        let key: String = row.get(0)?;
        let text: String = row.get(1)?;
        Ok((
            key,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    })?;
    rows.collect()
}

fn pool_caps(conn: &rusqlite::Connection) -> Result<PoolCaps, TxError> {
    let settings = read_settings(conn)?;
    let cap = |key: &str, value: &Value| -> Result<u32, TxError> {
        value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                bad(
                    "setting",
                    format!(
                        "`{key}` is {value}, not a number of agents (1 or more); fix it with \
                         `codecafe config set {key} <n>`"
                    ),
                )
                .into()
            })
    };
    let mut caps = PoolCaps {
        max: DEFAULT_POOL_MAX,
        providers: BTreeMap::new(),
    };
    for (key, value) in &settings {
        if key == POOL_MAX_KEY {
            caps.max = cap(key, value)?;
        } else if let Some(provider) = key.strip_prefix(POOL_PROVIDER_PREFIX) {
            caps.providers.insert(provider.to_owned(), cap(key, value)?);
        }
    }
    Ok(caps)
}

/// Removes the leases and tickets of holders that are not alive.
fn reap_dead(tx: &Transaction<'_>, alive: &dyn Fn(&str) -> bool) -> Result<(), TxError> {
    let mut holders = BTreeSet::new();
    for table in ["leases", "lease_queue"] {
        let sql = format!("SELECT DISTINCT holder FROM {table}");
        for holder in tx
            .prepare_cached(&sql)?
            .query_map([], |row| row.get::<_, String>(0))?
        {
            holders.insert(holder?);
        }
    }
    for holder in holders.into_iter().filter(|h| !alive(h)) {
        tx.prepare_cached("DELETE FROM leases WHERE holder = ?1")?
            .execute([&holder])?;
        tx.prepare_cached("DELETE FROM lease_queue WHERE holder = ?1")?
            .execute([&holder])?;
    }
    Ok(())
}
