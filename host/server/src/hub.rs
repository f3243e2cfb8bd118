//! One poller of the event store for all the streams: a thread reads the events stored after
//! the last one it saw — by this process or any other codecafe (an order run by the CLI in
//! another terminal shows up the same) — every [`ServerConfig::poll_interval`], serializes each
//! once, and broadcasts it to every open stream.
//!
//! The broadcast holds a bounded number of events ([`ServerConfig::stream_buffer`]); a stream
//! that falls further behind is told so and reads the events it missed from the store, so a
//! slow client costs the server no memory and loses nothing.
//!
//! [`ServerConfig::poll_interval`]: crate::ServerConfig::poll_interval
//! [`ServerConfig::stream_buffer`]: crate::ServerConfig::stream_buffer

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use codecafe_service::feed::EventFeed;
use codecafe_service::{Event, Service};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::error::{Result, ServerError};

/// Events read per query.
pub const PAGE: usize = 500;

/// One event, serialized once for every stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamItem {
    /// Its sequence number (the SSE `id:`).
    pub seq: i64,
    /// Its order.
    pub order_id: Uuid,
    /// Its kind (the SSE `event:`).
    pub kind: &'static str,
    /// The event as JSON, as `--json` prints it (the SSE `data:`).
    pub json: Arc<str>,
}

impl StreamItem {
    /// `event`, serialized.
    pub fn of(event: &Event) -> Self {
        let json = serde_json::to_string(event).unwrap_or_else(|err| {
            serde_json::json!({"v": event.v, "seq": event.seq, "orderId": event.order_id,
                "kind": "event:unreadable", "payload": {"error": err.to_string()}})
            .to_string()
        });
        Self {
            seq: event.seq,
            order_id: event.order_id,
            kind: event.kind(),
            json: json.into(),
        }
    }
}

/// The poller and its broadcast.
#[derive(Debug)]
pub struct Hub {
    sender: Mutex<Option<broadcast::Sender<Arc<StreamItem>>>>,
    position: AtomicI64,
    stopping: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Hub {
    /// Starts polling `service`'s store from its latest event on, every `interval`, holding
    /// `capacity` events for the streams.
    pub fn start(service: &Arc<Service>, interval: Duration, capacity: usize) -> Result<Arc<Self>> {
        let feed = EventFeed::open(service)?;
        let position = feed.latest_seq()?;
        let (sender, _) = broadcast::channel(capacity);
        let hub = Arc::new(Self {
            sender: Mutex::new(Some(sender)),
            position: AtomicI64::new(position),
            stopping: AtomicBool::new(false),
            thread: Mutex::new(None),
        });
        let polling = Arc::clone(&hub);
        let service = Arc::clone(service);
        let thread = std::thread::Builder::new()
            .name("codecafe-events".to_owned())
            .spawn(move || polling.poll_until_closed(&service, feed, interval))
            .map_err(|source| ServerError::Start {
                what: "event poller",
                source,
            })?;
        *hub.thread.lock().unwrap_or_else(PoisonError::into_inner) = Some(thread);
        Ok(hub)
    }

    /// A receiver of the events read from now on; `None` once the hub is closed.
    pub fn subscribe(&self) -> Option<broadcast::Receiver<Arc<StreamItem>>> {
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(broadcast::Sender::subscribe)
    }

    /// The sequence number of the last event read (where a stream of "events from now on"
    /// starts).
    pub fn position(&self) -> i64 {
        self.position.load(Ordering::SeqCst)
    }

    /// Reads once more (what was stored last reaches the streams), then ends every stream.
    /// Blocks until the poller has stopped.
    pub fn close(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            thread.thread().unpark();
            let _ = thread.join();
        }
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    fn poll_until_closed(&self, service: &Service, mut feed: EventFeed, interval: Duration) {
        loop {
            let last = self.stopping.load(Ordering::SeqCst);
            if let Err(err) = self.poll(&feed) {
                tracing::warn!("reading new events failed: {err}; trying again");
                // A fresh connection, in case this one is the trouble.
                if let Ok(fresh) = EventFeed::open(service) {
                    feed = fresh;
                }
            }
            if last {
                return;
            }
            std::thread::park_timeout(interval);
        }
    }

    /// Broadcasts every event stored after the position.
    fn poll(&self, feed: &EventFeed) -> codecafe_service::Result<()> {
        loop {
            let events = feed.after(self.position(), PAGE)?;
            let Some(last) = events.last().map(|event| event.seq) else {
                return Ok(());
            };
            let sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(sender) = sender.as_ref().filter(|s| s.receiver_count() > 0) {
                for event in &events {
                    // No receiver is not an error: nobody listens right now.
                    let _ = sender.send(Arc::new(StreamItem::of(event)));
                }
            }
            drop(sender);
            self.position.store(last, Ordering::SeqCst);
            if events.len() < PAGE {
                return Ok(());
            }
        }
    }
}
