//! Durable runtime state (being written).
