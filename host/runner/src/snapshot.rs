//! The recipe an order runs, pinned when the order is created: [`RecipeSnapshot`].
//!
//! Every later step of the order — input, retry, resume, follow-up, in any process, after any
//! edit of the cafe's recipes, roles or skills or an upgrade of codecafe's built-ins — runs this
//! snapshot, not the current definitions: the resolved recipe (every default filled in, the
//! profile applied), the roles and skills its stages use, the cafe's house rules, and the ids and
//! content hashes of the plugins it uses (a plugin whose hash changed since is reported, not
//! replaced: plugin code is not kept). `order retry --refresh` takes the current definitions
//! instead, after checking that the stages that already ran still exist.

use std::collections::BTreeMap;

use codecafe_catalog::recipe::ResolvedRecipe;
use codecafe_catalog::role::{Role, SkillVar};
use codecafe_engine::plan::Plan;
use codecafe_plugin_host::PluginKind;
use codecafe_plugin_host::registry::Registry;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::RunnerError;
use crate::prepare::{Prepared, stage_def};

/// The version of the snapshot format.
pub const SNAPSHOT_VERSION: u32 = 1;

/// A plugin a pinned recipe uses, by content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PinnedPlugin {
    /// Its id.
    pub id: String,
    /// `provider` or `signal-parser`.
    pub kind: PluginKind,
    /// BLAKE3 of its component, as it was when the order was created.
    pub hash: String,
}

/// What an order runs, as it was when the order was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipeSnapshot {
    /// [`SNAPSHOT_VERSION`].
    pub version: u32,
    /// The resolved recipe.
    pub recipe: ResolvedRecipe,
    /// The roles its stages use, by id.
    pub roles: BTreeMap<String, Role>,
    /// The skills its stages use, by id.
    pub skills: BTreeMap<String, SkillVar>,
    /// The cafe's house rules.
    pub house_rules: String,
    /// The plugins its stages use.
    pub plugins: Vec<PinnedPlugin>,
}

impl RecipeSnapshot {
    /// The snapshot of `prepared`, with the hashes of the plugins in `plugins` that its stages
    /// use.
    pub fn of(prepared: &Prepared, plugins: &Registry) -> Self {
        let mut pinned: BTreeMap<(String, &'static str), PinnedPlugin> = BTreeMap::new();
        for stage in &prepared.recipe.stages {
            for (id, kind) in [
                (&stage.provider.value, PluginKind::Provider),
                (&stage.signals.value, PluginKind::SignalParser),
            ] {
                if let Ok(plugin) = plugins.get_kind(id, kind) {
                    pinned.insert(
                        (id.clone(), kind.world()),
                        PinnedPlugin {
                            id: id.clone(),
                            kind,
                            hash: plugin.inspection().hash.clone(),
                        },
                    );
                }
            }
        }
        Self {
            version: SNAPSHOT_VERSION,
            recipe: prepared.recipe.clone(),
            roles: prepared.roles.clone(),
            skills: prepared.skills.clone(),
            house_rules: prepared.house_rules.clone(),
            plugins: pinned.into_values().collect(),
        }
    }

    /// As stored.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Reads a stored snapshot.
    pub fn from_value(value: Value) -> Result<Self, RunnerError> {
        let snapshot: Self = serde_json::from_value(value).map_err(|err| {
            RunnerError::Internal(format!(
                "the order's pinned recipe cannot be read ({err}); `codecafe order retry <id> \
                 --refresh` runs the current recipe instead"
            ))
        })?;
        if snapshot.version > SNAPSHOT_VERSION {
            return Err(RunnerError::Internal(format!(
                "the order's pinned recipe was written by a newer codecafe (snapshot version {}); \
                 upgrade codecafe",
                snapshot.version
            )));
        }
        Ok(snapshot)
    }

    /// The prepared recipe for `prompt` and `vars`.
    pub fn prepare(
        &self,
        prompt: &str,
        vars: BTreeMap<String, Value>,
    ) -> Result<Prepared, RunnerError> {
        let plan = Plan::new(self.recipe.stages.iter().map(stage_def).collect())?;
        Ok(Prepared {
            recipe: self.recipe.clone(),
            plan,
            prompt: prompt.to_owned(),
            vars,
            roles: self.roles.clone(),
            skills: self.skills.clone(),
            house_rules: self.house_rules.clone(),
            followup: None,
        })
    }

    /// The pinned plugins whose content changed since: `(id, pinned hash, current hash)` (the
    /// current hash is empty when the plugin is gone).
    pub fn changed_plugins(&self, plugins: &Registry) -> Vec<(String, String, String)> {
        self.plugins
            .iter()
            .filter_map(|pin| {
                let now = plugins
                    .get_kind(&pin.id, pin.kind)
                    .map(|p| p.inspection().hash.clone())
                    .unwrap_or_default();
                (now != pin.hash).then(|| (pin.id.clone(), pin.hash.clone(), now))
            })
            .collect()
    }
}
