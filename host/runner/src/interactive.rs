//! One attempt of an interactive stage (`interactive: true`): the agent's own TUI in a
//! pseudo-terminal, watched through a rendered screen and the agent's own transcript.
//!
//! The loop: output goes to the [`Screen`] (and to attached viewers); when the output has been
//! quiet for [`SETTLE`] (or at least every [`RECHECK`]) the provider's `check-screen` reads the
//! screen and title:
//! - **idle** before the prompt was typed: the prompt is typed (`encode-input`: bracketed paste);
//!   idle after it, once the transcript reported the turn's final result (or, for an agent
//!   without a transcript, once it was seen busy): the stage is done;
//! - **folder-trust dialog**: accepted with the provider's keys in codecafe's own worktrees,
//!   else a question for the user;
//! - **permission dialog**: answered like an approval request — from the order's record, refused
//!   under `approvals: deny`, else a pending approval the user decides (`order approve` / `deny`
//!   from any process reach this worker over its [`crate::live`] socket);
//! - **question**: the order awaits input; `order input` types the answer (or a viewer attached
//!   with `order attach` types it).
//!
//! While a human is asked the stage gives its terminal slot back and its timeout stops; the
//! agent keeps running. The final text comes from the transcript the provider names
//! (`command-spec.transcript`, tailed from where it stood at the start, bounded per read), not
//! from the screen. A TUI that exits before the turn ends fails the stage with its last screen.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use codecafe_engine::driver::StageOutcome;
use codecafe_plugin_host::ProviderSession;
use codecafe_sdk::{
    AgentEvent, ApprovalRequest, CommandSpec, DialogKind, Io, ScreenDialog, ScreenState,
};
use codecafe_store::{Decision, NewApproval};
use codecafe_terminals::{AgentProcess, Output};

use crate::live::{ClientMsg, LiveServer, Role};
use crate::screen::Screen;
use crate::stage::{Collector, StageJob, StageResult, Verdict, WorkerMsg};

/// Quiet output before the screen is read.
const SETTLE: Duration = Duration::from_millis(250);
/// The screen is read at least this often while output keeps coming.
const RECHECK: Duration = Duration::from_secs(1);
/// How often the loop wakes.
const TICK: Duration = Duration::from_millis(50);
/// Pause between the writes of a dialog's answer.
const KEY_PAUSE: Duration = Duration::from_millis(150);
/// A dialog still shown this long after it was answered is answered again…
const REANSWER: Duration = Duration::from_secs(3);
/// …at most this many times.
const MAX_ANSWERS: u32 = 3;
/// Idle this long after the prompt, with no transcript to say the turn ended and never seen
/// busy: the turn is taken as over (agents without a transcript).
const IDLE_WITHOUT_RECORD: Duration = Duration::from_secs(5);
/// How often the transcript is looked at for new lines.
const TRANSCRIPT_POLL: Duration = Duration::from_millis(200);
/// Most transcript bytes read per look.
const TRANSCRIPT_READ: usize = 1 << 20;
/// Longest transcript line kept.
const MAX_LINE: usize = 4 << 20;
/// Longest wait for a human (a question, a permission dialog) with the agent kept running.
const HUMAN_WAIT: Duration = Duration::from_secs(24 * 60 * 60);
/// SIGTERM → SIGKILL grace when the TUI is stopped.
const GRACE: Duration = Duration::from_secs(2);

/// What the stage waits for.
#[derive(Debug, Clone, PartialEq)]
enum Phase {
    /// The TUI starts; the prompt is typed at the first idle screen.
    Starting,
    /// The prompt was typed; the agent works.
    Working,
    /// A permission dialog waits for the user.
    Approval(Box<(ScreenDialog, NewApproval)>),
    /// A question or dialog waits for the user's answer.
    Question(String),
}

