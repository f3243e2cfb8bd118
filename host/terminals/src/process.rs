//! Agent processes: spawn a [`CommandSpec`] on pipes or in a pseudo-terminal, each in its own
//! process group, stream its output through a bounded queue, feed its standard input, wait with a
//! deadline, and terminate the whole group.
//!
//! **Environment.** The agent never inherits codecafe's environment. It gets exactly the
//! `base_env` the caller passes to [`spawn`] (use [`inherited_env`] with [`DEFAULT_ENV_ALLOW`] to
//! copy `PATH`, `HOME`, locale and the like from codecafe's own environment) plus the spec's own
//! `env`, which wins on a clash. A pseudo-terminal also gets `TERM=xterm-256color` unless one of
//! those sets `TERM`. The program is looked up on that `PATH`.
//!
//! **Starting.** Without a fork of codecafe (see [`crate::launch`]): the child shares its
//! memory until it `execve`s, so a large codecafe starts agents as cheaply as a small one.
//!
//! **Never outliving codecafe.** On Linux every agent is started with a parent-death signal
//! (`PR_SET_PDEATHSIG`, SIGKILL): when the thread that started it ends — codecafe killed with
//! `kill -9` included — the kernel kills the agent at once. What the agent started itself lives in
//! its process group, which `order cancel` / `order resume` kill from the recorded group id.
//!
//! **Input in a pseudo-terminal.** "Closing" it types end-of-file (`^D`, twice after a partial
//! line) instead of hanging up, as a person at the terminal would.
//!
//! **Output bounds.** One reader thread per stream reads chunks of at most
//! [`OUTPUT_CHUNK_BYTES`] into a queue of at most [`OUTPUT_QUEUE_CHUNKS`] chunks shared by both
//! streams, so at most 1 MiB waits per process. When the consumer is slow the reader blocks, the
//! kernel pipe (or terminal) buffer fills and the agent blocks on its next write: backpressure, not
//! growth. A consumer that stops reading therefore stalls the agent; [`AgentProcess::terminate`]
//! and dropping the process still work in that state.
//!
//! **Process groups.** On pipes the child leads a new process group; in a
//! pseudo-terminal (opened here with `openpt`, the agent its session leader with the terminal as
//! its controlling terminal) it is a session leader. Either way its pid is its group id, and
//! [`AgentProcess::terminate`] and `Drop` signal the whole group, so grandchildren die with it.
//! The group is signalled even after the leader exited (to catch what it left behind); the
//! kernel does not hand out a pid that is still some group's id, so this reaches only that group
//! while any member lives. A grandchild that keeps stdout or stderr open keeps the output from
//! reaching [`Output::Finished`] until the group is terminated; wait for the exit status, not for
//! the end of output, to know the agent is done.

use std::io::{Read, Write};
use std::os::fd::{AsFd as _, OwnedFd};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use std::{fmt, thread};

use codecafe_sdk::{CommandSpec, Io, Stdin, Stream};
use rustix::process::{Pid, Signal, WaitOptions};

use crate::error::{Result, TerminalError};
use crate::launch;

/// Largest chunk one read delivers.
pub const OUTPUT_CHUNK_BYTES: usize = 16 * 1024;
/// Chunks that may wait in the output queue before the readers block (backpressure).
pub const OUTPUT_QUEUE_CHUNKS: usize = 64;
/// Columns of an agent's pseudo-terminal.
pub const PTY_COLS: u16 = 120;
/// Rows of an agent's pseudo-terminal.
pub const PTY_ROWS: u16 = 40;
/// How long [`AgentProcess::terminate`] and `Drop` wait for the process after SIGKILL.
pub const KILL_WAIT: Duration = Duration::from_secs(10);

/// Variables agents usually need from codecafe's own environment; pass them through
/// [`inherited_env`].
pub const DEFAULT_ENV_ALLOW: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TERM",
    "TMPDIR",
    "TZ",
    // Where CLIs keep their own configuration and logins.
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "XDG_RUNTIME_DIR",
];

/// The variables of codecafe's own environment named in `names` that are set (and valid
/// Unicode), in the order of `names`.
pub fn inherited_env(names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .filter_map(|name| {
            std::env::var(name)
                .ok()
                .map(|value| ((*name).to_owned(), value))
        })
        .collect()
}

/// The environment every agent starts with: [`inherited_env`] of [`DEFAULT_ENV_ALLOW`]. What
/// else an agent gets is decided per stage (its provider's declared variables and the stage's
/// `pass_env`; see codecafe-runner's `policy`).
pub fn agent_base_env() -> Vec<(String, String)> {
    inherited_env(DEFAULT_ENV_ALLOW)
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// A signal with this number killed it.
    Signal(i32),
}

