//! `codecafe plugin …`: list, inspect, add, remove and check plugins.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use codecafe_plugin_host::registry::{self, Registry};
use codecafe_plugin_host::{
    LoadedPlugin, Origin, PluginError, PluginHost, PluginInfo, PluginKind, PluginSource,
};
use codecafe_sdk::{Invocation, StageContext, Stream};
use serde_json::json;

use crate::context::Context;
use crate::output::print_table;

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
pub fn run(command: PluginCommand, ctx: &Context) -> Result<ExitCode> {
    let host = ctx.plugin_host()?;
    match command {
        PluginCommand::List { json } => list(&host, ctx, json),
        PluginCommand::Inspect { plugin, json } => inspect(&host, ctx, &plugin, json),
        PluginCommand::Add { file } => add(&host, ctx, &file),
        PluginCommand::Remove { id } => remove(&host, ctx, &id),
        PluginCommand::Check(args) => check(&host, ctx, &args),
    }
}

/// Every plugin in discovery order: built-ins, user folder, repository folder.
fn discover(host: &PluginHost, ctx: &Context) -> Result<Registry> {
    ctx.plugins(host, None)
}

fn plugin_json(plugin: &LoadedPlugin) -> serde_json::Value {
    let inspection = plugin.inspection();
    let mut value = json!({
        "id": plugin.id(),
        "kind": plugin.kind(),
        "world": plugin.kind().world(),
        "name": plugin.info().name(),
        "version": plugin.info().version(),
        "description": plugin.info().description(),
        "origin": inspection.origin,
        "path": inspection.path,
        "size": inspection.size,
        "hash": inspection.hash,
    });
    if let PluginInfo::Provider(info) = plugin.info() {
        value["modes"] = json!(info.modes);
        value["capabilities"] = json!(info.capabilities);
    }
    value
}

