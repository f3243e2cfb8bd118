//! # codecafe-catalog
//!
//! Everything a user defines, loaded exactly as the seeds describe and validated with precise,
//! located messages: **cafes** (registered repositories), **recipes** (stage graphs in YAML),
//! **skills** (instruction snippets in JSON), **roles** (prompt templates) and **profiles**
//! (which provider plays which role). Every file codecafe writes follows the rules of
//! [`storage`]: atomic replace, cross-process locks, a schema version, and no silent reset of a
//! corrupt file. Every template (a role's, a recipe stage's `prompt`) renders in the one strict
//! environment of [`template`].

pub mod cafe;
pub mod error;
pub mod grants;
pub mod ids;
pub mod layout;
mod location;
pub mod profile;
pub mod recipe;
pub mod role;
pub mod skill;
pub mod storage;
pub mod template;
pub mod trust;
mod yaml;

pub use error::{CatalogError, Problem, Result};
pub use layout::OrchDir;
