//! `codecafe run`, `order run|logs|followup`: run an order in the foreground and print its
//! events (one human line each, or NDJSON with `--json`), or read them back later.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;
use codecafe_service::orders::{self, NewOrderRequest};
use codecafe_service::{
    CancelToken, DryRun, RunOutcome, Scope, Service, StopReason, execute, trust,
};

use crate::output::print_json;
use crate::printer::{Printer, exit_code};

/// Arguments of `codecafe run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// What the order should do.
    prompt: String,
    /// The cafe (id, name or path); default: the one containing the current directory.
    #[arg(long)]
    cafe: Option<String>,
    /// The recipe to run (default: the cafe's default recipe).
    #[arg(long)]
    recipe: Option<String>,
    /// A template variable, KEY=VALUE (repeatable).
    #[arg(long = "var", value_name = "KEY=VALUE")]
    vars: Vec<String>,
    /// Print each event as one JSON line (NDJSON).
    #[arg(long)]
    json: bool,
    /// Print the plan and every rendered prompt; create and start nothing.
    #[arg(long)]
    dry_run: bool,
    /// Run in the repository's own checkout: no branch, no worktree.
    #[arg(long)]
    no_worktree: bool,
    /// Stop spending when the order's recorded cost reaches this many US dollars.
    #[arg(long)]
    max_cost: Option<f64>,
    /// Start from this branch instead of the cafe's base branch.
    #[arg(long)]
    base: Option<String>,
    /// Trust the repository's `.orch/` as it is now (recorded, as `codecafe trust` does)
    /// before running: for non-interactive runs such as CI. `CODECAFE_TRUST=1` does the same.
    #[arg(long)]
    trust: bool,
}

impl RunArgs {
    /// Whether this invocation starts agents (not `--dry-run`).
    pub fn runs_agents(&self) -> bool {
        !self.dry_run
    }

    fn request(&self) -> Result<NewOrderRequest> {
        Ok(NewOrderRequest {
            scope: Scope::here(self.cafe.as_deref())?,
            recipe: self.recipe.clone(),
            prompt: self.prompt.clone(),
            vars: self.vars.clone(),
            base: self.base.clone(),
            prefix: None,
            no_worktree: self.no_worktree,
            max_cost: self.max_cost,
        })
    }
}

/// Arguments of `codecafe order run`.
#[derive(Debug, Args)]
pub struct OrderRunArgs {
    /// Order id or unique prefix.
    id: String,
    /// A prompt replacing the order's own.
    prompt: Option<String>,
    /// Print each event as one JSON line (NDJSON).
    #[arg(long)]
    json: bool,
    /// Print the plan and every rendered prompt; start nothing.
    #[arg(long)]
    dry_run: bool,
}

impl OrderRunArgs {
    /// Whether this invocation starts agents (not `--dry-run`).
    pub fn runs_agents(&self) -> bool {
        !self.dry_run
    }
}

/// Arguments of `codecafe order logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Order id or unique prefix.
    id: String,
    /// One JSON line per event.
    #[arg(long)]
    json: bool,
    /// Keep printing new events until the order settles (completed, failed, cancelled, or its
    /// follow-up done); waits on created orders and orders awaiting input too. Ctrl-C stops.
    #[arg(long)]
    follow: bool,
    /// With --follow, stop after this many seconds.
    #[arg(long, default_value_t = 24 * 60 * 60)]
    timeout: u64,
}

/// Arguments of `codecafe order followup`.
#[derive(Debug, Args)]
pub struct FollowupArgs {
    /// Order id or unique prefix (a completed order, or one in `followup`).
    id: String,
    /// What the follow-up should do (run like the recipe's last stage that may edit files —
    /// provider, model, role, options, permissions — continuing its agent session where the
    /// provider can resume).
    #[arg(required_unless_present = "finish", conflicts_with = "finish")]
    prompt: Option<String>,
    /// Base the follow-up on this stage of the recipe instead.
    #[arg(long, conflicts_with = "finish")]
    stage: Option<String>,
    /// Close the follow-up: the order is `completed` again.
    #[arg(long)]
    finish: bool,
    /// Print each event as one JSON line (NDJSON).
    #[arg(long)]
    json: bool,
}

impl FollowupArgs {
    /// Whether this invocation starts an agent (not `--finish`).
    pub fn runs_agents(&self) -> bool {
        !self.finish
    }
}

/// The signal that stopped the run, if one did (for the exit code).
pub fn stop_signal(token: &CancelToken) -> Option<i32> {
    match token.stopped() {
        Some(StopReason::Signal(signal)) => Some(signal),
        _ => None,
    }
}

/// Prints how a run ended (exit code), after its events.
pub fn finish(outcome: &RunOutcome, token: &CancelToken) -> ExitCode {
    exit_code(outcome, stop_signal(token))
}

