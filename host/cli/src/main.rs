//! `codecafe`: the command-line front end. Parses arguments, calls the library crates, prints.
//!
//! Exit codes: 0 success; 1 an error (the message says what to do); 2 bad usage (from clap).

mod context;
mod output;
mod paths;
mod plugin_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Run AI coding agents through multi-stage recipes, each job on its own git worktree.
#[derive(Debug, Parser)]
#[command(name = "codecafe", version, about, propagate_version = true)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); `RUST_LOG` also works.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Provider and signal-parser plugins (WebAssembly components).
    #[command(subcommand)]
    Plugin(plugin_cmd::PluginCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = context::Context::new().and_then(|ctx| match cli.command {
        Command::Plugin(command) => plugin_cmd::run(command, &ctx),
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}
