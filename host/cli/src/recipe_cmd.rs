//! `codecafe recipe …`: list, show (resolved), create, validate and remove recipes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use codecafe_service::catalog::{self, RecipeRow, RecipeShow};
use codecafe_service::catalog_types::CatalogError;
use codecafe_service::catalog_types::recipe::duration::format_duration;
use codecafe_service::catalog_types::recipe::{OnFailure, Origin, Source};
use codecafe_service::{Scope, Service, ServiceError};

use crate::output::{dim, emit, exit_code, or_dash, print_json, table};

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
pub fn run(args: RecipeArgs, service: &Service) -> Result<ExitCode> {
    let scope = Scope::here(args.cafe.as_deref())?;
    match args.command {
        RecipeCommand::List { json } => emit(
            json,
            catalog::recipes(service, &scope)?.as_slice(),
            print_list,
        ),
        RecipeCommand::Show { id, yaml: true, .. } => {
            print!("{}", catalog::recipe_text(service, &scope, &id)?);
            Ok(ExitCode::SUCCESS)
        }
        RecipeCommand::Show {
            id, profile, json, ..
        } => {
            let shown = catalog::show_recipe(service, &scope, &id, profile.as_deref())?;
            if let Some(reason) = &shown.unchecked {
                eprintln!("warning: {reason}; names are not checked");
            }
            if json {
                print_json(&shown)?;
            } else {
                print_resolved(&shown);
                for problem in &shown.recipe.problems {
                    eprintln!("{problem}");
                }
            }
            Ok(exit_code(shown.valid))
        }
        RecipeCommand::New { id, from } => {
            let created = match catalog::new_recipe(service, &scope, &id, from.as_deref()) {
                Ok(created) => created,
                Err(ServiceError::Catalog(err @ CatalogError::Invalid { .. })) => {
                    eprintln!("{err}");
                    bail!("nothing was written; fix the problems above and run the command again")
                }
                Err(err) => return Err(err.into()),
            };
            println!("created recipe {id} at {}", created.path.display());
            if created.overrides_builtin {
                println!(
                    "it overrides the built-in recipe {id}; `codecafe recipe rm {id}` brings that back"
                );
            }
            println!(
                "edit it, then check it with `codecafe recipe validate {id}`; `codecafe recipe show {id}` shows it resolved"
            );
            Ok(ExitCode::SUCCESS)
        }
        RecipeCommand::Validate { targets, json } => {
            let checks = catalog::validate_recipes(service, &scope, &targets)?;
            let failures = checks.iter().filter(|check| !check.valid).count();
            if json {
                print_json(&checks)?;
                return Ok(exit_code(failures == 0));
            }
            for check in &checks {
                if check.valid {
                    println!("ok: {}", check.path);
                }
                check
                    .problems
                    .iter()
                    .for_each(|problem| println!("{problem}"));
            }
            if failures > 0 {
                let (n, plural) = (checks.len(), if checks.len() == 1 { "" } else { "s" });
                let verb = if failures == 1 { "has" } else { "have" };
                eprintln!("{failures} of {n} recipe{plural} {verb} problems");
            }
            Ok(exit_code(failures == 0))
        }
        RecipeCommand::Rm { id } => {
            let removed = catalog::remove_recipe(service, &scope, &id)?;
            println!("removed recipe {id} ({})", removed.path.display());
            if removed.builtin_restored {
                println!("the built-in recipe {id} is used again");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_list(recipes: &[RecipeRow]) {
    let rows = recipes.iter().map(|recipe| {
        let mut notes = Vec::new();
        if recipe.overrides_builtin {
            notes.push("overrides the built-in".to_owned());
        }
        if recipe.problems > 0 {
            let plural = if recipe.problems == 1 { "" } else { "s" };
            notes.push(format!(
                "{} problem{plural} (`codecafe recipe validate {}`)",
                recipe.problems, recipe.id
            ));
        }
        let description = recipe.description.clone().unwrap_or_default();
        [
            recipe.id.clone(),
            recipe.stages.join(" → "),
            recipe.origin.label().to_owned(),
            notes.join("; "),
            description,
        ]
    });
    table(["ID", "STAGES", "ORIGIN", "NOTE", "DESCRIPTION"], rows);
}

/// ` (where it came from)`, dimmed, unless it came from the stage itself.
fn source_note(source: &Source) -> String {
    match source {
        Source::Stage => String::new(),
        other => dim(&format!(" ({other})")),
    }
}

fn print_resolved(shown: &RecipeShow) {
    let resolved = &shown.recipe;
    if resolved.name == resolved.id {
        println!("{}", resolved.id);
    } else {
        println!("{} — {}", resolved.id, resolved.name);
    }
    if let Some(description) = &resolved.description {
        println!("{description}");
    }
    let path = resolved.path.display();
    match (resolved.origin, shown.overrides_builtin) {
        (Origin::BuiltIn, _) => println!("origin: built-in"),
        (Origin::User, true) => println!("origin: {path} (overrides the built-in)"),
        (Origin::User, false) => println!("origin: {path}"),
    }
    println!("profile: {}", resolved.profile);
    if let Some(budget) = resolved.budget {
        println!("budget: ${budget}");
    }
    println!();
    let rows = resolved.stages.iter().map(|stage| {
        let on_failure = match stage.on_failure {
            OnFailure::Retry => format!(
                "retry ×{} ({} apart)",
                stage.retries,
                format_duration(stage.retry_backoff)
            ),
            OnFailure::Stop => "stop".to_owned(),
            OnFailure::Continue => "continue".to_owned(),
        };
        let model = match &stage.model.value {
            Some(model) => format!("{model}{}", source_note(&stage.model.source)),
            None => "-".to_owned(),
        };
        [
            stage.id.clone(),
            stage.role.clone().unwrap_or_else(|| "-".to_owned()),
            format!(
                "{}{}",
                stage.provider.value,
                source_note(&stage.provider.source)
            ),
            model,
            or_dash(stage.skills.join(", ")),
            or_dash(stage.after.join(", ")),
            on_failure,
            stage.context.value.name().to_owned(),
            format!(
                "{}{}",
                stage.permissions.value.name(),
                source_note(&stage.permissions.source)
            ),
        ]
    });
    table(
        [
            "STAGE",
            "ROLE",
            "PROVIDER",
            "MODEL",
            "SKILLS",
            "AFTER",
            "ON FAILURE",
            "CONTEXT",
            "PERMISSIONS",
        ],
        rows,
    );
    for stage in &resolved.stages {
        if !stage.allowed_commands.is_empty() {
            println!(
                "  {}: allowed commands: {}",
                stage.id,
                stage.allowed_commands.join(", ")
            );
        }
        if !stage.pass_env.is_empty() {
            println!("  {}: passes {}", stage.id, stage.pass_env.join(", "));
        }
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