impl ExitStatus {
    /// Exit code 0.
    pub fn success(self) -> bool {
        self == Self::Code(0)
    }

    /// The exit code, if it exited.
    pub fn code(self) -> Option<i32> {
        match self {
            Self::Code(code) => Some(code),
            Self::Signal(_) => None,
        }
    }

    /// The signal number, if a signal killed it.
    pub fn signal(self) -> Option<i32> {
        match self {
            Self::Code(_) => None,
            Self::Signal(signal) => Some(signal),
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code(code) => write!(f, "exit code {code}"),
            Self::Signal(signal) => write!(f, "killed by signal {signal}"),
        }
    }
}

/// One step of reading an agent's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Bytes from one stream (in a pseudo-terminal everything is [`Stream::Stdout`]).
    Chunk(Stream, Vec<u8>),
    /// Nothing arrived within the timeout.
    Timeout,
    /// Every stream reached end of file; nothing more will come.
    Finished,
}

/// Output gathered by [`AgentProcess::collect_output`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collected {
    /// Standard output (or the pseudo-terminal), up to the limit.
    pub stdout: Vec<u8>,
    /// Standard error, up to the limit.
    pub stderr: Vec<u8>,
    /// Bytes were dropped because the limit was reached.
    pub truncated: bool,
    /// Every stream reached end of file before the deadline.
    pub finished: bool,
}

/// The writing end of an agent's standard input, served by a thread so a slow reader never
/// blocks the caller.
struct Input {
    tx: Sender<Vec<u8>>,
    failed: Arc<Mutex<Option<std::io::Error>>>,
}

/// Where a pseudo-terminal's writer is kept after input is "closed": closing the master would
/// hang up the terminal, so end-of-file is typed by hand and the writer parked.
type Parked = Arc<Mutex<Option<Box<dyn Write + Send>>>>;

/// The control characters that make a terminal reader see end of file: `^D` ends a partial line
/// first, a second `^D` on an empty line is the end of file.
fn pty_eof(last: Option<u8>) -> &'static [u8] {
    match last {
        None | Some(b'\n') => b"\x04",
        Some(_) => b"\x04\x04",
    }
}

fn start_input(
    mut writer: Box<dyn Write + Send>,
    initial: Vec<u8>,
    pty: Option<Parked>,
) -> Result<Input> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let failed = Arc::new(Mutex::new(None));
    let failed_in_thread = Arc::clone(&failed);
    thread::Builder::new()
        .name("agent-stdin".to_owned())
        .spawn(move || {
            let mut last = None;
            let mut ok = true;
            for bytes in rx {
                if let Err(err) = writer.write_all(&bytes).and_then(|()| writer.flush()) {
                    *failed_in_thread
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = Some(err);
                    ok = false;
                    break;
                }
                last = bytes.last().copied().or(last);
            }
            if let Some(parked) = pty {
                if ok {
                    let _ = writer
                        .write_all(pty_eof(last))
                        .and_then(|()| writer.flush());
                }
                *parked.lock().unwrap_or_else(PoisonError::into_inner) = Some(writer);
            }
            // Otherwise dropping the writer closes the pipe.
        })
        .map_err(|source| TerminalError::Io {
            what: "starting the standard input thread".to_owned(),
            source,
        })?;
    if !initial.is_empty() {
        // The receiver lives until the sender is dropped, so this cannot fail.
        let _ = tx.send(initial);
    }
    Ok(Input { tx, failed })
}

fn start_reader(
    mut reader: Box<dyn Read + Send>,
    stream: Stream,
    tx: SyncSender<(Stream, Vec<u8>)>,
) -> Result<()> {
    thread::Builder::new()
        .name("agent-output".to_owned())
        .spawn(move || {
            let mut buf = vec![0u8; OUTPUT_CHUNK_BYTES];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if tx.send((stream, buf[..n].to_vec())).is_err() {
                            break;
                        }
                    }
                    Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                    // A pseudo-terminal reports EIO once the last slave descriptor closes.
                    Err(_) => break,
                }
            }
        })
        .map(drop)
        .map_err(|source| TerminalError::Io {
            what: "starting an output thread".to_owned(),
            source,
        })
}

