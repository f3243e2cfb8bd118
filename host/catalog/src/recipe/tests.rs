//! Unit tests: parsing and every validation rule; resolution and the catalog are in
//! [`resolution`].

mod policy;
mod resolution;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::profile::Profiles;

/// The seed's example, verbatim (SPEC §2 and seed 002 §3).
const SEED: &str = "\
workflow:
  stages: [analyze, plan, code, review]
analyze: { provider: claude-code, role: analyzer, skills: [classify-task, evaluate-complexity] }
plan: { provider: claude-code, role: planner, skills: [decide-sequence] }
code: { provider: claude-code, role: coder, skills: [implementation-runner] }
review:  { provider: codex, role: reviewer, skills: [codex-review-code] }
";

fn strings(items: &[&str]) -> Option<Vec<String>> {
    Some(items.iter().map(|s| (*s).to_owned()).collect())
}

/// What a cafe with the built-ins knows.
fn known() -> Known {
    let skills_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../skills");
    let mut skills: Vec<String> = std::fs::read_dir(&skills_dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .strip_suffix(".json")
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    for seed_skill in [
        "classify-task",
        "evaluate-complexity",
        "decide-sequence",
        "implementation-runner",
        "codex-review-code",
    ] {
        if !skills.iter().any(|s| s == seed_skill) {
            skills.push(seed_skill.to_owned());
        }
    }
    Known {
        providers: strings(&["claude-code", "codex", "command"]),
        signal_parsers: strings(&["signals-default"]),
        roles: strings(&["analyzer", "planner", "coder", "reviewer", "tester"]),
        skills: Some(skills),
    }
}

fn recipe(text: &str) -> Recipe {
    Recipe::parse("test", Path::new("test.workflow.yml"), text, Origin::User)
}

/// Every problem of `text` against [`known`], as `line:column message | hint`.
fn problems(text: &str) -> Vec<String> {
    match recipe(text).validate(&known()) {
        Ok(()) => Vec::new(),
        Err(CatalogError::Invalid { problems }) => problems
            .iter()
            .map(|p| {
                format!(
                    "{}:{} {} | {}",
                    p.line.unwrap_or(0),
                    p.column.unwrap_or(0),
                    p.message,
                    p.hint.as_deref().unwrap_or("")
                )
            })
            .collect(),
        Err(other) => panic!("unexpected error {other}"),
    }
}

/// Asserts `text` has exactly one problem, at `at` (`line:column`), mentioning `fragments`.
#[track_caller]
fn one_problem(text: &str, at: &str, fragments: &[&str]) {
    let found = problems(text);
    assert_eq!(found.len(), 1, "expected one problem, got {found:#?}");
    assert!(
        found[0].starts_with(&format!("{at} ")),
        "expected it at {at}: {found:#?}"
    );
    for fragment in fragments {
        assert!(found[0].contains(fragment), "no {fragment:?} in {found:#?}");
    }
}

#[test]
fn the_seed_example_loads_unchanged() {
    let recipe = recipe(SEED);
    assert_eq!(recipe.problems(), &[]);
    recipe.validate(&known()).expect("valid");
    assert_eq!(recipe.stage_ids(), ["analyze", "plan", "code", "review"]);
    let resolved = recipe.resolve(&Profiles::default());
    let review = &resolved.stages[3];
    assert_eq!(review.provider.value, "codex");
    assert_eq!(review.provider.source, Source::Stage);
    assert_eq!(review.role.as_deref(), Some("reviewer"));
    assert_eq!(review.skills, ["codex-review-code"]);
    assert_eq!(
        resolved.stages[0].skills,
        ["classify-task", "evaluate-complexity"]
    );
    assert_eq!(resolved.name, "test", "the name defaults to the id");
}

#[test]
fn every_builtin_recipe_is_valid() {
    for (id, _) in BUILTIN_RECIPES {
        let recipe = RecipeCatalog::builtin(id).expect("built in");
        assert_eq!(recipe.origin(), Origin::BuiltIn);
        if let Err(err) = recipe.validate(&known()) {
            panic!("built-in {id} is invalid:\n{err}");
        }
    }
    let moon = RecipeCatalog::builtin("moon").expect("moon");
    assert_eq!(moon.stage_ids(), ["analyze", "plan", "code", "review"]);
    assert!(moon.description().is_some());
}

#[test]
fn top_level_settings() {
    let text = "\
name: Careful
description: Slow and steady.
budget: 2.5
signals: signals-default
workflow:
  stages: [a]
a: { role: coder }
";
    let recipe = recipe(text);
    recipe.validate(&known()).expect("valid");
    assert_eq!(recipe.name(), "Careful");
    assert_eq!(recipe.description(), Some("Slow and steady."));
    assert_eq!(recipe.budget(), Some(2.5));
    let resolved = recipe.resolve(&Profiles::default());
    assert_eq!(resolved.stages[0].signals.source, Source::Recipe);
}

#[test]
fn a_stage_with_every_field() {
    let text = r#"workflow:
  stages: [plan, code]
plan:
  role: planner
code:
  provider: command
  role: coder
  skills: [implementation-runner]
  mode: parallel
  on_failure: retry
  retries: 3
  retry_backoff: 1m30s
  prompt: "Focus on {{ area }}."
  model: sonnet
  timeout: 20m
  depends_on: [plan]
  signals: signals-default
  context: inherit
  permissions: edit
  approvals: deny
  allowed_commands: ["cargo test", "git status"]
  on_denied: warn
  pass_env: [MY_TOKEN, CORP_*]
  command: [cargo, test]
  options: { max_turns: 20, pty: true, env: { A: "1" }, note: "~", ratio: 0.5 }
"#;
    let recipe = recipe(text);
    recipe.validate(&known()).expect("valid");
    let stage = recipe.resolve(&Profiles::default()).stages.remove(1);
    assert_eq!(stage.provider.value, "command");
    assert_eq!(stage.mode, Mode::Parallel);
    assert_eq!(stage.on_failure, OnFailure::Retry);
    assert_eq!(stage.retries, 3);
    assert_eq!(stage.retry_backoff, Duration::from_secs(90));
    assert_eq!(stage.prompt.as_deref(), Some("Focus on {{ area }}."));
    assert_eq!(stage.model.value.as_deref(), Some("sonnet"));
    assert_eq!(stage.timeout, Duration::from_secs(20 * 60));
    assert_eq!(stage.depends_on, ["plan"]);
    assert_eq!(stage.after, ["plan"]);
    assert_eq!(stage.context.value, SessionContext::Inherit);
    let options: BTreeMap<&str, &serde_json::Value> = stage
        .options
        .iter()
        .map(|(k, v)| (k.as_str(), &v.value))
        .collect();
    assert!(!options.contains_key("permissions"));
    assert_eq!(stage.permissions.value, Permissions::Edit);
    assert_eq!(stage.permissions.source, Source::Stage);
    assert_eq!(stage.approvals.value, Approvals::Deny);
    assert_eq!(stage.allowed_commands, ["cargo test", "git status"]);
    assert_eq!(stage.on_denied, OnDenied::Warn);
    assert_eq!(stage.pass_env, ["MY_TOKEN", "CORP_*"]);
    assert_eq!(options["command"], &json!(["cargo", "test"]));
    assert_eq!(options["max_turns"], &json!(20));
    assert_eq!(options["pty"], &json!(true));
    assert_eq!(options["env"], &json!({"A": "1"}));
    assert_eq!(options["note"], &json!("~"));
    assert_eq!(options["ratio"], &json!(0.5));
    let texts = stage.invocation_options();
    assert!(texts.contains(&("command".to_owned(), r#"["cargo","test"]"#.to_owned())));
    assert!(texts.contains(&("max_turns".to_owned(), "20".to_owned())));
}

#[test]
fn defaults_are_filled_in() {
    let text = "workflow:\n  stages: [a, b]\na: { role: coder }\nb: { on_failure: retry }\n";
    let resolved = recipe(text).resolve(&Profiles::default());
    let (a, b) = (&resolved.stages[0], &resolved.stages[1]);
    assert_eq!(a.mode, Mode::Sequential);
    assert_eq!(a.on_failure, OnFailure::Stop);
    assert_eq!(a.retries, 0);
    assert_eq!(a.retry_backoff, Duration::ZERO);
    assert_eq!(a.timeout, DEFAULT_TIMEOUT);
    assert_eq!(a.signals.value, DEFAULT_SIGNALS);
    assert_eq!(a.signals.source, Source::Default);
    assert_eq!(a.context.value, SessionContext::Fork);
    assert_eq!(a.model.value, None);
    assert!(a.after.is_empty());
    assert_eq!(
        b.retries, DEFAULT_RETRIES,
        "retry without retries is bounded"
    );
    assert_eq!(b.retry_backoff, DEFAULT_RETRY_BACKOFF);
    assert_eq!(b.after, ["a"]);
    assert_eq!(b.provider.value, DEFAULT_PROVIDER, "no role: the default");
}

// ---- validation rules, one by one ----

#[test]
fn unknown_keys_suggest_the_closest() {
    one_problem(
        "workflow:\n  stages: [a]\na:\n  provder: codex\n",
        "4:3",
        &[
            "unknown key `provder` in stage `a`",
            "did you mean `provider`?",
        ],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  flavour: x\n",
        "4:3",
        &["unknown key `flavour`", "options:"],
    );
    one_problem(
        "descripton: x\nworkflow:\n  stages: [a]\na: {}\n",
        "1:1",
        &["unknown key `descripton`", "did you mean `description`?"],
    );
    one_problem(
        "workflow:\n  stages: [a]\n  stagez: [b]\na: {}\n",
        "3:3",
        &["unknown key `stagez` in `workflow`", "`stages`"],
    );
}

#[test]
fn unknown_names_against_what_is_installed() {
    one_problem(
        "workflow:\n  stages: [a]\na: { provider: claude }\n",
        "3:16",
        &["unknown provider `claude`", "claude-code"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na: { provider: gemini-cli }\n",
        "3:16",
        &[
            "unknown provider `gemini-cli`",
            "known providers: `claude-code`, `codex`, `command`",
        ],
    );
    one_problem(
        "workflow:\n  stages: [a]\na: { role: reviewr }\n",
        "3:12",
        &["unknown role `reviewr`", "did you mean `reviewer`?"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na: { skills: [classify-task, clasify-tsk] }\n",
        "3:30",
        &["unknown skill `clasify-tsk`", "classify-task"],
    );
    one_problem(
        "signals: fancy\nworkflow:\n  stages: [a]\na: {}\n",
        "1:10",
        &["unknown signal parser `fancy`", "signals-default"],
    );
    // Without knowledge, nothing is checked.
    let text = "workflow:\n  stages: [a]\na: { provider: x, role: y, skills: [z], signals: w }\n";
    recipe(text)
        .validate(&Known::default())
        .expect("nothing to check against");
}

#[test]
fn bad_enum_values_list_the_accepted_ones() {
    one_problem(
        "workflow:\n  stages: [a]\na:\n  mode: paralel\n",
        "4:9",
        &[
            "`paralel` is not a valid `mode`",
            "did you mean `parallel`?",
            "`sequential`",
        ],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  on_failure: explode\n",
        "4:15",
        &[
            "`explode` is not a valid `on_failure`",
            "`stop`, `continue`, `retry`",
        ],
    );
    one_problem(
        "workflow:\n  stages: [b, a]\nb: {}\na:\n  context: share\n",
        "5:12",
        &["`share` is not a valid `context`", "`fork`, `inherit`"],
    );
}

#[test]
fn stage_blocks_must_match_the_list() {
    one_problem(
        "workflow:\n  stages: [a, b]\na: {}\n",
        "2:15",
        &[
            "stage `b` is listed in `workflow.stages` but has no block",
            "add a `b:` block",
        ],
    );
    one_problem(
        "workflow:\n  stages: [a]\na: {}\nb: { role: coder }\n",
        "4:1",
        &[
            "stage block `b` is not listed",
            "add `b` to `workflow.stages`",
        ],
    );
    let found = problems("workflow:\n  stages: [analyze]\nanalyse: {}\n");
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with("2:12 ")
            && found[0].contains("is the block `analyse` meant to be `analyze`?")
    );
    assert!(found[1].starts_with("3:1 ") && found[1].contains("did you mean `analyze`?"));
    one_problem(
        "workflow:\n  stages: [a, b, a]\na: {}\nb: {}\n",
        "2:18",
        &["stage `a` is listed twice", "line 2, column 12"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na: {}\na: { role: coder }\n",
        "4:1",
        &["`a` is given twice", "line 3, column 1"],
    );
    one_problem(
        "workflow:\n  stages: [a, name]\na: {}\n",
        "2:15",
        &["`name` cannot be a stage id"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na: coder\n",
        "3:4",
        &["stage `a` must be a mapping"],
    );
    one_problem(
        "workflow:\n  stages: []\n",
        "2:11",
        &["`workflow.stages` is empty"],
    );
    one_problem("name: x\n", "1:1", &["no `workflow:` block"]);
    one_problem("", "1:1", &["the recipe is empty"]);
    one_problem(
        "workflow: [a]\na: {}\n",
        "1:11",
        &["`workflow` must be a mapping with `stages`"],
    );
}

#[test]
fn dependencies_and_cycles() {
    one_problem(
        "workflow:\n  stages: [a, b]\na: {}\nb: { depends_on: [c] }\n",
        "4:19",
        &["`depends_on` names `c`, which is not a stage"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na: { depends_on: [a] }\n",
        "3:19",
        &["stage `a` depends on itself"],
    );
    one_problem(
        "workflow:\n  stages: [a, b, c]\na: { depends_on: [c] }\nb: { depends_on: [a] }\nc: { depends_on: [b] }\n",
        "3:19",
        &["`depends_on` cycle: a → c → b → a"],
    );
    // A cycle through the implicit order: b follows a, and a waits for b.
    one_problem(
        "workflow:\n  stages: [a, b]\na: { depends_on: [b] }\nb: {}\n",
        "3:19",
        &[
            "`depends_on` cycle: a → b → a",
            "`b` waits for `a` because it follows it",
        ],
    );
    // An explicit empty list breaks the implicit edge.
    assert!(
        problems("workflow:\n  stages: [a, b]\na: { depends_on: [b] }\nb: { depends_on: [] }\n")
            .is_empty()
    );
    one_problem(
        "workflow:\n  stages: [a]\na: { context: inherit }\n",
        "3:15",
        &["`context: inherit` but runs first"],
    );
    one_problem(
        "workflow:\n  stages: [a, b, c]\na: {}\nb: {}\nc: { depends_on: [a, b], context: inherit }\n",
        "5:35",
        &["runs after several stages (a, b)"],
    );
}

#[test]
fn durations_and_retries_are_bounded() {
    one_problem(
        "workflow:\n  stages: [a]\na:\n  timeout: 10\n",
        "4:12",
        &["`10` is not a duration", "add a unit, e.g. `10s`"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  timeout: soon\n",
        "4:12",
        &["`soon` is not a duration", "`1h30m`"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  timeout: 48h\n",
        "4:12",
        &["`timeout: 48h` is out of range", "from 1s to 24h"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  on_failure: retry\n  retries: 1000\n",
        "5:12",
        &["`retries: 1000` is too many", "at most 10"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  on_failure: retry\n  retries: \"3\"\n",
        "5:12",
        &["`retries` must be a whole number"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  on_failure: retry\n  retries: -1\n",
        "5:12",
        &["`retries` must be a whole number"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  retries: 2\n",
        "4:12",
        &["`retries` has no effect", "add `on_failure: retry`"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  on_failure: continue\n  retry_backoff: 5s\n",
        "5:18",
        &["`retry_backoff` has no effect: `on_failure` is continue"],
    );
    one_problem(
        "budget: free\nworkflow:\n  stages: [a]\na: {}\n",
        "1:9",
        &["`budget` must be a positive number"],
    );
}

#[test]
fn ids_types_and_values() {
    one_problem(
        "workflow:\n  stages: [a]\na:\n  options: { note: ~ }\n",
        "4:14",
        &["provider option `note` has no value"],
    );
    one_problem(
        "workflow:\n  stages: [Analyze]\nAnalyze: {}\n",
        "2:12",
        &["`Analyze` is not a valid stage id", "lowercase"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na: { role: Coder_1 }\n",
        "3:12",
        &["`Coder_1` is not a valid role id"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  skills: classify-task\n",
        "4:11",
        &[
            "`skills` must be a list of skill ids",
            "write `skills: [classify-task]`",
        ],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  provider: [codex]\n",
        "4:13",
        &["`provider` must be a provider id, not a list"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  role:\n",
        "4:3",
        &["`role` has no value"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  skills: [classify-task, classify-task]\n",
        "4:27",
        &["`classify-task` is listed twice in `skills`"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  command: make\n  options: { command: cargo }\n",
        "5:14",
        &["provider option `command` is given twice"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  options: [x]\n",
        "4:12",
        &["`options` must be a mapping"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  prompt: |\n    Hello\n    {{ name }\n",
        "6:5",
        &["`prompt` is not a valid template"],
    );
    let bad_id = Recipe::parse(
        "Bad_Id",
        Path::new("Bad_Id.workflow.yml"),
        SEED,
        Origin::User,
    );
    let problem = &bad_id.problems()[0];
    assert!(
        problem
            .message
            .contains("`Bad_Id` is not a valid recipe id"),
        "{problem}"
    );
    assert_eq!(problem.line, None);
}

#[test]
fn yaml_errors_are_located() {
    one_problem(
        "workflow:\n  stages: [a, b\na: {}\n",
        "3:2",
        &["YAML syntax error"],
    );
    one_problem(
        "workflow:\n  stages: [a]\na:\n  role: coder\n role: x\n",
        "5:6",
        &["YAML syntax error"],
    );
    one_problem("- a\n- b\n", "1:1", &["must be a mapping"]);
    one_problem(
        "workflow:\n  stages: [a]\na: { role: &r coder }\n",
        "3:15",
        &["anchors"],
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = "\
workflow:
  stages: [analyze, plan, code]
analyze: { provider: gemini, role: analyzer, mode: fast }
plan: { role: plannr, timeout: 5 }
review: { provider: codex }
";
    let found = problems(text);
    assert_eq!(found.len(), 6, "{found:#?}");
    let at: Vec<&str> = found
        .iter()
        .map(|p| p.split(' ').next().unwrap_or_default())
        .collect();
    assert_eq!(at, ["2:27", "3:22", "3:52", "4:15", "4:32", "5:1"]);
}
