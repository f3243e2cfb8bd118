//! `codecafe trust [path]`: trust what a repository's `.orch/` holds that can run programs or
//! reach beyond the worktree (plugins, `command` stages, provider options such as hooks or MCP
//! servers, `permissions: full`), pinned by its content hash; `--status` shows it without
//! trusting, `--list` every trusted repository, `--revoke` withdraws trust.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use codecafe_service::Service;
use codecafe_service::trust::{self, ListedState, TrustListing, TrustState, TrustStatus};

use crate::output::{bold, dim, emit};

/// Arguments of `codecafe trust`.
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// The repository, or any directory inside it (default: the one containing the current
    /// directory).
    path: Option<PathBuf>,
    /// Show what needs trust and how it stands, without trusting anything.
    #[arg(long, conflicts_with_all = ["list", "revoke"])]
    status: bool,
    /// List the trusted repositories: still trusted, changed since, or gone.
    #[arg(long, conflicts_with_all = ["revoke", "path"])]
    list: bool,
    /// Withdraw trust: the repository's plugins stop loading and its runs ask again.
    #[arg(long)]
    revoke: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `codecafe trust`.
pub fn run(args: &TrustArgs, service: &Service) -> Result<ExitCode> {
    if args.list {
        return emit(args.json, &trust::list(service)?, |rows| print_list(rows));
    }
    let path = match &args.path {
        Some(path) => path.clone(),
        None => std::env::current_dir()?,
    };
    if args.revoke {
        let revoked = trust::revoke(service, &path)?;
        return emit(args.json, &revoked, |revoked| {
            let repo = revoked.repository.display();
            if revoked.was_trusted {
                println!(
                    "trust withdrawn from {repo}: its plugins no longer load and its runs ask \
                     again"
                );
            } else {
                println!("{repo} was not trusted; nothing changed");
            }
        });
    }
    let repo = trust::repository_at(&path)?;
    if args.status {
        return emit(args.json, &trust::status(service, &repo)?, print_status);
    }
    let trusted = trust::trust(service, &repo)?;
    emit(args.json, &trusted, |status| {
        let repo = status.repository.display();
        if status.state == TrustState::NotNeeded {
            println!(
                "nothing in {repo}/.orch/ can run programs or reach beyond the worktree; it \
                 needs no trust"
            );
            return;
        }
        println!(
            "trusted {} ({} item{}, hash {}):",
            bold(&repo.to_string()),
            status.items.len(),
            if status.items.len() == 1 { "" } else { "s" },
            status.hash.get(..12).unwrap_or(&status.hash)
        );
        for item in &status.items {
            println!("  - {}", item.describe());
        }
        println!(
            "{}",
            dim("any change to these asks again; `codecafe trust --revoke` withdraws it")
        );
    })
}

fn print_status(status: &TrustStatus) {
    let repo = status.repository.display();
    let since = status
        .trusted_at
        .as_deref()
        .map(|at| format!(" (trusted {at})"))
        .unwrap_or_default();
    match status.state {
        TrustState::NotNeeded => {
            println!(
                "{repo}: nothing in its .orch/ can run programs or reach beyond the worktree; \
                 it needs no trust"
            );
            return;
        }
        TrustState::Trusted => println!("{repo}: trusted{since}"),
        TrustState::Untrusted => println!(
            "{repo}: not trusted; its .orch/ holds what can run programs or reach beyond the \
             worktree:"
        ),
        TrustState::Changed => println!("{repo}: changed since you trusted it{since}:"),
    }
    for item in &status.items {
        println!("  - {}", item.describe());
    }
    for gone in &status.removed {
        println!("  - (removed) {gone}");
    }
    if matches!(status.state, TrustState::Untrusted | TrustState::Changed) {
        println!("review it, then trust it with `codecafe trust {repo}`");
    }
}

fn print_list(rows: &[TrustListing]) {
    if rows.is_empty() {
        println!("no repository is trusted (`codecafe trust` in one trusts it)");
        return;
    }
    for row in rows {
        let state = match row.state {
            ListedState::Trusted => "trusted",
            ListedState::Changed => "changed since (its runs ask again)",
            ListedState::Gone => "gone",
        };
        println!(
            "{}  {state}  {}",
            bold(&row.repository.display().to_string()),
            dim(&format!(
                "{} item{}, trusted {}",
                row.items.len(),
                if row.items.len() == 1 { "" } else { "s" },
                row.trusted_at
            ))
        );
    }
}
