//! Profiles: which provider (and model, and options) plays each role — list, show, use,
//! remove, and `assign` a role in one.

use std::collections::BTreeMap;

use codecafe_catalog::profile::{Assignment, Profiles, Removal};
use codecafe_plugin_host::PluginKind;
use serde::Serialize;
use serde_json::Value;

use crate::error::{Result, ServiceError};
use crate::service::{Scope, Service};

/// One profile with its assignments.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileRow {
    /// The profile name.
    pub name: String,
    /// Recipes resolve with it.
    pub active: bool,
    /// Assignments by role id (none: every role uses the built-in defaults).
    pub roles: BTreeMap<String, Assignment>,
}

/// What removing a profile did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileRemoved {
    /// The profile named.
    pub name: String,
    /// It was `default`, which always exists: it was emptied instead.
    pub emptied: bool,
    /// It was the active one: `default` is active now.
    pub default_active: bool,
}

/// A role to assign in a profile.
#[derive(Debug, Clone)]
pub struct AssignRequest {
    /// The role id.
    pub role: String,
    /// An installed provider plugin.
    pub provider: String,
    /// The model; the agent's default when `None`.
    pub model: Option<String>,
    /// The profile to change (created if missing); default: the active one.
    pub profile: Option<String>,
    /// Provider options, as [`parse_options`] reads them.
    pub options: BTreeMap<String, Value>,
}

/// A role assigned.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Assigned {
    /// The profile changed.
    pub profile: String,
    /// The role.
    pub role: String,
    /// Its assignment now.
    pub assignment: Assignment,
    /// Its assignment before, if it had one.
    pub previous: Option<Assignment>,
}

/// Every profile, the active one marked.
pub fn profiles(service: &Service) -> Result<Vec<ProfileRow>> {
    let profiles = service.profiles()?;
    let active = profiles.active().0;
    Ok(profiles
        .profiles
        .iter()
        .map(|(name, profile)| ProfileRow {
            name: name.clone(),
            active: name == active,
            roles: profile.roles.clone(),
        })
        .collect())
}

/// The profile `name`.
pub fn profile(service: &Service, name: &str) -> Result<ProfileRow> {
    let profiles = service.profiles()?;
    let active = profiles.active().0 == name;
    let chosen = profiles.with_active(name)?;
    Ok(ProfileRow {
        name: name.to_owned(),
        active,
        roles: chosen
            .active()
            .1
            .map(|profile| profile.roles.clone())
            .unwrap_or_default(),
    })
}

/// Makes the profile `name` the active one.
pub fn use_profile(service: &Service, name: &str) -> Result<()> {
    Ok(Profiles::use_profile(&profiles_file(service), name)?)
}

/// Removes the profile `name` (`default` is emptied instead).
pub fn remove_profile(service: &Service, name: &str) -> Result<ProfileRemoved> {
    let removal = Profiles::remove(&profiles_file(service), name)?;
    Ok(ProfileRemoved {
        name: name.to_owned(),
        emptied: removal == Removal::Emptied,
        default_active: removal == Removal::Removed { was_active: true },
    })
}

/// Reads `--option` values written `KEY=JSON` (a value that is not JSON is taken as text).
pub fn parse_options(texts: &[String]) -> Result<BTreeMap<String, Value>> {
    let mut options = BTreeMap::new();
    for text in texts {
        let (key, value) = parse_option(text)?;
        if options.insert(key.clone(), value).is_some() {
            return Err(ServiceError::GivenTwice {
                what: format!("--option {key}"),
            });
        }
    }
    Ok(options)
}

fn parse_option(text: &str) -> Result<(String, Value)> {
    let Some((key, value)) = text.split_once('=') else {
        return Err(ServiceError::bad_input(
            format!("--option {text}"),
            "write KEY=VALUE, e.g. `--option max_turns=20`",
        ));
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(ServiceError::bad_input(
            format!("--option {text}"),
            "the key is empty; write KEY=VALUE",
        ));
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((key.to_owned(), value))
}

/// Assigns a role in a profile to a provider installed for the cafe `scope` means.
pub fn assign(service: &Service, scope: &Scope, request: AssignRequest) -> Result<Assigned> {
    let registry = crate::plugins::registry(service, scope)?;
    let installed: Vec<String> = registry
        .active()
        .filter(|plugin| plugin.kind() == PluginKind::Provider)
        .map(|plugin| plugin.id().to_owned())
        .collect();
    if !installed.contains(&request.provider) {
        return Err(ServiceError::UnknownProvider {
            provider: request.provider,
            installed,
        });
    }
    let file = profiles_file(service);
    let profile = match request.profile {
        Some(profile) => profile,
        None => service.profiles()?.active().0.to_owned(),
    };
    let assignment = Assignment {
        provider: request.provider,
        model: request.model,
        options: request.options,
    };
    let previous = Profiles::assign(&file, &profile, &request.role, assignment.clone())?;
    Ok(Assigned {
        profile,
        role: request.role,
        assignment,
        previous,
    })
}

fn profiles_file(service: &Service) -> std::path::PathBuf {
    Profiles::path(&service.paths().data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn options_are_json_or_text() {
        assert_eq!(
            parse_option("max_turns=20").expect("parses"),
            ("max_turns".to_owned(), json!(20))
        );
        assert_eq!(
            parse_option("sandbox=workspace-write").expect("parses"),
            ("sandbox".to_owned(), json!("workspace-write"))
        );
        assert_eq!(
            parse_option(r#"add_dirs=["/a","/b"]"#).expect("parses"),
            ("add_dirs".to_owned(), json!(["/a", "/b"]))
        );
        assert!(parse_option("novalue").is_err());
        assert!(parse_option("=1").is_err());
    }

    #[test]
    fn an_option_given_twice_is_refused() {
        let twice = ["a=1".to_owned(), "a=2".to_owned()];
        assert!(matches!(
            parse_options(&twice),
            Err(ServiceError::GivenTwice { .. })
        ));
    }
}
