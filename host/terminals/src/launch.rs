//! Starting an agent without copying codecafe.
//!
//! `std::process::Command` forks as soon as a `pre_exec` step is set, and codecafe needs one
//! (the parent-death signal, a new session with the pseudo-terminal as its controlling
//! terminal). A fork of a large, many-threaded process copies its page tables, and every page
//! either side writes afterwards is copied on write, each copy flushing the TLB of every CPU
//! the process runs on: measured with 1,000 orders in flight, that was over a third of the
//! machine's time. So an agent is started the way `posix_spawn` does it: `clone(CLONE_VM |
//! CLONE_VFORK)` — the child runs on a stack of its own in codecafe's memory while the calling
//! thread waits, makes only system calls (no allocation, no lock), and `execve`s or exits. Go's
//! runtime starts every process this way, with the same set-up steps.
//!
//! Everything the child needs (paths, argument and environment arrays, descriptors) is built
//! before the clone; an error in the child is written to memory the parent reads after it
//! resumes, and the child is reaped before the error is returned.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::process::Pid;

/// Stack of the child between the clone and `execve`: it runs one short function.
const CHILD_STACK: usize = 128 * 1024;

/// What to start and how; built by the caller, then handed to [`spawn`].
pub(crate) struct Launch {
    /// The program as given (for lookup on `PATH` when it has no `/`).
    pub program: String,
    pub args: Vec<String>,
    /// The whole environment of the child.
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    /// Make the child the leader of a new session whose controlling terminal is its standard
    /// input (a pseudo-terminal's slave side); else the leader of a new process group.
    pub session: bool,
}

/// The child's part, as raw pointers into memory the parent keeps alive until the child has
/// called `execve` or exited (the calling thread is suspended until then).
struct ChildArgs {
    path: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    cwd: *const libc::c_char,
    stdio: [libc::c_int; 3],
    session: bool,
    parent: libc::pid_t,
    /// Set by the child to the `errno` of the step that failed.
    error: libc::c_int,
}

/// Starts `launch` with `stdio` as its standard input, output and error; returns its pid.
pub(crate) fn spawn(launch: &Launch, stdio: [BorrowedFd<'_>; 3]) -> io::Result<Pid> {
    let path = resolve(&launch.program, &launch.env)?;
    let path = cstring(path.as_os_str().as_bytes())?;
    let argv_owned = std::iter::once(launch.program.as_bytes())
        .chain(launch.args.iter().map(String::as_bytes))
        .map(cstring)
        .collect::<io::Result<Vec<_>>>()?;
    let envp_owned = launch
        .env
        .iter()
        .map(|(key, value)| cstring(format!("{key}={value}").as_bytes()))
        .collect::<io::Result<Vec<_>>>()?;
    let cwd = cstring(launch.cwd.as_os_str().as_bytes())?;
    let argv = null_terminated(&argv_owned);
    let envp = null_terminated(&envp_owned);
    let mut args = ChildArgs {
        path: path.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        cwd: cwd.as_ptr(),
        stdio: stdio.map(|fd| fd.as_raw_fd()),
        session: launch.session,
        parent: rustix::process::getpid().as_raw_nonzero().get(),
        error: 0,
    };
    let mut stack = Vec::<u8>::with_capacity(CHILD_STACK);
    let pid = clone_vfork(&mut args, &mut stack)?;
    if args.error != 0 {
        // The child exited without `execve`: reap it, then report why.
        let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
        return Err(io::Error::from_raw_os_error(args.error));
    }
    Ok(pid)
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "an argument, variable or path contains a NUL byte",
        )
    })
}

fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// `program` itself when it names a path; else the first executable file of that name in the
/// child's `PATH` (codecafe's own when the child gets none), as `execvp` would find it.
fn resolve(program: &str, env: &[(String, String)]) -> io::Result<PathBuf> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    let search = env
        .iter()
        .rev()
        .find(|(key, _)| key == "PATH")
        .map(|(_, value)| value.clone().into())
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&search)
        .map(|dir| dir.join(program))
        .find(|candidate| executable(candidate))
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
}

