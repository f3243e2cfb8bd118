//! Starting and stopping the server: [`start`] binds 127.0.0.1 (port 0: any free port), reads
//! or makes the token, and serves on a tokio runtime of its own, on a background thread; the
//! [`RunningServer`] it returns says where, and stops it.
//!
//! Stopping (SIGINT, SIGTERM or SIGHUP when [`ServerConfig::handle_signals`], or
//! [`RunningServer::shutdown`]) refuses new work, stops the service's shutdown token — each
//! order running here ends interrupted and resumable, its agents killed — waits for those runs
//! (bounded by [`ServerConfig::shutdown_grace`]), lets the event streams send what the runs
//! stored last and end, then closes the connections.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use codecafe_service::{Service, StopReason};
use serde::Serialize;
use tokio::sync::{Semaphore, watch};

use crate::auth::{self, Guard};
use crate::error::{Result, ServerError};
use crate::hub::Hub;
use crate::runs::Runs;

/// How long connections may take to close after the runs stopped, before they are dropped.
const CLOSE_CONNECTIONS: Duration = Duration::from_secs(5);

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The port on 127.0.0.1; 0 takes any free one.
    pub port: u16,
    /// Event streams open at once, at most (one more is refused with 503).
    pub max_streams: usize,
    /// The largest request body, in bytes (a larger one is refused with 413).
    pub body_limit: usize,
    /// How often an idle event stream sends a keep-alive comment.
    pub keep_alive: Duration,
    /// How often the event store is polled for events stored by any process.
    pub poll_interval: Duration,
    /// Events held for the streams between polls; a stream that falls further behind reads
    /// again from the store, losing nothing.
    pub stream_buffer: usize,
    /// How long a request starting a run waits for it to begin (its first event) before
    /// answering that it is starting.
    pub start_wait: Duration,
    /// How long stopping waits for the orders running here to stop.
    pub shutdown_grace: Duration,
    /// Stop on SIGINT, SIGTERM and SIGHUP (`codecafe serve`; not in tests).
    pub handle_signals: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            port: 0,
            max_streams: 64,
            body_limit: 1024 * 1024,
            keep_alive: Duration::from_secs(15),
            poll_interval: Duration::from_millis(100),
            stream_buffer: 1024,
            start_wait: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            handle_signals: false,
        }
    }
}

/// What every request handler shares.
#[derive(Debug)]
pub struct Shared {
    /// The service every operation goes through.
    pub service: Arc<Service>,
    /// How the server runs.
    pub config: ServerConfig,
    /// The request checks.
    pub guard: Guard,
    /// Orders running here.
    pub runs: Arc<Runs>,
    /// Events for the streams.
    pub hub: Arc<Hub>,
    /// One permit per open event stream.
    pub streams: Arc<Semaphore>,
    stopping: AtomicBool,
    report: Mutex<Option<ShutdownReport>>,
}

impl Shared {
    /// Runs `call` on the blocking pool with the service; its error as a [`ServerError`].
    pub async fn call<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Service) -> codecafe_service::Result<T> + Send + 'static,
    ) -> Result<T> {
        let service = Arc::clone(&self.service);
        tokio::task::spawn_blocking(move || call(&service))
            .await
            .map_err(|err| ServerError::Internal(format!("a service call died: {err}")))?
            .map_err(ServerError::from)
    }

    /// An error when the server is stopping (nothing new starts then).
    pub fn ensure_running(&self) -> Result<()> {
        if self.stopping.load(Ordering::SeqCst) {
            Err(ServerError::ShuttingDown)
        } else {
            Ok(())
        }
    }

    /// Stops the orders running here and waits for them (bounded), then ends the streams.
    async fn stop(&self) -> ShutdownReport {
        self.stopping.store(true, Ordering::SeqCst);
        self.service.shutdown_token().stop(StopReason::Shutdown);
        let runs = Arc::clone(&self.runs);
        let hub = Arc::clone(&self.hub);
        let grace = self.config.shutdown_grace;
        let report = tokio::task::spawn_blocking(move || {
            let still_running = runs.wait_idle(grace);
            // A last poll sends the runs' final events (`order:interrupted`) to the streams.
            hub.close();
            ShutdownReport {
                interrupted: runs.interrupted(),
                still_running,
            }
        })
        .await
        .unwrap_or_default();
        *self.report.lock().unwrap_or_else(PoisonError::into_inner) = Some(report.clone());
        report
    }
}

/// What stopping the server did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShutdownReport {
    /// Orders that were running here and were stopped, resumable (short ids).
    pub interrupted: Vec<String>,
    /// Runs that had not stopped when the grace period ran out (short ids or what they were).
    pub still_running: Vec<String>,
}

/// Stops a running server from anywhere (cheap to clone).
#[derive(Debug, Clone)]
pub struct Stopper {
    stop: watch::Sender<bool>,
}

impl Stopper {
    /// Asks the server to stop; [`RunningServer::wait`] returns once it has.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }
}

