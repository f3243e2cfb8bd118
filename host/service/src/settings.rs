//! Settings that hold for every codecafe process of the user, kept in the order database:
//! the terminal-slot caps `pool.max` (agents running at once, machine-wide) and
//! `pool.provider.<id>` (of one provider).

use codecafe_store::slots::{DEFAULT_POOL_MAX, POOL_MAX_KEY, POOL_PROVIDER_PREFIX};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Result, ServiceError};
use crate::service::Service;

/// One setting.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Setting {
    /// Its key.
    pub key: String,
    /// Its value.
    pub value: Value,
    /// Whether the value is the default (not set).
    pub default: bool,
    /// What it means.
    pub description: String,
}

/// What the known keys mean, for messages.
const KEYS: &str = "pool.max (agents running at once on this machine, all codecafe processes; \
                    default 8) and pool.provider.<provider id> (agents of one provider at once)";

/// Every setting: the defaults of those not set, then those set.
pub fn list(service: &Service) -> Result<Vec<Setting>> {
    let set = service.store()?.settings()?;
    let mut settings = Vec::new();
    if !set.contains_key(POOL_MAX_KEY) {
        settings.push(describe(POOL_MAX_KEY, Value::from(DEFAULT_POOL_MAX), true));
    }
    for (key, value) in set {
        settings.push(describe(&key, value, false));
    }
    Ok(settings)
}

/// Setting `key`.
pub fn get(service: &Service, key: &str) -> Result<Setting> {
    check_key(key)?;
    let set = service.store()?.settings()?;
    Ok(match set.get(key) {
        Some(value) => describe(key, value.clone(), false),
        None if key == POOL_MAX_KEY => describe(key, Value::from(DEFAULT_POOL_MAX), true),
        None => describe(key, Value::Null, true),
    })
}

/// Sets `key` to `value` (as typed: a number of agents, 1 or more).
pub fn set(service: &Service, key: &str, value: &str) -> Result<Setting> {
    check_key(key)?;
    let number = value
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            ServiceError::bad_input(
                key,
                format!("`{value}` is not a number of agents; give 1 or more"),
            )
        })?;
    service.store()?.set_setting(key, &Value::from(number))?;
    Ok(describe(key, Value::from(number), false))
}

/// Removes `key` (back to its default); whether it was set.
pub fn unset(service: &Service, key: &str) -> Result<bool> {
    check_key(key)?;
    Ok(service.store()?.remove_setting(key)?)
}

fn check_key(key: &str) -> Result<()> {
    let provider = key.strip_prefix(POOL_PROVIDER_PREFIX);
    if key == POOL_MAX_KEY || provider.is_some_and(|p| !p.is_empty()) {
        Ok(())
    } else {
        Err(ServiceError::bad_input(
            format!("setting `{key}`"),
            format!("not a setting; the settings are {KEYS}"),
        ))
    }
}

fn describe(key: &str, value: Value, default: bool) -> Setting {
    let description = match key.strip_prefix(POOL_PROVIDER_PREFIX) {
        Some(provider) => format!("agents of provider `{provider}` running at once, machine-wide"),
        None => "agents running at once on this machine, all codecafe processes".to_owned(),
    };
    Setting {
        key: key.to_owned(),
        value,
        default,
        description,
    }
}
