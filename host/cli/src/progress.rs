//! Live progress of a foreground run on a terminal: one status line (running stages, elapsed
//! time, the agent's last action, tokens and cost), redrawn in place every second and cleared
//! before each normal event line. Only when stdout is a terminal and not `--json`; piped output
//! is never touched.

use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use codecafe_service::Event;
use codecafe_service::narrate::Progress;

/// How often the status line is redrawn while nothing else happens.
const TICK: Duration = Duration::from_secs(1);
/// How often the ticker looks whether it must stop.
const STOP_POLL: Duration = Duration::from_millis(100);
/// Erase the current terminal line and go to its start.
const CLEAR: &str = "\r\x1b[2K";

/// The live status line of one foreground run; cleared and stopped when dropped.
pub(crate) struct Live {
    state: Arc<Mutex<Progress>>,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

impl Live {
    /// A live status line, when stdout is a terminal and the output is not `--json`.
    pub(crate) fn start(json: bool) -> Option<Self> {
        if json || !std::io::stdout().is_terminal() {
            return None;
        }
        let state = Arc::new(Mutex::new(Progress::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let (state, stop) = (Arc::clone(&state), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut last = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(STOP_POLL);
                    if last.elapsed() >= TICK {
                        last = Instant::now();
                        let state = state.lock().unwrap_or_else(PoisonError::into_inner);
                        draw(&state, None);
                    }
                }
            })
        };
        Some(Self {
            state,
            stop,
            ticker: Some(ticker),
        })
    }

    /// Clears the status line, prints `line` (if any), takes `event` into account and draws
    /// the status line again.
    pub(crate) fn event(&self, event: &Event, line: Option<&str>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.update(event, Instant::now());
        draw(&state, line);
    }
}

/// Writes `CLEAR`, then `line` with a newline, then the status line (no newline). Write errors
/// are ignored: a closed terminal must not stop the run.
fn draw(state: &Progress, line: Option<&str>) {
    let mut out = std::io::stdout().lock();
    let mut text = String::from(CLEAR);
    if let Some(line) = line {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(&state.line(Instant::now()));
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

impl Drop for Live {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(CLEAR.as_bytes()).and_then(|()| out.flush());
    }
}
