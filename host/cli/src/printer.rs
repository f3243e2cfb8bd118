//! Printing a run's events: one human line per event (none for quiet ones), or the event's
//! NDJSON line with `--json`; through the live status line when there is one.

use std::io::Write as _;

use codecafe_service::doctor::Check;
use codecafe_service::narrate::line as human_line;
use codecafe_service::{Event, RunOutcome, ServiceError};

use crate::progress::Live;

/// Exit code of an order that awaits input.
pub const EXIT_AWAITING_INPUT: u8 = 3;
/// Exit code of a cancelled order.
pub const EXIT_CANCELLED: u8 = 4;
/// Exit code of a run that did not start because a provider it needs, the repository or the
/// machine is not ready (nothing was created); also `doctor`'s when it finds a problem.
pub const EXIT_NOT_READY: u8 = 5;

/// The problems of a run that stopped as not ready, when `err` is that.
pub fn not_ready(err: &anyhow::Error) -> Option<&[Check]> {
    err.chain()
        .find_map(|cause| match cause.downcast_ref::<ServiceError>() {
            Some(ServiceError::NotReady { problems }) => Some(problems.as_slice()),
            _ => None,
        })
}

/// Whether `err` is a refusal to run what an untrusted repository brings.
pub fn untrusted(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<ServiceError>(),
            Some(ServiceError::Untrusted { .. })
        )
    })
}

/// Prints a run stopped as not ready as one JSON object on stdout:
/// `{"error": "<message>", "problems": [{subject, check, level, message, fix}, …]}`.
pub fn print_not_ready_json(err: &anyhow::Error, problems: &[Check]) {
    let value = serde_json::json!({ "error": format!("{err:#}"), "problems": problems });
    println!("{value}");
}

/// Prints the events of one foreground run.
pub struct Printer {
    json: bool,
    short: String,
    live: Option<Live>,
}

impl Printer {
    /// A printer for order `short`; a live status line on a terminal unless `json`.
    pub fn new(short: &str, json: bool) -> Self {
        Self {
            json,
            short: short.to_owned(),
            live: Live::start(json),
        }
    }

    /// A printer without a live status line (`order logs`).
    pub fn plain(short: &str, json: bool) -> Self {
        Self {
            json,
            short: short.to_owned(),
            live: None,
        }
    }

    /// Prints one event.
    pub fn event(&self, event: &Event) {
        match &self.live {
            Some(live) => live.event(event, human_line(event, &self.short).as_deref()),
            None => {
                // A closed stdout must not stop the run: write errors are ignored.
                let line = if self.json {
                    serde_json::to_string(event).ok()
                } else {
                    human_line(event, &self.short)
                };
                if let Some(line) = line {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
                }
            }
        }
    }
}

/// The exit code of a run that ended with `outcome`: 0 completed, 1 failed, 3 awaiting input,
/// 4 cancelled, 128 + the signal when a signal stopped it (resumable).
pub fn exit_code(outcome: &RunOutcome, stop_signal: Option<i32>) -> std::process::ExitCode {
    use std::process::ExitCode;
    match outcome {
        RunOutcome::Completed { .. } | RunOutcome::Delivered { .. } => ExitCode::SUCCESS,
        RunOutcome::Failed { .. } => ExitCode::FAILURE,
        RunOutcome::AwaitingInput { .. } => ExitCode::from(EXIT_AWAITING_INPUT),
        RunOutcome::Cancelled => ExitCode::from(EXIT_CANCELLED),
        RunOutcome::Interrupted { .. } => stop_signal
            .and_then(|s| u8::try_from(128 + s).ok())
            .map_or(ExitCode::FAILURE, ExitCode::from),
    }
}
