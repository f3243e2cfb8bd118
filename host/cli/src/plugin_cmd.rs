//! `codecafe plugin …`: list, inspect, add, remove and check plugins.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use codecafe_service::plugins::{
    self, CheckReport, CheckRequest, Inspected, PluginDetails, PluginList,
};
use codecafe_service::{Scope, Service};

use crate::output::{emit, exit_code, print_json, table};

/// Plugin subcommands.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List installed plugins: built-in, user and repository ones, and which override which.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a plugin's world, version, exports, imports, size and origin.
    Inspect {
        /// An installed plugin's id, or a `.wasm` file.
        plugin: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Validate a `.wasm` plugin and install it in your plugins folder; shows what it may make
    /// codecafe do (programs, environment). A provider built for plugin interface 0.1 cannot
    /// declare programs: give them with `--grant` (asked when run in a terminal).
    Add {
        /// The component file.
        file: PathBuf,
        /// A program the plugin may start (for interface-0.1 providers); repeatable.
        #[arg(long = "grant", value_name = "PROGRAM")]
        grant: Vec<String>,
    },
    /// Let an interface-0.1 provider start these programs (pinned to its file's hash: a
    /// changed file needs a new grant).
    Grant {
        /// The plugin's id (or its `.wasm` file).
        plugin: String,
        /// Programs it may start: names on PATH or absolute paths.
        #[arg(required = true)]
        programs: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a plugin installed with `plugin add`.
    Remove {
        /// The plugin's id.
        id: String,
    },
    /// Run a plugin under the sandbox on sample input and report events, timings and errors.
    Check(CheckArgs),
}

/// Arguments of `plugin check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The component file (or an installed plugin's id).
    plugin: String,
    /// Sample input: agent output lines for a provider, a stage's final text for a signal parser.
    #[arg(long)]
    sample: Option<PathBuf>,
    /// A stage option for `build-command`, as KEY=JSON (e.g. `command="cargo test"`); repeatable.
    #[arg(long = "option", value_name = "KEY=JSON")]
    options: Vec<String>,
    /// Check as a stage with `approvals: ask`, answering each approval request with this
    /// decision. A sample may be a two-way transcript: `<< ` marks the agent's lines, `>> `
    /// what the client sent (shown beside the plugin's replies).
    #[arg(long, value_enum, value_name = "DECISION")]
    decide: Option<Decide>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// A decision `plugin check --decide` answers approval requests with.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Decide {
    Allow,
    Always,
    Deny,
    Defer,
}

impl Decide {
    fn decision(self) -> codecafe_service::plugins::ApprovalDecision {
        use codecafe_service::plugins::ApprovalDecision as D;
        match self {
            Self::Allow => D::Allow,
            Self::Always => D::AllowAlways,
            Self::Deny => D::Deny,
            Self::Defer => D::Defer,
        }
    }
}

