//! Live progress of a foreground run on a terminal: one status line (running stages, elapsed
//! time, the agent's last action, tokens and cost), redrawn in place every second and cleared
//! before each normal event line. Only when stdout is a terminal and not `--json`; piped output
//! is never touched.

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use codecafe_store::Event;
use serde_json::Value;

/// How often the status line is redrawn while nothing else happens.
const TICK: Duration = Duration::from_secs(1);
/// How often the ticker looks whether it must stop.
const STOP_POLL: Duration = Duration::from_millis(100);
/// The longest status line, in characters.
const WIDTH: usize = 100;
/// Erase the current terminal line and go to its start.
const CLEAR: &str = "\r\x1b[2K";

/// Token and cost figures of one stage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Figures {
    /// Input tokens (cached ones included).
    pub(crate) tokens_in: u64,
    /// Output tokens.
    pub(crate) tokens_out: u64,
    /// US dollars.
    pub(crate) cost: f64,
}

impl Figures {
    fn from_usage(usage: &Value) -> Self {
        let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
        Self {
            tokens_in: n("input-tokens") + n("cached-input-tokens"),
            tokens_out: n("output-tokens"),
            cost: usage.get("cost-usd").and_then(Value::as_f64).unwrap_or(0.0),
        }
    }

    fn add(&mut self, other: Self) {
        self.tokens_in += other.tokens_in;
        self.tokens_out += other.tokens_out;
        self.cost += other.cost;
    }
}

/// What the status line shows.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Running stages, with when each started.
    running: BTreeMap<String, Instant>,
    /// The agent's last action (tool call, file change, a few words of text).
    last_action: String,
    /// Figures of stages that ended.
    done: Figures,
    /// Latest figures of running stages.
    current: BTreeMap<String, Figures>,
}

impl State {
    /// Takes one event into account.
    pub(crate) fn update(&mut self, event: &Event, now: Instant) {
        let p = &event.payload;
        let stage = p
            .get("stage")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        match event.kind.as_str() {
            "stage:started" | "order:followup-started" => {
                self.running.insert(stage.clone(), now);
                self.current.remove(&stage);
                self.last_action = "starting".to_owned();
            }
            "order:output" => {
                let Some(e) = p.get("event") else { return };
                let field = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                match e.get("type").and_then(Value::as_str).unwrap_or("") {
                    "tool-call" => self.last_action = format!("tool {}", field("name")),
                    "file-change" => {
                        self.last_action = format!("{} {}", field("kind"), field("path"));
                    }
                    "assistant-text" => {
                        let text = field("text");
                        let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                        self.last_action = format!("says {}", line.trim());
                    }
                    "usage" => {
                        self.current.insert(stage, Figures::from_usage(e));
                    }
                    _ => {}
                }
            }
            kind if kind.starts_with("stage:") || kind.starts_with("order:followup-") => {
                self.running.remove(&stage);
                if let Some(figures) = self.current.remove(&stage) {
                    self.done.add(figures);
                }
            }
            _ => {}
        }
    }

    /// The status line at `now` (empty when no stage runs).
    pub(crate) fn line(&self, now: Instant) -> String {
        let Some(since) = self.running.values().min() else {
            return String::new();
        };
        let mut total = self.done;
        for figures in self.current.values() {
            total.add(*figures);
        }
        let stages: Vec<&str> = self.running.keys().map(String::as_str).collect();
        let secs = now.saturating_duration_since(*since).as_secs();
        let mut parts = vec![
            format!("⏵ {}", stages.join(" + ")),
            format!("{}:{:02}", secs / 60, secs % 60),
        ];
        if !self.last_action.is_empty() {
            parts.push(self.last_action.clone());
        }
        parts.push(format!(
            "{} in / {} out tokens",
            total.tokens_in, total.tokens_out
        ));
        if total.cost > 0.0 {
            parts.push(format!("${:.4}", total.cost));
        }
        let line = parts.join(" · ");
        if line.chars().count() > WIDTH {
            let mut short: String = line.chars().take(WIDTH - 1).collect();
            short.push('…');
            short
        } else {
            line
        }
    }
}

/// The live status line of one foreground run; cleared and stopped when dropped.
pub(crate) struct Live {
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

impl Live {
    /// A live status line, when stdout is a terminal and the output is not `--json`.
    pub(crate) fn start(json: bool) -> Option<Self> {
        if json || !std::io::stdout().is_terminal() {
            return None;
        }
        let state = Arc::new(Mutex::new(State::default()));
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
fn draw(state: &State, line: Option<&str>) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, payload: Value) -> Event {
        Event {
            seq: 1,
            order_id: uuid::Uuid::nil(),
            at: jiff::Timestamp::UNIX_EPOCH,
            kind: kind.to_owned(),
            payload,
        }
    }

    #[test]
    fn the_line_shows_stage_elapsed_action_tokens_and_cost() {
        let start = Instant::now();
        let mut state = State::default();
        assert_eq!(state.line(start), "", "nothing runs: no line");
        state.update(&event("stage:started", json!({"stage": "code"})), start);
        let usage = json!({"type": "usage", "input-tokens": 100, "cached-input-tokens": 20,
                           "output-tokens": 7, "cost-usd": 0.0125});
        state.update(
            &event("order:output", json!({"stage": "code", "event": usage})),
            start,
        );
        let call = json!({"type": "tool-call", "name": "Bash"});
        state.update(
            &event("order:output", json!({"stage": "code", "event": call})),
            start,
        );
        assert_eq!(
            state.line(start + Duration::from_secs(75)),
            "⏵ code · 1:15 · tool Bash · 120 in / 7 out tokens · $0.0125"
        );
        // An ended stage's figures stay in the totals; with nothing running there is no line.
        state.update(&event("stage:completed", json!({"stage": "code"})), start);
        assert_eq!(state.line(start), "");
        state.update(&event("stage:started", json!({"stage": "review"})), start);
        assert_eq!(
            state.line(start),
            "⏵ review · 0:00 · starting · 120 in / 7 out tokens · $0.0125"
        );
    }

    #[test]
    fn a_long_line_is_cut_to_the_width() {
        let start = Instant::now();
        let mut state = State::default();
        state.update(&event("stage:started", json!({"stage": "s"})), start);
        let text = json!({"type": "assistant-text", "text": "x".repeat(300)});
        state.update(
            &event("order:output", json!({"stage": "s", "event": text})),
            start,
        );
        let line = state.line(start);
        assert_eq!(line.chars().count(), WIDTH);
        assert!(line.ends_with('…'), "{line}");
    }
}
