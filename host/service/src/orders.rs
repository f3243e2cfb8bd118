//! Orders: create one on its own branch and worktree (or in place), list and read them and
//! their events, diff and merge their work, and delete them without ever losing work.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use codecafe_catalog::cafe::Cafe;
use codecafe_store::event::{EventBody, OrderCreated, OrderMerged};
use codecafe_store::{
    Event, NewOrder, Order, OrderCursor, OrderFilter, OrderStatus, Question, StageRun,
};
use codecafe_worktree::{
    BranchFate, CreateSpec, DiffFormat, DiffTarget, MergeKind, MergeSpec, RemoveSpec,
};
use serde::Serialize;
use uuid::Uuid;

use crate::error::{Result, ServiceError};
use crate::service::{Scope, Service};
use codecafe_runner::{CancelToken, RecipeSnapshot};

/// How often [`follow`] looks for new events.
const FOLLOW_POLL: Duration = Duration::from_millis(200);
/// Events read per query.
const EVENT_PAGE: usize = 1000;

/// What a new order is made of.
#[derive(Debug, Clone)]
pub struct NewOrderRequest {
    /// Which cafe.
    pub scope: Scope,
    /// The recipe (default: the cafe's default recipe).
    pub recipe: Option<String>,
    /// What the order should do.
    pub prompt: String,
    /// Template variables, `KEY=VALUE` as given.
    pub vars: Vec<String>,
    /// The branch to start from (default: the cafe's base branch).
    pub base: Option<String>,
    /// The branch prefix (default: the cafe's).
    pub prefix: Option<String>,
    /// Run in the repository's own checkout: no branch, no worktree.
    pub no_worktree: bool,
    /// Stop spending when the order's recorded cost reaches this many US dollars.
    pub max_cost: Option<f64>,
}

/// An order just created, with where it runs.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    /// The stored order.
    pub order: Order,
    /// The cafe it belongs to.
    #[serde(skip)]
    pub cafe: Cafe,
    /// Its worktree (or the repository itself when it runs in place).
    pub path: PathBuf,
    /// The branch it started from.
    pub base_branch: String,
    /// Things the user should know (running in place, a taken branch name replaced, …).
    pub warnings: Vec<String>,
}

/// `KEY=VALUE` pairs, as `--var` takes them.
pub fn parse_vars(vars: &[String]) -> Result<Vec<(String, String)>> {
    vars.iter()
        .map(|var| match var.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                Ok((key.trim().to_owned(), value.to_owned()))
            }
            _ => Err(ServiceError::bad_input(
                format!("--var {var}"),
                "write it as KEY=VALUE",
            )),
        })
        .collect()
}

/// The recipe `request` names, or its cafe's default.
pub(crate) fn recipe_id(request: &NewOrderRequest, cafe: &Cafe) -> String {
    request
        .recipe
        .clone()
        .unwrap_or_else(|| cafe.settings.default_recipe.clone())
}

/// Creates an order: its recipe checked and pinned (every later step of the order runs it as
/// it is now), its branch and worktree, the stored order, `order:created`. Nothing is created
/// when the recipe does not validate; a failure after the branch was made takes the branch and
/// worktree away again.
pub fn create(service: &Service, request: &NewOrderRequest) -> Result<Created> {
    let cafe = service.registered_cafe(&request.scope)?;
    let recipe = recipe_id(request, &cafe);
    let vars = parse_vars(&request.vars)?
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    let snapshot = crate::execute::with_runner(service, &cafe, &CancelToken::new(), |runner| {
        Ok(runner.snapshot_of(&runner.prepare(&recipe, &request.prompt, vars)?))
    })?;
    create_pinned(service, request, &cafe, &snapshot)
}