/// `codecafe run`: a new order, executed in the foreground.
pub fn run(service: &Service, args: &RunArgs, token: &CancelToken) -> Result<ExitCode> {
    let request = args.request()?;
    if args.trust {
        grant_trust(service, &request)?;
    }
    if args.dry_run {
        print_dry_run(&execute::dry_run(service, &request)?, args.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    // Made once the order exists (it needs the order's id); the event callback then uses it.
    let printer: std::cell::RefCell<Option<Printer>> = std::cell::RefCell::new(None);
    let (created, outcome) = execute::run(
        service,
        &request,
        token,
        &mut |created| {
            for warning in &created.warnings {
                eprintln!("warning: {warning}");
            }
            if !args.json {
                println!(
                    "order {} ({}) in {}",
                    created.order.short_id(),
                    created.order.recipe_id,
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
    let outcome = crate::approve_cmd::decide_in_place(
        service,
        &created.order.short_id(),
        outcome,
        args.json,
        token,
    )?;
    Ok(finish(&outcome, token))
}

/// `run --trust`: trusts the run's repository, saying so on stderr (stdout may be JSON).
fn grant_trust(service: &Service, request: &NewOrderRequest) -> Result<()> {
    let cafe = service.registered_cafe(&request.scope)?;
    let status = trust::trust(service, &cafe.path)?;
    if !status.items.is_empty() {
        eprintln!(
            "trusted {} (--trust): {}",
            status.repository.display(),
            status
                .items
                .iter()
                .map(|item| item.item.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

/// `codecafe order run`.
pub fn order_run(service: &Service, args: &OrderRunArgs, token: &CancelToken) -> Result<ExitCode> {
    if args.dry_run {
        let dry = execute::dry_run_order(service, &args.id, args.prompt.as_deref())?;
        print_dry_run(&dry, args.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    let order = orders::find(service, &args.id)?;
    let printer = Printer::new(&order.short_id(), args.json);
    let outcome = execute::execute(
        service,
        &args.id,
        args.prompt.as_deref(),
        token,
        &mut |event| printer.event(event),
    )
    .with_context(|| format!("order {} could not run", order.short_id()))?;
    drop(printer);
    let outcome =
        crate::approve_cmd::decide_in_place(service, &order.short_id(), outcome, args.json, token)?;
    Ok(finish(&outcome, token))
}

/// `codecafe order followup`: one follow-up on a completed order in the foreground (exit 0
/// completed, 1 failed, 3 awaiting input, 4 cancelled), or `--finish`.
pub fn followup(service: &Service, args: &FollowupArgs, token: &CancelToken) -> Result<ExitCode> {
    let Some(prompt) = args.prompt.as_deref().filter(|_| !args.finish) else {
        let order = execute::finish_followup(service, &args.id)
            .with_context(|| format!("order {} cannot finish a follow-up", args.id))?;
        if !args.json {
            println!("order {} completed (follow-up finished)", order.short_id());
        }
        return Ok(ExitCode::SUCCESS);
    };
    let order = orders::find(service, &args.id)?;
    let printer = Printer::new(&order.short_id(), args.json);
    let outcome = execute::followup(
        service,
        &args.id,
        prompt,
        args.stage.as_deref(),
        token,
        &mut |event| printer.event(event),
    )
    .with_context(|| format!("order {} could not run a follow-up", order.short_id()))?;
    drop(printer);
    let outcome =
        crate::approve_cmd::decide_in_place(service, &order.short_id(), outcome, args.json, token)?;
    Ok(finish(&outcome, token))
}

/// `codecafe order logs`.
pub fn logs(service: &Service, args: &LogsArgs, token: &CancelToken) -> Result<ExitCode> {
    let order = orders::find(service, &args.id)?;
    let printer = Printer::plain(&order.short_id(), args.json);
    orders::follow(
        service,
        order.id,
        args.follow,
        Duration::from_secs(args.timeout),
        token,
        &mut |event| printer.event(event),
    )?;
    Ok(ExitCode::SUCCESS)
}

fn print_dry_run(dry: &DryRun, json: bool) -> Result<()> {
    if json {
        return print_json(dry);
    }
    println!(
        "recipe {}: {} stages (nothing is started)",
        dry.recipe_id,
        dry.stages.len()
    );
    for (i, group) in dry.groups.iter().enumerate() {
        let kind = if group.len() > 1 {
            "  (in parallel)"
        } else {
            ""
        };
        println!("  {}. {}{kind}", i + 1, group.join(" + "));
    }
    for stage in &dry.stages {
        let model = stage.model.as_deref().unwrap_or("default model");
        println!();
        println!("--- stage {} · {} · {model} ---", stage.id, stage.provider);
        println!("{}", stage.prompt);
    }
    Ok(())
}
