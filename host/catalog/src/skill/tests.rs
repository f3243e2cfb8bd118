//! The skill format, its located errors, and the catalog's changes.

use super::catalog::BUILTIN_SKILLS;
use super::*;
use crate::error::Problem;
use crate::layout::OrchDir;

fn orch() -> (tempfile::TempDir, OrchDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let orch = OrchDir::of_repo(dir.path());
    (dir, orch)
}

fn new_skill(id: &str) -> NewSkill {
    NewSkill {
        id: id.to_owned(),
        name: "My skill".to_owned(),
        description: "Does things".to_owned(),
        category: Category::Utility,
        skill_command: None,
        context: SkillContext::Inherit,
        instructions: "Step one.\nStep two.".to_owned(),
    }
}

fn problems(result: Result<Skill>) -> Vec<Problem> {
    match result {
        Err(CatalogError::Invalid { problems }) => problems,
        other => panic!("expected problems, got {other:?}"),
    }
}

fn located(text: &str) -> Vec<(usize, usize, String)> {
    problems(Skill::parse(Path::new("x.json"), text, false))
        .into_iter()
        .map(|p| (p.line.unwrap_or(0), p.column.unwrap_or(0), p.message))
        .collect()
}

const GOOD: &str = r#"{
  "id": "x",
  "name": "X",
  "category": "review",
  "instructions": "Do it."
}"#;

#[test]
fn every_file_in_skills_is_embedded_and_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../skills");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("skills/ exists")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    let embedded: Vec<String> = BUILTIN_SKILLS
        .iter()
        .map(|(f, _)| (*f).to_owned())
        .collect();
    assert_eq!(
        on_disk, embedded,
        "embed every file of skills/ in BUILTIN_SKILLS, sorted"
    );
    for (file, text) in BUILTIN_SKILLS {
        let on_disk = std::fs::read_to_string(dir.join(file)).expect("read");
        assert_eq!(&on_disk, text, "{file}");
    }
    let skills = builtin_skills().expect("all built-ins are valid");
    assert!(skills.len() >= 10);
    for skill in &skills {
        assert!(skill.is_built_in);
        let lines = skill.instructions.lines().count();
        assert!(
            (10..=30).contains(&lines),
            "{} has {lines} lines of instructions",
            skill.id
        );
        assert!(!skill.description.is_empty(), "{}", skill.id);
    }
    for id in [
        "classify-task",
        "evaluate-complexity",
        "detect-uncertainty",
        "decide-sequence",
        "preflight-check",
        "gather-requirements",
        "build-context",
        "implementation-runner",
        "codex-review-code",
        "review-code",
        "integration-test",
    ] {
        assert!(skills.iter().any(|s| s.id == id), "missing built-in {id}");
    }
    for category in Category::ALL {
        assert!(
            skills.iter().any(|s| s.category == category),
            "no {category} skill"
        );
    }
    let uncertainty = skills
        .iter()
        .find(|s| s.id == "detect-uncertainty")
        .expect("exists");
    assert!(uncertainty.instructions.contains("nextAction: await_user"));
    assert!(uncertainty.instructions.contains("questions"));
}

#[test]
fn the_seed_example_loads() {
    let seed = r#"{
  "id": "classify-task",
  "name": "Task Classification",
  "description": "사용자 요청을 작업 유형으로 분류",
  "category": "planning",
  "skillCommand": "/classify-task",
  "instructions": "Analyze the user request and classify...",
  "isBuiltIn": false,
  "createdAt": "2026-01-20T10:00:00Z"
}"#;
    let skill = Skill::parse(Path::new("classify-task.json"), seed, false).expect("loads");
    assert_eq!(skill.category, Category::Planning);
    assert_eq!(skill.context, SkillContext::Fork);
    assert_eq!(skill.updated_at, skill.created_at);
    assert_eq!(skill.created_at.to_string(), "2026-01-20T10:00:00Z");
}

#[test]
fn defaults_and_round_trip() {
    let skill = Skill::parse(Path::new("x.json"), GOOD, false).expect("loads");
    assert_eq!(skill.skill_command, "/x");
    assert_eq!(skill.description, "");
    let written = skill.to_file_json();
    assert!(
        written.starts_with("{\n  \"version\": 1,\n  \"id\": \"x\""),
        "{written}"
    );
    let again = Skill::parse(Path::new("x.json"), &written, false).expect("reads back");
    assert_eq!(again, skill);
}

