//! Work in progress: cafe.
