//! Skills: list, show, create, update, duplicate, remove and validate.
//!
//! Built-in skills are read-only; the cafe's own live in `.orch/skills/<id>.json`. Where the
//! instructions come from (an editor, a file, stdin) is the caller's business: these calls take
//! the text.

use std::path::{Path, PathBuf};

use codecafe_catalog::skill::{
    Category, NewSkill, Skill, SkillCatalog, SkillUpdate, builtin_skills, is_builtin,
};
use codecafe_catalog::storage::FileLock;
use codecafe_catalog::{OrchDir, Problem};
use serde::Serialize;

use super::{FilesChecked, check_files};
use crate::error::{Result, ServiceError};
use crate::service::{Scope, Service};

/// A skill and where the cafe keeps it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillShow {
    /// The skill (the skill file's format).
    #[serde(flatten)]
    pub skill: Skill,
    /// Its file; `None` for a built-in.
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

/// A skill written into the cafe.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillSaved {
    /// The skill as saved.
    pub skill: Skill,
    /// Its file, relative to the repository.
    pub file: PathBuf,
}

/// The skills of the cafe `scope` means (built-ins and its own), of `category` when given.
pub fn skills(service: &Service, scope: &Scope, category: Option<Category>) -> Result<Vec<Skill>> {
    let catalog = SkillCatalog::load(&service.orch(scope)?)?;
    Ok(catalog
        .skills()
        .filter(|skill| category.is_none_or(|c| skill.category == c))
        .cloned()
        .collect())
}

/// The skill `id`.
pub fn skill(service: &Service, scope: &Scope, id: &str) -> Result<SkillShow> {
    let catalog = SkillCatalog::load(&service.orch(scope)?)?;
    let skill = catalog.require(id)?.clone();
    Ok(SkillShow {
        file: (!skill.is_built_in).then(|| catalog.path_of(id)),
        skill,
    })
}

/// `Ok` when a new skill may take `id` (valid, not a built-in's, not taken) — to refuse before
/// the user writes its instructions.
pub fn check_new_skill(service: &Service, scope: &Scope, id: &str) -> Result<()> {
    Ok(SkillCatalog::load(&service.orch(scope)?)?.check_available(id)?)
}

/// Writes a new skill into the cafe.
pub fn create_skill(service: &Service, scope: &Scope, new: NewSkill) -> Result<SkillSaved> {
    let orch = service.orch(scope)?;
    let skill = SkillCatalog::load(&orch)?.create(new)?.clone();
    Ok(saved(&orch, skill))
}

/// The cafe's skill `id`, when it may be changed (a built-in may not) — to refuse before the
/// user edits its instructions.
pub fn editable_skill(service: &Service, scope: &Scope, id: &str) -> Result<Skill> {
    let catalog = SkillCatalog::load(&service.orch(scope)?)?;
    catalog.check_editable(id)?;
    Ok(catalog.require(id)?.clone())
}

/// Changes the cafe's skill `id`.
pub fn update_skill(
    service: &Service,
    scope: &Scope,
    id: &str,
    change: SkillUpdate,
) -> Result<SkillSaved> {
    let orch = service.orch(scope)?;
    let skill = SkillCatalog::load(&orch)?.update(id, change)?.clone();
    Ok(saved(&orch, skill))
}

/// Copies skill `id` (built-in or not) to the new, editable skill `new_id` (named `name`, else
/// the original's name with " (copy)").
pub fn duplicate_skill(
    service: &Service,
    scope: &Scope,
    id: &str,
    new_id: &str,
    name: Option<String>,
) -> Result<SkillSaved> {
    let orch = service.orch(scope)?;
    let skill = SkillCatalog::load(&orch)?
        .duplicate(id, new_id, name)?
        .clone();
    Ok(saved(&orch, skill))
}

/// Removes the cafe's skill `id`, even when its file is broken; returns the file removed,
/// relative to the repository.
pub fn remove_skill(service: &Service, scope: &Scope, id: &str) -> Result<PathBuf> {
    let orch = service.orch(scope)?;
    let path = orch.skill_file(id);
    if is_builtin(id) || !path.is_file() {
        // Let the catalog explain: built-in, or not found.
        SkillCatalog::load(&orch)?.remove(id)?;
    } else {
        // A broken file can still be removed: do not load (and validate) the whole catalog.
        let _lock = FileLock::acquire(&orch.skills())?;
        std::fs::remove_file(&path).map_err(|err| ServiceError::io(&path, err))?;
    }
    Ok(relative(&orch, &path))
}

/// Checks skill files (default: every skill of the cafe); an error lists every problem.
pub fn validate_skills(
    service: &Service,
    scope: &Scope,
    files: &[PathBuf],
) -> Result<FilesChecked> {
    if files.is_empty() {
        let catalog = SkillCatalog::load(&service.orch(scope)?)?;
        return Ok(FilesChecked::Catalog {
            total: catalog.ids().len(),
            of_cafe: catalog.skills().filter(|s| !s.is_built_in).count(),
        });
    }
    let builtins = builtin_skills()?;
    check_files(files, Skill::read, |file, skill| {
        builtins.iter().any(|b| b.id == skill.id).then(|| {
            Problem::in_file(
                file,
                format!("`{}` is the id of a built-in skill", skill.id),
            )
            .hint("choose another id (and file name); built-in skills cannot be replaced")
        })
    })
}

fn saved(orch: &OrchDir, skill: Skill) -> SkillSaved {
    SkillSaved {
        file: relative(orch, &orch.skill_file(&skill.id)),
        skill,
    }
}

/// `path` relative to the repository holding `orch`, for shorter messages.
fn relative(orch: &OrchDir, path: &Path) -> PathBuf {
    orch.root()
        .parent()
        .and_then(|repo| path.strip_prefix(repo).ok())
        .map_or_else(|| path.to_owned(), Path::to_path_buf)
}
