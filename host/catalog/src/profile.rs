//! Profiles: which provider (with which model and options) plays each role.
//!
//! One file for the user, `<data dir>/profiles.json`, a [`storage::Versioned`] document changed
//! only through [`storage::update`] (locked, atomic):
//!
//! ```json
//! {
//!   "version": 1,
//!   "active": "default",
//!   "profiles": {
//!     "default": { "roles": { "reviewer": { "provider": "codex" } }, "passEnv": ["CORP_PROXY"] },
//!     "cheap": {
//!       "roles": {
//!         "coder": { "provider": "claude-code", "model": "haiku", "options": { "max_turns": 20 } }
//!       }
//!     }
//!   }
//! }
//! ```
//!
//! The profile named [`DEFAULT_PROFILE`] always exists (it can be emptied, not removed). A
//! recipe stage's own `provider`/`model`/options win over the active profile, which wins over
//! the built-in defaults (see [`crate::recipe::Recipe::resolve`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{CatalogError, Result};
use crate::ids::check_id;
use crate::storage::{self, Versioned};

/// The profile that always exists.
pub const DEFAULT_PROFILE: &str = "default";
/// The file name in the data dir.
pub const PROFILES_FILE: &str = "profiles.json";

/// Who plays a role: a provider, and optionally a model and provider options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// The provider plugin id.
    pub provider: String,
    /// The model; none means the agent's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Provider options (as a recipe's `options`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, serde_json::Value>,
}

/// One profile: role id → assignment, and variables every agent also gets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Profile {
    /// Assignments by role id.
    #[serde(default)]
    pub roles: BTreeMap<String, Assignment>,
    /// Variables of the user's environment every agent gets while the profile is active, on
    /// top of what its provider declares (names, or `PREFIX_*`), like a stage's `pass_env`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass_env: Vec<String>,
}

/// The profiles document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profiles {
    /// Schema version.
    pub version: u32,
    /// The profile recipes resolve with.
    pub active: String,
    /// Profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

impl Versioned for Profiles {
    const VERSION: u32 = 1;

    fn empty() -> Self {
        Self {
            version: Self::VERSION,
            active: DEFAULT_PROFILE.to_owned(),
            profiles: BTreeMap::from([(DEFAULT_PROFILE.to_owned(), Profile::default())]),
        }
    }
}

impl Default for Profiles {
    fn default() -> Self {
        Self::empty()
    }
}

/// What [`Profiles::remove`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// The profile is gone; `was_active` when `default` became the active one.
    Removed {
        /// It was the active profile.
        was_active: bool,
    },
    /// It was `default`, which was emptied instead.
    Emptied,
}

