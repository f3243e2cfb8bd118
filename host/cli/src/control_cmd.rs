//! `codecafe order input|cancel|retry|resume` and `codecafe status`: control orders that
//! already ran, from any process.
//!
//! `input`, `retry` and `resume` continue the order in the foreground with the exit codes of
//! `codecafe run` (0 completed, 1 failed, 3 awaiting input, 4 cancelled). `cancel` asks the
//! process running the order to cancel it (an `order:cancel-requested` event it polls for)
//! and waits until it is recorded cancelled; when nobody runs it, it kills the agent process
//! groups a dead runner recorded and records it cancelled.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::Args;
use codecafe_engine::driver::RetryFrom;
use codecafe_runner::{Continuation, RunnerConfig, events};
use codecafe_store::{
    Order, OrderAction, OrderFilter, OrderStatus, StageAction, StageRunUpdate, StageStatus,
    StatusChange, Store,
};
use serde_json::{Value, json};

use crate::context::Context;
use crate::output::print_json;
use crate::run_cmd;

/// How long `order cancel` waits for the running process to record the cancel.
const CANCEL_WAIT: Duration = Duration::from_secs(60);
/// How often `order cancel` repeats its request while it waits.
const CANCEL_RESEND: Duration = Duration::from_secs(2);
/// How often `order cancel` looks at the order while it waits.
const CANCEL_POLL: Duration = Duration::from_millis(100);

/// Arguments of `codecafe order input`.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Order id or unique prefix.
    id: String,
    /// The answer to the order's open questions.
    answer: String,
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

/// `codecafe order input`.
pub fn input(ctx: &Context, store: &Store, args: &InputArgs) -> Result<ExitCode> {
    let order = store.find_order(&args.id)?;
    if order.status != OrderStatus::AwaitingInput {
        bail!(
            "order {} is {}, not awaiting input",
            order.short_id(),
            order.status
        );
    }
    run_cmd::continue_order(
        ctx,
        store,
        &order,
        Continuation::Input(args.answer.clone()),
        None,
        args.json,
    )
}

/// `codecafe order retry`.
pub fn retry(ctx: &Context, store: &Store, args: &RetryArgs) -> Result<ExitCode> {
    let order = store.find_order(&args.id)?;
    if !matches!(order.status, OrderStatus::Failed | OrderStatus::Cancelled) {
        bail!(
            "order {} is {}; only failed or cancelled orders can be retried",
            order.short_id(),
            order.status
        );
    }
    let from = match (&args.from, args.from_beginning) {
        (Some(stage), _) => RetryFrom::Stage(stage.clone()),
        (None, true) => RetryFrom::Beginning,
        (None, false) => RetryFrom::Failed,
    };
    run_cmd::continue_order(
        ctx,
        store,
        &order,
        Continuation::Retry {
            from,
            fresh: args.fresh,
        },
        None,
        args.json,
    )
}

/// `codecafe order resume`.
pub fn resume(ctx: &Context, store: &Store, args: &ResumeArgs) -> Result<ExitCode> {
    let order = store.find_order(&args.id)?;
    if order.status == OrderStatus::FollowupRunning {
        bail!(
            "order {short} runs a follow-up, which is not resumed: `codecafe order cancel {short}` \
             stops it (the order stays in followup), then run `codecafe order followup {short} \"...\"` again",
            short = order.short_id()
        );
    }
    if order.status != OrderStatus::Running {
        bail!(
            "order {} is {}; only a running order whose codecafe died can be resumed",
            order.short_id(),
            order.status
        );
    }
    if holder_alive(&order) {
        bail!(
            "order {} is still being run by {}",
            order.short_id(),
            order.runner.as_deref().unwrap_or("another process")
        );
    }
    // The holder is gone: its claim may be taken over at once.
    run_cmd::continue_order(
        ctx,
        store,
        &order,
        Continuation::Resume,
        Some(Duration::ZERO),
        args.json,
    )
}

/// `codecafe order cancel`.
pub fn cancel(ctx: &Context, store: &Store, args: &CancelArgs) -> Result<ExitCode> {
    cancel_order(ctx, store, &args.id)
}

