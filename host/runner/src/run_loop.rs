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
use codecafe_sdk::{AgentEvent, Invocation, SessionRef, StageContext, Usage};
use codecafe_store::event::{
    AgentOutput, AwaitKind, AwaitingInput, EventBody, FollowupEnded, FollowupStarted,
    OrderCancelled, OrderCompleted, OrderFailed, OrderInterrupted, OrderStarted, SessionMode,
    SignalRecord, StageCompleted, StageFailed, StageRef, StageStarted, Warning,
};
use codecafe_store::{
    Approval, Event, NewStageRun, Order, Question, QuestionKind, StageRunUpdate, StatusChange,
    Store,
};

use crate::error::RunnerError;
use crate::outcome::RunOutcome;
use crate::prepare::{FOLLOWUP_STAGE, Prepared};
use crate::pricing::CostKind;
use crate::runner::{INTERRUPT_POLL, Runner};
use crate::stage::{StageJob, StageResult, WorkerMsg, abbreviate, run_stage};

mod persist;
mod start;

/// Per-stage bookkeeping of the loop.
#[derive(Default)]
struct StageRec {
    run_id: Option<i64>,
    attempt: u32,
    started: Option<Instant>,
    usage: Option<Usage>,
    cost: Option<f64>,
    /// The total of the agent session this run continues or forks, as its agent reported it
    /// when it was left (0 for a fresh session): subtracted from reported session totals.
    cost_baseline: f64,
    /// The token totals of that session when this run started, for agents that report totals.
    usage_baseline: Option<Usage>,
    /// What earlier processes of this run reported (an answered question continues the run in a
    /// new process), for agents that report each process's own tokens.
    usage_before: Option<Usage>,
    /// How `cost` was arrived at.
    cost_kind: CostKind,
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
        // A run continued in this process (an answer, a resume) goes on from what it recorded:
        // its session's totals when it started are its latest totals less its own figures.
        rec.usage = stage_run.usage;
        rec.cost = stage_run.cost_usd;
        rec.usage_before = stage_run.usage;
        rec.cost_baseline = match (stage_run.session_cost_usd, stage_run.cost_usd) {
            (Some(total), Some(own)) if total >= own => total - own,
            _ => 0.0,
        };
        rec.usage_baseline = stage_run
            .session_usage
            .map(|total| crate::pricing::usage_less(&total, stage_run.usage.as_ref()));
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
        approvals: runner.store.approvals(order.id)?,
        live_waits: std::collections::HashSet::new(),
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
    /// The order's approvals: the decided ones answer repeated requests.
    approvals: Vec<Approval>,
    /// Interactive stages waiting for a human while their agent runs.
    live_waits: std::collections::HashSet<String>,
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
                let approval = match &reason {
                    AwaitReason::Questions { stage, .. } => self
                        .approvals
                        .iter()
                        .rev()
                        .find(|a| &a.stage == stage && a.is_pending())
                        .cloned(),
                    AwaitReason::Budget { .. } => None,
                };
                let (stage, kind) = match &reason {
                    AwaitReason::Questions { stage, .. } if approval.is_some() => {
                        (Some(stage.clone()), QuestionKind::Approval)
                    }
                    AwaitReason::Questions { stage, .. } => {
                        (Some(stage.clone()), QuestionKind::Questions)
                    }
                    AwaitReason::Budget { .. } => (None, QuestionKind::Budget),
                };
                let (payload, outcome) = match reason {
                    AwaitReason::Questions { stage, questions } => (
                        AwaitingInput {
                            reason: if approval.is_some() {
                                AwaitKind::Approval
                            } else {
                                AwaitKind::Questions
                            },
                            stage: Some(stage.clone()),
                            questions: questions.clone(),
                            spent_usd: None,
                            limit_usd: None,
                            approval: approval.clone(),
                        },
                        RunOutcome::AwaitingInput {
                            stage: Some(stage),
                            questions,
                            approval: approval.map(Box::new),
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
                                approval: None,
                            },
                            RunOutcome::AwaitingInput {
                                stage: None,
                                questions: vec![question],
                                approval: None,
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
                                cost_estimated: self
                                    .store()
                                    .stage_runs(self.order.id)?
                                    .iter()
                                    .any(|run| run.cost_estimated),
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
                if outcome == RunOutcome::Cancelled {
                    // Nobody is left to decide them.
                    self.store().withdraw_approvals(self.order.id)?;
                }
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

    /// A worker's report: persist and emit; the engine event it means, if any.
    fn receive(
        &mut self,
        message: WorkerMsg,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<Option<EngineEvent>, RunnerError> {
        match message {
            WorkerMsg::Decided { decided } => {
                self.event(EventBody::ApprovalDecided(decided), emit)?;
                Ok(None)
            }
            WorkerMsg::Waiting { stage, waiting } => {
                self.live_waits.insert(stage.clone());
                self.live_waiting(&stage, waiting, emit)?;
                Ok(None)
            }
            WorkerMsg::Resumed { stage, answered } => {
                self.live_waits.remove(&stage);
                self.live_resumed(&stage, answered, emit)?;
                Ok(None)
            }
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
                        AgentEvent::Usage(reported) => {
                            let rec = self.stages.entry(stage.clone()).or_default();
                            let usage = crate::pricing::run_usage(
                                reported,
                                rec.usage_baseline.as_ref(),
                                rec.usage_before.as_ref(),
                            );
                            let (cost, kind) = self.run_cost(&stage, &usage)?;
                            let rec = self.stages.entry(stage.clone()).or_default();
                            rec.usage = Some(usage);
                            if cost.is_some() {
                                rec.cost = cost;
                            }
                            rec.cost_kind = kind.clone();
                            if let Some(run_id) = run_id {
                                cost_total = Some(
                                    self.runner.store.record_stage_usage(run_id, &usage, cost)?,
                                );
                                let session_cost =
                                    reported.cost_usd.filter(|_| reported.cost_is_session_total);
                                let session_usage =
                                    reported.tokens_are_session_total.then_some(reported);
                                self.runner.store.record_stage_cost_basis(
                                    run_id,
                                    session_cost,
                                    session_usage,
                                    kind == CostKind::Estimated,
                                )?;
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
                if self.live_waits.remove(&stage) {
                    self.live_wait_ended(&stage)?;
                }
                if let Some(dir) = &self.runner.config.group_dir {
                    crate::groups::forget(dir, self.order.id, &stage);
                }
                let outcome = result.outcome.clone();
                if let StageOutcome::Failed { error } = &outcome {
                    tracing::info!(%stage, "stage failed: {}", abbreviate(error));
                }
                if let Some(request) = &result.approval {
                    // Durable before the order says it waits: any later process can decide it.
                    let approval = self.store().request_approval(self.order.id, request)?;
                    self.approvals.push(approval);
                }
                self.stages.entry(stage.clone()).or_default().result = Some(result);
                Ok(Some(EngineEvent::StageFinished { stage, outcome }))
            }
        }
    }
}

impl Loop<'_, '_> {
    /// An interactive stage asks a human while its agent keeps running: recorded like any
    /// question or approval (durable first, so any process can answer it), the order awaits
    /// input. The engine still sees the stage running.
    fn live_waiting(
        &mut self,
        stage: &str,
        waiting: crate::interactive::Waiting,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<(), RunnerError> {
        let (reason, kind, questions, approval) = match waiting {
            crate::interactive::Waiting::Approval(request) => {
                let approval = self.store().request_approval(self.order.id, &request)?;
                self.approvals.push(approval.clone());
                (
                    AwaitKind::Approval,
                    QuestionKind::Approval,
                    vec![format!("Approve {}?", approval.summary)],
                    Some(approval),
                )
            }
            crate::interactive::Waiting::Question(question) => (
                AwaitKind::Questions,
                QuestionKind::Questions,
                vec![question],
                None,
            ),
        };
        self.store()
            .ask(self.order.id, Some(stage), kind, &questions)?;
        self.store()
            .update_status(self.order.id, OrderAction::AwaitInput)?;
        let payload = AwaitingInput {
            reason,
            stage: Some(stage.to_owned()),
            questions,
            spent_usd: None,
            limit_usd: None,
            approval,
        };
        self.event(EventBody::AwaitingInput(payload), emit)
    }

    /// An interactive stage ended while it waited for a human (its agent died, it was
    /// cancelled or timed out): nobody is left to answer it, and the order runs on or ends.
    fn live_wait_ended(&mut self, stage: &str) -> Result<(), RunnerError> {
        let pending: Vec<i64> = self
            .approvals
            .iter()
            .filter(|a| a.stage == stage && a.is_pending())
            .map(|a| a.id)
            .collect();
        for id in pending {
            let withdrawn = self.store().decide_approval(
                self.order.id,
                id,
                codecafe_store::Decision::Withdrawn,
                Some("the stage ended before anyone decided"),
            )?;
            if let Some(kept) = self.approvals.iter_mut().find(|a| a.id == id) {
                *kept = withdrawn;
            }
        }
        if let Err(err) = self.store().answer(self.order.id, "(the stage ended)") {
            tracing::debug!(%err, "closing the interactive stage's question");
        }
        let order = self.store().order(self.order.id)?;
        if order.status.awaits_input() {
            self.store()
                .update_status(self.order.id, OrderAction::InputReceived)?;
        }
        Ok(())
    }

    /// The human answered an interactive stage (over its live socket, or in its terminal).
    fn live_resumed(
        &mut self,
        stage: &str,
        answered: crate::interactive::Answered,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<(), RunnerError> {
        let answer = match answered {
            crate::interactive::Answered::Approval { decision, reason } => {
                let pending = self
                    .approvals
                    .iter()
                    .rev()
                    .find(|a| a.stage == stage && a.is_pending())
                    .map(|a| a.id);
                if let Some(id) = pending {
                    let decided = self.store().decide_approval(
                        self.order.id,
                        id,
                        decision,
                        reason.as_deref(),
                    )?;
                    if let Some(kept) = self.approvals.iter_mut().find(|a| a.id == id) {
                        *kept = decided.clone();
                    }
                    self.event(
                        EventBody::ApprovalDecided(codecafe_store::event::ApprovalDecided {
                            approval_id: Some(id),
                            stage: stage.to_owned(),
                            tool: decided.tool.clone(),
                            summary: decided.summary.clone(),
                            decision,
                            reason,
                            from_record: false,
                        }),
                        emit,
                    )?;
                }
                decision.name().to_owned()
            }
            crate::interactive::Answered::Question(text) => {
                text.unwrap_or_else(|| "(answered in the agent's terminal)".to_owned())
            }
        };
        if let Err(err) = self.store().answer(self.order.id, &answer) {
            tracing::debug!(%err, "closing the interactive stage's question");
        }
        self.store()
            .update_status(self.order.id, OrderAction::InputReceived)?;
        Ok(())
    }
}

/// A session a stage continues or forks.
struct ResolvedSession {
    id: String,
    of: String,
    mode: SessionMode,
}
