//! The `signals-default` parser: reads the fenced `signals:` YAML block a stage writes at the end
//! of its final text.
//!
//! A stage tells the workflow what to do next with a block like this one:
//!
//! ````text
//! ```yaml
//! signals:
//!   nextAction: await_user        # proceed | await_user | skip_next | retry
//!   needsUserInput: true
//!   questions: ["Which database?", "Keep the v1 API?"]
//!   complexity: medium            # low | medium | high
//!   uncertainties: ["No tests cover auth"]
//!   skipStages: [review]
//!   retryReason: "tests failed"
//! ```
//! ````
//!
//! | key (alias) | value | meaning |
//! |---|---|---|
//! | `nextAction` (`next_action`) | `proceed`, `await_user`, `skip_next`, `retry` | what to do next |
//! | `needsUserInput` (`needs_user_input`) | `true` / `false` | `true` alone means `await_user` |
//! | `questions` | a list of strings or one string | what to ask with `await_user` |
//! | `complexity` | `low`, `medium`, `high` | the stage's estimate |
//! | `uncertainties` | a list of strings or one string | things the stage was unsure about |
//! | `skipStages` (`skip_stages`) | stage ids, a list or one string | what `skip_next` skips |
//! | `retryReason` (`retry_reason`) | a string | why `retry` runs the stage again |
//!
//! Rules:
//!
//! - The block is a fenced code block (```` ```yaml ````, ```` ```yml ````, bare ```` ``` ```` or
//!   the `~~~` forms) whose YAML has a top-level `signals:` key. Blocks in other languages and
//!   blocks without `signals:` are ordinary text. When there are several signal blocks, the last
//!   one wins, wherever it sits in the text.
//! - No block means [`StageSignals::proceed`] with `explicit: false`. The parser never guesses:
//!   no character counts, no question marks, nothing outside the block.
//! - Without `nextAction`, the other keys say it: `needsUserInput: true` or `questions` mean
//!   `await_user`, `skipStages` means `skip_next`, `retryReason` means `retry`, and nothing means
//!   `proceed`. Keys that contradict the action (`retryReason` with `proceed`, say) are errors,
//!   so a block never says one thing and does another.
//! - `await_user` without questions asks [`GENERIC_QUESTION`]. `skip_next` without `skipStages`
//!   skips the next stage, and proceeds when none follows. `retry` without a reason uses
//!   [`GENERIC_RETRY_REASON`].
//! - Mistakes are errors, never ignored: an unknown key, a bad value or an unclosed fence is
//!   [`SignalError::Malformed`] with the 1-based line in the whole text and what would be
//!   accepted; skipping a stage that does not follow is [`SignalError::Invalid`] listing the ones
//!   that do.
//!
//! Keys are camelCase as above or their snake_case aliases; enum values are compared ignoring
//! case, `-` and `_` (`await-user` and `awaitUser` read as `await_user`).

use codecafe_sdk::{
    Complexity, NextAction, ParserInfo, SignalError, SignalParser, StageContext, StageSignals,
};
use serde_yaml_ng::{Mapping, Value};

/// The question asked when a block says `await_user` but lists no questions.
pub const GENERIC_QUESTION: &str = "The stage needs your input.";

/// The reason given when a block says `retry` but gives no `retryReason`.
pub const GENERIC_RETRY_REASON: &str = "The stage asked to be run again.";

/// The accepted `nextAction` values.
const ACTIONS: &[&str] = &["proceed", "await_user", "skip_next", "retry"];

/// The accepted `complexity` values.
const COMPLEXITIES: &[&str] = &["low", "medium", "high"];

/// The default signal parser. Stateless; see the [module docs](self) for the format.
#[derive(Debug, Default, Clone, Copy)]
pub struct DefaultSignals;

impl SignalParser for DefaultSignals {
    fn info(&self) -> ParserInfo {
        ParserInfo {
            id: "signals-default".to_owned(),
            name: "Default signals".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Reads the fenced `signals:` YAML block at the end of a stage's text."
                .to_owned(),
        }
    }

    fn parse(&mut self, text: &str, context: &StageContext) -> Result<StageSignals, SignalError> {
        match find_signal_block(text) {
            None => Ok(StageSignals::proceed()),
            Some(block) => read_block(&block, context),
        }
    }
}

codecafe_sdk::export_signal_parser!(DefaultSignals);

