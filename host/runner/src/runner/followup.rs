//! Follow-ups on a completed order: `completed --enter-followup--> followup --run-followup-->
//! followup-running --complete|fail|cancel--> followup --finish-followup--> completed`.
//!
//! A follow-up runs **one** agent in the order's worktree with the follow-up prompt: the
//! provider (and model, options) of the recipe's last stage. When that provider can resume
//! sessions, it continues the agent session of the latest follow-up, else of the last stage
//! (so the agent remembers the work); otherwise it starts fresh. The prompt is the user's
//! follow-up text after a short header naming the original task; the role template and skills
//! are not rendered again. Its output is stored as `order:output` events under the stage name
//! `followup`; it makes no stage run, so retries and resumes of the recipe are unaffected.
//! Every status change goes through the order state machine in the store, together with its
//! event (`order:followup-started`, then `order:followup-completed` / `-failed` /
//! `-cancelled`). Ctrl-C or `codecafe order cancel` stops it: its agent's process group is
//! recorded like a stage's, so a cancel also reaches it when this process is gone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use codecafe_engine::driver::StageOutcome;
use codecafe_engine::{OrderAction, OrderStatus};
use codecafe_plugin_host::{PluginInfo, PluginKind};
use codecafe_sdk::{AgentEvent, Invocation, Mode, SessionRef, StageContext};
use codecafe_store::{Event, NewEvent, StatusChange};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{INTERRUPT_POLL, Runner};
use crate::error::RunnerError;
use crate::events::{self, RunOutcome};
use crate::stage::{StageJob, StageResult, WorkerMsg, run_stage};

/// The stage name a follow-up's events carry.
pub const FOLLOWUP_STAGE: &str = "followup";