/// Creates an order for `request` on `cafe` running `snapshot` (checked already), pinned.
pub(crate) fn create_pinned(
    service: &Service,
    request: &NewOrderRequest,
    cafe: &Cafe,
    snapshot: &RecipeSnapshot,
) -> Result<Created> {
    let cafe = cafe.clone();
    let recipe = snapshot.recipe.id.clone();
    let mut order = NewOrder::new(&cafe.id, &recipe).prompt(request.prompt.clone());
    for (key, value) in parse_vars(&request.vars)? {
        order = order.var(key, value);
    }
    order.max_cost_usd = request.max_cost;
    let store = service.store()?;
    let short_id: String = order.id.to_string().chars().take(8).collect();
    let workspace = codecafe_worktree::create(
        &cafe.path,
        &CreateSpec {
            short_id,
            branch_prefix: request
                .prefix
                .clone()
                .unwrap_or_else(|| cafe.settings.branch_prefix.clone()),
            base_branch: request
                .base
                .clone()
                .unwrap_or_else(|| cafe.settings.base_branch.clone()),
            worktree_root: cafe.settings.worktree_root.clone(),
            no_worktree: request.no_worktree,
        },
    )?;
    order.branch = workspace.branch.clone();
    order.base_branch = Some(workspace.base_branch.clone());
    order.worktree_path = (!workspace.in_place).then(|| workspace.path.clone());
    let undo = || {
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
    };
    let created = match store.create_order(&order) {
        Ok(created) => created,
        Err(err) => {
            undo();
            return Err(err.into());
        }
    };
    if let Err(err) = store.set_snapshot(created.id, &snapshot.to_value()) {
        let _ = store.delete_order(created.id);
        undo();
        return Err(err.into());
    }
    store.append_event(
        created.id,
        &EventBody::OrderCreated(OrderCreated {
            cafe_id: created.cafe_id.clone(),
            recipe_id: created.recipe_id.clone(),
            branch: created.branch.clone(),
            worktree: created.worktree_path.clone(),
        }),
    )?;
    Ok(Created {
        order: created,
        cafe,
        path: workspace.path,
        base_branch: workspace.base_branch,
        warnings: workspace.warnings,
    })
}

/// Which orders [`list`] returns.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// Only this cafe's (by scope); `None`: every cafe's.
    pub scope: Option<Scope>,
    /// Only orders in one of these statuses (empty: any).
    pub statuses: Vec<OrderStatus>,
    /// At most this many, newest first.
    pub limit: Option<usize>,
    /// Skip this many of the newest (paging).
    pub offset: usize,
}

/// One page of orders, newest first, with how many match in all.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPage {
    /// The orders.
    pub orders: Vec<Order>,
    /// How many orders match the request in all.
    pub total: usize,
}

/// Orders, newest first.
pub fn list(service: &Service, request: &ListRequest) -> Result<OrderPage> {
    list_after(service, request, None)
}

/// [`list`], starting after `cursor` (the last order of the previous page) when given: keyset
/// paging for a server, whose pages stay right while new orders are created. `total` counts
/// every order matching the request, wherever the page starts.
pub fn list_after(
    service: &Service,
    request: &ListRequest,
    cursor: Option<OrderCursor>,
) -> Result<OrderPage> {
    let mut filter = OrderFilter::all().offset(request.offset);
    filter.before = cursor;
    if let Some(limit) = request.limit {
        filter = filter.limit(limit);
    }
    if let Some(scope) = &request.scope
        && let Some(cafe) = service.cafe(scope)?
    {
        filter = filter.cafe(cafe.id);
    }
    for status in &request.statuses {
        filter = filter.status(*status);
    }
    let store = service.store()?;
    let orders = store.list_orders(&filter)?;
    let total = store.count_orders(&OrderFilter {
        limit: None,
        offset: 0,
        before: None,
        ..filter
    })?;
    Ok(OrderPage { orders, total })
}

/// An order with its stage runs, the recipe it runs and the questions it asked.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderDetails {
    /// The order.
    pub order: Order,
    /// Its stage runs, in the order they started (follow-ups under stage `followup`).
    pub stages: Vec<StageRun>,
    /// The recipe it runs, pinned when it was created (none for orders created before codecafe
    /// pinned recipes, until their next step pins one).
    pub recipe: Option<PinnedRecipe>,
    /// The questions it asked, with the answers given, in the order asked.
    pub questions: Vec<Question>,
    /// The tool calls that asked for the user's approval, with the decisions, in the order
    /// asked (the pending ones have no decision).
    pub approvals: Vec<codecafe_store::Approval>,
}