// ---------------------------------------------------------------------------------------------
// Finding the block
// ---------------------------------------------------------------------------------------------

/// An opening code fence.
#[derive(Debug, Clone, Copy)]
struct Fence {
    /// `` ` `` or `~`.
    marker: u8,
    /// How many markers open it; the closing fence needs at least as many.
    length: usize,
    /// Leading spaces of the opening line, removed from the content lines.
    indent: usize,
    /// The info string's language may hold YAML (`yaml`, `yml` or none).
    yaml: bool,
}

/// A fenced block with a top-level `signals:` key.
#[derive(Debug)]
struct Block<'a> {
    /// 1-based line of the opening fence in the whole text.
    fence_line: u32,
    /// Content lines, dedented by the fence's indentation.
    lines: Vec<&'a str>,
    /// Index in `lines` of the `signals:` line.
    signals_at: usize,
    /// A closing fence was found.
    closed: bool,
}

impl Block<'_> {
    /// 1-based line in the whole text of content line `index`.
    fn text_line(&self, index: usize) -> u32 {
        let offset = u32::try_from(index).unwrap_or(u32::MAX);
        self.fence_line.saturating_add(1).saturating_add(offset)
    }
}

/// The last fenced YAML block with a top-level `signals:` key, if any.
fn find_signal_block(text: &str) -> Option<Block<'_>> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect();
    let mut found = None;
    let mut index = 0;
    while index < lines.len() {
        let Some(fence) = opening_fence(lines[index]) else {
            index += 1;
            continue;
        };
        let start = index + 1;
        let end = lines[start..]
            .iter()
            .position(|line| closes(fence, line))
            .map(|offset| start + offset);
        let content_end = end.unwrap_or(lines.len());
        if fence.yaml {
            let content: Vec<&str> = lines[start..content_end]
                .iter()
                .map(|line| dedent(line, fence.indent))
                .collect();
            if let Some(signals_at) = content.iter().position(|line| is_signals_key(line)) {
                found = Some(Block {
                    fence_line: u32::try_from(index + 1).unwrap_or(u32::MAX),
                    lines: content,
                    signals_at,
                    closed: end.is_some(),
                });
            }
        }
        index = content_end + 1;
    }
    found
}

/// The fence a line opens, if it opens one.
fn opening_fence(line: &str) -> Option<Fence> {
    let trimmed = line.trim_start_matches(' ');
    let indent = line.len() - trimmed.len();
    let marker = *trimmed.as_bytes().first()?;
    if marker != b'`' && marker != b'~' {
        return None;
    }
    let length = trimmed.bytes().take_while(|&b| b == marker).count();
    if length < 3 {
        return None;
    }
    let info = trimmed[length..].trim();
    if marker == b'`' && info.contains('`') {
        // Not a fence: inline code such as ```a``` (CommonMark).
        return None;
    }
    let language = info
        .split(|c: char| c.is_whitespace() || c == '{' || c == ',')
        .next()
        .unwrap_or("");
    let yaml = language.is_empty()
        || language.eq_ignore_ascii_case("yaml")
        || language.eq_ignore_ascii_case("yml");
    Some(Fence {
        marker,
        length,
        indent,
        yaml,
    })
}

/// True when `line` closes `fence`.
fn closes(fence: Fence, line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.len() >= fence.length && trimmed.bytes().all(|b| b == fence.marker)
}

/// `line` without up to `indent` leading spaces.
fn dedent(line: &str, indent: usize) -> &str {
    let spaces = line.bytes().take(indent).take_while(|&b| b == b' ').count();
    &line[spaces..]
}

/// True for a top-level `signals:` key line (unindented, plain or quoted).
fn is_signals_key(line: &str) -> bool {
    key_rest(line, "signals").is_some()
}

/// When `line` starts with the mapping key `key` (plain or quoted) and a `:` that ends the key,
/// what follows the colon.
fn key_rest<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let (quote, unquoted) = match line.as_bytes().first() {
        Some(b'"') => (Some('"'), &line[1..]),
        Some(b'\'') => (Some('\''), &line[1..]),
        _ => (None, line),
    };
    let mut rest = unquoted.strip_prefix(key)?;
    if let Some(quote) = quote {
        rest = rest.strip_prefix(quote)?;
    }
    let rest = rest.trim_start_matches([' ', '\t']).strip_prefix(':')?;
    if rest.is_empty() || rest.starts_with([' ', '\t']) || quote.is_some() {
        Some(rest)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the block
// ---------------------------------------------------------------------------------------------

/// The keys `signals:` may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    NextAction,
    NeedsUserInput,
    Questions,
    Complexity,
    Uncertainties,
    SkipStages,
    RetryReason,
}

