//! [`Runner`]: runs the orders of one cafe — a new order, a continued one (input, retry,
//! resume), a follow-up — each through the same loop ([`crate::run_loop`]).
//!
//! Before a run starts the order is *claimed* for this process in the store; a cafe with
//! `maxParallelOrders` orders already running agents makes it wait, visibly (`order:queued`),
//! until a place frees up ([`crate::queue`]; or it is cancelled, or
//! [`RunnerConfig::queue_timeout`] passes). The
//! claim is released when the run returns, whatever the outcome.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use codecafe_engine::driver::{
    EngineEvent, OrderRun, OrderSnapshot, RetryFrom, RunOptions, Session, StageSnapshot,
};
use codecafe_engine::{OrderAction, OrderStatus, StageStatus};
use codecafe_plugin_host::registry::Registry;
use codecafe_plugin_host::{PluginInfo, PluginKind};
use codecafe_store::event::{ApprovalDecided, EventBody, Warning};
use codecafe_store::{Approval, Decision, Event, Order, QuestionKind, StatusChange, Store};
use serde_json::Value;
use uuid::Uuid;

use crate::control::CancelToken;
use crate::error::RunnerError;
use crate::outcome::RunOutcome;
use crate::prepare::{CafePermissions, Catalogs, FOLLOWUP_STAGE, Prepared, prepare};
use crate::queue::{Place, QueueWait};
use crate::slots::Slots;
use crate::snapshot::RecipeSnapshot;

/// How often the loop looks for a cancel (the token, or a request from another process).
pub const INTERRUPT_POLL: Duration = Duration::from_millis(100);
/// A claim whose heartbeat is older than this belongs to a dead process.
pub const STALE_AFTER: Duration = Duration::from_secs(60);

/// How [`Runner::continue_order`] continues an order.
#[derive(Debug, Clone, PartialEq)]
pub enum Continuation {
    /// The user's answer to the open questions (of a stage or a follow-up).
    Input(String),
    /// The user raised the budget of an order paused at it, to this many USD.
    Budget(f64),
    /// Run again after a failure or a cancel.
    Retry {
        /// Where from.
        from: RetryFrom,
        /// New agent sessions instead of continuing the previous ones.
        fresh: bool,
        /// Run the cafe's current recipe, roles and skills instead of the order's pinned ones.
        refresh: bool,
    },
    /// The process running the order died or was stopped; go on from what was recorded.
    Resume,
    /// The user's decision on the tool call the order waits on: the asking stage's agent
    /// session continues with it (and repeats the call, answered from the record).
    Approval {
        /// The approval decided (default: the only one pending).
        approval: Option<i64>,
        /// Allow, allow always, or deny.
        decision: Decision,
        /// A deny's reason, for the agent.
        reason: Option<String>,
    },
}

/// How a runner behaves.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// This process's name in claims and slots ([`crate::liveness::this_process`]).
    pub runner_id: String,
    /// Longest wait for a terminal slot.
    pub lease_timeout: Duration,
    /// Longest retry backoff actually slept (longer ones are cut to this).
    pub max_backoff: Duration,
    /// A claim older than this is considered dead.
    pub stale_after: Duration,
    /// How often the claim's heartbeat is renewed while the order runs.
    pub heartbeat: Duration,
    /// Prices for agents that report tokens but no cost.
    pub pricing: std::sync::Arc<crate::pricing::Pricing>,
    /// The environment agents start with (plus what their command adds).
    pub base_env: Vec<(String, String)>,
    /// Where each running agent's process group is recorded (see [`crate::groups`]), so that
    /// another process can kill it when this one died; `None`: not recorded.
    pub group_dir: Option<PathBuf>,
    /// Where interactive stages listen for `order attach` / `input` / `approve` from other
    /// processes (see [`crate::live`]); `None`: not reachable.
    pub live_dir: Option<PathBuf>,
    /// The cafe's `maxParallelOrders`: orders of the cafe running agents at once.
    pub max_parallel_orders: Option<u32>,
    /// Longest wait for a place among the cafe's running orders.
    pub queue_timeout: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            runner_id: crate::liveness::this_process().to_owned(),
            lease_timeout: Duration::from_secs(10 * 60),
            max_backoff: Duration::from_secs(5 * 60),
            stale_after: STALE_AFTER,
            heartbeat: Duration::from_secs(5),
            pricing: std::sync::Arc::default(),
            base_env: codecafe_terminals::agent_base_env(),
            group_dir: None,
            live_dir: None,
            max_parallel_orders: None,
            queue_timeout: Duration::from_secs(60 * 60),
        }
    }
}