#[test]
fn syntax_and_schema_errors_are_located_at_the_token() {
    let unknown = "{\n  \"id\": \"x\",\n  \"bogus\": 1\n}";
    let found = located(unknown);
    assert_eq!((found[0].0, found[0].1), (3, 3), "{found:?}");
    assert!(found[0].2.contains("unknown field `bogus`"));

    let variant = GOOD.replace("\"review\"", "\"reviewing\"");
    let found = located(&variant);
    assert_eq!((found[0].0, found[0].1), (4, 15), "{found:?}");

    let wrong_type = GOOD.replace("\"X\"", "12");
    let found = located(&wrong_type);
    assert_eq!((found[0].0, found[0].1), (3, 11), "{found:?}");
    assert!(found[0].2.contains("invalid type"));

    let missing = "{\n  \"id\": \"x\",\n  \"category\": \"review\",\n  \"instructions\": \"i\"\n}";
    let found = located(missing);
    assert_eq!((found[0].0, found[0].1), (5, 1), "{found:?}");
    assert!(found[0].2.contains("missing field `name`"));

    let trailing = "{\n  \"id\": \"x\",\n}";
    let found = located(trailing);
    assert_eq!((found[0].0, found[0].1), (3, 1), "{found:?}");

    let time = GOOD.replace("\"Do it.\"", "\"Do it.\",\n  \"createdAt\": \"yesterday\"");
    let found = located(&time);
    assert_eq!((found[0].0, found[0].1), (6, 16), "{found:?}");
    assert!(found[0].2.contains("RFC 3339"));
}

#[test]
fn snake_case_keys_get_a_camel_case_hint() {
    let text = GOOD.replace(
        "\"instructions\"",
        "\"skill_command\": \"/x\",\n  \"instructions\"",
    );
    let problem = &problems(Skill::parse(Path::new("x.json"), &text, false))[0];
    assert_eq!(
        problem.hint.as_deref(),
        Some("keys are camelCase: write `skillCommand`")
    );
}

#[test]
fn value_errors_are_all_reported_at_their_values() {
    let text = r#"{
  "id": "Bad_Id",
  "name": "",
  "category": "review",
  "skillCommand": "run it",
  "instructions": "  ",
  "isBuiltIn": true
}"#;
    let found = located(text);
    let positions: Vec<(usize, usize)> = found.iter().map(|p| (p.0, p.1)).collect();
    assert_eq!(
        positions,
        [(2, 9), (3, 11), (5, 19), (6, 19), (7, 16)],
        "{found:?}"
    );
}

#[test]
fn the_file_name_must_be_the_id() {
    let problems = problems(Skill::parse(Path::new("y.json"), GOOD, false));
    assert_eq!(problems.len(), 1);
    assert_eq!((problems[0].line, problems[0].column), (Some(2), Some(9)));
    assert!(problems[0].message.contains("differs from the file name"));
}

#[test]
fn a_newer_version_is_refused() {
    let text = GOOD.replacen("{", "{\"version\": 2,", 1);
    let found = located(&text);
    assert!(found[0].2.contains("newer codecafe"), "{found:?}");
}

#[test]
fn create_update_duplicate_remove() {
    let (_dir, orch) = orch();
    let mut catalog = SkillCatalog::load(&orch).expect("loads");
    let builtins = catalog.ids().len();
    let created = catalog.create(new_skill("mine")).expect("creates").clone();
    assert_eq!(created.skill_command, "/mine");
    assert_eq!(created.instructions, "Step one.\nStep two.");
    assert!(orch.skill_file("mine").is_file());

    let reloaded = SkillCatalog::load(&orch).expect("loads");
    assert_eq!(reloaded.ids().len(), builtins + 1);
    assert_eq!(reloaded.get("mine"), Some(&created));

    let updated = catalog
        .update(
            "mine",
            SkillUpdate {
                name: Some("Renamed".to_owned()),
                ..SkillUpdate::default()
            },
        )
        .expect("updates")
        .clone();
    assert_eq!(updated.name, "Renamed");
    assert_eq!(
        updated.instructions, created.instructions,
        "instructions are kept"
    );
    assert_eq!(updated.created_at, created.created_at);
    assert!(updated.updated_at >= created.updated_at);

    let updated = catalog
        .update(
            "mine",
            SkillUpdate {
                instructions: Some("New text.".to_owned()),
                ..SkillUpdate::default()
            },
        )
        .expect("updates")
        .clone();
    assert_eq!(
        SkillCatalog::load(&orch).expect("loads").get("mine"),
        Some(&updated)
    );

    let copy = catalog
        .duplicate("classify-task", "my-classify", None)
        .expect("dup")
        .clone();
    assert!(!copy.is_built_in);
    assert_eq!(copy.skill_command, "/my-classify");
    assert!(copy.name.ends_with("(copy)"));
    assert_eq!(
        copy.instructions,
        catalog.get("classify-task").expect("there").instructions
    );

    assert!(matches!(
        catalog.create(new_skill("mine")),
        Err(CatalogError::AlreadyExists { .. })
    ));
    assert!(matches!(
        catalog.duplicate("mine", "my-classify", None),
        Err(CatalogError::AlreadyExists { .. })
    ));
    catalog.remove("mine").expect("removes");
    assert!(!orch.skill_file("mine").exists());
    assert!(matches!(
        catalog.remove("mine"),
        Err(CatalogError::NotFound { .. })
    ));
    assert!(matches!(
        catalog.update(
            "mine",
            SkillUpdate {
                name: Some("n".to_owned()),
                ..SkillUpdate::default()
            }
        ),
        Err(CatalogError::NotFound { .. })
    ));
}

