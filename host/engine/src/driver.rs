//! The order run: a pure state machine that takes [`EngineEvent`]s and returns
//! [`EngineCommand`]s. No clock (time arrives as durations in commands and as
//! [`EngineEvent::BackoffElapsed`]), no I/O, no threads.
//!
//! Every status change goes through the order and stage transition tables
//! ([`crate::order`], [`crate::stage`]); an illegal move is an [`EngineError`] and the run is
//! left exactly as it was (each event is applied to a copy that replaces the run only on
//! success). Every change is returned as a `PersistOrder`/`PersistStage` command *before* the
//! command that acts on it, so a runner that executes commands in order persists before it
//! emits or spawns.
//!
//! ## Semantics
//!
//! - **Scheduling**: every stage whose predecessors are all settled (completed, skipped, or
//!   failed under `continue`) starts in the same batch. Nothing new starts while the order is
//!   failing, cancelling, paused by the budget, or while any stage awaits input.
//! - **`on_failure: stop`** (and `retry` once its retries are used): no new stage starts; stages
//!   already running in parallel are **allowed to finish** (their work is kept; they hold a
//!   lease only while they run); stages awaiting input are cancelled; when nothing runs the order
//!   fails with `can_retry: true`.
//! - **`on_failure: continue`**: the stage is `failed` but counts as settled, so dependents
//!   run; the order completes and lists it in `failed_stages`.
//! - **`on_failure: retry`**: up to `min(retries, MAX_RETRIES)` re-runs; each re-run waits
//!   `retry_backoff` (a `ScheduleBackoff` command, then `BackoffElapsed`; no wait when zero).
//!   A failure re-run starts the stage's first-attempt session with the error as `retry_reason`.
//! - **Signals** (from a successful stage, applied in this order): `skip`/`skip_next` skip
//!   stages that have not started; an unknown id or a stage already started is *ignored with a
//!   [`EngineCommand::Warn`]* (an agent's mistake should not break the order). Skipping does
//!   not cascade: the dependents of a skipped stage still run. Then `await_user` wins over
//!   `retry`: the stage awaits input, and once nothing else runs the order is awaiting input
//!   (no `StartStage` at all until `InputReceived`, which continues the **same** session of the
//!   same stage with the answer, same attempt). `retry(reason)` re-runs the stage continuing its
//!   session (after `retry_backoff` when it is not zero), counting against the same bound as
//!   failure retries — at least one re-run is
//!   allowed even when `retries` is 0; past the bound it is a failure under the stage's policy.
//! - **Budget**: with `max_cost_usd`, once the recorded cost reaches the limit no stage starts;
//!   when nothing runs the order awaits input (reason `Budget`). Only
//!   [`EngineEvent::BudgetRaised`] (a new limit above the cost) continues it; an answer
//!   (`InputReceived`) is refused, so no answer spends more by accident.
//! - **Cancel**: pending and awaiting stages are cancelled at once; running ones are listed in
//!   one `CancelRunning`; the order is recorded cancelled only when the runner reported each of
//!   them finished (kill, release, then record).
//! - **User retry** (`failed`/`cancelled` order): from the failed stages (default), from a chosen
//!   stage (it and everything downstream re-run, plus any failed stage), or from the beginning;
//!   `fresh` starts new sessions, otherwise each re-run continues its own previous session.
//! - **Crash resume**: [`OrderRun::restore`] from persisted statuses, then
//!   [`EngineEvent::ResumeAfterCrash`]: stages that were running are restarted in their own
//!   session (same attempt); completed ones are never re-run.
//!
//! Sessions: a stage's first attempt runs `Fresh` when it has no single predecessor, else
//! `Continue` (context `inherit`) or `Fork` (context `fork`) of that predecessor. A runner that
//! has no recorded session for a `Continue`/`Fork` target starts fresh.

mod types;

use std::sync::Arc;

pub use types::{
    AwaitReason, EngineCommand, EngineEvent, OrderOutcome, OrderSnapshot, RetryFrom, RunOptions,
    Session, Signal, StageOutcome, StageSnapshot,
};