/// Runs the attempt: spawns the TUI, drives it to the end of the agent's turn.
pub(crate) fn attempt(
    job: &StageJob<'_>,
    tx: &Sender<WorkerMsg>,
    session: &mut ProviderSession,
    spec: &CommandSpec,
) -> StageResult {
    if spec.io != Io::Pty {
        return crate::stage::failed(format!(
            "provider `{}` did not ask for a terminal for an interactive stage",
            job.provider.id()
        ));
    }
    let mut lease = match crate::stage::lease(job) {
        Ok(lease) => Some(lease),
        Err(error) => return crate::stage::without_lease(error),
    };
    let mut process = match codecafe_terminals::spawn(spec, &job.cwd, &job.base_env) {
        Ok(process) => process,
        Err(err) => return crate::stage::failed(err.to_string()),
    };
    let _ = tx.send(WorkerMsg::Spawned {
        stage: job.stage.clone(),
        pgid: process.pid(),
    });
    let env: Vec<(String, String)> = job.base_env.iter().chain(&spec.env).cloned().collect();
    let mut run = Run {
        job,
        tx,
        screen: Screen::new(codecafe_terminals::PTY_ROWS, codecafe_terminals::PTY_COLS),
        transcript: Transcript::new(&spec.transcript, &env),
        live: job.live_socket.as_ref().and_then(|path| {
            LiveServer::start(path.clone())
                .map_err(|err| {
                    tracing::warn!(stage = %job.stage, %err, "no live terminal for `order attach`");
                })
                .ok()
        }),
        collector: Collector::default(),
        phase: Phase::Starting,
        turn_ended: false,
        seen_busy: false,
        typed_at: None,
        answered: None,
        last_output: Instant::now(),
        last_check: Instant::now(),
        last_transcript: Instant::now(),
        asked_at: None,
    };
    let ended = run.drive(session, &mut process, &mut lease);
    let last_screen = run.screen.text();
    let _ = process.terminate(GRACE);
    drop(process);
    // What the agent wrote as it ended (Claude Code: the session's cost).
    run.read_transcript(session);
    drop(lease);
    drop(run.live.take());
    let mut collector = std::mem::take(&mut run.collector);
    let denials = std::mem::take(&mut collector.denials).into_vec();
    let output = collector.final_text();
    let outcome = match ended {
        Ended::Done => match crate::stage::read_signals(job, &output) {
            Ok(signals) => {
                match crate::denials::failure(&denials, job.on_denied, job.permissions) {
                    Some(error) => StageOutcome::Failed { error },
                    None => StageOutcome::Succeeded { signals },
                }
            }
            Err(error) => StageOutcome::Failed { error },
        },
        Ended::Cancelled => StageOutcome::Cancelled,
        Ended::TimedOut => StageOutcome::TimedOut,
        Ended::Failed(error) => StageOutcome::Failed {
            error: format!(
                "{error}\n\nThe agent's last screen:\n{}",
                last_screen.trim_end()
            ),
        },
    };
    StageResult {
        outcome,
        output,
        exit_code: None,
        denials,
        approval: None,
    }
}

/// How the loop ended.
enum Ended {
    Done,
    Cancelled,
    TimedOut,
    Failed(String),
}

/// The state of one interactive attempt.
struct Run<'j, 'p> {
    job: &'j StageJob<'p>,
    tx: &'j Sender<WorkerMsg>,
    screen: Screen,
    transcript: Transcript,
    live: Option<LiveServer>,
    collector: Collector,
    phase: Phase,
    /// The transcript reported the end of the turn.
    turn_ended: bool,
    seen_busy: bool,
    typed_at: Option<Instant>,
    /// The dialog last answered without a human, when, and how often.
    answered: Option<(String, Instant, u32)>,
    last_output: Instant,
    last_check: Instant,
    last_transcript: Instant,
    /// When the human now asked was asked.
    asked_at: Option<Instant>,
}

