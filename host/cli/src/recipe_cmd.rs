//! `codecafe recipe …`: list, show (resolved), create, validate and remove recipes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use codecafe_catalog::profile::Profiles;
use codecafe_catalog::recipe::{
    Known, Origin, Recipe, RecipeCatalog, ResolvedRecipe, SessionContext, Source,
};
use codecafe_catalog::role::RoleCatalog;
use codecafe_catalog::skill::{SkillCatalog, SkillContext};
use codecafe_catalog::{CatalogError, OrchDir, Problem};
use serde_json::json;

use crate::context::Context;
use crate::output::{dim, print_json, print_table};

/// `codecafe recipe` and the cafe it works on.
#[derive(Debug, Args)]
pub struct RecipeArgs {
    /// The cafe (id, name or path); default: the one containing the current directory.
    #[arg(long, global = true, value_name = "CAFE")]
    cafe: Option<String>,

    #[command(subcommand)]
    command: RecipeCommand,
}

/// Recipe subcommands.
#[derive(Debug, Subcommand)]
pub enum RecipeCommand {
    /// List the recipes: the built-ins and the cafe's own (which override built-ins of the same id).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a recipe resolved: every stage with its defaults filled in, and where the provider,
    /// model and options come from (stage, profile or default).
    Show {
        /// The recipe id.
        id: String,
        /// Resolve with this profile instead of the active one.
        #[arg(long)]
        profile: Option<String>,
        /// Print the YAML as written instead.
        #[arg(long, conflicts_with = "json")]
        yaml: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a new recipe into the cafe's `.orch/workflows/`: a commented starter, or a copy of a
    /// file (checked first; nothing is written if it has problems).
    New {
        /// The recipe id (lowercase letters, digits and `-`); a built-in's id makes an editable
        /// copy that overrides it.
        id: String,
        /// A recipe file to copy.
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
    },
    /// Check recipes and report every problem with its line and column; exits 1 if any has one.
    Validate {
        /// Recipe files or ids; default: every recipe of the cafe.
        targets: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove one of the cafe's recipes (built-ins cannot be removed).
    Rm {
        /// The recipe id.
        id: String,
    },
}

/// Runs one recipe subcommand.
pub fn run(args: RecipeArgs, ctx: &Context) -> Result<ExitCode> {
    let cafe = args.cafe.as_deref();
    match args.command {
        RecipeCommand::List { json } => list(ctx, cafe, json),
        RecipeCommand::Show {
            id,
            profile,
            yaml,
            json,
        } => show(ctx, cafe, &id, profile.as_deref(), yaml, json),
        RecipeCommand::New { id, from } => new(ctx, cafe, &id, from.as_deref()),
        RecipeCommand::Validate { targets, json } => validate(ctx, cafe, &targets, json),
        RecipeCommand::Rm { id } => remove(ctx, cafe, &id),
    }
}

/// What the cafe has installed, for checking the names recipes use.
pub fn known(ctx: &Context, cafe: Option<&str>, orch: &OrchDir) -> Result<Known> {
    let plugins = ctx.known_plugins(cafe)?;
    let roles = RoleCatalog::load(orch).context("cannot check role names")?;
    let skills = SkillCatalog::load(orch).context("cannot check skill names")?;
    let owned = |ids: Vec<&str>| Some(ids.into_iter().map(str::to_owned).collect());
    Ok(Known {
        providers: Some(plugins.providers),
        signal_parsers: Some(plugins.signal_parsers),
        roles: owned(roles.ids()),
        skills: owned(skills.ids()),
    })
}

/// Each skill's `context`, for resolving recipes (none when the skills cannot be read).
fn skill_contexts(orch: &OrchDir) -> impl Fn(&str) -> Option<SessionContext> {
    let skills = SkillCatalog::load(orch).ok();
    move |id| {
        skills
            .as_ref()
            .and_then(|s| s.get(id))
            .map(|skill| match skill.context {
                SkillContext::Fork => SessionContext::Fork,
                SkillContext::Inherit => SessionContext::Inherit,
            })
    }
}

/// Every problem of `recipe`: its own, the names `known` lacks, and the ones only `profiles`
/// brings out (a session continued across providers).
fn check(
    recipe: &Recipe,
    known: &Known,
    profiles: &Profiles,
    skills: &dyn Fn(&str) -> Option<SessionContext>,
) -> Vec<Problem> {
    let mut problems = problems_of(&recipe.validate(known));
    problems.extend(recipe.resolve_with(profiles, skills).problems);
    problems.sort_by_key(|p| (p.line.unwrap_or(0), p.column.unwrap_or(0)));
    problems
}

fn load_profiles(ctx: &Context) -> Result<Profiles> {
    Ok(Profiles::load(&Profiles::path(&ctx.paths.data))?)
}

fn problems_of(result: &codecafe_catalog::Result<()>) -> Vec<Problem> {
    match result {
        Ok(()) => Vec::new(),
        Err(CatalogError::Invalid { problems }) => problems.clone(),
        Err(other) => vec![Problem::in_file("", other.to_string())],
    }
}

fn list(ctx: &Context, cafe: Option<&str>, as_json: bool) -> Result<ExitCode> {
    let orch = ctx.orch(cafe)?;
    let catalog = RecipeCatalog::load(&orch)?;
    // The status column needs what is installed; without it, only the file itself is judged.
    let known = known(ctx, cafe, &orch).unwrap_or_default();
    let profiles = load_profiles(ctx)?;
    let skills = skill_contexts(&orch);
    let statuses: Vec<usize> = catalog
        .recipes()
        .iter()
        .map(|r| check(r, &known, &profiles, &skills).len())
        .collect();
    if as_json {
        let rows: Vec<serde_json::Value> = catalog
            .recipes()
            .iter()
            .zip(&statuses)
            .map(|(recipe, problems)| {
                json!({
                    "id": recipe.id(),
                    "name": recipe.name(),
                    "description": recipe.description(),
                    "origin": recipe.origin(),
                    "path": recipe.path(),
                    "stages": recipe.stage_ids(),
                    "overrides_builtin": catalog.overrides_builtin(recipe.id()),
                    "valid": *problems == 0,
                    "problems": problems,
                })
            })
            .collect();
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = vec![[
        "ID".to_owned(),
        "STAGES".to_owned(),
        "ORIGIN".to_owned(),
        "NOTE".to_owned(),
        "DESCRIPTION".to_owned(),
    ]];
    for (recipe, problems) in catalog.recipes().iter().zip(&statuses) {
        let mut notes = Vec::new();
        if catalog.overrides_builtin(recipe.id()) {
            notes.push("overrides the built-in".to_owned());
        }
        if *problems > 0 {
            notes.push(format!(
                "{problems} problem{} (`codecafe recipe validate {}`)",
                if *problems == 1 { "" } else { "s" },
                recipe.id()
            ));
        }
        table.push([
            recipe.id().to_owned(),
            recipe.stage_ids().join(" → "),
            recipe.origin().label().to_owned(),
            notes.join("; "),
            recipe.description().unwrap_or_default().to_owned(),
        ]);
    }
    print_table(&table);
    Ok(ExitCode::SUCCESS)
}

fn show(
    ctx: &Context,
    cafe: Option<&str>,
    id: &str,
    profile: Option<&str>,
    yaml: bool,
    as_json: bool,
) -> Result<ExitCode> {
    let orch = ctx.orch(cafe)?;
    let catalog = RecipeCatalog::load(&orch)?;
    let recipe = catalog.find(id)?;
    if yaml {
        print!("{}", recipe.text());
        return Ok(ExitCode::SUCCESS);
    }
    let mut profiles = load_profiles(ctx)?;
    if let Some(name) = profile {
        profiles = profiles.with_active(name)?;
    }
    let known = known(ctx, cafe, &orch).unwrap_or_else(|err| {
        eprintln!("warning: {err:#}; names are not checked");
        Known::default()
    });
    let skills = skill_contexts(&orch);
    let problems = check(recipe, &known, &profiles, &skills);
    let mut resolved = recipe.resolve_with(&profiles, &skills);
    // In the output, `problems` lists all of them, not only the profile's.
    resolved.problems = problems.clone();
    if as_json {
        print_json(&ShowJson {
            recipe: &resolved,
            overrides_builtin: catalog.overrides_builtin(recipe.id()),
            valid: problems.is_empty(),
        })?;
    } else {
        print_resolved(&resolved, catalog.overrides_builtin(recipe.id()));
        for problem in &problems {
            eprintln!("{problem}");
        }
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `recipe show --json`: the resolved recipe and how it stands.
#[derive(serde::Serialize)]
struct ShowJson<'a> {
    #[serde(flatten)]
    recipe: &'a ResolvedRecipe,
    overrides_builtin: bool,
    valid: bool,
}

fn source_note(source: &Source) -> String {
    match source {
        Source::Stage => String::new(),
        other => dim(&format!(" ({other})")),
    }
}

fn print_resolved(resolved: &ResolvedRecipe, overrides: bool) {
    if resolved.name == resolved.id {
        println!("{}", resolved.id);
    } else {
        println!("{} — {}", resolved.id, resolved.name);
    }
    if let Some(description) = &resolved.description {
        println!("{description}");
    }
    let origin = match resolved.origin {
        Origin::BuiltIn => "built-in".to_owned(),
        Origin::User if overrides => {
            format!("{} (overrides the built-in)", resolved.path.display())
        }
        Origin::User => resolved.path.display().to_string(),
    };
    println!("origin: {origin}");
    println!("profile: {}", resolved.profile);
    if let Some(budget) = resolved.budget {
        println!("budget: ${budget}");
    }
    println!();
    let mut table = vec![[
        "STAGE".to_owned(),
        "ROLE".to_owned(),
        "PROVIDER".to_owned(),
        "MODEL".to_owned(),
        "SKILLS".to_owned(),
        "AFTER".to_owned(),
        "ON FAILURE".to_owned(),
        "CONTEXT".to_owned(),
    ]];
    for stage in &resolved.stages {
        let on_failure = match stage.on_failure {
            codecafe_catalog::recipe::OnFailure::Retry => format!(
                "retry ×{} ({} apart)",
                stage.retries,
                codecafe_catalog::recipe::duration::format_duration(stage.retry_backoff)
            ),
            codecafe_catalog::recipe::OnFailure::Stop => "stop".to_owned(),
            codecafe_catalog::recipe::OnFailure::Continue => "continue".to_owned(),
        };
        table.push([
            stage.id.clone(),
            stage.role.clone().unwrap_or_else(|| "-".to_owned()),
            format!(
                "{}{}",
                stage.provider.value,
                source_note(&stage.provider.source)
            ),
            match &stage.model.value {
                Some(model) => format!("{model}{}", source_note(&stage.model.source)),
                None => "-".to_owned(),
            },
            if stage.skills.is_empty() {
                "-".to_owned()
            } else {
                stage.skills.join(", ")
            },
            if stage.after.is_empty() {
                "-".to_owned()
            } else {
                stage.after.join(", ")
            },
            on_failure,
            stage.context.value.name().to_owned(),
        ]);
    }
    print_table(&table);
    for stage in &resolved.stages {
        for (key, value) in &stage.options {
            println!(
                "  {}: option {key} = {}{}",
                stage.id,
                value.value,
                source_note(&value.source)
            );
        }
    }
}

fn new(ctx: &Context, cafe: Option<&str>, id: &str, from: Option<&Path>) -> Result<ExitCode> {
    let orch = ctx.orch(cafe)?;
    let (text, source) = match from {
        Some(file) => (
            std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?,
            file.to_owned(),
        ),
        None => (
            codecafe_catalog::recipe::starter_recipe(id),
            orch.recipe_file(id),
        ),
    };
    let known = known(ctx, cafe, &orch)?;
    let path = match RecipeCatalog::create(&orch, id, &text, &source, &known) {
        Ok(path) => path,
        Err(err @ CatalogError::Invalid { .. }) => {
            eprintln!("{err}");
            bail!("nothing was written; fix the problems above and run the command again")
        }
        Err(err) => return Err(err.into()),
    };
    println!("created recipe {id} at {}", path.display());
    if RecipeCatalog::builtin(id).is_some() {
        println!(
            "it overrides the built-in recipe {id}; `codecafe recipe rm {id}` brings that back"
        );
    }
    println!(
        "edit it, then check it with `codecafe recipe validate {id}`; `codecafe recipe show {id}` shows it resolved"
    );
    Ok(ExitCode::SUCCESS)
}

/// A recipe to validate: read from a file given on the command line, or found by id.
fn target_recipe(catalog: Option<&RecipeCatalog>, target: &str) -> Result<Recipe> {
    let path = Path::new(target);
    let looks_like_file = path.is_file()
        || target.contains(std::path::MAIN_SEPARATOR)
        || target.contains('/')
        || target.ends_with(".yml")
        || target.ends_with(".yaml");
    if looks_like_file {
        if !path.is_file() {
            bail!("{target}: no such file");
        }
        return Ok(Recipe::load(path)?);
    }
    match catalog {
        Some(catalog) => Ok(catalog.find(target)?.clone()),
        None => bail!("`{target}` is not a file, and there is no cafe here to find a recipe id in"),
    }
}

/// One row of `recipe validate --json`.
#[derive(serde::Serialize)]
struct ValidateJson {
    id: Option<String>,
    path: String,
    valid: bool,
    problems: Vec<Problem>,
}

fn validate(
    ctx: &Context,
    cafe: Option<&str>,
    targets: &[String],
    as_json: bool,
) -> Result<ExitCode> {
    let orch = match ctx.orch(cafe) {
        Ok(orch) => Some(orch),
        Err(err) if !targets.is_empty() && cafe.is_none() => {
            tracing::info!("no cafe ({err:#}); checking against the built-ins");
            None
        }
        Err(err) => return Err(err),
    };
    let catalog = orch.as_ref().map(RecipeCatalog::load).transpose()?;
    let recipes: Vec<Result<Recipe>> = if targets.is_empty() {
        catalog
            .as_ref()
            .map(|c| c.recipes().iter().cloned().map(Ok).collect())
            .unwrap_or_default()
    } else {
        targets
            .iter()
            .map(|t| target_recipe(catalog.as_ref(), t))
            .collect()
    };
    // Outside a cafe, names are checked against the built-ins and the user's plugins (and
    // whatever `.orch/` the current directory has).
    let orch = match orch {
        Some(orch) => orch,
        None => {
            OrchDir::of_repo(&std::env::current_dir().context("cannot read the current directory")?)
        }
    };
    let known = known(ctx, cafe, &orch)?;
    let profiles = load_profiles(ctx)?;
    let skills = skill_contexts(&orch);
    let mut rows = Vec::new();
    let mut failures = 0usize;
    for (index, recipe) in recipes.iter().enumerate() {
        let (label, problems) = match recipe {
            Ok(recipe) => (
                recipe.path().display().to_string(),
                check(recipe, &known, &profiles, &skills),
            ),
            Err(err) => (
                targets.get(index).cloned().unwrap_or_default(),
                vec![Problem::in_file(
                    targets.get(index).cloned().unwrap_or_default(),
                    format!("{err:#}"),
                )],
            ),
        };
        if !problems.is_empty() {
            failures += 1;
        }
        if as_json {
            rows.push(ValidateJson {
                id: recipe.as_ref().ok().map(|r| r.id().to_owned()),
                path: label,
                valid: problems.is_empty(),
                problems,
            });
        } else if problems.is_empty() {
            println!("ok: {label}");
        } else {
            for problem in &problems {
                println!("{problem}");
            }
        }
    }
    if as_json {
        print_json(&rows)?;
    } else if failures > 0 {
        eprintln!(
            "{failures} of {} recipe{} {} problems",
            recipes.len(),
            if recipes.len() == 1 { "" } else { "s" },
            if failures == 1 { "has" } else { "have" }
        );
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn remove(ctx: &Context, cafe: Option<&str>, id: &str) -> Result<ExitCode> {
    let orch = ctx.orch(cafe)?;
    let (path, builtin_back) = RecipeCatalog::remove(&orch, id)?;
    println!("removed recipe {id} ({})", path.display());
    if builtin_back {
        println!("the built-in recipe {id} is used again");
    }
    Ok(ExitCode::SUCCESS)
}
