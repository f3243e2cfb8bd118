//! `check` on screens of real Claude Code runs: raw pseudo-terminal output recorded from
//! `claude` 2.1.197 and 2.1.332 (120x40, fake model server; `tests/screens/README.md`), cut
//! at the moment of interest and rendered with `vt100` as the host does.

use super::*;

/// Renders a recording as the host does: 40 rows × 120 columns, title from OSC 0/2.
fn render(version: &str, name: &str) -> (String, String) {
    #[derive(Default)]
    struct Title(String);
    impl vt100::Callbacks for Title {
        fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
            self.0 = String::from_utf8_lossy(title).into_owned();
        }
        fn set_window_icon_name(&mut self, _: &mut vt100::Screen, name: &[u8]) {
            if self.0.is_empty() {
                self.0 = String::from_utf8_lossy(name).into_owned();
            }
        }
    }
    let path = format!(
        "{}/tests/screens/{version}/{name}.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut parser = vt100::Parser::new_with_callbacks(40, 120, 500, Title::default());
    parser.process(&bytes);
    (parser.screen().contents(), parser.callbacks().0.clone())
}

fn check_recorded(version: &str, name: &str) -> ScreenState {
    let (screen, title) = render(version, name);
    check(&screen, &title)
}

fn dialog_of(version: &str, name: &str) -> ScreenDialog {
    match check_recorded(version, name) {
        ScreenState::Dialog(dialog) => dialog,
        other => panic!("{version}/{name}: {other:?}\n{}", render(version, name).0),
    }
}

fn keys(list: &[&[u8]]) -> Vec<Vec<u8>> {
    list.iter().map(|k| k.to_vec()).collect()
}

const VERSIONS: &[&str] = &["2.1.197", "2.1.332"];

#[test]
fn the_folder_trust_dialog_is_accepted_by_moving_to_yes() {
    // 2.1.332 highlights "No, exit" first (Enter alone exits); 2.1.197 highlights "1. Yes".
    let dialog = dialog_of("2.1.332", "folder-trust");
    assert_eq!(dialog.kind, DialogKind::FolderTrust);
    assert_eq!(dialog.accept, keys(&[DOWN, ENTER]));
    assert_eq!(dialog.decline, keys(&[ESC]));
    assert_eq!(dialog.accept_always, None);
    assert!(
        dialog
            .question
            .starts_with("Quick safety check: Is this a project you created or one you trust?"),
        "{}",
        dialog.question
    );
    let dialog = dialog_of("2.1.197", "folder-trust");
    assert_eq!(dialog.kind, DialogKind::FolderTrust);
    assert_eq!(dialog.accept, keys(&[ENTER]));
}

#[test]
fn the_prompt_is_idle_and_a_spinner_is_busy() {
    for version in VERSIONS {
        assert_eq!(
            check_recorded(version, "idle"),
            ScreenState::Idle,
            "{version}"
        );
        assert_eq!(
            check_recorded(version, "busy"),
            ScreenState::Busy,
            "{version}"
        );
        assert_eq!(
            check_recorded(version, "after-decline"),
            ScreenState::Idle,
            "{version}"
        );
    }
    assert_eq!(check_recorded("2.1.332", "after-accept"), ScreenState::Idle);
}

