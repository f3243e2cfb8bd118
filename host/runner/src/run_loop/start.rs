//! Starting a stage: its session (continued or forked only by the provider that made it), its
//! prompt (ancestors' outputs and the stored answers), the invocation with its permission policy
//! and environment, and what its run costs.

use super::*;

impl<'a> Loop<'_, 'a> {
    /// What a run of `stage` cost by `usage` (see [`crate::pricing::run_cost`]).
    pub(super) fn run_cost(
        &self,
        stage: &str,
        usage: &Usage,
    ) -> Result<(Option<f64>, CostKind), RunnerError> {
        let baseline = self.stages.get(stage).map_or(0.0, |r| r.cost_baseline);
        let spec = self.prepared.spec(stage)?;
        let model = || {
            spec.model.value.clone().or_else(|| {
                let provider = self.runner.plugins.get(&spec.provider.value)?;
                let PluginInfo::Provider(info) = provider.info() else {
                    return None;
                };
                let config = info.readiness.as_ref()?.model_config.as_ref()?;
                crate::pricing::configured_model(config)
            })
        };
        Ok(crate::pricing::run_cost(
            &self.runner.config.pricing,
            baseline,
            usage,
            model,
        ))
    }

    /// The agent session stage `spec` runs in for `session`: a session is continued or forked
    /// only by the provider that made it (a claude session id means nothing to codex), and
    /// forked only by a provider that can fork; otherwise the stage starts fresh (`None`).
    pub(super) fn session_for(
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

    pub(super) fn start(
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
        let mut prompt = prepared.render(spec, previous, self.answers_for(index), attempt)?;
        // A session continued by the user's decision on its deferred call hears the decision.
        if !answers.is_empty()
            && let Some(decided) = self
                .approvals
                .iter()
                .rev()
                .find(|a| a.stage == stage)
                .and_then(crate::approvals::decision_prompt)
        {
            prompt.push_str("\n\n");
            prompt.push_str(&decided);
        }
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
            mode: crate::policy::mode(spec),
            session,
            system_prompt: (!prepared.house_rules.trim().is_empty())
                .then(|| prepared.house_rules.clone()),
            options: spec.invocation_options(),
            policy: crate::policy::invocation_policy(spec),
            session_id: uuid::Uuid::new_v4().to_string(),
        };
        let base_env = crate::policy::agent_env(&runner.config.base_env, &provider, spec);
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
            base_env,
            timeout,
            lease_timeout: runner.config.lease_timeout,
            context: StageContext {
                stage_id: stage.to_owned(),
                following_stages: following,
                attempt,
            },
            cancel,
            permissions: spec.permissions.value,
            on_denied: spec.on_denied,
            ask: spec.approvals.value == codecafe_catalog::recipe::Approvals::Ask,
            decisions: self
                .approvals
                .iter()
                .filter(|a| !a.is_pending())
                .cloned()
                .collect(),
            own_worktree: self.order.worktree_path.is_some(),
            live_socket: runner
                .config
                .live_dir
                .as_ref()
                .map(|dir| crate::live::socket_path(dir, self.order.id, stage)),
        })
    }

    /// The final texts a stage's prompt sees: its ancestors' in the plan, in plan order,
    /// whatever the timing (for a follow-up: every recipe stage's).
    pub(super) fn previous_outputs(&self, index: usize) -> Vec<PreviousOutput> {
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
    pub(super) fn answers_for(&self, index: usize) -> Vec<Answer> {
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
}
