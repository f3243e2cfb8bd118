//! Roles: list, show, render a preview of the prompt one makes, and validate.
//!
//! Built-in roles can be overridden by the cafe's `.orch/roles/<id>.md` of the same id.

use std::collections::BTreeMap;
use std::path::PathBuf;

use codecafe_catalog::role::{
    Answer, PreviousOutput, RenderContext, Role, RoleCatalog, RoleOrigin, SkillVar, Variable,
};
use codecafe_catalog::skill::SkillCatalog;
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::{FilesChecked, check_files};
use crate::error::{Result, ServiceError};
use crate::service::{Scope, Service};

/// A role without its template.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleRow {
    /// The role id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What the role does.
    pub description: String,
    /// Built in or the cafe's.
    pub origin: RoleOrigin,
    /// Its file (for built-ins, a `<built-in>/roles/...` label).
    pub path: PathBuf,
    /// The cafe's role replaces the built-in of the same id.
    pub overrides_built_in: bool,
    /// Declared variables, by name.
    pub variables: BTreeMap<String, Variable>,
}

/// What to render a role with, beyond the sample values.
#[derive(Debug, Clone, Default)]
pub struct RenderRequest {
    /// The stage id (default: `sample`).
    pub stage: Option<String>,
    /// The request (default: a sample one).
    pub prompt: Option<String>,
    /// Order variables, as [`parse_vars`] reads them.
    pub vars: Vec<(String, String)>,
    /// Skill ids whose real instructions are rendered.
    pub skills: Vec<String>,
}

/// A role rendered into a prompt.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderedRole {
    /// The role id.
    pub id: String,
    /// The values the template saw.
    #[serde(serialize_with = "context_json")]
    pub context: RenderContext,
    /// The prompt.
    pub prompt: String,
}

/// The roles of the cafe `scope` means (built-ins and its own).
pub fn roles(service: &Service, scope: &Scope) -> Result<Vec<RoleRow>> {
    let catalog = RoleCatalog::load(&service.orch(scope)?)?;
    Ok(catalog
        .roles()
        .map(|role| RoleRow {
            id: role.id.clone(),
            name: role.name.clone(),
            description: role.description.clone(),
            origin: role.origin,
            path: role.path.clone(),
            overrides_built_in: role.overrides_built_in,
            variables: role.variables.clone(),
        })
        .collect())
}

/// The role `id`, with its template.
pub fn role(service: &Service, scope: &Scope, id: &str) -> Result<Role> {
    let catalog = RoleCatalog::load(&service.orch(scope)?)?;
    Ok(catalog.require(id)?.clone())
}

/// Reads `--var` values written `KEY=VALUE`.
pub fn parse_vars(texts: &[String]) -> Result<Vec<(String, String)>> {
    texts
        .iter()
        .map(|text| match text.split_once('=') {
            Some((key, value)) => Ok((key.trim().to_owned(), value.to_owned())),
            None => Err(ServiceError::bad_input(
                format!("--var `{text}`"),
                "write KEY=VALUE",
            )),
        })
        .collect()
}

/// The prompt role `id` makes with sample engine values and what `request` gives.
pub fn render_role(
    service: &Service,
    scope: &Scope,
    id: &str,
    request: &RenderRequest,
) -> Result<RenderedRole> {
    let orch = service.orch(scope)?;
    let catalog = RoleCatalog::load(&orch)?;
    let role = catalog.require(id)?;
    let mut context = RenderContext::sample();
    context.stage = request.stage.clone().unwrap_or_else(|| "sample".to_owned());
    if let Some(prompt) = &request.prompt {
        context.prompt = prompt.clone();
    }
    for (key, value) in &request.vars {
        context
            .vars
            .insert(key.clone(), Value::String(value.clone()));
    }
    if !request.skills.is_empty() {
        let skills = SkillCatalog::load(&orch)?;
        for skill in &request.skills {
            context.skills.push(SkillVar::from(skills.require(skill)?));
        }
    }
    let prompt = role.render_with(&context)?;
    Ok(RenderedRole {
        id: role.id.clone(),
        context,
        prompt,
    })
}

/// Checks role files (default: every role of the cafe); an error lists every problem.
pub fn validate_roles(service: &Service, scope: &Scope, files: &[PathBuf]) -> Result<FilesChecked> {
    if files.is_empty() {
        let catalog = RoleCatalog::load(&service.orch(scope)?)?;
        return Ok(FilesChecked::Catalog {
            total: catalog.ids().len(),
            of_cafe: catalog
                .roles()
                .filter(|r| r.origin == RoleOrigin::User)
                .count(),
        });
    }
    check_files(files, Role::read, |_, _| None)
}

/// A [`RenderContext`] with camelCase keys (its own serialization has the names templates use,
/// like `house_rules`).
fn context_json<S: Serializer>(context: &RenderContext, serializer: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ContextJson<'a> {
        prompt: &'a str,
        skills: &'a [SkillVar],
        vars: &'a BTreeMap<String, Value>,
        previous: &'a [PreviousOutput],
        answers: &'a [Answer],
        attempt: u32,
        house_rules: &'a str,
        stage: &'a str,
    }
    ContextJson {
        prompt: &context.prompt,
        skills: &context.skills,
        vars: &context.vars,
        previous: &context.previous,
        answers: &context.answers,
        attempt: context.attempt,
        house_rules: &context.house_rules,
        stage: &context.stage,
    }
    .serialize(serializer)
}
