//! The loop that interprets the engine's commands for one order run.
//!
//! It runs on the calling thread and owns the store connection; each started stage runs on a
//! scoped worker thread (the private `stage` module) that reports over a channel. For every
//! engine command, in order: `Persist*` → the store (before anything is emitted); `StartStage`
//! → render the prompt, build the invocation, hand it to a worker (which holds a terminal slot
//! only while the agent runs); `ScheduleBackoff` → a timer (capped by
//! [`RunnerConfig::max_backoff`](crate::RunnerConfig)); `AwaitInput` → `order:awaiting-input`,
//! and the run returns once nothing runs; `FinishOrder` → `order:completed` / `order:failed` /
//! `order:cancelled` (`order:followup-*` for a follow-up). Every wait is bounded: the channel is
//! polled with a timeout, the heartbeat is renewed while stages run.
//!
//! A cancel (the token, or `order:cancel-requested` from another process) goes to the engine,
//! which cancels. A stop (SIGTERM, shutdown) does not: the workers kill their agents, nothing
//! more is recorded but `order:interrupted`, and `order resume` continues from the store.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use codecafe_catalog::recipe::StageSpec;
use codecafe_catalog::role::{Answer, PreviousOutput};
use codecafe_engine::driver::{
    AwaitReason, EngineCommand, EngineEvent, OrderOutcome, OrderRun, Session, Signal, StageOutcome,
};
use codecafe_engine::{OrderAction, StageAction};
use codecafe_plugin_host::{PluginInfo, PluginKind};
use codecafe_sdk::{AgentEvent, Invocation, Mode, SessionRef, StageContext, Usage};
use codecafe_store::event::{
    AgentOutput, AwaitKind, AwaitingInput, EventBody, FollowupEnded, FollowupStarted,
    OrderCancelled, OrderCompleted, OrderFailed, OrderInterrupted, OrderStarted, SessionMode,
    SignalRecord, StageCompleted, StageFailed, StageRef, StageStarted, Warning,
};
use codecafe_store::{
    Event, NewStageRun, Order, Question, QuestionKind, StageRunUpdate, StatusChange, Store,
};

use crate::error::RunnerError;
use crate::outcome::RunOutcome;
use crate::prepare::{FOLLOWUP_STAGE, Prepared};
use crate::runner::{INTERRUPT_POLL, Runner};
use crate::stage::{StageJob, StageResult, WorkerMsg, abbreviate, run_stage};

/// Per-stage bookkeeping of the loop.
#[derive(Default)]
struct StageRec {
    run_id: Option<i64>,
    attempt: u32,
    started: Option<Instant>,
    usage: Option<Usage>,
    cost: Option<f64>,
    result: Option<StageResult>,
    cancel: Option<Arc<AtomicBool>>,
}

/// An agent session recorded for a stage, and the provider that made it.
#[derive(Debug, Clone)]
struct Recorded {
    session: String,
    provider: Option<String>,
}