use crate::error::EngineError;
use crate::order::{OrderAction, OrderStatus};
use crate::plan::{ContextMode, OnFailure, Plan};
use crate::stage::{StageAction, StageStatus};

#[derive(Debug, Clone)]
struct StageState {
    status: StageStatus,
    attempt: u32,
    retries_used: u32,
    in_backoff: bool,
    acked: bool,
    next_session: Option<Session>,
    retry_reason: Option<String>,
    new_answers: Vec<String>,
    all_answers: Vec<String>,
    questions: Vec<String>,
    last_error: Option<String>,
}

impl Default for StageState {
    fn default() -> Self {
        Self {
            status: StageStatus::Pending,
            attempt: 0,
            retries_used: 0,
            in_backoff: false,
            acked: false,
            next_session: None,
            retry_reason: None,
            new_answers: Vec::new(),
            all_answers: Vec::new(),
            questions: Vec::new(),
            last_error: None,
        }
    }
}

#[derive(Debug, Clone)]
enum Waiting {
    Stage(usize),
    Budget,
}

/// The state machine of one order's run. See the module docs for the semantics.
#[derive(Debug, Clone)]
pub struct OrderRun {
    plan: Arc<Plan>,
    status: OrderStatus,
    stages: Vec<StageState>,
    cost: f64,
    budget_limit: Option<f64>,
    waiting: Option<Waiting>,
    failure: Option<(usize, String)>,
    cancelling: bool,
    followup: bool,
}

impl OrderRun {
    /// A run of `plan` in status `created`.
    pub fn new(plan: Plan, options: RunOptions) -> Self {
        let n = plan.len();
        Self {
            plan: Arc::new(plan),
            status: OrderStatus::Created,
            stages: vec![StageState::default(); n],
            cost: 0.0,
            budget_limit: options.max_cost_usd,
            waiting: None,
            failure: None,
            cancelling: false,
            followup: false,
        }
    }

    /// A follow-up of a completed order (in status `followup`) as a run of `plan`, a plan of one
    /// stage: [`EngineEvent::Start`] applies `run-followup`, and the stage starts in `session`
    /// (the session of the previous follow-up or of the recipe stage it is based on). It then
    /// runs like any stage: signals, the budget (from the order's cost `cost_usd` so far),
    /// cancel; completing, failing or being cancelled brings the order back to `followup`, and
    /// `await_user` makes it `followup-awaiting-input`. `earlier` follow-ups ran before, so this
    /// one's attempt number is `earlier + 1`.
    pub fn followup(
        plan: Plan,
        options: RunOptions,
        cost_usd: f64,
        session: Session,
        earlier: u32,
    ) -> Self {
        let mut run = Self::new(plan, options);
        run.status = OrderStatus::Followup;
        run.followup = true;
        run.cost = cost_usd;
        for stage in &mut run.stages {
            stage.next_session = Some(session.clone());
            stage.attempt = earlier;
        }
        run
    }

    /// The status the order has while this run's agents work.
    fn running_status(&self) -> OrderStatus {
        if self.followup {
            OrderStatus::FollowupRunning
        } else {
            OrderStatus::Running
        }
    }

    /// The status the order has while this run waits for input.
    fn awaiting_status(&self) -> OrderStatus {
        if self.followup {
            OrderStatus::FollowupAwaitingInput
        } else {
            OrderStatus::AwaitingInput
        }
    }