/// Runs orders of one cafe.
pub struct Runner<'a> {
    pub(crate) store: &'a Store,
    pub(crate) plugins: &'a Registry,
    pub(crate) slots: &'a Slots,
    catalogs: &'a Catalogs,
    pub(crate) repo: PathBuf,
    house_rules: String,
    cafe_permissions: CafePermissions,
    pub(crate) config: RunnerConfig,
    pub(crate) control: CancelToken,
}

impl std::fmt::Debug for Runner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("repo", &self.repo)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Whether the claim was had, or the run ended while queued.
enum Claimed {
    Yes,
    Ended(RunOutcome),
}

impl<'a> Runner<'a> {
    /// A runner for the cafe at `repo` (the checkout used by orders without a worktree), with
    /// its house rules.
    pub fn new(
        store: &'a Store,
        plugins: &'a Registry,
        slots: &'a Slots,
        catalogs: &'a Catalogs,
        repo: PathBuf,
        house_rules: String,
        config: RunnerConfig,
    ) -> Self {
        Self {
            store,
            plugins,
            slots,
            catalogs,
            repo,
            house_rules,
            cafe_permissions: CafePermissions::default(),
            config,
            control: CancelToken::new(),
        }
    }

    /// Cancels or stops the run when `token` says so (see [`CancelToken`]); looked at every
    /// [`INTERRUPT_POLL`].
    pub fn with_control(mut self, token: CancelToken) -> Self {
        self.control = token;
        self
    }

    /// Uses the cafe's `permissions` and `permissionsCeiling` settings for stages that set
    /// none (see [`codecafe_catalog::recipe::permissions`]).
    pub fn with_cafe_permissions(mut self, permissions: CafePermissions) -> Self {
        self.cafe_permissions = permissions;
        self
    }

    /// The plugins this runner uses.
    pub fn plugins(&self) -> &Registry {
        self.plugins
    }

    /// Loads, validates (with what is installed), resolves and plans recipe `recipe_id`.
    pub fn prepare(
        &self,
        recipe_id: &str,
        prompt: &str,
        vars: BTreeMap<String, Value>,
    ) -> Result<Prepared, RunnerError> {
        let prepared = prepare(
            self.catalogs,
            self.plugins,
            recipe_id,
            prompt,
            vars,
            &self.house_rules,
            self.cafe_permissions,
        )?;
        if prepared.plan.index_of(FOLLOWUP_STAGE).is_some() {
            return Err(RunnerError::Internal(format!(
                "recipe `{recipe_id}` has a stage named `{FOLLOWUP_STAGE}`, a name reserved for \
                 follow-ups; rename that stage"
            )));
        }
        Ok(prepared)
    }

