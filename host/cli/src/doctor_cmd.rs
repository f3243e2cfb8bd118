//! `codecafe doctor`: is everything ready for a real run — the agent CLIs the recipe uses (on
//! the PATH, version, login, sandbox), git identity, the worktree root, workspace trust — one
//! line per check, each problem and warning with its fix (see `codecafe_service::doctor`).
//! Exit 0 when nothing would stop a run, 5 (not ready) otherwise.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use codecafe_service::doctor::{self, DoctorRequest, Level, Report};
use codecafe_service::{Scope, Service};

use crate::output::{bold, print_json};
use crate::printer::EXIT_NOT_READY;

/// Arguments of `codecafe doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The cafe (id, name or path); default: the one containing the current directory.
    #[arg(long)]
    cafe: Option<String>,
    /// Check this recipe's providers (default: the cafe's default recipe).
    #[arg(long, conflicts_with = "all")]
    recipe: Option<String>,
    /// Check every installed provider instead of one recipe's.
    #[arg(long)]
    all: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// `codecafe doctor`.
pub fn run(args: &DoctorArgs, service: &Service) -> Result<ExitCode> {
    let report = doctor::doctor(
        service,
        &DoctorRequest {
            scope: Scope::here(args.cafe.as_deref())?,
            recipe: args.recipe.clone(),
            all: args.all,
        },
    )?;
    if args.json {
        print_json(&report)?;
    } else {
        print_human(&report);
    }
    Ok(if report.ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_NOT_READY)
    })
}

fn print_human(report: &Report) {
    let what = match &report.recipe {
        Some(recipe) => format!("the providers of recipe `{recipe}`"),
        None => "every installed provider".to_owned(),
    };
    match (&report.cafe, &report.repository) {
        (Some(cafe), Some(repo)) => {
            println!("checking {what} for cafe {cafe} ({})", repo.display())
        }
        (None, Some(repo)) => println!("checking {what} for {}", repo.display()),
        _ => println!("checking {what}"),
    }
    let mut rows = Vec::new();
    for check in &report.checks {
        rows.push([
            check.level.as_str(),
            check.subject.as_str(),
            check.check.as_str(),
            check.message.as_str(),
        ]);
        if let Some(fix) = &check.fix {
            rows.push(["", "", "fix", fix.as_str()]);
        }
    }
    let width = |column: usize| rows.iter().map(|r| r[column].chars().count()).max();
    let (w0, w1, w2) = (
        width(0).unwrap_or(0),
        width(1).unwrap_or(0),
        width(2).unwrap_or(0),
    );
    for [level, subject, check, text] in &rows {
        println!("{level:w0$}  {subject:w1$}  {check:w2$}  {text}");
    }
    let (problems, warnings) = (report.count(Level::Problem), report.count(Level::Warning));
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let summary = if report.ready {
        format!(
            "ready: {} (`codecafe run` will start)",
            plural(warnings, "warning")
        )
    } else {
        format!(
            "not ready: {}, {} — `codecafe run` stops until each problem is fixed",
            plural(problems, "problem"),
            plural(warnings, "warning")
        )
    };
    println!("{}", bold(&summary));
}
