//! Orders running in the server process: each `execute`, `input`, `retry`, `resume`,
//! `followup` or `run` request starts its service call on a thread of its own and answers as
//! soon as the run has begun — its first event stored — or has failed to start (with the
//! service's error, the CLI's message). The run goes on after the answer; its events reach the
//! clients through the event streams.
//!
//! Each run's token is a child of the service's shutdown token (the service links them), so
//! stopping the server stops every run here: agents killed, the order interrupted and
//! resumable. [`Runs::wait_idle`] waits for them, bounded, and refuses new runs from then on.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use codecafe_service::orders::Created;
use codecafe_service::{CancelToken, Event, RunOutcome, Service, ServiceError};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::error::{Result, ServerError};

/// A run's service call: given the service, its token, a callback for the order it creates
/// (`run` only) and one for each event stored.
pub type RunBody = Box<
    dyn FnOnce(
            &Service,
            &CancelToken,
            &mut dyn FnMut(&Created),
            &mut dyn FnMut(&Event),
        ) -> codecafe_service::Result<RunOutcome>
        + Send,
>;

/// How a run started, as the request that started it hears it.
#[derive(Debug)]
pub enum Begun {
    /// `run` created its order (it starts next).
    Created(Box<Created>),
    /// The run stored its first event: it is under way.
    Running,
    /// The call returned before any event: refused, or over at once.
    Finished(codecafe_service::Result<RunOutcome>),
}

/// The orders running here.
#[derive(Debug, Default)]
pub struct Runs {
    state: Mutex<RunsState>,
    idle: Condvar,
}

#[derive(Debug, Default)]
struct RunsState {
    next_id: u64,
    active: BTreeMap<u64, Active>,
    interrupted: Vec<String>,
    closed: bool,
}

#[derive(Debug)]
struct Active {
    what: &'static str,
    order: Option<Uuid>,
}

impl Runs {
    fn lock(&self) -> MutexGuard<'_, RunsState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts `body` on a thread of its own (`what`: `execute`, `input`, … for its name);
    /// the receiver hears how it began.
    pub fn start(
        self: &Arc<Self>,
        service: &Arc<Service>,
        what: &'static str,
        order: Option<Uuid>,
        body: RunBody,
    ) -> Result<oneshot::Receiver<Begun>> {
        let id = {
            let mut state = self.lock();
            if state.closed {
                return Err(ServerError::ShuttingDown);
            }
            state.next_id += 1;
            let id = state.next_id;
            state.active.insert(id, Active { what, order });
            id
        };
        let (begun, heard) = oneshot::channel();
        let runs = Arc::clone(self);
        let service = Arc::clone(service);
        let spawned = std::thread::Builder::new()
            .name(format!("codecafe-{what}"))
            .spawn(move || runs.run(id, &service, body, begun));
        if let Err(source) = spawned {
            self.finish(id, None);
            return Err(ServerError::Start {
                what: "run thread",
                source,
            });
        }
        Ok(heard)
    }

    fn run(&self, id: u64, service: &Service, body: RunBody, begun: oneshot::Sender<Begun>) {
        let begun = RefCell::new(Some(begun));
        let tell = |news: Begun| {
            if let Some(sender) = begun.borrow_mut().take() {
                let _ = sender.send(news);
            }
        };
        let token = CancelToken::new();
        let mut created = |created: &Created| {
            if let Some(run) = self.lock().active.get_mut(&id) {
                run.order = Some(created.order.id);
            }
            tell(Begun::Created(Box::new(created.clone())));
        };
        let mut emit = |_: &Event| {
            if begun.borrow().is_some() {
                tell(Begun::Running);
            }
        };
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            body(service, &token, &mut created, &mut emit)
        }))
        .unwrap_or_else(|_| Err(internal("it failed inside codecafe (a panic)")));
        let interrupted = matches!(result, Ok(RunOutcome::Interrupted { .. }));
        match (&result, begun.borrow().is_some()) {
            (Err(err), false) => tracing::warn!("a run ended with an error: {err}"),
            (Ok(outcome), false) => tracing::info!("a run ended: {outcome:?}"),
            _ => {}
        }
        tell(Begun::Finished(result));
        self.finish(id, interrupted.then_some(()));
    }

    fn finish(&self, id: u64, interrupted: Option<()>) {
        let mut state = self.lock();
        if let Some(run) = state.active.remove(&id)
            && interrupted.is_some()
        {
            state.interrupted.push(describe(&run));
        }
        if state.active.is_empty() {
            self.idle.notify_all();
        }
    }

    /// How many runs are under way.
    pub fn active(&self) -> usize {
        self.lock().active.len()
    }

    /// Refuses new runs, then waits up to `timeout` for those under way to end; returns those
    /// still running then.
    pub fn wait_idle(&self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        state.closed = true;
        while !state.active.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self
                .idle
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state.active.values().map(describe).collect()
    }

    /// The orders whose runs here were stopped by the shutdown, resumable (short ids).
    pub fn interrupted(&self) -> Vec<String> {
        self.lock().interrupted.clone()
    }
}

/// An internal failure of a run, as a service error (kind `internal`).
fn internal(what: &str) -> ServiceError {
    ServiceError::io(
        "<run>",
        std::io::Error::other(format!("{what}; see the server's log")),
    )
}

fn describe(run: &Active) -> String {
    match run.order {
        Some(order) => order.to_string().chars().take(8).collect(),
        None => format!("({})", run.what),
    }
}

/// Waits up to `wait` for how the run began; `None` when it has not begun by then (it goes on).
pub async fn begun(heard: oneshot::Receiver<Begun>, wait: Duration) -> Option<Begun> {
    match tokio::time::timeout(wait, heard).await {
        Ok(Ok(begun)) => Some(begun),
        Ok(Err(_)) => Some(Begun::Finished(Err(internal("it ended without a word")))),
        Err(_) => None,
    }
}
