//! `codecafe demo`: a complete order on a fresh machine, without any agent account (see
//! `codecafe_service::demo`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use codecafe_service::{CancelToken, Service, demo, execute};

use crate::printer::Printer;
use crate::run_cmd::finish;

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
pub fn run(service: &Service, args: &DemoArgs, token: &CancelToken) -> Result<ExitCode> {
    let demo = demo::setup(service, args.dir.as_deref())?;
    let dir = demo.dir.display().to_string();
    if !args.json {
        println!("demo repository: {dir}");
        println!(
            "registered cafe {} ({}) at {dir}",
            demo.cafe.name,
            demo.cafe.short_id()
        );
    }
    let printer = std::cell::RefCell::new(None::<Printer>);
    let (created, outcome) = execute::run(
        service,
        &demo.request,
        token,
        &mut |created| {
            if !args.json {
                println!(
                    "order {} (recipe demo) in {}",
                    created.order.short_id(),
                    created.path.display()
                );
            }
            *printer.borrow_mut() = Some(Printer::new(&created.order.short_id(), args.json));
        },
        &mut |event| {
            if let Some(printer) = &*printer.borrow() {
                printer.event(event);
            }
        },
    )?;
    drop(printer);
    if !args.json {
        let short = created.order.short_id();
        println!();
        println!(
            "the result is on the order's own worktree: {}",
            created.path.display()
        );
        println!("see it with:   cd {dir} && codecafe order diff {short}");
        println!("keep it with:  cd {dir} && codecafe order merge {short}");
        println!(
            "a real agent run needs claude or codex installed and logged in: codecafe run --recipe moon \"...\""
        );
    }
    Ok(finish(&outcome, token))
}
