//! Recipes: list (each with its problems counted), show resolved, create, validate, remove.
//!
//! A recipe is checked three ways: its own rules, the names it uses against what the cafe has
//! installed ([`Service::known`]), and what only the active profile brings out (a session
//! continued across providers).

use std::path::{Path, PathBuf};

use codecafe_catalog::profile::Profiles;
use codecafe_catalog::recipe::{
    Known, Origin, Recipe, RecipeCatalog, ResolvedRecipe, SessionContext, starter_recipe,
};
use codecafe_catalog::role::RoleCatalog;
use codecafe_catalog::skill::{SkillCatalog, SkillContext};
use codecafe_catalog::{CatalogError, OrchDir, Problem};
use codecafe_runner::CafePermissions;
use serde::Serialize;

use crate::error::{Result, ServiceError};
use crate::service::{Scope, Service};

/// One recipe of the list.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipeRow {
    /// The recipe id.
    pub id: String,
    /// Its name (the id when it has none).
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Built-in or the cafe's own.
    pub origin: Origin,
    /// The file it was read from.
    pub path: PathBuf,
    /// Its stage ids, in order.
    pub stages: Vec<String>,
    /// The cafe's recipe replaces a built-in of the same id.
    pub overrides_builtin: bool,
    /// It has no problem.
    pub valid: bool,
    /// How many problems it has (`validate_recipes` lists them).
    pub problems: usize,
}

/// A recipe resolved with a profile, and how it stands.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipeShow {
    /// The recipe with every default filled in; its `problems` are all of the recipe's, not
    /// only the profile's.
    #[serde(flatten)]
    pub recipe: ResolvedRecipe,
    /// The cafe's recipe replaces a built-in of the same id.
    pub overrides_builtin: bool,
    /// It has no problem.
    pub valid: bool,
    /// Why the names the recipe uses could not be checked, if they could not.
    #[serde(skip)]
    pub unchecked: Option<String>,
}

/// A recipe written into the cafe.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipeCreated {
    /// The recipe id.
    pub id: String,
    /// Its file.
    pub path: PathBuf,
    /// It replaces the built-in recipe of the same id.
    pub overrides_builtin: bool,
}

/// One recipe checked by `validate_recipes`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipeCheck {
    /// The recipe id, when it could be read.
    pub id: Option<String>,
    /// Its file, or the target as given when it could not be read.
    pub path: String,
    /// It has no problem.
    pub valid: bool,
    /// Every problem, by position.
    pub problems: Vec<Problem>,
}

/// A recipe removed from the cafe.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipeRemoved {
    /// The recipe id.
    pub id: String,
    /// The file removed.
    pub path: PathBuf,
    /// The built-in recipe of the same id is used again.
    pub builtin_restored: bool,
}

/// Every recipe of the cafe `scope` means (the built-ins and its own), each with the number
/// of its problems.
pub fn recipes(service: &Service, scope: &Scope) -> Result<Vec<RecipeRow>> {
    let orch = service.orch(scope)?;
    let catalog = RecipeCatalog::load(&orch)?;
    // Counting problems needs what is installed; without it, only the file itself is judged.
    let known = service.known(scope).unwrap_or_default();
    let resolver = Resolver::new(service, scope, &orch, service.profiles()?);
    Ok(catalog
        .recipes()
        .iter()
        .map(|recipe| {
            let problems = resolver.check(recipe, &known).len();
            RecipeRow {
                id: recipe.id().to_owned(),
                name: recipe.name().to_owned(),
                description: recipe.description().map(str::to_owned),
                origin: recipe.origin(),
                path: recipe.path().to_owned(),
                stages: recipe.stage_ids().into_iter().map(str::to_owned).collect(),
                overrides_builtin: catalog.overrides_builtin(recipe.id()),
                valid: problems == 0,
                problems,
            }
        })
        .collect())
}

