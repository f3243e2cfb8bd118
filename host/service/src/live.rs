//! Reaching an interactive stage's live agent from another process: `order attach` (a viewer
//! on its terminal) and the live path of `order input` / `approve` / `deny` (typed into the
//! terminal / answered with the dialog's keys by the codecafe running the order). See
//! `codecafe_runner::live` for the socket and its rules.

use codecafe_engine::StageStatus;
use codecafe_runner::RunOutcome;
use codecafe_runner::live::{self, DecisionMsg, Hello, LiveClient, Role};
use codecafe_store::{Decision, Order};

pub use codecafe_runner::live::{Size, read_frame, write_frame};

use crate::execute::Reply;
use crate::{Result, Service, ServiceError};

/// A viewer attached to a stage's terminal.
#[derive(Debug)]
pub struct Attached {
    /// The stage.
    pub stage: String,
    /// The connection: frames from the worker (`S`, `O`, `N`, `X`), and keys (`K`) and sizes
    /// (`R`) to it.
    pub client: LiveClient,
}

/// The running stages of `order` whose live terminal listens, with their sockets.
fn live_stages(service: &Service, order: &Order) -> Result<Vec<(String, std::path::PathBuf)>> {
    let dir = service.paths().live_terminals();
    let mut found: Vec<(String, std::path::PathBuf)> = Vec::new();
    for run in service.store()?.stage_runs(order.id)? {
        if run.status != StageStatus::Running || found.iter().any(|(s, _)| *s == run.stage_id) {
            continue;
        }
        let path = live::socket_path(&dir, order.id, &run.stage_id);
        if path.exists() {
            found.push((run.stage_id, path));
        }
    }
    Ok(found)
}

/// Attaches a viewer of `cols` × `rows` to order `id`'s interactive stage (`stage`, or the one
/// running).
pub fn attach(
    service: &Service,
    id: &str,
    stage: Option<&str>,
    size: Option<Size>,
) -> Result<Attached> {
    let order = crate::orders::find(service, id)?;
    let live = live_stages(service, &order)?;
    let not_live = |message: String| ServiceError::Live {
        order: order.short_id(),
        message,
    };
    let (stage, path) = match stage {
        Some(stage) => live.into_iter().find(|(s, _)| s == stage).ok_or_else(|| {
            not_live(format!(
                "stage `{stage}` has no live terminal: `order attach` reaches an interactive \
                     stage (`interactive: true`) while it runs and the codecafe running it lives"
            ))
        })?,
        None => match live.len() {
            0 => {
                return Err(not_live(format!(
                    "no interactive stage of it is running (it is {}): `order attach` reaches \
                     an interactive stage (`interactive: true`) while the codecafe running it \
                     lives",
                    order.status
                )));
            }
            1 => live
                .into_iter()
                .next()
                .ok_or_else(|| not_live(String::new()))?,
            _ => {
                let names: Vec<String> = live.iter().map(|(s, _)| format!("`{s}`")).collect();
                return Err(not_live(format!(
                    "several interactive stages run ({}); choose one with --stage",
                    names.join(", ")
                )));
            }
        },
    };
    let hello = Hello {
        role: Role::Attach,
        pid: std::process::id(),
        cols: size.map(|s| s.cols),
        rows: size.map(|s| s.rows),
    };
    let client = LiveClient::connect(&path, &hello).ok_or_else(|| {
        not_live(format!(
            "the codecafe running stage `{stage}` is gone; `codecafe order resume {}` continues \
             the order",
            order.short_id()
        ))
    })?;
    Ok(Attached { stage, client })
}

/// Delivers `reply` to the live agent of the stage the order waits on, when that stage is
/// interactive and its codecafe lives; `None` otherwise (the order continues the usual way).
pub(crate) fn deliver(
    service: &Service,
    order: &Order,
    reply: &Reply,
) -> Result<Option<RunOutcome>> {
    let store = service.store()?;
    let (stage, approval_id) = match reply {
        Reply::Budget(_) => return Ok(None),
        Reply::Answer(_) => {
            let open = store
                .questions(order.id)?
                .into_iter()
                .rev()
                .find(|q| q.answer.is_none());
            match open.and_then(|q| q.stage) {
                Some(stage) => (stage, None),
                None => return Ok(None),
            }
        }
        Reply::Approve { approval, .. } | Reply::Deny { approval, .. } => {
            let pending: Vec<_> = store
                .approvals(order.id)?
                .into_iter()
                .filter(|a| a.is_pending())
                .collect();
            let chosen = match approval {
                Some(id) => pending.into_iter().find(|a| a.id == *id),
                None if pending.len() == 1 => pending.into_iter().next(),
                // Several or none: the usual path explains.
                None => None,
            };
            match chosen {
                Some(a) => (a.stage, Some(a.id)),
                None => return Ok(None),
            }
        }
    };
    let path = live::socket_path(&service.paths().live_terminals(), order.id, &stage);
    let hello = Hello {
        role: Role::Answer,
        pid: std::process::id(),
        cols: None,
        rows: None,
    };
    let Some(client) = LiveClient::connect(&path, &hello) else {
        return Ok(None);
    };
    let answer = match (reply, approval_id) {
        (Reply::Answer(text), _) => client.type_answer(text),
        (Reply::Approve { always, .. }, Some(id)) => client.decide(&DecisionMsg {
            approval_id: id,
            decision: if *always {
                Decision::AllowAlways
            } else {
                Decision::Allow
            },
            reason: None,
        }),
        (Reply::Deny { reason, .. }, Some(id)) => client.decide(&DecisionMsg {
            approval_id: id,
            decision: Decision::Deny,
            reason: reason.clone(),
        }),
        _ => return Ok(None),
    };
    let fail = |message: String| ServiceError::Live {
        order: order.short_id(),
        message,
    };
    match answer {
        Ok(Ok(message)) => Ok(Some(RunOutcome::Delivered { stage, message })),
        Ok(Err(message)) => Err(fail(message)),
        Err(err) => Err(fail(format!(
            "the live terminal of stage `{stage}` did not answer: {err}"
        ))),
    }
}
