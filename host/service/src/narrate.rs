//! Events in words: the human line of each event ([`line`]), and the live status line of a run
//! ([`Progress`]: running stages, elapsed time, the agent's last action, tokens and cost) — the
//! same text for every front end that shows a run as text.

use std::collections::BTreeMap;
use std::time::Instant;

use codecafe_sdk::{AgentEvent, Usage};

use crate::Event;
use crate::event::{AwaitKind, AwaitingInput, EventBody};
use codecafe_store::Decision;

/// The longest status line, in characters.
pub const WIDTH: usize = 100;

/// Token and cost figures of one stage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Figures {
    /// Input tokens (cached ones included).
    pub tokens_in: u64,
    /// Output tokens.
    pub tokens_out: u64,
    /// US dollars.
    pub cost: f64,
}

impl Figures {
    fn from_usage(usage: &Usage) -> Self {
        Self {
            tokens_in: usage.input_tokens + usage.cached_input_tokens,
            tokens_out: usage.output_tokens,
            cost: usage.cost_usd.unwrap_or(0.0),
        }
    }

    fn add(&mut self, other: Self) {
        self.tokens_in += other.tokens_in;
        self.tokens_out += other.tokens_out;
        self.cost += other.cost;
    }
}

/// What a live status line of a run shows, folded from its events.
#[derive(Debug, Default)]
pub struct Progress {
    /// Running stages, with when each started.
    running: BTreeMap<String, Instant>,
    /// The agent's last action (tool call, file change, a few words of text).
    last_action: String,
    /// Figures of stages that ended.
    done: Figures,
    /// Latest figures of running stages.
    current: BTreeMap<String, Figures>,
}

impl Progress {
    /// Takes one event into account.
    pub fn update(&mut self, event: &Event, now: Instant) {
        let stage = event.body.stage().unwrap_or("").to_owned();
        match &event.body {
            EventBody::StageStarted(_) => {
                self.running.insert(stage.clone(), now);
                self.current.remove(&stage);
                self.last_action = "starting".to_owned();
            }
            EventBody::Output(output) => match &output.event {
                AgentEvent::ToolCall(call) => self.last_action = format!("tool {}", call.name),
                AgentEvent::FileChange(change) => {
                    let kind = serde_plain(&change.kind);
                    self.last_action = format!("{kind} {}", change.path);
                }
                AgentEvent::AssistantText { text } => {
                    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                    self.last_action = format!("says {}", line.trim());
                }
                AgentEvent::Usage(usage) => {
                    self.current.insert(stage, Figures::from_usage(usage));
                }
                _ => {}
            },
            EventBody::StageCompleted(_)
            | EventBody::StageFailed(_)
            | EventBody::StageCancelled(_)
            | EventBody::StageSkipped(_) => {
                self.running.remove(&stage);
                if let Some(figures) = self.current.remove(&stage) {
                    self.done.add(figures);
                }
            }
            _ => {}
        }
    }

