//! `codecafe plugin …`: list, inspect, add, remove and check plugins.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use codecafe_service::plugins::{self, CheckReport, CheckRequest, Inspected, PluginList};
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
    /// Validate a `.wasm` plugin and install it in your plugins folder.
    Add {
        /// The component file.
        file: PathBuf,
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
    /// Print JSON.
    #[arg(long)]
    json: bool,
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
        PluginCommand::Add { file } => {
            let added = plugins::add(service, &file)?;
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
            Ok(ExitCode::SUCCESS)
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