/// A running (or finished) agent process in its own process group.
///
/// Dropping it closes its input and SIGKILLs its whole process group (also when the leader has
/// already exited, to catch grandchildren it left behind), then reaps it, waiting at most
/// [`KILL_WAIT`].
pub struct AgentProcess {
    program: String,
    pid: u32,
    pgid: Pid,
    /// The pseudo-terminal's master side when it runs in one, kept for the life of the
    /// process: the terminal stays open while the agent runs.
    master: Option<OwnedFd>,
    status: Option<ExitStatus>,
    output: Receiver<(Stream, Vec<u8>)>,
    input: Option<Input>,
    parked: Parked,
}

impl fmt::Debug for AgentProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentProcess")
            .field("program", &self.program)
            .field("pid", &self.pid)
            .field("status", &self.status)
            .field("input_open", &self.input.is_some())
            .finish_non_exhaustive()
    }
}

/// Starts `spec` in `cwd`, in its own process group, with exactly `base_env` plus `spec.env`
/// (see the module documentation for the environment policy).
pub fn spawn(
    spec: &CommandSpec,
    cwd: &Path,
    base_env: &[(String, String)],
) -> Result<AgentProcess> {
    // Never run an agent somewhere else than asked.
    if !cwd.is_dir() {
        return Err(spawn_error(
            spec,
            cwd,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the working directory does not exist",
            ),
        ));
    }
    match spec.io {
        Io::Pipes => spawn_pipes(spec, cwd, base_env),
        Io::Pty => spawn_pty(spec, cwd, base_env),
    }
}

fn spawn_error(spec: &CommandSpec, cwd: &Path, source: std::io::Error) -> TerminalError {
    TerminalError::Spawn {
        program: spec.program.clone(),
        cwd: cwd.to_path_buf(),
        source,
    }
}

fn spawn_pipes(
    spec: &CommandSpec,
    cwd: &Path,
    base_env: &[(String, String)],
) -> Result<AgentProcess> {
    let io_error = |err| spawn_error(spec, cwd, err);
    let (stdout, child_stdout) = std::io::pipe().map_err(io_error)?;
    let (stderr, child_stderr) = std::io::pipe().map_err(io_error)?;
    let (stdin, child_stdin) = match spec.stdin {
        Stdin::Closed => {
            let null = std::fs::File::open("/dev/null").map_err(io_error)?;
            (None, OwnedFd::from(null))
        }
        Stdin::Bytes(_) | Stdin::KeepOpen(_) => {
            let (reader, writer) = std::io::pipe().map_err(io_error)?;
            (Some(writer), OwnedFd::from(reader))
        }
    };
    let launch = launch(spec, cwd, base_env, None, false);
    let pid = launch::spawn(
        &launch,
        [
            child_stdin.as_fd(),
            child_stdout.as_fd(),
            child_stderr.as_fd(),
        ],
    )
    .map_err(io_error)?;
    // Only the agent may hold its ends, so reads end when it (and its group) is gone.
    drop((child_stdin, child_stdout, child_stderr));
    let (tx, output) = mpsc::sync_channel(OUTPUT_QUEUE_CHUNKS);
    let mut process = AgentProcess {
        program: spec.program.clone(),
        pid: pid.as_raw_nonzero().get().unsigned_abs(),
        pgid: pid,
        master: None,
        status: None,
        output,
        input: None,
        parked: Parked::default(),
    };
    // From here on, an error drops `process`, which kills the group.
    start_reader(Box::new(stdout), Stream::Stdout, tx.clone())?;
    start_reader(Box::new(stderr), Stream::Stderr, tx)?;
    if let Some(stdin) = stdin {
        process.input = match &spec.stdin {
            Stdin::Closed => None,
            Stdin::Bytes(bytes) => {
                // Written by the thread, which then closes standard input.
                drop(start_input(Box::new(stdin), bytes.clone(), None)?);
                None
            }
            Stdin::KeepOpen(bytes) => Some(start_input(Box::new(stdin), bytes.clone(), None)?),
        };
    }
    Ok(process)
}

/// What [`launch::spawn`] starts for `spec`: exactly `base_env` plus the spec's own variables
/// (which win on a clash), and `default_term` unless one of them sets `TERM`.
fn launch(
    spec: &CommandSpec,
    cwd: &Path,
    base_env: &[(String, String)],
    default_term: Option<&str>,
    session: bool,
) -> launch::Launch {
    let mut env: Vec<(String, String)> = Vec::with_capacity(base_env.len() + spec.env.len() + 1);
    for (key, value) in base_env.iter().chain(&spec.env) {
        match env.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1.clone_from(value),
            None => env.push((key.clone(), value.clone())),
        }
    }
    if let Some(term) = default_term
        && !env.iter().any(|(k, _)| k == "TERM")
    {
        env.push(("TERM".to_owned(), term.to_owned()));
    }
    launch::Launch {
        program: spec.program.clone(),
        args: spec.args.clone(),
        env,
        cwd: cwd.to_path_buf(),
        session,
    }
}

