//! Plugins: list, inspect, add, remove, and check one under the sandbox on sample input.
//!
//! Plugins are found in discovery order — built-in, the user's (`codecafe plugin add`), the
//! repository's `.orch/plugins/` — a later one overriding an earlier one of the same id.

use std::path::{Path, PathBuf};
use std::time::Instant;

use codecafe_catalog::grants::GrantStore;
use codecafe_plugin_host::registry::{self, Registry};
use codecafe_plugin_host::{
    Inspection, LoadedPlugin, Origin, PluginError, PluginInfo, PluginKind, PluginSource,
};
use codecafe_sdk::{Capabilities, Invocation, Mode, Requirements, StageContext, Stream};
use serde::{Serialize, Serializer};
use serde_json::{Value, json};

pub use codecafe_sdk::ApprovalDecision;

use crate::error::{Result, ServiceError};
use crate::service::{Scope, Service};

/// What a loaded plugin says about itself.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginDetails {
    /// The id recipes use.
    pub id: String,
    /// Provider or signal parser.
    pub kind: PluginKind,
    /// The WIT world it implements.
    pub world: String,
    /// Its name.
    pub name: String,
    /// Its own version.
    pub version: String,
    /// What it does.
    pub description: String,
    /// A provider's modes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modes: Option<Vec<Mode>>,
    /// A provider's capabilities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    /// What a provider declared it may make the host do: the programs it may start and the
    /// variables of the user's environment its agent gets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirements: Option<Requirements>,
    /// A provider built for plugin interface 0.1, which cannot declare programs: it starts
    /// only what the user granted (`codecafe plugin grant`).
    pub needs_grant: bool,
    /// The programs the user granted it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub granted_programs: Vec<String>,
}

/// One plugin found, and how it stands among plugins of the same id.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginRow {
    /// What it says about itself.
    #[serde(flatten)]
    pub plugin: PluginDetails,
    /// Where it was found.
    pub origin: Origin,
    /// Its file, if any.
    pub path: Option<PathBuf>,
    /// Its size in bytes.
    pub size: usize,
    /// BLAKE3 hash of its bytes, hex.
    pub hash: String,
    /// It is the one used for its id.
    pub active: bool,
    /// The origin of the plugin of the same id it overrides.
    pub overrides: Option<Origin>,
    /// The origin of the plugin of the same id that overrides it.
    pub overridden_by: Option<Origin>,
}

/// A plugin file that could not be loaded.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokenPlugin {
    /// Its file name.
    pub label: String,
    /// Where it was found.
    pub origin: Origin,
    /// Always false: a broken plugin is never used.
    pub active: bool,
    /// Why it cannot be loaded.
    pub error: String,
}

/// Every plugin found; serialized as one array, the broken ones last.
#[derive(Debug, Clone)]
pub struct PluginList {
    /// The plugins that load, in discovery order.
    pub plugins: Vec<PluginRow>,
    /// The files that do not.
    pub broken: Vec<BrokenPlugin>,
}

/// A plugin inspected: what its component exports and imports, and whether it is usable.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspected {
    /// The component's interfaces, size, origin and hash.
    #[serde(flatten)]
    pub inspection: Inspection,
    /// What it says about itself, when it loads.
    #[serde(flatten)]
    pub plugin: Option<PluginDetails>,
    /// It loads: it can be used.
    pub valid: bool,
    /// Why it cannot be used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A plugin installed in the user's plugins folder.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginAdded {
    /// What it says about itself.
    pub plugin: PluginDetails,
    /// Where it was installed.
    pub path: PathBuf,
    /// It overrides the built-in plugin of the same id.
    pub overrides_builtin: bool,
}

/// What `check` runs.
#[derive(Debug, Clone, Default)]
pub struct CheckRequest {
    /// A component file, or an installed plugin's id.
    pub plugin: String,
    /// Sample input: agent output lines for a provider, a stage's final text for a signal
    /// parser; a built-in sample when `None`.
    pub sample: Option<PathBuf>,
    /// Stage options for `build-command`, key and JSON text (see [`parse_check_options`]).
    pub options: Vec<(String, String)>,
    /// Run as a stage with `approvals: ask` and answer each approval request the plugin
    /// reports with this decision (`encode-approval`), as the host would.
    pub decide: Option<codecafe_sdk::ApprovalDecision>,
}

