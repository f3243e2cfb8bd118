//! [`Runner`]: executes one order in the foreground.
//!
//! The loop runs on the calling thread and owns the store; each started stage runs on a scoped
//! worker thread (the private `stage` module) that reports over a channel. For every engine command, in
//! order: `Persist*` → the store (before anything is emitted); `StartStage` → render the
//! prompt, build the invocation, hand it to a worker (which leases a terminal only while the
//! agent runs); `ScheduleBackoff` → a timer (capped by [`RunnerConfig::max_backoff`]);
//! `AwaitInput` → `order:awaiting-input`, and the run returns once nothing runs;
//! `FinishOrder` → `order:completed` / `order:failed` / `order:cancelled`. Every wait is
//! bounded: the channel is polled with a timeout, the heartbeat is renewed while stages run.

pub mod followup;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use codecafe_catalog::recipe::{Known, RecipeCatalog, ResolvedRecipe, SessionContext, StageSpec};
use codecafe_catalog::role::{Answer, PreviousOutput, RenderContext, RoleCatalog, SkillVar};
use codecafe_catalog::skill::SkillCatalog;
use codecafe_catalog::{CatalogError, profile::Profiles};
use codecafe_engine::driver::{
    AwaitReason, EngineCommand, EngineEvent, OrderOutcome, OrderRun, OrderSnapshot, RetryFrom,
    RunOptions, Session, StageOutcome, StageSnapshot,
};
use codecafe_engine::plan::{ContextMode, OnFailure, Plan, StageDef};
use codecafe_engine::{OrderAction, OrderStatus, StageAction};
use codecafe_plugin_host::registry::Registry;
use codecafe_plugin_host::{PluginInfo, PluginKind};
use codecafe_sdk::{AgentEvent, Invocation, Mode, SessionRef, StageContext};
use codecafe_store::{Event, NewEvent, NewStageRun, Order, StageRunUpdate, StatusChange, Store};
use codecafe_terminals::TerminalPool;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::RunnerError;
use crate::events::{self, RunOutcome};
use crate::prompt::render_stage_prompt;
use crate::stage::{StageJob, StageResult, WorkerMsg, abbreviate, run_stage};

/// How often the loop looks at the interrupt flag of [`Runner::with_interrupt`].
pub const INTERRUPT_POLL: Duration = Duration::from_millis(100);

/// How [`Runner::continue_order`] continues an order.
#[derive(Debug, Clone, PartialEq)]
pub enum Continuation {
    /// The user's answer to the open questions.
    Input(String),
    /// Run again after a failure or a cancel.
    Retry {
        /// Where from.
        from: RetryFrom,
        /// New agent sessions instead of continuing the previous ones.
        fresh: bool,
    },
    /// The process running the order died; go on from what was recorded.
    Resume,
}

/// How a runner behaves.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// This process's name in the store's claim (`<host>:<pid>:<start>`).
    pub runner_id: String,
    /// Longest wait for a terminal lease.
    pub lease_timeout: Duration,
    /// Longest retry backoff actually slept (longer ones are cut to this).
    pub max_backoff: Duration,
    /// A claim older than this is considered dead.
    pub stale_after: Duration,
    /// How often the claim's heartbeat is renewed while the order runs.
    pub heartbeat: Duration,
    /// The environment agents start with (plus what their command adds); by default
    /// [`codecafe_terminals::agent_base_env`] (`CODECAFE_AGENT_ENV_ALLOW` adds names).
    pub base_env: Vec<(String, String)>,
    /// Where each running agent's process group is recorded (see [`crate::groups`]), so that
    /// another process can kill it when this one died; `None`: not recorded.
    pub group_dir: Option<PathBuf>,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            runner_id: format!("runner:{}", std::process::id()),
            lease_timeout: Duration::from_secs(10 * 60),
            max_backoff: Duration::from_secs(5 * 60),
            stale_after: Duration::from_secs(60),
            heartbeat: Duration::from_secs(5),
            base_env: codecafe_terminals::agent_base_env(),
            group_dir: None,
        }
    }
}

/// The cafe's recipes, roles and skills and the user's profiles.
#[derive(Debug)]
pub struct Catalogs {
    /// Recipes.
    pub recipes: RecipeCatalog,
    /// Roles.
    pub roles: RoleCatalog,
    /// Skills.
    pub skills: SkillCatalog,
    /// Profiles.
    pub profiles: Profiles,
}

/// A recipe checked, resolved and planned, with what its prompts are rendered from.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The resolved recipe.
    pub recipe: ResolvedRecipe,
    /// Its plan.
    pub plan: Plan,
    /// The user's prompt.
    pub prompt: String,
    /// The order's variables.
    pub vars: BTreeMap<String, Value>,
}