fn spawn_pty(
    spec: &CommandSpec,
    cwd: &Path,
    base_env: &[(String, String)],
) -> Result<AgentProcess> {
    let pty_error = |what: &str, err: std::io::Error| TerminalError::Pty {
        program: spec.program.clone(),
        message: format!("{what}: {err}"),
    };
    let (master, slave) = open_pty().map_err(|err| pty_error("cannot open one", err))?;
    let launch = launch(spec, cwd, base_env, Some("xterm-256color"), true);
    let pid = launch::spawn(&launch, [slave.as_fd(), slave.as_fd(), slave.as_fd()])
        .map_err(|err| spawn_error(spec, cwd, err))?;
    // Only the agent may hold the slave side, so reads end when it (and its group) is gone.
    drop(slave);
    let reader = master
        .try_clone()
        .map(|fd| Box::new(std::fs::File::from(fd)) as Box<dyn Read + Send>)
        .map_err(|err| pty_error("cannot read it", err));
    let writer = master
        .try_clone()
        .map(|fd| Box::new(std::fs::File::from(fd)) as Box<dyn Write + Send>)
        .map_err(|err| pty_error("cannot write to it", err));
    let (tx, output) = mpsc::sync_channel(OUTPUT_QUEUE_CHUNKS);
    let mut process = AgentProcess {
        program: spec.program.clone(),
        pid: pid.as_raw_nonzero().get().unsigned_abs(),
        pgid: pid,
        master: Some(master),
        status: None,
        output,
        input: None,
        parked: Parked::default(),
    };
    // From here on, an error drops `process`, which kills the group.
    start_reader(reader?, Stream::Stdout, tx)?;
    let writer = writer?;
    let parked = Arc::clone(&process.parked);
    process.input = match &spec.stdin {
        // The input thread types end-of-file when input closes.
        Stdin::Closed => {
            drop(start_input(writer, Vec::new(), Some(parked))?);
            None
        }
        Stdin::Bytes(bytes) => {
            drop(start_input(writer, bytes.clone(), Some(parked))?);
            None
        }
        Stdin::KeepOpen(bytes) => Some(start_input(writer, bytes.clone(), Some(parked))?),
    };
    Ok(process)
}