/// Cancels an order: asks the codecafe running it and waits (bounded), or, when that process is
/// dead, kills the agent process groups it left and records the cancel. `order rm` uses it too.
pub fn cancel_order(ctx: &Context, store: &Store, id: &str) -> Result<ExitCode> {
    let order = store.find_order(id)?;
    let short = order.short_id();
    if order.status.is_terminal() {
        bail!("order {short} is already {}", order.status);
    }
    if order.status == OrderStatus::FollowupRunning {
        return cancel_followup(ctx, store, &order);
    }
    if matches!(order.status, OrderStatus::Running | OrderStatus::Created) && holder_alive(&order) {
        store.append_event(order.id, events::ORDER_CANCEL_REQUESTED, &json!({}))?;
        let deadline = Instant::now() + CANCEL_WAIT;
        let mut sent = Instant::now();
        loop {
            let now = store.order(order.id)?;
            match now.status {
                OrderStatus::Cancelled => {
                    println!("order {short} cancelled");
                    return Ok(ExitCode::SUCCESS);
                }
                status if status.is_terminal() => {
                    bail!("order {short} ended {status} before the cancel took effect")
                }
                OrderStatus::Running | OrderStatus::Created if holder_alive(&now) => {}
                // Its runner died or stopped (e.g. to wait for input) meanwhile.
                _ => return record_cancelled(ctx, store, &now),
            }
            if Instant::now() >= deadline {
                bail!(
                    "order {short} was not cancelled within {}s",
                    CANCEL_WAIT.as_secs()
                );
            }
            if sent.elapsed() >= CANCEL_RESEND {
                // A request made just as the run began may have come before it looked.
                sent = Instant::now();
                store.append_event(order.id, events::ORDER_CANCEL_REQUESTED, &json!({}))?;
            }
            std::thread::sleep(CANCEL_POLL);
        }
    }
    record_cancelled(ctx, store, &order)
}

/// `order cancel` of a running follow-up: asks the process running it (the order goes back to
/// `followup`), or, when that process is gone, kills its agent and records the follow-up
/// cancelled here.
fn cancel_followup(ctx: &Context, store: &Store, order: &Order) -> Result<ExitCode> {
    let short = order.short_id();
    if holder_alive(order) {
        store.append_event(order.id, events::ORDER_CANCEL_REQUESTED, &json!({}))?;
        let deadline = Instant::now() + CANCEL_WAIT;
        let mut sent = Instant::now();
        loop {
            let now = store.order(order.id)?;
            if now.status != OrderStatus::FollowupRunning {
                println!(
                    "the follow-up of order {short} stopped; the order is {}",
                    now.status
                );
                return Ok(ExitCode::SUCCESS);
            }
            if !holder_alive(&now) {
                break;
            }
            if Instant::now() >= deadline {
                bail!(
                    "the follow-up of order {short} was not cancelled within {}s",
                    CANCEL_WAIT.as_secs()
                );
            }
            if sent.elapsed() >= CANCEL_RESEND {
                sent = Instant::now();
                store.append_event(order.id, events::ORDER_CANCEL_REQUESTED, &json!({}))?;
            }
            std::thread::sleep(CANCEL_POLL);
        }
    }
    codecafe_runner::groups::kill_recorded(&run_cmd::group_dir(ctx), order.id);
    store.change_status(
        order.id,
        &StatusChange::new(OrderAction::Cancel).event(
            events::ORDER_FOLLOWUP_CANCELLED,
            json!({"stage": "followup", "sessionId": null}),
        ),
    )?;
    println!("the follow-up of order {short} cancelled; the order is followup");
    Ok(ExitCode::SUCCESS)
}

/// Records `order` cancelled here (nobody runs it): kills the agents a dead runner left
/// behind, then records the open stage runs and the order cancelled.
fn record_cancelled(ctx: &Context, store: &Store, order: &Order) -> Result<ExitCode> {
    codecafe_runner::groups::kill_recorded(&run_cmd::group_dir(ctx), order.id);
    for run in store.stage_runs(order.id)? {
        if matches!(
            run.status,
            StageStatus::Running | StageStatus::AwaitingInput
        ) {
            store.update_stage_run(run.id, StageAction::Cancel, &StageRunUpdate::default())?;
        }
    }
    store.change_status(
        order.id,
        &StatusChange::new(OrderAction::Cancel)
            .event(events::ORDER_CANCELLED, json!({"costUsd": order.cost_usd})),
    )?;
    println!("order {} cancelled", order.short_id());
    Ok(ExitCode::SUCCESS)
}

