//! Work in progress: skill.
