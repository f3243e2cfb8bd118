//! Every order's events as one sequence, for a server streaming them: an [`EventFeed`] reads
//! the events stored after a sequence number — by this process or any other — and keeps its
//! database connection between reads, since a server polls it several times a second.
//!
//! Sequence numbers increase across the whole database and writes are serialized, so a reader
//! that saw event `n` has seen every event below `n` that will ever be stored: resuming from a
//! sequence number loses nothing and repeats nothing.

use codecafe_store::{Event, Store};
use uuid::Uuid;

use crate::error::Result;
use crate::service::Service;

/// A reader of the stored events of every order.
#[derive(Debug)]
pub struct EventFeed {
    store: Store,
}

impl EventFeed {
    /// A feed on the service's order database (its own connection).
    pub fn open(service: &Service) -> Result<Self> {
        Ok(Self {
            store: service.store()?,
        })
    }

    /// The sequence number of the latest event stored (0: none yet).
    pub fn latest_seq(&self) -> Result<i64> {
        Ok(self.store.last_seq()?)
    }

    /// Events of every order after sequence number `after`, oldest first, at most `limit`.
    pub fn after(&self, after: i64, limit: usize) -> Result<Vec<Event>> {
        Ok(self.store.events_after(after, limit)?)
    }

    /// Events of order `order` after sequence number `after`, oldest first, at most `limit`.
    pub fn of_order(&self, order: Uuid, after: i64, limit: usize) -> Result<Vec<Event>> {
        Ok(self.store.events_since(order, after, limit)?)
    }
}