/// A new pseudo-terminal of [`PTY_ROWS`] × [`PTY_COLS`]: its master and slave sides, both
/// close-on-exec (the child gets the slave as its standard streams).
fn open_pty() -> std::io::Result<(OwnedFd, OwnedFd)> {
    use rustix::fs::{Mode, OFlags};
    use rustix::pty::OpenptFlags;
    let master =
        rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    rustix::pty::grantpt(&master)?;
    rustix::pty::unlockpt(&master)?;
    let name = rustix::pty::ptsname(&master, Vec::new())?;
    let slave = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    rustix::termios::tcsetwinsize(
        &master,
        rustix::termios::Winsize {
            ws_row: PTY_ROWS,
            ws_col: PTY_COLS,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )?;
    Ok((master, slave))
}

impl AgentProcess {
    /// The program that was started.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// Resizes its pseudo-terminal (the agent gets `SIGWINCH`); on pipes there is nothing to
    /// resize and this does nothing.
    pub fn resize(&self, cols: u16, rows: u16) -> Result<()> {
        let Some(master) = &self.master else {
            return Ok(());
        };
        rustix::termios::tcsetwinsize(
            master,
            rustix::termios::Winsize {
                ws_row: rows.max(1),
                ws_col: cols.max(1),
                ws_xpixel: 0,
                ws_ypixel: 0,
            },
        )
        .map_err(|err| TerminalError::Pty {
            program: self.program.clone(),
            message: format!("cannot resize it: {err}"),
        })
    }

    /// Its pid, which is also its process group id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether [`AgentProcess::write_input`] can still be used.
    pub fn input_open(&self) -> bool {
        self.input.is_some()
    }

    /// Queues `bytes` for the agent's standard input; a thread writes them in order, so this
    /// never blocks on a slow agent. Fails with [`TerminalError::InputClosed`] unless the spec
    /// used [`Stdin::KeepOpen`] and input was not closed, and with [`TerminalError::Io`] when an
    /// earlier write failed (e.g. the agent exited).
    pub fn write_input(&mut self, bytes: &[u8]) -> Result<()> {
        let closed = || TerminalError::InputClosed {
            program: self.program.clone(),
        };
        let input = self.input.as_ref().ok_or_else(closed)?;
        let failed = input
            .failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(source) = failed {
            self.input = None;
            return Err(TerminalError::Io {
                what: format!("writing to the standard input of `{}`", self.program),
                source,
            });
        }
        input.tx.send(bytes.to_vec()).map_err(|_| closed())
    }

    /// Closes standard input after what was queued is written (in a pseudo-terminal: sends
    /// end-of-file). Closing twice is harmless.
    pub fn close_input(&mut self) {
        self.input = None;
    }

    /// The next output chunk, waiting at most `timeout`.
    pub fn recv_output(&self, timeout: Duration) -> Output {
        match self.output.recv_timeout(timeout) {
            Ok((stream, bytes)) => Output::Chunk(stream, bytes),
            Err(RecvTimeoutError::Timeout) => Output::Timeout,
            Err(RecvTimeoutError::Disconnected) => Output::Finished,
        }
    }

    /// The next output chunk if one is waiting.
    pub fn try_recv_output(&self) -> Output {
        match self.output.try_recv() {
            Ok((stream, bytes)) => Output::Chunk(stream, bytes),
            Err(mpsc::TryRecvError::Empty) => Output::Timeout,
            Err(mpsc::TryRecvError::Disconnected) => Output::Finished,
        }
    }

    /// Reads output until every stream ends or `timeout` passes, keeping at most `limit` bytes
    /// per stream (the rest is read and dropped, so the agent is never stalled by it).
    pub fn collect_output(&self, timeout: Duration, limit: usize) -> Collected {
        let deadline = Instant::now() + timeout;
        let mut collected = Collected::default();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return collected;
            }
            match self.recv_output(left) {
                Output::Chunk(stream, bytes) => {
                    let buf = match stream {
                        Stream::Stdout => &mut collected.stdout,
                        Stream::Stderr => &mut collected.stderr,
                    };
                    let room = limit.saturating_sub(buf.len());
                    if bytes.len() > room {
                        collected.truncated = true;
                    }
                    buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
                }
                Output::Timeout => return collected,
                Output::Finished => {
                    collected.finished = true;
                    return collected;
                }
            }
        }
    }

    /// How it ended, if it has; reaps it.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let io_error = |source| TerminalError::Io {
            what: format!("waiting for `{}`", self.program),
            source,
        };
        let status = rustix::process::waitpid(Some(self.pgid), WaitOptions::NOHANG)
            .map_err(|err| io_error(err.into()))?
            .map(
                |(_, status)| match (status.exit_status(), status.terminating_signal()) {
                    (Some(code), _) => ExitStatus::Code(code),
                    (None, Some(signal)) => ExitStatus::Signal(signal),
                    (None, None) => ExitStatus::Code(-1),
                },
            );
        self.status = status;
        Ok(status)
    }

    /// Waits at most `timeout` for it to end; `None` if it still runs.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            thread::sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(25));
        }
    }

    /// Sends `signal` to the whole process group; a group that is already gone is not an error.
    fn signal_group(&self, signal: Signal) {
        if let Err(err) = rustix::process::kill_process_group(self.pgid, signal) {
            tracing::debug!(program = %self.program, pid = self.pid, %err, "signalling the group");
        }
    }

    /// Stops the agent and everything it started: SIGTERM to its process group, SIGKILL to the
    /// group after `grace` (or at once if the leader already exited, for what it left behind),
    /// then reaps the leader, waiting at most [`KILL_WAIT`] more.
    pub fn terminate(&mut self, grace: Duration) -> Result<ExitStatus> {
        self.close_input();
        if let Some(status) = self.try_wait()? {
            self.signal_group(Signal::KILL);
            return Ok(status);
        }
        self.signal_group(Signal::TERM);
        let status = self.wait_timeout(grace)?;
        self.signal_group(Signal::KILL);
        match status {
            Some(status) => Ok(status),
            None => self
                .wait_timeout(KILL_WAIT)?
                .ok_or_else(|| TerminalError::DidNotExit {
                    program: self.program.clone(),
                    pid: self.pid,
                    waited: KILL_WAIT,
                }),
        }
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.input = None;
        self.signal_group(Signal::KILL);
        if let Ok(None) | Err(_) = self.wait_timeout(KILL_WAIT) {
            tracing::warn!(program = %self.program, pid = self.pid, "agent did not exit after SIGKILL");
        }
    }
}
