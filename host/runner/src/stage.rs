//! One stage attempt on a worker thread: build the command, lease, spawn, stream, parse,
//! finish, read the signals. Reports to the order's loop over a channel; never touches the
//! store (which belongs to the loop's thread).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use codecafe_catalog::recipe::{OnDenied, Permissions};
use codecafe_engine::driver::{Signal, StageOutcome};
use codecafe_plugin_host::LoadedPlugin;
use codecafe_sdk::{
    AgentEvent, ApprovalDecision, ApprovalRequest, Invocation, LineFramer, NextAction, OutputBatch,
    StageContext, Stream, ToolDenial,
};
use codecafe_store::event::ApprovalDecided;
use codecafe_store::{Approval, NewApproval};
use codecafe_terminals::{AgentProcess, Output};
use uuid::Uuid;

use crate::denials::{self, Denials};
use crate::slots::Slots;

/// Longest line kept from an agent's output.
const MAX_LINE: usize = 4 << 20;
/// How often the output loop wakes to check exit, timeout and cancel.
const TICK: Duration = Duration::from_millis(50);
/// How long output is still read after the agent exited (what it wrote just before).
const DRAIN: Duration = Duration::from_secs(2);
/// SIGTERM → SIGKILL grace when stopping an agent.
const GRACE: Duration = Duration::from_secs(2);
/// How long an agent may take to end its turn after a call was deferred to the user.
const DEFER_GRACE: Duration = Duration::from_secs(15);

/// Everything a worker needs for one attempt.
pub(crate) struct StageJob<'p> {
    pub slots: &'p Slots,
    pub order: Uuid,
    pub stage: String,
    pub provider: LoadedPlugin,
    pub parser: LoadedPlugin,
    pub invocation: Invocation,
    pub cwd: PathBuf,
    pub base_env: Vec<(String, String)>,
    pub timeout: Duration,
    pub lease_timeout: Duration,
    pub context: StageContext,
    pub cancel: Arc<AtomicBool>,
    /// The stage's level, for the hint of a denial.
    pub permissions: Permissions,
    /// What a denied tool call does to the stage.
    pub on_denied: OnDenied,
    /// Whether a request beyond the stage's level goes to the user (`approvals: ask`).
    pub ask: bool,
    /// The order's decided approvals, which answer repeated requests.
    pub decisions: Vec<Approval>,
    /// The agent works in a worktree codecafe made for the order (its folder-trust dialog is
    /// accepted without asking).
    pub own_worktree: bool,
    /// Where an interactive stage listens for `order attach` / `input` / `approve` (none: not
    /// reachable from other processes).
    pub live_socket: Option<PathBuf>,
}

/// What a worker reports.
pub(crate) enum WorkerMsg {
    /// The agent was spawned; `pgid` is its process group.
    Spawned { stage: String, pgid: u32 },
    /// Normalized agent events, in order.
    Events {
        stage: String,
        events: Vec<AgentEvent>,
    },
    /// A request was answered from the record of an earlier decision.
    Decided { decided: ApprovalDecided },
    /// An interactive stage waits for a human (its agent keeps running).
    Waiting {
        stage: String,
        waiting: crate::interactive::Waiting,
    },
    /// The human answered; the interactive stage goes on.
    Resumed {
        stage: String,
        answered: crate::interactive::Answered,
    },
    /// The attempt is over (lease returned, process gone).
    Finished { stage: String, result: StageResult },
}

/// How an attempt ended, with what the run records about it.
pub(crate) struct StageResult {
    pub outcome: StageOutcome,
    pub output: String,
    pub exit_code: Option<i32>,
    /// Tool calls the agent was refused, each once.
    pub denials: Vec<ToolDenial>,
    /// The tool call that waits for the user's decision (the stage then awaits input).
    pub approval: Option<NewApproval>,
}