impl<'p> Run<'_, 'p> {
    fn drive(
        &mut self,
        session: &mut ProviderSession,
        process: &mut AgentProcess,
        lease: &mut Option<crate::slots::Slot<'p>>,
    ) -> Ended {
        let mut deadline = Instant::now() + self.job.timeout;
        loop {
            if self.job.cancel.load(Ordering::Relaxed) {
                return Ended::Cancelled;
            }
            let waiting_for_human = matches!(self.phase, Phase::Approval(_) | Phase::Question(_));
            if waiting_for_human {
                // The stage's clock stops while a human is asked; the wait has its own bound.
                deadline += TICK;
                if self.asked_at.is_some_and(|at| at.elapsed() >= HUMAN_WAIT) {
                    return Ended::Failed(format!(
                        "nobody answered the agent within {} h",
                        HUMAN_WAIT.as_secs() / 3600
                    ));
                }
            } else if Instant::now() >= deadline {
                return Ended::TimedOut;
            }
            match process.recv_output(TICK) {
                Output::Chunk(_, bytes) => {
                    self.screen.feed(&bytes);
                    if let Some(live) = &mut self.live {
                        live.broadcast(b'O', &bytes);
                    }
                    self.last_output = Instant::now();
                    // Take everything already waiting before reading the screen.
                    while let Output::Chunk(_, more) = process.try_recv_output() {
                        self.screen.feed(&more);
                        if let Some(live) = &mut self.live {
                            live.broadcast(b'O', &more);
                        }
                    }
                }
                Output::Timeout => {}
                Output::Finished => {}
            }
            if let Ok(Some(status)) = process.try_wait() {
                self.read_transcript(session);
                if self.turn_ended && self.phase == Phase::Working {
                    return Ended::Done;
                }
                return Ended::Failed(format!(
                    "the agent's TUI ended ({status}) before its turn was over"
                ));
            }
            if let Err(error) = self.serve_clients(session, process, lease) {
                return Ended::Failed(error);
            }
            if self.last_transcript.elapsed() >= TRANSCRIPT_POLL {
                self.last_transcript = Instant::now();
                self.read_transcript(session);
            }
            let now = Instant::now();
            let settled = now.duration_since(self.last_output) >= SETTLE;
            let since_check = now.duration_since(self.last_check);
            // At most four reads a second while quiet, one while output keeps coming.
            if (settled && since_check >= SETTLE) || since_check >= RECHECK {
                self.last_check = now;
                match self.check(session, process, lease) {
                    Ok(true) => return Ended::Done,
                    Ok(false) => {}
                    Err(error) => return Ended::Failed(error),
                }
            }
        }
    }

    /// Reads the screen and acts on it; `Ok(true)` when the turn is over.
    fn check(
        &mut self,
        session: &mut ProviderSession,
        process: &mut AgentProcess,
        lease: &mut Option<crate::slots::Slot<'p>>,
    ) -> Result<bool, String> {
        let state = session
            .check_screen(&self.screen.text(), self.screen.title())
            .map_err(|err| err.to_string())?;
        match (&self.phase, state) {
            (Phase::Approval(_) | Phase::Question(_), ScreenState::Busy | ScreenState::Idle) => {
                // Answered in the terminal by an attached viewer.
                self.resumed_in_terminal(lease)?;
                Ok(false)
            }
            (Phase::Approval(_) | Phase::Question(_), _) => Ok(false),
            (_, ScreenState::Busy) => {
                self.seen_busy = true;
                Ok(false)
            }
            (Phase::Starting, ScreenState::Idle) => {
                let prompt = session
                    .encode_input(&self.job.invocation.prompt)
                    .map_err(|err| err.to_string())?
                    .map_err(|err| {
                        format!(
                            "provider `{}` cannot type the prompt: {err}",
                            self.job.provider.id()
                        )
                    })?;
                write(process, &prompt)?;
                self.phase = Phase::Working;
                self.typed_at = Some(Instant::now());
                Ok(false)
            }
            (Phase::Working, ScreenState::Idle) => Ok(self.turn_over()),
            (_, ScreenState::WaitingForInput(question)) => {
                self.ask(Phase::Question(question), lease);
                Ok(false)
            }
            (_, ScreenState::Dialog(dialog)) => self.dialog(dialog, process, lease).map(|()| false),
        }
    }

    /// The agent is idle after the prompt: over when its record says the turn ended; for an
    /// agent without a record, once it was seen working (or stayed idle a while).
    fn turn_over(&self) -> bool {
        if self.turn_ended {
            return true;
        }
        if self.transcript.candidates.is_empty() {
            return self.seen_busy
                || self
                    .typed_at
                    .is_some_and(|at| at.elapsed() >= IDLE_WITHOUT_RECORD);
        }
        false
    }

    fn dialog(
        &mut self,
        dialog: ScreenDialog,
        process: &mut AgentProcess,
        lease: &mut Option<crate::slots::Slot<'p>>,
    ) -> Result<(), String> {
        let key = format!("{:?}:{}", dialog.kind, dialog.question);
        if let Some((last, at, count)) = &self.answered
            && *last == key
        {
            if at.elapsed() < REANSWER {
                return Ok(()); // The TUI has not redrawn yet.
            }
            if *count >= MAX_ANSWERS {
                return Err(format!(
                    "the agent's dialog \"{}\" stays on screen after {count} answers",
                    dialog.question
                ));
            }
        }
        match dialog.kind {
            DialogKind::FolderTrust if self.job.own_worktree => {
                self.answer_keys(&key, &dialog.accept, process)
            }
            DialogKind::FolderTrust | DialogKind::Question => {
                self.ask(Phase::Question(dialog.question), lease);
                Ok(())
            }
            DialogKind::Permission => {
                let request = ApprovalRequest {
                    id: String::new(),
                    tool: dialog.tool.clone().unwrap_or_else(|| "tool".to_owned()),
                    input: dialog.input.clone(),
                    description: dialog.question.clone(),
                    rule: None,
                };
                match crate::stage::verdict(self.job, &request, self.tx) {
                    Verdict::Recorded { decision, .. } => {
                        return self.answer_keys(&key, keys_for(&dialog, decision), process);
                    }
                    Verdict::Refused(denial) => {
                        let event = AgentEvent::ToolDenied(denial);
                        self.collector
                            .take(self.job, vec![event].into(), None, self.tx);
                        return self.answer_keys(&key, &dialog.decline, process);
                    }
                    Verdict::Ask => {}
                }
                let approval = crate::approvals::new_approval(&self.job.stage, &request);
                self.ask(Phase::Approval(Box::new((dialog, approval))), lease);
                Ok(())
            }
        }
    }

    /// Types a dialog's answer, one write at a time.
    fn answer_keys(
        &mut self,
        key: &str,
        writes: &[Vec<u8>],
        process: &mut AgentProcess,
    ) -> Result<(), String> {
        for (n, bytes) in writes.iter().enumerate() {
            if n > 0 {
                std::thread::sleep(KEY_PAUSE);
            }
            write(process, bytes)?;
        }
        let count = match &self.answered {
            Some((last, _, count)) if last == key => count + 1,
            _ => 1,
        };
        self.answered = Some((key.to_owned(), Instant::now(), count));
        Ok(())
    }

    /// A human is asked: the order awaits input, the slot goes back.
    fn ask(&mut self, phase: Phase, lease: &mut Option<crate::slots::Slot<'p>>) {
        let waiting = match &phase {
            Phase::Approval(boxed) => Waiting::Approval(boxed.1.clone()),
            Phase::Question(question) => Waiting::Question(question.clone()),
            Phase::Starting | Phase::Working => return,
        };
        self.phase = phase;
        self.asked_at = Some(Instant::now());
        drop(lease.take());
        let _ = self.tx.send(WorkerMsg::Waiting {
            stage: self.job.stage.clone(),
            waiting,
        });
    }
}