/// One call `check` made.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckedCall {
    /// The plugin function called.
    pub call: String,
    /// How long it took, in microseconds.
    pub micros: u64,
    /// What it returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// How it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What `check` found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    /// The plugin's id.
    pub plugin: String,
    /// Provider or signal parser.
    pub kind: PluginKind,
    /// Every call, in order.
    pub calls: Vec<CheckedCall>,
    /// How many calls failed.
    pub failures: usize,
}

/// Every plugin for the cafe `scope` means (its repository's plugins included; those not
/// trusted are listed as not loaded, with the fix).
pub fn list(service: &Service, scope: &Scope) -> Result<PluginList> {
    let registry = registry(service, scope)?;
    let plugins = registry
        .entries
        .iter()
        .map(|entry| {
            let inspection = entry.plugin.inspection();
            PluginRow {
                plugin: details(&entry.plugin),
                origin: inspection.origin,
                path: inspection.path.clone(),
                size: inspection.size,
                hash: inspection.hash.clone(),
                active: entry.active,
                overrides: entry.overrides,
                overridden_by: entry.overridden_by,
            }
        })
        .collect();
    let mut broken: Vec<BrokenPlugin> = registry
        .broken
        .iter()
        .map(|broken| BrokenPlugin {
            label: broken.label.clone(),
            origin: broken.origin,
            active: false,
            error: broken.error.to_string(),
        })
        .collect();
    if let Ok(repo) = service.repository(scope) {
        for (file, error) in crate::trust::withheld_plugins(service, &repo)? {
            broken.push(BrokenPlugin {
                label: file.display().to_string(),
                origin: Origin::Repository,
                active: false,
                error,
            });
        }
    }
    Ok(PluginList { plugins, broken })
}

/// Inspects an installed plugin (by id) or a `.wasm` file; an unusable file is reported, not an
/// error.
pub fn inspect(service: &Service, scope: &Scope, plugin: &str) -> Result<Inspected> {
    let (inspection, loaded) = match resolve(service, scope, plugin)? {
        Resolved::Installed(plugin) => (plugin.inspection().clone(), Ok(plugin)),
        Resolved::File(source) => {
            let host = service.plugin_host()?;
            (host.inspect(&source)?, host.load(source))
        }
    };
    Ok(Inspected {
        inspection,
        valid: loaded.is_ok(),
        error: loaded.as_ref().err().map(ToString::to_string),
        plugin: loaded.ok().as_ref().map(details),
    })
}

/// Validates a `.wasm` plugin and installs it in the user's plugins folder; `grant` gives a
/// provider that cannot declare programs (interface 0.1) the programs it may start.
pub fn add(service: &Service, file: &Path, grant: &[String]) -> Result<PluginAdded> {
    let host = service.plugin_host()?;
    let (mut plugin, path) = registry::install(&host, file, &service.paths().user_plugins())
        .map_err(|reason| ServiceError::PluginNotAdded {
            file: file.to_owned(),
            reason,
        })?;
    if !grant.is_empty() {
        let programs = grant_programs(service, &plugin, grant)?;
        plugin = plugin.with_granted_programs(programs);
    }
    Ok(PluginAdded {
        overrides_builtin: codecafe_builtins::BUILTINS
            .iter()
            .any(|builtin| builtin.id == plugin.id()),
        plugin: details(&plugin),
        path,
    })
}

/// What a grant gave.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginGranted {
    /// The plugin's id.
    pub plugin: String,
    /// The hash of the file the grant holds for.
    pub hash: String,
    /// Every program it may start now.
    pub programs: Vec<String>,
}

/// Lets installed plugin `id` (a provider built for interface 0.1) start `programs`, for its
/// file as it is now.
pub fn grant(
    service: &Service,
    scope: &Scope,
    id: &str,
    programs: &[String],
) -> Result<PluginGranted> {
    let plugin = match resolve(service, scope, id)? {
        Resolved::Installed(plugin) => plugin,
        Resolved::File(source) => service.plugin_host()?.load(source)?,
    };
    let programs = grant_programs(service, &plugin, programs)?;
    Ok(PluginGranted {
        plugin: plugin.id().to_owned(),
        hash: plugin.inspection().hash.clone(),
        programs,
    })
}

