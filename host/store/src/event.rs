//! Typed events: one Rust type per event kind, the one place they are documented.
//!
//! Every event is stored per order before it is emitted ([`crate::Store::append_event`]) and
//! printed as one NDJSON line by `--json` runs and `order logs --json`:
//!
//! ```json
//! {"v":1,"seq":42,"orderId":"…","at":"2026-12-06T10:00:00Z","kind":"stage:completed","payload":{…}}
//! ```
//!
//! `v` is [`EVENT_VERSION`], raised when a payload changes incompatibly. Every key at every
//! level is camelCase (the agent events inside `order:output` included); values such as kinds,
//! statuses and actions are kebab-case words. Unknown keys are ignored when reading, so a
//! newer codecafe's extra fields do not break an older reader.
//!
//! | kind | payload |
//! |---|---|
//! | `order:created` | `cafeId`, `recipeId`, `branch`, `worktree` |
//! | `order:queued` | `running`, `max`: the cafe's orders running agents and its `maxParallelOrders` |
//! | `order:started` | `recipeId`, `stages` (plan order), `groups` (stages that start together) |
//! | `stage:started` | `stage`, `attempt`, `provider`, `session` (`fresh` / `continue` / `fork`), `sessionOf` (the stage whose agent session it continues or forks) |
//! | `order:output` | `stage`, `attempt`, `event`: the provider's normalized agent event (`type`: `session-started`, `assistant-text`, `thinking`, `tool-call`, `tool-result`, `file-change`, `usage`, `final-result`, `error`, `approval-request`, `log`, `other`) |
//! | `stage:completed` | `stage`, `attempt`, `durationMs`, `usage`, `costUsd`, `signals`, `denied` (tool calls refused, when any), `deniedSummary`, `costEstimated`, `unpriced` |
//! | `stage:failed` | `stage`, `attempt`, `durationMs`, `error`, `exitCode`, `usage`, `costUsd`, `denied`, `deniedSummary`, `costEstimated`, `unpriced` |
//! | `stage:skipped` | `stage` |
//! | `stage:cancelled` | `stage` |
//! | `order:awaiting-input` | `reason` (`questions` / `budget` / `approval`), `stage`, `questions`, `spentUsd`, `limitUsd`, `approval` (`id`, `stage`, `tool`, `input`, `summary`, `detail`, `rule`, `askedAt`) |
//! | `approval:decided` | `approvalId` (none when answered from the record), `stage`, `tool`, `summary`, `decision` (`allow` / `allow-always` / `deny` / `withdrawn`), `reason`, `fromRecord` (a repeated request answered by an earlier decision) |
//! | `order:completed` | `failedStages`, `costUsd` |
//! | `order:failed` | `stage`, `error`, `canRetry`, `costUsd` |
//! | `order:cancelled` | `costUsd` |
//! | `order:interrupted` | `reason`: the process running it stopped (SIGTERM, SIGHUP, a server shutting down); its agents are gone and `order resume` continues it |
//! | `order:cancel-requested` | — (another process asks the one running the order to cancel it) |
//! | `order:warning` | `message` |
//! | `order:merged` | `branch`, `into`, `kind`, `commit` |
//! | `order:followup-started` | `stage` (`followup`), `basedOn` (the recipe stage whose provider, model, role and options it uses), `provider`, `prompt` |
//! | `order:followup-completed` | `stage`, `costUsd` |
//! | `order:followup-failed` | `stage`, `error`, `costUsd` |
//! | `order:followup-cancelled` | `stage` |
//! | `event:unreadable` | `kind`, `payload`, `error`: a stored row this build cannot read as its kind (shown, never dropped) |
//!
//! A follow-up runs through the same stage pipeline as a recipe stage: between
//! `order:followup-started` and its end come the usual `stage:started`, `order:output` and
//! `stage:completed` / `stage:failed` events with `stage: "followup"`, and an `await_user`
//! signal makes it `order:awaiting-input` like any stage.

use codecafe_sdk::{AgentEvent, ToolDenial, Usage};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// The version of the event format, the `v` of every event line.
pub const EVENT_VERSION: u32 = 1;

