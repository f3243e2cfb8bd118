//! The terminal pool's errors: one enum, each variant saying what happened and what to do.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong starting, driving or leasing an agent process.
#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    /// The program could not be started.
    #[error(
        "cannot start `{program}` in {}: {source}; check that it is installed and on the PATH \
         given to the agent, and that the directory exists",
        cwd.display()
    )]
    Spawn {
        /// The program.
        program: String,
        /// The working directory.
        cwd: PathBuf,
        /// The cause.
        source: std::io::Error,
    },

    /// The pseudo-terminal could not be opened or used.
    #[error("pseudo-terminal for `{program}`: {message}; run the agent with pipes instead")]
    Pty {
        /// The program.
        program: String,
        /// What failed.
        message: String,
    },

    /// Talking to the process failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },

    /// Input was written after standard input was closed.
    #[error(
        "standard input of `{program}` is closed; only a command spec with `Stdin::KeepOpen` \
         takes input while it runs"
    )]
    InputClosed {
        /// The program.
        program: String,
    },

    /// The process did not exit even after SIGKILL.
    #[error(
        "`{program}` (pid {pid}) did not exit within {waited:?} of SIGKILL; it may be stuck in \
         the kernel (e.g. on a hung file system)"
    )]
    DidNotExit {
        /// The program.
        program: String,
        /// Its pid.
        pid: u32,
        /// How long we waited after SIGKILL.
        waited: Duration,
    },

    /// No terminal became free in time.
    #[error(
        "no terminal for `{provider}` became free within {waited:?} ({in_use} of {limit} in use, \
         {waiting} waiting); wait for running agents to finish or raise the pool limits"
    )]
    LeaseTimeout {
        /// The provider.
        provider: String,
        /// How long the caller waited.
        waited: Duration,
        /// Slots of the tighter limit in use when it gave up.
        in_use: usize,
        /// That limit.
        limit: usize,
        /// Other callers still waiting.
        waiting: usize,
    },

    /// The caller cancelled while waiting for a terminal.
    #[error("cancelled while waiting for a terminal for `{provider}`")]
    LeaseCancelled {
        /// The provider.
        provider: String,
    },

    /// A pool limit of zero would make every lease wait forever.
    #[error("a terminal limit must be at least 1 (got 0 for {scope})")]
    ZeroLimit {
        /// `the whole pool` or the provider id.
        scope: String,
    },
}

/// The terminal pool's result type.
pub type Result<T, E = TerminalError> = std::result::Result<T, E>;