impl Runner<'_> {
    /// Opens a follow-up on the completed order `id` (`enter-followup`; nothing to do when it is
    /// already in `followup`).
    pub fn enter_followup(&self, id: Uuid) -> Result<(), RunnerError> {
        let order = self.store.order(id)?;
        if order.status != OrderStatus::Followup {
            self.store
                .change_status(id, &StatusChange::new(OrderAction::EnterFollowup))?;
        }
        Ok(())
    }

    /// Closes the follow-up of order `id` (`finish-followup`: back to `completed`).
    pub fn finish_followup(&self, id: Uuid) -> Result<(), RunnerError> {
        self.store
            .change_status(id, &StatusChange::new(OrderAction::FinishFollowup))?;
        Ok(())
    }

    /// Runs one follow-up prompt on order `id` (completed, or already in `followup`) in the
    /// foreground, as the module documentation describes; the order is back in `followup`
    /// afterwards. Returns [`RunOutcome::Completed`], [`RunOutcome::Failed`] (stage
    /// `followup`) or [`RunOutcome::Cancelled`].
    pub fn followup(
        &self,
        id: Uuid,
        prompt: &str,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<RunOutcome, RunnerError> {
        let order = self.store.order(id)?;
        let prepared = self.prepare(&order.recipe_id, &order.prompt, order.vars.clone())?;
        let last = prepared
            .recipe
            .stages
            .last()
            .ok_or_else(|| RunnerError::Internal("the recipe has no stage".into()))?;
        let provider = self
            .plugins
            .get_kind(&last.provider.value, PluginKind::Provider)?
            .clone();
        let parser = self
            .plugins
            .get_kind(&last.signals.value, PluginKind::SignalParser)?
            .clone();
        let can_resume =
            matches!(provider.info(), PluginInfo::Provider(info) if info.capabilities.resume);
        let session = if can_resume {
            self.followup_session(id, &last.id)?
        } else {
            None
        };
        self.enter_followup(id)?;
        self.store
            .claim_order(id, &self.config.runner_id, self.config.stale_after)?;
        let result = (|| {
            let changed = self.store.change_status(
                id,
                &StatusChange::new(OrderAction::RunFollowup).event(
                    events::ORDER_FOLLOWUP_STARTED,
                    json!({"stage": FOLLOWUP_STAGE, "provider": last.provider.value,
                           "prompt": prompt, "session": if session.is_some() { "continue" } else { "fresh" }}),
                ),
            )?;
            if let Some(event) = &changed.event {
                emit(event);
            }
            let cwd = order
                .worktree_path
                .clone()
                .unwrap_or_else(|| self.repo.clone());
            let invocation = Invocation {
                prompt: format!(
                    "This is a follow-up on a finished task in this repository.\n\nThe original task: {}\n\n## Follow-up request\n\n{prompt}\n",
                    order.prompt
                ),
                working_dir: cwd.to_string_lossy().into_owned(),
                model: last.model.value.clone(),
                mode: Mode::Headless,
                session: session.clone().map(|id| SessionRef { id, fork: false }),
                system_prompt: (!self.house_rules.trim().is_empty())
                    .then(|| self.house_rules.clone()),
                options: last.invocation_options(),
            };
            let timeout = prepared
                .plan
                .stages()
                .last()
                .map(|s| s.timeout)
                .unwrap_or_default();
            let cancel = Arc::new(AtomicBool::new(false));
            let job = StageJob {
                pool: self.pool,
                stage: FOLLOWUP_STAGE.to_owned(),
                provider,
                parser,
                invocation,
                cwd,
                base_env: self.config.base_env.clone(),
                timeout,
                lease_timeout: self.config.lease_timeout,
                context: StageContext {
                    stage_id: FOLLOWUP_STAGE.to_owned(),
                    following_stages: Vec::new(),
                    attempt: 1,
                },
                cancel: Arc::clone(&cancel),
            };
            let started = Instant::now();
            let (result, new_session, usage) = self.drive_followup(id, job, &cancel, emit)?;
            let session = new_session.or(session);
            let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let (action, kind, payload, outcome) = match result.outcome {
                StageOutcome::Succeeded { .. } => (
                    OrderAction::Complete,
                    events::ORDER_FOLLOWUP_COMPLETED,
                    json!({"stage": FOLLOWUP_STAGE, "durationMs": duration_ms, "usage": usage,
                           "sessionId": session, "output": result.output}),
                    RunOutcome::Completed {
                        failed_stages: Vec::new(),
                    },
                ),
                StageOutcome::Cancelled if cancel.load(Ordering::Relaxed) => (
                    OrderAction::Cancel,
                    events::ORDER_FOLLOWUP_CANCELLED,
                    json!({"stage": FOLLOWUP_STAGE, "durationMs": duration_ms, "sessionId": session}),
                    RunOutcome::Cancelled,
                ),
                other => {
                    let error = match other {
                        StageOutcome::Failed { error } => error,
                        StageOutcome::TimedOut => "timed out".to_owned(),
                        _ => "the agent stopped".to_owned(),
                    };
                    (
                        OrderAction::Fail,
                        events::ORDER_FOLLOWUP_FAILED,
                        json!({"stage": FOLLOWUP_STAGE, "durationMs": duration_ms, "usage": usage,
                               "error": error, "exitCode": result.exit_code, "sessionId": session}),
                        RunOutcome::Failed {
                            stage: FOLLOWUP_STAGE.to_owned(),
                            error,
                        },
                    )
                }
            };
            let changed = self
                .store
                .change_status(id, &StatusChange::new(action).event(kind, payload))?;
            if let Some(event) = &changed.event {
                emit(event);
            }
            Ok(outcome)
        })();
        if let Err(err) = self.store.release_order(id, &self.config.runner_id) {
            tracing::debug!(%err, "releasing the order");
        }
        result
    }

    /// The agent session a follow-up continues: the latest follow-up's, else the last stage's.
    fn followup_session(&self, id: Uuid, last_stage: &str) -> Result<Option<String>, RunnerError> {
        let mut after = 0;
        let mut latest = None;
        loop {
            let batch = self.store.events_since(id, after, 500)?;
            let Some(last) = batch.last() else { break };
            after = last.seq;
            for event in &batch {
                if event.kind == events::ORDER_FOLLOWUP_COMPLETED
                    && let Some(session) = event.payload.get("sessionId").and_then(Value::as_str)
                {
                    latest = Some(session.to_owned());
                }
            }
        }
        if latest.is_some() {
            return Ok(latest);
        }
        Ok(self
            .store
            .stage_runs(id)?
            .into_iter()
            .rev()
            .find(|run| run.stage_id == last_stage && run.agent_session_id.is_some())
            .and_then(|run| run.agent_session_id))
    }

    /// Runs `job` on a worker until it finishes: stores and emits its output, polls for a
    /// cancel (Ctrl-C or `order cancel`) every [`INTERRUPT_POLL`], renews the heartbeat.
    /// Returns the result, the session id the agent reported and its latest usage.
    fn drive_followup(
        &self,
        id: Uuid,
        job: StageJob<'_>,
        cancel: &AtomicBool,
        emit: &mut dyn FnMut(&Event),
    ) -> Result<(StageResult, Option<String>, Option<Value>), RunnerError> {
        let mut seen = self.last_seq(id)?;
        let (tx, rx) = mpsc::channel::<WorkerMsg>();
        std::thread::scope(|scope| {
            scope.spawn(move || run_stage(job, &tx));
            let mut session = None;
            let mut usage = None;
            let mut last_beat = Instant::now();
            let outcome = (|| loop {
                if !cancel.load(Ordering::Relaxed)
                    && (self.interrupt.is_some_and(|f| f.load(Ordering::Relaxed))
                        || self.cancel_requested(id, &mut seen)?)
                {
                    cancel.store(true, Ordering::Relaxed);
                }
                match rx.recv_timeout(INTERRUPT_POLL) {
                    Ok(WorkerMsg::Spawned { stage, pgid }) => {
                        // So that `order cancel` / `order resume` can kill it if we die.
                        if let Some(dir) = &self.config.group_dir
                            && let Err(err) = crate::groups::record(dir, id, &stage, pgid)
                        {
                            tracing::warn!(%err, "recording the agent's process group");
                        }
                    }
                    Ok(WorkerMsg::Events { events, .. }) => {
                        for event in &events {
                            match event {
                                AgentEvent::SessionStarted { id } => session = Some(id.clone()),
                                AgentEvent::Usage(u) => {
                                    usage = serde_json::to_value(u).ok();
                                }
                                _ => {}
                            }
                        }
                        let new: Vec<NewEvent> = events
                            .iter()
                            .map(|event| {
                                NewEvent::new(
                                    events::ORDER_OUTPUT,
                                    json!({"stage": FOLLOWUP_STAGE, "attempt": 1, "event": event}),
                                )
                            })
                            .collect();
                        for stored in self.store.append_events(id, &new)? {
                            emit(&stored);
                        }
                    }
                    Ok(WorkerMsg::Finished { stage, result }) => {
                        if let Some(dir) = &self.config.group_dir {
                            crate::groups::forget(dir, id, &stage);
                        }
                        return Ok(result);
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        return Err(RunnerError::Internal(
                            "the follow-up's worker is gone".into(),
                        ));
                    }
                }
                if last_beat.elapsed() >= self.config.heartbeat {
                    last_beat = Instant::now();
                    if let Err(err) = self.store.heartbeat(id, &self.config.runner_id) {
                        tracing::warn!(%err, "renewing the order's heartbeat");
                    }
                }
            })();
            if outcome.is_err() {
                // The worker kills its agent; the scope waits for it.
                cancel.store(true, Ordering::Relaxed);
            }
            outcome.map(|result| (result, session, usage))
        })
    }
}