/// Whether the process holding `order`'s claim is alive: its heartbeat is recent and, for a
/// `codecafe:<pid>:<start>` runner id (this host's), that pid exists and is no zombie — a
/// killed codecafe counts as dead at once, a reused pid only until the heartbeat goes stale.
fn holder_alive(order: &Order) -> bool {
    let Some(runner) = &order.runner else {
        return false;
    };
    let fresh = order.heartbeat_at.is_some_and(|at| {
        let age = jiff::Timestamp::now().as_millisecond() - at.as_millisecond();
        u128::try_from(age).unwrap_or(0) < RunnerConfig::default().stale_after.as_millis()
    });
    let pid = runner
        .strip_prefix("codecafe:")
        .and_then(|rest| rest.split(':').next())
        .and_then(|pid| pid.parse::<u32>().ok());
    fresh
        && pid.is_none_or(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                !stat
                    .rsplit_once(") ")
                    .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X'))
            })
        })
}

/// `codecafe status`: the orders that run or wait, with their claims, and the agents running
/// (each holds a terminal lease) by provider.
pub fn status(store: &Store, args: &StatusArgs) -> Result<ExitCode> {
    let filter = OrderFilter {
        statuses: vec![OrderStatus::Running, OrderStatus::AwaitingInput],
        ..OrderFilter::all()
    };
    let now = jiff::Timestamp::now().as_millisecond();
    let mut rows = Vec::new();
    // Each running stage run is an agent process holding a terminal lease.
    let mut agents_by_provider: std::collections::BTreeMap<String, usize> = Default::default();
    for order in store.list_orders(&filter)? {
        let runs = store.stage_runs(order.id)?;
        for run in runs.iter().filter(|r| r.status == StageStatus::Running) {
            let provider = run.provider.clone().unwrap_or_else(|| "?".to_owned());
            *agents_by_provider.entry(provider).or_default() += 1;
        }
        let current: Vec<String> = runs
            .iter()
            .filter(|r| matches!(r.status, StageStatus::Running | StageStatus::AwaitingInput))
            .map(|r| r.stage_id.clone())
            .collect();
        let elapsed_secs = order
            .started_at
            .map(|at| (now - at.as_millisecond()).max(0) / 1000);
        rows.push(json!({
            "id": order.id.to_string(),
            "cafe": order.cafe_id,
            "recipe": order.recipe_id,
            "status": order.status.to_string(),
            "stages": current,
            "elapsedSecs": elapsed_secs,
            "runner": order.runner,
            "runnerAlive": holder_alive(&order),
        }));
    }
    let agents: usize = agents_by_provider.values().sum();
    if args.json {
        print_json(&json!({
            "orders": rows,
            "agents": {
                "running": agents,
                "byProvider": agents_by_provider,
                "slotsPerProcess": crate::run_cmd::POOL_CAP,
            },
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no order is running or waiting");
        return Ok(ExitCode::SUCCESS);
    }
    let by_provider: Vec<String> = agents_by_provider
        .iter()
        .map(|(provider, n)| format!("{provider} {n}"))
        .collect();
    println!(
        "agents running: {agents} (terminal leases; {} slots per codecafe process){}",
        crate::run_cmd::POOL_CAP,
        if by_provider.is_empty() {
            String::new()
        } else {
            format!(": {}", by_provider.join(", "))
        }
    );
    println!(
        "{:<10} {:<16} {:<14} {:<15} {:<20} ELAPSED",
        "ID", "CAFE", "RECIPE", "STATUS", "STAGE"
    );
    for row in &rows {
        let text = |key: &str| row[key].as_str().unwrap_or_default().to_owned();
        let stages = row["stages"]
            .as_array()
            .map(|s| {
                s.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        let mut status = text("status");
        if status == "running" && !row["runnerAlive"].as_bool().unwrap_or(false) {
            status.push_str(" (stale)");
        }
        println!(
            "{:<10} {:<16} {:<14} {:<15} {:<20} {}s",
            text("id").chars().take(8).collect::<String>(),
            text("cafe"),
            text("recipe"),
            status,
            stages,
            row["elapsedSecs"].as_i64().unwrap_or(0)
        );
    }
    Ok(ExitCode::SUCCESS)
}
