//! The order runner (being written).
