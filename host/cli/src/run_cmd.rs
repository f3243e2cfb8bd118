//! `codecafe run` and `codecafe order run|logs`: execute an order in the foreground, print its
//! events (one human line each, or NDJSON with `--json`), and read them back later.
//!
//! Exit codes of a run: 0 completed, 1 failed (or an error), 3 awaiting input, 4 cancelled.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;
use codecafe_catalog::cafe::Cafe;
use codecafe_catalog::profile::Profiles;
use codecafe_catalog::recipe::RecipeCatalog;
use codecafe_catalog::role::RoleCatalog;
use codecafe_catalog::skill::SkillCatalog;
use codecafe_plugin_host::PluginHost;
use codecafe_plugin_host::registry::Registry;
use codecafe_runner::{Catalogs, Continuation, DryRun, RunOutcome, Runner, RunnerConfig};
use codecafe_store::{Event, Store};
use codecafe_terminals::TerminalPool;
use serde_json::Value;

use crate::context::Context;
use crate::order_cmd::{self, NewArgs};
use crate::output::print_json;
use crate::progress::Live;

/// Set by the Ctrl-C handler of `main`: the foreground run cancels its order.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Exit code of an order that awaits input.
pub const EXIT_AWAITING_INPUT: u8 = 3;
/// Exit code of a cancelled order.
pub const EXIT_CANCELLED: u8 = 4;
/// Terminals that may run at once in one `codecafe` process.
pub const POOL_CAP: usize = 8;
/// How often `order logs --follow` looks for new events.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

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

/// Arguments of `codecafe order logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Order id or unique prefix.
    id: String,
    /// One JSON line per event.
    #[arg(long)]
    json: bool,
    /// Keep printing new events until the order stops running (or Ctrl-C).
    #[arg(long)]
    follow: bool,
}

/// Arguments of `codecafe order followup`.
#[derive(Debug, Args)]
pub struct FollowupArgs {
    /// Order id or unique prefix (a completed order, or one in `followup`).
    id: String,
    /// What the follow-up should do (run by the recipe's last stage's provider, continuing its
    /// agent session where the provider can resume).
    #[arg(required_unless_present = "finish", conflicts_with = "finish")]
    prompt: Option<String>,
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

/// `codecafe order followup`: one follow-up prompt on a completed order in the foreground
/// (exit 0 completed, 1 failed, 4 cancelled; the order is in `followup` afterwards), or
/// `--finish` (back to `completed`).
pub fn followup(ctx: &Context, store: &Store, args: &FollowupArgs) -> Result<ExitCode> {
    let order = store.find_order(&args.id)?;
    let short = order.short_id();
    let cafe = order_cmd::order_cafe(ctx, &order)?;
    let setup = setup(ctx, &cafe)?;
    let runner = runner(store, &setup, &cafe);
    let Some(prompt) = args.prompt.as_deref().filter(|_| !args.finish) else {
        runner
            .finish_followup(order.id)
            .with_context(|| format!("order {short} cannot finish a follow-up"))?;
        if !args.json {
            println!("order {short} completed (follow-up finished)");
        }
        return Ok(ExitCode::SUCCESS);
    };
    let live = Live::start(args.json);
    let outcome = runner
        .followup(order.id, prompt, &mut |event| {
            emit_event(event, args.json, &short, live.as_ref());
        })
        .with_context(|| format!("order {short} could not run a follow-up"))?;
    Ok(exit_code(&outcome))
}

/// What a runner needs, loaded for one cafe.
struct Setup {
    _host: PluginHost,
    registry: Registry,
    catalogs: Catalogs,
    pool: TerminalPool,
    group_dir: std::path::PathBuf,
}

/// Where running agents' process groups are recorded (see [`codecafe_runner::groups`]).
pub(crate) fn group_dir(ctx: &Context) -> std::path::PathBuf {
    ctx.paths.data.join("agent-groups")
}

fn setup(ctx: &Context, cafe: &Cafe) -> Result<Setup> {
    let host = ctx.plugin_host()?;
    let registry = ctx.plugins(&host, Some(&cafe.id))?;
    let orch = cafe.orch();
    let catalogs = Catalogs {
        recipes: RecipeCatalog::load(&orch)?,
        roles: RoleCatalog::load(&orch)?,
        skills: SkillCatalog::load(&orch)?,
        profiles: Profiles::load(&Profiles::path(&ctx.paths.data))?,
    };
    Ok(Setup {
        _host: host,
        registry,
        catalogs,
        pool: TerminalPool::new(POOL_CAP)?,
        group_dir: group_dir(ctx),
    })
}

fn runner<'a>(store: &'a Store, setup: &'a Setup, cafe: &Cafe) -> Runner<'a> {
    runner_with(store, setup, cafe, None)
}

/// A runner for `cafe`; `stale_after` overrides how old a claim must be to be taken over.
fn runner_with<'a>(
    store: &'a Store,
    setup: &'a Setup,
    cafe: &Cafe,
    stale_after: Option<Duration>,
) -> Runner<'a> {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    Runner::new(
        store,
        &setup.registry,
        &setup.pool,
        &setup.catalogs,
        cafe.path.clone(),
        cafe.settings.house_rules.clone(),
        RunnerConfig {
            runner_id: format!("codecafe:{}:{started}", std::process::id()),
            stale_after: stale_after.unwrap_or(RunnerConfig::default().stale_after),
            group_dir: Some(setup.group_dir.clone()),
            ..RunnerConfig::default()
        },
    )
    .with_interrupt(&INTERRUPTED)
}

