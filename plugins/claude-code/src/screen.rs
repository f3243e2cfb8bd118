//! Interactive mode: reading Claude Code's TUI and typing into it.
//!
//! Measured with 2.1.197 and 2.1.332 in a 120x40 pseudo-terminal (the recordings are in
//! `tests/screens/<version>/`):
//!
//! - **Title** (OSC 0): `✳ <name>` while Claude Code waits (for the next prompt *and* on a
//!   dialog), a spinner glyph and the name while it works (`◐`/`◑` on 2.1.332, braille dots on
//!   2.1.197). The name is `Claude Code` until a session title was generated (2.1.197 then shows
//!   the title, e.g. `✳ Fix the login bug`). The folder-trust dialog comes before any title.
//! - **Dialogs** replace the prompt box at the bottom: a full-width rule (`───`), a heading, the
//!   body, the question, options, and a footer with `Esc to cancel` (the folder-trust dialog:
//!   `Enter to confirm · Esc to cancel`; a permission dialog: `Esc to cancel · Tab to amend`).
//!   The highlighted option carries `❯`.
//! - **Folder trust**: 2.1.332 lists ` ❯ No, exit` (highlighted, so Enter alone exits) above
//!   `Yes, I trust this folder`; 2.1.197 numbers them the other way round (`1. Yes, I trust this
//!   folder` highlighted). The keys move the highlight to the "Yes" option, then press Enter.
//! - **Permission**: numbered options, `1. Yes` first and `No` last (Write/Edit: 3 options;
//!   Bash: 3 on 2.1.197, 4 on 2.1.332 with "switch to auto mode"). A digit picks its option at
//!   once. Picking "No" (or Esc) rejects the call **and ends the turn** (the transcript gets
//!   `[Request interrupted by user for tool use]`, the TUI waits for the user). Moving to "No",
//!   pressing Tab ("amend"), typing a reason and Enter rejects the call with that reason and
//!   **the turn goes on** (the model reads "the user said: <reason>"), so that is the decline
//!   offered here when the footer offers `Tab to amend`.
//!
//! The host renders the terminal (a `vt100` screen) and passes its text and title here.

use codecafe_sdk::{DialogKind, ScreenDialog, ScreenState};
use serde_json::json;

/// The glyph Claude Code puts in the title while it waits.
const IDLE_GLYPH: char = '✳';

/// The name in the title before a session title exists.
const TITLE_NAME: &str = "Claude Code";

/// Longest question reported from a screen, in bytes.
const MAX_QUESTION: usize = 500;

/// Arrow keys.
const DOWN: &[u8] = b"\x1b[B";
const UP: &[u8] = b"\x1b[A";
const ENTER: &[u8] = b"\r";
const ESC: &[u8] = b"\x1b";
const TAB: &[u8] = b"\t";

/// The reason typed when a permission dialog is declined with "Tab to amend".
pub(crate) const DECLINE_REASON: &str =
    "No. The user declined this tool call; continue without it.";

/// Longest text typed as plain keystrokes; longer text goes in as a bracketed paste (a long
/// burst of plain keys is taken for a paste and its final Enter does not submit).
const MAX_TYPED: usize = 100;

/// The agent's state from its rendered screen and window title.
pub(crate) fn check(screen: &str, title: &str) -> ScreenState {
    let title_state = title_state(title);
    if title_state == Some(TitleState::Busy) {
        return ScreenState::Busy;
    }
    let lines: Vec<&str> = screen.lines().collect();
    if let Some(dialog) = dialog(&lines) {
        return ScreenState::Dialog(dialog);
    }
    match title_state {
        Some(TitleState::Idle) => ScreenState::Idle,
        // Without a title the screen alone cannot tell a prompt from work in progress.
        _ => ScreenState::Busy,
    }
}

/// Bytes that type `text` into the TUI and submit it, as one write (measured on 2.1.332: a
/// short line plus `\r` submits; a bracketed paste plus `\r` in the same write submits too, also
/// for 60 lines / 3 KB; 2 KB of plain keys plus `\r` did **not** submit — the burst is taken for
/// a paste). One short line goes in as keystrokes, anything else as a bracketed paste. Control
/// characters other than line breaks and tabs are dropped so the text cannot end the paste or
/// press keys.
pub(crate) fn typed_input(text: &str) -> Vec<u8> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let clean: String = text
        .trim_end_matches('\n')
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect();
    let mut bytes = Vec::with_capacity(clean.len() + 16);
    if clean.contains(['\n', '\t']) || clean.len() > MAX_TYPED {
        bytes.extend_from_slice(b"\x1b[200~");
        bytes.extend_from_slice(clean.as_bytes());
        bytes.extend_from_slice(b"\x1b[201~");
    } else {
        bytes.extend_from_slice(clean.as_bytes());
    }
    bytes.push(b'\r');
    bytes
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TitleState {
    Idle,
    Busy,
}