#[test]
fn builtins_are_read_only() {
    let (_dir, orch) = orch();
    let mut catalog = SkillCatalog::load(&orch).expect("loads");
    let update = SkillUpdate {
        name: Some("x".to_owned()),
        ..SkillUpdate::default()
    };
    let error = catalog
        .update("classify-task", update)
        .expect_err("refused");
    assert!(matches!(error, CatalogError::BuiltIn { .. }));
    assert!(
        error.to_string().contains("skill dup classify-task"),
        "{error}"
    );
    assert!(matches!(
        catalog.remove("classify-task"),
        Err(CatalogError::BuiltIn { .. })
    ));
    let error = catalog
        .create(new_skill("classify-task"))
        .expect_err("refused");
    assert!(error.to_string().contains("skill dup"), "{error}");
}

#[test]
fn a_user_file_with_a_builtin_id_is_an_error() {
    let (_dir, orch) = orch();
    std::fs::create_dir_all(orch.skills()).expect("mkdir");
    let text = GOOD.replace("\"x\"", "\"classify-task\"");
    std::fs::write(orch.skill_file("classify-task"), text).expect("write");
    let error = SkillCatalog::load(&orch).expect_err("refused");
    assert!(
        error
            .to_string()
            .contains(":2:9: `classify-task` is the id of a built-in"),
        "{error}"
    );
}

#[test]
fn bad_cli_values_are_refused_before_writing() {
    let (_dir, orch) = orch();
    let mut catalog = SkillCatalog::load(&orch).expect("loads");
    let mut bad = new_skill("bad");
    bad.instructions = " \n".to_owned();
    bad.skill_command = Some("nope".to_owned());
    let error = catalog.create(bad).expect_err("refused");
    let message = error.to_string();
    assert!(message.contains("instructions are empty"), "{message}");
    assert!(message.contains("not a skill command"), "{message}");
    assert!(!orch.skill_file("bad").exists());
    assert!(matches!(
        catalog.create(new_skill("Bad")),
        Err(CatalogError::InvalidId { .. })
    ));
    assert!(matches!(
        catalog.update("mine", SkillUpdate::default()),
        Err(CatalogError::BadValue { .. })
    ));
}

#[test]
fn all_broken_files_are_reported_together() {
    let (_dir, orch) = orch();
    std::fs::create_dir_all(orch.skills()).expect("mkdir");
    std::fs::write(orch.skill_file("a"), "{").expect("write");
    std::fs::write(orch.skill_file("b"), GOOD).expect("write");
    std::fs::write(orch.skills().join("notes.txt"), "ignored").expect("write");
    let Err(CatalogError::Invalid { problems }) = SkillCatalog::load(&orch) else {
        panic!("expected problems");
    };
    assert_eq!(problems.len(), 2, "{problems:?}");
}

#[test]
fn categories_and_contexts_parse() {
    for category in Category::ALL {
        assert_eq!(category.as_str().parse::<Category>(), Ok(category));
    }
    assert!("nope".parse::<Category>().is_err());
    assert_eq!("inherit".parse::<SkillContext>(), Ok(SkillContext::Inherit));
    assert!("both".parse::<SkillContext>().is_err());
    assert!(valid_command("/a:b-c_d"));
    assert!(!valid_command("/"));
    assert!(!valid_command("a"));
}
