//! Role parsing, located errors, rendering and the catalog.

use super::*;
use crate::layout::OrchDir;
use serde_json::json;

fn parse(text: &str) -> Result<Role> {
    Role::parse("r", Path::new("r.md"), text, RoleOrigin::User)
}

fn problems(text: &str) -> Vec<(usize, usize, String)> {
    match parse(text) {
        Err(CatalogError::Invalid { problems }) => problems
            .into_iter()
            .map(|p| (p.line.unwrap_or(0), p.column.unwrap_or(0), p.message))
            .collect(),
        other => panic!("expected problems, got {other:?}"),
    }
}

const GOOD: &str = "---\nname: R\ndescription: A role\nvariables:\n  focus:\n    type: list\n    default: [a, b]\n  level:\n    type: number\n    default: 2\n  strict:\n    type: boolean\n  who:\n    type: string\n    required: true\n---\nHello {{ prompt }} {{ focus|join(',') }} {{ level }} {{ strict }} {{ who }}\n";

#[test]
fn parses_front_matter_and_body() {
    let role = parse(GOOD).expect("parses");
    assert_eq!(role.name, "R");
    assert_eq!(role.description, "A role");
    assert_eq!(role.body_line(), 17);
    assert_eq!(role.variables["focus"].default, Some(json!(["a", "b"])));
    assert_eq!(role.variables["level"].default, Some(json!(2)));
    assert_eq!(role.variables["strict"].default, None);
    assert!(role.variables["who"].required);
}

#[test]
fn renders_with_defaults_order_vars_and_coercion() {
    let role = parse(GOOD).expect("parses");
    let mut context = RenderContext::new("s", "P");
    context.vars.insert("who".to_owned(), json!("me"));
    assert_eq!(
        role.render_with(&context).expect("renders"),
        "Hello P a,b 2 None me"
    );
    context.vars.insert("level".to_owned(), json!("5"));
    context.vars.insert("strict".to_owned(), json!("true"));
    context.vars.insert("focus".to_owned(), json!("x, y"));
    assert_eq!(
        role.render_with(&context).expect("renders"),
        "Hello P x,y 5 True me"
    );
    context.vars.insert("level".to_owned(), json!("many"));
    let error = role.render_with(&context).expect_err("bad number");
    assert!(error.to_string().contains("variable `level`"), "{error}");
}

#[test]
fn a_required_variable_without_value_is_named() {
    let role = parse(GOOD).expect("parses");
    let error = role
        .render_with(&RenderContext::new("s", "P"))
        .expect_err("missing");
    let message = error.to_string();
    assert!(
        message.contains("`who`") && message.contains("required"),
        "{message}"
    );
}

#[test]
fn strict_rendering_names_the_missing_variable_and_its_line() {
    let role = parse("---\nname: R\n---\nline one\n{{ prompt }} {{ previous[0].outputs }}\n")
        .expect("parses");
    let mut context = RenderContext::new("s", "P");
    context.previous.push(PreviousOutput {
        stage: "a".to_owned(),
        output: "o".to_owned(),
    });
    let Err(CatalogError::Invalid { problems }) = role.render_with(&context) else {
        panic!("expected an undefined error");
    };
    assert_eq!((problems[0].line, problems[0].column), (Some(5), Some(25)));
    assert!(
        problems[0].message.contains("previous[0].outputs"),
        "{problems:?}"
    );

    // An engine variable the caller forgot.
    let error = role
        .render(&json!({"prompt": "P"}))
        .expect_err("no previous");
    assert!(
        error.to_string().contains("`previous` is undefined"),
        "{error}"
    );
}

#[test]
fn undeclared_variables_are_errors_at_load() {
    let found = problems("---\nname: R\n---\nok\n{% if x %}{{ foo.bar }}{% endif %}\n");
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!((found[0].0, found[0].1), (5, 14), "{found:?}");
    assert!(found[0].2.contains("`foo`"));
    assert_eq!((found[1].0, found[1].1), (5, 7), "{found:?}");
    // Set variables, loop variables and globals are fine.
    parse("---\nname: R\n---\n{% set n = 1 %}{% for s in skills %}{{ loop.index }}{{ s.id }}{% endfor %}{{ range(n)|list }}{% if z is defined %}{% endif %}\n")
            .map(|_| ())
            .expect_err("z is still undeclared");
    parse("---\nname: R\n---\n{% set n = 1 %}{% for s in skills %}{{ loop.index }}{{ s.id }}{% endfor %}{{ range(n)|list }}\n")
            .expect("fine");
}