/// A server listening on 127.0.0.1.
#[derive(Debug)]
pub struct RunningServer {
    port: u16,
    token: String,
    token_file: PathBuf,
    stopper: Stopper,
    thread: Option<std::thread::JoinHandle<ShutdownReport>>,
}

impl RunningServer {
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its address, `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The URL to open once: it sets the cookie and goes on to `/` without the token.
    pub fn login_url(&self) -> String {
        format!("{}/?token={}", self.base_url(), self.token)
    }

    /// The token (`Authorization: Bearer <token>`).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Where the token is kept.
    pub fn token_file(&self) -> &Path {
        &self.token_file
    }

    /// A handle that stops the server.
    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// Stops the server and waits until it has stopped.
    pub fn shutdown(mut self) -> ShutdownReport {
        self.stopper.stop();
        self.join()
    }

    /// Waits until the server stops (by a signal or a [`Stopper`]).
    pub fn wait(mut self) -> ShutdownReport {
        self.join()
    }

    fn join(&mut self) -> ShutdownReport {
        self.thread
            .take()
            .and_then(|thread| thread.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stopper.stop();
            self.join();
        }
    }
}

/// Starts serving `service` on 127.0.0.1 as `config` says; returns once it listens.
pub fn start(service: Arc<Service>, config: ServerConfig) -> Result<RunningServer> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, config.port));
    let bind = |source| ServerError::Bind {
        addr: addr.to_string(),
        source,
    };
    let listener = std::net::TcpListener::bind(addr).map_err(bind)?;
    listener.set_nonblocking(true).map_err(bind)?;
    let port = listener.local_addr().map_err(bind)?.port();
    let token_file = auth::token_file(&service);
    let token = auth::load_or_create_token(&token_file)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("codecafe-http")
        .build()
        .map_err(|source| ServerError::Start {
            what: "runtime",
            source,
        })?;
    let hub = Hub::start(&service, config.poll_interval, config.stream_buffer.max(16))?;
    let shared = Arc::new(Shared {
        guard: Guard::new(token.clone(), port, token_file.clone()),
        runs: Arc::new(Runs::default()),
        hub,
        streams: Arc::new(Semaphore::new(config.max_streams)),
        stopping: AtomicBool::new(false),
        report: Mutex::new(None),
        service,
        config,
    });
    let (stop, stop_rx) = watch::channel(false);
    let hub = Arc::clone(&shared.hub);
    let thread = std::thread::Builder::new()
        .name("codecafe-server".to_owned())
        .spawn(move || {
            let report = runtime.block_on(serve(listener, Arc::clone(&shared), stop_rx));
            runtime.shutdown_timeout(Duration::from_secs(1));
            report
        })
        .map_err(|source| {
            hub.close();
            ServerError::Start {
                what: "thread",
                source,
            }
        })?;
    Ok(RunningServer {
        port,
        token,
        token_file,
        stopper: Stopper { stop },
        thread: Some(thread),
    })
}

/// Serves until told to stop, then stops cleanly (bounded).
async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) -> ShutdownReport {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!("cannot listen: {err}");
            return shared.stop().await;
        }
    };
    let app = crate::routes::router(Arc::clone(&shared));
    let (stopped_tx, mut stopped_rx) = watch::channel(false);
    let stopping = Arc::clone(&shared);
    let signals = shared.config.handle_signals;
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        stop_requested(stop, signals).await;
        stopping.stop().await;
        stopped_tx.send_replace(true);
    });
    let force = async move {
        // Connections still open a while after the runs stopped are dropped.
        let _ = stopped_rx.wait_for(|stopped| *stopped).await;
        tokio::time::sleep(CLOSE_CONNECTIONS).await;
    };
    tokio::select! {
        result = server => {
            if let Err(err) = result {
                tracing::error!("the server failed: {err}");
            }
        }
        () = force => tracing::warn!("connections still open after stopping were dropped"),
    }
    let report = shared
        .report
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    match report {
        Some(report) => report,
        None => shared.stop().await,
    }
}

/// Resolves when a stop is asked for: through the [`Stopper`], or by a signal.
async fn stop_requested(mut stop: watch::Receiver<bool>, signals: bool) {
    let asked = async move {
        let _ = stop.wait_for(|stop| *stop).await;
    };
    if !signals {
        return asked.await;
    }
    tokio::select! {
        () = asked => {}
        () = signal() => {}
    }
}

/// Resolves on SIGINT, SIGTERM or SIGHUP (never, when they cannot be handled).
async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let kinds = [
        SignalKind::interrupt(),
        SignalKind::terminate(),
        SignalKind::hangup(),
    ];
    let mut streams = Vec::new();
    for kind in kinds {
        match signal(kind) {
            Ok(stream) => streams.push(stream),
            Err(err) => tracing::warn!("cannot handle a signal ({err}); it will kill the server"),
        }
    }
    if streams.is_empty() {
        return std::future::pending().await;
    }
    let waits = streams.iter_mut().map(|stream| Box::pin(stream.recv()));
    futures_util::future::select_all(waits).await;
}
