//! The checks that need to know what is installed: providers, signal parsers, roles, skills.

use super::suggest::{did_you_mean, list};
use super::{Known, Located, Recipe};
use crate::error::Problem;

/// Problems for every provider, signal parser, role and skill `recipe` names that `known`
/// does not have.
pub(crate) fn check_names(recipe: &Recipe, known: &Known) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut check = |name: Option<&Located<String>>,
                     names: &Option<Vec<String>>,
                     kind: &str,
                     list_command: &str| {
        let (Some(name), Some(names)) = (name, names) else {
            return;
        };
        if names.contains(&name.value) {
            return;
        }
        let hint =
            did_you_mean(&name.value, names.iter().map(String::as_str)).unwrap_or_else(|| {
                if names.is_empty() {
                    format!("none is installed; see `{list_command}`")
                } else {
                    format!(
                        "known {kind}s: {} (`{list_command}`)",
                        list(names.iter().map(String::as_str), 12)
                    )
                }
            });
        problems.push(
            Problem::located(
                recipe.path(),
                name.pos,
                format!("unknown {kind} `{}`", name.value),
            )
            .hint(hint),
        );
    };
    check(
        recipe.signals.as_ref(),
        &known.signal_parsers,
        "signal parser",
        "codecafe plugin list",
    );
    for block in &recipe.blocks {
        check(
            block.provider.as_ref(),
            &known.providers,
            "provider",
            "codecafe plugin list",
        );
        check(
            block.signals.as_ref(),
            &known.signal_parsers,
            "signal parser",
            "codecafe plugin list",
        );
        check(
            block.role.as_ref(),
            &known.roles,
            "role",
            "codecafe role list",
        );
        for skill in &block.skills {
            check(Some(skill), &known.skills, "skill", "codecafe skill list");
        }
    }
    problems
}