/// Every accepted spelling of every key, in the order errors list them.
const KEYS: &[(&str, Key)] = &[
    ("nextAction", Key::NextAction),
    ("next_action", Key::NextAction),
    ("needsUserInput", Key::NeedsUserInput),
    ("needs_user_input", Key::NeedsUserInput),
    ("questions", Key::Questions),
    ("complexity", Key::Complexity),
    ("uncertainties", Key::Uncertainties),
    ("skipStages", Key::SkipStages),
    ("skip_stages", Key::SkipStages),
    ("retryReason", Key::RetryReason),
    ("retry_reason", Key::RetryReason),
];

/// The action a block names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Proceed,
    AwaitUser,
    SkipNext,
    Retry,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Proceed => "proceed",
            Self::AwaitUser => "await_user",
            Self::SkipNext => "skip_next",
            Self::Retry => "retry",
        }
    }
}

/// The values of a `signals:` mapping, checked for type but not yet for sense.
#[derive(Debug, Default)]
struct Fields {
    next_action: Option<Action>,
    needs_user_input: Option<bool>,
    questions: Vec<String>,
    complexity: Option<Complexity>,
    uncertainties: Vec<String>,
    skip_stages: Vec<String>,
    retry_reason: Option<String>,
}

/// Reads a found block into signals.
fn read_block(block: &Block<'_>, context: &StageContext) -> Result<StageSignals, SignalError> {
    if !block.closed {
        return Err(SignalError::Malformed {
            line: block.fence_line,
            message: "the code fence holding the `signals:` block is never closed; end the block \
                      with a line of ```"
                .to_owned(),
        });
    }
    let source = block.lines.join("\n");
    let document: Value = serde_yaml_ng::from_str(&source).map_err(|err| {
        let line = err
            .location()
            .map_or(block.text_line(block.signals_at), |location| {
                block.text_line(location.line().saturating_sub(1))
            });
        SignalError::Malformed {
            line,
            message: format!(
                "the `signals:` block is not valid YAML: {}",
                yaml_message(&err, block)
            ),
        }
    })?;
    let signals = document.get("signals").unwrap_or(&Value::Null);
    let fields = match signals {
        Value::Null => Fields::default(),
        Value::Mapping(mapping) => read_fields(block, mapping)?,
        _ => {
            return Err(SignalError::Malformed {
                line: block.text_line(block.signals_at),
                message: "`signals:` must be a mapping of keys such as `nextAction: proceed`"
                    .to_owned(),
            });
        }
    };
    decide(fields, context)
}

/// A YAML error's message with its positions (relative to the block) turned into lines of the
/// whole text.
fn yaml_message(err: &serde_yaml_ng::Error, block: &Block<'_>) -> String {
    const AT_LINE: &str = " at line ";
    let message = err.to_string();
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let mut out = String::with_capacity(message.len());
    let mut rest = message.as_str();
    while let Some(start) = rest.find(AT_LINE) {
        let after = &rest[start + AT_LINE.len()..];
        let count = digits(after);
        let Ok(line) = after[..count].parse::<usize>() else {
            out.push_str(&rest[..start + AT_LINE.len()]);
            rest = after;
            continue;
        };
        out.push_str(&rest[..start]);
        out.push_str(&format!(
            "{AT_LINE}{}",
            block.text_line(line.saturating_sub(1))
        ));
        rest = &after[count..];
        if let Some(column) = rest.strip_prefix(" column ") {
            rest = &column[digits(column)..];
        }
    }
    out.push_str(rest);
    out
}

