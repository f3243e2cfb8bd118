//! Recording a stage's progress: the stage run's row, its events (`stage:started`,
//! `stage:completed` with usage, cost, signals and denials, `stage:failed`, …), before anything is
//! emitted.

use super::*;

impl Loop<'_, '_> {
    pub(super) fn persist_stage(
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
        let (mode, of, resumed) = match session {
            Some(session) => match self.session_for(spec, session)? {
                Some(resolved) => (resolved.mode, Some(resolved.of), Some(resolved.id)),
                None => (SessionMode::Fresh, None, None),
            },
            None => (SessionMode::Fresh, None, None),
        };
        let (cost_baseline, usage_baseline) = match (&resumed, action) {
            (Some(id), StageAction::Start) => (
                store.session_cost_total(self.order.id, id)?.unwrap_or(0.0),
                store.session_usage_total(self.order.id, id)?,
            ),
            _ => (0.0, None),
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
                rec.cost_baseline = cost_baseline;
                rec.usage_baseline = usage_baseline;
                rec.usage_before = None;
                rec.cost_kind = CostKind::Reported;
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
                let denied = result.map(|r| r.denials.clone()).unwrap_or_default();
                let denied_summary = (!denied.is_empty())
                    .then(|| crate::denials::summary(&denied, spec.permissions.value));
                let cost_estimated = rec.cost_kind == CostKind::Estimated;
                let unpriced = match &rec.cost_kind {
                    CostKind::Unpriced { model } => {
                        Some(model.clone().unwrap_or_else(|| "unknown model".to_owned()))
                    }
                    _ => None,
                };
                let budget_blind = unpriced
                    .clone()
                    .filter(|_| self.order.max_cost_usd.is_some());
                let stage = stage.to_owned();
                if let Some(model) = budget_blind {
                    let message = format!(
                        "stage `{stage}`'s cost is unknown: {model} has no price, so the order's \
                         budget does not count it; add the model to {}",
                        self.runner.config.pricing.user_file.as_ref().map_or_else(
                            || "pricing.json in codecafe's data directory".to_owned(),
                            |p| p.display().to_string()
                        )
                    );
                    self.event(EventBody::Warning(Warning { message }), emit)?;
                }
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
                                denied,
                                denied_summary,
                                cost_estimated,
                                unpriced,
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
                            denied,
                            denied_summary,
                            cost_estimated,
                            unpriced,
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
