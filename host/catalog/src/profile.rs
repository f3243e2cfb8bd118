//! Work in progress: profile.
