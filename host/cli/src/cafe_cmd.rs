//! `codecafe init` and `codecafe cafe …`: register repositories and manage them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use codecafe_catalog::CatalogError;
use codecafe_catalog::cafe::{self, Cafe, NewCafe};

use crate::context::Context;
use crate::output::{print_json, print_table};

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
        /// maxParallelOrders, houseRules, language); repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        settings: Vec<String>,
    },
    /// Unregister a cafe. The repository and its files are not touched.
    Rm {
        /// Id, id prefix, name or path.
        cafe: String,
    },
    /// Make a cafe the one commands use outside any repository.
    Use {
        /// Id, id prefix, name or path.
        cafe: String,
    },
}

/// `codecafe init [path]`: register the repository (if it is not yet) and create `.orch/`.
pub fn init(ctx: &Context, path: Option<&Path>, name: Option<String>) -> Result<ExitCode> {
    let path = match path {
        Some(path) => path.to_owned(),
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let cafes = ctx.cafes();
    let cafe = match cafes.create(&path, &new_cafe(ctx, name)) {
        Ok(cafe) => {
            println!(
                "registered cafe {} ({}) at {}",
                cafe.name,
                cafe.short_id(),
                cafe.path.display()
            );
            cafe
        }
        Err(CatalogError::AlreadyExists { .. }) => {
            let cafe = cafes.find(&path.display().to_string())?;
            println!(
                "{} is already the cafe {} ({})",
                cafe.path.display(),
                cafe.name,
                cafe.short_id()
            );
            cafes.touch(&cafe.id)?
        }
        Err(err) => return Err(err.into()),
    };
    let created = cafe::init_orch(&cafe.orch())?;
    for path in &created {
        println!("created {}", path.display());
    }
    if created.is_empty() {
        println!("{} was already set up", cafe.orch().root().display());
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn new_cafe(ctx: &Context, name: Option<String>) -> NewCafe {
    NewCafe {
        name,
        worktrees_home: ctx.paths.data.join("worktrees"),
    }
}

/// Runs one cafe subcommand.
pub fn run(command: CafeCommand, ctx: &Context) -> Result<ExitCode> {
    let cafes = ctx.cafes();
    match command {
        CafeCommand::Add { path, name } => {
            let cafe = cafes.create(&path, &new_cafe(ctx, name))?;
            println!(
                "registered cafe {} ({}) at {}",
                cafe.name,
                cafe.short_id(),
                cafe.path.display()
            );
        }
        CafeCommand::List { json } => {
            let registry = cafes.read()?;
            if json {
                print_json(&registry.cafes)?;
            } else if registry.cafes.is_empty() {
                println!("no cafes yet; register a repository with `codecafe init`");
            } else {
                let mut rows = vec![[
                    String::new(),
                    "ID".to_owned(),
                    "NAME".to_owned(),
                    "BRANCH".to_owned(),
                    "PATH".to_owned(),
                ]];
                for cafe in &registry.cafes {
                    let current = registry.last_accessed_id.as_deref() == Some(cafe.id.as_str());
                    rows.push([
                        if current {
                            "*".to_owned()
                        } else {
                            String::new()
                        },
                        cafe.short_id().to_owned(),
                        cafe.name.clone(),
                        branch_label(cafe),
                        cafe.path.display().to_string(),
                    ]);
                }
                print_table(&rows);
            }
        }
        CafeCommand::Show { cafe, json } => {
            let cafe = cafes.find(&cafe)?;
            if json {
                print_json(&cafe)?;
            } else {
                print_cafe(&cafe);
            }
        }
        CafeCommand::Update {
            cafe,
            name,
            settings,
        } => {
            let mut pairs = Vec::new();
            for setting in &settings {
                let Some((key, value)) = setting.split_once('=') else {
                    bail!("--set {setting}: write it as KEY=VALUE");
                };
                pairs.push((key.to_owned(), value.to_owned()));
            }
            if name.is_none() && pairs.is_empty() {
                bail!("nothing to change: give --name or --set KEY=VALUE");
            }
            let cafe = cafes.update(&cafe, name.as_deref(), &pairs)?;
            println!("updated cafe {} ({})", cafe.name, cafe.short_id());
        }
        CafeCommand::Rm { cafe } => {
            let cafe = cafes.remove(&cafe)?;
            println!(
                "unregistered cafe {} ({}); {} was not touched",
                cafe.name,
                cafe.short_id(),
                cafe.path.display()
            );
        }
        CafeCommand::Use { cafe } => {
            let cafe = cafes.touch(&cafe)?;
            println!("using cafe {} ({})", cafe.name, cafe.short_id());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn branch_label(cafe: &Cafe) -> String {
    match (&cafe.current_branch, &cafe.detached_head) {
        (Some(branch), _) => branch.clone(),
        (None, Some(commit)) => format!("(detached at {})", commit.get(..7).unwrap_or(commit)),
        (None, None) => "(no branch)".to_owned(),
    }
}

fn print_cafe(cafe: &Cafe) {
    let s = &cafe.settings;
    println!("id:                {}", cafe.id);
    println!("name:              {}", cafe.name);
    println!("path:              {}", cafe.path.display());
    println!("branch:            {}", branch_label(cafe));
    println!("created:           {}", cafe.created_at);
    println!("updated:           {}", cafe.updated_at);
    println!("settings:");
    println!("  baseBranch:        {}", s.base_branch);
    println!("  worktreeRoot:      {}", s.worktree_root.display());
    println!("  branchPrefix:      {}", s.branch_prefix);
    println!("  defaultRecipe:     {}", s.default_recipe);
    println!("  maxParallelOrders: {}", s.max_parallel_orders);
    println!(
        "  houseRules:        {}",
        if s.house_rules.is_empty() {
            "(none)"
        } else {
            &s.house_rules
        }
    );
    println!("  language:          {}", s.language);
}