/// What the title says: `✳ <name>` idle, `<spinner> <name>` busy, `Claude Code` alone idle.
fn title_state(title: &str) -> Option<TitleState> {
    let title = title.trim();
    if title == TITLE_NAME {
        return Some(TitleState::Idle);
    }
    let mut chars = title.chars();
    let glyph = chars.next()?;
    if !chars.next().is_some_and(char::is_whitespace) {
        return None;
    }
    if glyph == IDLE_GLYPH {
        Some(TitleState::Idle)
    } else if is_spinner(glyph) {
        Some(TitleState::Busy)
    } else {
        None
    }
}

/// The glyphs Claude Code's spinners use in the title.
fn is_spinner(glyph: char) -> bool {
    matches!(glyph, '\u{2800}'..='\u{28ff}' | '\u{25d0}'..='\u{25d3}')
        || matches!(
            glyph,
            '✶' | '✻' | '✽' | '✢' | '·' | '*' | '◴' | '◵' | '◶' | '◷'
        )
}

/// One option of a dialog.
#[derive(Debug)]
struct Choice {
    /// Its digit, when numbered.
    number: Option<u32>,
    /// Its text without number and marks.
    text: String,
    highlighted: bool,
}

/// A dialog at the bottom of the screen: options above a footer with "Esc to cancel".
fn dialog(lines: &[&str]) -> Option<ScreenDialog> {
    let filled: Vec<usize> = (0..lines.len())
        .filter(|i| !lines[*i].trim().is_empty())
        .collect();
    // The footer is one of the last lines on screen (an older one in the scrollback is history).
    let footer = filled
        .iter()
        .rev()
        .take(3)
        .copied()
        .find(|i| lines[*i].contains("Esc to cancel"))?;
    let footer_text = lines[footer];
    let (first_option, choices) = choices(lines, footer)?;
    let top = lines[..first_option]
        .iter()
        .rposition(|line| is_rule(line))
        .map_or(0, |i| i + 1);
    let body: Vec<&str> = lines[top..first_option]
        .iter()
        .map(|line| line.trim_end())
        .filter(|line| !line.trim().is_empty())
        .collect();
    let question = question(&body);
    let highlighted = choices.iter().position(|c| c.highlighted).unwrap_or(0);
    let is_trust = choices
        .iter()
        .any(|c| c.text.to_lowercase().contains("trust this folder"))
        || body.iter().any(|line| line.contains("Accessing workspace"));
    if is_trust {
        let yes = choices
            .iter()
            .position(|c| c.text.starts_with("Yes"))
            .unwrap_or(highlighted);
        let mut accept = moves(highlighted, yes);
        accept.push(ENTER.to_vec());
        return Some(ScreenDialog {
            kind: DialogKind::FolderTrust,
            question,
            tool: None,
            input: "{}".to_owned(),
            accept,
            accept_always: None,
            decline: vec![ESC.to_vec()],
        });
    }
    let yes = choices
        .iter()
        .position(|c| c.number.is_some() && (c.text == "Yes" || c.text.starts_with("Yes,")));
    let no = choices
        .iter()
        .rposition(|c| c.number.is_some() && (c.text == "No" || c.text.starts_with("No,")));
    if let (Some(yes), Some(no)) = (yes, no) {
        let (tool, input) = tool_and_input(lines, top, &body);
        let key = |index: usize| -> Vec<Vec<u8>> {
            let digit = choices[index].number.unwrap_or(1);
            vec![digit.to_string().into_bytes()]
        };
        // "Always" only when it lasts for this session; Bash's "always allow ... from this
        // project" writes a rule into the worktree's `.claude/settings.local.json`, and "switch
        // to auto mode" hands every later decision to Claude Code.
        let always = choices.iter().enumerate().position(|(i, c)| {
            i != yes && i != no && c.text.starts_with("Yes") && c.text.contains("this session")
        });
        let decline = if footer_text.contains("Tab to amend") {
            let mut keys = moves(highlighted, no);
            keys.push(TAB.to_vec());
            keys.push(DECLINE_REASON.as_bytes().to_vec());
            keys.push(ENTER.to_vec());
            keys
        } else {
            key(no)
        };
        return Some(ScreenDialog {
            kind: DialogKind::Permission,
            question,
            tool,
            input,
            accept: key(yes),
            accept_always: always.map(key),
            decline,
        });
    }
    Some(ScreenDialog {
        kind: DialogKind::Question,
        question,
        tool: None,
        input: "{}".to_owned(),
        accept: vec![ENTER.to_vec()],
        accept_always: None,
        decline: vec![ESC.to_vec()],
    })
}