#[test]
fn front_matter_errors_are_located_in_the_file() {
    let cases: &[(&str, (usize, usize), &str)] = &[
        ("no front matter\n", (1, 1), "starts with a `---`"),
        ("---\nname: R\n", (1, 1), "never closed"),
        (
            "---\nname: R\ncolour: red\n---\n",
            (3, 1),
            "unknown front matter key `colour`",
        ),
        (
            "---\nname: R\nvariables:\n  x:\n    type: text\n---\n",
            (5, 11),
            "`text` is not a variable type",
        ),
        (
            "---\nname: R\nvariables:\n  x:\n    type: number\n    default: \"3\"\n---\n",
            (6, 14),
            "default of `x` is not a number",
        ),
        (
            "---\nname: R\nvariables:\n  x:\n    type: string\n    default: 3\n---\n",
            (6, 14),
            "default of `x` is not a string",
        ),
        (
            "---\nname: R\nvariables:\n  x:\n    type: list\n    default: a\n---\n",
            (6, 14),
            "not a list",
        ),
        (
            "---\nname: R\nvariables:\n  x:\n    type: boolean\n    defualt: true\n---\n",
            (6, 5),
            "unknown key `defualt`",
        ),
        (
            "---\nname: R\nvariables:\n  prompt:\n    type: string\n---\n",
            (4, 3),
            "engine variable",
        ),
        (
            "---\nname: R\nvariables:\n  Bad-Name:\n    type: string\n---\n",
            (4, 3),
            "not a valid variable name",
        ),
        (
            "---\nname: R\nvariables:\n  x:\n    default: 1\n---\n",
            (4, 3),
            "has no `type`",
        ),
        (
            "---\nname: R\nvariables:\n  x:\n    type: string\n    required: true\n    default: a\n---\n",
            (4, 3),
            "required and has a default",
        ),
        (
            "---\nname: R\nname: S\n---\n",
            (3, 1),
            "duplicate key `name`",
        ),
        ("---\nname: [R\n---\n", (3, 1), "invalid YAML"),
        ("---\ndescription: d\n---\n", (1, 1), "no `name`"),
        (
            "---\nname: R\n---\nfine\n{% if prompt %}\nunclosed\n",
            (6, 1),
            "syntax error",
        ),
        (
            "---\nname: R\n---\n\n  {{ prompt | }}\n",
            (5, 15),
            "syntax error",
        ),
    ];
    for (text, position, message) in cases {
        let found = problems(text);
        assert_eq!((found[0].0, found[0].1), *position, "{text:?}: {found:?}");
        assert!(found[0].2.contains(message), "{text:?}: {found:?}");
    }
}

#[test]
fn builtins_load_and_render_with_engine_variables_only() {
    let roles = builtin_roles().expect("built-ins are valid");
    let ids: Vec<&str> = roles.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["analyzer", "coder", "planner", "reviewer", "tester"]);
    let skill = crate::skill::builtin_skills()
        .expect("skills")
        .into_iter()
        .find(|s| s.id == "detect-uncertainty")
        .expect("exists");
    for role in &roles {
        assert!(role.variables.values().all(|v| !v.required), "{}", role.id);
        let bare = role
            .render_with(&RenderContext::new("stage-x", "Do the thing."))
            .unwrap_or_else(|e| panic!("{} renders: {e}", role.id));
        assert!(bare.contains("Do the thing."), "{}", role.id);
        assert!(bare.contains("stage-x"), "{}", role.id);
        assert!(
            bare.contains("signals:"),
            "{} reminds of the signals block",
            role.id
        );
        assert!(bare.contains("nextAction"), "{}", role.id);
        assert!(
            !bare.contains("\n\n\n"),
            "{} has no runs of blank lines:\n{bare}",
            role.id
        );

        let mut full = RenderContext::sample();
        full.skills.push(SkillVar::from(&skill));
        full.vars.insert("ticket".to_owned(), json!("API-12"));
        full.answers.push(Answer {
            stage: "analyze".to_owned(),
            questions: vec!["Which limit?".to_owned()],
            answer: "100 per minute".to_owned(),
        });
        full.attempt = 2;
        let text = role
            .render_with(&full)
            .unwrap_or_else(|e| panic!("{} renders: {e}", role.id));
        for expected in [
            skill.instructions.as_str(),
            "Keep changes small",
            "100 per minute",
            "Which limit?",
            "API-12",
            "(the final text of the analyze stage)",
        ] {
            assert!(
                text.contains(expected),
                "{} lacks {expected:?}:\n{text}",
                role.id
            );
        }
    }
}

#[test]
fn user_roles_override_builtins() {
    let dir = tempfile::tempdir().expect("temp dir");
    let orch = OrchDir::of_repo(dir.path());
    std::fs::create_dir_all(orch.roles()).expect("mkdir");
    std::fs::write(
        orch.role_file("coder"),
        "---\nname: My coder\n---\n{{ prompt }}\n",
    )
    .expect("write");
    std::fs::write(
        orch.role_file("doc-writer"),
        "---\nname: Docs\n---\n{{ prompt }}\n",
    )
    .expect("write");
    let catalog = RoleCatalog::load(&orch).expect("loads");
    let coder = catalog.get("coder").expect("coder");
    assert_eq!(coder.origin, RoleOrigin::User);
    assert!(coder.overrides_built_in);
    assert!(!catalog.get("doc-writer").expect("docs").overrides_built_in);
    assert_eq!(catalog.ids().len(), 6);
    assert!(matches!(
        catalog.require("nope"),
        Err(CatalogError::NotFound { .. })
    ));

    std::fs::write(orch.role_file("broken"), "---\nname: B\nx: 1\n---\n").expect("write");
    let error = RoleCatalog::load(&orch).expect_err("broken");
    assert!(error.to_string().contains("broken.md:3:1:"), "{error}");
}

#[test]
fn coercion() {
    assert_eq!(VarType::List.coerce(&json!("[1, 2]")), Ok(json!([1, 2])));
    assert_eq!(VarType::List.coerce(&json!("")), Ok(json!([])));
    assert!(VarType::Boolean.coerce(&json!("yes")).is_err());
    assert!(VarType::Number.coerce(&json!(true)).is_err());
    assert_eq!(VarType::String.coerce(&json!("x")), Ok(json!("x")));
}
