//! Running orders in the calling thread: a new order (`run`), a created one (`execute`), a
//! continued one (`input`, `retry`, `resume`), a follow-up — and dry runs, which start nothing.
//!
//! Each call sets up a runner for the order's cafe (its plugins, recipes, roles, skills, the
//! user's profiles, the cafe's `maxParallelOrders`), runs until the order completes, fails,
//! waits for input, is cancelled or stopped, and passes every event to `emit` after it was
//! stored. `token` cancels or stops the run; it is a child of the service's shutdown token.
//! An order first waits for its place in its cafe, before anything is loaded for it.

use codecafe_catalog::cafe::Cafe;
use codecafe_catalog::profile::Profiles;
use codecafe_catalog::recipe::RecipeCatalog;
use codecafe_catalog::role::RoleCatalog;
use codecafe_catalog::skill::SkillCatalog;
use codecafe_engine::driver::RetryFrom;
use codecafe_plugin_host::registry::Registry;
use codecafe_runner::pricing::Pricing;
use codecafe_runner::queue::{self, Place, QueueWait, StoreAccess as _};
use codecafe_runner::{
    CafePermissions, CancelToken, Catalogs, Continuation, DryRun, Prepared, RunOutcome, Runner,
    RunnerConfig,
};
use codecafe_store::{Decision, Event, Order, OrderStatus, Store};
use serde_json::Value;

use crate::control::holder_alive;
use crate::doctor::{self, Continues};
use crate::error::{Result, ServiceError};
use crate::orders::{self, Created, NewOrderRequest};
use crate::service::Service;

/// What a runner needs, loaded for one cafe.
struct Setup {
    registry: Registry,
    catalogs: Catalogs,
    store: Store,
}

impl Setup {
    fn load(service: &Service, cafe: &Cafe) -> Result<Self> {
        let orch = cafe.orch();
        Ok(Self {
            registry: service.plugins(Some(&cafe.path))?,
            catalogs: Catalogs {
                recipes: RecipeCatalog::load(&orch)?,
                roles: RoleCatalog::load(&orch)?,
                skills: SkillCatalog::load(&orch)?,
                profiles: Profiles::load(&Profiles::path(&service.paths().data))?,
            },
            store: service.store()?,
        })
    }
}

/// Runs `body` with a runner for `cafe`, cancelled or stopped by `token` (and by the service's
/// shutdown).
pub(crate) fn with_runner<T>(
    service: &Service,
    cafe: &Cafe,
    token: &CancelToken,
    body: impl FnOnce(&Runner<'_>) -> Result<T>,
) -> Result<T> {
    let setup = Setup::load(service, cafe)?;
    let slots = service.slots()?;
    let runner = Runner::new(
        &setup.store,
        &setup.registry,
        slots,
        &setup.catalogs,
        cafe.path.clone(),
        cafe.settings.house_rules.clone(),
        runner_config(service, cafe)?,
    )
    .with_control(linked(service, token))
    .with_cafe_permissions(CafePermissions::of(&cafe.settings));
    body(&runner)
}

fn runner_config(service: &Service, cafe: &Cafe) -> Result<RunnerConfig> {
    Ok(RunnerConfig {
        group_dir: Some(service.paths().agent_groups()),
        live_dir: Some(service.paths().live_terminals()),
        max_parallel_orders: Some(cafe.settings.max_parallel_orders),
        pricing: std::sync::Arc::new(Pricing::load(&service.paths().data)?),
        ..RunnerConfig::default()
    })
}

/// [`with_runner`] for running `order`, once it has its place in `cafe`: it waits in the
/// cafe's queue (`order:queued`, passed to `emit`) on the service's shared connection before
/// anything is loaded for it — plugins, catalogs, a connection of its own — so orders queued
/// by the thousand cost a thread each. Ends early, with the outcome, when the order is
/// cancelled or the run stopped while it waits.
fn with_order_runner(
    service: &Service,
    cafe: &Cafe,
    order: &Order,
    token: &CancelToken,
    emit: &mut dyn FnMut(&Event),
    body: impl FnOnce(&Runner<'_>, &mut dyn FnMut(&Event)) -> Result<RunOutcome>,
) -> Result<RunOutcome> {
    // What waiting needs: this process's runner id and the cafe's limit (nothing loaded).
    let config = RunnerConfig {
        max_parallel_orders: Some(cafe.settings.max_parallel_orders),
        ..RunnerConfig::default()
    };
    let control = linked(service, token);
    let slots = service.slots()?;
    let wait = QueueWait {
        order,
        config: &config,
        control: &control,
        queue: slots.queue(),
    };
    match queue::wait_for_place(service.queue_store(), &wait, emit)? {
        Place::Ended(outcome) => return Ok(outcome),
        Place::Claimed => {}
    }
    let _place = HeldPlace {
        service,
        order,
        runner: &config.runner_id,
        queue: slots.queue(),
    };
    with_runner(service, cafe, token, |runner| body(runner, emit))
}

/// An order's place in its cafe, given back when the run is over — by the runner, or here
/// when the run never got that far (an error loading it, a panic).
struct HeldPlace<'a> {
    service: &'a Service,
    order: &'a Order,
    runner: &'a str,
    queue: &'a queue::OrderQueue,
}

impl Drop for HeldPlace<'_> {
    fn drop(&mut self) {
        if let Ok(store) = self.service.queue_store().store()
            && let Ok(order) = store.order(self.order.id)
            && order.runner.as_deref() == Some(self.runner)
            && let Err(err) = store.release_order(self.order.id, self.runner)
        {
            tracing::debug!(%err, "releasing the order");
        }
        self.queue.released(&self.order.cafe_id);
    }
}

