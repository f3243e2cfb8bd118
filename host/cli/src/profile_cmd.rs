//! `codecafe assign` and `codecafe profile …`: which provider plays each role.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use codecafe_service::catalog::{self, AssignRequest, ProfileRow};
use codecafe_service::catalog_types::profile::{Assignment, DEFAULT_PROFILE};
use codecafe_service::{Scope, Service};

use crate::output::{emit, table};

/// `codecafe assign <role> <provider>`.
#[derive(Debug, Args)]
pub struct AssignArgs {
    /// The role (analyzer, planner, coder, reviewer, tester, or one of yours).
    role: String,
    /// An installed provider plugin (see `codecafe plugin list`).
    provider: String,
    /// The model; the agent's default when not given.
    #[arg(long)]
    model: Option<String>,
    /// The profile to change (created if missing); default: the active one.
    #[arg(long)]
    profile: Option<String>,
    /// A provider option as KEY=JSON (`max_turns=20`, `sandbox=workspace-write`); a value that
    /// is not JSON is taken as text. Repeatable.
    #[arg(long = "option", value_name = "KEY=JSON")]
    options: Vec<String>,
    /// The cafe whose plugins count as installed (id, name or path).
    #[arg(long)]
    cafe: Option<String>,
}

/// Profile subcommands.
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// List the profiles; `*` marks the active one.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a profile's assignments.
    Show {
        /// The profile name.
        profile: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a profile the active one (recipes resolve with it).
    Use {
        /// The profile name.
        profile: String,
    },
    /// Remove a profile (`default` is emptied instead; removing the active one makes `default`
    /// active).
    Rm {
        /// The profile name.
        profile: String,
    },
}

/// Runs `codecafe assign`.
pub fn assign(args: AssignArgs, service: &Service) -> Result<ExitCode> {
    let scope = Scope::here(args.cafe.as_deref())?;
    let request = AssignRequest {
        options: catalog::parse_options(&args.options)?,
        role: args.role,
        provider: args.provider,
        model: args.model,
        profile: args.profile,
    };
    let assigned = catalog::assign(service, &scope, request)?;
    let now = describe(&assigned.assignment);
    println!("profile {}: {} → {now}", assigned.profile, assigned.role);
    if let Some(previous) = assigned.previous.filter(|p| *p != assigned.assignment) {
        println!("(was {})", describe(&previous));
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(assignment: &Assignment) -> String {
    let mut text = assignment.provider.clone();
    if let Some(model) = &assignment.model {
        text.push_str(&format!(" (model {model})"));
    }
    for (key, value) in &assignment.options {
        text.push_str(&format!(" {key}={value}"));
    }
    text
}

/// Runs one profile subcommand.
pub fn run(command: ProfileCommand, service: &Service) -> Result<ExitCode> {
    match command {
        ProfileCommand::List { json } => {
            emit(json, catalog::profiles(service)?.as_slice(), |profiles| {
                let rows = profiles.iter().map(|profile| {
                    let roles: Vec<String> = profile
                        .roles
                        .iter()
                        .map(|(role, a)| format!("{role} → {}", a.provider))
                        .collect();
                    let roles = if roles.is_empty() {
                        "(built-in defaults)".to_owned()
                    } else {
                        roles.join(", ")
                    };
                    [
                        if profile.active { "*" } else { "" }.to_owned(),
                        profile.name.clone(),
                        roles,
                    ]
                });
                table(["", "PROFILE", "ROLES"], rows);
            })
        }
        ProfileCommand::Show { profile, json } => {
            emit(json, &catalog::profile(service, &profile)?, print_profile)
        }
        ProfileCommand::Use { profile } => {
            catalog::use_profile(service, &profile)?;
            println!("profile {profile} is active");
            Ok(ExitCode::SUCCESS)
        }
        ProfileCommand::Rm { profile } => {
            let removed = catalog::remove_profile(service, &profile)?;
            if removed.emptied {
                println!("profile {DEFAULT_PROFILE} emptied (it always exists)");
            } else if removed.default_active {
                println!("removed profile {profile}; profile {DEFAULT_PROFILE} is active now");
            } else {
                println!("removed profile {profile}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_profile(profile: &ProfileRow) {
    let name = &profile.name;
    println!(
        "profile {name}{}",
        if profile.active { " (active)" } else { "" }
    );
    if profile.roles.is_empty() {
        println!(
            "no assignments: roles use the built-in defaults; `codecafe assign <role> <provider> \
             --profile {name}` adds one"
        );
        return;
    }
    let rows = profile.roles.iter().map(|(role, assignment)| {
        let options: Vec<String> = assignment
            .options
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let model = assignment.model.clone().unwrap_or_else(|| "-".to_owned());
        [
            role.clone(),
            assignment.provider.clone(),
            model,
            options.join(" "),
        ]
    });
    table(["ROLE", "PROVIDER", "MODEL", "OPTIONS"], rows);
}