/// Something that happened to an order, as stored (and then emitted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The event format's version ([`EVENT_VERSION`]).
    pub v: u32,
    /// Its sequence number: increasing across the whole database, never reused.
    pub seq: i64,
    /// The order.
    pub order_id: Uuid,
    /// When it was stored.
    pub at: Timestamp,
    /// Its kind and payload.
    #[serde(flatten)]
    pub body: EventBody,
}

impl Event {
    /// The event's kind, e.g. `stage:completed`.
    pub fn kind(&self) -> &'static str {
        self.body.kind()
    }
}

/// How a stage's agent session starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionMode {
    /// A new session.
    Fresh,
    /// The session of `sessionOf` continues.
    Continue,
    /// A forked copy of `sessionOf`'s session.
    Fork,
}

/// A signal a stage's result carried, as recorded in `stage:completed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum SignalRecord {
    /// Carry on.
    Proceed,
    /// Ask the user.
    AwaitUser {
        /// The questions.
        questions: Vec<String>,
    },
    /// Skip these stages.
    Skip {
        /// Their ids.
        stages: Vec<String>,
    },
    /// Skip the stages right after this one.
    SkipNext,
    /// Run this stage again.
    Retry {
        /// Why.
        reason: String,
    },
}

/// Why an order waits for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AwaitKind {
    /// A stage asked questions.
    #[default]
    Questions,
    /// The recorded cost reached the order's budget.
    Budget,
    /// A stage's tool call waits for the user's approval.
    Approval,
}

/// `order:created`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCreated {
    /// The cafe.
    pub cafe_id: String,
    /// The recipe.
    pub recipe_id: String,
    /// Its branch (none when it runs in place).
    #[serde(default)]
    pub branch: Option<String>,
    /// Its worktree (none when it runs in place).
    #[serde(default)]
    pub worktree: Option<std::path::PathBuf>,
}

/// `order:queued`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderQueued {
    /// Orders of the cafe running agents now.
    pub running: u32,
    /// The cafe's `maxParallelOrders`.
    pub max: u32,
}

/// `order:started`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderStarted {
    /// The recipe.
    pub recipe_id: String,
    /// Stage ids in plan order.
    #[serde(default)]
    pub stages: Vec<String>,
    /// Stages that start together, in the order they start.
    #[serde(default)]
    pub groups: Vec<Vec<String>>,
}

/// `stage:started`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageStarted {
    /// The stage.
    pub stage: String,
    /// Its attempt (1-based).
    pub attempt: u32,
    /// The provider plugin running it.
    pub provider: String,
    /// How its agent session starts.
    #[serde(default = "fresh")]
    pub session: SessionMode,
    /// The stage whose session it continues or forks.
    #[serde(default)]
    pub session_of: Option<String>,
}

fn fresh() -> SessionMode {
    SessionMode::Fresh
}

/// `order:output`: one normalized agent event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentOutput {
    /// The stage.
    pub stage: String,
    /// Its attempt.
    pub attempt: u32,
    /// What the agent did.
    pub event: AgentEvent,
}

/// `stage:completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageCompleted {
    /// The stage.
    pub stage: String,
    /// Its attempt.
    pub attempt: u32,
    /// How long its agent ran.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Its token usage.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Its cost, US dollars.
    #[serde(default)]
    pub cost_usd: Option<f64>,
    /// The signals its result carried.
    #[serde(default)]
    pub signals: Vec<SignalRecord>,
    /// Tool calls its agent was refused (`on_denied: warn` let it complete).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied: Vec<ToolDenial>,
    /// `denied` in a line, with what would allow the calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied_summary: Option<String>,
    /// `costUsd` was computed from tokens with the price table.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cost_estimated: bool,
    /// Its tokens could not be priced: the model (`unknown model` when none is known) has no
    /// price, so `costUsd` is missing and budgets do not count it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpriced: Option<String>,
}

/// `stage:failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageFailed {
    /// The stage.
    pub stage: String,
    /// Its attempt.
    pub attempt: u32,
    /// How long its agent ran.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// What went wrong.
    #[serde(default)]
    pub error: Option<String>,
    /// The agent's exit code.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Its token usage.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Its cost, US dollars.
    #[serde(default)]
    pub cost_usd: Option<f64>,
    /// Tool calls its agent was refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied: Vec<ToolDenial>,
    /// `denied` in a line, with what would allow the calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied_summary: Option<String>,
    /// `costUsd` was computed from tokens with the price table.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cost_estimated: bool,
    /// Its tokens could not be priced: the model (`unknown model` when none is known) has no
    /// price, so `costUsd` is missing and budgets do not count it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpriced: Option<String>,
}