fn executable(path: &Path) -> bool {
    path.is_file() && rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_ok()
}

/// Clones the calling process into a child that shares its memory and runs [`child_main`]
/// on `stack`, while this thread waits until the child has called `execve` or exited.
#[allow(unsafe_code)]
fn clone_vfork(args: &mut ChildArgs, stack: &mut Vec<u8>) -> io::Result<Pid> {
    // No signal handler of codecafe may run in the child (it would share codecafe's memory):
    // every signal is blocked across the clone; the child resets the handlers, then unblocks.
    // SAFETY: sigset_t is plain data, filled by sigfillset before use; pthread_sigmask only
    // changes this thread's mask and is restored below on every path.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigfillset(&raw mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &raw const all, &raw mut old);
    }
    // The stack grows down from its 16-byte-aligned top.
    let top = (stack.as_mut_ptr() as usize + stack.capacity()) & !15;
    // SAFETY: the child runs `child_main` on `stack` (unused memory we own and keep alive past
    // its `execve`) with `args`, which outlives it: CLONE_VFORK suspends this thread until the
    // child has called `execve` or `_exit`. `child_main` only makes system calls.
    let pid = unsafe {
        libc::clone(
            child_main,
            top as *mut libc::c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            std::ptr::from_mut(args).cast(),
        )
    };
    let clone_error = io::Error::last_os_error();
    // SAFETY: restores the mask saved above.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, &raw const old, std::ptr::null_mut());
    }
    if pid < 0 {
        return Err(clone_error);
    }
    Pid::from_raw(pid).ok_or_else(|| io::Error::other("clone returned no pid"))
}

/// The child between the clone and `execve`. It shares codecafe's memory while codecafe's
/// other threads run on, so it makes system calls only: no allocation, no lock, no panic.
#[allow(unsafe_code)]
extern "C" fn child_main(raw: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `raw` is the `ChildArgs` the parent passed, alive and not touched by the parent
    // until this child has called `execve` or `_exit`.
    let args = unsafe { &mut *raw.cast::<ChildArgs>() };
    // SAFETY: every call below is a plain system call on values prepared by the parent.
    unsafe {
        let fail = |args: &mut ChildArgs| -> ! {
            args.error = *libc::__errno_location();
            if args.error == 0 {
                args.error = libc::EINVAL;
            }
            libc::_exit(127)
        };
        // Handlers of codecafe's are not the agent's: back to the default (ignored signals
        // stay ignored, as across `execve`, except SIGPIPE, which Rust ignores for itself).
        for signal in 1..=libc::SIGRTMAX() {
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &raw mut current) != 0 {
                continue;
            }
            let ignored = current.sa_sigaction == libc::SIG_IGN && signal != libc::SIGPIPE;
            if current.sa_sigaction != libc::SIG_DFL && !ignored {
                let mut default: libc::sigaction = std::mem::zeroed();
                default.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(signal, &raw const default, std::ptr::null_mut());
            }
        }
        if args.session {
            if libc::setsid() < 0 {
                fail(args);
            }
        } else if libc::setpgid(0, 0) != 0 {
            fail(args);
        }
        // Descriptors below 3 would be overwritten by the dup2 of another one: move them up.
        for fd in &mut args.stdio {
            if *fd < 3 {
                *fd = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 3);
                if *fd < 0 {
                    fail(args);
                }
            }
        }
        for (target, fd) in args.stdio.iter().enumerate() {
            if libc::dup2(*fd, target as libc::c_int) < 0 {
                fail(args);
            }
        }
        if args.session && libc::ioctl(0, libc::TIOCSCTTY, 0 as libc::c_ulong) != 0 {
            fail(args);
        }
        // Dies with the thread that starts it; a parent already gone means give up.
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
            fail(args);
        }
        if libc::getppid() != args.parent {
            *libc::__errno_location() = libc::ESRCH;
            fail(args);
        }
        if libc::chdir(args.cwd) != 0 {
            fail(args);
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&raw mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &raw const none, std::ptr::null_mut());
        libc::execve(args.path, args.argv, args.envp);
        fail(args)
    }
}
