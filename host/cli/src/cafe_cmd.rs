//! `codecafe init` and `codecafe cafe …`: register repositories and manage them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use codecafe_service::catalog_types::cafe::Cafe;
use codecafe_service::{Service, cafes};

use crate::output::{emit, table};

/// Cafe subcommands.
#[derive(Debug, Subcommand)]
pub enum CafeCommand {
    /// Register a git repository as a cafe (without creating `.orch/`; `codecafe init` does both).
    Add {
        /// The repository (or any directory inside it).
        path: PathBuf,
        /// A name instead of the one from the `origin` remote or the directory.
        #[arg(long)]
        name: Option<String>,
    },
    /// List registered cafes.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one cafe with its settings.
    Show {
        /// Id, id prefix, name or path.
        cafe: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rename a cafe or change its settings.
    Update {
        /// Id, id prefix, name or path.
        cafe: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// A setting as KEY=VALUE (baseBranch, worktreeRoot, branchPrefix, defaultRecipe,
        /// maxParallelOrders, houseRules, language, permissions, permissionsCeiling — a
        /// permission level: read-only, edit or full; empty to unset); repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        settings: Vec<String>,
    },
    /// Unregister a cafe. The repository and its files are not touched.
    Rm {
        /// Id, id prefix, name or path.
        cafe: String,
        /// Keep the cafe's orders: registering the repository again brings them back.
        #[arg(long, conflicts_with = "remove_orders")]
        keep_orders: bool,
        /// Delete the cafe's orders first (refusing to lose uncommitted or unmerged work).
        #[arg(long)]
        remove_orders: bool,
    },
    /// Make a cafe the one commands use outside any repository.
    Use {
        /// Id, id prefix, name or path.
        cafe: String,
    },
}

/// `codecafe init [path]`: register the repository (if it is not yet) and create `.orch/`.
pub fn init(service: &Service, path: Option<&Path>, name: Option<String>) -> Result<ExitCode> {
    let path = match path {
        Some(path) => path.to_owned(),
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let report = cafes::init(service, &path, name)?;
    let cafe = &report.cafe;
    if report.registered {
        println!("registered cafe {} at {}", label(cafe), cafe.path.display());
    } else {
        println!(
            "{} is already the cafe {}",
            cafe.path.display(),
            label(cafe)
        );
    }
    for created in &report.created {
        println!("created {}", created.display());
    }
    if report.created.is_empty() {
        println!("{} was already set up", report.orch.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs one cafe subcommand.
pub fn run(command: CafeCommand, service: &Service) -> Result<ExitCode> {
    match command {
        CafeCommand::Add { path, name } => {
            let cafe = cafes::add(service, &path, name)?;
            println!(
                "registered cafe {} at {}",
                label(&cafe),
                cafe.path.display()
            );
        }
        CafeCommand::List { json } => {
            let list = cafes::list(service)?;
            return emit(json, &list.cafes, |all| {
                if all.is_empty() {
                    println!("no cafes yet; register a repository with `codecafe init`");
                    return;
                }
                let rows = all.iter().map(|cafe| {
                    let current = if list.is_current(cafe) { "*" } else { "" };
                    let path = cafe.path.display().to_string();
                    [
                        current.to_owned(),
                        cafe.short_id().to_owned(),
                        cafe.name.clone(),
                        branch(cafe),
                        path,
                    ]
                });
                table(["", "ID", "NAME", "BRANCH", "PATH"], rows);
            });
        }
        CafeCommand::Show { cafe, json } => {
            return emit(json, &cafes::show(service, &cafe)?, print_cafe);
        }
        CafeCommand::Update {
            cafe,
            name,
            settings,
        } => {
            let settings = cafes::parse_settings(&settings)?;
            let cafe = cafes::update(service, &cafe, name.as_deref(), &settings)?;
            println!("updated cafe {}", label(&cafe));
        }
        CafeCommand::Rm {
            cafe,
            keep_orders,
            remove_orders,
        } => {
            let policy = match (keep_orders, remove_orders) {
                (true, _) => cafes::OrdersPolicy::Keep,
                (_, true) => cafes::OrdersPolicy::Remove,
                _ => cafes::OrdersPolicy::Refuse,
            };
            let removed = cafes::remove(service, &cafe, policy)?;
            for order in &removed.deleted_orders {
                println!("deleted order {order}");
            }
            let cafe = &removed.cafe;
            println!(
                "unregistered cafe {}; {} was not touched",
                label(cafe),
                cafe.path.display()
            );
            if removed.kept_orders > 0 {
                println!(
                    "its {} orders are kept: `codecafe cafe add {}` brings them back",
                    removed.kept_orders,
                    cafe.path.display()
                );
            }
        }
        CafeCommand::Use { cafe } => {
            println!("using cafe {}", label(&cafes::use_cafe(service, &cafe)?));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `name (short id)`.
fn label(cafe: &Cafe) -> String {
    format!("{} ({})", cafe.name, cafe.short_id())
}

fn branch(cafe: &Cafe) -> String {
    match (&cafe.current_branch, &cafe.detached_head) {
        (Some(branch), _) => branch.clone(),
        (None, Some(commit)) => format!("(detached at {})", commit.get(..7).unwrap_or(commit)),
        (None, None) => "(no branch)".to_owned(),
    }
}

fn print_cafe(cafe: &Cafe) {
    let s = &cafe.settings;
    let house_rules = if s.house_rules.is_empty() {
        "(none)"
    } else {
        &s.house_rules
    };
    println!("id:                {}", cafe.id);
    println!("name:              {}", cafe.name);
    println!("path:              {}", cafe.path.display());
    println!("branch:            {}", branch(cafe));
    println!("created:           {}", cafe.created_at);
    println!("updated:           {}", cafe.updated_at);
    println!("settings:");
    println!("  baseBranch:        {}", s.base_branch);
    println!("  worktreeRoot:      {}", s.worktree_root.display());
    println!("  branchPrefix:      {}", s.branch_prefix);
    println!("  defaultRecipe:     {}", s.default_recipe);
    println!("  maxParallelOrders: {}", s.max_parallel_orders);
    println!("  houseRules:        {house_rules}");
    println!("  language:          {}", s.language);
    let level = |p: Option<codecafe_service::catalog_types::recipe::Permissions>| {
        p.map_or("- (unset)", |p| p.name())
    };
    println!("  permissions:       {}", level(s.permissions));
    println!("  permissionsCeiling: {}", level(s.permissions_ceiling));
}