/// Checks every key and value of the `signals:` mapping.
fn read_fields(block: &Block<'_>, mapping: &Mapping) -> Result<Fields, SignalError> {
    let mut fields = Fields::default();
    let mut seen: Vec<(Key, &str)> = Vec::new();
    for (key, value) in mapping {
        let Some(name) = key.as_str() else {
            return Err(SignalError::Malformed {
                line: block.text_line(block.signals_at),
                message: format!(
                    "keys under `signals:` are names; {} is not",
                    serde_yaml_ng::to_string(key).unwrap_or_default().trim_end()
                ),
            });
        };
        let line = key_line(block, name);
        let malformed = |message: String| SignalError::Malformed { line, message };
        let Some(&(_, which)) = KEYS.iter().find(|(spelling, _)| *spelling == name) else {
            return Err(malformed(format!(
                "unknown key `{name}` under `signals:`; the keys are {}",
                KEYS.iter()
                    .map(|(spelling, _)| format!("`{spelling}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == which) {
            return Err(malformed(format!(
                "`{name}` repeats `{first}`; give it once"
            )));
        }
        seen.push((which, name));
        match which {
            Key::NextAction => {
                fields.next_action = match enum_value(value, name, ACTIONS).map_err(malformed)? {
                    None => None,
                    Some(0) => Some(Action::Proceed),
                    Some(1) => Some(Action::AwaitUser),
                    Some(2) => Some(Action::SkipNext),
                    Some(_) => Some(Action::Retry),
                }
            }
            Key::NeedsUserInput => {
                fields.needs_user_input = match value {
                    Value::Null => None,
                    Value::Bool(flag) => Some(*flag),
                    other => {
                        return Err(malformed(format!(
                            "`{name}` must be true or false, not {}",
                            describe(other)
                        )));
                    }
                }
            }
            Key::Questions => fields.questions = string_list(value, name).map_err(malformed)?,
            Key::Complexity => {
                fields.complexity =
                    match enum_value(value, name, COMPLEXITIES).map_err(malformed)? {
                        None => None,
                        Some(0) => Some(Complexity::Low),
                        Some(1) => Some(Complexity::Medium),
                        Some(_) => Some(Complexity::High),
                    }
            }
            Key::Uncertainties => {
                fields.uncertainties = string_list(value, name).map_err(malformed)?;
            }
            Key::SkipStages => {
                let mut stages = string_list(value, name).map_err(malformed)?;
                let mut unique = Vec::with_capacity(stages.len());
                for stage in stages.drain(..) {
                    if !unique.contains(&stage) {
                        unique.push(stage);
                    }
                }
                fields.skip_stages = unique;
            }
            Key::RetryReason => {
                fields.retry_reason = match value {
                    Value::Null => None,
                    Value::String(reason) if reason.trim().is_empty() => None,
                    Value::String(reason) => Some(reason.trim().to_owned()),
                    other => {
                        return Err(malformed(format!(
                            "`{name}` must be a string, not {}",
                            describe(other)
                        )));
                    }
                }
            }
        }
    }
    Ok(fields)
}

/// Turns checked fields into signals, rejecting contradictions.
fn decide(fields: Fields, context: &StageContext) -> Result<StageSignals, SignalError> {
    let invalid = |message: String| Err(SignalError::Invalid { message });
    if fields.needs_user_input == Some(false) && !fields.questions.is_empty() {
        return invalid(
            "`needsUserInput: false` contradicts the `questions` it lists; drop one".to_owned(),
        );
    }
    let wants_user = fields.needs_user_input == Some(true) || !fields.questions.is_empty();
    let action = match fields.next_action {
        Some(action) => action,
        None => {
            let mut implied = Vec::new();
            if wants_user {
                implied.push(("needsUserInput/questions", Action::AwaitUser));
            }
            if !fields.skip_stages.is_empty() {
                implied.push(("skipStages", Action::SkipNext));
            }
            if fields.retry_reason.is_some() {
                implied.push(("retryReason", Action::Retry));
            }
            match implied.as_slice() {
                [] => Action::Proceed,
                [(_, action)] => *action,
                _ => {
                    return invalid(format!(
                        "{} ask for different actions; say which with `nextAction`",
                        implied
                            .iter()
                            .map(|(keys, _)| format!("`{keys}`"))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ));
                }
            }
        }
    };
    let contradiction = |keys: &str| {
        invalid(format!(
            "{keys} contradicts `nextAction: {}`",
            action.name()
        ))
    };
    if action != Action::AwaitUser {
        if fields.needs_user_input == Some(true) {
            return contradiction("`needsUserInput: true`");
        }
        if !fields.questions.is_empty() {
            return contradiction("`questions` (asked only with `await_user`)");
        }
    } else if fields.needs_user_input == Some(false) {
        return contradiction("`needsUserInput: false`");
    }
    if action != Action::SkipNext && !fields.skip_stages.is_empty() {
        return contradiction("`skipStages` (used only with `skip_next`)");
    }
    if action != Action::Retry && fields.retry_reason.is_some() {
        return contradiction("`retryReason` (used only with `retry`)");
    }
    let next = match action {
        Action::Proceed => NextAction::Proceed,
        Action::AwaitUser if fields.questions.is_empty() => {
            NextAction::AwaitUser(vec![GENERIC_QUESTION.to_owned()])
        }
        Action::AwaitUser => NextAction::AwaitUser(fields.questions),
        Action::Retry => NextAction::Retry(
            fields
                .retry_reason
                .unwrap_or_else(|| GENERIC_RETRY_REASON.to_owned()),
        ),
        Action::SkipNext if fields.skip_stages.is_empty() => match context.following_stages.first()
        {
            Some(next) => NextAction::Skip(vec![next.clone()]),
            None => NextAction::Proceed,
        },
        Action::SkipNext => {
            if let Some(unknown) = fields
                .skip_stages
                .iter()
                .find(|stage| !context.following_stages.contains(stage))
            {
                return invalid(if context.following_stages.is_empty() {
                    format!(
                        "`skipStages` names `{unknown}`, but no stage follows `{}`",
                        context.stage_id
                    )
                } else {
                    format!(
                        "`skipStages` names `{unknown}`, which does not follow `{}`; the stages \
                         that follow are {}",
                        context.stage_id,
                        context
                            .following_stages
                            .iter()
                            .map(|stage| format!("`{stage}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
            }
            NextAction::Skip(fields.skip_stages)
        }
    };
    Ok(StageSignals {
        action: next,
        complexity: fields.complexity,
        uncertainties: fields.uncertainties,
        explicit: true,
    })
}

/// The 1-based text line where key `name` of the `signals:` mapping is written: its own line in
/// block style, the line that mentions it in flow style, else the `signals:` line.
fn key_line(block: &Block<'_>, name: &str) -> u32 {
    let section_end = block.lines[block.signals_at + 1..]
        .iter()
        .position(|line| {
            let starts_unindented = line.chars().next().is_some_and(|c| !c.is_whitespace());
            starts_unindented && !line.starts_with('#')
        })
        .map_or(block.lines.len(), |offset| block.signals_at + 1 + offset);
    let section = block.signals_at..section_end;
    let as_key = section.clone().find(|&index| {
        let trimmed = block.lines[index].trim_start();
        let trimmed = trimmed.strip_prefix("- ").unwrap_or(trimmed).trim_start();
        key_rest(trimmed, name).is_some()
    });
    let mentioned = || {
        section
            .clone()
            .find(|&index| block.lines[index].contains(name))
    };
    block.text_line(as_key.or_else(mentioned).unwrap_or(block.signals_at))
}

/// Reads one of `accepted` (compared ignoring case, `-` and `_`); `None` for null.
fn enum_value(value: &Value, name: &str, accepted: &[&str]) -> Result<Option<usize>, String> {
    let list = || accepted.join(", ");
    let text = match value {
        Value::Null => return Ok(None),
        Value::String(text) => text,
        other => {
            return Err(format!(
                "`{name}` must be one of {}, not {}",
                list(),
                describe(other)
            ));
        }
    };
    let fold = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let folded = fold(text.trim());
    accepted
        .iter()
        .position(|candidate| fold(candidate) == folded)
        .map(Some)
        .ok_or_else(|| format!("`{name}: {text}` is not accepted; use one of {}", list()))
}

/// Reads a list of strings or one string; null and blank entries give nothing.
fn string_list(value: &Value, name: &str) -> Result<Vec<String>, String> {
    let items: Vec<&Value> = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Sequence(items) => items.iter().collect(),
        single => vec![single],
    };
    let mut strings = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::String(text) if text.trim().is_empty() => {}
            Value::String(text) => strings.push(text.trim().to_owned()),
            other => {
                return Err(format!(
                    "`{name}` must be a string or a list of strings; it holds {}",
                    describe(other)
                ));
            }
        }
    }
    Ok(strings)
}

/// A YAML value for an error message.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing".to_owned(),
        Value::Bool(flag) => format!("`{flag}`"),
        Value::Number(number) => format!("the number `{number}`"),
        Value::String(text) => format!("the text `{text}`"),
        Value::Sequence(_) => "a list".to_owned(),
        Value::Mapping(_) => "a mapping".to_owned(),
        Value::Tagged(tagged) => format!("a value tagged `{}`", tagged.tag),
    }
}

#[cfg(test)]
mod tests;
