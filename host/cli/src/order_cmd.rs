//! `codecafe order …`: create orders on their own branch and worktree, look at them, diff and
//! merge their work, and delete them without ever losing work.

use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use codecafe_catalog::cafe::Cafe;
use codecafe_catalog::recipe::RecipeCatalog;
use codecafe_store::{NewOrder, Order, OrderFilter, OrderStatus, Store};
use codecafe_worktree::{
    BranchFate, CreateSpec, DiffFormat, DiffTarget, MergeKind, MergeSpec, RemoveSpec,
};
use serde_json::json;

use crate::context::Context;
use crate::output::{print_json, print_table};

/// Order subcommands.
#[derive(Debug, Subcommand)]
pub enum OrderCommand {
    /// Create an order: a new branch `<prefix>/<short-id>` from the base branch and a worktree.
    New(NewArgs),
    /// List orders (of the current cafe, or of all with `--all`).
    List {
        /// Only this cafe's orders (id, name or path).
        #[arg(long)]
        cafe: Option<String>,
        /// Orders of every cafe.
        #[arg(long, conflicts_with = "cafe")]
        all: bool,
        /// Only orders in this status (repeatable).
        #[arg(long)]
        status: Vec<OrderStatus>,
        /// At most this many, newest first.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show an order: status, stages, worktree, branch, timestamps.
    Show {
        /// Order id or unique prefix.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The order's changes against its base branch (committed, then uncommitted).
    Diff {
        /// Order id or unique prefix.
        id: String,
        /// A summary per file instead of the patch.
        #[arg(long)]
        stat: bool,
    },
    /// Merge the order's branch into its base (or `--into`). Refuses on conflict, changing nothing.
    Merge {
        /// Order id or unique prefix.
        id: String,
        /// The branch to merge into (default: the order's base branch).
        #[arg(long)]
        into: Option<String>,
        /// One commit with all the order's changes instead of a merge.
        #[arg(long)]
        squash: bool,
        /// After merging, remove the order's worktree and branch (the order stays listed).
        #[arg(long)]
        delete: bool,
    },
    /// Run a created order in the foreground (see `codecafe run` for the exit codes).
    Run(crate::run_cmd::OrderRunArgs),
    /// The order's stored events, oldest first; `--follow` waits for more until it ends.
    Logs(crate::run_cmd::LogsArgs),
    /// Answer an order awaiting input and continue it in the foreground.
    Input(crate::control_cmd::InputArgs),
    /// Cancel an order: ask the process running it, or record it cancelled.
    Cancel(crate::control_cmd::CancelArgs),
    /// Run a failed or cancelled order again in the foreground.
    Retry(crate::control_cmd::RetryArgs),
    /// Continue a running order whose codecafe process died.
    Resume(crate::control_cmd::ResumeArgs),
    /// Follow up on a completed order: run one more prompt in its worktree, or `--finish`.
    Followup(crate::run_cmd::FollowupArgs),
    /// Delete orders: worktree, then state. Refuses to lose work unless `--force`.
    Rm {
        /// Order ids or unique prefixes.
        #[arg(required = true)]
        ids: Vec<String>,
        /// Delete even with uncommitted changes or unmerged commits (the branch is still kept).
        #[arg(long)]
        force: bool,
        /// Delete the order's branch too.
        #[arg(long)]
        delete_branch: bool,
    },
}

/// Arguments of `order new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The cafe (id, name or path); default: the one containing the current directory.
    #[arg(long)]
    pub(crate) cafe: Option<String>,
    /// The recipe to run (default: the cafe's default recipe).
    #[arg(long)]
    pub(crate) recipe: Option<String>,
    /// What the order should do.
    #[arg(long)]
    pub(crate) prompt: Option<String>,
    /// A template variable, KEY=VALUE (repeatable).
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub(crate) vars: Vec<String>,
    /// Start from this branch instead of the cafe's base branch.
    #[arg(long)]
    pub(crate) base: Option<String>,
    /// Branch prefix instead of the cafe's.
    #[arg(long)]
    pub(crate) prefix: Option<String>,
    /// Run in the repository's own checkout: no branch, no worktree.
    #[arg(long)]
    pub(crate) no_worktree: bool,
    /// Stop spending when the order's recorded cost reaches this many US dollars.
    #[arg(long)]
    pub(crate) max_cost: Option<f64>,
    /// Print the order as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// The runtime database.
pub fn open_store(ctx: &Context) -> Result<Store> {
    let path = ctx.paths.data.join("codecafe.db");
    Store::open(&path).with_context(|| format!("cannot open the order database {}", path.display()))
}

/// Runs one order subcommand.
pub fn run(command: OrderCommand, ctx: &Context) -> Result<ExitCode> {
    let store = open_store(ctx)?;
    match command {
        OrderCommand::New(args) => new(ctx, &store, &args),
        OrderCommand::List {
            cafe,
            all,
            status,
            limit,
            json,
        } => list(ctx, &store, cafe.as_deref(), all, &status, limit, json),
        OrderCommand::Show { id, json } => show(ctx, &store, &id, json),
        OrderCommand::Diff { id, stat } => diff(ctx, &store, &id, stat),
        OrderCommand::Merge {
            id,
            into,
            squash,
            delete,
        } => merge(ctx, &store, &id, into, squash, delete),
        OrderCommand::Run(args) => crate::run_cmd::order_run(ctx, &store, &args),
        OrderCommand::Logs(args) => crate::run_cmd::logs(&store, &args),
        OrderCommand::Input(args) => crate::control_cmd::input(ctx, &store, &args),
        OrderCommand::Cancel(args) => crate::control_cmd::cancel(ctx, &store, &args),
        OrderCommand::Retry(args) => crate::control_cmd::retry(ctx, &store, &args),
        OrderCommand::Resume(args) => crate::control_cmd::resume(ctx, &store, &args),
        OrderCommand::Followup(args) => crate::run_cmd::followup(ctx, &store, &args),
        OrderCommand::Rm {
            ids,
            force,
            delete_branch,
        } => rm(ctx, &store, &ids, force, delete_branch),
    }
}

pub(crate) fn registered_cafe(ctx: &Context, cafe: Option<&str>) -> Result<Cafe> {
    ctx.cafe(cafe)?.context(
        "orders belong to a registered cafe: run `codecafe init` in the repository, or pass --cafe",
    )
}

/// The cafe an order belongs to.
pub(crate) fn order_cafe(ctx: &Context, order: &Order) -> Result<Cafe> {
    ctx.cafes().find(&order.cafe_id).with_context(|| {
        format!(
            "order {} belongs to cafe {}, which is no longer registered; register its repository \
             again with `codecafe cafe add <path>`",
            order.short_id(),
            order.cafe_id
        )
    })
}

pub(crate) fn parse_vars(vars: &[String]) -> Result<Vec<(String, String)>> {
    vars.iter()
        .map(|var| match var.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                Ok((key.trim().to_owned(), value.to_owned()))
            }
            _ => bail!("--var {var}: write it as KEY=VALUE"),
        })
        .collect()
}