fn grant_programs(
    service: &Service,
    plugin: &LoadedPlugin,
    programs: &[String],
) -> Result<Vec<String>> {
    if !plugin.needs_grant() {
        return Err(ServiceError::bad_input(
            plugin.id(),
            "declares the programs it may start itself (plugin interface 0.2); grants are for \
             providers built for 0.1",
        ));
    }
    if let Some(bad) = programs
        .iter()
        .find(|p| p.trim().is_empty() || *p == "*" || p.chars().any(char::is_whitespace))
    {
        return Err(ServiceError::bad_input(
            format!("program `{bad}`"),
            "name one program (a name on PATH or an absolute path), not a pattern or a command line",
        ));
    }
    Ok(GrantStore::new(&service.paths().data).grant(
        plugin.id(),
        &plugin.inspection().hash,
        programs,
    )?)
}

/// Removes a plugin installed with [`add`]; returns its file.
pub fn remove(service: &Service, scope: &Scope, id: &str) -> Result<PathBuf> {
    let registry = registry(service, scope)?;
    Ok(registry::remove(
        &registry,
        id,
        &service.paths().user_plugins(),
    )?)
}

/// Reads `--option` values for `check` written `KEY=JSON`.
pub fn parse_check_options(texts: &[String]) -> Result<Vec<(String, String)>> {
    texts.iter().map(|text| parse_check_option(text)).collect()
}

fn parse_check_option(text: &str) -> Result<(String, String)> {
    let Some((key, value)) = text.split_once('=') else {
        return Err(ServiceError::bad_input(
            format!("--option {text}"),
            "write it as KEY=JSON",
        ));
    };
    if let Err(err) = serde_json::from_str::<Value>(value) {
        return Err(ServiceError::bad_input(
            format!("--option {key}"),
            format!("{value} is not JSON (quote strings: {key}='\"text\"'): {err}"),
        ));
    }
    Ok((key.to_owned(), value.to_owned()))
}

/// Runs a plugin under the sandbox on sample input and reports each call: its result or
/// error and its time. A failing call is contained (the sandbox replaces the instance) and the
/// next one runs.
pub fn check(service: &Service, scope: &Scope, request: &CheckRequest) -> Result<CheckReport> {
    let plugin = match resolve(service, scope, &request.plugin)? {
        Resolved::Installed(plugin) => plugin,
        Resolved::File(source) => service.plugin_host()?.load(source)?,
    };
    let sample = match &request.sample {
        Some(path) => {
            Some(std::fs::read_to_string(path).map_err(|err| ServiceError::io(path, err))?)
        }
        None => None,
    };
    let calls = match plugin.kind() {
        PluginKind::Provider => check_provider(&plugin, sample.as_deref(), request, &scope.cwd)?,
        PluginKind::SignalParser => check_parser(&plugin, sample.as_deref())?,
    };
    Ok(CheckReport {
        plugin: plugin.id().to_owned(),
        kind: plugin.kind(),
        failures: calls.iter().filter(|c| c.error.is_some()).count(),
        calls,
    })
}

/// Every plugin: built-ins, the user's, and those of the repository `scope` means, if any.
pub(crate) fn registry(service: &Service, scope: &Scope) -> Result<Registry> {
    let repo = service.repository(scope).ok();
    service.plugins(repo.as_deref())
}

fn details(plugin: &LoadedPlugin) -> PluginDetails {
    let info = plugin.info();
    let provider = match info {
        PluginInfo::Provider(provider) => Some(provider),
        PluginInfo::SignalParser(_) | PluginInfo::Unknown => None,
    };
    PluginDetails {
        id: plugin.id().to_owned(),
        kind: plugin.kind(),
        world: plugin.kind().world().to_owned(),
        name: info.name().to_owned(),
        version: info.version().to_owned(),
        description: info.description().to_owned(),
        modes: provider.map(|p| p.modes.clone()),
        capabilities: provider.map(|p| p.capabilities),
        requirements: provider.map(|p| p.requirements.clone()),
        needs_grant: plugin.needs_grant(),
        granted_programs: plugin.granted_programs().to_vec(),
    }
}

/// A plugin named on the command line.
enum Resolved {
    File(PluginSource),
    Installed(LoadedPlugin),
}