impl RunArgs {
    /// Whether this invocation starts agents (not `--dry-run`).
    pub fn runs_agents(&self) -> bool {
        !self.dry_run
    }
}

impl OrderRunArgs {
    /// Whether this invocation starts agents (not `--dry-run`).
    pub fn runs_agents(&self) -> bool {
        !self.dry_run
    }
}

/// `codecafe run`: a new order, executed in the foreground.
pub fn run(ctx: &Context, args: &RunArgs) -> Result<ExitCode> {
    let store = order_cmd::open_store(ctx)?;
    if args.dry_run {
        let cafe = order_cmd::registered_cafe(ctx, args.cafe.as_deref())?;
        let setup = setup(ctx, &cafe)?;
        let runner = runner(&store, &setup, &cafe);
        let recipe = args
            .recipe
            .clone()
            .unwrap_or_else(|| cafe.settings.default_recipe.clone());
        let vars = order_cmd::parse_vars(&args.vars)?
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect::<BTreeMap<_, _>>();
        let prepared = runner.prepare(&recipe, &args.prompt, vars)?;
        print_dry_run(&runner.dry_run(&prepared)?, args.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    let created = order_cmd::create(
        ctx,
        &store,
        &NewArgs {
            cafe: args.cafe.clone(),
            recipe: args.recipe.clone(),
            prompt: Some(args.prompt.clone()),
            vars: args.vars.clone(),
            base: args.base.clone(),
            prefix: None,
            no_worktree: args.no_worktree,
            max_cost: args.max_cost,
            json: args.json,
        },
    )?;
    if !args.json {
        println!(
            "order {} ({}) in {}",
            created.order.short_id(),
            created.order.recipe_id,
            created.path.display()
        );
    }
    let setup = setup(ctx, &created.cafe)?;
    let runner = runner(&store, &setup, &created.cafe);
    execute(&runner, created.order.id, None, args.json)
}

/// Runs an order that [`order_cmd::create`] just made, in the foreground (`codecafe demo`).
pub(crate) fn run_created(
    ctx: &Context,
    store: &Store,
    created: &order_cmd::Created,
    json: bool,
) -> Result<ExitCode> {
    let setup = setup(ctx, &created.cafe)?;
    let runner = runner(store, &setup, &created.cafe);
    execute(&runner, created.order.id, None, json)
}

/// `codecafe order run`.
pub fn order_run(ctx: &Context, store: &Store, args: &OrderRunArgs) -> Result<ExitCode> {
    let order = store.find_order(&args.id)?;
    let cafe = order_cmd::order_cafe(ctx, &order)?;
    let setup = setup(ctx, &cafe)?;
    let runner = runner(store, &setup, &cafe);
    if args.dry_run {
        let prompt = args.prompt.as_deref().unwrap_or(&order.prompt);
        let prepared = runner.prepare(&order.recipe_id, prompt, order.vars.clone())?;
        print_dry_run(&runner.dry_run(&prepared)?, args.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    execute(&runner, order.id, args.prompt.as_deref(), args.json)
}

/// `codecafe order input|retry|resume`: continue a stored order in the foreground.
pub(crate) fn continue_order(
    ctx: &Context,
    store: &Store,
    order: &codecafe_store::Order,
    continuation: Continuation,
    stale_after: Option<Duration>,
    json: bool,
) -> Result<ExitCode> {
    let cafe = order_cmd::order_cafe(ctx, order)?;
    let setup = setup(ctx, &cafe)?;
    let runner = runner_with(store, &setup, &cafe, stale_after);
    let short = order.short_id();
    let live = Live::start(json);
    let outcome = runner
        .continue_order(order.id, continuation, &mut |event| {
            emit_event(event, json, &short, live.as_ref());
        })
        .with_context(|| format!("order {short} could not continue"))?;
    Ok(exit_code(&outcome))
}

/// The exit code of a run that ended with `outcome`.
fn exit_code(outcome: &RunOutcome) -> ExitCode {
    match outcome {
        RunOutcome::Completed { .. } => ExitCode::SUCCESS,
        RunOutcome::Failed { .. } => ExitCode::FAILURE,
        RunOutcome::AwaitingInput { .. } => ExitCode::from(EXIT_AWAITING_INPUT),
        RunOutcome::Cancelled => ExitCode::from(EXIT_CANCELLED),
    }
}

fn execute(
    runner: &Runner<'_>,
    id: uuid::Uuid,
    prompt: Option<&str>,
    json: bool,
) -> Result<ExitCode> {
    let short: String = id.to_string().chars().take(8).collect();
    let live = Live::start(json);
    let outcome = runner
        .run(id, prompt, &mut |event| {
            emit_event(event, json, &short, live.as_ref());
        })
        .with_context(|| format!("order {short} could not run"))?;
    Ok(exit_code(&outcome))
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

/// One event of a foreground run: through the live status line when there is one.
fn emit_event(event: &Event, json: bool, short: &str, live: Option<&Live>) {
    match live {
        Some(live) => live.event(event, human_line(event, short).as_deref()),
        None => print_event(event, json, short),
    }
}

/// One event: a JSON line, or a human line (none for quiet events).
fn print_event(event: &Event, json: bool, short: &str) {
    // A closed stdout must not stop the run: write errors are ignored.
    let line = if json {
        serde_json::to_string(event).ok()
    } else {
        human_line(event, short)
    };
    if let Some(line) = line {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    }
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

fn seconds(value: &Value) -> String {
    value
        .get("durationMs")
        .and_then(Value::as_u64)
        .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
        .unwrap_or_else(|| "?".to_owned())
}

fn usage(value: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(usage) = value.get("usage").filter(|u| !u.is_null()) {
        let tokens = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
        parts.push(format!(
            "{} in / {} out tokens",
            tokens("input-tokens") + tokens("cached-input-tokens"),
            tokens("output-tokens")
        ));
    }
    if let Some(cost) = value
        .get("costUsd")
        .and_then(Value::as_f64)
        .filter(|c| *c > 0.0)
    {
        parts.push(format!("${cost:.4}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

fn abbreviate(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim_end();
    let more = text.lines().filter(|l| !l.trim().is_empty()).count() > 1;
    let mut short: String = line.chars().take(120).collect();
    if more || line.chars().count() > 120 {
        short.push('…');
    }
    short
}

fn human_line(event: &Event, short: &str) -> Option<String> {
    let p = &event.payload;
    let stage = text(p, "stage");
    Some(match event.kind.as_str() {
        "order:created" => return None,
        "order:started" => {
            let groups: Vec<String> = p
                .get("groups")
                .and_then(Value::as_array)
                .map(|groups| {
                    groups
                        .iter()
                        .filter_map(Value::as_array)
                        .map(|g| {
                            g.iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(" + ")
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!("order {short} started: {}", groups.join(" → "))
        }
        "stage:started" => format!(
            "▶ {stage} (attempt {}, {})",
            p.get("attempt").and_then(Value::as_u64).unwrap_or(1),
            text(p, "provider")
        ),
        "order:output" => {
            let e = p.get("event")?;
            match e.get("type").and_then(Value::as_str)? {
                "assistant-text" => format!("  {stage} │ {}", abbreviate(&text(e, "text"))),
                "tool-call" => format!("  {stage} │ tool {}", text(e, "name")),
                "file-change" => format!("  {stage} │ {} {}", text(e, "kind"), text(e, "path")),
                "error" => format!("  {stage} │ error: {}", abbreviate(&text(e, "message"))),
                _ => return None,
            }
        }
        "stage:completed" => format!("✓ {stage} completed in {}{}", seconds(p), usage(p)),
        "stage:failed" => format!(
            "✗ {stage} failed after {}{}: {}",
            seconds(p),
            usage(p),
            abbreviate(&text(p, "error"))
        ),
        "stage:skipped" => format!("↷ {stage} skipped"),
        "stage:cancelled" => format!("■ {stage} cancelled"),
        "order:awaiting-input" => {
            let questions: Vec<String> = p
                .get("questions")
                .and_then(Value::as_array)
                .map(|q| {
                    q.iter()
                        .filter_map(Value::as_str)
                        .map(|q| format!("  - {q}"))
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "? order {short} awaits your input:\n{}\n  answer with `codecafe order input {short} \"...\"`",
                questions.join("\n")
            )
        }
        "order:completed" => format!("order {short} completed{}", usage(p)),
        "order:failed" => format!(
            "order {short} failed at stage {stage}: {}",
            abbreviate(&text(p, "error"))
        ),
        "order:cancelled" => format!("order {short} cancelled"),
        "order:followup-started" => format!(
            "▶ follow-up on order {short} ({}, {} session)",
            text(p, "provider"),
            text(p, "session")
        ),
        "order:followup-completed" => format!(
            "✓ follow-up completed in {}{}; `codecafe order followup {short} --finish` when done",
            seconds(p),
            usage(p)
        ),
        "order:followup-failed" => format!(
            "✗ follow-up failed after {}: {}",
            seconds(p),
            abbreviate(&text(p, "error"))
        ),
        "order:followup-cancelled" => "■ follow-up cancelled".to_owned(),
        "order:warning" => format!("warning: {}", text(p, "message")),
        other => other.to_owned(),
    })
}

/// `codecafe order logs`.
pub fn logs(store: &Store, args: &LogsArgs) -> Result<ExitCode> {
    let order = store.find_order(&args.id)?;
    let short = order.short_id();
    let mut after = 0;
    loop {
        let events = store.events_since(order.id, after, 1000)?;
        for event in &events {
            print_event(event, args.json, &short);
            after = event.seq;
        }
        if events.len() == 1000 {
            continue;
        }
        if !args.follow || !store.order(order.id)?.status.is_active() {
            // One last look: events stored between the read and the status check.
            for event in store.events_since(order.id, after, usize::MAX)? {
                print_event(&event, args.json, &short);
            }
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(FOLLOW_POLL);
    }
}
