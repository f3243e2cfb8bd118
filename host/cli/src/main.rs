//! `codecafe`: the command-line front end. Each subcommand parses its arguments, makes one call
//! to the service library (`codecafe-service`) and prints the result.
//!
//! Exit codes: 0 success (for `run` / `order run|input|retry|resume`: the order completed;
//! `order followup`: the follow-up completed); 1 an error (the message says what to do) or a
//! failed order; 2 bad usage (from clap); 3 the order awaits input; 4 the order was cancelled;
//! 5 not ready: a provider the run needs (its CLI, version, login), the repository or the
//! machine is not ready, so nothing was created or started — the message lists each problem
//! with its fix (with `--json`, also `{"error": …, "problems": […]}` on stdout), and `codecafe
//! doctor` exits 5 when it finds a problem; 128 + the signal when SIGTERM (143) or SIGHUP (129)
//! stopped a run: its agents were stopped and `order resume` continues it.

mod approve_cmd;
mod attach_cmd;
mod cafe_cmd;
mod config_cmd;
mod control_cmd;
mod demo_cmd;
mod doctor_cmd;
mod order_cmd;
mod output;
mod plugin_cmd;
mod printer;
mod profile_cmd;
mod progress;
mod recipe_cmd;
mod role_cmd;
mod run_cmd;
mod serve_cmd;
mod skill_cmd;
mod trust_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use codecafe_service::{CancelToken, Service, doctor};

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
    /// Is everything ready for a real run: agent CLIs, versions, logins, sandbox, git, trust.
    Doctor(doctor_cmd::DoctorArgs),
    /// Trust this repository's `.orch/` content that can run programs (plugins, command
    /// stages, …), pinned by its content hash; `--list`, `--revoke`.
    Trust(trust_cmd::TrustArgs),
    /// Orders: a recipe run on its own branch and worktree.
    #[command(subcommand)]
    Order(order_cmd::OrderCommand),
    /// The orders that run, wait or are queued, and the agents running on this machine.
    Status(control_cmd::StatusArgs),
    /// Machine-wide settings: `pool.max`, `pool.provider.<id>` (agents running at once).
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
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
    /// The local API and web view on 127.0.0.1: prints the URL to open (with its token);
    /// SIGINT or SIGTERM stop it, leaving the orders it runs resumable.
    Serve(serve_cmd::ServeArgs),
}

/// About how long compiling the built-in plugins takes (measured on two busy cores: 2.3 s in
/// a release build, 30 s in a debug one).
const COMPILE_ESTIMATE: &str = if cfg!(debug_assertions) {
    "~30 s in a debug build"
} else {
    "~3 s"
};

impl Command {
    /// Whether this invocation loads the plugins (the first one in a data directory compiles
    /// the built-ins).
    fn loads_plugins(&self) -> bool {
        use order_cmd::OrderCommand as O;
        matches!(
            self,
            Self::Run(_)
                | Self::Demo(_)
                | Self::Doctor(_)
                | Self::Plugin(_)
                | Self::Order(
                    O::New(_)
                        | O::Run(_)
                        | O::Input(_)
                        | O::Retry(_)
                        | O::Resume(_)
                        | O::Followup(_)
                )
        )
    }

    /// Whether this invocation starts agents (then signals cancel or stop them cleanly).
    fn runs_agents(&self) -> bool {
        use order_cmd::OrderCommand as O;
        match self {
            Self::Run(args) => args.runs_agents(),
            Self::Demo(_) => true,
            Self::Order(O::Followup(args)) => args.runs_agents(),
            Self::Order(O::Run(args)) => args.runs_agents(),
            Self::Order(O::Input(_) | O::Retry(_) | O::Resume(_) | O::Logs(_)) => true,
            _ => false,
        }
    }
}

fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = Cli::parse();
    let token = CancelToken::new();
    if cli.command.runs_agents() {
        ignore_sigpipe();
        if let Err(err) = cancel_on_signals(&token) {
            eprintln!("warning: cannot handle Ctrl-C and SIGTERM ({err}); they will kill codecafe");
        }
    } else if matches!(cli.command, Command::Serve(_)) {
        // The server runs agents too, and handles its signals itself (stopping, not cancelling).
        ignore_sigpipe();
    }
    init_logging(cli.verbose);
    let json = json_asked();
    let result = Service::open()
        .map_err(anyhow::Error::from)
        .and_then(|service| {
            if cli.command.loads_plugins() && doctor::builtins_need_compiling(&service) {
                // Seconds of silence on a first start would look like a hang.
                eprintln!("compiling the built-in plugins (first run only, {COMPILE_ESTIMATE})…");
            }
            dispatch(cli.command, &service, &token)
        });
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            match printer::not_ready(&err) {
                Some(problems) => {
                    if json {
                        printer::print_not_ready_json(&err, problems);
                    }
                    ExitCode::from(printer::EXIT_NOT_READY)
                }
                // An untrusted repository is not ready either: nothing was created.
                None if printer::untrusted(&err) => {
                    if json {
                        printer::print_not_ready_json(&err, &[]);
                    }
                    ExitCode::from(printer::EXIT_NOT_READY)
                }
                None => ExitCode::FAILURE,
            }
        }
    }
}

/// Whether `--json` was given (before any `--`: after it, it would be a prompt's text).
fn json_asked() -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|arg| arg != "--")
        .any(|arg| arg == "--json")
}

fn dispatch(command: Command, service: &Service, token: &CancelToken) -> anyhow::Result<ExitCode> {
    match command {
        Command::Plugin(command) => plugin_cmd::run(command, service),
        Command::Recipe(args) => recipe_cmd::run(args, service),
        Command::Skill(args) => skill_cmd::run(args, service),
        Command::Role(args) => role_cmd::run(args, service),
        Command::Profile(command) => profile_cmd::run(command, service),
        Command::Assign(args) => profile_cmd::assign(args, service),
        Command::Init { path, name } => cafe_cmd::init(service, path.as_deref(), name),
        Command::Cafe(command) => cafe_cmd::run(command, service),
        Command::Order(command) => order_cmd::run(command, service, token),
        Command::Run(args) => run_cmd::run(service, &args, token),
        Command::Demo(args) => demo_cmd::run(service, &args, token),
        Command::Status(args) => control_cmd::status(service, &args),
        Command::Config(command) => config_cmd::run(command, service),
        Command::Doctor(args) => doctor_cmd::run(&args, service),
        Command::Trust(args) => trust_cmd::run(&args, service),
        Command::Serve(args) => serve_cmd::run(service, &args),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "codecafe",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Ctrl-C cancels the foreground order cleanly (agents' process groups killed, slots returned,
/// the order recorded cancelled; exit 4). SIGTERM and SIGHUP stop it: the agents are killed the
/// same way, the order stays resumable (`order resume`), and codecafe exits 128 + the signal.
/// The handlers only set the token's atomics (async-signal-safe).
fn cancel_on_signals(token: &CancelToken) -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    signal_hook::flag::register(SIGINT, token.cancel_flag())?;
    for signal in [SIGTERM, SIGHUP] {
        let code = usize::try_from(signal).unwrap_or(15);
        signal_hook::flag::register_usize(signal, token.stop_flag(), code)?;
    }
    Ok(())
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