impl StageResult {
    fn ended(outcome: StageOutcome) -> Self {
        Self {
            outcome,
            output: String::new(),
            exit_code: None,
            denials: Vec::new(),
            approval: None,
        }
    }
}

pub(crate) fn failed(error: impl Into<String>) -> StageResult {
    StageResult::ended(StageOutcome::Failed {
        error: error.into(),
    })
}

/// Runs the attempt to its end and reports it, also when it panics (as a failure).
pub(crate) fn run_stage(job: StageJob<'_>, tx: &Sender<WorkerMsg>) {
    let stage = job.stage.clone();
    // A panic here must still report the stage finished, or the loop would wait for it.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| attempt(&job, tx)))
        .unwrap_or_else(|_| failed("internal error: the stage's worker panicked"));
    let _ = tx.send(WorkerMsg::Finished { stage, result });
}

fn attempt(job: &StageJob<'_>, tx: &Sender<WorkerMsg>) -> StageResult {
    let mut session = match job.provider.provider_session() {
        Ok(session) => session,
        Err(err) => return failed(err.to_string()),
    };
    let spec = match session.build_command(&job.invocation) {
        Ok(Ok(spec)) => spec,
        Ok(Err(refused)) => {
            return failed(format!("provider `{}`: {refused}", job.provider.id()));
        }
        Err(err) => return failed(err.to_string()),
    };
    if job.cancel.load(Ordering::Relaxed) {
        return cancelled();
    }
    if job.invocation.mode == codecafe_sdk::Mode::Interactive {
        return crate::interactive::attempt(job, tx, &mut session, &spec);
    }
    let lease = match lease(job) {
        Ok(lease) => lease,
        Err(error) => return without_lease(error),
    };
    let mut process = match codecafe_terminals::spawn(&spec, &job.cwd, &job.base_env) {
        Ok(process) => process,
        Err(err) => return failed(err.to_string()),
    };
    let _ = tx.send(WorkerMsg::Spawned {
        stage: job.stage.clone(),
        pgid: process.pid(),
    });
    let mut collector = Collector::default();
    let ended = stream(job, &mut process, &mut session, &mut collector, tx);
    let status = match ended {
        Ended::Exited(status) => Some(status),
        Ended::TimedOut | Ended::Cancelled | Ended::Deferred => process.terminate(GRACE).ok(),
    };
    drop(process);
    drop(lease);
    let exit_code = status.and_then(|s| s.code());
    match session.finish_output(exit_code) {
        Ok(batch) => collector.take(job, batch, None, tx),
        Err(err) => collector.plugin_error = Some(err.to_string()),
    }
    let denials = std::mem::take(&mut collector.denials).into_vec();
    match ended {
        Ended::TimedOut => {
            return StageResult {
                outcome: StageOutcome::TimedOut,
                output: collector.final_text(),
                exit_code,
                denials,
                approval: None,
            };
        }
        Ended::Cancelled => return cancelled(),
        Ended::Exited(_) | Ended::Deferred => {}
    }
    let output = collector.final_text();
    if let Some(approval) = collector.pending.take() {
        // The turn ended on purpose: the order awaits the user's decision, then continues it.
        let question = format!("Approve {}?", approval.summary);
        return StageResult {
            outcome: StageOutcome::Succeeded {
                signals: vec![Signal::AwaitUser {
                    questions: vec![question],
                }],
            },
            output,
            exit_code,
            denials,
            approval: Some(approval),
        };
    }
    let error = match (status, &collector.plugin_error, &collector.final_error) {
        (_, Some(err), _) => Some(format!("provider `{}`: {err}", job.provider.id())),
        (Some(status), _, _) if !status.success() => Some(match &collector.last_error {
            Some(message) => format!("the agent ended with {status}: {message}"),
            None => format!("the agent ended with {status}"),
        }),
        (_, _, Some(text)) => Some(format!("the agent reported an error: {}", abbreviate(text))),
        (None, _, _) => Some("the agent's exit status is unknown".to_owned()),
        // Work the stage's level should have allowed was refused: not a success.
        _ => denials::failure(&denials, job.on_denied, job.permissions),
    };
    if let Some(error) = error {
        return StageResult {
            outcome: StageOutcome::Failed { error },
            output,
            exit_code,
            denials,
            approval: None,
        };
    }
    let outcome = match read_signals(job, &output) {
        Ok(signals) => StageOutcome::Succeeded { signals },
        Err(error) => StageOutcome::Failed { error },
    };
    StageResult {
        outcome,
        output,
        exit_code,
        denials,
        approval: None,
    }
}