impl<'p> Run<'_, 'p> {
    /// The phase after a human answered: working if the prompt was typed, else starting.
    fn back_to_work(&mut self) {
        self.phase = if self.typed_at.is_some() {
            Phase::Working
        } else {
            Phase::Starting
        };
        self.answered = None;
    }

    /// Takes the slot back after a human answered (waiting like any stage for one).
    fn relet(&mut self, lease: &mut Option<crate::slots::Slot<'p>>) -> Result<(), String> {
        if lease.is_none() {
            match crate::stage::lease(self.job) {
                Ok(taken) => *lease = Some(taken),
                Err(error) => {
                    return Err(error.unwrap_or_else(|| {
                        "cancelled while waiting for a terminal slot".to_owned()
                    }));
                }
            }
        }
        Ok(())
    }

    /// The dialog or question went away without a word to this worker: a viewer answered it in
    /// the terminal.
    fn resumed_in_terminal(
        &mut self,
        lease: &mut Option<crate::slots::Slot<'p>>,
    ) -> Result<(), String> {
        let answered = match &self.phase {
            Phase::Approval(_) => Answered::Approval {
                decision: Decision::Withdrawn,
                reason: Some("answered in the agent's terminal (`order attach`)".to_owned()),
            },
            _ => Answered::Question(None),
        };
        self.back_to_work();
        let _ = self.tx.send(WorkerMsg::Resumed {
            stage: self.job.stage.clone(),
            answered,
        });
        self.relet(lease)
    }

    /// Messages from other processes: viewers' keys and sizes, answers, decisions.
    fn serve_clients(
        &mut self,
        session: &mut ProviderSession,
        process: &mut AgentProcess,
        lease: &mut Option<crate::slots::Slot<'p>>,
    ) -> Result<(), String> {
        for _ in 0..64 {
            let Some(live) = self.live.as_mut() else {
                return Ok(());
            };
            let Some((id, message)) = live.try_next() else {
                return Ok(());
            };
            let holds = live.holder().is_some_and(|(holder, _)| holder == id);
            match message {
                ClientMsg::Joined { hello, .. } => {
                    if hello.role == Role::Attach {
                        let replay = self.screen.replay();
                        live.send(id, b'S', &replay);
                        live.tell_keyboard(id);
                        if holds && let (Some(cols), Some(rows)) = (hello.cols, hello.rows) {
                            self.resize(process, cols, rows);
                        }
                    }
                }
                ClientMsg::Keys(keys) if holds => write(process, &keys)?,
                ClientMsg::Keys(_) => live.tell_keyboard(id),
                ClientMsg::Resize(size) if holds => self.resize(process, size.cols, size.rows),
                ClientMsg::Resize(_) | ClientMsg::Left => {}
                ClientMsg::Text(text) => {
                    let reply = self.type_answer(session, process, lease, &text);
                    self.reply(id, reply);
                }
                ClientMsg::Decide(decision) => {
                    let reply = self.decide(process, lease, &decision);
                    self.reply(id, reply);
                }
            }
        }
        Ok(())
    }

    fn reply(&mut self, id: u64, reply: Result<String, String>) {
        if let Some(live) = &mut self.live {
            match reply {
                Ok(text) => live.send(id, b'A', text.as_bytes()),
                Err(text) => live.send(id, b'E', text.as_bytes()),
            }
        }
    }

    fn resize(&mut self, process: &AgentProcess, cols: u16, rows: u16) {
        if let Err(err) = process.resize(cols, rows) {
            tracing::debug!(stage = %self.job.stage, %err, "resizing the agent's terminal");
            return;
        }
        self.screen.resize(rows, cols);
    }

    /// `order input`: types the answer to the agent's question.
    fn type_answer(
        &mut self,
        session: &mut ProviderSession,
        process: &mut AgentProcess,
        lease: &mut Option<crate::slots::Slot<'p>>,
        text: &str,
    ) -> Result<String, String> {
        if let Some((_, pid)) = self.live.as_ref().and_then(LiveServer::holder) {
            return Err(format!(
                "the keyboard of stage `{}` is held by `codecafe order attach` (pid {pid}); type \
                 the answer there, or detach it (Ctrl-]) first",
                self.job.stage
            ));
        }
        if !matches!(self.phase, Phase::Question(_)) {
            return Err(format!(
                "stage `{}` asks no question right now",
                self.job.stage
            ));
        }
        let bytes = session
            .encode_input(text)
            .map_err(|err| err.to_string())?
            .map_err(|err| err.to_string())?;
        write(process, &bytes)?;
        self.back_to_work();
        let _ = self.tx.send(WorkerMsg::Resumed {
            stage: self.job.stage.clone(),
            answered: Answered::Question(Some(text.to_owned())),
        });
        self.relet(lease)?;
        Ok(format!("typed into stage `{}`", self.job.stage))
    }

    /// `order approve` / `deny`: answers the permission dialog with its keys.
    fn decide(
        &mut self,
        process: &mut AgentProcess,
        lease: &mut Option<crate::slots::Slot<'p>>,
        decision: &crate::live::DecisionMsg,
    ) -> Result<String, String> {
        let Phase::Approval(boxed) = &self.phase else {
            return Err(format!(
                "stage `{}` shows no permission dialog right now",
                self.job.stage
            ));
        };
        let dialog = boxed.0.clone();
        let key = format!("{:?}:{}", dialog.kind, dialog.question);
        let keys = keys_for(&dialog, decision.decision).to_vec();
        self.answer_keys(&key, &keys, process)?;
        self.back_to_work();
        let _ = self.tx.send(WorkerMsg::Resumed {
            stage: self.job.stage.clone(),
            answered: Answered::Approval {
                decision: decision.decision,
                reason: decision.reason.clone(),
            },
        });
        self.relet(lease)?;
        Ok(format!(
            "answered the permission dialog of stage `{}`",
            self.job.stage
        ))
    }

    /// New transcript lines → the provider → events (a final result ends the turn).
    fn read_transcript(&mut self, session: &mut ProviderSession) {
        let lines = self.transcript.read_lines();
        if lines.is_empty() {
            return;
        }
        match session.parse_transcript(&lines.join("\n")) {
            Ok(batch) => {
                if batch
                    .events
                    .iter()
                    .any(|e| matches!(e, AgentEvent::FinalResult(_)))
                    && self.typed_at.is_some()
                {
                    self.turn_ended = true;
                }
                self.collector.take(self.job, batch, None, self.tx);
            }
            Err(err) => {
                tracing::warn!(stage = %self.job.stage, %err, "provider could not parse the transcript");
                self.collector.plugin_error.get_or_insert(err.to_string());
            }
        }
    }
}