    /// A run rebuilt from persisted state after codecafe died. Send
    /// [`EngineEvent::ResumeAfterCrash`] to continue it: stages that were `running` restart in
    /// their own session with the same attempt number, completed and skipped stages are never
    /// re-run, and a stage that was waiting out a retry backoff starts at once (its timer died
    /// with the process). A running order with a stage that failed under `stop` finishes failing.
    pub fn restore(
        plan: Plan,
        options: RunOptions,
        snapshot: OrderSnapshot,
    ) -> Result<Self, EngineError> {
        let mut run = Self::new(plan, options);
        run.status = snapshot.status;
        run.followup = snapshot.status.in_followup();
        run.cost = snapshot.cost_usd;
        for s in snapshot.stages {
            let i = run
                .plan
                .index_of(&s.id)
                .ok_or_else(|| EngineError::BadSnapshot(format!("unknown stage `{}`", s.id)))?;
            let st = &mut run.stages[i];
            st.status = s.status;
            st.attempt = s.attempt;
            st.retries_used = s.retries_used;
            st.questions = s.questions;
            st.acked = true;
        }
        if run.status == run.awaiting_status() {
            run.waiting = Some(
                match run
                    .stages
                    .iter()
                    .position(|s| s.status == StageStatus::AwaitingInput)
                {
                    Some(i) => Waiting::Stage(i),
                    None => Waiting::Budget,
                },
            );
        }
        if run.status == run.running_status() {
            let stopped = (0..run.stages.len()).find(|&i| {
                run.stages[i].status == StageStatus::Failed
                    && run.plan.stage(i).on_failure != OnFailure::Continue
            });
            if let Some(i) = stopped {
                run.failure = Some((i, "failed before codecafe stopped".to_owned()));
            }
        }
        Ok(run)
    }

    /// The persisted form of the run.
    pub fn snapshot(&self) -> OrderSnapshot {
        OrderSnapshot {
            status: self.status,
            stages: self
                .stages
                .iter()
                .enumerate()
                .map(|(i, s)| StageSnapshot {
                    id: self.plan.stage(i).id.clone(),
                    status: s.status,
                    attempt: s.attempt,
                    retries_used: s.retries_used,
                    questions: s.questions.clone(),
                })
                .collect(),
            cost_usd: self.cost,
        }
    }

    /// The order's status.
    pub fn status(&self) -> OrderStatus {
        self.status
    }