    /// Runs order `id` (which must be `created`) in the foreground until it completes, fails,
    /// waits for input, is cancelled or stopped. `prompt` replaces the order's prompt when
    /// given. Each event is stored, then passed to `emit`.
    pub fn run(
        &self,
        id: Uuid,
        prompt: Option<&str>,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<RunOutcome, RunnerError> {
        let order = self.store.order(id)?;
        if order.status != OrderStatus::Created {
            return Err(not_runnable(
                &order,
                "only a created order can be run (`order retry`, `order input` or `order resume` \
                 continue the others)",
            ));
        }
        let mut prepared = self.prepared_for(&order)?;
        if let Some(prompt) = prompt {
            prepared.prompt = prompt.to_owned();
        }
        // Every prompt must render before anything starts.
        prepared.dry_run()?;
        let options = self.options(&order, &prepared);
        self.claimed(&order, emit, |emit| {
            self.warn_changed_plugins(&order, emit)?;
            let run = OrderRun::new(prepared.plan.clone(), options);
            crate::run_loop::drive(self, &order, &prepared, run, EngineEvent::Start, emit)
        })
    }

    /// Continues order `id` after an earlier run stopped: with the user's answer
    /// ([`Continuation::Input`], the asking stage or follow-up continues its own agent session),
    /// a retry of a failed or cancelled order ([`Continuation::Retry`]), or after the process
    /// running it died or was stopped ([`Continuation::Resume`]; the claim must be stale or
    /// released). The engine state is restored from the stored stage runs; completed stages
    /// are not re-run.
    pub fn continue_order(
        &self,
        id: Uuid,
        continuation: Continuation,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<RunOutcome, RunnerError> {
        let order = self.store.order(id)?;
        let base = match &continuation {
            Continuation::Retry { refresh: true, .. } => self.refresh(&order)?,
            _ => self.prepared_for(&order)?,
        };
        let prepared = if order.status.in_followup() {
            let started = self.latest_followup(id)?.ok_or_else(|| {
                RunnerError::Internal(format!(
                    "order {} is in a follow-up but no follow-up was recorded",
                    order.short_id()
                ))
            })?;
            base.for_followup(started.0.as_deref(), &started.1)?
        } else {
            base
        };
        self.check_continuation(&order, &continuation)?;
        let options = self.options(&order, &prepared);
        self.claimed(&order, emit, |emit| {
            self.warn_changed_plugins(&order, emit)?;
            if continuation == Continuation::Resume
                && let Some(dir) = &self.config.group_dir
            {
                // The dead process's agents must not work on alongside the resumed ones.
                crate::groups::kill_recorded(dir, id);
            }
            let run = OrderRun::restore(
                prepared.plan.clone(),
                options,
                self.snapshot(&order, prepared.followup.is_some())?,
            )?;
            let first = match continuation.clone() {
                Continuation::Input(answer) => {
                    self.store.answer(id, &answer)?;
                    EngineEvent::InputReceived { answer }
                }
                Continuation::Budget(limit_usd) => {
                    self.store.set_max_cost(id, Some(limit_usd))?;
                    self.store
                        .answer(id, &format!("raise the budget to ${limit_usd:.2}"))?;
                    EngineEvent::BudgetRaised { limit_usd }
                }
                Continuation::Retry { from, fresh, .. } => {
                    EngineEvent::RetryRequested { from, fresh }
                }
                Continuation::Resume => EngineEvent::ResumeAfterCrash,
                Continuation::Approval {
                    approval,
                    decision,
                    reason,
                } => {
                    let pending = self.waiting_approval(&order, approval)?;
                    let decided =
                        self.store
                            .decide_approval(id, pending.id, decision, reason.as_deref())?;
                    let answer = match (decision, &decided.reason) {
                        (Decision::Deny, Some(reason)) => format!("denied: {reason}"),
                        (Decision::Deny, None) => "denied".to_owned(),
                        (Decision::AllowAlways, _) => format!(
                            "approved always: {}",
                            decided.rule.as_deref().unwrap_or(&decided.tool)
                        ),
                        _ => "approved".to_owned(),
                    };
                    let event = self.store.append_event(
                        id,
                        &EventBody::ApprovalDecided(ApprovalDecided {
                            approval_id: Some(decided.id),
                            stage: decided.stage.clone(),
                            tool: decided.tool.clone(),
                            summary: decided.summary.clone(),
                            decision,
                            reason: decided.reason.clone(),
                            from_record: false,
                        }),
                    )?;
                    emit(&event);
                    self.store.answer(id, &answer)?;
                    EngineEvent::InputReceived { answer }
                }
            };
            crate::run_loop::drive(self, &order, &prepared, run, first, emit)
        })
    }

    /// Runs one follow-up `request` on order `id` (completed, or already in `followup`) in the
    /// foreground, through the same loop as a recipe's stages: one stage, `followup`, with the
    /// provider, model, role, skills and options of stage `based_on` (default: the recipe's last
    /// stage). It continues the agent session of the previous follow-up, else of that stage,
    /// when the provider can resume sessions. Its cost counts toward the order's and its budget;
    /// an `await_user` signal makes the order `followup-awaiting-input`. Afterwards the order is
    /// in `followup` (or awaits input).
    pub fn followup(
        &self,
        id: Uuid,
        request: &str,
        based_on: Option<&str>,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<RunOutcome, RunnerError> {
        let order = self.store.order(id)?;
        if !matches!(order.status, OrderStatus::Completed | OrderStatus::Followup) {
            return Err(not_runnable(
                &order,
                "a follow-up runs on a completed order (`order input` answers one that awaits \
                 input)",
            ));
        }
        let base = self.prepared_for(&order)?;
        let prepared = base.for_followup(based_on, request)?;
        let spec = prepared.spec(FOLLOWUP_STAGE)?;
        let provider = self
            .plugins
            .get_kind(&spec.provider.value, PluginKind::Provider)?;
        let can_resume =
            matches!(provider.info(), PluginInfo::Provider(info) if info.capabilities.resume);
        let runs = self.store.stage_runs(id)?;
        let earlier = runs.iter().filter(|r| r.stage_id == FOLLOWUP_STAGE);
        let previous = earlier.clone().map(|r| r.attempt).max().unwrap_or(0);
        let continued_followup = earlier.clone().any(|r| {
            r.agent_session_id.is_some() && r.provider.as_deref() == Some(&spec.provider.value)
        });
        let session = match (can_resume, continued_followup, &prepared.followup) {
            (false, _, _) => Session::Fresh,
            (true, true, _) => Session::Continue {
                of: FOLLOWUP_STAGE.to_owned(),
            },
            (true, false, Some(f)) => Session::Continue {
                of: f.based_on.clone(),
            },
            (true, false, None) => Session::Fresh,
        };
        prepared.dry_run()?;
        if order.status == OrderStatus::Completed {
            self.store
                .change_status(id, &StatusChange::new(OrderAction::EnterFollowup))?;
        }
        let order = self.store.order(id)?;
        let options = self.options(&order, &prepared);
        self.claimed(&order, emit, |emit| {
            self.warn_changed_plugins(&order, emit)?;
            let run = OrderRun::followup(
                prepared.plan.clone(),
                options,
                order.cost_usd,
                session.clone(),
                previous,
            );
            crate::run_loop::drive(self, &order, &prepared, run, EngineEvent::Start, emit)
        })
    }

    /// The recipe order `order` runs: its pinned snapshot; an order created before codecafe
    /// pinned recipes gets the current definitions, pinned now.
    pub fn prepared_for(&self, order: &Order) -> Result<Prepared, RunnerError> {
        match self.store.snapshot(order.id)? {
            Some((value, _)) => {
                RecipeSnapshot::from_value(value)?.prepare(&order.prompt, order.vars.clone())
            }
            None => {
                let prepared = self.prepare(&order.recipe_id, &order.prompt, order.vars.clone())?;
                self.pin(order.id, &prepared)?;
                Ok(prepared)
            }
        }
    }

    /// Pins `prepared` to order `id`: every later step of the order runs it.
    pub fn pin(&self, id: Uuid, prepared: &Prepared) -> Result<(), RunnerError> {
        let snapshot = RecipeSnapshot::of(prepared, self.plugins);
        Ok(self.store.set_snapshot(id, &snapshot.to_value())?)
    }

    /// What [`Runner::pin`] would pin for `prepared`.
    pub fn snapshot_of(&self, prepared: &Prepared) -> RecipeSnapshot {
        RecipeSnapshot::of(prepared, self.plugins)
    }

    /// `retry --refresh`: the cafe's current recipe, roles and skills for `order`, pinned in
    /// place of the old ones — when every stage that already ran is still in the recipe.
    fn refresh(&self, order: &Order) -> Result<Prepared, RunnerError> {
        let prepared = self.prepare(&order.recipe_id, &order.prompt, order.vars.clone())?;
        let mut gone: Vec<String> = self
            .store
            .stage_runs(order.id)?
            .into_iter()
            .map(|run| run.stage_id)
            .filter(|stage| stage != FOLLOWUP_STAGE && prepared.plan.index_of(stage).is_none())
            .collect();
        gone.dedup();
        if !gone.is_empty() {
            return Err(RunnerError::StagesChanged {
                order: order.short_id(),
                recipe: order.recipe_id.clone(),
                gone,
                now: prepared
                    .plan
                    .stages()
                    .iter()
                    .map(|s| s.id.clone())
                    .collect(),
            });
        }
        prepared.dry_run()?;
        self.pin(order.id, &prepared)?;
        Ok(prepared)
    }

    /// Refuses an answer to a budget pause and a budget raise to a question, saying which
    /// command to use.
    fn check_continuation(
        &self,
        order: &Order,
        continuation: &Continuation,
    ) -> Result<(), RunnerError> {
        let open = self
            .store
            .questions(order.id)?
            .into_iter()
            .rev()
            .find(|q| q.answer.is_none());
        let budget = open
            .as_ref()
            .is_some_and(|q| q.kind == QuestionKind::Budget);
        let approval = open
            .as_ref()
            .is_some_and(|q| q.kind == QuestionKind::Approval);
        match continuation {
            Continuation::Input(_) | Continuation::Budget(_) if approval => {
                let pending = self.waiting_approval(order, None)?;
                Err(RunnerError::AwaitsApproval {
                    order: order.short_id(),
                    pending: format!("{} {}", pending.id, pending.summary),
                })
            }
            Continuation::Approval { .. } if !approval => Err(RunnerError::NotRunnable {
                order: order.short_id(),
                status: order.status,
                hint: if budget {
                    "it is paused at its budget, not at a tool call: `order input <id> --budget \
                     <usd>` raises it"
                } else {
                    "it waits for no approval; `order input <id> \"answer\"` answers its \
                     questions"
                }
                .to_owned(),
            }),
            Continuation::Input(_) if budget => Err(RunnerError::BudgetDecision {
                order: order.short_id(),
                spent: order.cost_usd,
            }),
            Continuation::Budget(_) if !budget => Err(RunnerError::NotRunnable {
                order: order.short_id(),
                status: order.status,
                hint: "it is not paused at its budget; `order input <id> \"answer\"` answers its \
                       questions"
                    .to_owned(),
            }),
            Continuation::Budget(limit) if *limit <= order.cost_usd => {
                Err(RunnerError::BudgetTooLow {
                    order: order.short_id(),
                    limit: *limit,
                    spent: order.cost_usd,
                })
            }
            _ => Ok(()),
        }
    }

    /// The pending approval the order waits on: `named`, or the only one pending. Refused when
    /// several are pending and none is named, or when the one named waits behind another.
    fn waiting_approval(&self, order: &Order, named: Option<i64>) -> Result<Approval, RunnerError> {
        let pending: Vec<Approval> = self
            .store
            .approvals(order.id)?
            .into_iter()
            .filter(Approval::is_pending)
            .collect();
        let listed = || {
            pending
                .iter()
                .map(|a| format!("{} [{}] {}", a.id, a.stage, a.summary))
                .collect::<Vec<_>>()
        };
        let open_stage = self
            .store
            .questions(order.id)?
            .into_iter()
            .rev()
            .find(|q| q.answer.is_none() && q.kind == QuestionKind::Approval)
            .and_then(|q| q.stage);
        let first = pending
            .iter()
            .rev()
            .find(|a| Some(&a.stage) == open_stage.as_ref());
        match (named, first) {
            (None, _) if pending.len() > 1 => Err(RunnerError::SeveralApprovals {
                order: order.short_id(),
                pending: listed(),
            }),
            (Some(named), Some(first)) if named != first.id => {
                if pending.iter().any(|a| a.id == named) {
                    Err(RunnerError::ApprovalOutOfTurn {
                        order: order.short_id(),
                        first: first.id,
                        named,
                    })
                } else {
                    Err(codecafe_store::StoreError::NoPendingApproval {
                        order: order.short_id(),
                        approval: named,
                        pending: pending.iter().map(|a| a.id.to_string()).collect(),
                    }
                    .into())
                }
            }
            (_, Some(first)) => Ok(first.clone()),
            (_, None) => Err(RunnerError::Internal(format!(
                "order {} waits for an approval but none is pending",
                order.short_id()
            ))),
        }
    }

    /// An `order:warning` for each plugin the order's pinned recipe uses whose code changed
    /// since the order was created (the current code runs: plugin code is not kept).
    fn warn_changed_plugins(
        &self,
        order: &Order,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<(), RunnerError> {
        let Some((value, _)) = self.store.snapshot(order.id)? else {
            return Ok(());
        };
        for (id, was, now) in RecipeSnapshot::from_value(value)?.changed_plugins(self.plugins) {
            let short = |hash: &str| hash.chars().take(12).collect::<String>();
            let message = if now.is_empty() {
                format!("plugin `{id}` the order was created with is no longer installed")
            } else {
                format!(
                    "plugin `{id}` changed since the order was created ({} → {}); the current one runs",
                    short(&was),
                    short(&now)
                )
            };
            let event = self
                .store
                .append_event(order.id, &EventBody::Warning(Warning { message }))?;
            emit(&event);
        }
        Ok(())
    }

    /// The budget of `order`: its own limit, else the recipe's.
    fn options(&self, order: &Order, prepared: &Prepared) -> RunOptions {
        RunOptions {
            max_cost_usd: order.max_cost_usd.or(prepared.recipe.budget),
        }
    }

    /// Claims the order (queueing behind the cafe's running orders), runs `body`, releases.
    fn claimed(
        &self,
        order: &Order,
        emit: &mut dyn FnMut(&Event),
        body: impl FnOnce(&mut dyn FnMut(&Event)) -> Result<RunOutcome, RunnerError>,
    ) -> Result<RunOutcome, RunnerError> {
        match self.claim(order, emit)? {
            Claimed::Ended(outcome) => return Ok(outcome),
            Claimed::Yes => {}
        }
        let result = body(emit);
        if let Err(err) = self.store.release_order(order.id, &self.config.runner_id) {
            tracing::debug!(%err, "releasing the order");
        }
        self.slots.queue().released(&order.cafe_id);
        result
    }

    fn claim(&self, order: &Order, emit: &mut dyn FnMut(&Event)) -> Result<Claimed, RunnerError> {
        let wait = QueueWait {
            order,
            config: &self.config,
            control: &self.control,
            queue: self.slots.queue(),
        };
        Ok(
            match crate::queue::wait_for_place(self.store, &wait, emit)? {
                Place::Claimed => Claimed::Yes,
                Place::Ended(outcome) => Claimed::Ended(outcome),
            },
        )
    }

    /// Whether an `order:cancel-requested` event came after `seen` (which moves on).
    pub(crate) fn cancel_requested(&self, id: Uuid, seen: &mut i64) -> Result<bool, RunnerError> {
        crate::queue::cancel_requested(self.store, id, seen)
    }

    /// The stage and request of the order's latest `order:followup-started`.
    fn latest_followup(&self, id: Uuid) -> Result<Option<(Option<String>, String)>, RunnerError> {
        Ok(self
            .store
            .last_event_with_kind(id, "order:followup-started")?
            .and_then(|event| match event.body {
                EventBody::FollowupStarted(started) => Some((started.based_on, started.prompt)),
                _ => None,
            }))
    }

    /// The order's open questions (none when it asks nothing).
    pub fn open_questions(&self, id: Uuid) -> Result<Vec<String>, RunnerError> {
        Ok(self
            .store
            .questions(id)?
            .into_iter()
            .rev()
            .find(|q| q.answer.is_none())
            .map(|q| q.questions)
            .unwrap_or_default())
    }

    /// The engine's persisted view of `order`: each stage's latest run (only the follow-up's
    /// for a follow-up, only the recipe's otherwise).
    fn snapshot(&self, order: &Order, followup: bool) -> Result<OrderSnapshot, RunnerError> {
        let mut latest: BTreeMap<String, (StageSnapshot, u32)> = BTreeMap::new();
        for run in self.store.stage_runs(order.id)? {
            if (run.stage_id == FOLLOWUP_STAGE) != followup {
                continue;
            }
            let entry = latest.entry(run.stage_id.clone()).or_insert_with(|| {
                (
                    StageSnapshot {
                        id: run.stage_id.clone(),
                        status: run.status,
                        attempt: run.attempt,
                        retries_used: 0,
                        questions: Vec::new(),
                    },
                    0,
                )
            });
            if run.order_attempt == order.attempt {
                entry.1 += 1;
            }
            entry.0.status = run.status;
            entry.0.attempt = run.attempt;
        }
        let questions = self.open_questions(order.id)?;
        let stages = latest
            .into_values()
            .map(|(mut stage, runs)| {
                // Earlier follow-ups are not retries of this one.
                stage.retries_used = if followup { 0 } else { runs.saturating_sub(1) };
                if stage.status == StageStatus::AwaitingInput {
                    stage.questions = questions.clone();
                }
                stage
            })
            .collect();
        Ok(OrderSnapshot {
            status: order.status,
            stages,
            cost_usd: order.cost_usd,
        })
    }
}

fn not_runnable(order: &Order, hint: &str) -> RunnerError {
    RunnerError::NotRunnable {
        order: order.short_id(),
        status: order.status,
        hint: hint.to_owned(),
    }
}

/// Closes the follow-up of order `id` (`finish-followup`: back to `completed`).
pub fn finish_followup(store: &Store, id: Uuid) -> Result<Order, RunnerError> {
    Ok(store
        .change_status(id, &StatusChange::new(OrderAction::FinishFollowup))?
        .order)
}
