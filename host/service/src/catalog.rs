//! What a cafe's orders are made of, as operations: recipes, skills, roles and profiles —
//! list, show, validate, create, change, remove.
//!
//! The formats and their rules are `codecafe_catalog`'s; these calls find the cafe, put the
//! pieces together (a recipe is checked against the installed plugins, roles and skills, and
//! resolved with a profile) and return typed results.

mod profiles;
mod recipes;
mod roles;
mod skills;

use std::path::{Path, PathBuf};

use codecafe_catalog::{CatalogError, Problem};
use serde::Serialize;

use crate::error::Result;

pub use profiles::{
    AssignRequest, Assigned, ProfileRemoved, ProfileRow, assign, parse_options, profile, profiles,
    remove_profile, use_profile,
};
pub use recipes::{
    RecipeCheck, RecipeCreated, RecipeRemoved, RecipeRow, RecipeShow, new_recipe, recipe_text,
    recipes, remove_recipe, show_recipe, validate_recipes,
};
pub use roles::{
    RenderRequest, RenderedRole, RoleRow, parse_vars, render_role, role, roles, validate_roles,
};
pub use skills::{
    SkillSaved, SkillShow, check_new_skill, create_skill, duplicate_skill, editable_skill,
    remove_skill, skill, skills, update_skill, validate_skills,
};

/// What a validation of skill or role files found correct (a problem is an error that lists
/// them all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum FilesChecked {
    /// The cafe's whole catalog (loading it checks every file).
    Catalog {
        /// How many there are, built-ins included.
        total: usize,
        /// How many are the cafe's own.
        of_cafe: usize,
    },
    /// The files given.
    Files {
        /// How many.
        count: usize,
    },
}

/// Reads every file with `read` and gathers every problem: the file's own, and the one
/// `extra` finds in what was read.
fn check_files<T>(
    files: &[PathBuf],
    read: impl Fn(&Path) -> codecafe_catalog::Result<T>,
    extra: impl Fn(&Path, &T) -> Option<Problem>,
) -> Result<FilesChecked> {
    let mut problems = Vec::new();
    for file in files {
        match read(file) {
            Ok(value) => problems.extend(extra(file, &value)),
            Err(CatalogError::Invalid { problems: found }) => problems.extend(found),
            Err(other) => return Err(other.into()),
        }
    }
    if !problems.is_empty() {
        return Err(CatalogError::Invalid { problems }.into());
    }
    Ok(FilesChecked::Files { count: files.len() })
}