/// Which recipe an order runs.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PinnedRecipe {
    /// The recipe id.
    pub id: String,
    /// `built-in` or `cafe`.
    pub origin: codecafe_catalog::recipe::Origin,
    /// The file it was read from.
    pub path: PathBuf,
    /// Its stages, in plan order.
    pub stages: Vec<String>,
    /// When it was pinned (the order's creation, or its latest `retry --refresh`).
    pub pinned_at: jiff::Timestamp,
    /// The plugins it uses, with their content hashes then.
    pub plugins: Vec<codecafe_runner::snapshot::PinnedPlugin>,
}

/// Order `id` (or a unique prefix) with its stage runs, pinned recipe and questions.
pub fn get(service: &Service, id: &str) -> Result<OrderDetails> {
    let store = service.store()?;
    let order = store.find_order(id)?;
    let stages = store.stage_runs(order.id)?;
    let recipe = match store.snapshot(order.id)? {
        Some((value, pinned_at)) => {
            let snapshot = RecipeSnapshot::from_value(value)?;
            Some(PinnedRecipe {
                id: snapshot.recipe.id,
                origin: snapshot.recipe.origin,
                path: snapshot.recipe.path,
                stages: snapshot.recipe.stages.into_iter().map(|s| s.id).collect(),
                pinned_at,
                plugins: snapshot.plugins,
            })
        }
        None => None,
    };
    let questions = store.questions(order.id)?;
    let approvals = store.approvals(order.id)?;
    Ok(OrderDetails {
        order,
        stages,
        recipe,
        questions,
        approvals,
    })
}

/// Order `id` (or a unique prefix).
pub fn find(service: &Service, id: &str) -> Result<Order> {
    Ok(service.store()?.find_order(id)?)
}

/// The order's events after sequence number `after` (0: from the start), at most `limit`.
pub fn events(service: &Service, id: Uuid, after: i64, limit: usize) -> Result<Vec<Event>> {
    Ok(service.store()?.events_since(id, after, limit)?)
}

/// Every event of the order (oldest first) to `emit`; with `follow`, then every new one until
/// the order settles — completed, failed, cancelled, or back in `followup` (a created order or
/// one awaiting input is waited on) — or `token` is cancelled, or `timeout` passes.
pub fn follow(
    service: &Service,
    id: Uuid,
    follow: bool,
    timeout: Duration,
    token: &CancelToken,
    emit: &mut dyn FnMut(&Event),
) -> Result<()> {
    let store = service.store()?;
    let deadline = Instant::now() + timeout;
    let mut after = 0;
    loop {
        let events = store.events_since(id, after, EVENT_PAGE)?;
        for event in &events {
            emit(event);
            after = event.seq;
        }
        if events.len() == EVENT_PAGE {
            continue;
        }
        let status = store.order(id)?.status;
        let settled = status.is_terminal() || status == OrderStatus::Followup;
        if !follow || settled || token.is_done() || Instant::now() >= deadline {
            // One last look: events stored between the read and the status check.
            for event in store.events_since(id, after, usize::MAX)? {
                emit(&event);
            }
            return Ok(());
        }
        std::thread::sleep(FOLLOW_POLL);
    }
}

/// An order's changes against its base.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderDiff {
    /// The base branch.
    pub base: String,
    /// The order's branch, if it has one.
    pub branch: Option<String>,
    /// The changed files, committed then uncommitted.
    pub files: Vec<ChangedFile>,
    /// The committed section, then the uncommitted one, each under a `#` header line: a patch,
    /// or a stat summary.
    pub text: String,
}

/// One changed file of an [`OrderDiff`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangedFile {
    /// Its path (relative, `/`-separated).
    pub path: String,
    /// `added`, `deleted`, `modified`, `renamed`, `copied`, `type-changed` or `untracked`.
    pub kind: &'static str,
    /// Lines added.
    pub insertions: usize,
    /// Lines removed.
    pub deletions: usize,
    /// Not committed yet.
    pub uncommitted: bool,
}