/// `token`, also stopped when the service shuts down.
fn linked(service: &Service, token: &CancelToken) -> CancelToken {
    token.clone().with_parent(service.shutdown_token().clone())
}

fn vars(request: &NewOrderRequest) -> Result<std::collections::BTreeMap<String, Value>> {
    Ok(orders::parse_vars(&request.vars)?
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect())
}

/// What `run --dry-run` shows for `request`: the plan and every rendered prompt. Creates and
/// starts nothing.
pub fn dry_run(service: &Service, request: &NewOrderRequest) -> Result<DryRun> {
    let cafe = service.registered_cafe(&request.scope)?;
    with_runner(service, &cafe, &CancelToken::new(), |runner| {
        Ok(check_runnable(runner, &cafe, request)?.dry_run()?)
    })
}

/// What `order run --dry-run` shows for order `id` (with `prompt` instead of its own).
pub fn dry_run_order(service: &Service, id: &str, prompt: Option<&str>) -> Result<DryRun> {
    let order = orders::find(service, id)?;
    let cafe = service.order_cafe(&order)?;
    with_runner(service, &cafe, &CancelToken::new(), |runner| {
        let mut prepared = runner.prepared_for(&order)?;
        if let Some(prompt) = prompt {
            prepared.prompt = prompt.to_owned();
        }
        check_providers(runner, &prepared, &cafe.path)?;
        Ok(prepared.dry_run()?)
    })
}

/// The recipe `request` runs, checked as far as it can be without running anything: it
/// validates with the installed plugins, every prompt renders, and each stage's provider
/// accepts its options for a dry invocation. Every problem found is in the error, with its
/// place in the recipe file.
pub(crate) fn check_runnable(
    runner: &Runner<'_>,
    cafe: &Cafe,
    request: &NewOrderRequest,
) -> Result<Prepared> {
    let recipe = orders::recipe_id(request, cafe);
    let prepared = runner.prepare(&recipe, &request.prompt, vars(request)?)?;
    prepared.dry_run()?;
    check_providers(runner, &prepared, &cafe.path)?;
    Ok(prepared)
}

/// The providers' problems with `prepared`'s stages, as one error.
fn check_providers(runner: &Runner<'_>, prepared: &Prepared, cwd: &std::path::Path) -> Result<()> {
    let problems =
        codecafe_runner::check::provider_problems(&prepared.recipe, runner.plugins(), cwd);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(codecafe_catalog::CatalogError::Invalid { problems }.into())
    }
}