fn new(ctx: &Context, store: &Store, args: &NewArgs) -> Result<ExitCode> {
    let created = create(ctx, store, args)?;
    if args.json {
        print_json(&created.order)?;
    } else {
        println!(
            "created order {} ({})",
            created.order.short_id(),
            created.order.recipe_id
        );
        if let Some(branch) = &created.order.branch {
            println!("  branch:   {branch} (from {})", created.base_branch);
        }
        println!("  worktree: {}", created.path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// An order just created, with where it runs.
pub(crate) struct Created {
    /// The stored order.
    pub(crate) order: Order,
    /// The cafe it belongs to.
    pub(crate) cafe: Cafe,
    /// Its worktree (or the repository itself when it runs in place).
    pub(crate) path: std::path::PathBuf,
    /// The branch it started from.
    pub(crate) base_branch: String,
}

/// Creates an order as `order new` does: branch, worktree, stored order, `order:created`.
pub(crate) fn create(ctx: &Context, store: &Store, args: &NewArgs) -> Result<Created> {
    let cafe = registered_cafe(ctx, args.cafe.as_deref())?;
    let recipe_id = args
        .recipe
        .clone()
        .unwrap_or_else(|| cafe.settings.default_recipe.clone());
    RecipeCatalog::load(&cafe.orch())?.find(&recipe_id)?;
    let mut order =
        NewOrder::new(&cafe.id, &recipe_id).prompt(args.prompt.clone().unwrap_or_default());
    for (key, value) in parse_vars(&args.vars)? {
        order = order.var(key, value);
    }
    order.max_cost_usd = args.max_cost;
    let short_id: String = order.id.to_string().chars().take(8).collect();
    let workspace = codecafe_worktree::create(
        &cafe.path,
        &CreateSpec {
            short_id,
            branch_prefix: args
                .prefix
                .clone()
                .unwrap_or_else(|| cafe.settings.branch_prefix.clone()),
            base_branch: args
                .base
                .clone()
                .unwrap_or_else(|| cafe.settings.base_branch.clone()),
            worktree_root: cafe.settings.worktree_root.clone(),
            no_worktree: args.no_worktree,
        },
    )?;
    for warning in &workspace.warnings {
        eprintln!("warning: {warning}");
    }
    order.branch = workspace.branch.clone();
    order.base_branch = Some(workspace.base_branch.clone());
    order.worktree_path = (!workspace.in_place).then(|| workspace.path.clone());
    let created = match store.create_order(&order) {
        Ok(created) => created,
        Err(err) => {
            // The new branch holds no work yet: take it and the worktree away again.
            if !workspace.in_place {
                let _ = codecafe_worktree::remove(
                    &cafe.path,
                    &RemoveSpec {
                        worktree: workspace.path.clone(),
                        branch: workspace.branch.clone(),
                        base: workspace.base_branch.clone(),
                        force: true,
                        delete_branch: true,
                    },
                );
            }
            return Err(err.into());
        }
    };
    store.append_event(
        created.id,
        "order:created",
        &json!({
            "cafeId": created.cafe_id,
            "recipeId": created.recipe_id,
            "branch": created.branch,
            "worktree": created.worktree_path,
        }),
    )?;
    Ok(Created {
        order: created,
        cafe,
        path: workspace.path,
        base_branch: workspace.base_branch,
    })
}

fn list(
    ctx: &Context,
    store: &Store,
    cafe: Option<&str>,
    all: bool,
    statuses: &[OrderStatus],
    limit: usize,
    as_json: bool,
) -> Result<ExitCode> {
    let mut filter = OrderFilter::all().limit(limit);
    if !all && let Some(cafe) = ctx.cafe(cafe)? {
        filter = filter.cafe(cafe.id);
    }
    for status in statuses {
        filter = filter.status(*status);
    }
    let orders = store.list_orders(&filter)?;
    if as_json {
        return print_json(&orders).map(|()| ExitCode::SUCCESS);
    }
    if orders.is_empty() {
        println!("no orders; create one with `codecafe order new --recipe <id>`");
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![[
        "ID".to_owned(),
        "STATUS".to_owned(),
        "RECIPE".to_owned(),
        "BRANCH".to_owned(),
        "CREATED".to_owned(),
        "PROMPT".to_owned(),
    ]];
    for order in &orders {
        rows.push([
            order.short_id(),
            order.status.to_string(),
            order.recipe_id.clone(),
            order
                .branch
                .clone()
                .unwrap_or_else(|| "(in place)".to_owned()),
            order.created_at.strftime("%Y-%m-%d %H:%M").to_string(),
            first_line(&order.prompt, 48),
        ]);
    }
    print_table(&rows);
    Ok(ExitCode::SUCCESS)
}

fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max - 1).collect::<String>())
    } else {
        line.to_owned()
    }
}

