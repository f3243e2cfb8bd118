//! `codecafe demo`: a complete order on a fresh machine, without any agent account.
//!
//! It creates a scratch git repository (under the system temp dir, or `--dir`), registers it as a
//! cafe, writes a two-stage recipe whose stages use the built-in `command` provider (plain shell
//! commands, offline), and runs it as a real order: its own branch and worktree, the same engine,
//! runner, pool, events and signal parser as an agent run. Only the agent is a shell command.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::Args;

use crate::context::Context;
use crate::order_cmd::{self, NewArgs};

/// The recipe the demo writes into the scratch cafe's `.orch/workflows/`.
pub(crate) const DEMO_RECIPE: &str = r#"name: demo
description: Offline demo — two shell-command stages; no agent account needed.
workflow:
  stages: [write, check]
write:
  provider: command
  command: "cat > /dev/null; printf '#!/bin/sh\\necho \"hello from codecafe\"\\n' > hello.sh; chmod +x hello.sh; echo wrote hello.sh"
check:
  provider: command
  command: "cat > /dev/null; out=$(./hello.sh) && test \"$out\" = 'hello from codecafe' && printf '%s\\n' \"hello.sh says: $out\" '```yaml' 'signals:' '  nextAction: proceed' '```'"
"#;

/// What the demo order is asked to do (the `command` stages ignore it; agents would read it).
const DEMO_PROMPT: &str = "Add a hello.sh script that greets, then check that it runs.";

/// Arguments of `codecafe demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to create the scratch repository (must not exist, or be empty); default: a new
    /// directory under the system temp dir.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print each event as one JSON line (NDJSON).
    #[arg(long)]
    json: bool,
}

/// `codecafe demo`.
pub fn run(ctx: &Context, args: &DemoArgs) -> Result<ExitCode> {
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default();
            std::env::temp_dir().join(format!("codecafe-demo-{}-{stamp}", std::process::id()))
        }
    };
    scratch_repository(&dir)?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))?;
    if !args.json {
        println!("demo repository: {}", dir.display());
    }
    // `init` prints what it registers; with --json only events go to stdout.
    if args.json {
        let cafes = ctx.cafes();
        let cafe = cafes.create(&dir, &crate::cafe_cmd::new_cafe(ctx, None))?;
        codecafe_catalog::cafe::init_orch(&cafe.orch())?;
    } else {
        crate::cafe_cmd::init(ctx, Some(&dir), None)?;
    }
    let store = order_cmd::open_store(ctx)?;
    let created = order_cmd::create(
        ctx,
        &store,
        &NewArgs {
            cafe: Some(dir.display().to_string()),
            recipe: Some("demo".to_owned()),
            prompt: Some(DEMO_PROMPT.to_owned()),
            vars: Vec::new(),
            base: None,
            prefix: None,
            no_worktree: false,
            max_cost: None,
            json: args.json,
        },
    )?;
    let short = created.order.short_id();
    if !args.json {
        println!("order {short} (recipe demo) in {}", created.path.display());
    }
    let code = crate::run_cmd::run_created(ctx, &store, &created, args.json)?;
    if !args.json {
        println!();
        println!(
            "the result is on the order's own worktree: {}",
            created.path.display()
        );
        println!(
            "see it with:   cd {} && codecafe order diff {short}",
            dir.display()
        );
        println!(
            "keep it with:  cd {} && codecafe order merge {short}",
            dir.display()
        );
        println!(
            "a real agent run needs claude or codex installed and logged in: codecafe run --recipe moon \"...\""
        );
    }
    Ok(code)
}

/// A new git repository at `dir` with one commit holding a README and the demo recipe.
fn scratch_repository(dir: &Path) -> Result<()> {
    if dir.exists() {
        let mut entries =
            std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
        if entries.next().is_some() {
            bail!(
                "{} is not empty; give `codecafe demo --dir` a new or empty directory",
                dir.display()
            );
        }
    }
    let workflows = dir.join(".orch").join("workflows");
    std::fs::create_dir_all(&workflows)
        .with_context(|| format!("cannot create {}", workflows.display()))?;
    std::fs::write(
        dir.join("README.md"),
        "# codecafe demo\n\nA scratch repository made by `codecafe demo`.\n",
    )?;
    std::fs::write(workflows.join("demo.workflow.yml"), DEMO_RECIPE)?;
    let mut opts = git2::RepositoryInitOptions::new();
    opts.initial_head("main");
    let repo = git2::Repository::init_opts(dir, &opts)
        .with_context(|| format!("cannot create a git repository in {}", dir.display()))?;
    let mut index = repo.index()?;
    index.add_all(["*"].iter(), git2::IndexAddOption::DEFAULT, None)?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    // An explicit author: a fresh machine may have no git identity configured.
    let sig = git2::Signature::now("codecafe demo", "demo@codecafe.invalid")?;
    repo.commit(Some("HEAD"), &sig, &sig, "demo: initial commit", &tree, &[])?;
    Ok(())
}