/// The options directly above the footer (blank lines skipped), top first, with the index of
/// the first one's line. Numbered options may wrap; their continuation lines are joined.
fn choices(lines: &[&str], footer: usize) -> Option<(usize, Vec<Choice>)> {
    let mut found: Vec<(usize, &str)> = Vec::new();
    for i in (0..footer).rev() {
        let line = lines[i];
        if line.trim().is_empty() {
            continue;
        }
        let marked = line.trim_start().starts_with('❯');
        let indented = line.starts_with("   ") && !line.trim_start().starts_with(['╌', '─']);
        if marked || indented {
            found.push((i, line));
        } else {
            break;
        }
    }
    found.reverse();
    let first = found.first()?.0;
    let numbered = found.iter().any(|(_, line)| number(line).is_some());
    let mut choices: Vec<Choice> = Vec::new();
    let mut first_option = first;
    for (i, line) in found {
        let highlighted = line.trim_start().starts_with('❯');
        let text = line.trim().trim_start_matches('❯').trim();
        match number(line) {
            Some((n, rest)) => choices.push(Choice {
                number: Some(n),
                text: rest.to_owned(),
                highlighted,
            }),
            None if numbered => match choices.last_mut() {
                Some(previous) => {
                    previous.text.push(' ');
                    previous.text.push_str(text);
                }
                // Indented lines above the first numbered option belong to the body.
                None => first_option = i + 1,
            },
            None => choices.push(Choice {
                number: None,
                text: text.to_owned(),
                highlighted,
            }),
        }
    }
    (!choices.is_empty()).then_some((first_option, choices))
}

/// `1. Yes` → (1, "Yes").
fn number(line: &str) -> Option<(u32, &str)> {
    let bare = line.trim().trim_start_matches('❯').trim_start();
    let digits = bare.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 2 {
        return None;
    }
    let rest = bare[digits..].strip_prefix(". ")?;
    Some((bare[..digits].parse().ok()?, rest.trim()))
}

/// A full-width rule: the line above a dialog.
fn is_rule(line: &str) -> bool {
    let line = line.trim();
    line.chars().count() >= 20 && line.chars().all(|c| c == '─')
}

/// A dashed rule around a diff or a command.
fn is_dashed(line: &str) -> bool {
    let line = line.trim();
    !line.is_empty() && line.chars().all(|c| c == '╌')
}

/// Keys that move the highlight from option `from` to option `to`.
fn moves(from: usize, to: usize) -> Vec<Vec<u8>> {
    let key = if to >= from { DOWN } else { UP };
    vec![key.to_vec(); from.abs_diff(to)]
}

/// The dialog's question: the last body line with a `?` (up to it), else its last line.
fn question(body: &[&str]) -> String {
    let text = body
        .iter()
        .rev()
        .map(|line| line.trim())
        .find_map(|line| line.find('?').map(|at| &line[..=at]))
        .or_else(|| body.last().map(|line| line.trim()))
        .unwrap_or("Claude Code shows a dialog");
    codecafe_sdk::json::truncate(text, MAX_QUESTION)
}

/// The tool and what it acts on, from the dialog's heading and body, else from the tool-call
/// line (`● Write(hello.txt)`) above the dialog.
fn tool_and_input(lines: &[&str], top: usize, body: &[&str]) -> (Option<String>, String) {
    let heading = body.first().map_or("", |line| line.trim());
    let rest = body.get(1..).unwrap_or_default();
    let first_line = rest
        .iter()
        .map(|line| line.trim())
        .find(|line| !is_dashed(line))
        .unwrap_or_default();
    let file = |tool: &str| {
        (
            Some(tool.to_owned()),
            json!({ "file_path": first_line }).to_string(),
        )
    };
    match heading {
        "Create file" | "Overwrite file" | "Write file" => return file("Write"),
        "Edit file" | "Update file" => return file("Edit"),
        "Edit notebook" => return file("NotebookEdit"),
        "Read file" => return file("Read"),
        "Bash command" => {
            return (
                Some("Bash".to_owned()),
                json!({ "command": bash_command(rest) }).to_string(),
            );
        }
        _ => {}
    }
    // Another tool: its call line above the dialog names it.
    let call = lines[..top.saturating_sub(1)]
        .iter()
        .rev()
        .map(|line| line.trim())
        .find(|line| line.starts_with('●') && line.ends_with(')') && line.contains('('));
    let tool = call.and_then(|line| {
        let name = line.trim_start_matches('●').trim();
        let name = &name[..name.find('(')?];
        let name = match name {
            "Update" => "Edit",
            "Create" => "Write",
            other => other,
        };
        (!name.is_empty() && !name.contains(' ')).then(|| name.to_owned())
    });
    (tool, "{}".to_owned())
}

/// The command of a Bash dialog: the lines in the dashed box (2.1.332), else the first body
/// line (2.1.197 shows the command indented right under the heading, its description below).
fn bash_command(rest: &[&str]) -> String {
    let dashed: Vec<usize> = (0..rest.len()).filter(|i| is_dashed(rest[*i])).collect();
    if let [open, close, ..] = dashed[..] {
        return rest[open + 1..close]
            .iter()
            .map(|line| line.trim())
            .collect::<Vec<_>>()
            .join("\n");
    }
    rest.iter()
        .map(|line| line.trim())
        .find(|line| !line.starts_with("Tip:") && !line.ends_with('?'))
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
#[path = "screen_tests.rs"]
mod tests;
