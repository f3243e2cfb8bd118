//! `codecafe role …`: list, show (and preview-render) and validate roles.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use codecafe_service::catalog::{self, FilesChecked, RenderRequest, RoleRow};
use codecafe_service::catalog_types::role::{ENGINE_VARIABLES, Role, RoleOrigin};
use codecafe_service::{Scope, Service};

use crate::output::{bold, dim, emit, table};

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
pub fn run(args: RoleArgs, service: &Service) -> Result<ExitCode> {
    let scope = Scope::here(args.cafe.as_deref())?;
    match args.command {
        RoleCommand::List { json } => emit(
            json,
            catalog::roles(service, &scope)?.as_slice(),
            print_list,
        ),
        RoleCommand::Show(args) if args.render => {
            let request = RenderRequest {
                vars: catalog::parse_vars(&args.vars)?,
                stage: args.stage,
                prompt: args.prompt,
                skills: args.skills,
            };
            let rendered = catalog::render_role(service, &scope, &args.id, &request)?;
            emit(args.json, &rendered, |rendered| {
                print!("{}", rendered.prompt);
                if !rendered.prompt.ends_with('\n') {
                    println!();
                }
            })
        }
        RoleCommand::Show(args) => emit(
            args.json,
            &catalog::role(service, &scope, &args.id)?,
            print_role,
        ),
        RoleCommand::Validate { files } => {
            match catalog::validate_roles(service, &scope, &files)? {
                FilesChecked::Catalog { total, of_cafe } => {
                    println!("ok: {total} roles ({of_cafe} of the cafe)")
                }
                FilesChecked::Files { count } => println!("ok: {count} role file(s)"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn origin(origin: RoleOrigin, overrides_built_in: bool) -> String {
    match (origin, overrides_built_in) {
        (RoleOrigin::User, true) => "user (overrides built-in)".to_owned(),
        (origin, _) => origin.label().to_owned(),
    }
}

fn print_list(roles: &[RoleRow]) {
    let rows = roles.iter().map(|role| {
        let variables = role
            .variables
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        [
            role.id.clone(),
            origin(role.origin, role.overrides_built_in),
            role.name.clone(),
            variables,
        ]
    });
    table(["ID", "ORIGIN", "NAME", "VARIABLES"], rows);
}

fn print_role(role: &Role) {
    println!("{}  {}", bold(&role.id), role.name);
    if !role.description.is_empty() {
        println!("{}", role.description);
    }
    println!();
    println!(
        "origin:  {} ({})",
        origin(role.origin, role.overrides_built_in),
        role.path.display()
    );
    let engine: Vec<&str> = ENGINE_VARIABLES.iter().map(|(name, _)| *name).collect();
    println!("engine variables: {}", engine.join(", "));
    if role.variables.is_empty() {
        println!("variables: none declared");
    } else {
        println!();
        let rows = role.variables.iter().map(|(name, variable)| {
            let default = match (&variable.default, variable.required) {
                (Some(value), _) => value.to_string(),
                (None, true) => "(required)".to_owned(),
                (None, false) => "none".to_owned(),
            };
            let kind = variable.var_type.as_str().to_owned();
            [name.clone(), kind, default, variable.description.clone()]
        });
        table(["VARIABLE", "TYPE", "DEFAULT", "DESCRIPTION"], rows);
    }
    println!();
    println!(
        "{}",
        dim(&format!("template (from line {}):", role.body_line()))
    );
    println!("{}", role.template.trim_end());
}