    /// The status line at `now` (empty when no stage runs).
    pub fn line(&self, now: Instant) -> String {
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

fn seconds(ms: Option<u64>) -> String {
    ms.map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
        .unwrap_or_else(|| "?".to_owned())
}

/// How a cost was arrived at, for showing it.
#[derive(Clone, Copy, Default)]
struct CostNote<'a> {
    estimated: bool,
    unpriced: Option<&'a str>,
}

fn usage(usage: Option<&Usage>, cost: Option<f64>) -> String {
    usage_noted(usage, cost, CostNote::default())
}

fn usage_noted(usage: Option<&Usage>, cost: Option<f64>, note: CostNote<'_>) -> String {
    let mut parts = Vec::new();
    if let Some(usage) = usage {
        parts.push(format!(
            "{} in / {} out tokens",
            usage.input_tokens + usage.cached_input_tokens,
            usage.output_tokens
        ));
    }
    match (cost.filter(|c| *c > 0.0), note.unpriced) {
        (_, Some(model)) => parts.push(format!("cost unknown: {model} has no price")),
        (Some(cost), None) if note.estimated => parts.push(format!("~${cost:.4} estimated")),
        (Some(cost), None) => parts.push(format!("${cost:.4}")),
        (None, None) => {}
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

fn cost(cost: f64) -> String {
    usage(None, Some(cost))
}

/// The first non-empty line of `text`, at most 120 characters, `…` when there is more.
pub fn abbreviate(text: &str) -> String {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let line = lines.next().unwrap_or("").trim_end();
    let more = lines.next().is_some();
    let mut short: String = line.chars().take(120).collect();
    if more || line.chars().count() > 120 {
        short.push('…');
    }
    short
}

/// The human line of an event, or `None` for a quiet one.
pub fn line(event: &Event, short: &str) -> Option<String> {
    Some(match &event.body {
        EventBody::OrderCreated(_) | EventBody::CancelRequested {} => return None,
        EventBody::OrderQueued(q) => format!(
            "… order {short} queued: its cafe runs {} of {} orders at once (maxParallelOrders)",
            q.running, q.max
        ),
        EventBody::OrderStarted(started) => {
            let groups: Vec<String> = started.groups.iter().map(|g| g.join(" + ")).collect();
            format!("order {short} started: {}", groups.join(" → "))
        }
        EventBody::StageStarted(s) => {
            let session = match &s.session_of {
                Some(of) => format!(", {} session of {of}", serde_plain(&s.session)),
                None => String::new(),
            };
            format!(
                "▶ {} (attempt {}, {}{session})",
                s.stage, s.attempt, s.provider
            )
        }
        EventBody::Output(o) => {
            let stage = &o.stage;
            match &o.event {
                AgentEvent::AssistantText { text } => {
                    format!("  {stage} │ {}", abbreviate(text))
                }
                AgentEvent::ToolCall(call) => format!("  {stage} │ tool {}", call.name),
                AgentEvent::FileChange(change) => {
                    format!("  {stage} │ {} {}", serde_plain(&change.kind), change.path)
                }
                AgentEvent::Error { message } => {
                    format!("  {stage} │ error: {}", abbreviate(message))
                }
                AgentEvent::ToolDenied(denial) => format!(
                    "  {stage} │ denied: {} ({})",
                    codecafe_runner::denials::describe(denial),
                    abbreviate(&denial.reason)
                ),
                _ => return None,
            }
        }
        EventBody::StageCompleted(s) => format!(
            "✓ {} completed in {}{}{}",
            s.stage,
            seconds(s.duration_ms),
            usage_noted(
                s.usage.as_ref(),
                s.cost_usd,
                CostNote {
                    estimated: s.cost_estimated,
                    unpriced: s.unpriced.as_deref()
                }
            ),
            s.denied_summary
                .as_ref()
                .map(|summary| format!("\n  ⚠ {summary}"))
                .unwrap_or_default()
        ),
        EventBody::StageFailed(s) => {
            let error = s.error.as_deref().unwrap_or("");
            let denied = match &s.denied_summary {
                Some(summary) if !error.starts_with(summary.as_str()) => {
                    format!("\n  ⚠ {summary}")
                }
                _ => String::new(),
            };
            format!(
                "✗ {} failed after {}{}: {}{denied}",
                s.stage,
                seconds(s.duration_ms),
                usage_noted(
                    s.usage.as_ref(),
                    s.cost_usd,
                    CostNote {
                        estimated: s.cost_estimated,
                        unpriced: s.unpriced.as_deref()
                    }
                ),
                abbreviate(error)
            )
        }
        EventBody::StageSkipped(s) => format!("↷ {} skipped", s.stage),
        EventBody::StageCancelled(s) => format!("■ {} cancelled", s.stage),
        EventBody::AwaitingInput(AwaitingInput {
            approval: Some(approval),
            ..
        }) => {
            let mut text = format!(
                "? order {short}: stage {} asks to run {}",
                approval.stage, approval.summary
            );
            if let Some(detail) = &approval.detail {
                for line in detail.lines() {
                    text.push_str(&format!("\n    {line}"));
                }
            }
            text.push_str(&format!(
                "\n  approve with `codecafe order approve {short}` (`--always` for `{}` from now \
                 on), or refuse with `codecafe order deny {short} --reason \"...\"`",
                approval.rule.as_deref().unwrap_or(&approval.tool)
            ));
            text
        }
        EventBody::ApprovalDecided(decided) => {
            let (mark, verb) = match decided.decision {
                Decision::Allow => ("✓", "approved"),
                Decision::AllowAlways => ("✓", "approved (always)"),
                Decision::Deny => ("✗", "denied"),
                Decision::Withdrawn => ("✗", "withdrawn"),
            };
            let note = match (&decided.reason, decided.from_record) {
                (Some(reason), true) => format!(" ({reason}; as decided before)"),
                (Some(reason), false) => format!(" ({reason})"),
                (None, true) => " (as decided before)".to_owned(),
                (None, false) => String::new(),
            };
            format!("{mark} {} {verb}: {}{note}", decided.stage, decided.summary)
        }
        EventBody::AwaitingInput(waiting) => {
            let questions: Vec<String> = waiting
                .questions
                .iter()
                .map(|q| format!("  - {q}"))
                .collect();
            let how = match waiting.reason {
                AwaitKind::Questions => {
                    format!("answer with `codecafe order input {short} \"...\"`")
                }
                AwaitKind::Budget => format!(
                    "raise the budget with `codecafe order input {short} --budget <usd>`, or stop \
                     with `codecafe order cancel {short}`"
                ),
                AwaitKind::Approval => format!(
                    "decide with `codecafe order approve {short}` or `codecafe order deny {short}`"
                ),
            };
            format!(
                "? order {short} awaits your input:\n{}\n  {how}",
                questions.join("\n")
            )
        }
        EventBody::OrderCompleted(c) => format!(
            "order {short} completed{}",
            usage_noted(
                None,
                Some(c.cost_usd),
                CostNote {
                    estimated: c.cost_estimated,
                    unpriced: None
                }
            )
        ),
        EventBody::OrderFailed(f) => format!(
            "order {short} failed at stage {}: {}",
            f.stage,
            abbreviate(&f.error)
        ),
        EventBody::OrderCancelled(_) => format!("order {short} cancelled"),
        EventBody::OrderInterrupted(i) => format!(
            "order {short} interrupted ({}); its agents were stopped; continue it with \
             `codecafe order resume {short}`",
            i.reason
        ),
        EventBody::Warning(w) => format!("warning: {}", w.message),
        EventBody::OrderMerged(m) => format!("merged {} into {} ({})", m.branch, m.into, m.kind),
        EventBody::FollowupStarted(f) => format!(
            "▶ follow-up on order {short} ({}, based on stage {})",
            f.provider,
            f.based_on.as_deref().unwrap_or("?")
        ),
        EventBody::FollowupCompleted(f) => format!(
            "✓ follow-up completed{}; `codecafe order followup {short} --finish` when done",
            cost(f.cost_usd)
        ),
        EventBody::FollowupFailed(f) => format!(
            "✗ follow-up failed: {}",
            abbreviate(f.error.as_deref().unwrap_or(""))
        ),
        EventBody::FollowupCancelled(_) => "■ follow-up cancelled".to_owned(),
        EventBody::Unreadable(u) => format!("(an event this codecafe cannot read: {})", u.kind),
    })
}

/// A unit enum's serde name (`fresh`, `add`, …).
fn serde_plain<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::event::{AgentOutput, SessionMode, StageCompleted, StageStarted};
    use codecafe_sdk::ToolCall;

    fn event(body: EventBody) -> Event {
        Event {
            v: 1,
            seq: 1,
            order_id: uuid::Uuid::nil(),
            at: jiff::Timestamp::UNIX_EPOCH,
            body,
        }
    }

    fn started(stage: &str) -> Event {
        event(EventBody::StageStarted(StageStarted {
            stage: stage.into(),
            attempt: 1,
            provider: "p".into(),
            session: SessionMode::Fresh,
            session_of: None,
        }))
    }

    fn output(stage: &str, agent: AgentEvent) -> Event {
        event(EventBody::Output(AgentOutput {
            stage: stage.into(),
            attempt: 1,
            event: agent,
        }))
    }

    #[test]
    fn the_line_shows_stage_elapsed_action_tokens_and_cost() {
        let start = Instant::now();
        let mut state = Progress::default();
        assert_eq!(state.line(start), "", "nothing runs: no line");
        state.update(&started("code"), start);
        let usage = Usage {
            input_tokens: 100,
            cached_input_tokens: 20,
            output_tokens: 7,
            cost_usd: Some(0.0125),
            ..Usage::default()
        };
        state.update(&output("code", AgentEvent::Usage(usage)), start);
        let call = ToolCall {
            id: "1".into(),
            name: "Bash".into(),
            input: "{}".into(),
        };
        state.update(&output("code", AgentEvent::ToolCall(call)), start);
        assert_eq!(
            state.line(start + Duration::from_secs(75)),
            "⏵ code · 1:15 · tool Bash · 120 in / 7 out tokens · $0.0125"
        );
        // An ended stage's figures stay in the totals; with nothing running there is no line.
        let done = EventBody::StageCompleted(StageCompleted {
            stage: "code".into(),
            attempt: 1,
            duration_ms: None,
            usage: None,
            cost_usd: None,
            signals: Vec::new(),
            denied: Vec::new(),
            denied_summary: None,
            cost_estimated: false,
            unpriced: None,
        });
        state.update(&event(done), start);
        assert_eq!(state.line(start), "");
        state.update(&started("review"), start);
        assert_eq!(
            state.line(start),
            "⏵ review · 0:00 · starting · 120 in / 7 out tokens · $0.0125"
        );
    }

    #[test]
    fn denials_are_shown_with_their_fix() {
        let denial = codecafe_sdk::ToolDenial {
            id: "t1".into(),
            tool: "Write".into(),
            input: r#"{"file_path":"/w/hello.txt"}"#.into(),
            reason: "Claude requested permissions to write to /w/hello.txt".into(),
        };
        let live = line(
            &output("plan", AgentEvent::ToolDenied(denial.clone())),
            "ab12",
        );
        assert_eq!(
            live.as_deref(),
            Some(
                "  plan │ denied: Write w/hello.txt (Claude requested permissions to write to /w/hello.txt)"
            )
        );
        let done = event(EventBody::StageCompleted(StageCompleted {
            stage: "plan".into(),
            attempt: 1,
            duration_ms: Some(2000),
            usage: None,
            cost_usd: None,
            signals: Vec::new(),
            denied: vec![denial],
            denied_summary: Some(
                "1 tool call denied: Write w/hello.txt — allow with `permissions: edit`".into(),
            ),
            cost_estimated: true,
            unpriced: None,
        }));
        let text = line(&done, "ab12").unwrap_or_default();
        assert!(
            text.ends_with(
                "\n  ⚠ 1 tool call denied: Write w/hello.txt — allow with `permissions: edit`"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_long_line_is_cut_to_the_width() {
        let start = Instant::now();
        let mut state = Progress::default();
        state.update(&started("s"), start);
        let text = AgentEvent::AssistantText {
            text: "x".repeat(300),
        };
        state.update(&output("s", text), start);
        let line = state.line(start);
        assert_eq!(line.chars().count(), WIDTH);
        assert!(line.ends_with('…'), "{line}");
    }
}