impl Profiles {
    /// The profiles file in `data_dir`.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(PROFILES_FILE)
    }

    /// Reads the profiles at `path` (only `default`, empty, when the file does not exist).
    pub fn load(path: &Path) -> Result<Self> {
        let mut profiles: Self = storage::read_or_empty(path)?;
        profiles.normalize();
        Ok(profiles)
    }

    fn normalize(&mut self) {
        self.profiles.entry(DEFAULT_PROFILE.to_owned()).or_default();
        if !self.profiles.contains_key(&self.active) {
            self.active = DEFAULT_PROFILE.to_owned();
        }
    }

    /// The active profile's name and contents.
    pub fn active(&self) -> (&str, Option<&Profile>) {
        (&self.active, self.profiles.get(&self.active))
    }

    /// A profile by name.
    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.profiles.get(name)
    }

    /// The profile names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.profiles.keys().map(String::as_str).collect()
    }

    /// The active profile's assignment for `role`.
    pub fn assignment(&self, role: &str) -> Option<&Assignment> {
        self.active().1.and_then(|p| p.roles.get(role))
    }

    /// These profiles with `name` active instead (not saved): for resolving with another
    /// profile once.
    pub fn with_active(mut self, name: &str) -> Result<Self> {
        self.require(name)?;
        self.active = name.to_owned();
        Ok(self)
    }

    fn require(&self, name: &str) -> Result<&Profile> {
        self.profiles
            .get(name)
            .ok_or_else(|| CatalogError::NotFound {
                kind: "profile",
                id: name.to_owned(),
                hint: Some(format!(
                    "the profiles are {}; `codecafe assign <role> <provider> --profile {name}` \
                 creates it",
                    self.names().join(", ")
                )),
            })
    }

    /// Assigns `role` in profile `profile` (created if missing) to `assignment`, replacing any
    /// earlier one, which is returned.
    pub fn assign(
        path: &Path,
        profile: &str,
        role: &str,
        assignment: Assignment,
    ) -> Result<Option<Assignment>> {
        check_id("profile", profile)?;
        check_id("role", role)?;
        check_id("provider", &assignment.provider)?;
        storage::update(path, |profiles: &mut Self| {
            profiles.normalize();
            Ok(profiles
                .profiles
                .entry(profile.to_owned())
                .or_default()
                .roles
                .insert(role.to_owned(), assignment))
        })
    }

    /// Makes `name` the active profile.
    pub fn use_profile(path: &Path, name: &str) -> Result<()> {
        storage::update(path, |profiles: &mut Self| {
            profiles.normalize();
            profiles.require(name)?;
            profiles.active = name.to_owned();
            Ok(())
        })
    }

    /// Removes profile `name`; `default` is emptied instead. Removing the active profile makes
    /// `default` active.
    pub fn remove(path: &Path, name: &str) -> Result<Removal> {
        storage::update(path, |profiles: &mut Self| {
            profiles.normalize();
            profiles.require(name)?;
            if name == DEFAULT_PROFILE {
                profiles
                    .profiles
                    .insert(DEFAULT_PROFILE.to_owned(), Profile::default());
                return Ok(Removal::Emptied);
            }
            profiles.profiles.remove(name);
            let was_active = profiles.active == name;
            if was_active {
                profiles.active = DEFAULT_PROFILE.to_owned();
            }
            Ok(Removal::Removed { was_active })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn assignment(provider: &str) -> Assignment {
        Assignment {
            provider: provider.to_owned(),
            model: None,
            options: BTreeMap::new(),
        }
    }

    #[test]
    fn a_missing_file_has_an_empty_default_profile() {
        let dir = tempfile::tempdir().expect("temp dir");
        let profiles = Profiles::load(&Profiles::path(dir.path())).expect("loads");
        assert_eq!(profiles.active().0, DEFAULT_PROFILE);
        assert_eq!(profiles.names(), [DEFAULT_PROFILE]);
        assert!(profiles.assignment("coder").is_none());
    }

    #[test]
    fn assign_creates_profiles_and_replaces_assignments() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = Profiles::path(dir.path());
        let mut with_model = assignment("codex");
        with_model.model = Some("gpt-5".to_owned());
        with_model
            .options
            .insert("sandbox".to_owned(), json!("workspace-write"));
        assert_eq!(
            Profiles::assign(&path, "fast", "coder", with_model.clone()).expect("assigns"),
            None
        );
        let earlier = Profiles::assign(&path, "fast", "coder", assignment("claude-code"))
            .expect("assigns again");
        assert_eq!(earlier, Some(with_model));
        let profiles = Profiles::load(&path).expect("loads");
        assert_eq!(profiles.names(), ["default", "fast"]);
        assert_eq!(profiles.active().0, "default", "assign does not switch");
        assert_eq!(
            profiles.get("fast").expect("fast").roles["coder"].provider,
            "claude-code"
        );
        let text = std::fs::read_to_string(&path).expect("file");
        assert!(text.contains("\"version\": 1"), "{text}");
    }

    #[test]
    fn use_and_remove() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = Profiles::path(dir.path());
        assert!(matches!(
            Profiles::use_profile(&path, "nope"),
            Err(CatalogError::NotFound { .. })
        ));
        Profiles::assign(&path, "fast", "coder", assignment("codex")).expect("assigns");
        Profiles::assign(&path, "default", "reviewer", assignment("codex")).expect("assigns");
        Profiles::use_profile(&path, "fast").expect("uses");
        let profiles = Profiles::load(&path).expect("loads");
        assert_eq!(
            profiles.assignment("coder").expect("coder").provider,
            "codex"
        );

        assert_eq!(
            Profiles::remove(&path, "fast").expect("removes"),
            Removal::Removed { was_active: true }
        );
        let profiles = Profiles::load(&path).expect("loads");
        assert_eq!(profiles.active().0, "default");
        assert!(profiles.assignment("reviewer").is_some());

        assert_eq!(
            Profiles::remove(&path, "default").expect("empties"),
            Removal::Emptied
        );
        let profiles = Profiles::load(&path).expect("loads");
        assert_eq!(profiles.names(), ["default"]);
        assert!(profiles.assignment("reviewer").is_none());
        assert!(matches!(
            Profiles::remove(&path, "fast"),
            Err(CatalogError::NotFound { .. })
        ));
    }

    #[test]
    fn bad_names_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = Profiles::path(dir.path());
        for (profile, role, provider) in [
            ("Bad", "coder", "codex"),
            ("p", "Co der", "codex"),
            ("p", "coder", ""),
        ] {
            assert!(matches!(
                Profiles::assign(&path, profile, role, assignment(provider)),
                Err(CatalogError::InvalidId { .. })
            ));
        }
        assert!(!path.exists());
    }

    #[test]
    fn a_corrupt_file_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = Profiles::path(dir.path());
        std::fs::write(
            &path,
            r#"{"version": 1, "active": "default", "profils": {}}"#,
        )
        .expect("write");
        assert!(matches!(
            Profiles::load(&path),
            Err(CatalogError::Corrupt { .. })
        ));
        assert!(matches!(
            Profiles::assign(&path, "default", "coder", assignment("codex")),
            Err(CatalogError::Corrupt { .. })
        ));
    }

    #[test]
    fn with_active_switches_without_saving() {
        let profiles = Profiles::default();
        assert!(profiles.clone().with_active("nope").is_err());
        assert_eq!(
            profiles.with_active("default").expect("exists").active().0,
            "default"
        );
    }
}
