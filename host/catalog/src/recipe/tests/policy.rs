//! Unit tests of the permission policy: reading the keys, the replaced adapter options, and
//! resolution (stage > recipe > role > cafe > read-only, within the cafe's ceiling).

use super::*;
use crate::profile::{Profile, Profiles};

fn coder_edits(role: &str) -> Option<Permissions> {
    (role == "coder" || role == "tester").then_some(Permissions::Edit)
}

fn defaults(cafe: Option<Permissions>, ceiling: Option<Permissions>) -> PolicyDefaults<'static> {
    PolicyDefaults {
        role_permissions: &coder_edits,
        cafe,
        ceiling,
        approvals: None,
    }
}

fn resolve(text: &str, defaults: &PolicyDefaults<'_>) -> ResolvedRecipe {
    let recipe = recipe(text);
    recipe.validate(&known()).expect("valid");
    recipe.resolve_for(&Profiles::default(), &|_| None, defaults)
}

fn level(resolved: &ResolvedRecipe, stage: &str) -> (Permissions, String) {
    let spec = resolved
        .stages
        .iter()
        .find(|s| s.id == stage)
        .expect("stage");
    (spec.permissions.value, spec.permissions.source.to_string())
}

const FOUR: &str = "\
workflow:
  stages: [analyze, code, test, review]
analyze: { role: analyzer }
code: { role: coder }
test: { role: tester, permissions: read-only }
review: { role: reviewer, on_denied: fail }
";

#[test]
fn unset_is_read_only_and_coders_edit_by_role() {
    let resolved = resolve(FOUR, &defaults(None, None));
    assert_eq!(
        level(&resolved, "analyze"),
        (Permissions::ReadOnly, "default".into())
    );
    assert_eq!(
        level(&resolved, "code"),
        (Permissions::Edit, "role:coder".into())
    );
    assert_eq!(
        level(&resolved, "test"),
        (Permissions::ReadOnly, "stage".into())
    );
    let on_denied: Vec<OnDenied> = resolved.stages.iter().map(|s| s.on_denied).collect();
    // warn in read-only stages, fail in edit ones, unless the stage says otherwise
    assert_eq!(
        on_denied,
        [
            OnDenied::Warn,
            OnDenied::Fail,
            OnDenied::Warn,
            OnDenied::Fail
        ]
    );
    assert!(
        resolved
            .stages
            .iter()
            .all(|s| s.approvals.value == Approvals::Deny)
    );
}

#[test]
fn the_recipe_beats_roles_and_the_cafe() {
    let text = format!("permissions: full\n{FOUR}");
    let resolved = resolve(&text, &defaults(Some(Permissions::Edit), None));
    assert_eq!(
        level(&resolved, "code"),
        (Permissions::Full, "recipe".into())
    );
    assert_eq!(
        level(&resolved, "test"),
        (Permissions::ReadOnly, "stage".into())
    );
}

#[test]
fn the_cafe_setting_applies_where_no_role_decides() {
    let resolved = resolve(FOUR, &defaults(Some(Permissions::Edit), None));
    assert_eq!(
        level(&resolved, "analyze"),
        (Permissions::Edit, "cafe".into())
    );
    assert_eq!(
        level(&resolved, "code"),
        (Permissions::Edit, "role:coder".into())
    );
}

#[test]
fn the_ceiling_lowers_defaults_and_refuses_written_levels() {
    let resolved = resolve(FOUR, &defaults(None, Some(Permissions::ReadOnly)));
    assert_eq!(
        level(&resolved, "code"),
        (Permissions::ReadOnly, "role:coder".into())
    );
    assert!(resolved.problems.is_empty(), "{:?}", resolved.problems);

    let text = "workflow:\n  stages: [code]\ncode:\n  role: coder\n  permissions: full\n";
    let resolved = resolve(text, &defaults(None, Some(Permissions::Edit)));
    assert_eq!(resolved.problems.len(), 1, "{:?}", resolved.problems);
    let problem = &resolved.problems[0];
    assert_eq!((problem.line, problem.column), (Some(5), Some(16)));
    assert!(problem.message.contains("above this cafe's ceiling `edit`"));
    assert!(
        problem
            .hint
            .as_deref()
            .unwrap_or("")
            .contains("permissionsCeiling=full")
    );
}

#[test]
fn adapter_options_the_policy_replaced_point_to_it() {
    one_problem(
        "workflow:\n  stages: [a]\na:\n  permission_mode: bypassPermissions\n",
        "4:3",
        &[
            "`permission_mode` is no longer a stage option",
            "permissions: read-only | edit | full",
        ],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  options: { approval: never }\n",
        "4:14",
        &["`approval` is no longer", "approvals: ask | deny"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  options:\n    sandbox: workspace-write\n",
        "5:5",
        &["`sandbox` is no longer"],
    );
}

#[test]
fn policy_values_are_checked() {
    one_problem(
        "workflow:\n  stages: [a]\na:\n  permissions: write\n",
        "4:16",
        &["`write` is not a valid `permissions`", "read-only"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  on_denied: ignore\n",
        "4:14",
        &["`ignore` is not a valid `on_denied`"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  pass_env: [GOOD, BAD-NAME]\n",
        "4:20",
        &["`BAD-NAME` in `pass_env`: not a variable name"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  allowed_commands: cargo test\n",
        "4:21",
        &["`allowed_commands` must be a list"],
    );
}

#[test]
fn the_profile_adds_variables_to_every_stage() {
    let mut profiles = Profiles::default();
    profiles.profiles.insert(
        "default".to_owned(),
        Profile {
            pass_env: vec!["CORP_*".to_owned()],
            ..Profile::default()
        },
    );
    let text = "workflow:\n  stages: [a]\na:\n  pass_env: [MY_TOKEN]\n";
    let stage = recipe(text).resolve(&profiles).stages.remove(0);
    assert_eq!(stage.pass_env, ["MY_TOKEN", "CORP_*"]);
}

#[test]
fn built_in_recipes_choose_per_stage() {
    let catalog = RecipeCatalog::builtins();
    let levels = |id: &str| -> Vec<(String, Permissions)> {
        let recipe = catalog.find(id).expect("built-in");
        recipe
            .resolve_for(&Profiles::default(), &|_| None, &PolicyDefaults::NONE)
            .stages
            .into_iter()
            .map(|s| (s.id, s.permissions.value))
            .collect()
    };
    use Permissions::{Edit, ReadOnly};
    let named = |items: &[(&str, Permissions)]| -> Vec<(String, Permissions)> {
        items.iter().map(|(s, p)| ((*s).to_owned(), *p)).collect()
    };
    assert_eq!(
        levels("moon"),
        named(&[
            ("analyze", ReadOnly),
            ("plan", ReadOnly),
            ("code", Edit),
            ("review", ReadOnly)
        ])
    );
    assert_eq!(
        levels("fix"),
        named(&[
            ("analyze", ReadOnly),
            ("code", Edit),
            ("test", Edit),
            ("review", ReadOnly)
        ])
    );
    assert_eq!(levels("solo"), named(&[("code", Edit)]));
}
