//! Unique ids for messages, responses and tool calls.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Generates ids like `msg_fake_1a2b3c4d_0007`: a per-server nonce (so ids differ between
/// server runs, which matters when a client resumes a session recorded against an earlier
/// server) and a counter.
#[derive(Debug)]
pub struct IdGen {
    nonce: String,
    counter: AtomicU64,
}

impl IdGen {
    /// A generator with a fresh nonce derived from the clock and the process id.
    pub fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 32) ^ (nanos >> 64) as u64;
        // A cheap mix so that consecutive starts do not share a prefix.
        let mixed = mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
        IdGen {
            nonce: format!("{:08x}", mixed & 0xffff_ffff),
            counter: AtomicU64::new(1),
        }
    }

    /// The next id with this prefix (e.g. `msg`, `toolu`, `resp`, `call`).
    pub fn next(&self, prefix: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}_fake_{}_{n:04}", self.nonce)
    }
}

impl Default for IdGen {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_prefixed() {
        let ids = IdGen::new();
        let a = ids.next("msg");
        let b = ids.next("msg");
        assert_ne!(a, b);
        assert!(a.starts_with("msg_fake_"));
        assert!(ids.next("toolu").starts_with("toolu_fake_"));
    }
}
