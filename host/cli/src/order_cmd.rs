//! `codecafe order …`: create orders on their own branch and worktree, look at them, diff and
//! merge their work, delete them without ever losing work; and the subcommands that run or
//! control them (in `run_cmd` and `control_cmd`).

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use codecafe_service::orders::{self, ListRequest, NewOrderRequest, RemovalReport};
use codecafe_service::{CancelToken, OrderStatus, Scope, Service};

use crate::approve_cmd;
use crate::attach_cmd;
use crate::control_cmd;
use crate::output::{print_json, print_table};
use crate::run_cmd;

/// Order subcommands.
#[derive(Debug, Subcommand)]
pub enum OrderCommand {
    /// Create an order: a new branch `<prefix>/<short-id>` from the base branch and a worktree.
    New(NewArgs),
    /// List orders (of the current cafe, or of all with `--all`).
    List(ListArgs),
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
    Run(run_cmd::OrderRunArgs),
    /// The order's stored events, oldest first; `--follow` waits for more until it settles.
    Logs(run_cmd::LogsArgs),
    /// Answer an order awaiting input and continue it in the foreground (an interactive
    /// stage's answer is typed into its live terminal).
    Input(control_cmd::InputArgs),
    /// Your terminal on an interactive stage's live agent: watch, type (while you hold the
    /// keyboard); Ctrl-] detaches and the agent keeps running.
    Attach(attach_cmd::AttachArgs),
    /// Allow the tool call an order waits on and continue it in the foreground.
    Approve(approve_cmd::ApproveArgs),
    /// Refuse the tool call an order waits on (the agent hears why and carries on) and
    /// continue it in the foreground.
    Deny(approve_cmd::DenyArgs),
    /// Cancel an order: ask the process running it, or record it cancelled.
    Cancel(control_cmd::CancelArgs),
    /// Run a failed or cancelled order again in the foreground.
    Retry(control_cmd::RetryArgs),
    /// Continue a running order whose codecafe process died or was stopped.
    Resume(control_cmd::ResumeArgs),
    /// Follow up on a completed order: run one more prompt in its worktree, or `--finish`.
    Followup(run_cmd::FollowupArgs),
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
    cafe: Option<String>,
    /// The recipe to run (default: the cafe's default recipe).
    #[arg(long)]
    recipe: Option<String>,
    /// What the order should do.
    #[arg(long)]
    prompt: Option<String>,
    /// A template variable, KEY=VALUE (repeatable).
    #[arg(long = "var", value_name = "KEY=VALUE")]
    vars: Vec<String>,
    /// Start from this branch instead of the cafe's base branch.
    #[arg(long)]
    base: Option<String>,
    /// Branch prefix instead of the cafe's.
    #[arg(long)]
    prefix: Option<String>,
    /// Run in the repository's own checkout: no branch, no worktree.
    #[arg(long)]
    no_worktree: bool,
    /// Stop spending when the order's recorded cost reaches this many US dollars.
    #[arg(long)]
    max_cost: Option<f64>,
    /// Print the order as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `order list`.
#[derive(Debug, Args)]
pub struct ListArgs {
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
}

/// Runs one order subcommand.
pub fn run(command: OrderCommand, service: &Service, token: &CancelToken) -> Result<ExitCode> {
    match command {
        OrderCommand::New(args) => new(service, &args),
        OrderCommand::List(args) => list(service, &args),
        OrderCommand::Show { id, json } => show(service, &id, json),
        OrderCommand::Diff { id, stat } => {
            print!("{}", orders::diff(service, &id, stat)?.text);
            Ok(ExitCode::SUCCESS)
        }
        OrderCommand::Merge {
            id,
            into,
            squash,
            delete,
        } => merge(service, &id, into, squash, delete),
        OrderCommand::Run(args) => run_cmd::order_run(service, &args, token),
        OrderCommand::Logs(args) => run_cmd::logs(service, &args, token),
        OrderCommand::Input(args) => control_cmd::input(service, &args, token),
        OrderCommand::Attach(args) => attach_cmd::attach(service, &args),
        OrderCommand::Approve(args) => approve_cmd::approve(service, &args, token),
        OrderCommand::Deny(args) => approve_cmd::deny(service, &args, token),
        OrderCommand::Cancel(args) => control_cmd::cancel(service, &args),
        OrderCommand::Retry(args) => control_cmd::retry(service, &args, token),
        OrderCommand::Resume(args) => control_cmd::resume(service, &args, token),
        OrderCommand::Followup(args) => run_cmd::followup(service, &args, token),
        OrderCommand::Rm {
            ids,
            force,
            delete_branch,
        } => rm(service, &ids, force, delete_branch),
    }
}

fn new(service: &Service, args: &NewArgs) -> Result<ExitCode> {
    let created = orders::create(
        service,
        &NewOrderRequest {
            scope: Scope::here(args.cafe.as_deref())?,
            recipe: args.recipe.clone(),
            prompt: args.prompt.clone().unwrap_or_default(),
            vars: args.vars.clone(),
            base: args.base.clone(),
            prefix: args.prefix.clone(),
            no_worktree: args.no_worktree,
            max_cost: args.max_cost,
        },
    )?;
    for warning in &created.warnings {
        eprintln!("warning: {warning}");
    }
    if args.json {
        print_json(&created.order)?;
    } else {
        let order = &created.order;
        println!("created order {} ({})", order.short_id(), order.recipe_id);
        if let Some(branch) = &order.branch {
            println!("  branch:   {branch} (from {})", created.base_branch);
        }
        println!("  worktree: {}", created.path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn list(service: &Service, args: &ListArgs) -> Result<ExitCode> {
    let page = orders::list(
        service,
        &ListRequest {
            scope: (!args.all)
                .then(|| Scope::here(args.cafe.as_deref()))
                .transpose()?,
            statuses: args.status.clone(),
            limit: Some(args.limit),
            offset: 0,
        },
    )?;
    if args.json {
        return print_json(&page.orders).map(|()| ExitCode::SUCCESS);
    }
    if page.orders.is_empty() {
        println!("no orders; create one with `codecafe order new --recipe <id>`");
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows =
        vec![["ID", "STATUS", "RECIPE", "BRANCH", "CREATED", "PROMPT"].map(str::to_owned)];
    for order in &page.orders {
        rows.push([
            order.short_id(),
            order.status.to_string(),
            order.recipe_id.clone(),
            order
                .branch
                .clone()
                .unwrap_or_else(|| "(in place)".to_owned()),
            order.created_at.strftime("%Y-%m-%d %H:%M").to_string(),
            orders::first_line(&order.prompt, 48),
        ]);
    }
    print_table(&rows);
    Ok(ExitCode::SUCCESS)
}

fn show(service: &Service, id: &str, json: bool) -> Result<ExitCode> {
    let details = orders::get(service, id)?;
    if json {
        return print_json(&details).map(|()| ExitCode::SUCCESS);
    }
    let order = &details.order;
    let none = |value: Option<&str>, default: &str| value.unwrap_or(default).to_owned();
    println!("order:     {}", order.id);
    println!("status:    {}", order.status);
    println!("recipe:    {}", order.recipe_id);
    println!("cafe:      {}", order.cafe_id);
    println!("branch:    {}", none(order.branch.as_deref(), "(none)"));
    println!(
        "base:      {}",
        none(order.base_branch.as_deref(), "(none)")
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
    match &details.recipe {
        Some(pinned) => println!(
            "pinned:    recipe {} ({}, {}) as of {}: {}",
            pinned.id,
            serde_json::to_value(pinned.origin)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            pinned.path.display(),
            pinned.pinned_at,
            pinned.stages.join(" → ")
        ),
        None => println!("pinned:    (not yet; the next step pins the current recipe)"),
    }
    for approval in &details.approvals {
        let decision = match (&approval.decision, &approval.reason) {
            (None, _) => format!(
                "pending: `codecafe order approve {0} {1}` / `codecafe order deny {0} {1}`",
                order.short_id(),
                approval.id
            ),
            (Some(decision), Some(reason)) => format!("{}: {reason}", decision.name()),
            (Some(decision), None) => decision.name().to_owned(),
        };
        println!(
            "approval:  {} [{}] {} — {decision}",
            approval.id, approval.stage, approval.summary
        );
    }
    for question in &details.questions {
        if question.kind == codecafe_service::QuestionKind::Approval {
            // Shown with its approval above.
            continue;
        }
        let asked = question.stage.as_deref().unwrap_or("budget");
        println!("asked:     [{asked}] {}", question.questions.join(" / "));
        match &question.answer {
            Some(answer) => println!("answered:  {answer}"),
            None => println!(
                "answered:  (open: `codecafe order input {}`)",
                order.short_id()
            ),
        }
    }
    if details.stages.is_empty() {
        println!("stages:    (none run yet)");
    } else {
        println!("stages:");
        for stage in &details.stages {
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

fn short(commit: &str) -> &str {
    commit.get(..8).unwrap_or(commit)
}

fn merge(
    service: &Service,
    id: &str,
    into: Option<String>,
    squash: bool,
    delete: bool,
) -> Result<ExitCode> {
    let report = orders::merge(service, id, into, squash, delete)?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    let what = match report.kind {
        "up-to-date" => "already up to date",
        "fast-forward" => "fast-forwarded",
        "merge-commit" => "merged with a merge commit",
        _ => "squashed into one commit",
    };
    println!(
        "{} → {}: {what} ({} → {})",
        report.branch,
        report.into,
        short(&report.old_tip),
        short(&report.new_tip)
    );
    if let Some(removal) = &report.removal {
        print_removal(removal);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_removal(removal: &RemovalReport) {
    for warning in &removal.warnings {
        eprintln!("warning: {warning}");
    }
    if let Some(path) = &removal.removed_worktree {
        println!("  removed worktree {}", path.display());
    }
    if let Some(name) = &removal.kept_branch {
        println!("  kept branch {name}");
    }
    if let Some((name, tip)) = &removal.deleted_branch {
        println!(
            "  deleted branch {name} (it was at {}; `git branch {name} {tip}` restores it)",
            short(tip)
        );
    }
}

fn rm(service: &Service, ids: &[String], force: bool, delete_branch: bool) -> Result<ExitCode> {
    let mut failures = 0;
    for id in ids {
        match orders::delete(service, id, force, delete_branch) {
            Ok(deletion) => {
                if let Some(removal) = &deletion.removal {
                    print_removal(removal);
                }
                println!("deleted order {}", deletion.order.short_id());
            }
            Err(err) => {
                failures += 1;
                eprintln!("error: order {id}: {:#}", anyhow::Error::from(err));
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