/// The order's changes against its base branch: committed ones, then uncommitted ones.
pub fn diff(service: &Service, id: &str, stat: bool) -> Result<OrderDiff> {
    let order = find(service, id)?;
    let cafe = service.order_cafe(&order)?;
    let base = order
        .base_branch
        .clone()
        .unwrap_or_else(|| cafe.settings.base_branch.clone());
    let target = match (&order.worktree_path, &order.branch) {
        (Some(path), _) if path.exists() => DiffTarget::Worktree(path.clone()),
        (_, Some(branch)) => DiffTarget::Branch(branch.clone()),
        (None, None) => DiffTarget::Worktree(cafe.path.clone()),
        (Some(path), None) => return Err(ServiceError::WorktreeGone { path: path.clone() }),
    };
    let format = if stat {
        DiffFormat::Stat
    } else {
        DiffFormat::Patch
    };
    let report = codecafe_worktree::diff(&cafe.path, &target, &base, format)?;
    let mut files = Vec::new();
    let sections = std::iter::once((&report.committed, false))
        .chain(report.uncommitted.as_ref().map(|s| (s, true)));
    for (section, uncommitted) in sections {
        files.extend(section.files.iter().map(|file| ChangedFile {
            path: file.path.clone(),
            kind: change_kind(file.kind),
            insertions: file.insertions,
            deletions: file.deletions,
            uncommitted,
        }));
    }
    Ok(OrderDiff {
        base,
        branch: report.branch.clone(),
        files,
        text: report.to_string(),
    })
}

fn change_kind(kind: codecafe_worktree::ChangeKind) -> &'static str {
    use codecafe_worktree::ChangeKind as K;
    match kind {
        K::Added => "added",
        K::Deleted => "deleted",
        K::Modified => "modified",
        K::Renamed => "renamed",
        K::Copied => "copied",
        K::TypeChanged => "type-changed",
        K::Untracked => "untracked",
    }
}

/// What merging an order did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeReport {
    /// The order's branch.
    pub branch: String,
    /// The branch merged into.
    pub into: String,
    /// `up-to-date`, `fast-forward`, `merge-commit` or `squash`.
    pub kind: &'static str,
    /// `into`'s commit before.
    pub old_tip: String,
    /// `into`'s commit after.
    pub new_tip: String,
    /// What removing the worktree and branch did (`--delete`).
    pub removal: Option<RemovalReport>,
    /// Things the user should know.
    pub warnings: Vec<String>,
}

/// What removing an order's worktree did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovalReport {
    /// The worktree directory deleted, if one was.
    pub removed_worktree: Option<PathBuf>,
    /// The branch kept, if it was.
    pub kept_branch: Option<String>,
    /// The branch deleted, with its last commit (`git branch <name> <tip>` restores it).
    pub deleted_branch: Option<(String, String)>,
    /// Things the user should know.
    pub warnings: Vec<String>,
}

impl From<codecafe_worktree::Removal> for RemovalReport {
    fn from(removal: codecafe_worktree::Removal) -> Self {
        let (kept_branch, deleted_branch) = match removal.branch {
            BranchFate::None => (None, None),
            BranchFate::Kept(name) => (Some(name), None),
            BranchFate::Deleted { name, tip } => (None, Some((name, tip))),
        };
        Self {
            removed_worktree: removal.removed_path,
            kept_branch,
            deleted_branch,
            warnings: removal.warnings,
        }
    }
}