/// Runs one plugin subcommand.
pub fn run(command: PluginCommand, service: &Service) -> Result<ExitCode> {
    let scope = Scope::here(None)?;
    match command {
        PluginCommand::List { json } => emit(json, &plugins::list(service, &scope)?, print_list),
        PluginCommand::Inspect { plugin, json } => {
            let inspected = plugins::inspect(service, &scope, &plugin)?;
            emit(json, &inspected, print_inspected)?;
            Ok(exit_code(inspected.valid))
        }
        PluginCommand::Add { file, grant } => {
            let added = plugins::add(service, &file, &grant)?;
            let plugin = &added.plugin;
            let overrides = if added.overrides_builtin {
                " (it overrides the built-in plugin of the same id)"
            } else {
                ""
            };
            let (kind, path) = (plugin.kind.label(), added.path.display());
            println!(
                "added {kind} {} {} to {path}{overrides}",
                plugin.id, plugin.version
            );
            print_requirements(plugin);
            if plugin.needs_grant && plugin.granted_programs.is_empty() {
                let asked = ask_programs(&plugin.id)?;
                if asked.is_empty() {
                    println!(
                        "it may start nothing until you grant it programs: \
                         `codecafe plugin grant {} <program>`",
                        plugin.id
                    );
                } else {
                    let granted = plugins::grant(service, &scope, &plugin.id, &asked)?;
                    println!("granted: {}", granted.programs.join(", "));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Grant {
            plugin,
            programs,
            json,
        } => {
            let granted = plugins::grant(service, &scope, &plugin, &programs)?;
            emit(json, &granted, |g| {
                println!(
                    "{} (file {}) may start: {}",
                    g.plugin,
                    &g.hash[..g.hash.len().min(12)],
                    g.programs.join(", ")
                );
            })
        }
        PluginCommand::Remove { id } => {
            let removed = plugins::remove(service, &scope, &id)?;
            println!("removed {id} ({})", removed.display());
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Check(args) => {
            let request = CheckRequest {
                options: plugins::parse_check_options(&args.options)?,
                plugin: args.plugin,
                sample: args.sample,
                decide: args.decide.map(Decide::decision),
            };
            let report = plugins::check(service, &scope, &request)?;
            if args.json {
                print_json(&report)?;
            } else {
                print_report(&report);
            }
            Ok(exit_code(report.failures == 0))
        }
    }
}

fn print_list(list: &PluginList) {
    let rows = list.plugins.iter().map(|row| {
        let note = match (row.overridden_by, row.overrides) {
            (Some(by), _) => format!("overridden by the {} plugin", by.label()),
            (None, Some(over)) => format!("overrides the {} plugin", over.label()),
            (None, None) => String::new(),
        };
        let plugin = &row.plugin;
        [
            plugin.id.clone(),
            plugin.kind.label().to_owned(),
            plugin.version.clone(),
            row.origin.label().to_owned(),
            note,
        ]
    });
    table(["ID", "KIND", "VERSION", "ORIGIN", "NOTE"], rows);
    for broken in &list.broken {
        println!(
            "\nbroken {} plugin {}: {}",
            broken.origin.label(),
            broken.label,
            broken.error
        );
    }
}

/// What a provider may make codecafe do.
fn print_requirements(plugin: &PluginDetails) {
    let Some(requirements) = &plugin.requirements else {
        return;
    };
    let or_nothing = |items: &[String]| {
        if items.is_empty() {
            "nothing".to_owned()
        } else {
            items.join(", ")
        }
    };
    if plugin.needs_grant {
        println!(
            "programs:    granted by you: {} (built for plugin interface 0.1, it declares none)",
            or_nothing(&plugin.granted_programs)
        );
    } else {
        let programs = if requirements.programs.iter().any(|p| p == "*") {
            "any program its stage names (only in repositories you trust)".to_owned()
        } else {
            or_nothing(&requirements.programs)
        };
        println!("programs:    {programs}");
    }
    println!("environment: {}", or_nothing(&requirements.env));
}

/// Asks on the terminal which programs to grant; none when not in a terminal.
fn ask_programs(id: &str) -> Result<Vec<String>> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Ok(Vec::new());
    }
    print!(
        "{id} was built for plugin interface 0.1 and cannot declare what it runs. Programs it \
         may start (space-separated, empty for none): "
    );
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.split_whitespace().map(str::to_owned).collect())
}

fn print_inspected(inspected: &Inspected) {
    if let Some(plugin) = &inspected.plugin {
        println!("id:          {}", plugin.id);
        println!("name:        {}", plugin.name);
        println!("version:     {}", plugin.version);
        println!("kind:        {}", plugin.kind.label());
        println!("world:       {}", plugin.world);
        println!("description: {}", plugin.description);
        if let Some(modes) = &plugin.modes {
            println!("modes:       {modes:?}");
        }
        if let Some(capabilities) = &plugin.capabilities {
            let capabilities = serde_json::to_string(capabilities).unwrap_or_default();
            println!("capabilities: {capabilities}");
        }
        print_requirements(plugin);
    }
    let inspection = &inspected.inspection;
    println!("origin:      {}", inspection.origin.label());
    if let Some(path) = &inspection.path {
        println!("path:        {}", path.display());
    }
    println!("size:        {} bytes", inspection.size);
    println!("blake3:      {}", inspection.hash);
    println!("exports:");
    inspection
        .exports
        .iter()
        .for_each(|export| println!("  {export}"));
    println!("imports:");
    inspection
        .imports
        .iter()
        .for_each(|import| println!("  {import}"));
    if let Some(error) = &inspected.error {
        println!("\nnot a usable plugin: {error}");
    }
}

fn print_report(report: &CheckReport) {
    println!(
        "{} {} ({})",
        report.kind.label(),
        report.plugin,
        report.kind.world()
    );
    for call in &report.calls {
        let ms = call.micros as f64 / 1000.0;
        match (&call.result, &call.error) {
            (_, Some(error)) => println!("  FAIL  {:<14} {ms:>9.3} ms  {error}", call.call),
            (result, None) => {
                let result = result.clone().unwrap_or_default();
                println!("  ok    {:<14} {ms:>9.3} ms  {result}", call.call);
            }
        }
    }
    let contained =
        " (each failure was contained: the sandbox replaced the instance and the next call ran)";
    let note = if report.failures > 0 { contained } else { "" };
    println!(
        "{} calls, {} failed{note}",
        report.calls.len(),
        report.failures
    );
}