/// A file when `arg` names an existing file, else an installed plugin's id.
fn resolve(service: &Service, scope: &Scope, arg: &str) -> Result<Resolved> {
    let path = Path::new(arg);
    if path.is_file() {
        return Ok(Resolved::File(PluginSource::from_file(path, Origin::User)?));
    }
    if arg.ends_with(".wasm") || arg.contains(std::path::MAIN_SEPARATOR) {
        return Err(ServiceError::bad_input(arg, "no such file"));
    }
    match registry(service, scope)?.get(arg) {
        Some(plugin) => Ok(Resolved::Installed(plugin.clone())),
        None => Err(PluginError::NotFound { id: arg.to_owned() }.into()),
    }
}

/// Calls `call` and records how long it took and what it returned.
fn timed<T: Serialize>(
    call: &str,
    f: impl FnOnce() -> std::result::Result<T, PluginError>,
) -> CheckedCall {
    let start = Instant::now();
    let outcome = f();
    let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    let (result, error) = match outcome {
        Ok(value) => (Some(serde_json::to_value(value).unwrap_or_default()), None),
        Err(err) => (None, Some(err.to_string())),
    };
    CheckedCall {
        call: call.to_owned(),
        micros,
        result,
        error,
    }
}

/// A batch as `check` shows it: the events, then what the plugin writes back to the agent.
fn batch_json(batch: &codecafe_sdk::OutputBatch) -> Value {
    if batch.replies.is_empty() && !batch.close_input {
        return serde_json::to_value(&batch.events).unwrap_or_default();
    }
    json!({
        "events": batch.events,
        "replies": batch.replies.iter().map(|r| String::from_utf8_lossy(r).into_owned()).collect::<Vec<_>>(),
        "closeInput": batch.close_input,
    })
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
    request: &CheckRequest,
    cwd: &Path,
) -> Result<Vec<CheckedCall>> {
    let mut session = plugin.provider_session()?;
    let mut calls = vec![timed("info", || session.info())];
    let mut invocation = Invocation::new("Say hello.", cwd.display().to_string());
    invocation.options = request.options.clone();
    if request.decide.is_some() {
        invocation.policy.approvals = codecafe_sdk::ApprovalPolicy::Ask;
    }
    calls.push(timed("build-command", || {
        session.build_command(&invocation).map(|built| match built {
            Ok(spec) => json!({"command": spec}),
            Err(refusal) => json!({"refused": refusal.to_string()}),
        })
    }));
    // A two-way transcript marks the agent's lines `<< ` and the client's `>> `: the agent's
    // are fed to the plugin, the client's are shown beside the plugin's own replies.
    for line in sample.unwrap_or(DEFAULT_PROVIDER_SAMPLE).lines() {
        if let Some(sent) = line.strip_prefix(">> ") {
            calls.push(CheckedCall {
                call: "recorded-reply".to_owned(),
                micros: 0,
                result: Some(Value::String(sent.to_owned())),
                error: None,
            });
            continue;
        }
        let line = line.strip_prefix("<< ").unwrap_or(line);
        let mut asked = Vec::new();
        calls.push(timed("parse-output", || {
            session.parse_output(Stream::Stdout, line).map(|batch| {
                asked.extend(batch.events.iter().filter_map(|e| match e {
                    codecafe_sdk::AgentEvent::ApprovalRequest(r) => Some(r.id.clone()),
                    _ => None,
                }));
                batch_json(&batch)
            })
        }));
        let Some(decision) = request.decide else {
            continue;
        };
        for id in asked {
            calls.push(timed("encode-approval", || {
                session
                    .encode_approval(&id, decision, None)
                    .map(|encoded| match encoded {
                        Ok(bytes) => json!({"reply": String::from_utf8_lossy(&bytes)}),
                        Err(refused) => json!({"refused": refused.to_string()}),
                    })
            }));
        }
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

impl Serialize for PluginList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(untagged)]
        enum Entry<'a> {
            Plugin(&'a PluginRow),
            Broken(&'a BrokenPlugin),
        }
        let plugins = self.plugins.iter().map(Entry::Plugin);
        serializer.collect_seq(plugins.chain(self.broken.iter().map(Entry::Broken)))
    }
}
