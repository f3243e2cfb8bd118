//! The sandbox a plugin runs in: what its store holds and what its imports can reach.
//!
//! A plugin gets WASI 0.2 so that Rust's standard library links, but nothing real behind it:
//! no preopened directories, no environment, no arguments, no sockets, stdin closed, a wall clock
//! frozen at the Unix epoch, a monotonic clock frozen at zero whose sleeps end at once (a real
//! sleep would block the host thread where the epoch deadline cannot reach it), and stdout /
//! stderr captured into a bounded in-memory log that keeps the most recent bytes.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime::{ResourceLimiter, Store};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::{DynPollable, OutputStream, Pollable, StreamError, subscribe};
use wasmtime_wasi::{
    HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView,
};

/// Limits applied to every plugin instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory a plugin may use, in bytes.
    pub memory_bytes: usize,
    /// Wall time one call may take.
    pub call_deadline: Duration,
    /// Bytes of strings and lists one call may return.
    pub output_bytes: usize,
    /// Bytes of stdout/stderr kept per instance (the most recent ones).
    pub log_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            call_deadline: Duration::from_secs(2),
            output_bytes: 8 << 20,
            log_bytes: 64 << 10,
        }
    }
}

/// The data of one plugin store.
pub(crate) struct SandboxState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryCap,
    pub(crate) log: BoundedLog,
}

impl SandboxState {
    pub(crate) fn new(limits: &Limits) -> Self {
        let log = BoundedLog::new(limits.log_bytes);
        let wasi = WasiCtxBuilder::new()
            .stdout(log.clone())
            .stderr(log.clone())
            .wall_clock(FrozenWallClock)
            .monotonic_clock(FrozenMonotonicClock)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryCap {
                limit: limits.memory_bytes,
                refused: None,
            },
            log,
        }
    }
}

impl WasiView for SandboxState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A new store for one plugin instance, with its limiter set.
pub(crate) fn new_store(engine: &wasmtime::Engine, limits: &Limits) -> Store<SandboxState> {
    let mut store = Store::new(engine, SandboxState::new(limits));
    store.limiter(|state| &mut state.limiter);
    store
}

/// The linker every plugin is instantiated with: WASI 0.2 behind the sandbox, nothing else.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<SandboxState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    // Replace the monotonic clock so sleeps return at once instead of blocking the host.
    linker.allow_shadowing(true);
    monotonic_clock::add_to_linker::<SandboxState, InstantSleeps>(&mut linker, |state| {
        InstantSleepsView {
            table: &mut state.table,
        }
    })?;
    linker.allow_shadowing(false);
    Ok(linker)
}

/// Refuses memory growth past the cap and remembers that it did, so the trap that follows can be
/// reported as a memory limit rather than a generic fault.
pub(crate) struct MemoryCap {
    limit: usize,
    pub(crate) refused: Option<usize>,
}

/// The error a refused memory growth traps with.
#[derive(Debug, thiserror::Error)]
#[error("memory cap of {limit} bytes reached (asked for {requested})")]
pub(crate) struct MemoryCapReached {
    pub(crate) limit: usize,
    pub(crate) requested: usize,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.refused = Some(desired);
            return Err(wasmtime::Error::new(MemoryCapReached {
                limit: self.limit,
                requested: desired,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

/// Plugin stdout/stderr: keeps the last `capacity` bytes, drops older ones, never fails a write.
#[derive(Clone)]
pub(crate) struct BoundedLog {
    inner: Arc<Mutex<LogBuffer>>,
}

struct LogBuffer {
    bytes: Vec<u8>,
    capacity: usize,
    dropped: usize,
}

impl BoundedLog {
    fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(LogBuffer {
                bytes: Vec::new(),
                capacity,
                dropped: 0,
            })),
        }
    }

    fn append(&self, data: &[u8]) {
        let mut buffer = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let capacity = buffer.capacity;
        let data = if data.len() > capacity {
            buffer.dropped += data.len() - capacity;
            &data[data.len() - capacity..]
        } else {
            data
        };
        let overflow = (buffer.bytes.len() + data.len()).saturating_sub(capacity);
        if overflow > 0 {
            buffer.bytes.drain(..overflow);
            buffer.dropped += overflow;
        }
        buffer.bytes.extend_from_slice(data);
    }

    /// The text logged so far, prefixed with how much was dropped, if anything.
    pub(crate) fn text(&self) -> String {
        let buffer = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let text = String::from_utf8_lossy(&buffer.bytes);
        if buffer.dropped > 0 {
            format!("[{} earlier bytes dropped] {text}", buffer.dropped)
        } else {
            text.into_owned()
        }
    }

    /// The last `max` bytes of the log, for error messages.
    pub(crate) fn tail(&self, max: usize) -> String {
        let text = self.text();
        let mut start = text.len().saturating_sub(max);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        text[start..].to_owned()
    }
}

impl IsTerminal for BoundedLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for BoundedLog {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for BoundedLog {
    async fn ready(&mut self) {}
}

impl OutputStream for BoundedLog {
    fn write(&mut self, bytes: bytes::Bytes) -> Result<(), StreamError> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for BoundedLog {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.append(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// A wall clock that always says 1970-01-01T00:00:00Z.
struct FrozenWallClock;

impl HostWallClock for FrozenWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

/// A monotonic clock that never moves.
struct FrozenMonotonicClock;

impl HostMonotonicClock for FrozenMonotonicClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        0
    }
}

/// `wasi:clocks/monotonic-clock` whose time stands still and whose sleeps are over at once.
struct InstantSleeps;

impl HasData for InstantSleeps {
    type Data<'a> = InstantSleepsView<'a>;
}

struct InstantSleepsView<'a> {
    table: &'a mut ResourceTable,
}

/// A pollable that is always ready.
struct Ready;

#[wasmtime_wasi::async_trait]
impl Pollable for Ready {
    async fn ready(&mut self) {}
}

impl InstantSleepsView<'_> {
    fn ready(&mut self) -> wasmtime::Result<Resource<DynPollable>> {
        let ready = self.table.push(Ready)?;
        subscribe(self.table, ready)
    }
}

impl monotonic_clock::Host for InstantSleepsView<'_> {
    fn now(&mut self) -> wasmtime::Result<monotonic_clock::Instant> {
        Ok(0)
    }

    fn resolution(&mut self) -> wasmtime::Result<monotonic_clock::Duration> {
        Ok(1)
    }

    fn subscribe_instant(
        &mut self,
        _when: monotonic_clock::Instant,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        self.ready()
    }

    fn subscribe_duration(
        &mut self,
        _duration: monotonic_clock::Duration,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        self.ready()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_keeps_the_most_recent_bytes() {
        let log = BoundedLog::new(8);
        log.append(b"hello ");
        log.append(b"world");
        assert_eq!(log.text(), "[3 earlier bytes dropped] lo world");
        log.append(b"0123456789");
        assert_eq!(log.text(), "[13 earlier bytes dropped] 23456789");
        assert_eq!(log.tail(3), "789");
    }
}
