//! The terminal pool: agent processes in pseudo-terminals or on pipes, each in its own process
//! group, and leases that bound how many run at once, per provider and in total.
//!
//! - [`spawn`] starts a [`codecafe_sdk::CommandSpec`] and returns an [`AgentProcess`]: bounded
//!   output streaming, standard input as the spec asks, waits with deadlines, and
//!   [`AgentProcess::terminate`] for the whole process group. Dropping it kills the group.
//! - [`TerminalPool`] hands out [`Lease`]s in FIFO order under a global cap and per-provider
//!   limits. A lease is meant to be held **only while an agent process runs** — never while an
//!   order waits for a human — and is returned when dropped, on every path.

mod error;
mod launch;
mod pool;
mod process;

pub use error::{Result, TerminalError};
pub use pool::{CANCEL_POLL, Lease, PoolStats, ProviderStats, TerminalPool};
pub use process::{
    AgentProcess, Collected, DEFAULT_ENV_ALLOW, ExitStatus, KILL_WAIT, OUTPUT_CHUNK_BYTES,
    OUTPUT_QUEUE_CHUNKS, Output, PTY_COLS, PTY_ROWS, agent_base_env, inherited_env, spawn,
};
