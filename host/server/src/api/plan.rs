//! `GET /api/orders/{id}/plan`: an order's stage graph in one call, as the web page draws it —
//! each stage of the recipe pinned when the order was created (provider, model, role,
//! permissions, and `after`: the stages it waits for) and `groups`, the stages that start
//! together in the order they start when every stage succeeds (what `order:started` carries).
//!
//! An order created before codecafe pinned recipes has no plan yet: `pinned: false`, no
//! stages; its `order:started` event still names its stages and groups.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use codecafe_service::catalog_types::recipe::ResolvedRecipe;
use codecafe_service::{ServiceError, orders};
use serde::Serialize;

use super::json;
use crate::error::Result;
use crate::server::Shared;

/// An order's plan.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Plan {
    /// The order.
    order_id: String,
    /// The recipe it runs.
    recipe_id: String,
    /// Whether the order has a pinned recipe (else `stages` and `groups` are empty).
    pinned: bool,
    /// Its stages, in plan order.
    stages: Vec<PlannedStage>,
    /// Stages that start together, in the order they start.
    groups: Vec<Vec<String>>,
}

/// One stage of a [`Plan`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PlannedStage {
    id: String,
    provider: String,
    model: Option<String>,
    role: Option<String>,
    /// `read-only`, `edit` or `full`.
    permissions: codecafe_service::catalog_types::recipe::Permissions,
    /// The stages it waits for.
    after: Vec<String>,
}

/// `GET /api/orders/{id}/plan`.
pub async fn plan(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Result<Response> {
    let plan = shared
        .call(move |service| {
            let order = orders::find(service, &id)?;
            let snapshot = service.store()?.snapshot(order.id)?;
            let mut plan = Plan {
                order_id: order.id.to_string(),
                recipe_id: order.recipe_id.clone(),
                pinned: false,
                stages: Vec::new(),
                groups: Vec::new(),
            };
            let Some((mut value, _)) = snapshot else {
                return Ok(plan);
            };
            let recipe = value
                .get_mut("recipe")
                .map(serde_json::Value::take)
                .unwrap_or_default();
            let recipe: ResolvedRecipe = serde_json::from_value(recipe).map_err(|err| {
                ServiceError::bad_input(
                    format!("order {}", order.short_id()),
                    format!("its pinned recipe cannot be read ({err})"),
                )
            })?;
            plan.pinned = true;
            plan.stages = recipe
                .stages
                .into_iter()
                .map(|stage| PlannedStage {
                    id: stage.id,
                    provider: stage.provider.value,
                    model: stage.model.value,
                    role: stage.role,
                    permissions: stage.permissions.value,
                    after: stage.after,
                })
                .collect();
            plan.groups = groups(&plan.stages);
            Ok(plan)
        })
        .await?;
    Ok(json(&plan))
}

/// The stages that start together when every stage succeeds: first those waiting for none,
/// then those waiting only for stages already started, and so on (as the runner starts them).
/// Stages waiting for a stage that is not in the plan end up in a last group.
fn groups(stages: &[PlannedStage]) -> Vec<Vec<String>> {
    let mut settled = vec![false; stages.len()];
    let mut groups = Vec::new();
    loop {
        let settled_id = |id: &String| {
            (stages.iter().zip(&settled)).any(|(stage, done)| *done && stage.id == *id)
        };
        let ready: Vec<usize> = (0..stages.len())
            .filter(|&i| !settled[i] && stages[i].after.iter().all(settled_id))
            .collect();
        if ready.is_empty() {
            let rest: Vec<String> = (0..stages.len())
                .filter(|&i| !settled[i])
                .map(|i| stages[i].id.clone())
                .collect();
            if !rest.is_empty() {
                groups.push(rest);
            }
            return groups;
        }
        groups.push(ready.iter().map(|&i| stages[i].id.clone()).collect());
        for i in ready {
            settled[i] = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(id: &str, after: &[&str]) -> PlannedStage {
        PlannedStage {
            id: id.to_owned(),
            provider: "command".to_owned(),
            model: None,
            role: None,
            permissions: Default::default(),
            after: after.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn groups_follow_the_dependencies() {
        let stages = [
            stage("plan", &[]),
            stage("left", &["plan"]),
            stage("right", &["plan"]),
            stage("ask", &["left", "right"]),
            stage("lost", &["nowhere"]),
        ];
        assert_eq!(
            groups(&stages),
            vec![
                vec!["plan".to_owned()],
                vec!["left".to_owned(), "right".to_owned()],
                vec!["ask".to_owned()],
                vec!["lost".to_owned()],
            ]
        );
    }
}