/// `stage:skipped` and `stage:cancelled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageRef {
    /// The stage.
    pub stage: String,
}

/// `order:awaiting-input`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwaitingInput {
    /// Why it waits.
    #[serde(default)]
    pub reason: AwaitKind,
    /// The stage that asked (none for the budget).
    #[serde(default)]
    pub stage: Option<String>,
    /// What the user is asked.
    #[serde(default)]
    pub questions: Vec<String>,
    /// For the budget: the cost so far, US dollars.
    #[serde(default)]
    pub spent_usd: Option<f64>,
    /// For the budget: the limit reached, US dollars.
    #[serde(default)]
    pub limit_usd: Option<f64>,
    /// For an approval: the tool call that waits for the user's decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<crate::Approval>,
}

/// `approval:decided`: a tool call's approval was decided — by the user, or from the record of
/// an earlier decision when the agent asked again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalDecided {
    /// The approval (none when a repeated request was answered from the record).
    #[serde(default)]
    pub approval_id: Option<i64>,
    /// The stage whose agent asked.
    pub stage: String,
    /// The tool.
    pub tool: String,
    /// What it would do.
    #[serde(default)]
    pub summary: String,
    /// The decision.
    pub decision: crate::Decision,
    /// A deny's reason.
    #[serde(default)]
    pub reason: Option<String>,
    /// Answered from an earlier decision, not asked.
    #[serde(default)]
    pub from_record: bool,
}

/// `order:completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCompleted {
    /// Stages that failed under `on_failure: continue`.
    #[serde(default)]
    pub failed_stages: Vec<String>,
    /// The order's cost, US dollars.
    #[serde(default)]
    pub cost_usd: f64,
    /// Some of it was computed from tokens with the price table.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cost_estimated: bool,
}

/// `order:failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderFailed {
    /// The stage that failed.
    pub stage: String,
    /// Its error.
    pub error: String,
    /// Whether `order retry` may continue it.
    #[serde(default)]
    pub can_retry: bool,
    /// The order's cost, US dollars.
    #[serde(default)]
    pub cost_usd: f64,
}

/// `order:cancelled`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCancelled {
    /// The order's cost, US dollars.
    #[serde(default)]
    pub cost_usd: f64,
}

/// `order:interrupted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderInterrupted {
    /// Why the process running it stopped.
    pub reason: String,
}

/// `order:warning`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Warning {
    /// What was ignored or went wrong on the side.
    pub message: String,
}

/// `order:merged`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderMerged {
    /// The order's branch.
    pub branch: String,
    /// The branch it was merged into.
    pub into: String,
    /// How: `up-to-date`, `fast-forward`, `merge-commit` or `squash`.
    pub kind: String,
    /// The new tip of `into`.
    pub commit: String,
}

/// `order:followup-started`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FollowupStarted {
    /// The follow-up's stage name (`followup`).
    pub stage: String,
    /// The recipe stage whose provider, model, role and options it uses.
    #[serde(default)]
    pub based_on: Option<String>,
    /// Its provider.
    pub provider: String,
    /// The follow-up request.
    #[serde(default)]
    pub prompt: String,
}

/// `order:followup-completed` and `order:followup-failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FollowupEnded {
    /// The follow-up's stage name.
    pub stage: String,
    /// Why it failed (`order:followup-failed`).
    #[serde(default)]
    pub error: Option<String>,
    /// The order's cost after it, US dollars.
    #[serde(default)]
    pub cost_usd: f64,
}

/// `event:unreadable`: a stored row this build cannot read as its kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unreadable {
    /// The stored kind.
    pub kind: String,
    /// The stored payload.
    pub payload: Value,
    /// Why it could not be read.
    pub error: String,
}