/// What `--dry-run` shows: the plan and every first-attempt prompt.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DryRun {
    /// The recipe id.
    pub recipe_id: String,
    /// Stages that start together, in the order they start (assuming every stage succeeds).
    pub groups: Vec<Vec<String>>,
    /// Each stage: id, provider, model, and its rendered prompt.
    pub stages: Vec<DryRunStage>,
}

/// One stage of a [`DryRun`].
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DryRunStage {
    /// The stage id.
    pub id: String,
    /// Its provider plugin.
    pub provider: String,
    /// Its model, if set.
    pub model: Option<String>,
    /// The stages it waits for.
    pub after: Vec<String>,
    /// The rendered prompt (earlier outputs shown as placeholders).
    pub prompt: String,
}

/// Runs orders of one cafe.
pub struct Runner<'a> {
    store: &'a Store,
    plugins: &'a Registry,
    pool: &'a TerminalPool,
    catalogs: &'a Catalogs,
    repo: PathBuf,
    house_rules: String,
    config: RunnerConfig,
    interrupt: Option<&'a AtomicBool>,
}

impl std::fmt::Debug for Runner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("repo", &self.repo)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Per-stage bookkeeping of the loop.
#[derive(Default)]
struct StageRec {
    run_id: Option<i64>,
    attempt: u32,
    started: Option<Instant>,
    usage: Option<Value>,
    cost: Option<f64>,
    result: Option<StageResult>,
    cancel: Option<Arc<AtomicBool>>,
}

impl<'a> Runner<'a> {
    /// A runner for the cafe at `repo` (the checkout used by orders without a worktree), with
    /// its house rules.
    pub fn new(
        store: &'a Store,
        plugins: &'a Registry,
        pool: &'a TerminalPool,
        catalogs: &'a Catalogs,
        repo: PathBuf,
        house_rules: String,
        config: RunnerConfig,
    ) -> Self {
        Self {
            store,
            plugins,
            pool,
            catalogs,
            repo,
            house_rules,
            config,
            interrupt: None,
        }
    }

    /// Cancels the running order once `flag` becomes true (e.g. set by a Ctrl-C handler): the
    /// running agents' process groups are killed, their leases returned, then the order is
    /// recorded cancelled ([`RunOutcome::Cancelled`]). The flag is polled every
    /// [`INTERRUPT_POLL`].
    pub fn with_interrupt(mut self, flag: &'a AtomicBool) -> Self {
        self.interrupt = Some(flag);
        self
    }

    /// Loads, validates (with what is installed), resolves and plans recipe `recipe_id`.
    pub fn prepare(
        &self,
        recipe_id: &str,
        prompt: &str,
        vars: BTreeMap<String, Value>,
    ) -> Result<Prepared, RunnerError> {
        let recipe = self.catalogs.recipes.find(recipe_id)?;
        let mut known = Known::default();
        let (mut providers, mut parsers) = (Vec::new(), Vec::new());
        for plugin in self.plugins.active() {
            match plugin.kind() {
                PluginKind::Provider => providers.push(plugin.id().to_owned()),
                PluginKind::SignalParser => parsers.push(plugin.id().to_owned()),
            }
        }
        known.providers = Some(providers);
        known.signal_parsers = Some(parsers);
        known.roles = Some(
            self.catalogs
                .roles
                .ids()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        );
        known.skills = Some(
            self.catalogs
                .skills
                .ids()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        );
        recipe.validate(&known)?;
        let skills = &self.catalogs.skills;
        let resolved = recipe.resolve_with(&self.catalogs.profiles, &|id| {
            skills.get(id).map(|s| match s.context {
                codecafe_catalog::skill::SkillContext::Inherit => SessionContext::Inherit,
                codecafe_catalog::skill::SkillContext::Fork => SessionContext::Fork,
            })
        });
        if !resolved.problems.is_empty() {
            return Err(CatalogError::Invalid {
                problems: resolved.problems,
            }
            .into());
        }
        let plan = Plan::new(resolved.stages.iter().map(stage_def).collect())?;
        Ok(Prepared {
            recipe: resolved,
            plan,
            prompt: prompt.to_owned(),
            vars,
        })
    }

    /// The plan and every stage's first prompt; starts nothing and writes nothing.
    pub fn dry_run(&self, prepared: &Prepared) -> Result<DryRun, RunnerError> {
        let plan = &prepared.plan;
        let groups = self.dry_groups(plan);
        let mut stages = Vec::new();
        for (i, spec) in prepared.recipe.stages.iter().enumerate() {
            let previous = plan
                .ancestors(i)
                .iter()
                .map(|&a| PreviousOutput {
                    stage: plan.stage(a).id.clone(),
                    output: format!("(the final text of stage `{}`)", plan.stage(a).id),
                })
                .collect();
            let prompt = self.render(prepared, spec, previous, Vec::new(), 1)?;
            stages.push(DryRunStage {
                id: spec.id.clone(),
                provider: spec.provider.value.clone(),
                model: spec.model.value.clone(),
                after: spec.after.clone(),
                prompt,
            });
        }
        Ok(DryRun {
            recipe_id: prepared.recipe.id.clone(),
            groups,
            stages,
        })
    }