/// Creates an order for `request` and runs it. Nothing is created when its recipe does not
/// validate, a prompt does not render or a provider refuses a stage. `created` hears of the
/// order before it starts.
pub fn run(
    service: &Service,
    request: &NewOrderRequest,
    token: &CancelToken,
    created: &mut dyn FnMut(&Created),
    emit: &mut dyn FnMut(&Event),
) -> Result<(Created, RunOutcome)> {
    let cafe = service.registered_cafe(&request.scope)?;
    crate::trust::ensure(service, &cafe.path)?;
    let notes = crate::trust::override_notes(service, &cafe, &orders::recipe_id(request, &cafe))?;
    let (snapshot, ready) = with_runner(service, &cafe, &CancelToken::new(), |runner| {
        let prepared = check_runnable(runner, &cafe, request)?;
        let stages = &prepared.recipe.stages;
        let worktree = !request.no_worktree;
        let warnings = doctor::preflight(&cafe, stages, runner.plugins(), worktree)?;
        Ok((runner.snapshot_of(&prepared), warnings))
    })?;
    let mut new = orders::create_pinned(service, request, &cafe, &snapshot)?;
    new.warnings.extend(ready);
    new.warnings.extend(notes);
    created(&new);
    let outcome = with_order_runner(
        service,
        &new.cafe,
        &new.order,
        token,
        emit,
        |runner, emit| Ok(runner.run(new.order.id, None, emit)?),
    )?;
    Ok((new, outcome))
}

/// Runs the created order `id` (`prompt` replaces its own).
pub fn execute(
    service: &Service,
    id: &str,
    prompt: Option<&str>,
    token: &CancelToken,
    emit: &mut dyn FnMut(&Event),
) -> Result<RunOutcome> {
    let order = orders::find(service, id)?;
    let cafe = service.order_cafe(&order)?;
    crate::trust::ensure(service, &cafe.path)?;
    with_order_runner(service, &cafe, &order, token, emit, |runner, emit| {
        doctor::preflight_order(&cafe, runner, &order, Continues::Recipe)?;
        Ok(runner.run(order.id, prompt, emit)?)
    })
}

fn wrong(order: &Order, hint: &str) -> ServiceError {
    ServiceError::WrongStatus {
        order: order.short_id(),
        status: order.status,
        hint: hint.to_owned(),
    }
}

fn continue_order(
    service: &Service,
    order: &Order,
    continuation: Continuation,
    token: &CancelToken,
    emit: &mut dyn FnMut(&Event),
) -> Result<RunOutcome> {
    let cafe = service.order_cafe(order)?;
    crate::trust::ensure(service, &cafe.path)?;
    with_order_runner(service, &cafe, order, token, emit, |runner, emit| {
        doctor::preflight_order(&cafe, runner, order, Continues::Recipe)?;
        Ok(runner.continue_order(order.id, continuation, emit)?)
    })
}

/// What the user gives an order that awaits input.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The answer to a stage's (or a follow-up's) questions.
    Answer(String),
    /// A new budget, in US dollars, for an order paused at its budget.
    Budget(f64),
    /// Allow the tool call the order waits on (`always`: and calls matching its rule, for the
    /// rest of the order).
    Approve {
        /// The approval (default: the only one pending).
        approval: Option<i64>,
        /// Allow calls matching its rule from now on.
        always: bool,
    },
    /// Refuse the tool call the order waits on; the agent hears the reason and carries on.
    Deny {
        /// The approval (default: the only one pending).
        approval: Option<i64>,
        /// Why, for the agent.
        reason: Option<String>,
    },
}

