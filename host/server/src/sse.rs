//! An event stream (`text/event-stream`): the stored events after a sequence number, then the
//! live ones as the [`crate::hub::Hub`] reads them — of one order or of all. Each event is one SSE message:
//!
//! ```text
//! id: 42
//! event: stage:completed
//! data: {"v":1,"seq":42,"orderId":"…","at":"…","kind":"stage:completed","payload":{…}}
//! ```
//!
//! A client resumes with `Last-Event-ID: <seq>` (browsers send it by themselves when they
//! reconnect) or `?after=<seq>`, and gets exactly the events after it: the stream subscribes to
//! the live events before it reads the stored ones and drops any it has sent already, so the
//! hand-over loses and repeats nothing. A stream too slow for the live events reads what it
//! missed from the store. Idle streams carry a keep-alive comment; they end when the server
//! stops.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use codecafe_service::feed::EventFeed;
use futures_util::Stream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

use crate::error::{Result, ServerError};
use crate::hub::{PAGE, StreamItem};
use crate::server::Shared;

/// Whose events a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// One order's.
    Order(Uuid),
    /// Every order's.
    All,
}

impl Subject {
    fn wants(self, item: &StreamItem) -> bool {
        match self {
            Self::Order(id) => item.order_id == id,
            Self::All => true,
        }
    }
}

/// A stream of `subject`'s events after sequence number `after`; refused with 503 when the
/// most streams are open already.
pub fn open(
    shared: &Arc<Shared>,
    subject: Subject,
    after: i64,
) -> Result<Sse<impl Stream<Item = std::result::Result<SseEvent, Infallible>> + use<>>> {
    let permit = Arc::clone(&shared.streams)
        .try_acquire_owned()
        .map_err(|_| ServerError::TooManyStreams {
            max: shared.config.max_streams,
        })?;
    let live = shared.hub.subscribe().ok_or(ServerError::ShuttingDown)?;
    let follow = Follow {
        shared: Arc::clone(shared),
        subject,
        last_sent: after,
        pending: VecDeque::new(),
        live,
        read_stored: true,
        _permit: permit,
    };
    let stream = futures_util::stream::unfold(follow, |mut follow| async move {
        let item = follow.next().await?;
        let event = SseEvent::default()
            .id(item.seq.to_string())
            .event(item.kind)
            .data(&*item.json);
        Some((Ok(event), follow))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(shared.config.keep_alive)))
}

/// Where a stream is.
struct Follow {
    shared: Arc<Shared>,
    subject: Subject,
    /// The sequence number of the last event sent (or the one to resume after).
    last_sent: i64,
    /// Events to send next, oldest first.
    pending: VecDeque<Arc<StreamItem>>,
    live: broadcast::Receiver<Arc<StreamItem>>,
    /// The store has events to read first (at the start, or after falling behind).
    read_stored: bool,
    /// The stream's place among the most the server serves; freed when the stream is dropped.
    _permit: OwnedSemaphorePermit,
}

impl Follow {
    /// The next event to send; `None` ends the stream.
    async fn next(&mut self) -> Option<Arc<StreamItem>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                if item.seq <= self.last_sent {
                    continue;
                }
                self.last_sent = item.seq;
                return Some(item);
            }
            if self.read_stored {
                match self.stored().await {
                    Ok(items) => {
                        self.read_stored = items.len() == PAGE;
                        self.pending.extend(items);
                    }
                    Err(err) => {
                        // The client reconnects with Last-Event-ID and loses nothing.
                        tracing::warn!("an event stream ends: {}", err.message());
                        return None;
                    }
                }
                continue;
            }
            match self.live.recv().await {
                Ok(item) if self.subject.wants(&item) => self.pending.push_back(item),
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => self.read_stored = true,
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// One page of stored events after the last one sent.
    async fn stored(&self) -> Result<Vec<Arc<StreamItem>>> {
        let (subject, after) = (self.subject, self.last_sent);
        self.shared
            .call(move |service| {
                let feed = EventFeed::open(service)?;
                let events = match subject {
                    Subject::Order(id) => feed.of_order(id, after, PAGE)?,
                    Subject::All => feed.after(after, PAGE)?,
                };
                Ok(events
                    .iter()
                    .map(|event| Arc::new(StreamItem::of(event)))
                    .collect())
            })
            .await
    }
}