/// Merges the order's branch into its base (or `into`); with `delete`, then removes its
/// worktree and branch (never forced: uncommitted work survives).
pub fn merge(
    service: &Service,
    id: &str,
    into: Option<String>,
    squash: bool,
    delete: bool,
) -> Result<MergeReport> {
    let order = find(service, id)?;
    let cafe = service.order_cafe(&order)?;
    let Some(branch) = order
        .branch
        .clone()
        .filter(|_| order.worktree_path.is_some())
    else {
        return Err(ServiceError::NothingToMerge {
            order: order.short_id(),
        });
    };
    if order.status.is_active() {
        return Err(ServiceError::WrongStatus {
            order: order.short_id(),
            status: order.status,
            hint: "wait for it to finish or cancel it before merging".to_owned(),
        });
    }
    let base = order
        .base_branch
        .clone()
        .unwrap_or_else(|| cafe.settings.base_branch.clone());
    let into = into.unwrap_or_else(|| base.clone());
    let subject = first_line(&order.prompt, 60);
    let trailer = format!("codecafe order {} ({})", order.short_id(), order.recipe_id);
    let message = if subject.is_empty() {
        format!("Merge {trailer}")
    } else {
        format!("{subject}\n\n{trailer}")
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
    let kind = match outcome.kind {
        MergeKind::UpToDate => "up-to-date",
        MergeKind::FastForward => "fast-forward",
        MergeKind::MergeCommit => "merge-commit",
        MergeKind::Squash => "squash",
    };
    service.store()?.append_event(
        order.id,
        &EventBody::OrderMerged(OrderMerged {
            branch: branch.clone(),
            into: into.clone(),
            kind: kind.to_owned(),
            commit: outcome.new_tip.clone(),
        }),
    )?;
    let removal = match (&order.worktree_path, delete) {
        (Some(worktree), true) => Some(
            // `remove` sees that a squash-merged branch's changes are already in `into`.
            codecafe_worktree::remove(
                &cafe.path,
                &RemoveSpec {
                    worktree: worktree.clone(),
                    branch: Some(branch.clone()),
                    base: into.clone(),
                    force: false,
                    delete_branch: true,
                },
            )?
            .into(),
        ),
        _ => None,
    };
    Ok(MergeReport {
        branch,
        into,
        kind,
        old_tip: outcome.old_tip,
        new_tip: outcome.new_tip,
        removal,
        warnings: outcome.warnings,
    })
}

/// What deleting an order did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deletion {
    /// The order, as it was.
    pub order: Order,
    /// What removing its worktree did, if it had one.
    pub removal: Option<RemovalReport>,
}

/// Deletes an order: cancels it if it runs or waits (its agents' process groups are gone
/// first), then removes its worktree (refusing to lose uncommitted or unmerged work unless
/// `force`; the branch is kept unless `delete_branch`), then its state. Each step only if the
/// one before succeeded, so a refusal leaves the order as it was.
pub fn delete(service: &Service, id: &str, force: bool, delete_branch: bool) -> Result<Deletion> {
    let store = service.store()?;
    let mut order = store.find_order(id)?;
    if order.status.is_active() || order.status.awaits_input() {
        crate::control::cancel(service, &order.id.to_string())?;
        order = store.order(order.id)?;
    }
    let removal = match order.worktree_path.clone() {
        Some(worktree) => {
            // An order whose cafe is gone is still deleted, from its worktree's repository.
            let (repo, base) = match service.order_cafe(&order) {
                Ok(cafe) => (cafe.path, cafe.settings.base_branch),
                Err(err) => match crate::service::order_repository(&order) {
                    Some(repo) => (repo, "main".to_owned()),
                    None if !worktree.exists() => (PathBuf::new(), String::new()),
                    None => return Err(err),
                },
            };
            let base = order.base_branch.clone().unwrap_or(base);
            if repo.as_os_str().is_empty() {
                // The worktree is gone already: only the order's state is left.
                None
            } else {
                Some(
                    codecafe_worktree::remove(
                        &repo,
                        &RemoveSpec {
                            worktree,
                            branch: order.branch.clone(),
                            base,
                            force,
                            delete_branch,
                        },
                    )?
                    .into(),
                )
            }
        }
        None => None,
    };
    let order = store.delete_order(order.id)?;
    Ok(Deletion { order, removal })
}

/// The first line of `text`, cut to `max` characters.
pub fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max - 1).collect::<String>())
    } else {
        line.to_owned()
    }
}
