//! Tool calls an agent was refused: collected per attempt (once each, though agents report a
//! denial both as it happens and again in their final summary), described in a line a user
//! can act on, and turned into a stage failure when the stage's level should have allowed
//! them (`on_denied: fail`).

use codecafe_catalog::recipe::{OnDenied, Permissions};
use codecafe_sdk::ToolDenial;
use serde_json::Value;

/// The denials of one attempt, each once.
#[derive(Debug, Default, Clone)]
pub(crate) struct Denials {
    found: Vec<ToolDenial>,
}

impl Denials {
    /// Adds `denial` unless it was seen (same call id; or, without ids, same tool and input).
    pub(crate) fn add(&mut self, denial: &ToolDenial) {
        let seen = self.found.iter().any(|d| {
            if denial.id.is_empty() || d.id.is_empty() {
                d.tool == denial.tool && d.input == denial.input
            } else {
                d.id == denial.id
            }
        });
        if !seen {
            self.found.push(denial.clone());
        }
    }

    /// Every denial, in the order first seen.
    pub(crate) fn into_vec(self) -> Vec<ToolDenial> {
        self.found
    }
}

/// Why the stage fails for its denials, or `None` when it goes on (none, or `on_denied: warn`).
pub(crate) fn failure(
    denials: &[ToolDenial],
    on_denied: OnDenied,
    level: Permissions,
) -> Option<String> {
    (on_denied == OnDenied::Fail && !denials.is_empty()).then(|| summary(denials, level))
}

/// `1 tool call denied: Write hello.txt — allow with `permissions: edit``.
pub fn summary(denials: &[ToolDenial], level: Permissions) -> String {
    let calls: Vec<String> = denials.iter().take(3).map(describe).collect();
    let more = denials.len().saturating_sub(calls.len());
    let listed = if more > 0 {
        format!("{} and {more} more", calls.join(", "))
    } else {
        calls.join(", ")
    };
    let count = match denials.len() {
        1 => "1 tool call denied".to_owned(),
        n => format!("{n} tool calls denied"),
    };
    format!("{count}: {listed} — {}", hint(denials, level))
}

/// The tool and what it was aimed at: `Write hello.txt`, `Bash "rm -rf build"`.
pub fn describe(denial: &ToolDenial) -> String {
    let input: Value = serde_json::from_str(&denial.input).unwrap_or(Value::Null);
    let target = [
        "file_path",
        "path",
        "notebook_path",
        "command",
        "url",
        "pattern",
    ]
    .iter()
    .find_map(|key| input.get(key).and_then(Value::as_str))
    .or_else(|| input.as_str());
    match target {
        Some(target) if denial.tool.eq_ignore_ascii_case("bash") || is_command(&input) => {
            format!("{} \"{}\"", denial.tool, shorten(target))
        }
        Some(target) => format!("{} {}", denial.tool, shorten(file_name(target))),
        None => denial.tool.clone(),
    }
}

fn is_command(input: &Value) -> bool {
    input.get("command").is_some()
}

/// The path relative to nothing: its last two components, enough to recognise it.
fn file_name(path: &str) -> &str {
    let mut cut = path.len();
    for _ in 0..2 {
        match path[..cut].rfind('/') {
            Some(at) => cut = at,
            None => return path,
        }
    }
    &path[cut + 1..]
}

fn shorten(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() > 60 || text.lines().nth(1).is_some() {
        format!("{}…", line.chars().take(60).collect::<String>())
    } else {
        line.to_owned()
    }
}

/// What to change so the calls are allowed.
fn hint(denials: &[ToolDenial], level: Permissions) -> String {
    let commands_only = denials.iter().all(|d| {
        d.tool.eq_ignore_ascii_case("bash")
            || serde_json::from_str::<Value>(&d.input).is_ok_and(|input| is_command(&input))
    });
    match level {
        Permissions::ReadOnly if commands_only => {
            "allow with `permissions: edit`, or list the command in `allowed_commands`".to_owned()
        }
        Permissions::ReadOnly => "allow with `permissions: edit`".to_owned(),
        Permissions::Edit if commands_only => {
            "list the command in `allowed_commands`, install a sandbox (`codecafe doctor`), or \
             allow with `permissions: full`"
                .to_owned()
        }
        Permissions::Edit => "allow with `permissions: full`".to_owned(),
        Permissions::Full => {
            "the agent's own settings refused it (check its configuration)".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denial(id: &str, tool: &str, input: &str) -> ToolDenial {
        ToolDenial {
            id: id.to_owned(),
            tool: tool.to_owned(),
            input: input.to_owned(),
            reason: "denied".to_owned(),
        }
    }

    #[test]
    fn a_denial_reported_twice_counts_once() {
        let mut denials = Denials::default();
        let write = denial("t1", "Write", r#"{"file_path":"/w/hello.txt"}"#);
        denials.add(&write);
        denials.add(&write);
        denials.add(&denial("", "Bash", r#"{"command":"ls"}"#));
        denials.add(&denial("", "Bash", r#"{"command":"ls"}"#));
        assert_eq!(denials.into_vec().len(), 2);
    }

    #[test]
    fn the_summary_names_the_call_and_the_fix() {
        let write = denial("t1", "Write", r#"{"file_path":"/work/tree/src/hello.txt"}"#);
        assert_eq!(
            summary(std::slice::from_ref(&write), Permissions::ReadOnly),
            "1 tool call denied: Write src/hello.txt — allow with `permissions: edit`"
        );
        let bash = denial("t2", "Bash", r#"{"command":"curl example.com"}"#);
        let text = summary(&[bash.clone(), bash], Permissions::Edit);
        assert!(text.starts_with("2 tool calls denied: Bash \"curl example.com\""));
        assert!(text.contains("allowed_commands"), "{text}");
        let many: Vec<ToolDenial> = (0..5)
            .map(|i| denial(&i.to_string(), "Edit", r#"{"file_path":"a"}"#))
            .collect();
        assert!(summary(&many, Permissions::ReadOnly).contains("and 2 more"));
    }

    #[test]
    fn only_fail_stages_fail() {
        let write = [denial("t1", "Write", "{}")];
        assert!(failure(&write, OnDenied::Fail, Permissions::Edit).is_some());
        assert!(failure(&write, OnDenied::Warn, Permissions::ReadOnly).is_none());
        assert!(failure(&[], OnDenied::Fail, Permissions::Edit).is_none());
    }

    #[test]
    fn odd_inputs_still_describe_the_tool() {
        assert_eq!(describe(&denial("", "WebFetch", "not json")), "WebFetch");
        assert_eq!(
            describe(&denial("", "exec", r#"{"command":"a\nb"}"#)),
            "exec \"a…\""
        );
    }
}