/// The recipe `id` resolved with the profile named (default: the active one), with every
/// problem it has.
pub fn show_recipe(
    service: &Service,
    scope: &Scope,
    id: &str,
    profile: Option<&str>,
) -> Result<RecipeShow> {
    let orch = service.orch(scope)?;
    let catalog = RecipeCatalog::load(&orch)?;
    let recipe = catalog.find(id)?;
    let mut profiles = service.profiles()?;
    if let Some(name) = profile {
        profiles = profiles.with_active(name)?;
    }
    let (known, unchecked) = match service.known(scope) {
        Ok(known) => (known, None),
        Err(err) => (Known::default(), Some(err.to_string())),
    };
    let resolver = Resolver::new(service, scope, &orch, profiles);
    let problems = resolver.check(recipe, &known);
    let mut resolved = resolver.resolve(recipe);
    resolved.problems = problems;
    Ok(RecipeShow {
        valid: resolved.problems.is_empty(),
        recipe: resolved,
        overrides_builtin: catalog.overrides_builtin(recipe.id()),
        unchecked,
    })
}

/// The recipe `id` as written (YAML).
pub fn recipe_text(service: &Service, scope: &Scope, id: &str) -> Result<String> {
    let catalog = RecipeCatalog::load(&service.orch(scope)?)?;
    Ok(catalog.find(id)?.text().to_owned())
}

/// Writes recipe `id` into the cafe: a copy of the file `from` (checked first; nothing is
/// written if it has problems), else a commented starter.
pub fn new_recipe(
    service: &Service,
    scope: &Scope,
    id: &str,
    from: Option<&Path>,
) -> Result<RecipeCreated> {
    let orch = service.orch(scope)?;
    let (text, source) = match from {
        Some(file) => (
            std::fs::read_to_string(file).map_err(|err| ServiceError::io(file, err))?,
            file.to_owned(),
        ),
        None => (starter_recipe(id), orch.recipe_file(id)),
    };
    let known = service.known(scope)?;
    let path = RecipeCatalog::create(&orch, id, &text, &source, &known)?;
    Ok(RecipeCreated {
        id: id.to_owned(),
        path,
        overrides_builtin: RecipeCatalog::builtin(id).is_some(),
    })
}

/// Checks recipes — files or ids given as `targets`, default every recipe of the cafe — and
/// lists every problem of each.
pub fn validate_recipes(
    service: &Service,
    scope: &Scope,
    targets: &[String],
) -> Result<Vec<RecipeCheck>> {
    let orch = match service.orch(scope) {
        Ok(orch) => Some(orch),
        // Files can be checked outside any cafe, against the built-ins.
        Err(err) if !targets.is_empty() && scope.cafe.is_none() => {
            tracing::info!("no cafe ({err}); checking against the built-ins");
            None
        }
        Err(err) => return Err(err),
    };
    let catalog = orch.as_ref().map(RecipeCatalog::load).transpose()?;
    let recipes: Vec<(String, std::result::Result<Recipe, String>)> = if targets.is_empty() {
        let all = catalog
            .as_ref()
            .map(RecipeCatalog::recipes)
            .unwrap_or_default();
        all.iter()
            .map(|recipe| (recipe.id().to_owned(), Ok(recipe.clone())))
            .collect()
    } else {
        targets
            .iter()
            .map(|target| (target.clone(), target_recipe(catalog.as_ref(), target)))
            .collect()
    };
    let orch = orch.unwrap_or_else(|| OrchDir::of_repo(&scope.cwd));
    let known = service.known(scope)?;
    let resolver = Resolver::new(service, scope, &orch, service.profiles()?);
    let repo = service.repository(scope).ok();
    let plugins = service.plugins(repo.as_deref())?;
    let cwd = repo.unwrap_or_else(|| scope.cwd.clone());
    Ok(recipes
        .into_iter()
        .map(|(target, recipe)| match recipe {
            Ok(recipe) => {
                let mut problems = resolver.check(&recipe, &known);
                if problems.is_empty() {
                    // What only the providers can tell: options they refuse, a capability
                    // a stage asks for that its provider lacks.
                    let resolved = resolver.resolve(&recipe);
                    problems = codecafe_runner::check::provider_problems(&resolved, &plugins, &cwd);
                }
                RecipeCheck {
                    id: Some(recipe.id().to_owned()),
                    path: recipe.path().display().to_string(),
                    valid: problems.is_empty(),
                    problems,
                }
            }
            Err(message) => RecipeCheck {
                id: None,
                problems: vec![Problem::in_file(&target, message)],
                path: target,
                valid: false,
            },
        })
        .collect())
}

