//! `codecafe`: the command-line front end. Parses arguments, calls the library crates, prints.
//!
//! Exit codes: 0 success (for `run` / `order run`: the order completed); 1 an error (the message
//! says what to do) or a failed order; 2 bad usage (from clap); 3 the order awaits input (`run`,
//! `order run`); 4 the order was cancelled.

mod cafe_cmd;
mod context;
mod control_cmd;
mod demo_cmd;
mod order_cmd;
mod output;
mod paths;
mod plugin_cmd;
mod profile_cmd;
mod progress;
mod recipe_cmd;
mod role_cmd;
mod run_cmd;
mod skill_cmd;

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
    /// Register the repository (default: the current one) as a cafe and create its `.orch/`.
    Init {
        /// The repository, or any directory inside it.
        path: Option<std::path::PathBuf>,
        /// A name instead of the one from the `origin` remote or the directory.
        #[arg(long)]
        name: Option<String>,
    },
    /// Create an order and run it in the foreground (exit 0 completed, 1 failed, 3 awaiting
    /// input, 4 cancelled).
    Run(run_cmd::RunArgs),
    /// Run a complete order offline, no agent account needed: a scratch repository, a
    /// two-stage recipe of shell commands (the `command` provider), its own worktree.
    Demo(demo_cmd::DemoArgs),
    /// Orders: a recipe run on its own branch and worktree.
    #[command(subcommand)]
    Order(order_cmd::OrderCommand),
    /// The orders that are running or waiting for input.
    Status(control_cmd::StatusArgs),
    /// Registered repositories (cafes) and their settings.
    #[command(subcommand)]
    Cafe(cafe_cmd::CafeCommand),
    /// Print a shell completion script (e.g. `codecafe completions bash > ~/.local/share/bash-completion/completions/codecafe`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Provider and signal-parser plugins (WebAssembly components).
    #[command(subcommand)]
    Plugin(plugin_cmd::PluginCommand),
    /// Recipes: the stages an order runs (built-ins and the cafe's `.orch/workflows/`).
    Recipe(recipe_cmd::RecipeArgs),
    /// Skills: instruction snippets stages put into their prompts (built-ins and `.orch/skills/`).
    Skill(skill_cmd::SkillArgs),
    /// Roles: prompt templates for a kind of work (built-ins and `.orch/roles/`).
    Role(role_cmd::RoleArgs),
    /// Profiles: which provider (and model, and options) plays each role.
    #[command(subcommand)]
    Profile(profile_cmd::ProfileCommand),
    /// Choose the provider (and model, options) for a role in a profile.
    Assign(profile_cmd::AssignArgs),
}

fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = Cli::parse();
    let runs_agents = match &cli.command {
        Command::Run(args) => args.runs_agents(),
        Command::Demo(_) => true,
        Command::Order(order_cmd::OrderCommand::Followup(args)) => args.runs_agents(),
        Command::Order(order_cmd::OrderCommand::Run(args)) => args.runs_agents(),
        Command::Order(
            order_cmd::OrderCommand::Input(_)
            | order_cmd::OrderCommand::Retry(_)
            | order_cmd::OrderCommand::Resume(_),
        ) => true,
        _ => false,
    };
    if runs_agents {
        ignore_sigpipe();
        cancel_on_ctrl_c();
    }
    init_logging(cli.verbose);
    let result = context::Context::new().and_then(|ctx| match cli.command {
        Command::Plugin(command) => plugin_cmd::run(command, &ctx),
        Command::Recipe(args) => recipe_cmd::run(args, &ctx),
        Command::Skill(args) => skill_cmd::run(args, &ctx),
        Command::Role(args) => role_cmd::run(args, &ctx),
        Command::Profile(command) => profile_cmd::run(command, &ctx),
        Command::Assign(args) => profile_cmd::assign(args, &ctx),
        Command::Init { path, name } => cafe_cmd::init(&ctx, path.as_deref(), name),
        Command::Cafe(command) => cafe_cmd::run(command, &ctx),
        Command::Order(command) => order_cmd::run(command, &ctx),
        Command::Run(args) => run_cmd::run(&ctx, &args),
        Command::Demo(args) => demo_cmd::run(&ctx, &args),
        Command::Status(args) => {
            order_cmd::open_store(&ctx).and_then(|store| control_cmd::status(&store, &args))
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "codecafe",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Lets `codecafe … | head` end quietly, as command-line tools do, instead of panicking on the
/// first write to a closed pipe (Rust ignores SIGPIPE by default).
fn restore_default_sigpipe() {
    // SAFETY: called first thing in `main`, before any thread exists; setting the disposition
    // of SIGPIPE to its default touches no memory of ours.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// A process that runs agents writes prompts to their standard input, which an agent may
/// close without reading; that must be an error on that write (`EPIPE`), not the death of
/// codecafe. Run commands print with errors ignored instead.
fn ignore_sigpipe() {
    // SAFETY: called from `main` before any thread is started; setting the disposition of
    // SIGPIPE touches no memory of ours.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// Ctrl-C during a foreground run cancels the order cleanly (agents' process groups killed,
/// leases returned, the order recorded cancelled; exit code 4) instead of killing codecafe and
/// leaving the agents running in their own process groups.
fn cancel_on_ctrl_c() {
    extern "C" fn on_sigint(_: libc::c_int) {
        // Only an atomic store: async-signal-safe.
        run_cmd::INTERRUPTED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    // SAFETY: called from `main` before any thread is started; the handler only stores to an
    // atomic, which is async-signal-safe.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
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
