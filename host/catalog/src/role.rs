//! Work in progress: role.