fn show(_ctx: &Context, store: &Store, id: &str, as_json: bool) -> Result<ExitCode> {
    let order = store.find_order(id)?;
    let stages = store.stage_runs(order.id)?;
    if as_json {
        return print_json(&json!({ "order": order, "stages": stages }))
            .map(|()| ExitCode::SUCCESS);
    }
    println!("order:     {}", order.id);
    println!("status:    {}", order.status);
    println!("recipe:    {}", order.recipe_id);
    println!("cafe:      {}", order.cafe_id);
    println!("branch:    {}", order.branch.as_deref().unwrap_or("(none)"));
    println!(
        "base:      {}",
        order.base_branch.as_deref().unwrap_or("(none)")
    );
    println!(
        "worktree:  {}",
        order
            .worktree_path
            .as_ref()
            .map_or_else(|| "(runs in place)".to_owned(), |p| p.display().to_string())
    );
    println!("created:   {}", order.created_at);
    println!("updated:   {}", order.updated_at);
    if let Some(started) = &order.started_at {
        println!("started:   {started}");
    }
    if let Some(finished) = &order.finished_at {
        println!("finished:  {finished}");
    }
    println!("attempt:   {}", order.attempt);
    println!("cost:      ${:.4}", order.cost_usd);
    if let Some(error) = &order.error {
        println!("error:     {error}");
    }
    if !order.prompt.is_empty() {
        println!("prompt:    {}", order.prompt);
    }
    for (key, value) in &order.vars {
        println!("var:       {key}={value}");
    }
    if stages.is_empty() {
        println!("stages:    (none run yet)");
    } else {
        println!("stages:");
        for stage in &stages {
            println!(
                "  {:<12} attempt {}  {:<14} {}",
                stage.stage_id,
                stage.attempt,
                stage.status,
                stage.provider.as_deref().unwrap_or("")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn diff(ctx: &Context, store: &Store, id: &str, stat: bool) -> Result<ExitCode> {
    let order = store.find_order(id)?;
    let cafe = order_cafe(ctx, &order)?;
    let base = order
        .base_branch
        .clone()
        .unwrap_or_else(|| cafe.settings.base_branch.clone());
    let target = match (&order.worktree_path, &order.branch) {
        (Some(path), _) if path.exists() => DiffTarget::Worktree(path.clone()),
        (_, Some(branch)) => DiffTarget::Branch(branch.clone()),
        (None, None) => DiffTarget::Worktree(cafe.path.clone()),
        (Some(path), None) => bail!("the order's worktree {} is gone", path.display()),
    };
    let format = if stat {
        DiffFormat::Stat
    } else {
        DiffFormat::Patch
    };
    let report = codecafe_worktree::diff(&cafe.path, &target, &base, format)?;
    print!("{report}");
    Ok(ExitCode::SUCCESS)
}

fn merge(
    ctx: &Context,
    store: &Store,
    id: &str,
    into: Option<String>,
    squash: bool,
    delete: bool,
) -> Result<ExitCode> {
    let order = store.find_order(id)?;
    let cafe = order_cafe(ctx, &order)?;
    let Some(branch) = order
        .branch
        .clone()
        .filter(|_| order.worktree_path.is_some())
    else {
        bail!(
            "order {} ran in place, on the repository's own checkout: its changes are already \
             there, there is nothing to merge",
            order.short_id()
        );
    };
    if order.status.is_active() {
        bail!(
            "order {} is {}; wait for it to finish or cancel it before merging",
            order.short_id(),
            order.status
        );
    }
    let base = order
        .base_branch
        .clone()
        .unwrap_or_else(|| cafe.settings.base_branch.clone());
    let into = into.unwrap_or_else(|| base.clone());
    let subject = first_line(&order.prompt, 60);
    let message = if subject.is_empty() {
        format!(
            "Merge codecafe order {} ({})",
            order.short_id(),
            order.recipe_id
        )
    } else {
        format!(
            "{subject}\n\ncodecafe order {} ({})",
            order.short_id(),
            order.recipe_id
        )
    };
    let outcome = codecafe_worktree::merge(
        &cafe.path,
        &MergeSpec {
            branch: branch.clone(),
            into: into.clone(),
            squash,
            message: Some(message),
        },
    )?;
    for warning in &outcome.warnings {
        eprintln!("warning: {warning}");
    }
    let what = match outcome.kind {
        MergeKind::UpToDate => "already up to date",
        MergeKind::FastForward => "fast-forwarded",
        MergeKind::MergeCommit => "merged with a merge commit",
        MergeKind::Squash => "squashed into one commit",
    };
    println!(
        "{branch} → {into}: {what} ({} → {})",
        short(&outcome.old_tip),
        short(&outcome.new_tip)
    );
    store.append_event(
        order.id,
        "order:merged",
        &json!({ "branch": branch, "into": into, "kind": format!("{:?}", outcome.kind), "commit": outcome.new_tip }),
    )?;
    if delete && let Some(worktree) = &order.worktree_path {
        // Never forced: uncommitted work in the worktree must survive; `remove` sees that a
        // squash-merged branch's changes are already in `into`.
        let removal = codecafe_worktree::remove(
            &cafe.path,
            &RemoveSpec {
                worktree: worktree.clone(),
                branch: Some(branch),
                base: into,
                force: false,
                delete_branch: true,
            },
        )?;
        report_removal(&removal);
    }
    Ok(ExitCode::SUCCESS)
}

fn short(commit: &str) -> &str {
    commit.get(..8).unwrap_or(commit)
}

fn report_removal(removal: &codecafe_worktree::Removal) {
    for warning in &removal.warnings {
        eprintln!("warning: {warning}");
    }
    if let Some(path) = &removal.removed_path {
        println!("  removed worktree {}", path.display());
    }
    match &removal.branch {
        BranchFate::None => {}
        BranchFate::Kept(name) => println!("  kept branch {name}"),
        BranchFate::Deleted { name, tip } => println!(
            "  deleted branch {name} (it was at {}; `git branch {name} {tip}` restores it)",
            short(tip)
        ),
    }
}

fn rm(
    ctx: &Context,
    store: &Store,
    ids: &[String],
    force: bool,
    delete_branch: bool,
) -> Result<ExitCode> {
    let mut failures = 0;
    for id in ids {
        match remove_order(ctx, store, id, force, delete_branch) {
            Ok(order) => println!("deleted order {}", order.short_id()),
            Err(err) => {
                failures += 1;
                eprintln!("error: order {id}: {err:#}");
            }
        }
    }
    if ids.len() > 1 {
        println!("{} deleted, {failures} failed", ids.len() - failures);
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Cancel if it runs, then the worktree, then the state: each step only if the one before
/// succeeded, so a refusal leaves the order as it was.
fn remove_order(
    ctx: &Context,
    store: &Store,
    id: &str,
    force: bool,
    delete_branch: bool,
) -> Result<Order> {
    let mut order = store.find_order(id)?;
    if order.status.is_active() || order.status == OrderStatus::AwaitingInput {
        // The same path as `order cancel`: the agents' process groups are gone before the
        // worktree is touched.
        crate::control_cmd::cancel_order(ctx, store, &order.id.to_string())?;
        order = store.order(order.id)?;
    }
    if let Some(worktree) = order.worktree_path.clone() {
        let cafe = order_cafe(ctx, &order)?;
        let base = order
            .base_branch
            .clone()
            .unwrap_or_else(|| cafe.settings.base_branch.clone());
        let removal = codecafe_worktree::remove(
            &cafe.path,
            &RemoveSpec {
                worktree,
                branch: order.branch.clone(),
                base,
                force,
                delete_branch,
            },
        )?;
        report_removal(&removal);
    }
    Ok(store.delete_order(order.id)?)
}