    /// Whether the order waits for a budget decision ([`EngineEvent::BudgetRaised`]) rather
    /// than for an answer.
    pub fn waits_for_budget(&self) -> bool {
        matches!(self.waiting, Some(Waiting::Budget))
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// A stage's status.
    pub fn stage_status(&self, id: &str) -> Option<StageStatus> {
        self.plan.index_of(id).map(|i| self.stages[i].status)
    }

    /// A stage's attempt number.
    pub fn attempt(&self, id: &str) -> Option<u32> {
        self.plan.index_of(id).map(|i| self.stages[i].attempt)
    }

    /// Applies one event: the commands to execute in order, or why the event is refused (the
    /// run is then unchanged).
    pub fn handle(&mut self, event: EngineEvent) -> Result<Vec<EngineCommand>, EngineError> {
        let mut next = self.clone();
        let mut cmds = Vec::new();
        next.apply(event, &mut cmds)?;
        *self = next;
        Ok(cmds)
    }

    fn unexpected(&self, event: &'static str, why: impl Into<String>) -> EngineError {
        EngineError::UnexpectedEvent {
            event,
            status: self.status,
            why: why.into(),
        }
    }

    fn index(&self, id: &str) -> Result<usize, EngineError> {
        self.plan
            .index_of(id)
            .ok_or_else(|| EngineError::UnknownStage(id.to_owned()))
    }

    fn id(&self, i: usize) -> String {
        self.plan.stage(i).id.clone()
    }

    fn order_to(
        &mut self,
        action: OrderAction,
        cmds: &mut Vec<EngineCommand>,
    ) -> Result<(), EngineError> {
        self.status = self.status.apply(action)?;
        cmds.push(EngineCommand::PersistOrder {
            action,
            status: self.status,
        });
        Ok(())
    }

    fn stage_to(
        &mut self,
        i: usize,
        action: StageAction,
        cmds: &mut Vec<EngineCommand>,
    ) -> Result<(), EngineError> {
        let stage = self.id(i);
        let st = &mut self.stages[i];
        st.status = st
            .status
            .apply(action)
            .map_err(|source| EngineError::IllegalStage {
                stage: stage.clone(),
                source,
            })?;
        cmds.push(EngineCommand::PersistStage {
            stage,
            action,
            status: st.status,
            attempt: st.attempt,
        });
        Ok(())
    }

    fn apply(
        &mut self,
        event: EngineEvent,
        cmds: &mut Vec<EngineCommand>,
    ) -> Result<(), EngineError> {
        match event {
            EngineEvent::Start => {
                let action = if self.followup {
                    OrderAction::RunFollowup
                } else {
                    OrderAction::Start
                };
                self.order_to(action, cmds)?;
                self.advance(cmds)
            }
            EngineEvent::StageStarted { stage } => {
                let i = self.index(&stage)?;
                let st = &mut self.stages[i];
                if st.status != StageStatus::Running || st.acked {
                    return Err(self.unexpected(
                        "stage-started",
                        format!("stage `{stage}` was not told to start"),
                    ));
                }
                st.acked = true;
                Ok(())
            }
            EngineEvent::StageFinished { stage, outcome } => {
                let i = self.index(&stage)?;
                if self.status != self.running_status() {
                    return Err(self.unexpected(
                        "stage-finished",
                        format!("stage `{stage}` cannot finish now"),
                    ));
                }
                self.finished(i, outcome, cmds)?;
                self.advance(cmds)
            }
            EngineEvent::BackoffElapsed { stage } => {
                let i = self.index(&stage)?;
                if !self.stages[i].in_backoff || self.status != self.running_status() {
                    return Err(self.unexpected(
                        "backoff-elapsed",
                        format!("stage `{stage}` waits for no backoff"),
                    ));
                }
                self.stages[i].in_backoff = false;
                self.advance(cmds)
            }
            EngineEvent::InputReceived { answer } => {
                let waiting = match &self.waiting {
                    Some(w) if self.status == self.awaiting_status() => w.clone(),
                    _ => return Err(self.unexpected("input-received", "no question is open")),
                };
                if matches!(waiting, Waiting::Budget) {
                    return Err(self.unexpected(
                        "input-received",
                        "the order waits for a budget decision: raise the budget or cancel it",
                    ));
                }
                self.order_to(OrderAction::InputReceived, cmds)?;
                self.waiting = None;
                match waiting {
                    Waiting::Budget => {}
                    Waiting::Stage(i) => {
                        self.stage_to(i, StageAction::InputReceived, cmds)?;
                        let of = self.id(i);
                        let st = &mut self.stages[i];
                        st.acked = false;
                        st.questions.clear();
                        st.all_answers.push(answer.clone());
                        st.new_answers = vec![answer];
                        st.next_session = Some(Session::Continue { of });
                        self.emit_start(i, false, cmds);
                    }
                }
                self.advance(cmds)
            }
            EngineEvent::BudgetRaised { limit_usd } => {
                if !matches!(self.waiting, Some(Waiting::Budget))
                    || self.status != self.awaiting_status()
                {
                    return Err(self.unexpected(
                        "budget-raised",
                        "the order does not wait for a budget decision",
                    ));
                }
                if !(limit_usd.is_finite() && limit_usd > self.cost) {
                    return Err(self.unexpected(
                        "budget-raised",
                        format!(
                            "a limit of ${limit_usd:.2} is not above the ${:.2} spent",
                            self.cost
                        ),
                    ));
                }
                self.order_to(OrderAction::InputReceived, cmds)?;
                self.waiting = None;
                self.budget_limit = Some(limit_usd);
                self.advance(cmds)
            }
            EngineEvent::CancelRequested => self.cancel(cmds),
            EngineEvent::CostRecorded { total_usd } => {
                self.cost = total_usd;
                Ok(())
            }
            EngineEvent::RetryRequested { from, fresh } => self.user_retry(from, fresh, cmds),
            EngineEvent::ResumeAfterCrash => self.resume(cmds),
        }
    }

    /// The first-attempt session of stage `i`.
    fn initial_session(&self, i: usize) -> Session {
        match (self.plan.predecessors(i), self.plan.stage(i).context) {
            ([p], ContextMode::Inherit) => Session::Continue { of: self.id(*p) },
            ([p], ContextMode::Fork) => Session::Fork { of: self.id(*p) },
            _ => Session::Fresh,
        }
    }

    /// Emits `StartStage` for stage `i`, already `running`.
    fn emit_start(&mut self, i: usize, new_attempt: bool, cmds: &mut Vec<EngineCommand>) {
        let initial = self.initial_session(i);
        let stage = self.id(i);
        let timeout = self.plan.stage(i).timeout;
        let st = &mut self.stages[i];
        if new_attempt {
            st.attempt = st.attempt.saturating_add(1);
        }
        st.acked = false;
        cmds.push(EngineCommand::StartStage {
            stage,
            attempt: st.attempt,
            session: st.next_session.take().unwrap_or(initial),
            retry_reason: st.retry_reason.take(),
            answers: std::mem::take(&mut st.new_answers),
            timeout,
        });
    }

    fn start(&mut self, i: usize, cmds: &mut Vec<EngineCommand>) -> Result<(), EngineError> {
        // The attempt number is bumped before persisting so the record names the new attempt.
        self.stages[i].attempt = self.stages[i].attempt.saturating_add(1);
        self.stage_to(i, StageAction::Start, cmds)?;
        self.emit_start(i, false, cmds);
        Ok(())
    }

    fn settled(&self, i: usize) -> bool {
        match self.stages[i].status {
            StageStatus::Completed | StageStatus::Skipped => true,
            StageStatus::Failed => self.plan.stage(i).on_failure == OnFailure::Continue,
            _ => false,
        }
    }

    fn running(&self) -> Vec<usize> {
        (0..self.stages.len())
            .filter(|&i| self.stages[i].status == StageStatus::Running)
            .collect()
    }

    /// Starts what can start, or ends / pauses the order when nothing runs.
    fn advance(&mut self, cmds: &mut Vec<EngineCommand>) -> Result<(), EngineError> {
        if self.status != self.running_status() {
            return Ok(());
        }
        let idle = self.running().is_empty();
        if self.cancelling {
            if idle {
                self.cancelling = false;
                self.order_to(OrderAction::Cancel, cmds)?;
                cmds.push(EngineCommand::FinishOrder {
                    outcome: OrderOutcome::Cancelled,
                });
            }
            return Ok(());
        }
        if let Some((stage, error)) = self.failure.clone() {
            if idle {
                for i in 0..self.stages.len() {
                    if self.stages[i].status == StageStatus::AwaitingInput {
                        self.stage_to(i, StageAction::Cancel, cmds)?;
                    }
                    self.stages[i].in_backoff = false;
                }
                self.failure = None;
                self.order_to(OrderAction::Fail, cmds)?;
                cmds.push(EngineCommand::FinishOrder {
                    outcome: OrderOutcome::Failed {
                        stage: self.id(stage),
                        error,
                        can_retry: true,
                    },
                });
            }
            return Ok(());
        }
        if let Some(i) = self
            .stages
            .iter()
            .position(|s| s.status == StageStatus::AwaitingInput)
        {
            if idle {
                self.order_to(OrderAction::AwaitInput, cmds)?;
                self.waiting = Some(Waiting::Stage(i));
                cmds.push(EngineCommand::AwaitInput {
                    reason: AwaitReason::Questions {
                        stage: self.id(i),
                        questions: self.stages[i].questions.clone(),
                    },
                });
            }
            return Ok(());
        }
        let ready = self.plan.ready_indices(
            |p| self.settled(p),
            |i| self.stages[i].status == StageStatus::Pending && !self.stages[i].in_backoff,
        );
        if ready.is_empty() {
            let done = (0..self.stages.len()).all(|i| self.settled(i));
            if done && idle {
                let failed_stages = (0..self.stages.len())
                    .filter(|&i| self.stages[i].status == StageStatus::Failed)
                    .map(|i| self.id(i))
                    .collect();
                self.order_to(OrderAction::Complete, cmds)?;
                cmds.push(EngineCommand::FinishOrder {
                    outcome: OrderOutcome::Completed { failed_stages },
                });
            }
            return Ok(());
        }
        if let Some(limit) = self.budget_limit
            && self.cost >= limit
        {
            if idle {
                self.order_to(OrderAction::AwaitInput, cmds)?;
                self.waiting = Some(Waiting::Budget);
                cmds.push(EngineCommand::AwaitInput {
                    reason: AwaitReason::Budget {
                        spent_usd: self.cost,
                        limit_usd: limit,
                    },
                });
            }
            return Ok(());
        }
        for i in ready {
            self.start(i, cmds)?;
        }
        Ok(())
    }

    fn finished(
        &mut self,
        i: usize,
        outcome: StageOutcome,
        cmds: &mut Vec<EngineCommand>,
    ) -> Result<(), EngineError> {
        if self.cancelling {
            let action = match outcome {
                StageOutcome::Succeeded { .. } => StageAction::Complete,
                StageOutcome::Cancelled => StageAction::Cancel,
                _ => StageAction::Fail,
            };
            return self.stage_to(i, action, cmds);
        }
        match outcome {
            StageOutcome::Failed { error } => self.fail(i, error, false, cmds),
            StageOutcome::TimedOut => {
                let error = format!(
                    "timed out after {}s",
                    self.plan.stage(i).timeout.as_secs_f64()
                );
                self.fail(i, error, false, cmds)
            }
            StageOutcome::Cancelled => self.fail(
                i,
                "the agent was stopped from outside codecafe".to_owned(),
                false,
                cmds,
            ),
            StageOutcome::Succeeded { signals } => {
                let mut questions = None;
                let mut retry = None;
                for signal in signals {
                    match signal {
                        Signal::Proceed => {}
                        Signal::AwaitUser { questions: q } => {
                            questions.get_or_insert_with(Vec::new).extend(q);
                        }
                        Signal::Skip { stages } => {
                            for s in stages {
                                self.skip(i, &s, cmds)?;
                            }
                        }
                        Signal::SkipNext => {
                            for n in self.plan.successors(i) {
                                let id = self.id(n);
                                self.skip(i, &id, cmds)?;
                            }
                        }
                        Signal::Retry { reason } => retry = retry.or(Some(reason)),
                    }
                }
                if let Some(questions) = questions {
                    self.stage_to(i, StageAction::AwaitInput, cmds)?;
                    self.stages[i].questions = questions;
                    Ok(())
                } else if let Some(reason) = retry {
                    self.fail(i, reason, true, cmds)
                } else {
                    self.stage_to(i, StageAction::Complete, cmds)
                }
            }
        }
    }

    fn skip(
        &mut self,
        by: usize,
        id: &str,
        cmds: &mut Vec<EngineCommand>,
    ) -> Result<(), EngineError> {
        let by = self.id(by);
        match self.plan.index_of(id) {
            None => cmds.push(EngineCommand::Warn {
                message: format!("stage `{by}` asked to skip `{id}`, which is not a stage"),
            }),
            Some(t)
                if self.stages[t].status != StageStatus::Pending || self.stages[t].attempt > 0 =>
            {
                cmds.push(EngineCommand::Warn {
                    message: format!(
                        "stage `{by}` asked to skip `{id}`, which has already started"
                    ),
                });
            }
            Some(t) => self.stage_to(t, StageAction::Skip, cmds)?,
        }
        Ok(())
    }

    /// Records a failed attempt of stage `i` (a real failure, or a `retry` signal) and applies
    /// its policy.
    fn fail(
        &mut self,
        i: usize,
        error: String,
        by_signal: bool,
        cmds: &mut Vec<EngineCommand>,
    ) -> Result<(), EngineError> {
        self.stage_to(i, StageAction::Fail, cmds)?;
        let def = self.plan.stage(i).clone();
        let limit = if by_signal {
            def.retry_limit().max(1)
        } else if def.on_failure == OnFailure::Retry {
            def.retry_limit()
        } else {
            0
        };
        let st = &mut self.stages[i];
        st.last_error = Some(error.clone());
        if st.retries_used < limit {
            st.retries_used += 1;
            st.retry_reason = Some(error);
            st.next_session = by_signal.then(|| Session::Continue { of: def.id.clone() });
            self.stage_to(i, StageAction::Retry, cmds)?;
            if !def.retry_backoff.is_zero() {
                self.stages[i].in_backoff = true;
                cmds.push(EngineCommand::ScheduleBackoff {
                    stage: def.id,
                    delay: def.retry_backoff,
                });
            }
        } else if def.on_failure != OnFailure::Continue && self.failure.is_none() {
            self.failure = Some((i, error));
        }
        Ok(())
    }

    fn cancel(&mut self, cmds: &mut Vec<EngineCommand>) -> Result<(), EngineError> {
        if !matches!(
            self.status,
            OrderStatus::Created
                | OrderStatus::Running
                | OrderStatus::AwaitingInput
                | OrderStatus::FollowupRunning
                | OrderStatus::FollowupAwaitingInput
        ) || self.cancelling
        {
            // Let the table name the refusal (or refuse a second cancel).
            if self.cancelling {
                return Err(self.unexpected("cancel-requested", "already cancelling"));
            }
            self.status.apply(OrderAction::Cancel)?;
        }
        for i in 0..self.stages.len() {
            self.stages[i].in_backoff = false;
            if matches!(
                self.stages[i].status,
                StageStatus::Pending | StageStatus::AwaitingInput
            ) {
                self.stage_to(i, StageAction::Cancel, cmds)?;
            }
        }
        self.waiting = None;
        self.failure = None;
        let running = self.running();
        if running.is_empty() {
            self.order_to(OrderAction::Cancel, cmds)?;
            cmds.push(EngineCommand::FinishOrder {
                outcome: OrderOutcome::Cancelled,
            });
        } else {
            self.cancelling = true;
            cmds.push(EngineCommand::CancelRunning {
                stages: running.into_iter().map(|i| self.id(i)).collect(),
            });
        }
        Ok(())
    }

    fn user_retry(
        &mut self,
        from: RetryFrom,
        fresh: bool,
        cmds: &mut Vec<EngineCommand>,
    ) -> Result<(), EngineError> {
        self.order_to(OrderAction::Retry, cmds)?;
        let n = self.stages.len();
        let mut again = vec![false; n];
        for (i, flag) in again.iter_mut().enumerate() {
            *flag = matches!(
                self.stages[i].status,
                StageStatus::Failed | StageStatus::Cancelled
            );
        }
        match from {
            RetryFrom::Failed => {}
            RetryFrom::Stage(id) => {
                for d in self.plan.downstream(self.index(&id)?) {
                    again[d] = true;
                }
            }
            RetryFrom::Beginning => again.iter_mut().for_each(|f| *f = true),
        }
        for (i, &flag) in again.iter().enumerate() {
            let action = match self.stages[i].status {
                StageStatus::Failed | StageStatus::Cancelled => StageAction::Retry,
                StageStatus::Completed | StageStatus::Skipped if flag => StageAction::Rerun,
                _ => continue,
            };
            self.stage_to(i, action, cmds)?;
            let id = self.id(i);
            let st = &mut self.stages[i];
            st.retries_used = 0;
            st.in_backoff = false;
            st.questions.clear();
            if fresh || st.attempt == 0 {
                st.next_session = None;
                st.retry_reason = None;
                st.new_answers = st.all_answers.clone();
            } else {
                st.next_session = Some(Session::Continue { of: id });
                st.retry_reason = st.last_error.clone();
            }
        }
        self.failure = None;
        self.cancelling = false;
        self.waiting = None;
        self.advance(cmds)
    }

    fn resume(&mut self, cmds: &mut Vec<EngineCommand>) -> Result<(), EngineError> {
        match self.status {
            status if status == self.running_status() => {
                self.order_to(OrderAction::ResumeAfterCrash, cmds)?;
                for i in self.running() {
                    self.stage_to(i, StageAction::ResumeAfterCrash, cmds)?;
                    self.stages[i].next_session = Some(Session::Continue { of: self.id(i) });
                    self.emit_start(i, false, cmds);
                }
                self.advance(cmds)
            }
            status if status == self.awaiting_status() => {
                let reason = match self.waiting {
                    Some(Waiting::Stage(i)) => AwaitReason::Questions {
                        stage: self.id(i),
                        questions: self.stages[i].questions.clone(),
                    },
                    _ => AwaitReason::Budget {
                        spent_usd: self.cost,
                        limit_usd: self.budget_limit.unwrap_or(0.0),
                    },
                };
                cmds.push(EngineCommand::AwaitInput { reason });
                Ok(())
            }
            status => Err(self.unexpected(
                "resume-after-crash",
                format!("an order that is {status} has nothing running to resume"),
            )),
        }
    }
}

#[cfg(test)]
mod tests;