/// What a stage waits on, for the order's loop to record.
#[derive(Debug, Clone)]
pub(crate) enum Waiting {
    /// A permission dialog.
    Approval(NewApproval),
    /// A question or dialog for the user.
    Question(String),
}

/// How a wait ended, for the order's loop to record.
#[derive(Debug, Clone)]
pub(crate) enum Answered {
    /// The permission dialog was decided.
    Approval {
        decision: Decision,
        reason: Option<String>,
    },
    /// The question was answered (with the text typed by `order input`; `None` in the terminal).
    Question(Option<String>),
}

/// The writes a decision types into a permission dialog.
fn keys_for(dialog: &ScreenDialog, decision: Decision) -> &[Vec<u8>] {
    match decision {
        Decision::Allow => &dialog.accept,
        Decision::AllowAlways => dialog.accept_always.as_deref().unwrap_or(&dialog.accept),
        Decision::Deny | Decision::Withdrawn => &dialog.decline,
    }
}

fn write(process: &mut AgentProcess, bytes: &[u8]) -> Result<(), String> {
    process
        .write_input(bytes)
        .map_err(|err| format!("typing into the agent's terminal: {err}"))
}

/// The agent's transcript, tailed: found among the provider's candidate paths (it may appear
/// only once the agent starts its session), read from where it stood when the stage started.
struct Transcript {
    candidates: Vec<PathBuf>,
    file: Option<(File, u64)>,
    /// Where each candidate stood at the start (a resumed session's file already has history).
    start: Vec<(PathBuf, u64)>,
    partial: Vec<u8>,
}

