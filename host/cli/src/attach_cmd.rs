//! `codecafe order attach`: the user's terminal on an interactive stage's live agent. Raw
//! mode, the screen so far replayed, keys to the agent (while this viewer holds the keyboard),
//! resizes forwarded; `Ctrl-]` detaches and the agent keeps running.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, bail};
use clap::Args;
use codecafe_service::Service;
use codecafe_service::live::{self, Size, read_frame, write_frame};

/// The key that detaches (`Ctrl-]`, as telnet's escape).
const DETACH_KEY: u8 = 0x1d;
/// How often the keyboard loop looks at resizes and the connection.
const POLL_MS: i32 = 200;

/// `order attach` arguments.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The order (id or a unique prefix).
    pub id: String,
    /// The interactive stage, when several run.
    #[arg(long)]
    pub stage: Option<String>,
}

pub fn attach(service: &Service, args: &AttachArgs) -> Result<ExitCode> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        bail!("`order attach` needs a terminal (run it in one, not through a pipe)");
    }
    let size = terminal_size();
    let attached = live::attach(service, &args.id, args.stage.as_deref(), size)?;
    eprintln!(
        "codecafe: attached to stage `{}` of order {} — Ctrl-] detaches, the agent keeps running",
        attached.stage, args.id
    );
    let (mut from_worker, mut to_worker) = attached.client.split()?;
    let raw = RawMode::enter()?;
    let gone = Arc::new(AtomicBool::new(false));
    let gone_in_thread = Arc::clone(&gone);
    let screen = std::thread::spawn(move || {
        let mut out = std::io::stdout();
        let mut ended = "the connection to the stage closed".to_owned();
        while let Ok(Some((kind, payload))) = read_frame(&mut from_worker) {
            let _ = match kind {
                b'S' | b'O' => out.write_all(&payload),
                b'N' => write!(
                    out,
                    "\r\n[codecafe] {}\r\n",
                    String::from_utf8_lossy(&payload)
                ),
                b'X' => {
                    ended = String::from_utf8_lossy(&payload).into_owned();
                    break;
                }
                _ => Ok(()),
            };
            let _ = out.flush();
        }
        gone_in_thread.store(true, Ordering::Relaxed);
        ended
    });
    let winch = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGWINCH, Arc::clone(&winch))?;
    let mut stdin = std::io::stdin().lock();
    let mut buf = [0u8; 4096];
    let detached = loop {
        if gone.load(Ordering::Relaxed) {
            break false;
        }
        if winch.swap(false, Ordering::Relaxed)
            && let Some(size) = terminal_size()
        {
            let _ = write_frame(&mut to_worker, b'R', &serde_json::to_vec(&size)?);
        }
        if !readable(0, POLL_MS) {
            continue;
        }
        let n = match stdin.read(&mut buf) {
            Ok(0) | Err(_) => break true,
            Ok(n) => n,
        };
        let keys = &buf[..n];
        if let Some(at) = keys.iter().position(|&b| b == DETACH_KEY) {
            if at > 0 {
                let _ = write_frame(&mut to_worker, b'K', &keys[..at]);
            }
            break true;
        }
        if write_frame(&mut to_worker, b'K', keys).is_err() {
            break false;
        }
    };
    let _ = to_worker.shutdown(std::net::Shutdown::Both);
    let ended = screen.join().unwrap_or_default();
    drop(raw);
    if detached {
        eprintln!("\ncodecafe: detached; the agent keeps running");
    } else {
        eprintln!("\ncodecafe: {ended}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The terminal's size, when stdout is one.
fn terminal_size() -> Option<Size> {
    // SAFETY: TIOCGWINSZ fills a plain struct; the descriptor is stdout's.
    #[allow(unsafe_code)]
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        (libc::ioctl(1, libc::TIOCGWINSZ, &mut size) == 0 && size.ws_col > 0).then_some(Size {
            cols: size.ws_col,
            rows: size.ws_row,
        })
    }
}

/// Whether `fd` has input within `timeout_ms`.
fn readable(fd: i32, timeout_ms: i32) -> bool {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    #[allow(unsafe_code)]
    let ready = unsafe { libc::poll(&mut poll, 1, timeout_ms) };
    ready > 0
}

/// The terminal in raw mode until dropped (then restored).
struct RawMode {
    saved: libc::termios,
}

impl RawMode {
    fn enter() -> Result<Self> {
        // SAFETY: tcgetattr / tcsetattr on stdin with a termios they fill / read.
        #[allow(unsafe_code)]
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut saved) != 0 {
                bail!(
                    "cannot read the terminal's mode: {}",
                    std::io::Error::last_os_error()
                );
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            if libc::tcsetattr(0, libc::TCSANOW, &raw) != 0 {
                bail!(
                    "cannot set the terminal to raw mode: {}",
                    std::io::Error::last_os_error()
                );
            }
            Ok(Self { saved })
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores the mode read in `enter`.
        #[allow(unsafe_code)]
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &self.saved);
        }
    }
}
