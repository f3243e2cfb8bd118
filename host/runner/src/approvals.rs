//! The host side of approvals: a tool call beyond the stage's permissions (the agent asks over
//! its protocol) is answered from the order's record of decisions when one matches — the same
//! call decided before, or a rule allowed with `--always` — and otherwise deferred: the agent's
//! turn ends without running it, the order awaits the user's decision (durably, holding no
//! process and no pool slot), and the decision continues the same agent session, which repeats
//! the call and gets the answer from the record.
//!
//! Rules have the `Tool` or `Tool(content)` form agents propose (`Bash(cargo test:*)`): `Tool`
//! alone matches every call of the tool; `content` ending in `:*` matches a call whose command
//! (or path) starts with what precedes it; other content must equal it.

use codecafe_sdk::{ApprovalDecision, ApprovalRequest};
use codecafe_store::{Approval, Decision, NewApproval};
use serde_json::Value;

/// Longest summary line.
const SUMMARY_CHARS: usize = 200;
/// Lines of a diff preview.
const PREVIEW_LINES: usize = 20;

/// The recorded decision that answers `request`, if any: the latest one for the same tool and
/// input, else the latest `--always` rule that matches it.
pub(crate) fn recorded<'a>(
    decisions: &'a [Approval],
    request: &ApprovalRequest,
) -> Option<&'a Approval> {
    let input = parse(&request.input);
    let decided = || {
        decisions.iter().rev().filter(|a| {
            matches!(
                a.decision,
                Some(Decision::Allow | Decision::AllowAlways | Decision::Deny)
            )
        })
    };
    decided()
        .find(|a| a.tool == request.tool && parse(&a.input) == input)
        .or_else(|| {
            decided().find(|a| {
                a.decision == Some(Decision::AllowAlways)
                    && rule_matches(a.rule.as_deref().unwrap_or(&a.tool), &request.tool, &input)
            })
        })
}

/// The answer the agent gets for a recorded decision.
pub(crate) fn answer(decision: Decision) -> ApprovalDecision {
    match decision {
        Decision::Allow => ApprovalDecision::Allow,
        Decision::AllowAlways => ApprovalDecision::AllowAlways,
        Decision::Deny | Decision::Withdrawn => ApprovalDecision::Deny,
    }
}

/// Whether `rule` allows a call of `tool` with `input`.
pub(crate) fn rule_matches(rule: &str, tool: &str, input: &Value) -> bool {
    let (rule_tool, content) = match rule.split_once('(') {
        Some((name, rest)) => (name.trim(), rest.strip_suffix(')')),
        None => (rule.trim(), None),
    };
    if rule_tool != tool {
        return false;
    }
    let Some(content) = content else {
        return true;
    };
    let Some(subject) = subject(input) else {
        return false;
    };
    match content
        .strip_suffix(":*")
        .or_else(|| content.strip_suffix('*'))
    {
        Some(prefix) => {
            let prefix = prefix.trim_end();
            subject == prefix
                || subject
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with(char::is_whitespace))
        }
        None => subject == content,
    }
}

