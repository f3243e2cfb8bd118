//! How the caller stops a run: [`CancelToken`].
//!
//! Two ways to stop, with different outcomes:
//! - **cancel** (Ctrl-C, `order cancel`, the API's cancel): the user wants the order to stop;
//!   its agents' process groups are killed, their slots returned, then the order is recorded
//!   `cancelled` ([`crate::RunOutcome::Cancelled`]).
//! - **stop** (SIGTERM, SIGHUP, a server shutting down): the *process* goes away, not the
//!   user's intent; the agents are killed the same way, the order keeps its status (`running`)
//!   with an `order:interrupted` event, and `order resume` continues it
//!   ([`crate::RunOutcome::Interrupted`]).
//!
//! A token may have parents (a server's shutdown token above each order's own token): it is
//! cancelled or stopped when one of them is. Its flags are plain atomics, so a signal handler
//! (e.g. `signal-hook`'s `flag::register`) may set them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Why a run was stopped (not cancelled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The process received this signal (SIGTERM, SIGHUP, …).
    Signal(i32),
    /// The process running it shuts down (a server stopping).
    Shutdown,
}

/// [`StopReason::Shutdown`] as stored in the stop flag (signal numbers are small).
const SHUTDOWN: usize = 1 << 16;

impl StopReason {
    fn code(self) -> usize {
        match self {
            Self::Signal(signal) => usize::try_from(signal).unwrap_or(SHUTDOWN),
            Self::Shutdown => SHUTDOWN,
        }
    }

    fn from_code(code: usize) -> Option<Self> {
        match code {
            0 => None,
            SHUTDOWN => Some(Self::Shutdown),
            signal => Some(Self::Signal(i32::try_from(signal).unwrap_or(i32::MAX))),
        }
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Signal(1) => f.write_str("SIGHUP: the terminal went away"),
            Self::Signal(15) => f.write_str("SIGTERM"),
            Self::Signal(signal) => write!(f, "signal {signal}"),
            Self::Shutdown => f.write_str("the codecafe process running it shut down"),
        }
    }
}

/// Cancels or stops the runs it is given to; cheap to clone (clones share the flags).
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    cancel: Arc<AtomicBool>,
    stop: Arc<AtomicUsize>,
    parents: Vec<CancelToken>,
}

impl CancelToken {
    /// A token nobody has cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new token that is also cancelled or stopped when `self` is.
    pub fn child(&self) -> Self {
        Self::new().with_parent(self.clone())
    }

    /// This token (sharing its flags), also cancelled or stopped when `parent` is.
    pub fn with_parent(mut self, parent: CancelToken) -> Self {
        self.parents.push(parent);
        self
    }

    /// The cancel flag (for a signal handler to set).
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    /// The stop flag: 0, or a signal number (for a signal handler to set).
    pub fn stop_flag(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.stop)
    }

    /// Cancels the runs of this token (and of its children).
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Stops the runs of this token (and of its children): they end interrupted, resumable.
    pub fn stop(&self, reason: StopReason) {
        self.stop.store(reason.code(), Ordering::Relaxed);
    }

    /// Whether it (or a parent) was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed) || self.parents.iter().any(CancelToken::is_cancelled)
    }

    /// Why it (or a parent) was stopped, if it was.
    pub fn stopped(&self) -> Option<StopReason> {
        StopReason::from_code(self.stop.load(Ordering::Relaxed))
            .or_else(|| self.parents.iter().find_map(CancelToken::stopped))
    }

    /// Cancelled or stopped: either way, agents must end.
    pub fn is_done(&self) -> bool {
        self.is_cancelled() || self.stopped().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_follows_its_parent_and_not_the_other_way() {
        let parent = CancelToken::new();
        let child = parent.child();
        child.cancel();
        assert!(child.is_cancelled() && !parent.is_cancelled());
        let other = parent.child();
        parent.stop(StopReason::Signal(15));
        assert_eq!(other.stopped(), Some(StopReason::Signal(15)));
        assert!(!other.is_cancelled() && other.is_done());
        let flag = CancelToken::new();
        flag.stop_flag().store(1, Ordering::Relaxed);
        assert_eq!(flag.stopped(), Some(StopReason::Signal(1)));
        flag.stop(StopReason::Shutdown);
        assert_eq!(flag.stopped(), Some(StopReason::Shutdown));
    }
}
