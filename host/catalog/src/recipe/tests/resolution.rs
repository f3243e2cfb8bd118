//! Unit tests of resolution (precedence of stage, profile and defaults; scheduling; session
//! context) and of the recipe catalog.

use std::path::Path;

use serde_json::json;

use super::*;
use crate::profile::{Assignment, Profile, Profiles};

/// A role's assignment for [`profiles`]: role, provider, model, options.
type Row<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    &'a [(&'a str, serde_json::Value)],
);

fn profiles(active: &str, roles: &[Row<'_>]) -> Profiles {
    let mut profiles = Profiles::default();
    let mut profile = Profile::default();
    for (role, provider, model, options) in roles {
        profile.roles.insert(
            (*role).to_owned(),
            Assignment {
                provider: (*provider).to_owned(),
                model: model.map(str::to_owned),
                options: options
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
            },
        );
    }
    profiles.profiles.insert(active.to_owned(), profile);
    profiles.active = active.to_owned();
    profiles
}

#[test]
fn provider_precedence_is_stage_then_profile_then_default() {
    let text = "\
workflow:
  stages: [analyze, code, review, test, other]
analyze: { role: analyzer, provider: codex }
code: { role: coder }
review: { role: reviewer }
test: { role: tester }
other: {}
";
    let recipe = recipe(text);
    let plain = recipe.resolve(&Profiles::default());
    let providers: Vec<(&str, String)> = plain
        .stages
        .iter()
        .map(|s| (s.provider.value.as_str(), s.provider.source.to_string()))
        .collect();
    assert_eq!(
        providers,
        [
            ("codex", "stage".to_owned()),
            ("claude-code", "default".to_owned()),
            ("codex", "default".to_owned()),
            ("claude-code", "default".to_owned()),
            ("claude-code", "default".to_owned()),
        ]
    );
    let fast = profiles(
        "fast",
        &[
            ("analyzer", "claude-code", Some("opus"), &[]),
            (
                "coder",
                "codex",
                Some("gpt-5"),
                &[("sandbox", json!("workspace-write"))],
            ),
        ],
    );
    let resolved = recipe.resolve(&fast);
    assert_eq!(resolved.profile, "fast");
    let analyze = &resolved.stages[0];
    assert_eq!(analyze.provider.value, "codex", "the stage wins");
    assert_eq!(
        analyze.model.value, None,
        "the profile's model is for another provider"
    );
    assert_eq!(analyze.model.source, Source::Default);
    let code = &resolved.stages[1];
    assert_eq!(code.provider.value, "codex");
    assert_eq!(code.provider.source, Source::Profile("fast".to_owned()));
    assert_eq!(code.model.value.as_deref(), Some("gpt-5"));
    assert_eq!(code.model.source.to_string(), "profile:fast");
    assert_eq!(code.options["sandbox"].source.to_string(), "profile:fast");
    assert_eq!(resolved.stages[2].provider.source, Source::Default);
}

#[test]
fn stage_options_override_profile_options_key_by_key() {
    let text = "\
workflow:
  stages: [code]
code:
  role: coder
  model: sonnet
  options: { max_turns: 5, effort: high }
";
    let profile = profiles(
        "default",
        &[(
            "coder",
            "claude-code",
            Some("opus"),
            &[("effort", json!("low")), ("add_dirs", json!(["/tmp"]))],
        )],
    );
    let stage = recipe(text).resolve(&profile).stages.remove(0);
    assert_eq!(stage.provider.source.to_string(), "profile:default");
    assert_eq!(stage.model.value.as_deref(), Some("sonnet"));
    assert_eq!(stage.model.source, Source::Stage);
    let sources: Vec<(String, String)> = stage
        .options
        .iter()
        .map(|(k, v)| (k.clone(), format!("{}={}", v.value, v.source)))
        .collect();
    assert_eq!(
        sources,
        [
            (
                "add_dirs".to_owned(),
                r#"["/tmp"]=profile:default"#.to_owned()
            ),
            ("effort".to_owned(), r#""high"=stage"#.to_owned()),
            ("max_turns".to_owned(), "5=stage".to_owned()),
        ]
    );
    let json = serde_json::to_value(&stage).expect("serializes");
    assert_eq!(
        json["provider"],
        json!({"value": "claude-code", "source": "profile:default"})
    );
    assert_eq!(json["timeout"], json!("1h"));
    assert_eq!(
        json["context"],
        json!({"value": "fork", "source": "default"})
    );
}

#[test]
fn parallel_steps_and_depends_on_schedule_stages() {
    let text = "\
workflow:
  stages: [plan, front, back, docs, merge, lint]
plan: {}
front: { mode: parallel }
back: { mode: parallel }
docs: { mode: parallel }
merge: {}
lint: { depends_on: [] }
";
    let resolved = recipe(text).resolve(&Profiles::default());
    let after: Vec<(&str, Vec<String>)> = resolved
        .stages
        .iter()
        .map(|s| (s.id.as_str(), s.after.clone()))
        .collect();
    let s = |items: &[&str]| items.iter().map(|i| (*i).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        after,
        [
            ("plan", s(&[])),
            ("front", s(&["plan"])),
            ("back", s(&["plan"])),
            ("docs", s(&["plan"])),
            ("merge", s(&["front", "back", "docs"])),
            ("lint", s(&[])),
        ]
    );
}

#[test]
fn context_comes_from_the_stage_then_the_skills() {
    let text = "\
workflow:
  stages: [plan, code, review, first]
plan: { skills: [decide-sequence] }
code: { skills: [build-context, implementation-runner] }
review: { skills: [implementation-runner], context: fork }
first: { skills: [implementation-runner], depends_on: [] }
";
    let skill_context = |id: &str| match id {
        "implementation-runner" => Some(SessionContext::Inherit),
        "decide-sequence" | "build-context" => Some(SessionContext::Fork),
        _ => None,
    };
    let resolved = recipe(text).resolve_with(&Profiles::default(), &skill_context);
    let contexts: Vec<String> = resolved
        .stages
        .iter()
        .map(|s| format!("{}:{}", s.context.value.name(), s.context.source))
        .collect();
    assert_eq!(
        contexts,
        [
            "fork:skill:decide-sequence",
            "inherit:skill:implementation-runner",
            "fork:stage",
            "fork:default",
        ]
    );
}

// ---- the catalog ----

#[test]
fn the_catalog_merges_builtins_and_user_recipes() {
    let repo = tempfile::tempdir().expect("temp dir");
    let orch = crate::OrchDir::of_repo(repo.path());
    let builtins = RecipeCatalog::load(&orch).expect("loads without a folder");
    assert!(builtins.ids().contains(&"moon"));

    let path = RecipeCatalog::create(
        &orch,
        "moon",
        "workflow:\n  stages: [a]\na: { role: coder }\n",
        Path::new("mine.yml"),
        &known(),
    )
    .expect("overrides moon");
    assert_eq!(path, orch.recipe_file("moon"));
    RecipeCatalog::create(
        &orch,
        "quick",
        &starter_recipe("quick"),
        Path::new("starter"),
        &known(),
    )
    .expect("the starter is valid");
    std::fs::write(orch.workflows().join("notes.txt"), "ignored").expect("write");
    std::fs::write(orch.workflows().join("broken.workflow.yml"), "workflow: [").expect("write");

    let catalog = RecipeCatalog::load(&orch).expect("loads");
    let moon = catalog.find("moon").expect("moon");
    assert_eq!(moon.origin(), Origin::User);
    assert_eq!(moon.stage_ids(), ["a"]);
    assert!(catalog.overrides_builtin("moon"));
    assert!(!catalog.overrides_builtin("quick"));
    assert!(
        !catalog
            .find("broken")
            .expect("listed")
            .problems()
            .is_empty()
    );
    assert!(catalog.get("notes").is_none());
    match catalog.find("mon") {
        Err(CatalogError::NotFound {
            hint: Some(hint), ..
        }) => assert!(hint.contains("`moon`"), "{hint}"),
        other => panic!("expected not found, got {other:?}"),
    }

    assert!(matches!(
        RecipeCatalog::create(&orch, "quick", SEED, Path::new("x"), &known()),
        Err(CatalogError::AlreadyExists { .. })
    ));
    assert!(matches!(
        RecipeCatalog::create(&orch, "Quick", SEED, Path::new("x"), &known()),
        Err(CatalogError::InvalidId { .. })
    ));
    match RecipeCatalog::create(
        &orch,
        "bad",
        "workflow:\n  stages: [a]\n",
        Path::new("bad.yml"),
        &known(),
    ) {
        Err(CatalogError::Invalid { problems }) => {
            assert_eq!(problems[0].file, Path::new("bad.yml"));
        }
        other => panic!("expected invalid, got {other:?}"),
    }
    assert!(!orch.recipe_file("bad").exists(), "nothing written");

    let (_, restored) = RecipeCatalog::remove(&orch, "moon").expect("removes the override");
    assert!(restored);
    assert_eq!(
        RecipeCatalog::load(&orch)
            .expect("loads")
            .find("moon")
            .expect("moon")
            .origin(),
        Origin::BuiltIn
    );
    assert!(matches!(
        RecipeCatalog::remove(&orch, "moon"),
        Err(CatalogError::BuiltIn { .. })
    ));
    assert!(matches!(
        RecipeCatalog::remove(&orch, "nothing"),
        Err(CatalogError::NotFound { .. })
    ));
    let (_, restored) = RecipeCatalog::remove(&orch, "quick").expect("removes");
    assert!(!restored);
}

#[test]
fn starters_for_builtin_ids_copy_the_builtin() {
    assert_eq!(starter_recipe("moon"), BUILTIN_RECIPES[0].1);
    assert!(starter_recipe("x").contains("stages: [plan, code]"));
}

#[test]
fn a_session_does_not_move_between_providers() {
    let text = "\
workflow:
  stages: [plan, code]
plan: { role: planner }
code:
  role: coder
  context: inherit
";
    let recipe = recipe(text);
    recipe.validate(&known()).expect("valid on its own");
    assert!(recipe.resolve(&Profiles::default()).problems.is_empty());
    let codex_codes = profiles("codex-codes", &[("coder", "codex", None, &[])]);
    let resolved = recipe.resolve(&codex_codes);
    assert_eq!(resolved.problems.len(), 1, "{:#?}", resolved.problems);
    let problem = &resolved.problems[0];
    assert_eq!((problem.line, problem.column), (Some(6), Some(12)));
    assert!(
        problem.message.contains(
            "runs codex (profile:codex-codes) after `plan`, which runs claude-code (default)"
        ),
        "{problem}"
    );

    // A skill's `inherit` gives way instead: the stage forks.
    let text = "workflow:\n  stages: [plan, code]\nplan: { role: planner }\ncode: { role: coder, skills: [implementation-runner] }\n";
    let inherit = |_: &str| Some(SessionContext::Inherit);
    let same = recipe_text_resolve(text, &Profiles::default(), &inherit);
    assert_eq!(same.stages[1].context.value, SessionContext::Inherit);
    let moved = recipe_text_resolve(text, &codex_codes, &inherit);
    assert!(moved.problems.is_empty());
    assert_eq!(moved.stages[1].context.value, SessionContext::Fork);
    assert_eq!(moved.stages[1].context.source, Source::Default);
}

fn recipe_text_resolve(
    text: &str,
    profiles: &Profiles,
    skills: &dyn Fn(&str) -> Option<SessionContext>,
) -> ResolvedRecipe {
    recipe(text).resolve_with(profiles, skills)
}

#[test]
fn the_recipe_init_writes_is_valid() {
    let starter = Recipe::parse(
        "starter",
        Path::new("starter.workflow.yml"),
        crate::cafe::STARTER_RECIPE,
        Origin::User,
    );
    if let Err(err) = starter.validate(&known()) {
        panic!("`codecafe init` writes an invalid recipe:\n{err}");
    }
}