/// What a call acts on: its command line, else its path.
fn subject(input: &Value) -> Option<&str> {
    ["command", "cmd", "file_path", "path"]
        .iter()
        .find_map(|key| input.get(key).and_then(Value::as_str))
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// The approval to record for `request` of `stage`: a one-line summary (the command line, or
/// the file and what happens to it) and a detail with the agent's reason and a diff preview.
pub(crate) fn new_approval(stage: &str, request: &ApprovalRequest) -> NewApproval {
    let input = parse(&request.input);
    let text = |key: &str| input.get(key).and_then(Value::as_str);
    let path = text("file_path").or_else(|| text("path"));
    let summary = match (text("command").or_else(|| text("cmd")), path) {
        (Some(command), _) => format!("{}: {command}", request.tool),
        (None, Some(path)) => format!("{} {path}", request.tool),
        (None, None) => format!("{} {}", request.tool, request.input),
    };
    let mut detail = Vec::new();
    if !request.description.trim().is_empty() {
        detail.push(request.description.trim().to_owned());
    }
    let preview = match (text("old_string"), text("new_string"), text("content")) {
        (Some(old), Some(new), _) => Some(diff_preview(old, new)),
        (None, None, Some(content)) => Some(diff_preview("", content)),
        // A patch's own diff (codex): shown as it is.
        _ => text("diff").map(|diff| first_lines(diff.lines().map(str::to_owned).collect())),
    };
    detail.extend(preview.filter(|p| !p.is_empty()));
    NewApproval {
        stage: stage.to_owned(),
        tool: request.tool.clone(),
        input: request.input.clone(),
        summary: abbreviate(&summary),
        detail: (!detail.is_empty()).then(|| detail.join("\n\n")),
        rule: request.rule.clone(),
    }
}

/// `-` lines of `old` then `+` lines of `new`, at most [`PREVIEW_LINES`] in all.
fn diff_preview(old: &str, new: &str) -> String {
    first_lines(
        old.lines()
            .map(|l| format!("-{l}"))
            .chain(new.lines().map(|l| format!("+{l}")))
            .collect(),
    )
}

/// At most [`PREVIEW_LINES`] of `lines`, saying how many more there are.
fn first_lines(lines: Vec<String>) -> String {
    let mut shown: Vec<String> = lines.iter().take(PREVIEW_LINES).cloned().collect();
    if lines.len() > PREVIEW_LINES {
        shown.push(format!("… {} more lines", lines.len() - PREVIEW_LINES));
    }
    shown.join("\n")
}

fn abbreviate(line: &str) -> String {
    let line = line.replace('\n', " ");
    if line.chars().count() > SUMMARY_CHARS {
        format!("{}…", line.chars().take(SUMMARY_CHARS).collect::<String>())
    } else {
        line
    }
}

/// What the agent is told when its session continues after the user decided `approval`.
pub(crate) fn decision_prompt(approval: &Approval) -> Option<String> {
    let summary = &approval.summary;
    Some(match approval.decision? {
        Decision::Allow => format!(
            "## The user approved your tool call\n\n`{summary}` is approved. Make exactly that \
             call again now; it will run. Then carry on with the task."
        ),
        Decision::AllowAlways => format!(
            "## The user approved your tool call\n\n`{summary}` is approved, and calls matching \
             `{}` are allowed for the rest of this task. Make that call again now; it will run. \
             Then carry on with the task.",
            approval.rule.as_deref().unwrap_or(&approval.tool)
        ),
        Decision::Deny => format!(
            "## The user denied your tool call\n\n`{summary}` was denied{}. Do not make that call \
             again; carry on without it, or say what you need instead.",
            approval
                .reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
        Decision::Withdrawn => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(tool: &str, input: &str) -> ApprovalRequest {
        ApprovalRequest {
            id: "r".to_owned(),
            tool: tool.to_owned(),
            input: input.to_owned(),
            description: String::new(),
            rule: None,
        }
    }

    fn decided(
        id: i64,
        tool: &str,
        input: &str,
        decision: Decision,
        rule: Option<&str>,
    ) -> Approval {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "stage": "code",
            "tool": tool,
            "input": input,
            "summary": "",
            "rule": rule,
            "askedAt": "2026-12-06T00:00:00Z",
            "decision": decision,
        }))
        .expect("an approval")
    }

    #[test]
    fn the_same_call_is_answered_from_the_record_whatever_its_key_order() {
        let record = [decided(
            1,
            "Write",
            r#"{"file_path":"a.txt","content":"hi"}"#,
            Decision::Deny,
            None,
        )];
        let again = request("Write", r#"{"content":"hi","file_path":"a.txt"}"#);
        assert_eq!(recorded(&record, &again).map(|a| a.id), Some(1));
        let other = request("Write", r#"{"content":"ho","file_path":"a.txt"}"#);
        assert!(recorded(&record, &other).is_none());
    }

    #[test]
    fn an_always_rule_allows_matching_calls_only() {
        let record = [decided(
            2,
            "Bash",
            r#"{"command":"cargo test -p a"}"#,
            Decision::AllowAlways,
            Some("Bash(cargo test:*)"),
        )];
        let yes = request("Bash", r#"{"command":"cargo test --all"}"#);
        assert_eq!(recorded(&record, &yes).map(|a| a.id), Some(2));
        for no in [
            request("Bash", r#"{"command":"cargo testx"}"#),
            request("Bash", r#"{"command":"rm -rf /"}"#),
            request("Write", r#"{"file_path":"cargo test"}"#),
        ] {
            assert!(recorded(&record, &no).is_none(), "{no:?}");
        }
        // A plain `allow` allows that one call, not a rule.
        let once = [decided(
            3,
            "Bash",
            r#"{"command":"ls"}"#,
            Decision::Allow,
            Some("Bash(ls:*)"),
        )];
        assert!(recorded(&once, &request("Bash", r#"{"command":"ls -la"}"#)).is_none());
        // Without a proposed rule, `--always` allows the tool.
        assert!(rule_matches(
            "Write",
            "Write",
            &serde_json::json!({"file_path": "x"})
        ));
    }

    #[test]
    fn a_summary_says_what_the_call_does_with_a_preview() {
        let edit = new_approval(
            "code",
            &ApprovalRequest {
                description: "Claude wants to edit".to_owned(),
                ..request(
                    "Edit",
                    r#"{"file_path":"src/a.rs","old_string":"a\nb","new_string":"c"}"#,
                )
            },
        );
        assert_eq!(edit.summary, "Edit src/a.rs");
        assert_eq!(
            edit.detail.as_deref(),
            Some("Claude wants to edit\n\n-a\n-b\n+c")
        );
        let bash = new_approval("code", &request("Bash", r#"{"command":"cargo test"}"#));
        assert_eq!(bash.summary, "Bash: cargo test");
        assert_eq!(bash.detail, None);
    }
}
