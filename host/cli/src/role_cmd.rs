//! `codecafe role …`: list, show (and preview-render) and validate roles.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use codecafe_catalog::role::{
    ENGINE_VARIABLES, RenderContext, Role, RoleCatalog, RoleOrigin, SkillVar,
};
use codecafe_catalog::skill::SkillCatalog;
use codecafe_catalog::{CatalogError, Problem};
use serde_json::{Value, json};

use crate::context::Context;
use crate::output::{bold, dim, print_json, print_table};

/// `codecafe role` and the cafe it works on.
#[derive(Debug, Args)]
pub struct RoleArgs {
    /// The cafe (id, name or path); default: the one containing the current directory.
    #[arg(long, global = true, value_name = "CAFE")]
    cafe: Option<String>,

    #[command(subcommand)]
    command: RoleCommand,
}

/// Role subcommands.
#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// List the roles: the built-ins and the cafe's own (`.orch/roles/*.md`, which override
    /// built-ins of the same id).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a role: its variables and template, or (with --render) the prompt it makes.
    Show(ShowArgs),
    /// Check role files and report every problem with its line and column; exits 1 if any has
    /// one.
    Validate {
        /// Role files (`<id>.md`); default: every role of the cafe.
        files: Vec<PathBuf>,
    },
}

/// Arguments of `role show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The role id.
    id: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Render the template with sample engine values and print the prompt.
    #[arg(long)]
    render: bool,
    /// An order variable for --render, as KEY=VALUE; repeatable.
    #[arg(long = "var", value_name = "KEY=VALUE", requires = "render")]
    vars: Vec<String>,
    /// The request to render with (default: a sample).
    #[arg(long, requires = "render")]
    prompt: Option<String>,
    /// A skill to render with (its real instructions); repeatable.
    #[arg(long = "skill", value_name = "ID", requires = "render")]
    skills: Vec<String>,
    /// The stage id to render with (default: `sample`).
    #[arg(long, requires = "render")]
    stage: Option<String>,
}

/// Runs one role subcommand.
pub fn run(args: RoleArgs, ctx: &Context) -> Result<ExitCode> {
    let cafe = args.cafe.as_deref();
    match args.command {
        RoleCommand::List { json } => list(ctx, cafe, json),
        RoleCommand::Show(show_args) => show(ctx, cafe, &show_args),
        RoleCommand::Validate { files } => validate(ctx, cafe, &files),
    }
}

fn catalog(ctx: &Context, cafe: Option<&str>) -> Result<RoleCatalog> {
    Ok(RoleCatalog::load(&ctx.orch(cafe)?)?)
}

fn origin(role: &Role) -> String {
    match (role.origin, role.overrides_built_in) {
        (RoleOrigin::User, true) => "user (overrides built-in)".to_owned(),
        (origin, _) => origin.label().to_owned(),
    }
}

fn list(ctx: &Context, cafe: Option<&str>, json: bool) -> Result<ExitCode> {
    let catalog = catalog(ctx, cafe)?;
    if json {
        let roles: Vec<Value> = catalog.roles().map(summary_json).collect();
        print_json(&roles)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![[
        "ID".to_owned(),
        "ORIGIN".to_owned(),
        "NAME".to_owned(),
        "VARIABLES".to_owned(),
    ]];
    for role in catalog.roles() {
        rows.push([
            role.id.clone(),
            origin(role),
            role.name.clone(),
            role.variables
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        ]);
    }
    print_table(&rows);
    Ok(ExitCode::SUCCESS)
}

/// A role without its template.
fn summary_json(role: &Role) -> Value {
    json!({
        "id": role.id,
        "name": role.name,
        "description": role.description,
        "origin": role.origin,
        "path": role.path,
        "overridesBuiltIn": role.overrides_built_in,
        "variables": role.variables,
    })
}

fn show(ctx: &Context, cafe: Option<&str>, args: &ShowArgs) -> Result<ExitCode> {
    let orch = ctx.orch(cafe)?;
    let catalog = RoleCatalog::load(&orch)?;
    let role = catalog.require(&args.id)?;
    if args.render {
        let mut context = RenderContext::sample();
        context.stage = args.stage.clone().unwrap_or_else(|| "sample".to_owned());
        if let Some(prompt) = &args.prompt {
            context.prompt = prompt.clone();
        }
        for var in &args.vars {
            let Some((key, value)) = var.split_once('=') else {
                bail!("--var `{var}`: write KEY=VALUE");
            };
            context
                .vars
                .insert(key.trim().to_owned(), Value::String(value.to_owned()));
        }
        if !args.skills.is_empty() {
            let skills = SkillCatalog::load(&orch)?;
            for id in &args.skills {
                context.skills.push(SkillVar::from(skills.require(id)?));
            }
        }
        let prompt = role.render_with(&context)?;
        if args.json {
            print_json(&json!({ "id": role.id, "context": context, "prompt": prompt }))?;
        } else {
            print!("{prompt}");
            if !prompt.ends_with('\n') {
                println!();
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.json {
        print_json(role)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}  {}", bold(&role.id), role.name);
    if !role.description.is_empty() {
        println!("{}", role.description);
    }
    println!();
    println!("origin:  {} ({})", origin(role), role.path.display());
    println!(
        "engine variables: {}",
        ENGINE_VARIABLES
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    );
    if role.variables.is_empty() {
        println!("variables: none declared");
    } else {
        println!();
        let mut rows = vec![[
            "VARIABLE".to_owned(),
            "TYPE".to_owned(),
            "DEFAULT".to_owned(),
            "DESCRIPTION".to_owned(),
        ]];
        for (name, variable) in &role.variables {
            let default = match (&variable.default, variable.required) {
                (Some(value), _) => value.to_string(),
                (None, true) => "(required)".to_owned(),
                (None, false) => "none".to_owned(),
            };
            rows.push([
                name.clone(),
                variable.var_type.as_str().to_owned(),
                default,
                variable.description.clone(),
            ]);
        }
        print_table(&rows);
    }
    println!();
    println!(
        "{}",
        dim(&format!("template (from line {}):", role.body_line()))
    );
    println!("{}", role.template.trim_end());
    Ok(ExitCode::SUCCESS)
}

fn validate(ctx: &Context, cafe: Option<&str>, files: &[PathBuf]) -> Result<ExitCode> {
    if files.is_empty() {
        let catalog = catalog(ctx, cafe)?;
        let user = catalog
            .roles()
            .filter(|r| r.origin == RoleOrigin::User)
            .count();
        println!("ok: {} roles ({} of the cafe)", catalog.ids().len(), user);
        return Ok(ExitCode::SUCCESS);
    }
    let mut problems: Vec<Problem> = Vec::new();
    for file in files {
        match Role::read(file) {
            Ok(_) => {}
            Err(CatalogError::Invalid { problems: found }) => problems.extend(found),
            Err(other) => return Err(other.into()),
        }
    }
    if !problems.is_empty() {
        return Err(CatalogError::Invalid { problems }.into());
    }
    println!("ok: {} role file(s)", files.len());
    Ok(ExitCode::SUCCESS)
}