/// The stage's terminal slot, waited for (cancellable); the error when none came (`None`:
/// cancelled).
pub(crate) fn lease<'s>(job: &StageJob<'s>) -> Result<crate::slots::Slot<'s>, Option<String>> {
    let cancel = || job.cancel.load(Ordering::Relaxed);
    match job.slots.acquire(
        job.provider.id(),
        job.order,
        &job.stage,
        job.lease_timeout,
        &cancel,
    ) {
        Ok(lease) => Ok(lease),
        Err(_) if cancel() => Err(None),
        Err(err) => Err(Some(err.to_string())),
    }
}

/// How an attempt that got no slot ends.
pub(crate) fn without_lease(error: Option<String>) -> StageResult {
    error.map_or_else(cancelled, failed)
}

fn cancelled() -> StageResult {
    StageResult::ended(StageOutcome::Cancelled)
}

/// Why the output loop stopped.
enum Ended {
    Exited(codecafe_terminals::ExitStatus),
    TimedOut,
    Cancelled,
    /// A call was deferred to the user and the agent did not end its turn in time.
    Deferred,
}

/// Reads the agent's output until it exits, times out or is cancelled; every read's complete
/// lines go to the plugin in one `parse-output` call.
fn stream(
    job: &StageJob<'_>,
    process: &mut AgentProcess,
    session: &mut codecafe_plugin_host::ProviderSession,
    collector: &mut Collector,
    tx: &Sender<WorkerMsg>,
) -> Ended {
    let started = Instant::now();
    let deadline = started + job.timeout;
    let mut stdout = LineFramer::new(MAX_LINE);
    let mut stderr = LineFramer::new(MAX_LINE);
    let mut exited: Option<(codecafe_terminals::ExitStatus, Instant)> = None;
    let mut finished_output = false;
    loop {
        if job.cancel.load(Ordering::Relaxed) {
            return Ended::Cancelled;
        }
        let now = Instant::now();
        if exited.is_none() && now >= deadline {
            return Ended::TimedOut;
        }
        if exited.is_none()
            && collector
                .deferred_at
                .is_some_and(|at| now.duration_since(at) >= DEFER_GRACE)
        {
            return Ended::Deferred;
        }
        if let Some((status, at)) = exited
            && (finished_output || now.duration_since(at) >= DRAIN)
        {
            for (framer, source) in [(&mut stdout, Stream::Stdout), (&mut stderr, Stream::Stderr)] {
                if let Some(last) = framer.finish() {
                    feed(job, session, collector, process, source, &[last], tx);
                }
            }
            return Ended::Exited(status);
        }
        let wait = TICK.min(
            deadline
                .saturating_duration_since(now)
                .max(Duration::from_millis(1)),
        );
        match process.recv_output(if finished_output {
            Duration::ZERO
        } else {
            wait
        }) {
            Output::Chunk(source, bytes) => {
                let framer = match source {
                    Stream::Stdout => &mut stdout,
                    Stream::Stderr => &mut stderr,
                };
                let lines = framer.push(&bytes);
                if !lines.is_empty() {
                    feed(job, session, collector, process, source, &lines, tx);
                }
            }
            Output::Timeout => {}
            Output::Finished => {
                finished_output = true;
                if exited.is_none() {
                    // Output is closed; the exit follows at once (or the deadline applies).
                    let left = deadline.saturating_duration_since(Instant::now());
                    match process.wait_timeout(left.min(TICK)) {
                        Ok(Some(status)) => exited = Some((status, Instant::now())),
                        Ok(None) => {}
                        Err(err) => {
                            collector.plugin_error.get_or_insert(err.to_string());
                            return Ended::Cancelled;
                        }
                    }
                }
            }
        }
        if exited.is_none()
            && let Ok(Some(status)) = process.try_wait()
        {
            exited = Some((status, Instant::now()));
        }
    }
}

