//! The terminal pool (being written).