#[test]
fn a_write_dialog_names_the_file_and_answers_with_digits() {
    for version in VERSIONS {
        let dialog = dialog_of(version, "permission-write");
        assert_eq!(dialog.kind, DialogKind::Permission, "{version}");
        assert_eq!(dialog.question, "Do you want to create hello.txt?");
        assert_eq!(dialog.tool.as_deref(), Some("Write"));
        assert_eq!(dialog.input, r#"{"file_path":"hello.txt"}"#);
        assert_eq!(dialog.accept, keys(&[b"1"]));
        assert_eq!(dialog.accept_always, Some(keys(&[b"2"])));
        // "3. No", Tab to amend, the reason, Enter: the call is refused and the turn goes on.
        assert_eq!(
            dialog.decline,
            keys(&[DOWN, DOWN, TAB, DECLINE_REASON.as_bytes(), ENTER]),
            "{version}"
        );
    }
}

#[test]
fn an_edit_dialog_is_an_edit() {
    for version in VERSIONS {
        let dialog = dialog_of(version, "permission-edit");
        assert_eq!(dialog.kind, DialogKind::Permission, "{version}");
        assert_eq!(
            dialog.question,
            "Do you want to make this edit to hello.txt?"
        );
        assert_eq!(dialog.tool.as_deref(), Some("Edit"));
        assert_eq!(dialog.input, r#"{"file_path":"hello.txt"}"#);
        assert_eq!(dialog.accept, keys(&[b"1"]));
        assert_eq!(dialog.accept_always, Some(keys(&[b"2"])));
    }
    // While the reason is typed ("3. No, and tell Claude what to do differently" highlighted,
    // no "Tab to amend" any more) it is still the same dialog.
    let dialog = dialog_of("2.1.332", "permission-edit-amend");
    assert_eq!(dialog.tool.as_deref(), Some("Edit"));
    assert_eq!(dialog.decline, keys(&[b"3"]));
}

#[test]
fn a_bash_dialog_names_the_command() {
    for (version, options) in [("2.1.197", 3), ("2.1.332", 4)] {
        let dialog = dialog_of(version, "permission-bash");
        assert_eq!(dialog.kind, DialogKind::Permission, "{version}");
        assert_eq!(dialog.question, "Do you want to proceed?");
        assert_eq!(dialog.tool.as_deref(), Some("Bash"));
        assert_eq!(
            dialog.input, r#"{"command":"echo hi > cmd.txt"}"#,
            "{version}"
        );
        assert_eq!(dialog.accept, keys(&[b"1"]));
        // "always allow access to <dir> from this project" writes a project rule: not offered.
        assert_eq!(dialog.accept_always, None);
        let mut decline = vec![DOWN.to_vec(); options - 1];
        decline.extend(keys(&[TAB, DECLINE_REASON.as_bytes(), ENTER]));
        assert_eq!(dialog.decline, decline, "{version}");
    }
}

#[test]
fn titles() {
    assert_eq!(title_state("✳ Claude Code"), Some(TitleState::Idle));
    assert_eq!(title_state("✳ Fix the login bug"), Some(TitleState::Idle));
    assert_eq!(title_state("Claude Code"), Some(TitleState::Idle));
    for busy in [
        "◐ Claude Code",
        "◑ Claude Code",
        "⠂ t",
        "⠐ Claude Code",
        "✶ Claude Code",
    ] {
        assert_eq!(title_state(busy), Some(TitleState::Busy), "{busy}");
    }
    assert_eq!(title_state(""), None);
    assert_eq!(title_state("my terminal"), None);
}

#[test]
fn a_spinner_title_wins_over_an_old_dialog() {
    let (screen, _) = render("2.1.332", "permission-write");
    assert_eq!(check(&screen, "◐ Claude Code"), ScreenState::Busy);
}

#[test]
fn another_dialog_is_a_question() {
    let screen = "\
────────────────────────────────────────────────────────────
 Select a model

 ❯ 1. Default (recommended)
   2. Sonnet
   3. Haiku

 Enter to confirm · Esc to cancel";
    let ScreenState::Dialog(dialog) = check(screen, "✳ Claude Code") else {
        panic!("not a dialog");
    };
    assert_eq!(dialog.kind, DialogKind::Question);
    assert_eq!(dialog.question, "Select a model");
    assert_eq!(dialog.accept, keys(&[ENTER]));
    assert_eq!(dialog.decline, keys(&[ESC]));
}

#[test]
fn a_numbered_list_in_the_answer_is_not_a_dialog() {
    let screen = "● Options:\n  1. Yes, cache it\n  3. No\n  Anything else?\n\n❯ \n";
    assert_eq!(check(screen, "✳ Claude Code"), ScreenState::Idle);
    assert_eq!(check("", ""), ScreenState::Busy);
}

#[test]
fn typing() {
    assert_eq!(typed_input("yes"), b"yes\r");
    assert_eq!(typed_input("yes\n"), b"yes\r");
    assert_eq!(typed_input("a\nb"), b"\x1b[200~a\nb\x1b[201~\r");
    assert_eq!(typed_input("a\r\nb"), b"\x1b[200~a\nb\x1b[201~\r");
    // Escape sequences cannot end the paste.
    assert_eq!(
        typed_input("a\n\x1b[201~b"),
        b"\x1b[200~a\n[201~b\x1b[201~\r"
    );
    let long = "word ".repeat(40);
    let typed = typed_input(&long);
    assert!(typed.starts_with(b"\x1b[200~word"));
    assert!(typed.ends_with(b"\x1b[201~\r"));
}