/// One `parse-output` call for complete lines; writes the replies, closes input if asked.
fn feed(
    job: &StageJob<'_>,
    session: &mut codecafe_plugin_host::ProviderSession,
    collector: &mut Collector,
    process: &mut AgentProcess,
    source: Stream,
    lines: &[String],
    tx: &Sender<WorkerMsg>,
) {
    match session.parse_output(source, &lines.join("\n")) {
        Ok(mut batch) => {
            answer_approvals(job, session, collector, &mut batch, tx);
            collector.take(job, batch, Some(process), tx);
        }
        Err(err) => {
            tracing::warn!(stage = %job.stage, %err, "provider could not parse output");
            collector.plugin_error.get_or_insert(err.to_string());
        }
    }
}

/// Answers the batch's approval requests: from the order's record when a decision matches,
/// refused when the stage does not ask the user, else deferred to the user (the first such
/// call is the stage's pending approval). The answers join the batch's replies.
fn answer_approvals(
    job: &StageJob<'_>,
    session: &mut codecafe_plugin_host::ProviderSession,
    collector: &mut Collector,
    batch: &mut OutputBatch,
    tx: &Sender<WorkerMsg>,
) {
    let mut refused = Vec::new();
    for event in &batch.events {
        let AgentEvent::ApprovalRequest(request) = event else {
            continue;
        };
        let (decision, reason) = match verdict(job, request, tx) {
            Verdict::Recorded { decision, reason } => (
                crate::approvals::answer(decision),
                reason.map(|r| format!("The user denied this call earlier: {r}")),
            ),
            Verdict::Refused(denial) => {
                let reason = denial.reason.clone();
                refused.push(AgentEvent::ToolDenied(denial));
                (ApprovalDecision::Deny, Some(reason))
            }
            Verdict::Ask => {
                collector
                    .pending
                    .get_or_insert_with(|| crate::approvals::new_approval(&job.stage, request));
                collector.deferred_at.get_or_insert_with(Instant::now);
                (ApprovalDecision::Defer, None)
            }
        };
        match session.encode_approval(&request.id, decision, reason.as_deref()) {
            Ok(Ok(reply)) => batch.replies.push(reply),
            Ok(Err(refused)) => {
                collector.plugin_error.get_or_insert(format!(
                    "provider `{}` could not answer an approval request: {refused}",
                    job.provider.id()
                ));
            }
            Err(err) => {
                collector.plugin_error.get_or_insert(err.to_string());
            }
        }
    }
    batch.events.extend(refused);
}

/// How a request beyond the stage's level is answered without asking anyone, if it is.
pub(crate) enum Verdict {
    /// A decision of the order's record matches it (reported as `approval:decided`).
    Recorded {
        decision: codecafe_store::Decision,
        reason: Option<String>,
    },
    /// The stage asks nobody (`approvals: deny`): refused, and reported as this denial.
    Refused(ToolDenial),
    /// The user decides.
    Ask,
}