/// Answers order `id`'s open questions (of a stage or a follow-up), raises its budget when it
/// is paused at it, or decides the tool call it waits on, and continues it: the asking stage
/// continues its own agent session. A reply of the wrong kind (an answer to a budget pause or
/// an approval, a decision for a question, …) is refused with the command to use; the order
/// stays as it was.
pub fn input(
    service: &Service,
    id: &str,
    reply: &Reply,
    token: &CancelToken,
    emit: &mut dyn FnMut(&Event),
) -> Result<RunOutcome> {
    let order = orders::find(service, id)?;
    if !order.status.awaits_input() {
        return Err(wrong(
            &order,
            match reply {
                Reply::Approve { .. } | Reply::Deny { .. } => {
                    "not awaiting input: `order approve` / `order deny` decide a tool call an \
                     order waits on"
                }
                _ => {
                    "not awaiting input: `order input` answers an order whose stage asked a \
                     question or that reached its budget"
                }
            },
        ));
    }
    if let Some(delivered) = crate::live::deliver(service, &order, reply)? {
        return Ok(delivered);
    }
    let continuation = match reply {
        Reply::Answer(answer) => Continuation::Input(answer.clone()),
        Reply::Budget(limit) => Continuation::Budget(*limit),
        Reply::Approve { approval, always } => Continuation::Approval {
            approval: *approval,
            decision: if *always {
                Decision::AllowAlways
            } else {
                Decision::Allow
            },
            reason: None,
        },
        Reply::Deny { approval, reason } => Continuation::Approval {
            approval: *approval,
            decision: Decision::Deny,
            reason: reason.clone().filter(|r| !r.trim().is_empty()),
        },
    };
    continue_order(service, &order, continuation, token, emit)
}

/// Runs the failed or cancelled order `id` again: from its failed stages, a chosen stage or
/// the beginning; `fresh` starts new agent sessions; `refresh` runs the cafe's current recipe,
/// roles and skills instead of the order's pinned ones (refused when stages that ran are gone).
pub fn retry(
    service: &Service,
    id: &str,
    from: RetryFrom,
    fresh: bool,
    refresh: bool,
    token: &CancelToken,
    emit: &mut dyn FnMut(&Event),
) -> Result<RunOutcome> {
    let order = orders::find(service, id)?;
    if !matches!(order.status, OrderStatus::Failed | OrderStatus::Cancelled) {
        return Err(wrong(
            &order,
            "only failed or cancelled orders can be retried",
        ));
    }
    continue_order(
        service,
        &order,
        Continuation::Retry {
            from,
            fresh,
            refresh,
        },
        token,
        emit,
    )
}

/// Continues order `id` (running, or running a follow-up) whose codecafe process died or was
/// stopped: the agents it left are killed, running stages restart in their own sessions,
/// completed ones are not run again.
pub fn resume(
    service: &Service,
    id: &str,
    token: &CancelToken,
    emit: &mut dyn FnMut(&Event),
) -> Result<RunOutcome> {
    let order = orders::find(service, id)?;
    if !matches!(
        order.status,
        OrderStatus::Running | OrderStatus::FollowupRunning
    ) {
        return Err(wrong(
            &order,
            "only a running order whose codecafe died or was stopped can be resumed",
        ));
    }
    if holder_alive(&order) {
        return Err(ServiceError::StillRunning {
            order: order.short_id(),
            runner: order.runner.clone().unwrap_or_default(),
        });
    }
    continue_order(service, &order, Continuation::Resume, token, emit)
}

/// Runs one follow-up `request` on the completed order `id`, through the same stage pipeline
/// as its recipe: the provider, model, role and options of `stage` (default: the recipe's last
/// stage), continuing its agent session where the provider can.
pub fn followup(
    service: &Service,
    id: &str,
    request: &str,
    stage: Option<&str>,
    token: &CancelToken,
    emit: &mut dyn FnMut(&Event),
) -> Result<RunOutcome> {
    let order = orders::find(service, id)?;
    let cafe = service.order_cafe(&order)?;
    crate::trust::ensure(service, &cafe.path)?;
    with_order_runner(service, &cafe, &order, token, emit, |runner, emit| {
        doctor::preflight_order(&cafe, runner, &order, Continues::Followup(stage))?;
        Ok(runner.followup(order.id, request, stage, emit)?)
    })
}

/// Closes the follow-up of order `id`: it is `completed` again.
pub fn finish_followup(service: &Service, id: &str) -> Result<Order> {
    let order = orders::find(service, id)?;
    Ok(codecafe_runner::finish_followup(
        &service.store()?,
        order.id,
    )?)
}
