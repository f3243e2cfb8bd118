//! `/api/cafes/{cafe}/recipes…`, `/skills…`, `/roles…`: what a cafe's orders are made of
//! (IPC `workflow:*`, `skill:*`) — the built-ins and the cafe's own `.orch/` files.
//!
//! Recipes: list (each with its problems counted), show resolved with a profile, validate.
//! Skills: list, show, create, update, duplicate, delete (built-ins are read-only: duplicate
//! one to change it). Roles: list, show.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use codecafe_service::Scope;
use codecafe_service::catalog::{self as service_catalog};
use codecafe_service::catalog_types::skill::{Category, NewSkill, SkillContext, SkillUpdate};
use serde::Deserialize;
use serde_json::json;

use super::{json, json_with};
use crate::error::{Result, ServerError};
use crate::extract::{ApiJson, ApiQuery};
use crate::server::Shared;

/// `GET /api/cafes/{cafe}/recipes/{id}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecipeQuery {
    /// Resolve with this profile instead of the active one.
    profile: Option<String>,
}

/// `POST /api/cafes/{cafe}/recipes/validate`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidateRecipes {
    /// The recipes to check; none: every recipe of the cafe.
    #[serde(default)]
    ids: Vec<String>,
}

/// `GET /api/cafes/{cafe}/skills`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SkillsQuery {
    /// Only skills of this category.
    category: Option<Category>,
}

/// `POST /api/cafes/{cafe}/skills` (the skill file's fields).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSkill {
    id: String,
    name: String,
    #[serde(default)]
    description: String,
    category: Category,
    skill_command: Option<String>,
    #[serde(default)]
    context: SkillContext,
    instructions: String,
}

/// `PATCH /api/cafes/{cafe}/skills/{id}`: the fields to change.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateSkill {
    name: Option<String>,
    description: Option<String>,
    category: Option<Category>,
    skill_command: Option<String>,
    context: Option<SkillContext>,
    instructions: Option<String>,
}

/// `POST /api/cafes/{cafe}/skills/{id}/duplicate`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DuplicateSkill {
    /// The copy's id.
    new_id: String,
    /// The copy's name (default: the original's with " (copy)").
    name: Option<String>,
}

/// `GET /api/cafes/{cafe}/recipes`.
pub async fn recipes(
    State(shared): State<Arc<Shared>>,
    Path(cafe): Path<String>,
) -> Result<Response> {
    let rows = shared
        .call(move |s| service_catalog::recipes(s, &Scope::cafe(&cafe)))
        .await?;
    Ok(json(&json!({ "recipes": rows })))
}

/// `GET /api/cafes/{cafe}/recipes/{id}`: resolved with the profile, with every problem.
pub async fn recipe(
    State(shared): State<Arc<Shared>>,
    Path((cafe, id)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<RecipeQuery>,
) -> Result<Response> {
    let shown = shared
        .call(move |s| {
            service_catalog::show_recipe(s, &Scope::cafe(&cafe), &id, query.profile.as_deref())
        })
        .await?;
    Ok(json(&shown))
}

/// `POST /api/cafes/{cafe}/recipes/validate`: `{valid, recipes: [{id, path, valid, problems}]}`.
pub async fn validate_recipes(
    State(shared): State<Arc<Shared>>,
    Path(cafe): Path<String>,
    ApiJson(body): ApiJson<ValidateRecipes>,
) -> Result<Response> {
    let checks = shared
        .call(move |s| service_catalog::validate_recipes(s, &Scope::cafe(&cafe), &body.ids))
        .await?;
    let valid = checks.iter().all(|check| check.valid);
    Ok(json(&json!({ "valid": valid, "recipes": checks })))
}

/// `GET /api/cafes/{cafe}/skills`.
pub async fn skills(
    State(shared): State<Arc<Shared>>,
    Path(cafe): Path<String>,
    ApiQuery(query): ApiQuery<SkillsQuery>,
) -> Result<Response> {
    let skills = shared
        .call(move |s| service_catalog::skills(s, &Scope::cafe(&cafe), query.category))
        .await?;
    Ok(json(&json!({ "skills": skills })))
}

/// `GET /api/cafes/{cafe}/skills/{id}`.
pub async fn skill(
    State(shared): State<Arc<Shared>>,
    Path((cafe, id)): Path<(String, String)>,
) -> Result<Response> {
    let shown = shared
        .call(move |s| service_catalog::skill(s, &Scope::cafe(&cafe), &id))
        .await?;
    Ok(json(&shown))
}

/// `POST /api/cafes/{cafe}/skills` (201).
pub async fn create_skill(
    State(shared): State<Arc<Shared>>,
    Path(cafe): Path<String>,
    ApiJson(body): ApiJson<CreateSkill>,
) -> Result<Response> {
    let new = NewSkill {
        id: body.id,
        name: body.name,
        description: body.description,
        category: body.category,
        skill_command: body.skill_command,
        context: body.context,
        instructions: body.instructions,
    };
    let saved = shared
        .call(move |s| service_catalog::create_skill(s, &Scope::cafe(&cafe), new))
        .await?;
    Ok(json_with(StatusCode::CREATED, &saved))
}

/// `PATCH /api/cafes/{cafe}/skills/{id}`.
pub async fn update_skill(
    State(shared): State<Arc<Shared>>,
    Path((cafe, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateSkill>,
) -> Result<Response> {
    let change = SkillUpdate {
        name: body.name,
        description: body.description,
        category: body.category,
        skill_command: body.skill_command,
        context: body.context,
        instructions: body.instructions,
    };
    if change.is_empty() {
        return Err(ServerError::bad_request(
            "body",
            "nothing to change: give name, description, category, skillCommand, context or \
             instructions",
        ));
    }
    let saved = shared
        .call(move |s| service_catalog::update_skill(s, &Scope::cafe(&cafe), &id, change))
        .await?;
    Ok(json(&saved))
}

/// `POST /api/cafes/{cafe}/skills/{id}/duplicate` (201): an editable copy.
pub async fn duplicate_skill(
    State(shared): State<Arc<Shared>>,
    Path((cafe, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<DuplicateSkill>,
) -> Result<Response> {
    let saved = shared
        .call(move |s| {
            service_catalog::duplicate_skill(s, &Scope::cafe(&cafe), &id, &body.new_id, body.name)
        })
        .await?;
    Ok(json_with(StatusCode::CREATED, &saved))
}

/// `DELETE /api/cafes/{cafe}/skills/{id}`: `{id, file}` (the file removed).
pub async fn delete_skill(
    State(shared): State<Arc<Shared>>,
    Path((cafe, id)): Path<(String, String)>,
) -> Result<Response> {
    let skill = id.clone();
    let file = shared
        .call(move |s| service_catalog::remove_skill(s, &Scope::cafe(&cafe), &skill))
        .await?;
    Ok(json(&json!({ "id": id, "file": file })))
}

/// `GET /api/cafes/{cafe}/roles`.
pub async fn roles(
    State(shared): State<Arc<Shared>>,
    Path(cafe): Path<String>,
) -> Result<Response> {
    let roles = shared
        .call(move |s| service_catalog::roles(s, &Scope::cafe(&cafe)))
        .await?;
    Ok(json(&json!({ "roles": roles })))
}

/// `GET /api/cafes/{cafe}/roles/{id}`: with its template.
pub async fn role(
    State(shared): State<Arc<Shared>>,
    Path((cafe, id)): Path<(String, String)>,
) -> Result<Response> {
    let role = shared
        .call(move |s| service_catalog::role(s, &Scope::cafe(&cafe), &id))
        .await?;
    Ok(json(&role))
}