/// The [`Verdict`] on `request`, for headless protocol requests and TUI dialogs alike.
pub(crate) fn verdict(
    job: &StageJob<'_>,
    request: &ApprovalRequest,
    tx: &Sender<WorkerMsg>,
) -> Verdict {
    if let Some(record) = crate::approvals::recorded(&job.decisions, request) {
        let decision = record.decision.unwrap_or(codecafe_store::Decision::Deny);
        let decided = ApprovalDecided {
            approval_id: None,
            stage: job.stage.clone(),
            tool: request.tool.clone(),
            summary: crate::approvals::new_approval(&job.stage, request).summary,
            decision,
            reason: record.reason.clone(),
            from_record: true,
        };
        let _ = tx.send(WorkerMsg::Decided { decided });
        return Verdict::Recorded {
            decision,
            reason: record.reason.clone(),
        };
    }
    if !job.ask {
        return Verdict::Refused(ToolDenial {
            id: request.id.clone(),
            tool: request.tool.clone(),
            input: request.input.clone(),
            reason: format!(
                "beyond the stage's `permissions: {}` and the stage asks nobody (`approvals: deny`)",
                job.permissions.name()
            ),
        });
    }
    Verdict::Ask
}

/// What the run keeps from the agent's events.
#[derive(Default)]
pub(crate) struct Collector {
    assistant: Vec<String>,
    final_text: Option<String>,
    final_error: Option<String>,
    last_error: Option<String>,
    pub(crate) plugin_error: Option<String>,
    pub(crate) denials: Denials,
    /// The call deferred to the user, and when.
    pending: Option<NewApproval>,
    deferred_at: Option<Instant>,
}

impl Collector {
    pub(crate) fn take(
        &mut self,
        job: &StageJob<'_>,
        batch: OutputBatch,
        process: Option<&mut AgentProcess>,
        tx: &Sender<WorkerMsg>,
    ) {
        if let Some(process) = process {
            for reply in &batch.replies {
                if let Err(err) = process.write_input(reply) {
                    tracing::debug!(stage = %job.stage, %err, "writing a reply to the agent");
                }
            }
            if batch.close_input {
                process.close_input();
            }
        }
        for event in &batch.events {
            match event {
                AgentEvent::AssistantText { text } => self.assistant.push(text.clone()),
                AgentEvent::FinalResult(result) => {
                    self.final_text = Some(result.text.clone());
                    self.final_error = result.is_error.then(|| result.text.clone());
                }
                AgentEvent::Error { message } => self.last_error = Some(message.clone()),
                AgentEvent::ToolDenied(denial) => self.denials.add(denial),
                _ => {}
            }
        }
        if !batch.events.is_empty() {
            let _ = tx.send(WorkerMsg::Events {
                stage: job.stage.clone(),
                events: batch.events,
            });
        }
    }

    /// The last final result's text, else the assistant's text joined.
    pub(crate) fn final_text(&self) -> String {
        self.final_text
            .clone()
            .unwrap_or_else(|| self.assistant.join("\n"))
    }
}

/// The stage's signals, from its signal parser plugin. A malformed block is a failure.
pub(crate) fn read_signals(job: &StageJob<'_>, text: &str) -> Result<Vec<Signal>, String> {
    let mut parser = job
        .parser
        .signal_parser_session()
        .map_err(|err| err.to_string())?;
    let signals = parser
        .parse(text, &job.context)
        .map_err(|err| err.to_string())?
        .map_err(|err| format!("signal parser `{}`: {err}", job.parser.id()))?;
    Ok(match signals.action {
        NextAction::Proceed => vec![],
        NextAction::AwaitUser(questions) => vec![Signal::AwaitUser { questions }],
        NextAction::Skip(stages) if stages.is_empty() => vec![Signal::SkipNext],
        NextAction::Skip(stages) => vec![Signal::Skip { stages }],
        NextAction::Retry(reason) => vec![Signal::Retry { reason }],
    })
}

/// The first line of `text`, at most 200 characters.
pub(crate) fn abbreviate(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if line.chars().count() > 200 {
        format!("{}…", line.chars().take(200).collect::<String>())
    } else {
        line.to_owned()
    }
}
