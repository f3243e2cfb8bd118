//! `codecafe order approve|deny`: decide the tool call an order waits on, from any process,
//! and continue the order in the foreground (the exit codes of `codecafe run`); and the same
//! decision asked in place when a foreground run on a terminal stops at an approval.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use codecafe_service::execute::{self, Reply};
use codecafe_service::{Approval, CancelToken, RunOutcome, Service};

use crate::control_cmd::continued;
use crate::printer::Printer;

/// Arguments of `codecafe order approve`.
#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// Order id or unique prefix.
    id: String,
    /// The approval (its number; default: the only one pending).
    approval: Option<i64>,
    /// Also allow calls matching the request's rule (e.g. `Bash(cargo test:*)`; else the same
    /// tool) for the rest of the order.
    #[arg(long)]
    always: bool,
    /// Print each event as one JSON line (NDJSON).
    #[arg(long)]
    json: bool,
}

/// Arguments of `codecafe order deny`.
#[derive(Debug, Args)]
pub struct DenyArgs {
    /// Order id or unique prefix.
    id: String,
    /// The approval (its number; default: the only one pending).
    approval: Option<i64>,
    /// Why, for the agent (it carries on without the call).
    #[arg(long)]
    reason: Option<String>,
    /// Print each event as one JSON line (NDJSON).
    #[arg(long)]
    json: bool,
}

/// `codecafe order approve`.
pub fn approve(service: &Service, args: &ApproveArgs, token: &CancelToken) -> Result<ExitCode> {
    let reply = Reply::Approve {
        approval: args.approval,
        always: args.always,
    };
    continued(service, &args.id, args.json, token, |emit| {
        execute::input(service, &args.id, &reply, token, emit)
    })
}

/// `codecafe order deny`.
pub fn deny(service: &Service, args: &DenyArgs, token: &CancelToken) -> Result<ExitCode> {
    let reply = Reply::Deny {
        approval: args.approval,
        reason: args.reason.clone(),
    };
    continued(service, &args.id, args.json, token, |emit| {
        execute::input(service, &args.id, &reply, token, emit)
    })
}

/// While a foreground run on a terminal (not `--json`) stops at an approval, asks the user
/// in place — approve, deny, always, or later — and continues the order with the decision.
/// No agent waits meanwhile: its turn ended, so the order holds no process and no slot, and a
/// codecafe killed at the prompt leaves the approval pending for `order approve` / `deny`.
pub fn decide_in_place(
    service: &Service,
    id: &str,
    mut outcome: RunOutcome,
    json: bool,
    token: &CancelToken,
) -> Result<RunOutcome> {
    if json || !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Ok(outcome);
    }
    while let RunOutcome::AwaitingInput {
        approval: Some(approval),
        ..
    } = &outcome
    {
        let Some(reply) = ask(approval)? else {
            break;
        };
        let printer = Printer::new(id, false);
        outcome = execute::input(service, id, &reply, token, &mut |event| {
            printer.event(event)
        })?;
    }
    Ok(outcome)
}

/// One question on the terminal; `None` for "later" (or end of input).
fn ask(approval: &Approval) -> Result<Option<Reply>> {
    let rule = approval.rule.as_deref().unwrap_or(&approval.tool);
    loop {
        let answer = prompt(&format!(
            "Approve {}? [y]es / [n]o / [a]lways ({rule}) / [l]ater: ",
            approval.summary
        ))?;
        let Some(answer) = answer else {
            return Ok(None);
        };
        return Ok(Some(match answer.trim().to_lowercase().as_str() {
            "y" | "yes" => Reply::Approve {
                approval: Some(approval.id),
                always: false,
            },
            "a" | "always" => Reply::Approve {
                approval: Some(approval.id),
                always: true,
            },
            "n" | "no" => Reply::Deny {
                approval: Some(approval.id),
                reason: prompt("Why (for the agent; Enter for no reason): ")?
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty()),
            },
            "l" | "later" | "" => {
                println!(
                    "left pending: `codecafe order approve {0}` or `codecafe order deny {0}` \
                     decide it later",
                    approval.id
                );
                return Ok(None);
            }
            _ => continue,
        }));
    }
}

/// Prints `question` and reads one line; `None` at the end of input.
fn prompt(question: &str) -> Result<Option<String>> {
    print!("{question}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    Ok((std::io::stdin().lock().read_line(&mut line)? > 0).then_some(line))
}