/// Removes the cafe's recipe `id` (built-ins cannot be removed).
pub fn remove_recipe(service: &Service, scope: &Scope, id: &str) -> Result<RecipeRemoved> {
    let (path, builtin_restored) = RecipeCatalog::remove(&service.orch(scope)?, id)?;
    Ok(RecipeRemoved {
        id: id.to_owned(),
        path,
        builtin_restored,
    })
}

/// A recipe to validate: read from a file, or found by id; the reason as text otherwise (it
/// becomes the target's problem).
fn target_recipe(
    catalog: Option<&RecipeCatalog>,
    target: &str,
) -> std::result::Result<Recipe, String> {
    let path = Path::new(target);
    let looks_like_file = path.is_file()
        || target.contains(std::path::MAIN_SEPARATOR)
        || target.contains('/')
        || target.ends_with(".yml")
        || target.ends_with(".yaml");
    if looks_like_file {
        if !path.is_file() {
            return Err(format!("{target}: no such file"));
        }
        return Recipe::load(path).map_err(|err| err.to_string());
    }
    match catalog {
        Some(catalog) => catalog.find(target).cloned().map_err(|err| err.to_string()),
        None => Err(format!(
            "`{target}` is not a file, and there is no cafe here to find a recipe id in"
        )),
    }
}

/// What resolving a cafe's recipes takes besides the recipe: the profiles, the skills'
/// `context`, the roles' and the cafe's default permissions.
struct Resolver {
    profiles: Profiles,
    skills: Option<SkillCatalog>,
    roles: Option<RoleCatalog>,
    cafe: CafePermissions,
}

impl Resolver {
    /// Reads the skills and roles of `orch` (none when they cannot be read: their problems
    /// are reported elsewhere) and the settings of the scope's cafe.
    fn new(service: &Service, scope: &Scope, orch: &OrchDir, profiles: Profiles) -> Self {
        let cafe = service
            .cafe(scope)
            .ok()
            .flatten()
            .map_or_else(CafePermissions::default, |cafe| {
                CafePermissions::of(&cafe.settings)
            });
        Self {
            profiles,
            skills: SkillCatalog::load(orch).ok(),
            roles: RoleCatalog::load(orch).ok(),
            cafe,
        }
    }

    /// `recipe` with every default filled in.
    fn resolve(&self, recipe: &Recipe) -> ResolvedRecipe {
        let skill_context = |id: &str| {
            let skill = self.skills.as_ref()?.get(id)?;
            Some(match skill.context {
                SkillContext::Fork => SessionContext::Fork,
                SkillContext::Inherit => SessionContext::Inherit,
            })
        };
        let role_permissions = |id: &str| self.roles.as_ref()?.get(id)?.permissions;
        let defaults = self.cafe.defaults(&role_permissions);
        recipe.resolve_for(&self.profiles, &skill_context, &defaults)
    }

    /// Every problem of `recipe`: its own, the names `known` lacks, and the ones only the
    /// profiles and the cafe's settings bring out, by position.
    fn check(&self, recipe: &Recipe, known: &Known) -> Vec<Problem> {
        let mut problems = match recipe.validate(known) {
            Ok(()) => Vec::new(),
            Err(CatalogError::Invalid { problems }) => problems,
            Err(other) => vec![Problem::in_file("", other.to_string())],
        };
        problems.extend(self.resolve(recipe).problems);
        problems.sort_by_key(|p| (p.line.unwrap_or(0), p.column.unwrap_or(0)));
        problems
    }
}