impl Transcript {
    fn new(candidates: &[String], env: &[(String, String)]) -> Self {
        let candidates: Vec<PathBuf> = candidates.iter().filter_map(|c| expand(c, env)).collect();
        let start = candidates
            .iter()
            .flat_map(|c| matches(c))
            .filter_map(|p| std::fs::metadata(&p).ok().map(|m| (p, m.len())))
            .collect();
        Self {
            candidates,
            file: None,
            start,
            partial: Vec::new(),
        }
    }

    /// Complete lines appended since the last read (at most [`TRANSCRIPT_READ`] bytes a call).
    fn read_lines(&mut self) -> Vec<String> {
        if self.file.is_none() {
            let Some(path) = self.candidates.iter().flat_map(|c| matches(c)).next() else {
                return Vec::new();
            };
            let offset = self
                .start
                .iter()
                .find(|(p, _)| *p == path)
                .map_or(0, |(_, len)| *len);
            let Ok(mut file) = File::open(&path) else {
                return Vec::new();
            };
            if file.seek(SeekFrom::Start(offset)).is_err() {
                return Vec::new();
            }
            self.file = Some((file, offset));
        }
        let Some((file, _)) = &mut self.file else {
            return Vec::new();
        };
        let mut chunk = Vec::new();
        if file
            .take(TRANSCRIPT_READ as u64)
            .read_to_end(&mut chunk)
            .is_err()
        {
            return Vec::new();
        }
        self.partial.extend_from_slice(&chunk);
        let Some(last_newline) = self.partial.iter().rposition(|&b| b == b'\n') else {
            if self.partial.len() > MAX_LINE {
                self.partial.clear();
            }
            return Vec::new();
        };
        let complete: Vec<u8> = self.partial.drain(..=last_newline).collect();
        String::from_utf8_lossy(&complete)
            .split('\n')
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// `~/` and `$VAR/` expanded from `env`; `None` when the variable is unset.
fn expand(path: &str, env: &[(String, String)]) -> Option<PathBuf> {
    let var = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    if let Some(rest) = path.strip_prefix("~/") {
        return Some(Path::new(&var("HOME")?).join(rest));
    }
    if let Some(rest) = path.strip_prefix('$') {
        let (name, tail) = rest.split_once('/').unwrap_or((rest, ""));
        return Some(Path::new(&var(name)?).join(tail));
    }
    Some(PathBuf::from(path))
}

/// The existing paths `pattern` names: one `*` segment matches any directory name.
fn matches(pattern: &Path) -> Vec<PathBuf> {
    let parts: Vec<_> = pattern.components().collect();
    let Some(star) = parts.iter().position(|c| c.as_os_str() == "*") else {
        return if pattern.exists() {
            vec![pattern.to_path_buf()]
        } else {
            Vec::new()
        };
    };
    let base: PathBuf = parts[..star].iter().collect();
    let rest: PathBuf = parts[star + 1..].iter().collect();
    let Ok(entries) = std::fs::read_dir(&base) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path().join(&rest))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_expand_from_the_agent_environment() {
        let env = vec![
            ("HOME".to_owned(), "/home/u".to_owned()),
            ("CLAUDE_CONFIG_DIR".to_owned(), "/cfg".to_owned()),
        ];
        assert_eq!(
            expand("~/.claude/x", &env),
            Some(PathBuf::from("/home/u/.claude/x"))
        );
        assert_eq!(
            expand("$CLAUDE_CONFIG_DIR/projects/*/a.jsonl", &env),
            Some(PathBuf::from("/cfg/projects/*/a.jsonl"))
        );
        assert_eq!(expand("$UNSET/x", &env), None);
    }

    #[test]
    fn a_transcript_is_tailed_from_where_it_stood_in_whole_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let project = dir.path().join("projects").join("-work-tree");
        std::fs::create_dir_all(&project).expect("mkdir");
        let file = project.join("s.jsonl");
        std::fs::write(&file, "{\"old\":1}\n").expect("write");
        let pattern = format!("{}/projects/*/s.jsonl", dir.path().display());
        let mut transcript = Transcript::new(&[pattern], &[]);
        assert!(
            transcript.read_lines().is_empty(),
            "history is not read again"
        );
        use std::io::Write as _;
        let mut out = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .expect("open");
        out.write_all(b"{\"new\":1}\n{\"half\":").expect("append");
        assert_eq!(transcript.read_lines(), vec!["{\"new\":1}".to_owned()]);
        out.write_all(b"2}\n").expect("append");
        assert_eq!(transcript.read_lines(), vec!["{\"half\":2}".to_owned()]);
    }

    #[test]
    fn a_transcript_that_appears_later_is_read_from_its_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pattern = format!("{}/projects/*/s.jsonl", dir.path().display());
        let mut transcript = Transcript::new(&[pattern], &[]);
        assert!(transcript.read_lines().is_empty());
        let project = dir.path().join("projects").join("p");
        std::fs::create_dir_all(&project).expect("mkdir");
        std::fs::write(project.join("s.jsonl"), "{\"a\":1}\n").expect("write");
        assert_eq!(transcript.read_lines(), vec!["{\"a\":1}".to_owned()]);
    }
}
