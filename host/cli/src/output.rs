//! Printing: tables, JSON, and colour only where it belongs.
//!
//! Colour is used only when stdout is a terminal and `NO_COLOR` is unset (or empty), following
//! <https://no-color.org>.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

/// True when colour may be written to stdout.
pub fn color_enabled() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stdout().is_terminal()
}

/// `text` in bold when colour is enabled.
pub fn bold(text: &str) -> String {
    if color_enabled() {
        format!("\x1b[1m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// `text` dimmed when colour is enabled.
pub fn dim(text: &str) -> String {
    if color_enabled() {
        format!("\x1b[2m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// Prints a value as pretty JSON.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Prints `value` as JSON when `json`, else with `human`; success.
pub fn emit<T: Serialize + ?Sized>(
    json: bool,
    value: &T,
    human: impl FnOnce(&T),
) -> Result<ExitCode> {
    if json {
        print_json(value)?;
    } else {
        human(value);
    }
    Ok(ExitCode::SUCCESS)
}

/// Success when `ok`, else failure (exit 1).
pub fn exit_code(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `text`, or `-` when it is empty.
pub fn or_dash(text: String) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        text
    }
}

/// Prints `rows` as aligned columns under `header` (bold on a terminal).
pub fn table<const N: usize>(header: [&str; N], rows: impl IntoIterator<Item = [String; N]>) {
    let mut all = vec![header.map(str::to_owned)];
    all.extend(rows);
    print_table(&all);
}

/// Prints rows as aligned columns; the first row is the header (bold on a terminal).
pub fn print_table<const N: usize>(rows: &[[String; N]]) {
    let mut widths = [0usize; N];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for (index, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        let line = line.join("  ");
        let line = line.trim_end();
        if index == 0 {
            println!("{}", bold(line));
        } else {
            println!("{line}");
        }
    }
}
