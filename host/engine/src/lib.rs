//! The execution engine (being written).
