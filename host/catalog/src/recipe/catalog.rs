//! The recipes a cafe can use: the built-ins embedded in codecafe, and the cafe's own files in
//! `.orch/workflows/`, which override built-ins of the same id.

use std::path::{Path, PathBuf};

use super::{Known, Origin, RECIPE_SUFFIX, Recipe};
use crate::error::{CatalogError, Result};
use crate::ids::check_id;
use crate::layout::OrchDir;
use crate::storage::write_atomic;

/// The built-in recipes: id and YAML text.
pub const BUILTIN_RECIPES: &[(&str, &str)] = &[
    (
        "moon",
        include_str!("../../builtin/recipes/moon.workflow.yml"),
    ),
    (
        "solo",
        include_str!("../../builtin/recipes/solo.workflow.yml"),
    ),
    (
        "fix",
        include_str!("../../builtin/recipes/fix.workflow.yml"),
    ),
];

/// The recipes of a cafe, by id: its own and the built-ins it does not override.
#[derive(Debug, Clone)]
pub struct RecipeCatalog {
    recipes: Vec<Recipe>,
    overridden: Vec<String>,
}

/// The name under which a built-in recipe appears in problems.
fn builtin_path(id: &str) -> PathBuf {
    PathBuf::from(format!("built-in:{id}{RECIPE_SUFFIX}"))
}

impl RecipeCatalog {
    /// The built-in recipe `id`.
    pub fn builtin(id: &str) -> Option<Recipe> {
        BUILTIN_RECIPES
            .iter()
            .find(|(builtin, _)| *builtin == id)
            .map(|(id, text)| Recipe::parse(id, &builtin_path(id), text, Origin::BuiltIn))
    }

    /// Only the built-in recipes.
    pub fn builtins() -> Self {
        let mut recipes: Vec<Recipe> = BUILTIN_RECIPES
            .iter()
            .filter_map(|(id, _)| Self::builtin(id))
            .collect();
        recipes.sort_by(|a, b| a.id().cmp(b.id()));
        Self {
            recipes,
            overridden: Vec::new(),
        }
    }

    /// The built-ins and every `*.workflow.yml` in the cafe's `.orch/workflows/`. A file that
    /// cannot be parsed is still listed (with its problems); only an unreadable folder or file
    /// is an error.
    pub fn load(orch: &OrchDir) -> Result<Self> {
        let mut catalog = Self::builtins();
        let files = crate::layout::files_ending_with(&orch.workflows(), RECIPE_SUFFIX)?;
        for file in files {
            let recipe = Recipe::load(&file)?;
            if let Some(index) = catalog.recipes.iter().position(|r| r.id() == recipe.id()) {
                catalog.overridden.push(recipe.id().to_owned());
                catalog.recipes[index] = recipe;
            } else {
                catalog.recipes.push(recipe);
            }
        }
        catalog.recipes.sort_by(|a, b| a.id().cmp(b.id()));
        Ok(catalog)
    }

    /// Every recipe, sorted by id.
    pub fn recipes(&self) -> &[Recipe] {
        &self.recipes
    }

    /// Every id, sorted.
    pub fn ids(&self) -> Vec<&str> {
        self.recipes.iter().map(Recipe::id).collect()
    }

    /// Recipe `id`, if there is one.
    pub fn get(&self, id: &str) -> Option<&Recipe> {
        self.recipes.iter().find(|r| r.id() == id)
    }

    /// Recipe `id`, or a [`CatalogError::NotFound`] that says what exists.
    pub fn find(&self, id: &str) -> Result<&Recipe> {
        self.get(id).ok_or_else(|| CatalogError::NotFound {
            kind: "recipe",
            id: id.to_owned(),
            hint: Some(match super::suggest::did_you_mean(id, self.ids()) {
                Some(mean) => mean,
                None => format!("the recipes are {}", self.ids().join(", ")),
            }),
        })
    }

    /// True when the cafe's recipe `id` overrides a built-in one.
    pub fn overrides_builtin(&self, id: &str) -> bool {
        self.overridden.iter().any(|o| o == id)
    }

    /// Writes recipe `id` from `text` into the cafe, after checking it against `known`;
    /// `source` names the text in problems (the file it came from). Refuses an id the cafe
    /// already has; an id of a built-in makes a recipe that overrides it. Returns the path.
    pub fn create(
        orch: &OrchDir,
        id: &str,
        text: &str,
        source: &Path,
        known: &Known,
    ) -> Result<PathBuf> {
        check_id("recipe", id)?;
        let target = orch.recipe_file(id);
        if target.exists() {
            return Err(CatalogError::AlreadyExists {
                kind: "recipe",
                id: id.to_owned(),
                hint: Some(format!(
                    "edit {} instead, or remove it with `codecafe recipe rm {id}`",
                    target.display()
                )),
            });
        }
        Recipe::parse(id, source, text, Origin::User).validate(known)?;
        write_atomic(&target, text.as_bytes())?;
        Ok(target)
    }

    /// Removes the cafe's recipe `id`; returns its path and whether a built-in of the same id
    /// takes its place. Built-ins cannot be removed.
    pub fn remove(orch: &OrchDir, id: &str) -> Result<(PathBuf, bool)> {
        let target = orch.recipe_file(id);
        let builtin = Self::builtin(id).is_some();
        match std::fs::remove_file(&target) {
            Ok(()) => Ok((target, builtin)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                if builtin {
                    Err(CatalogError::BuiltIn {
                        kind: "recipe",
                        id: id.to_owned(),
                        hint: format!(
                            "`codecafe recipe new {id}` writes an editable copy in the cafe that \
                             overrides it"
                        ),
                    })
                } else {
                    Err(CatalogError::NotFound {
                        kind: "recipe",
                        id: id.to_owned(),
                        hint: Some("`codecafe recipe list` shows the recipes".to_owned()),
                    })
                }
            }
            Err(source) => Err(CatalogError::Io {
                path: target,
                source,
            }),
        }
    }
}

/// The text `codecafe recipe new <id>` starts from: a copy of the built-in of that id, or a
/// small commented two-stage recipe.
pub fn starter_recipe(id: &str) -> String {
    if let Some((_, text)) = BUILTIN_RECIPES.iter().find(|(builtin, _)| *builtin == id) {
        return (*text).to_owned();
    }
    format!(
        r#"# {id}{RECIPE_SUFFIX}: a codecafe recipe. `codecafe recipe validate {id}` checks it;
# `codecafe recipe show {id} --json` shows every setting resolved.
name: {id}
description: Plan the change, then make it.
workflow:
  # Stages run in this order (use `depends_on` and `mode: parallel` for graphs).
  stages: [plan, code]

plan:
  role: planner
  # provider: claude-code    # else the active profile's choice for the role, else the default
  # skills: [decide-sequence]
  # model: sonnet
  # timeout: 30m

code:
  role: coder
  on_failure: retry          # stop | continue | retry
  retries: 1                 # at most 10
  # prompt: "Keep the change small."
  # options: {{ max_turns: 50 }}
"#
    )
}