/// Drives `run` from `first` until the order finishes, waits, is cancelled or stopped. What
/// earlier runs recorded — each stage's latest agent session and completed output — is read
/// from the store, so sessions continue across processes.
pub(crate) fn drive(
    runner: &Runner<'_>,
    order: &Order,
    prepared: &Prepared,
    mut run: OrderRun,
    first: EngineEvent,
    emit: &mut dyn FnMut(&Event),
) -> Result<RunOutcome, RunnerError> {
    let mut outputs = HashMap::new();
    let mut sessions = HashMap::new();
    let mut stages: HashMap<String, StageRec> = HashMap::new();
    for stage_run in runner.store.stage_runs(order.id)? {
        // The latest run of each stage is the one a continued run updates.
        let rec = stages.entry(stage_run.stage_id.clone()).or_default();
        rec.run_id = Some(stage_run.id);
        rec.attempt = stage_run.attempt;
        if let Some(session) = stage_run.agent_session_id {
            sessions.insert(
                stage_run.stage_id.clone(),
                Recorded {
                    session,
                    provider: stage_run.provider.clone(),
                },
            );
        }
        if stage_run.status == codecafe_engine::StageStatus::Completed
            && let Some(output) = stage_run.output
        {
            outputs.insert(stage_run.stage_id, output);
        }
    }
    let mut seen = runner.store.last_event_seq(order.id)?;
    let (tx, rx) = mpsc::channel::<WorkerMsg>();
    let mut state = Loop {
        runner,
        order,
        prepared,
        stages,
        outputs,
        sessions,
        questions: runner.store.questions(order.id)?,
        backoffs: Vec::new(),
        active: 0,
        outcome: None,
    };
    std::thread::scope(|scope| {
        let result = (|| -> Result<RunOutcome, RunnerError> {
            let mut queue: VecDeque<EngineCommand> = run.handle(first)?.into();
            let mut last_beat = Instant::now();
            let mut cancel_sent = false;
            let mut stopping = None;
            loop {
                while stopping.is_none()
                    && let Some(command) = queue.pop_front()
                {
                    if let Some(job) = state.execute(command, &mut queue, emit)? {
                        let tx = tx.clone();
                        state.active += 1;
                        scope.spawn(move || run_stage(job, &tx));
                    }
                }
                if stopping.is_none()
                    && let Some(reason) = runner.control.stopped()
                {
                    // The process goes away: agents end, the order stays as recorded.
                    state.stop_workers();
                    stopping = Some(reason.to_string());
                }
                if let Some(reason) = &stopping
                    && state.active == 0
                {
                    let event = EventBody::OrderInterrupted(OrderInterrupted {
                        reason: reason.clone(),
                    });
                    state.event(event, emit)?;
                    return Ok(RunOutcome::Interrupted {
                        reason: reason.clone(),
                    });
                }
                if stopping.is_none()
                    && !cancel_sent
                    && state.outcome.is_none()
                    && (runner.control.is_cancelled()
                        || runner.cancel_requested(order.id, &mut seen)?)
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
                if state.active == 0 && state.backoffs.is_empty() && stopping.is_none() {
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
                    .unwrap_or(runner.config.heartbeat)
                    .min(runner.config.heartbeat)
                    .min(INTERRUPT_POLL);
                match rx.recv_timeout(wait) {
                    Ok(message) => {
                        let event = state.receive(message, emit)?;
                        if stopping.is_none()
                            && let Some(event) = event
                        {
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
                if stopping.is_none() {
                    for (stage, _) in due {
                        queue.extend(run.handle(EngineEvent::BackoffElapsed { stage })?);
                    }
                }
                if last_beat.elapsed() >= runner.config.heartbeat {
                    last_beat = Instant::now();
                    if let Err(err) = runner.store.heartbeat(order.id, &runner.config.runner_id) {
                        tracing::warn!(%err, "renewing the order's heartbeat");
                    }
                }
            }
        })();
        if result.is_err() {
            // Stop the workers (they kill their agents); the scope waits for them.
            state.stop_workers();
        }
        result
    })
}

/// The state of one order's loop.
struct Loop<'r, 'a> {
    runner: &'r Runner<'a>,
    order: &'r Order,
    prepared: &'r Prepared,
    stages: HashMap<String, StageRec>,
    outputs: HashMap<String, String>,
    sessions: HashMap<String, Recorded>,
    questions: Vec<Question>,
    backoffs: Vec<(String, Instant)>,
    active: usize,
    outcome: Option<RunOutcome>,
}

impl<'r, 'a> Loop<'r, 'a> {
    fn store(&self) -> &'a Store {
        self.runner.store
    }

    fn event(&self, body: EventBody, emit: &mut dyn FnMut(&Event)) -> Result<(), RunnerError> {
        let event = self.store().append_event(self.order.id, &body)?;
        emit(&event);
        Ok(())
    }

    /// Tells every worker to kill its agent and return.
    fn stop_workers(&self) {
        for rec in self.stages.values() {
            if let Some(cancel) = &rec.cancel {
                cancel.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Executes one command; returns a job when a stage must start on a worker.
    fn execute(
        &mut self,
        command: EngineCommand,
        queue: &mut VecDeque<EngineCommand>,
        emit: &mut dyn FnMut(&Event),
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
                change.event = self.status_event(action)?;
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
                let session = queue.iter().find_map(|c| match c {
                    EngineCommand::StartStage {
                        stage: s, session, ..
                    } if *s == stage => Some(session.clone()),
                    _ => None,
                });
                self.persist_stage(&stage, action, attempt, session.as_ref(), emit)?;
                Ok(None)
            }
            EngineCommand::StartStage {
                stage,
                attempt,
                session,
                retry_reason,
                answers,
                timeout,
            } => self
                .start(&stage, attempt, &session, retry_reason, answers, timeout)
                .map(Some),
            EngineCommand::ScheduleBackoff { stage, delay } => {
                let delay = delay.min(self.runner.config.max_backoff);
                self.backoffs.push((stage, Instant::now() + delay));
                Ok(None)
            }
            EngineCommand::AwaitInput { reason } => {
                let (stage, kind) = match &reason {
                    AwaitReason::Questions { stage, .. } => {
                        (Some(stage.clone()), QuestionKind::Questions)
                    }
                    AwaitReason::Budget { .. } => (None, QuestionKind::Budget),
                };
                let (payload, outcome) = match reason {
                    AwaitReason::Questions { stage, questions } => (
                        AwaitingInput {
                            reason: AwaitKind::Questions,
                            stage: Some(stage.clone()),
                            questions: questions.clone(),
                            spent_usd: None,
                            limit_usd: None,
                        },
                        RunOutcome::AwaitingInput {
                            stage: Some(stage),
                            questions,
                        },
                    ),
                    AwaitReason::Budget {
                        spent_usd,
                        limit_usd,
                    } => {
                        let question = format!(
                            "The order has cost ${spent_usd:.2} of its ${limit_usd:.2} budget. \
                             Raise the budget to go on?"
                        );
                        (
                            AwaitingInput {
                                reason: AwaitKind::Budget,
                                stage: None,
                                questions: vec![question.clone()],
                                spent_usd: Some(spent_usd),
                                limit_usd: Some(limit_usd),
                            },
                            RunOutcome::AwaitingInput {
                                stage: None,
                                questions: vec![question],
                            },
                        )
                    }
                };
                // Stored with the order, so later stages and re-runs in any process see it.
                self.store()
                    .ask(self.order.id, stage.as_deref(), kind, &payload.questions)?;
                self.event(EventBody::AwaitingInput(payload), emit)?;
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
                let cost_usd = self.store().order(self.order.id)?.cost_usd;
                let followup = self.prepared.followup.is_some();
                let stage = || FOLLOWUP_STAGE.to_owned();
                let (body, outcome) = match outcome {
                    OrderOutcome::Completed { failed_stages } => (
                        if followup {
                            EventBody::FollowupCompleted(FollowupEnded {
                                stage: stage(),
                                error: None,
                                cost_usd,
                            })
                        } else {
                            EventBody::OrderCompleted(OrderCompleted {
                                failed_stages: failed_stages.clone(),
                                cost_usd,
                            })
                        },
                        RunOutcome::Completed { failed_stages },
                    ),
                    OrderOutcome::Failed {
                        stage: failed,
                        error,
                        can_retry,
                    } => (
                        if followup {
                            EventBody::FollowupFailed(FollowupEnded {
                                stage: stage(),
                                error: Some(error.clone()),
                                cost_usd,
                            })
                        } else {
                            EventBody::OrderFailed(OrderFailed {
                                stage: failed.clone(),
                                error: error.clone(),
                                can_retry,
                                cost_usd,
                            })
                        },
                        RunOutcome::Failed {
                            stage: failed,
                            error,
                        },
                    ),
                    OrderOutcome::Cancelled => (
                        if followup {
                            EventBody::FollowupCancelled(StageRef { stage: stage() })
                        } else {
                            EventBody::OrderCancelled(OrderCancelled { cost_usd })
                        },
                        RunOutcome::Cancelled,
                    ),
                };
                self.event(body, emit)?;
                self.outcome = Some(outcome);
                Ok(None)
            }
            EngineCommand::Warn { message } => {
                tracing::warn!(order = %self.order.short_id(), "{message}");
                self.event(EventBody::Warning(Warning { message }), emit)?;
                Ok(None)
            }
        }
    }

    /// The event stored with an order's status change, if the change has one.
    fn status_event(&self, action: OrderAction) -> Result<Option<EventBody>, RunnerError> {
        Ok(match action {
            OrderAction::Start => Some(EventBody::OrderStarted(OrderStarted {
                recipe_id: self.prepared.recipe.id.clone(),
                stages: self
                    .prepared
                    .plan
                    .stages()
                    .iter()
                    .map(|s| s.id.clone())
                    .collect(),
                groups: self.prepared.groups(),
            })),
            OrderAction::RunFollowup => {
                let spec = self.prepared.spec(FOLLOWUP_STAGE)?;
                self.prepared.followup.as_ref().map(|followup| {
                    EventBody::FollowupStarted(FollowupStarted {
                        stage: FOLLOWUP_STAGE.to_owned(),
                        based_on: Some(followup.based_on.clone()),
                        provider: spec.provider.value.clone(),
                        prompt: followup.request.clone(),
                    })
                })
            }
            _ => None,
        })
    }

    fn persist_stage(
        &mut self,
        stage: &str,
        action: StageAction,
        attempt: u32,
        session: Option<&Session>,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<(), RunnerError> {
        let store = self.store();
        let prepared = self.prepared;
        let spec = prepared.spec(stage)?;
        let provider = spec.provider.value.clone();
        let (mode, of) = match session {
            Some(session) => match self.session_for(spec, session)? {
                Some(resolved) => (resolved.mode, Some(resolved.of)),
                None => (SessionMode::Fresh, None),
            },
            None => (SessionMode::Fresh, None),
        };
        let rec = self.stages.entry(stage.to_owned()).or_default();
        match action {
            StageAction::Start => {
                let run = store.start_stage_run(
                    &NewStageRun::new(self.order.id, stage).provider(provider.clone()),
                )?;
                rec.run_id = Some(run.id);
                rec.attempt = run.attempt;
                rec.started = Some(Instant::now());
                rec.usage = None;
                rec.cost = None;
                rec.result = None;
                let body = EventBody::StageStarted(StageStarted {
                    stage: stage.to_owned(),
                    attempt: run.attempt,
                    provider,
                    session: mode,
                    session_of: of,
                });
                self.event(body, emit)
            }
            StageAction::Skip => {
                store.skip_stage(self.order.id, stage)?;
                self.event(
                    EventBody::StageSkipped(StageRef {
                        stage: stage.to_owned(),
                    }),
                    emit,
                )
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
                        return self.event(
                            EventBody::StageCancelled(StageRef {
                                stage: stage.to_owned(),
                            }),
                            emit,
                        );
                    }
                    return Err(RunnerError::Internal(format!(
                        "stage `{stage}` has no run to {action}"
                    )));
                };
                let attempt = if rec.attempt > 0 {
                    rec.attempt
                } else {
                    attempt
                };
                let result = rec.result.as_ref();
                let error = result.and_then(|r| match &r.outcome {
                    StageOutcome::Failed { error } => Some(error.clone()),
                    StageOutcome::TimedOut => Some(format!(
                        "timed out after {}",
                        codecafe_catalog::recipe::duration::format_duration(spec.timeout)
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
                let (usage, cost_usd, exit_code) =
                    (rec.usage, rec.cost, result.and_then(|r| r.exit_code));
                let signals = result
                    .map(|r| match &r.outcome {
                        StageOutcome::Succeeded { signals } => {
                            signals.iter().map(signal_record).collect::<Vec<_>>()
                        }
                        _ => Vec::new(),
                    })
                    .unwrap_or_default();
                let output = result.map(|r| r.output.clone());
                let stage = stage.to_owned();
                match action {
                    StageAction::Complete => {
                        if let Some(output) = output {
                            self.outputs.insert(stage.clone(), output);
                        }
                        self.event(
                            EventBody::StageCompleted(StageCompleted {
                                stage,
                                attempt,
                                duration_ms,
                                usage,
                                cost_usd,
                                signals,
                            }),
                            emit,
                        )
                    }
                    StageAction::Fail => self.event(
                        EventBody::StageFailed(StageFailed {
                            stage,
                            attempt,
                            duration_ms,
                            error,
                            exit_code,
                            usage,
                            cost_usd,
                        }),
                        emit,
                    ),
                    StageAction::Cancel => {
                        self.event(EventBody::StageCancelled(StageRef { stage }), emit)
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    /// The agent session stage `spec` runs in for `session`: a session is continued or forked
    /// only by the provider that made it (a claude session id means nothing to codex), and
    /// forked only by a provider that can fork; otherwise the stage starts fresh (`None`).
    fn session_for(
        &self,
        spec: &StageSpec,
        session: &Session,
    ) -> Result<Option<ResolvedSession>, RunnerError> {
        let (of, fork) = match session {
            Session::Fresh => return Ok(None),
            Session::Continue { of } => (of, false),
            Session::Fork { of } => (of, true),
        };
        let Some(recorded) = self.sessions.get(of) else {
            return Ok(None);
        };
        if recorded
            .provider
            .as_deref()
            .is_some_and(|p| p != spec.provider.value)
        {
            return Ok(None);
        }
        if fork {
            let plugin = self
                .runner
                .plugins
                .get_kind(&spec.provider.value, PluginKind::Provider)?;
            if !matches!(plugin.info(), PluginInfo::Provider(info) if info.capabilities.fork) {
                return Ok(None);
            }
        }
        Ok(Some(ResolvedSession {
            id: recorded.session.clone(),
            of: of.clone(),
            mode: if fork {
                SessionMode::Fork
            } else {
                SessionMode::Continue
            },
        }))
    }

    fn start(
        &mut self,
        stage: &str,
        attempt: u32,
        session: &Session,
        retry_reason: Option<String>,
        answers: Vec<String>,
        timeout: Duration,
    ) -> Result<StageJob<'a>, RunnerError> {
        let runner = self.runner;
        let prepared = self.prepared;
        let spec = prepared.spec(stage)?;
        let plan = &prepared.plan;
        let index = plan
            .index_of(stage)
            .ok_or_else(|| RunnerError::Internal(format!("unknown stage `{stage}`")))?;
        let previous = self.previous_outputs(index);
        // The answers come from the store (recorded before this run), not from the engine's
        // list of answers the session has not seen: a re-run in another process sees them too.
        let _ = answers;
        let mut prompt = prepared.render(spec, previous, self.answers_for(index), attempt)?;
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
        let session = self.session_for(spec, session)?.map(|resolved| SessionRef {
            id: resolved.id,
            fork: resolved.mode == SessionMode::Fork,
        });
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
            system_prompt: (!prepared.house_rules.trim().is_empty())
                .then(|| prepared.house_rules.clone()),
            options: spec.invocation_options(),
        };
        let following = plan
            .downstream(index)
            .into_iter()
            .filter(|&i| i != index)
            .map(|i| plan.stage(i).id.clone())
            .collect();
        let cancel = Arc::new(AtomicBool::new(false));
        self.stages.entry(stage.to_owned()).or_default().cancel = Some(Arc::clone(&cancel));
        Ok(StageJob {
            slots: runner.slots,
            order: self.order.id,
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
        })
    }

    /// The final texts a stage's prompt sees: its ancestors' in the plan, in plan order,
    /// whatever the timing (for a follow-up: every recipe stage's).
    fn previous_outputs(&self, index: usize) -> Vec<PreviousOutput> {
        let plan = &self.prepared.plan;
        let ids: Vec<String> = if self.prepared.followup.is_some() {
            self.outputs
                .keys()
                .filter(|id| id.as_str() != FOLLOWUP_STAGE)
                .cloned()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect()
        } else {
            plan.ancestors(index)
                .iter()
                .map(|&a| plan.stage(a).id.clone())
                .collect()
        };
        ids.into_iter()
            .filter_map(|id| {
                self.outputs.get(&id).map(|output| PreviousOutput {
                    stage: id.clone(),
                    output: output.clone(),
                })
            })
            .collect()
    }

    /// The user's answers a stage's prompt sees: those to questions of the stage itself or of
    /// its ancestors in the plan, in the order given (for a follow-up: every answer).
    fn answers_for(&self, index: usize) -> Vec<Answer> {
        let plan = &self.prepared.plan;
        let mut stages: Vec<&str> = plan
            .ancestors(index)
            .iter()
            .map(|&a| plan.stage(a).id.as_str())
            .collect();
        stages.push(plan.stage(index).id.as_str());
        let followup = self.prepared.followup.is_some();
        self.questions
            .iter()
            .filter(|q| q.kind == QuestionKind::Questions)
            .filter_map(|q| {
                let stage = q.stage.as_deref()?;
                let answer = q.answer.clone()?;
                (followup || stages.contains(&stage)).then(|| Answer {
                    stage: stage.to_owned(),
                    questions: q.questions.clone(),
                    answer,
                })
            })
            .collect()
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
                            let provider = self.prepared.spec(&stage)?.provider.value.clone();
                            self.sessions.insert(
                                stage.clone(),
                                Recorded {
                                    session: id.clone(),
                                    provider: Some(provider),
                                },
                            );
                            if let Some(run_id) = run_id {
                                self.runner.store.set_stage_session(run_id, id)?;
                            }
                        }
                        AgentEvent::Usage(usage) => {
                            let rec = self.stages.entry(stage.clone()).or_default();
                            rec.usage = Some(*usage);
                            if usage.cost_usd.is_some() {
                                rec.cost = usage.cost_usd;
                            }
                            if let Some(run_id) = run_id {
                                cost_total = Some(self.runner.store.record_stage_usage(
                                    run_id,
                                    usage,
                                    usage.cost_usd,
                                )?);
                            }
                        }
                        _ => {}
                    }
                }
                let new: Vec<EventBody> = events
                    .into_iter()
                    .map(|event| {
                        EventBody::Output(AgentOutput {
                            stage: stage.clone(),
                            attempt,
                            event,
                        })
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

/// A session a stage continues or forks.
struct ResolvedSession {
    id: String,
    of: String,
    mode: SessionMode,
}

/// A signal as recorded in `stage:completed`.
fn signal_record(signal: &Signal) -> SignalRecord {
    match signal {
        Signal::Proceed => SignalRecord::Proceed,
        Signal::AwaitUser { questions } => SignalRecord::AwaitUser {
            questions: questions.clone(),
        },
        Signal::Skip { stages } => SignalRecord::Skip {
            stages: stages.clone(),
        },
        Signal::SkipNext => SignalRecord::SkipNext,
        Signal::Retry { reason } => SignalRecord::Retry {
            reason: reason.clone(),
        },
    }
}