/// An event's kind and payload. See the module documentation for the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload")]
pub enum EventBody {
    /// The order was made (branch, worktree).
    #[serde(rename = "order:created")]
    OrderCreated(OrderCreated),
    /// The order waits for a free place among its cafe's running orders.
    #[serde(rename = "order:queued")]
    OrderQueued(OrderQueued),
    /// The order began running its recipe.
    #[serde(rename = "order:started")]
    OrderStarted(OrderStarted),
    /// A stage's agent started.
    #[serde(rename = "stage:started")]
    StageStarted(StageStarted),
    /// What a stage's agent did.
    #[serde(rename = "order:output")]
    Output(AgentOutput),
    /// A stage completed.
    #[serde(rename = "stage:completed")]
    StageCompleted(StageCompleted),
    /// A stage failed.
    #[serde(rename = "stage:failed")]
    StageFailed(StageFailed),
    /// A stage was skipped.
    #[serde(rename = "stage:skipped")]
    StageSkipped(StageRef),
    /// A stage was cancelled.
    #[serde(rename = "stage:cancelled")]
    StageCancelled(StageRef),
    /// The order waits for the user.
    #[serde(rename = "order:awaiting-input")]
    AwaitingInput(AwaitingInput),
    /// A tool call's approval was decided.
    #[serde(rename = "approval:decided")]
    ApprovalDecided(ApprovalDecided),
    /// The order completed.
    #[serde(rename = "order:completed")]
    OrderCompleted(OrderCompleted),
    /// The order failed.
    #[serde(rename = "order:failed")]
    OrderFailed(OrderFailed),
    /// The order was cancelled.
    #[serde(rename = "order:cancelled")]
    OrderCancelled(OrderCancelled),
    /// The process running the order stopped; `order resume` continues it.
    #[serde(rename = "order:interrupted")]
    OrderInterrupted(OrderInterrupted),
    /// Another process asks the one running the order to cancel it.
    #[serde(rename = "order:cancel-requested")]
    CancelRequested {},
    /// Something was ignored on purpose.
    #[serde(rename = "order:warning")]
    Warning(Warning),
    /// The order's branch was merged.
    #[serde(rename = "order:merged")]
    OrderMerged(OrderMerged),
    /// A follow-up started.
    #[serde(rename = "order:followup-started")]
    FollowupStarted(FollowupStarted),
    /// A follow-up completed.
    #[serde(rename = "order:followup-completed")]
    FollowupCompleted(FollowupEnded),
    /// A follow-up failed.
    #[serde(rename = "order:followup-failed")]
    FollowupFailed(FollowupEnded),
    /// A follow-up was cancelled.
    #[serde(rename = "order:followup-cancelled")]
    FollowupCancelled(StageRef),
    /// A stored row this build cannot read as its kind.
    #[serde(rename = "event:unreadable")]
    Unreadable(Unreadable),
}

