//! Interactive mode: reading Claude Code's TUI and typing into it.
//!
//! Claude Code sets the window title to `✳ Claude Code` while it waits (for the next prompt or on
//! a dialog) and to a spinner glyph followed by `Claude Code` while it works. Dialogs end with
//! "Enter to confirm · Esc to cancel"; a tool permission prompt lists "1. Yes / 2. Yes, allow all
//! edits during this session / 3. No". The host renders the terminal (a `vt100` screen) and
//! passes its text and title here.

use codecafe_sdk::ScreenState;

/// The glyph Claude Code puts in the title while it waits.
const IDLE_GLYPH: &str = "✳";

/// The name in the title.
const TITLE_NAME: &str = "Claude Code";

/// Longest question reported from a screen, in bytes.
const MAX_QUESTION: usize = 500;

/// The agent's state from its rendered screen and window title.
pub(crate) fn check(screen: &str, title: &str) -> ScreenState {
    let title_state = title_state(title);
    if title_state == Some(TitleState::Busy) {
        return ScreenState::Busy;
    }
    let lines: Vec<&str> = screen.lines().collect();
    if let Some(question) = permission_prompt(&lines).or_else(|| dialog(&lines)) {
        return ScreenState::WaitingForInput(question);
    }
    match title_state {
        Some(TitleState::Idle) => ScreenState::Idle,
        // Without a title the screen alone cannot tell a prompt from work in progress.
        _ => ScreenState::Busy,
    }
}

/// Bytes that type `text` into the TUI and submit it: the text and a carriage return in one
/// write; text with line breaks goes in as a bracketed paste so each break does not submit.
pub(crate) fn typed_input(text: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(text.len() + 16);
    if text.contains('\n') {
        bytes.extend_from_slice(b"\x1b[200~");
        bytes.extend_from_slice(text.as_bytes());
        bytes.extend_from_slice(b"\x1b[201~");
    } else {
        bytes.extend_from_slice(text.as_bytes());
    }
    bytes.push(b'\r');
    bytes
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TitleState {
    Idle,
    Busy,
}

/// What the title says, when it is Claude Code's.
fn title_state(title: &str) -> Option<TitleState> {
    let glyph = title.trim().strip_suffix(TITLE_NAME)?.trim();
    if glyph.is_empty() || glyph == IDLE_GLYPH {
        Some(TitleState::Idle)
    } else {
        Some(TitleState::Busy)
    }
}

/// A line without the frame and selection marks around it.
fn bare(line: &str) -> &str {
    line.trim_matches(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '│' | '┃' | '║' | '|' | '❯' | '›' | '>' | '╭' | '╰' | '╮' | '╯'
            )
    })
}

/// True for a numbered option line such as `1. Yes`.
fn is_option(line: &str) -> bool {
    let bare = bare(line);
    let digits = bare.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && bare[digits..].starts_with(". ")
}

/// The question of a tool permission prompt ("1. Yes" followed by more options).
fn permission_prompt(lines: &[&str]) -> Option<String> {
    let yes = lines
        .iter()
        .rposition(|line| bare(line).starts_with("1. Yes"))?;
    let more_options = lines[yes + 1..].iter().take(4).any(|line| is_option(line));
    if !more_options {
        return None;
    }
    Some(question_above(lines, yes).unwrap_or_else(|| "Claude Code asks for permission".to_owned()))
}

/// The question of a dialog that ends with "Enter to confirm".
fn dialog(lines: &[&str]) -> Option<String> {
    let footer = lines
        .iter()
        .rposition(|line| line.contains("Enter to confirm"))?;
    Some(question_above(lines, footer).unwrap_or_else(|| "Claude Code shows a dialog".to_owned()))
}

/// The dialog's question above line `at`: the nearest line ending in `?` within a few lines,
/// else the nearest line of text that is not an option.
fn question_above(lines: &[&str], at: usize) -> Option<String> {
    let candidates: Vec<&str> = lines[..at]
        .iter()
        .rev()
        .map(|line| bare(line))
        .filter(|line| {
            !line.is_empty() && !is_option(line) && line.chars().any(char::is_alphanumeric)
        })
        .take(6)
        .collect();
    let question = candidates
        .iter()
        .find(|line| line.ends_with('?'))
        .or(candidates.first())?;
    Some(codecafe_sdk::json::truncate(question, MAX_QUESTION))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERMISSION: &str = "\
╭──────────────────────────────────────────────╮
│ Create file                                  │
│ notes.txt                                    │
│                                              │
│ Do you want to create notes.txt?             │
│ ❯ 1. Yes                                     │
│   2. Yes, allow all edits during this session│
│   3. No, and tell Claude what to do          │
╰──────────────────────────────────────────────╯";

    #[test]
    fn the_idle_title_means_idle() {
        assert_eq!(check("> \n", "✳ Claude Code"), ScreenState::Idle);
    }

    #[test]
    fn a_spinner_title_means_busy() {
        for title in ["⠂ Claude Code", "⠐ Claude Code", "✶ Claude Code"] {
            assert_eq!(check("Working…", title), ScreenState::Busy, "{title}");
        }
        // Even with an old prompt still on screen, the spinner wins.
        assert_eq!(check(PERMISSION, "⠂ Claude Code"), ScreenState::Busy);
    }

    #[test]
    fn a_permission_prompt_is_waiting_with_its_question() {
        assert_eq!(
            check(PERMISSION, "✳ Claude Code"),
            ScreenState::WaitingForInput("Do you want to create notes.txt?".to_owned())
        );
        // Without a title the prompt still reads as waiting.
        assert_eq!(
            check(PERMISSION, ""),
            ScreenState::WaitingForInput("Do you want to create notes.txt?".to_owned())
        );
    }

    #[test]
    fn a_dialog_is_waiting_with_its_question() {
        let screen = "\
 Do you trust the files in this folder?

 /work/tree

 ❯ 1. Yes, proceed
   2. No, exit

 Enter to confirm · Esc to cancel";
        assert_eq!(
            check(screen, "✳ Claude Code"),
            ScreenState::WaitingForInput("Do you trust the files in this folder?".to_owned())
        );
    }

    #[test]
    fn a_numbered_list_in_the_answer_is_not_a_prompt() {
        let screen = "● Options:\n  1. Yes, cache it\n  Anything else?\n\n> ";
        assert_eq!(check(screen, "✳ Claude Code"), ScreenState::Idle);
    }

    #[test]
    fn an_unknown_title_keeps_waiting_for_more() {
        assert_eq!(check("", ""), ScreenState::Busy);
        assert_eq!(check("> ", "my terminal"), ScreenState::Busy);
    }

    #[test]
    fn typing_submits_with_a_carriage_return() {
        assert_eq!(typed_input("yes"), b"yes\r");
        assert_eq!(typed_input("a\nb"), b"\x1b[200~a\nb\x1b[201~\r");
    }
}
