//! `codecafe order input|cancel|retry|resume` and `codecafe status`: control orders from any
//! process. `input`, `retry` and `resume` continue the order in the foreground with the exit
//! codes of `codecafe run`.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use codecafe_service::execute::Reply;
use codecafe_service::{CancelToken, RetryFrom, RunOutcome, Service, control, execute, orders};

use crate::output::print_json;
use crate::printer::Printer;
use crate::run_cmd::finish;

/// Arguments of `codecafe order input`.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Order id or unique prefix.
    id: String,
    /// The answer to the order's open questions.
    #[arg(required_unless_present = "budget", conflicts_with = "budget")]
    answer: Option<String>,
    /// For an order paused at its budget: the new limit in US dollars (more than it cost so
    /// far); `order cancel` stops it instead.
    #[arg(long, value_name = "USD")]
    budget: Option<f64>,
    /// Print each event as one JSON line (NDJSON).
    #[arg(long)]
    json: bool,
}

/// Arguments of `codecafe order retry`.
#[derive(Debug, Args)]
pub struct RetryArgs {
    /// Order id or unique prefix.
    id: String,
    /// Re-run from this stage (and everything after it) instead of the failed stages.
    #[arg(long, conflicts_with = "from_beginning")]
    from: Option<String>,
    /// Re-run every stage.
    #[arg(long)]
    from_beginning: bool,
    /// New agent sessions instead of continuing the previous ones.
    #[arg(long)]
    fresh: bool,
    /// Run the cafe's current recipe, roles and skills instead of the ones the order was
    /// created with (refused when stages that already ran are gone from the recipe).
    #[arg(long)]
    refresh: bool,
    /// Print each event as one JSON line (NDJSON).
    #[arg(long)]
    json: bool,
}

/// Arguments of `codecafe order resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Order id or unique prefix.
    id: String,
    /// Print each event as one JSON line (NDJSON).
    #[arg(long)]
    json: bool,
}

/// Arguments of `codecafe order cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// Order id or unique prefix.
    id: String,
}

/// Arguments of `codecafe status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Continues order `id` in the foreground through `step`, printing its events; an approval
/// it stops at is asked in place on a terminal.
pub(crate) fn continued(
    service: &Service,
    id: &str,
    json: bool,
    token: &CancelToken,
    step: impl FnOnce(&mut dyn FnMut(&codecafe_service::Event)) -> codecafe_service::Result<RunOutcome>,
) -> Result<ExitCode> {
    let order = orders::find(service, id)?;
    let short = order.short_id();
    let printer = Printer::new(&short, json);
    let outcome = step(&mut |event| printer.event(event))
        .with_context(|| format!("order {short} could not continue"))?;
    drop(printer);
    if let RunOutcome::Delivered { message, .. } = &outcome {
        if json {
            println!("{}", serde_json::to_string(&outcome)?);
        } else {
            println!(
                "{message}; the codecafe running order {short} goes on (`codecafe order attach \
                 {short}` watches it)"
            );
        }
    }
    let outcome = crate::approve_cmd::decide_in_place(service, &short, outcome, json, token)?;
    Ok(finish(&outcome, token))
}

/// `codecafe order input`.
pub fn input(service: &Service, args: &InputArgs, token: &CancelToken) -> Result<ExitCode> {
    let reply = match (&args.answer, args.budget) {
        (_, Some(limit)) => Reply::Budget(limit),
        (Some(answer), None) => Reply::Answer(answer.clone()),
        (None, None) => anyhow::bail!("give the answer, or --budget <usd>"),
    };
    continued(service, &args.id, args.json, token, |emit| {
        execute::input(service, &args.id, &reply, token, emit)
    })
}

/// `codecafe order retry`.
pub fn retry(service: &Service, args: &RetryArgs, token: &CancelToken) -> Result<ExitCode> {
    let from = match (&args.from, args.from_beginning) {
        (Some(stage), _) => RetryFrom::Stage(stage.clone()),
        (None, true) => RetryFrom::Beginning,
        (None, false) => RetryFrom::Failed,
    };
    continued(service, &args.id, args.json, token, |emit| {
        execute::retry(
            service,
            &args.id,
            from,
            args.fresh,
            args.refresh,
            token,
            emit,
        )
    })
}

/// `codecafe order resume`.
pub fn resume(service: &Service, args: &ResumeArgs, token: &CancelToken) -> Result<ExitCode> {
    continued(service, &args.id, args.json, token, |emit| {
        execute::resume(service, &args.id, token, emit)
    })
}

/// `codecafe order cancel`.
pub fn cancel(service: &Service, args: &CancelArgs) -> Result<ExitCode> {
    let cancelled = control::cancel(service, &args.id)?;
    let short = cancelled.order.short_id();
    if cancelled.followup {
        println!(
            "the follow-up of order {short} cancelled; the order is {}",
            cancelled.order.status
        );
    } else {
        println!("order {short} cancelled");
    }
    Ok(ExitCode::SUCCESS)
}

/// `codecafe status`.
pub fn status(service: &Service, args: &StatusArgs) -> Result<ExitCode> {
    let status = codecafe_service::status::status(service)?;
    if args.json {
        print_json(&status)?;
        return Ok(ExitCode::SUCCESS);
    }
    let agents = &status.agents;
    let by_provider: Vec<String> = agents
        .by_provider
        .iter()
        .map(|(provider, n)| format!("{provider} {n}"))
        .collect();
    println!(
        "agents running: {} of {} slots on this machine{}{}",
        agents.running,
        agents.caps.max,
        if by_provider.is_empty() {
            String::new()
        } else {
            format!(": {}", by_provider.join(", "))
        },
        if agents.waiting > 0 {
            format!("; {} waiting for a slot", agents.waiting)
        } else {
            String::new()
        }
    );
    if status.orders.is_empty() {
        println!("no order is running, waiting or queued");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<10} {:<16} {:<14} {:<24} {:<20} ELAPSED",
        "ID", "CAFE", "RECIPE", "STATUS", "STAGE"
    );
    for row in &status.orders {
        let mut state = if row.queued {
            "queued".to_owned()
        } else {
            row.status.to_string()
        };
        if row.status.is_active() && !row.runner_alive {
            state.push_str(" (stale)");
        }
        println!(
            "{:<10} {:<16} {:<14} {:<24} {:<20} {}s",
            row.id.to_string().chars().take(8).collect::<String>(),
            row.cafe.chars().take(16).collect::<String>(),
            row.recipe,
            state,
            row.stages.join(","),
            row.elapsed_secs.unwrap_or(0)
        );
    }
    Ok(ExitCode::SUCCESS)
}