impl EventBody {
    /// The kind, as stored and printed.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::OrderCreated(_) => "order:created",
            Self::OrderQueued(_) => "order:queued",
            Self::OrderStarted(_) => "order:started",
            Self::StageStarted(_) => "stage:started",
            Self::Output(_) => "order:output",
            Self::StageCompleted(_) => "stage:completed",
            Self::StageFailed(_) => "stage:failed",
            Self::StageSkipped(_) => "stage:skipped",
            Self::StageCancelled(_) => "stage:cancelled",
            Self::AwaitingInput(_) => "order:awaiting-input",
            Self::ApprovalDecided(_) => "approval:decided",
            Self::OrderCompleted(_) => "order:completed",
            Self::OrderFailed(_) => "order:failed",
            Self::OrderCancelled(_) => "order:cancelled",
            Self::OrderInterrupted(_) => "order:interrupted",
            Self::CancelRequested {} => "order:cancel-requested",
            Self::Warning(_) => "order:warning",
            Self::OrderMerged(_) => "order:merged",
            Self::FollowupStarted(_) => "order:followup-started",
            Self::FollowupCompleted(_) => "order:followup-completed",
            Self::FollowupFailed(_) => "order:followup-failed",
            Self::FollowupCancelled(_) => "order:followup-cancelled",
            Self::Unreadable(_) => "event:unreadable",
        }
    }

    /// The stage it is about, if any.
    pub fn stage(&self) -> Option<&str> {
        match self {
            Self::StageStarted(e) => Some(&e.stage),
            Self::Output(e) => Some(&e.stage),
            Self::StageCompleted(e) => Some(&e.stage),
            Self::StageFailed(e) => Some(&e.stage),
            Self::StageSkipped(e) | Self::StageCancelled(e) | Self::FollowupCancelled(e) => {
                Some(&e.stage)
            }
            Self::AwaitingInput(e) => e.stage.as_deref(),
            Self::ApprovalDecided(e) => Some(&e.stage),
            Self::OrderFailed(e) => Some(&e.stage),
            Self::FollowupStarted(e) => Some(&e.stage),
            Self::FollowupCompleted(e) | Self::FollowupFailed(e) => Some(&e.stage),
            _ => None,
        }
    }

    /// The payload as stored: the body's JSON without its kind.
    pub fn payload(&self) -> Value {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut map)) => map.remove("payload").unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }

    /// Reads a stored row: its kind and payload. A row that does not read as its kind (one
    /// written by a newer codecafe, or damaged) becomes [`EventBody::Unreadable`], never an
    /// error: an order's history stays viewable.
    pub fn from_stored(kind: &str, payload: Value) -> Self {
        let tagged = serde_json::json!({ "kind": kind, "payload": payload });
        match serde_json::from_value::<EventBody>(tagged) {
            Ok(body) => body,
            Err(err) => Self::Unreadable(Unreadable {
                kind: kind.to_owned(),
                payload,
                error: err.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use codecafe_sdk::{ChangeKind, FileChange};
    use serde_json::json;

    #[test]
    fn an_event_line_has_v_seq_kind_and_a_camel_case_payload() {
        let event = Event {
            v: EVENT_VERSION,
            seq: 7,
            order_id: Uuid::nil(),
            at: Timestamp::UNIX_EPOCH,
            body: EventBody::StageCompleted(StageCompleted {
                stage: "code".into(),
                attempt: 1,
                duration_ms: Some(1200),
                usage: Some(Usage {
                    input_tokens: 10,
                    output_tokens: 2,
                    cached_input_tokens: 3,
                    cache_write_tokens: 0,
                    cost_usd: Some(0.5),
                    cost_is_session_total: false,
                    tokens_are_session_total: false,
                }),
                cost_usd: Some(0.5),
                signals: vec![SignalRecord::SkipNext],
                denied: vec![ToolDenial {
                    id: "t1".into(),
                    tool: "Write".into(),
                    input: "{}".into(),
                    reason: "read-only".into(),
                }],
                denied_summary: Some("1 tool call denied: Write".into()),
                cost_estimated: false,
                unpriced: None,
            }),
        };
        let line = serde_json::to_value(&event).unwrap_or_default();
        assert_eq!(line["v"], 1);
        assert_eq!(line["kind"], "stage:completed");
        assert_eq!(line["payload"]["durationMs"], 1200);
        assert_eq!(line["payload"]["usage"]["cachedInputTokens"], 3);
        assert_eq!(line["payload"]["signals"][0]["action"], "skip-next");
        assert_eq!(line["payload"]["denied"][0]["tool"], "Write");
        let back: Event = serde_json::from_value(line).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(back, event);
    }

    #[test]
    fn a_stored_row_reads_back_as_its_kind_or_as_unreadable() {
        let body = EventBody::Output(AgentOutput {
            stage: "s".into(),
            attempt: 2,
            event: AgentEvent::FileChange(FileChange {
                path: "a.txt".into(),
                kind: ChangeKind::Add,
            }),
        });
        assert_eq!(EventBody::from_stored(body.kind(), body.payload()), body);
        let odd = EventBody::from_stored("order:teleported", json!({"to": "mars"}));
        match odd {
            EventBody::Unreadable(u) => {
                assert_eq!(u.kind, "order:teleported");
                assert_eq!(u.payload, json!({"to": "mars"}));
            }
            other => panic!("{other:?}"),
        }
        // Older payloads with fewer fields still read.
        let started = EventBody::from_stored(
            "stage:started",
            json!({"stage": "a", "attempt": 1, "provider": "command"}),
        );
        assert!(matches!(started, EventBody::StageStarted(s) if s.session == SessionMode::Fresh));
        assert_eq!(
            EventBody::from_stored("order:cancel-requested", json!({})),
            EventBody::CancelRequested {}
        );
    }
}