    fn render(
        &self,
        prepared: &Prepared,
        spec: &StageSpec,
        previous: Vec<PreviousOutput>,
        answers: Vec<Answer>,
        attempt: u32,
    ) -> Result<String, RunnerError> {
        let role = match &spec.role {
            Some(id) => Some(self.catalogs.roles.require(id)?),
            None => None,
        };
        let mut skills = Vec::new();
        for id in &spec.skills {
            skills.push(SkillVar::from(self.catalogs.skills.require(id)?));
        }
        let context = RenderContext {
            prompt: prepared.prompt.clone(),
            skills,
            vars: prepared.vars.clone(),
            previous,
            answers,
            attempt,
            house_rules: self.house_rules.clone(),
            stage: spec.id.clone(),
        };
        Ok(render_stage_prompt(role, spec.prompt.as_deref(), &context)?)
    }

    /// Runs order `id` (which must be `created`) in the foreground until it completes, fails,
    /// waits for input or is cancelled. `prompt` replaces the order's prompt when given. Each
    /// event is stored, then passed to `emit`.
    pub fn run(
        &self,
        id: Uuid,
        prompt: Option<&str>,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<RunOutcome, RunnerError> {
        let order = self.store.order(id)?;
        if order.status != OrderStatus::Created {
            return Err(RunnerError::NotRunnable {
                order: order.short_id(),
                status: order.status,
            });
        }
        let prepared = self.prepare(
            &order.recipe_id,
            prompt.unwrap_or(&order.prompt),
            order.vars.clone(),
        )?;
        // Every prompt must render before anything starts.
        self.dry_run(&prepared)?;
        self.store
            .claim_order(id, &self.config.runner_id, self.config.stale_after)?;
        let options = RunOptions {
            max_cost_usd: order.max_cost_usd.or(prepared.recipe.budget),
        };
        let run = OrderRun::new(prepared.plan.clone(), options);
        let result = self.drive(&order, &prepared, run, EngineEvent::Start, emit);
        if let Err(err) = self.store.release_order(id, &self.config.runner_id) {
            tracing::debug!(%err, "releasing the order");
        }
        result
    }

    /// Continues order `id` after an earlier run stopped: with the user's answer
    /// ([`Continuation::Input`], the asking stage continues its own agent session), a retry
    /// of a failed or cancelled order ([`Continuation::Retry`]), or after the process running
    /// it died ([`Continuation::Resume`]; the claim must be stale). The engine state is
    /// restored from the stored stage runs (open questions from the latest
    /// `order:awaiting-input` event); completed stages are not re-run.
    pub fn continue_order(
        &self,
        id: Uuid,
        continuation: Continuation,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<RunOutcome, RunnerError> {
        let order = self.store.order(id)?;
        let prepared = self.prepare(&order.recipe_id, &order.prompt, order.vars.clone())?;
        self.store
            .claim_order(id, &self.config.runner_id, self.config.stale_after)?;
        if continuation == Continuation::Resume
            && let Some(dir) = &self.config.group_dir
        {
            // The dead process's agents must not work on alongside the resumed ones.
            crate::groups::kill_recorded(dir, id);
        }
        let result = (|| {
            let run = OrderRun::restore(
                prepared.plan.clone(),
                RunOptions {
                    max_cost_usd: order.max_cost_usd.or(prepared.recipe.budget),
                },
                self.snapshot(&order)?,
            )?;
            let first = match continuation {
                Continuation::Input(answer) => EngineEvent::InputReceived { answer },
                Continuation::Retry { from, fresh } => EngineEvent::RetryRequested { from, fresh },
                Continuation::Resume => EngineEvent::ResumeAfterCrash,
            };
            self.drive(&order, &prepared, run, first, emit)
        })();
        if let Err(err) = self.store.release_order(id, &self.config.runner_id) {
            tracing::debug!(%err, "releasing the order");
        }
        result
    }

    /// The engine's persisted view of `order`: each stage's latest run.
    fn snapshot(&self, order: &Order) -> Result<OrderSnapshot, RunnerError> {
        let mut latest: BTreeMap<String, (StageSnapshot, u32)> = BTreeMap::new();
        for run in self.store.stage_runs(order.id)? {
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
                stage.retries_used = runs.saturating_sub(1);
                if stage.status == codecafe_engine::StageStatus::AwaitingInput {
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

    /// The sequence number of the order's latest event (0: none).
    fn last_seq(&self, id: Uuid) -> Result<i64, RunnerError> {
        let mut after = 0;
        loop {
            match self.store.events_since(id, after, 500)?.last() {
                Some(last) => after = last.seq,
                None => return Ok(after),
            }
        }
    }

    /// Whether an `order:cancel-requested` event came after `seen` (which moves on).
    fn cancel_requested(&self, id: Uuid, seen: &mut i64) -> Result<bool, RunnerError> {
        let mut found = false;
        loop {
            let batch = self.store.events_since(id, *seen, 500)?;
            let Some(last) = batch.last() else {
                return Ok(found);
            };
            *seen = last.seq;
            found |= batch
                .iter()
                .any(|e| e.kind == events::ORDER_CANCEL_REQUESTED);
        }
    }

    /// The questions of the order's latest `order:awaiting-input` event.
    pub fn open_questions(&self, id: Uuid) -> Result<Vec<String>, RunnerError> {
        let mut questions = Vec::new();
        let mut after = 0;
        loop {
            let batch = self.store.events_since(id, after, 500)?;
            let Some(last) = batch.last() else {
                return Ok(questions);
            };
            after = last.seq;
            for event in batch
                .iter()
                .filter(|e| e.kind == events::ORDER_AWAITING_INPUT)
            {
                questions = event.payload["questions"]
                    .as_array()
                    .map(|qs| {
                        qs.iter()
                            .filter_map(|q| q.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
            }
        }
    }

    /// Drives `run` from `first` (`Start` today; `InputReceived`, `RetryRequested` or
    /// `ResumeAfterCrash` on a restored run later) until the order finishes or waits. What
    /// earlier runs recorded — each stage's latest agent session and completed output — is read
    /// from the store, so sessions continue across processes.
    fn drive(
        &self,
        order: &Order,
        prepared: &Prepared,
        mut run: OrderRun,
        first: EngineEvent,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<RunOutcome, RunnerError> {
        let mut outputs = HashMap::new();
        let mut sessions = HashMap::new();
        let mut stages: HashMap<String, StageRec> = HashMap::new();
        for stage_run in self.store.stage_runs(order.id)? {
            // The latest run of each stage is the one a continued run updates.
            let rec = stages.entry(stage_run.stage_id.clone()).or_default();
            rec.run_id = Some(stage_run.id);
            rec.attempt = stage_run.attempt;
            if let Some(session) = stage_run.agent_session_id {
                sessions.insert(stage_run.stage_id.clone(), session);
            }
            if stage_run.status == codecafe_engine::StageStatus::Completed
                && let Some(output) = stage_run.output
            {
                outputs.insert(stage_run.stage_id, output);
            }
        }
        let mut seen = self.last_seq(order.id)?;
        let (tx, rx) = mpsc::channel::<WorkerMsg>();
        let abort = Arc::new(AtomicBool::new(false));
        let mut state = Loop {
            runner: self,
            order,
            prepared,
            stages,
            outputs,
            sessions,
            answers: Vec::new(),
            backoffs: Vec::new(),
            active: 0,
            outcome: None,
        };
        std::thread::scope(|scope| {
            let result = (|| -> Result<RunOutcome, RunnerError> {
                let mut queue: VecDeque<EngineCommand> = run.handle(first)?.into();
                let mut last_beat = Instant::now();
                let mut cancel_sent = false;
                loop {
                    while let Some(command) = queue.pop_front() {
                        if let Some(job) = state.execute(command, &mut queue, emit, &abort)? {
                            let tx = tx.clone();
                            state.active += 1;
                            scope.spawn(move || run_stage(job, &tx));
                        }
                    }
                    if !cancel_sent
                        && state.outcome.is_none()
                        && (self.interrupt.is_some_and(|f| f.load(Ordering::Relaxed))
                            || self.cancel_requested(order.id, &mut seen)?)
                    {
                        cancel_sent = true;
                        queue.extend(run.handle(EngineEvent::CancelRequested)?);
                        continue;
                    }
                    if let Some(outcome) = &state.outcome
                        && state.active == 0
                    {
                        return Ok(outcome.clone());
                    }
                    if state.active == 0 && state.backoffs.is_empty() {
                        return Err(RunnerError::Internal(
                            "the engine has nothing to do but the order is not finished".into(),
                        ));
                    }
                    let now = Instant::now();
                    let wait = state
                        .backoffs
                        .iter()
                        .map(|(_, at)| at.saturating_duration_since(now))
                        .min()
                        .unwrap_or(self.config.heartbeat)
                        .min(self.config.heartbeat)
                        .min(INTERRUPT_POLL);
                    match rx.recv_timeout(wait) {
                        Ok(message) => {
                            if let Some(event) = state.receive(message, emit)? {
                                queue.extend(run.handle(event)?);
                            }
                        }
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => {
                            return Err(RunnerError::Internal("the workers are gone".into()));
                        }
                    }
                    let now = Instant::now();
                    let (due, later): (Vec<_>, Vec<_>) =
                        state.backoffs.drain(..).partition(|(_, at)| *at <= now);
                    state.backoffs = later;
                    for (stage, _) in due {
                        queue.extend(run.handle(EngineEvent::BackoffElapsed { stage })?);
                    }
                    if last_beat.elapsed() >= self.config.heartbeat {
                        last_beat = Instant::now();
                        if let Err(err) = self.store.heartbeat(order.id, &self.config.runner_id) {
                            tracing::warn!(%err, "renewing the order's heartbeat");
                        }
                    }
                }
            })();
            if result.is_err() {
                // Stop the workers (they kill their agents); the scope waits for them.
                abort.store(true, Ordering::Relaxed);
                for rec in state.stages.values() {
                    if let Some(cancel) = &rec.cancel {
                        cancel.store(true, Ordering::Relaxed);
                    }
                }
            }
            result
        })
    }
}

/// The state of one order's loop.
struct Loop<'r, 'a> {
    runner: &'r Runner<'a>,
    order: &'r Order,
    prepared: &'r Prepared,
    stages: HashMap<String, StageRec>,
    outputs: HashMap<String, String>,
    sessions: HashMap<String, String>,
    answers: Vec<Answer>,
    backoffs: Vec<(String, Instant)>,
    active: usize,
    outcome: Option<RunOutcome>,
}

impl<'r, 'a> Loop<'r, 'a> {
    fn store(&self) -> &'a Store {
        self.runner.store
    }

    fn event(
        &self,
        kind: &str,
        payload: Value,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<(), RunnerError> {
        let event = self.store().append_event(self.order.id, kind, &payload)?;
        emit(&event);
        Ok(())
    }

    fn spec(&self, stage: &str) -> Result<&'r StageSpec, RunnerError> {
        self.prepared
            .recipe
            .stages
            .iter()
            .find(|s| s.id == stage)
            .ok_or_else(|| RunnerError::Internal(format!("unknown stage `{stage}`")))
    }

    /// Executes one command; returns a job when a stage must start on a worker.
    fn execute(
        &mut self,
        command: EngineCommand,
        queue: &mut VecDeque<EngineCommand>,
        emit: &mut dyn FnMut(&Event),
        abort: &Arc<AtomicBool>,
    ) -> Result<Option<StageJob<'a>>, RunnerError> {
        match command {
            EngineCommand::PersistOrder { action, .. } => {
                let mut change = StatusChange::new(action);
                if action == OrderAction::Fail
                    && let Some(EngineCommand::FinishOrder {
                        outcome: OrderOutcome::Failed { error, .. },
                    }) = queue
                        .iter()
                        .find(|c| matches!(c, EngineCommand::FinishOrder { .. }))
                {
                    change = change.error(error.clone());
                }
                if action == OrderAction::Start {
                    let groups = self.runner.dry_groups(&self.prepared.plan);
                    change = change.event(
                        events::ORDER_STARTED,
                        json!({
                            "recipeId": self.prepared.recipe.id,
                            "stages": self.prepared.plan.stages().iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
                            "groups": groups,
                        }),
                    );
                }
                let changed = self.store().change_status(self.order.id, &change)?;
                if let Some(event) = &changed.event {
                    emit(event);
                }
                Ok(None)
            }
            EngineCommand::PersistStage {
                stage,
                action,
                attempt,
                ..
            } => {
                self.persist_stage(&stage, action, attempt, emit)?;
                Ok(None)
            }
            EngineCommand::StartStage {
                stage,
                attempt,
                session,
                retry_reason,
                answers,
                timeout,
            } => self.start(
                &stage,
                attempt,
                &session,
                retry_reason,
                answers,
                timeout,
                abort,
            ),
            EngineCommand::ScheduleBackoff { stage, delay } => {
                let delay = delay.min(self.runner.config.max_backoff);
                self.backoffs.push((stage, Instant::now() + delay));
                Ok(None)
            }
            EngineCommand::AwaitInput { reason } => {
                let (payload, outcome) = match reason {
                    AwaitReason::Questions { stage, questions } => (
                        json!({"stage": stage, "questions": questions}),
                        RunOutcome::AwaitingInput {
                            stage: Some(stage),
                            questions,
                        },
                    ),
                    AwaitReason::Budget {
                        spent_usd,
                        limit_usd,
                    } => (
                        json!({"reason": "budget", "spentUsd": spent_usd, "limitUsd": limit_usd,
                               "questions": [format!("The order has cost ${spent_usd:.2} of its ${limit_usd:.2} budget. Continue?")]}),
                        RunOutcome::AwaitingInput {
                            stage: None,
                            questions: vec![format!(
                                "The order has cost ${spent_usd:.2} of its ${limit_usd:.2} budget. Continue?"
                            )],
                        },
                    ),
                };
                self.event(events::ORDER_AWAITING_INPUT, payload, emit)?;
                self.outcome = Some(outcome);
                Ok(None)
            }
            EngineCommand::CancelRunning { stages } => {
                for stage in stages {
                    if let Some(cancel) = self.stages.get(&stage).and_then(|r| r.cancel.as_ref()) {
                        cancel.store(true, Ordering::Relaxed);
                    }
                }
                Ok(None)
            }
            EngineCommand::FinishOrder { outcome } => {
                let cost = self.store().order(self.order.id)?.cost_usd;
                let (kind, payload, outcome) = match outcome {
                    OrderOutcome::Completed { failed_stages } => (
                        events::ORDER_COMPLETED,
                        json!({"failedStages": failed_stages, "costUsd": cost}),
                        RunOutcome::Completed { failed_stages },
                    ),
                    OrderOutcome::Failed {
                        stage,
                        error,
                        can_retry,
                    } => (
                        events::ORDER_FAILED,
                        json!({"stage": stage, "error": error, "canRetry": can_retry, "costUsd": cost}),
                        RunOutcome::Failed { stage, error },
                    ),
                    OrderOutcome::Cancelled => (
                        events::ORDER_CANCELLED,
                        json!({"costUsd": cost}),
                        RunOutcome::Cancelled,
                    ),
                };
                self.event(kind, payload, emit)?;
                self.outcome = Some(outcome);
                Ok(None)
            }
            EngineCommand::Warn { message } => {
                tracing::warn!(order = %self.order.short_id(), "{message}");
                self.event(events::ORDER_WARNING, json!({"message": message}), emit)?;
                Ok(None)
            }
        }
    }

    fn persist_stage(
        &mut self,
        stage: &str,
        action: StageAction,
        attempt: u32,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<(), RunnerError> {
        let store = self.store();
        let provider = self.spec(stage)?.provider.value.clone();
        let rec = self.stages.entry(stage.to_owned()).or_default();
        match action {
            StageAction::Start => {
                let run = store.start_stage_run(
                    &NewStageRun::new(self.order.id, stage).provider(provider.clone()),
                )?;
                rec.run_id = Some(run.id);
                rec.attempt = attempt;
                rec.started = Some(Instant::now());
                rec.usage = None;
                rec.cost = None;
                rec.result = None;
                let payload = json!({"stage": stage, "attempt": attempt, "provider": provider});
                self.event(events::STAGE_STARTED, payload, emit)
            }
            StageAction::Skip => {
                store.skip_stage(self.order.id, stage)?;
                self.event(events::STAGE_SKIPPED, json!({"stage": stage}), emit)
            }
            StageAction::Retry | StageAction::Rerun => {
                // The failed run stays on record; the next start makes a new one.
                rec.run_id = None;
                Ok(())
            }
            StageAction::Complete
            | StageAction::Fail
            | StageAction::Cancel
            | StageAction::AwaitInput
            | StageAction::InputReceived
            | StageAction::ResumeAfterCrash => {
                let Some(run_id) = rec.run_id else {
                    // A pending stage cancelled before it ever ran.
                    if action == StageAction::Cancel {
                        return self.event(events::STAGE_CANCELLED, json!({"stage": stage}), emit);
                    }
                    return Err(RunnerError::Internal(format!(
                        "stage `{stage}` has no run to {action}"
                    )));
                };
                let result = rec.result.as_ref();
                let error = result.and_then(|r| match &r.outcome {
                    StageOutcome::Failed { error } => Some(error.clone()),
                    StageOutcome::TimedOut => Some(format!(
                        "timed out after {}",
                        codecafe_catalog::recipe::duration::format_duration(
                            self.prepared
                                .plan
                                .stages()
                                .iter()
                                .find(|s| s.id == stage)
                                .map(|s| s.timeout)
                                .unwrap_or_default()
                        )
                    )),
                    _ => None,
                });
                let update = StageRunUpdate {
                    exit_code: result.and_then(|r| r.exit_code),
                    output: result.map(|r| r.output.clone()),
                    error: error.clone(),
                };
                store.update_stage_run(run_id, action, &update)?;
                let duration_ms = rec
                    .started
                    .map(|s| u64::try_from(s.elapsed().as_millis()).unwrap_or(u64::MAX));
                let (usage, cost, exit_code) = (
                    rec.usage.clone(),
                    rec.cost,
                    result.and_then(|r| r.exit_code),
                );
                let signals = result.map(|r| match &r.outcome {
                    StageOutcome::Succeeded { signals } => {
                        signals.iter().map(signal_json).collect::<Vec<_>>()
                    }
                    _ => Vec::new(),
                });
                match action {
                    StageAction::Complete => {
                        if let Some(r) = result {
                            self.outputs.insert(stage.to_owned(), r.output.clone());
                        }
                        self.event(
                            events::STAGE_COMPLETED,
                            json!({"stage": stage, "attempt": attempt, "durationMs": duration_ms,
                                   "usage": usage, "costUsd": cost, "signals": signals}),
                            emit,
                        )
                    }
                    StageAction::Fail => self.event(
                        events::STAGE_FAILED,
                        json!({"stage": stage, "attempt": attempt, "durationMs": duration_ms,
                               "error": error, "exitCode": exit_code, "usage": usage, "costUsd": cost}),
                        emit,
                    ),
                    StageAction::Cancel => {
                        self.event(events::STAGE_CANCELLED, json!({"stage": stage}), emit)
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        &mut self,
        stage: &str,
        attempt: u32,
        session: &Session,
        retry_reason: Option<String>,
        answers: Vec<String>,
        timeout: Duration,
        abort: &Arc<AtomicBool>,
    ) -> Result<Option<StageJob<'a>>, RunnerError> {
        let runner = self.runner;
        let spec = self.spec(stage)?;
        let plan = &self.prepared.plan;
        let index = plan
            .index_of(stage)
            .ok_or_else(|| RunnerError::Internal(format!("unknown stage `{stage}`")))?;
        let previous = plan
            .stages()
            .iter()
            .take(index)
            .filter_map(|s| {
                self.outputs.get(&s.id).map(|output| PreviousOutput {
                    stage: s.id.clone(),
                    output: output.clone(),
                })
            })
            .collect();
        for answer in answers {
            self.answers.push(Answer {
                stage: stage.to_owned(),
                questions: Vec::new(),
                answer,
            });
        }
        let mut prompt =
            runner.render(self.prepared, spec, previous, self.answers.clone(), attempt)?;
        if let Some(reason) = retry_reason {
            prompt.push_str(&format!(
                "\n\n## This is attempt {attempt}\n\nThe previous attempt did not succeed: {reason}"
            ));
        }
        let provider = runner
            .plugins
            .get_kind(&spec.provider.value, PluginKind::Provider)?
            .clone();
        let parser = runner
            .plugins
            .get_kind(&spec.signals.value, PluginKind::SignalParser)?
            .clone();
        let can_fork =
            matches!(provider.info(), PluginInfo::Provider(info) if info.capabilities.fork);
        // A session is continued or forked only by the provider that made it: a claude
        // session id means nothing to codex, so a stage after another provider's starts fresh.
        let same_provider = |of: &str| {
            self.prepared
                .recipe
                .stages
                .iter()
                .any(|s| s.id == of && s.provider.value == spec.provider.value)
        };
        let session = match session {
            Session::Fresh => None,
            Session::Continue { of } if same_provider(of) => {
                self.sessions.get(of).map(|id| SessionRef {
                    id: id.clone(),
                    fork: false,
                })
            }
            Session::Fork { of } if can_fork && same_provider(of) => {
                self.sessions.get(of).map(|id| SessionRef {
                    id: id.clone(),
                    fork: true,
                })
            }
            Session::Continue { .. } | Session::Fork { .. } => None,
        };
        let cwd = self
            .order
            .worktree_path
            .clone()
            .unwrap_or_else(|| runner.repo.clone());
        let invocation = Invocation {
            prompt,
            working_dir: cwd.to_string_lossy().into_owned(),
            model: spec.model.value.clone(),
            mode: Mode::Headless,
            session,
            system_prompt: (!runner.house_rules.trim().is_empty())
                .then(|| runner.house_rules.clone()),
            options: spec.invocation_options(),
        };
        let following = plan
            .downstream(index)
            .into_iter()
            .filter(|&i| i != index)
            .map(|i| plan.stage(i).id.clone())
            .collect();
        let cancel = Arc::new(AtomicBool::new(abort.load(Ordering::Relaxed)));
        self.stages.entry(stage.to_owned()).or_default().cancel = Some(Arc::clone(&cancel));
        Ok(Some(StageJob {
            pool: runner.pool,
            stage: stage.to_owned(),
            provider,
            parser,
            invocation,
            cwd,
            base_env: runner.config.base_env.clone(),
            timeout,
            lease_timeout: runner.config.lease_timeout,
            context: StageContext {
                stage_id: stage.to_owned(),
                following_stages: following,
                attempt,
            },
            cancel,
        }))
    }

    /// A worker's report: persist and emit; the engine event it means, if any.
    fn receive(
        &mut self,
        message: WorkerMsg,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<Option<EngineEvent>, RunnerError> {
        match message {
            WorkerMsg::Spawned { stage, pgid } => {
                if let Some(dir) = &self.runner.config.group_dir
                    && let Err(err) = crate::groups::record(dir, self.order.id, &stage, pgid)
                {
                    tracing::warn!(%err, "recording the agent's process group");
                }
                Ok(Some(EngineEvent::StageStarted { stage }))
            }
            WorkerMsg::Events { stage, events } => {
                let rec = self.stages.entry(stage.clone()).or_default();
                let (run_id, attempt) = (rec.run_id, rec.attempt);
                let mut cost_total = None;
                for event in &events {
                    match event {
                        AgentEvent::SessionStarted { id } => {
                            self.sessions.insert(stage.clone(), id.clone());
                            if let Some(run_id) = run_id {
                                self.runner.store.set_stage_session(run_id, id)?;
                            }
                        }
                        AgentEvent::Usage(usage) => {
                            let value = serde_json::to_value(usage).unwrap_or(Value::Null);
                            let rec = self.stages.entry(stage.clone()).or_default();
                            rec.usage = Some(value.clone());
                            if usage.cost_usd.is_some() {
                                rec.cost = usage.cost_usd;
                            }
                            if let Some(run_id) = run_id {
                                cost_total = Some(self.runner.store.record_stage_usage(
                                    run_id,
                                    &value,
                                    usage.cost_usd,
                                )?);
                            }
                        }
                        _ => {}
                    }
                }
                let new: Vec<NewEvent> = events
                    .iter()
                    .map(|event| {
                        NewEvent::new(
                            events::ORDER_OUTPUT,
                            json!({"stage": stage, "attempt": attempt, "event": event}),
                        )
                    })
                    .collect();
                for stored in self.runner.store.append_events(self.order.id, &new)? {
                    emit(&stored);
                }
                Ok(cost_total.map(|total_usd| EngineEvent::CostRecorded { total_usd }))
            }
            WorkerMsg::Finished { stage, result } => {
                self.active = self.active.saturating_sub(1);
                if let Some(dir) = &self.runner.config.group_dir {
                    crate::groups::forget(dir, self.order.id, &stage);
                }
                let outcome = result.outcome.clone();
                if let StageOutcome::Failed { error } = &outcome {
                    tracing::info!(%stage, "stage failed: {}", abbreviate(error));
                }
                self.stages.entry(stage.clone()).or_default().result = Some(result);
                Ok(Some(EngineEvent::StageFinished { stage, outcome }))
            }
        }
    }
}

impl Runner<'_> {
    fn dry_groups(&self, plan: &Plan) -> Vec<Vec<String>> {
        let mut settled = vec![false; plan.len()];
        let mut groups = Vec::new();
        loop {
            let ready = plan.ready_indices(|i| settled[i], |i| !settled[i]);
            if ready.is_empty() {
                return groups;
            }
            groups.push(ready.iter().map(|&i| plan.stage(i).id.clone()).collect());
            for i in ready {
                settled[i] = true;
            }
        }
    }
}

/// The engine's view of a resolved stage (see the table in `codecafe_engine::plan`).
fn stage_def(spec: &StageSpec) -> StageDef {
    use codecafe_catalog::recipe::OnFailure as Catalog;
    StageDef {
        id: spec.id.clone(),
        after: spec.after.clone(),
        on_failure: match spec.on_failure {
            Catalog::Stop => OnFailure::Stop,
            Catalog::Continue => OnFailure::Continue,
            Catalog::Retry => OnFailure::Retry,
        },
        retries: spec.retries,
        retry_backoff: spec.retry_backoff,
        timeout: spec.timeout,
        context: match spec.context.value {
            SessionContext::Fork => ContextMode::Fork,
            SessionContext::Inherit => ContextMode::Inherit,
        },
    }
}

/// A signal as event JSON: `{"action": "skip", "stages": [...]}` and so on.
fn signal_json(signal: &codecafe_engine::driver::Signal) -> Value {
    use codecafe_engine::driver::Signal;
    match signal {
        Signal::Proceed => json!({"action": "proceed"}),
        Signal::AwaitUser { questions } => json!({"action": "await-user", "questions": questions}),
        Signal::Skip { stages } => json!({"action": "skip", "stages": stages}),
        Signal::SkipNext => json!({"action": "skip-next"}),
        Signal::Retry { reason } => json!({"action": "retry", "reason": reason}),
    }
}
