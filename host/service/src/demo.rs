//! `codecafe demo`: a complete order on a fresh machine, without any agent account.
//!
//! [`setup`] creates a scratch git repository (under the system temp dir, or a directory given),
//! registers it as a cafe with its `.orch/`, writes a two-stage recipe whose stages use the
//! built-in `command` provider (plain shell commands, offline) and trusts the repository for it
//! (`codecafe trust`). Running the returned request (`execute::run`) is a real order: its own
//! branch and worktree, the same engine, runner, slots, events and signal parser as an agent
//! run. Only the agent is a shell command.

use std::path::{Path, PathBuf};

use codecafe_catalog::cafe::Cafe;

use crate::error::{Result, ServiceError};
use crate::orders::NewOrderRequest;
use crate::service::{Scope, Service};

/// The recipe the demo writes into the scratch cafe's `.orch/workflows/`.
pub const DEMO_RECIPE: &str = r#"name: demo
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
pub const DEMO_PROMPT: &str = "Add a hello.sh script that greets, then check that it runs.";

/// A demo ready to run.
#[derive(Debug, Clone)]
pub struct Demo {
    /// The scratch repository.
    pub dir: PathBuf,
    /// Its cafe.
    pub cafe: Cafe,
    /// The order to run (`execute::run`).
    pub request: NewOrderRequest,
}

/// Makes the scratch repository at `dir` (default: a new directory under the system temp
/// dir), registers it as a cafe and returns the demo order's request.
pub fn setup(service: &Service, dir: Option<&Path>) -> Result<Demo> {
    let dir = match dir {
        Some(dir) => dir.to_owned(),
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
        .map_err(|err| ServiceError::io(&dir, err))?;
    let cafe = crate::cafes::init(service, &dir, None)?.cafe;
    // Its recipe runs shell commands (`command` stages), written by codecafe itself just now.
    crate::trust::trust(service, &dir)?;
    let request = NewOrderRequest {
        scope: Scope::cafe(&cafe.id),
        recipe: Some("demo".to_owned()),
        prompt: DEMO_PROMPT.to_owned(),
        vars: Vec::new(),
        base: None,
        prefix: None,
        no_worktree: false,
        max_cost: None,
    };
    Ok(Demo { dir, cafe, request })
}

/// A new git repository at `dir` with one commit holding a README and the demo recipe.
fn scratch_repository(dir: &Path) -> Result<()> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(|err| ServiceError::io(dir, err))?;
        if entries.next().is_some() {
            return Err(ServiceError::bad_input(
                dir.display().to_string(),
                "not empty; give `codecafe demo --dir` a new or empty directory",
            ));
        }
    }
    let workflows = dir.join(".orch").join("workflows");
    std::fs::create_dir_all(&workflows).map_err(|err| ServiceError::io(&workflows, err))?;
    let write = |path: PathBuf, text: &str| {
        std::fs::write(&path, text).map_err(|err| ServiceError::io(path, err))
    };
    write(
        dir.join("README.md"),
        "# codecafe demo\n\nA scratch repository made by `codecafe demo`.\n",
    )?;
    write(workflows.join("demo.workflow.yml"), DEMO_RECIPE)?;
    commit_all(dir).map_err(|err| {
        ServiceError::io(
            dir,
            std::io::Error::other(format!("cannot create the demo's git repository: {err}")),
        )
    })
}

fn commit_all(dir: &Path) -> std::result::Result<(), git2::Error> {
    let mut opts = git2::RepositoryInitOptions::new();
    opts.initial_head("main");
    let repo = git2::Repository::init_opts(dir, &opts)?;
    let mut index = repo.index()?;
    index.add_all(["*"].iter(), git2::IndexAddOption::DEFAULT, None)?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    // An explicit author: a fresh machine may have no git identity configured.
    let sig = git2::Signature::now("codecafe demo", "demo@codecafe.invalid")?;
    repo.commit(Some("HEAD"), &sig, &sig, "demo: initial commit", &tree, &[])?;
    Ok(())
}