fn list(host: &PluginHost, ctx: &Context, as_json: bool) -> Result<ExitCode> {
    let registry = discover(host, ctx)?;
    if as_json {
        let mut rows: Vec<serde_json::Value> = registry
            .entries
            .iter()
            .map(|entry| {
                let mut row = plugin_json(&entry.plugin);
                row["active"] = json!(entry.active);
                row["overrides"] = json!(entry.overrides);
                row["overridden-by"] = json!(entry.overridden_by);
                row
            })
            .collect();
        rows.extend(registry.broken.iter().map(|broken| {
            json!({
                "label": broken.label,
                "origin": broken.origin,
                "active": false,
                "error": broken.error.to_string(),
            })
        }));
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = vec![[
        "ID".to_owned(),
        "KIND".to_owned(),
        "VERSION".to_owned(),
        "ORIGIN".to_owned(),
        "NOTE".to_owned(),
    ]];
    for entry in &registry.entries {
        let note = match (entry.overridden_by, entry.overrides) {
            (Some(by), _) => format!("overridden by the {} plugin", by.label()),
            (None, Some(over)) => format!("overrides the {} plugin", over.label()),
            (None, None) => String::new(),
        };
        table.push([
            entry.plugin.id().to_owned(),
            entry.plugin.kind().label().to_owned(),
            entry.plugin.info().version().to_owned(),
            entry.plugin.inspection().origin.label().to_owned(),
            note,
        ]);
    }
    print_table(&table);
    for broken in &registry.broken {
        println!(
            "\nbroken {} plugin {}: {}",
            broken.origin.label(),
            broken.label,
            broken.error
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A file path if `arg` names an existing file, else an installed plugin's id.
fn resolve(host: &PluginHost, ctx: &Context, arg: &str) -> Result<Resolved> {
    let path = Path::new(arg);
    if path.is_file() {
        return Ok(Resolved::File(PluginSource::from_file(path, Origin::User)?));
    }
    if arg.ends_with(".wasm") || arg.contains(std::path::MAIN_SEPARATOR) {
        bail!("{arg}: no such file");
    }
    let registry = discover(host, ctx)?;
    match registry.get(arg) {
        Some(plugin) => Ok(Resolved::Installed(plugin.clone())),
        None => Err(PluginError::NotFound { id: arg.to_owned() }.into()),
    }
}

enum Resolved {
    File(PluginSource),
    Installed(LoadedPlugin),
}

fn inspect(host: &PluginHost, ctx: &Context, arg: &str, as_json: bool) -> Result<ExitCode> {
    let (inspection, loaded) = match resolve(host, ctx, arg)? {
        Resolved::Installed(plugin) => (plugin.inspection().clone(), Ok(plugin)),
        Resolved::File(source) => {
            let inspection = host.inspect(&source)?;
            (inspection, host.load(source))
        }
    };
    if as_json {
        let mut value = json!({
            "exports": inspection.exports,
            "imports": inspection.imports,
            "size": inspection.size,
            "origin": inspection.origin,
            "path": inspection.path,
            "hash": inspection.hash,
        });
        match &loaded {
            Ok(plugin) => {
                let details = plugin_json(plugin);
                if let (Some(value), Some(details)) = (value.as_object_mut(), details.as_object()) {
                    value.extend(details.clone());
                }
                value["valid"] = json!(true);
            }
            Err(err) => {
                value["valid"] = json!(false);
                value["error"] = json!(err.to_string());
            }
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        if let Ok(plugin) = &loaded {
            println!("id:          {}", plugin.id());
            println!("name:        {}", plugin.info().name());
            println!("version:     {}", plugin.info().version());
            println!("kind:        {}", plugin.kind().label());
            println!("world:       {}", plugin.kind().world());
            println!("description: {}", plugin.info().description());
            if let PluginInfo::Provider(info) = plugin.info() {
                println!("modes:       {:?}", info.modes);
                println!(
                    "capabilities: {}",
                    serde_json::to_string(&info.capabilities)?
                );
            }
        }
        println!("origin:      {}", inspection.origin.label());
        if let Some(path) = &inspection.path {
            println!("path:        {}", path.display());
        }
        println!("size:        {} bytes", inspection.size);
        println!("blake3:      {}", inspection.hash);
        println!("exports:");
        for export in &inspection.exports {
            println!("  {export}");
        }
        println!("imports:");
        for import in &inspection.imports {
            println!("  {import}");
        }
        if let Err(err) = &loaded {
            println!("\nnot a usable plugin: {err}");
        }
    }
    Ok(if loaded.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn add(host: &PluginHost, ctx: &Context, file: &Path) -> Result<ExitCode> {
    let dir = ctx.paths.user_plugins();
    let (plugin, target) = registry::install(host, file, &dir)
        .with_context(|| format!("{} was not added", file.display()))?;
    let overrides = codecafe_builtins::BUILTINS
        .iter()
        .any(|builtin| builtin.id == plugin.id());
    println!(
        "added {} {} {} to {}{}",
        plugin.kind().label(),
        plugin.id(),
        plugin.info().version(),
        target.display(),
        if overrides {
            " (it overrides the built-in plugin of the same id)"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn remove(host: &PluginHost, ctx: &Context, id: &str) -> Result<ExitCode> {
    let registry = discover(host, ctx)?;
    let removed = registry::remove(&registry, id, &ctx.paths.user_plugins())?;
    println!("removed {id} ({})", removed.display());
    Ok(ExitCode::SUCCESS)
}

/// One call made by `plugin check`, for the report.
struct CheckedCall {
    call: &'static str,
    elapsed: Duration,
    outcome: Result<serde_json::Value, PluginError>,
}

fn check(host: &PluginHost, ctx: &Context, args: &CheckArgs) -> Result<ExitCode> {
    let plugin = match resolve(host, ctx, &args.plugin)? {
        Resolved::Installed(plugin) => plugin,
        Resolved::File(source) => host.load(source)?,
    };
    let sample = match &args.sample {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the sample {}", path.display()))?,
        ),
        None => None,
    };
    let mut options = Vec::new();
    for option in &args.options {
        let (key, value) = option
            .split_once('=')
            .with_context(|| format!("--option {option}: write it as KEY=JSON"))?;
        serde_json::from_str::<serde_json::Value>(value).with_context(|| {
            format!("--option {key}: {value} is not JSON (quote strings: {key}='\"text\"')")
        })?;
        options.push((key.to_owned(), value.to_owned()));
    }
    let calls = match plugin.kind() {
        PluginKind::Provider => check_provider(&plugin, sample.as_deref(), options)?,
        PluginKind::SignalParser => check_parser(&plugin, sample.as_deref())?,
    };
    let failures = calls.iter().filter(|c| c.outcome.is_err()).count();
    if args.json {
        let report: Vec<serde_json::Value> = calls
            .iter()
            .map(|c| {
                let mut row = json!({"call": c.call, "micros": c.elapsed.as_micros() as u64});
                match &c.outcome {
                    Ok(value) => row["result"] = value.clone(),
                    Err(err) => row["error"] = json!(err.to_string()),
                }
                row
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "plugin": plugin.id(),
                "kind": plugin.kind(),
                "calls": report,
                "failures": failures,
            }))?
        );
    } else {
        println!(
            "{} {} ({})",
            plugin.kind().label(),
            plugin.id(),
            plugin.kind().world()
        );
        for c in &calls {
            match &c.outcome {
                Ok(value) => println!(
                    "  ok    {:<14} {:>9.3} ms  {}",
                    c.call,
                    ms(c.elapsed),
                    value
                ),
                Err(err) => println!("  FAIL  {:<14} {:>9.3} ms  {}", c.call, ms(c.elapsed), err),
            }
        }
        println!(
            "{} calls, {} failed{}",
            calls.len(),
            failures,
            if failures > 0 {
                " (each failure was contained: the sandbox replaced the instance and the next call ran)"
            } else {
                ""
            }
        );
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn timed<T: serde::Serialize>(
    call: &'static str,
    f: impl FnOnce() -> Result<T, PluginError>,
) -> CheckedCall {
    let start = Instant::now();
    let outcome = f().map(|value| serde_json::to_value(value).unwrap_or_default());
    CheckedCall {
        call,
        elapsed: start.elapsed(),
        outcome,
    }
}

/// Lines a provider sees when no sample is given: a stream-json line and plain text.
const DEFAULT_PROVIDER_SAMPLE: &str = concat!(
    r#"{"type":"system","subtype":"init","session_id":"00000000-0000-0000-0000-000000000000"}"#,
    "\n",
    "plain text output\n",
);

/// The text a signal parser sees when no sample is given.
const DEFAULT_PARSER_SAMPLE: &str =
    "Done.\n\n```yaml\nsignals:\n  nextAction: proceed\n  complexity: low\n```\n";

fn check_provider(
    plugin: &LoadedPlugin,
    sample: Option<&str>,
    options: Vec<(String, String)>,
) -> Result<Vec<CheckedCall>> {
    let mut session = plugin.provider_session()?;
    let mut calls = vec![timed("info", || session.info())];
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let mut invocation = Invocation::new("Say hello.", cwd.display().to_string());
    invocation.options = options;
    calls.push(timed("build-command", || {
        session.build_command(&invocation).map(|built| match built {
            Ok(spec) => json!({"command": spec}),
            Err(refusal) => json!({"refused": refusal.to_string()}),
        })
    }));
    for line in sample.unwrap_or(DEFAULT_PROVIDER_SAMPLE).lines() {
        calls.push(timed("parse-output", || {
            session
                .parse_output(Stream::Stdout, line)
                .map(|batch| batch.events)
        }));
    }
    calls.push(timed("finish-output", || {
        session.finish_output(Some(0)).map(|batch| batch.events)
    }));
    Ok(calls)
}

fn check_parser(plugin: &LoadedPlugin, sample: Option<&str>) -> Result<Vec<CheckedCall>> {
    let mut session = plugin.signal_parser_session()?;
    let mut calls = vec![timed("info", || session.info())];
    let context = StageContext {
        stage_id: "check".to_owned(),
        following_stages: vec!["next".to_owned()],
        attempt: 1,
    };
    calls.push(timed("parse", || {
        session
            .parse(sample.unwrap_or(DEFAULT_PARSER_SAMPLE), &context)
            .map(|parsed| match parsed {
                Ok(signals) => json!({"signals": signals}),
                Err(refusal) => json!({"refused": refusal.to_string()}),
            })
    }));
    Ok(calls)
}
