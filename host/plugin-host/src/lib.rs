//! # codecafe-plugin-host
//!
//! The one crate of codecafe that uses wasmtime. It loads provider adapters and signal parsers
//! (WebAssembly components of the worlds in `wit/`), checks what they are, compiles them once
//! (with an on-disk cache), and runs them in a sandbox: no files, environment, network or real
//! clock; a memory cap; a deadline per call enforced by epoch interruption; a cap on the data a
//! call returns. A plugin that traps or hits a limit costs one failed call: the error names the
//! plugin and the call, the instance is replaced, and the next call works.
//!
//! With a cache directory, a plugin that loaded once is recorded in the plugin index (by the
//! hash of its bytes, see `index`): later loads in any process take its id, kind and `info`
//! from there and compile / load / link nothing until its first session starts, so a process
//! pays only for the plugins it uses.
//!
//! ```no_run
//! # fn main() -> Result<(), codecafe_plugin_host::PluginError> {
//! use codecafe_plugin_host::{HostConfig, Origin, PluginHost, PluginSource};
//!
//! let host = PluginHost::new(HostConfig::default())?;
//! let plugin = host.load(PluginSource::from_file("my_agent.wasm".as_ref(), Origin::User)?)?;
//! let mut session = plugin.provider_session()?;
//! println!("{:?}", session.info()?);
//! # Ok(()) }
//! ```

mod bindings;
mod cache;
mod error;
mod index;
mod prepare;
pub mod registry;
mod sandbox;
mod session;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

pub use cache::WASMTIME_VERSION;
pub use error::PluginError;
pub use sandbox::Limits;
pub use session::{ProviderSession, SignalParserSession};

use sandbox::SandboxState;

/// The WIT versions this host implements, as messages name them.
pub const WIT_VERSION: &str = "provider 0.2.0 (and 0.1.0), signals 0.1.0";

/// The provider world's exported interface, versioned.
pub const PROVIDER_INTERFACE: &str = "codecafe:provider/adapter@0.2.0";
/// The previous provider interface, still linked: plugins built against it load, declare
/// nothing, and may start programs only once the user grants them.
pub const PROVIDER_INTERFACE_V1: &str = "codecafe:provider/adapter@0.1.0";
/// The signal parser world's exported interface, versioned.
pub const SIGNALS_INTERFACE: &str = "codecafe:signals/parser@0.1.0";

/// How often the epoch ticks; deadlines are whole ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Which plugin world a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    /// `codecafe:provider/provider`: drives an agent CLI.
    Provider,
    /// `codecafe:signals/signal-parser`: reads a stage's signals.
    SignalParser,
}

impl PluginKind {
    /// The kind in words, as users see it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Provider => "provider",
            Self::SignalParser => "signal parser",
        }
    }

    /// The WIT world it implements.
    pub fn world(self) -> &'static str {
        match self {
            Self::Provider => "codecafe:provider/provider@0.2.0",
            Self::SignalParser => "codecafe:signals/signal-parser@0.1.0",
        }
    }
}

/// Where a plugin was found. Later origins override earlier ones with the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Embedded in the codecafe binary.
    BuiltIn,
    /// The user's data directory (`codecafe plugin add`).
    User,
    /// The repository's `.orch/plugins/` folder.
    Repository,
}

impl Origin {
    /// The origin in words.
    pub fn label(self) -> &'static str {
        match self {
            Self::BuiltIn => "built-in",
            Self::User => "user",
            Self::Repository => "repository",
        }
    }
}

/// The bytes of a component and where they came from.
#[derive(Debug, Clone)]
pub struct PluginSource {
    /// The component.
    pub bytes: Arc<[u8]>,
    /// Where it came from.
    pub origin: Origin,
    /// Its file, if it has one.
    pub path: Option<PathBuf>,
    /// A name for messages before the plugin's own id is known (file name or built-in name).
    pub label: String,
    hash: blake3::Hash,
}

impl PluginSource {
    /// A component from memory.
    pub fn from_bytes(
        bytes: impl Into<Arc<[u8]>>,
        origin: Origin,
        label: impl Into<String>,
    ) -> Self {
        let bytes = bytes.into();
        let hash = blake3::hash(&bytes);
        Self {
            bytes,
            origin,
            path: None,
            label: label.into(),
            hash,
        }
    }

    /// A component embedded in the binary, with its hash computed at build time.
    pub fn built_in(bytes: &'static [u8], hash_hex: &str, label: &str) -> Self {
        let hash = blake3::Hash::from_hex(hash_hex).unwrap_or_else(|_| blake3::hash(bytes));
        Self {
            bytes: Arc::from(bytes),
            origin: Origin::BuiltIn,
            path: None,
            label: label.to_owned(),
            hash,
        }
    }

    /// A component read from a file.
    pub fn from_file(path: &Path, origin: Origin) -> Result<Self, PluginError> {
        let bytes = std::fs::read(path).map_err(|source| PluginError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut source = Self::from_bytes(bytes, origin, path.display().to_string());
        source.path = Some(path.to_owned());
        Ok(source)
    }

    /// The BLAKE3 hash of the bytes, in hex.
    pub fn hash_hex(&self) -> String {
        self.hash.to_hex().to_string()
    }
}

/// How to set up a [`PluginHost`].
#[derive(Debug, Clone, Default)]
pub struct HostConfig {
    /// Directory for compiled code; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// Limits for every plugin instance.
    pub limits: Limits,
}

/// The wasmtime engine, the sandbox linker and the compile cache, shared by all plugins. Cheap
/// to clone: clones share them.
#[derive(Clone)]
pub struct PluginHost {
    inner: Arc<HostInner>,
}

struct HostInner {
    engine: Engine,
    linker: Linker<SandboxState>,
    cache: Option<cache::CompileCache>,
    index: Option<index::PluginIndex>,
    limits: Limits,
    ticker_stop: Arc<AtomicBool>,
    compiled: AtomicUsize,
    cache_hits: AtomicUsize,
    /// Components linked so far, shared by every plugin loaded from this host.
    linked: prepare::Linked,
}

/// How components reached memory since a host started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompileStats {
    /// Components compiled with Cranelift.
    pub compiled: usize,
    /// Components loaded from the on-disk cache.
    pub cache_hits: usize,
}

impl HostInner {
    fn compile(&self, source: &PluginSource) -> Result<Component, PluginError> {
        let engine = &self.engine;
        if let Some(cache) = &self.cache
            && let Some(component) = cache.load(engine, &source.hash)
        {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(component);
        }
        self.compiled.fetch_add(1, Ordering::Relaxed);
        let component =
            Component::new(engine, &source.bytes).map_err(|err| PluginError::Compile {
                plugin: source.label.clone(),
                message: format!("{err:#}"),
            })?;
        if let Some(cache) = &self.cache {
            cache.store(&component, &source.hash);
        }
        Ok(component)
    }

    /// Links a compiled component of `kind` for instantiation (checking its imports).
    fn prepare(
        &self,
        source: &PluginSource,
        component: &Component,
        kind: PluginKind,
        wit_version: Option<&str>,
    ) -> Result<session::Pre, PluginError> {
        let instantiate_error = |err: wasmtime::Error| PluginError::Instantiate {
            plugin: source.label.clone(),
            message: format!("{err:#}"),
        };
        let pre = self
            .linker
            .instantiate_pre(component)
            .map_err(instantiate_error)?;
        Ok(match kind {
            PluginKind::Provider if wit_version == Some("0.1.0") => session::Pre::ProviderV1(
                bindings::provider_v1::ProviderPre::new(pre).map_err(instantiate_error)?,
            ),
            PluginKind::Provider => session::Pre::Provider(
                bindings::provider::ProviderPre::new(pre).map_err(instantiate_error)?,
            ),
            PluginKind::SignalParser => session::Pre::SignalParser(
                bindings::signals::SignalParserPre::new(pre).map_err(instantiate_error)?,
            ),
        })
    }
}

impl Drop for HostInner {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl PluginHost {
    /// A host with a fresh engine. Starts the epoch ticker thread, which stops when the host and
    /// every plugin loaded from it are dropped.
    pub fn new(config: HostConfig) -> Result<Self, PluginError> {
        Self::with_engine_config(config, engine_config())
    }

    /// [`PluginHost::new`], also writing `/tmp/perf-<pid>.map` so `perf report` names the
    /// plugins' compiled functions (for profiling; the plugin benchmark's `--profile`).
    pub fn new_profiled(config: HostConfig) -> Result<Self, PluginError> {
        let mut engine = engine_config();
        engine.profiler(wasmtime::ProfilingStrategy::PerfMap);
        Self::with_engine_config(config, engine)
    }

    fn with_engine_config(config: HostConfig, engine: Config) -> Result<Self, PluginError> {
        let engine = Engine::new(&engine).map_err(|err| PluginError::Instantiate {
            plugin: "(engine)".to_owned(),
            message: format!("{err:#}"),
        })?;
        let linker = sandbox::linker(&engine).map_err(|err| PluginError::Instantiate {
            plugin: "(linker)".to_owned(),
            message: format!("{err:#}"),
        })?;
        let cache = config
            .cache_dir
            .map(|dir| cache::CompileCache::new(dir, &engine));
        let index = cache
            .as_ref()
            .map(|cache| index::PluginIndex::open(cache.dir(), cache.engine_key()));
        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.weak(), Arc::clone(&ticker_stop));
        Ok(Self {
            inner: Arc::new(HostInner {
                engine,
                linker,
                cache,
                index,
                limits: config.limits,
                ticker_stop,
                compiled: AtomicUsize::new(0),
                cache_hits: AtomicUsize::new(0),
                linked: prepare::Linked::default(),
            }),
        })
    }

    /// The limits every instance gets.
    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    /// How many components were compiled and how many came from the cache.
    pub fn stats(&self) -> CompileStats {
        CompileStats {
            compiled: self.inner.compiled.load(Ordering::Relaxed),
            cache_hits: self.inner.cache_hits.load(Ordering::Relaxed),
        }
    }

    /// Compiles (or loads from the cache) a component without checking its world.
    pub fn compile(&self, source: &PluginSource) -> Result<Component, PluginError> {
        self.inner.compile(source)
    }

    /// What a component is, without requiring it to be a valid plugin.
    pub fn inspect(&self, source: &PluginSource) -> Result<Inspection, PluginError> {
        let component = self.compile(source)?;
        Ok(self.inspect_component(source, &component))
    }

    fn inspect_component(&self, source: &PluginSource, component: &Component) -> Inspection {
        let engine = &self.inner.engine;
        let ty = component.component_type();
        let exports: Vec<String> = ty
            .exports(engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        let imports: Vec<String> = ty
            .imports(engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        Inspection {
            exports,
            imports,
            size: source.bytes.len(),
            origin: source.origin,
            path: source.path.clone(),
            hash: source.hash_hex(),
        }
    }

    /// Loads a plugin: compiles it, checks its world, version and imports, links it and reads
    /// its `info` — or, when the plugin index knows its bytes, takes all that from the index and
    /// leaves compiling and linking to its first session.
    pub fn load(&self, source: PluginSource) -> Result<LoadedPlugin, PluginError> {
        let hash = source.hash_hex();
        if let Some(index) = &self.inner.index
            && let Some(indexed) = index.get(&hash)
        {
            match self.indexed_plugin(&source, indexed) {
                Ok(plugin) => return Ok(plugin),
                Err(err) => tracing::debug!(plugin = %source.label, "index entry unusable: {err}"),
            }
        }
        let component = self.compile(&source)?;
        let inspection = self.inspect_component(&source, &component);
        let kind = inspection.kind(&source.label)?;
        for import in &inspection.imports {
            if !is_provided_import(import) {
                return Err(PluginError::UnsupportedImport {
                    plugin: source.label.clone(),
                    import: import.clone(),
                });
            }
        }
        let key = (
            *source.hash.as_bytes(),
            kind,
            inspection.wit_version().map(str::to_owned),
        );
        let pre = self.inner.linked.get_or_link(key, || {
            self.inner
                .prepare(&source, &component, kind, inspection.wit_version())
        })?;
        let mut plugin = LoadedPlugin {
            host: Arc::clone(&self.inner),
            pre: Arc::new(prepare::LazyPre::ready(pre)),
            kind,
            id: Arc::from(source.label.as_str()),
            info: PluginInfo::Unknown,
            inspection,
            granted: Arc::from(Vec::new()),
        };
        plugin.info = plugin.read_info()?;
        plugin.id = Arc::from(plugin.info.id());
        if let Some(index) = &self.inner.index {
            let info = match &plugin.info {
                PluginInfo::Provider(info) => serde_json::to_value(info),
                PluginInfo::SignalParser(info) => serde_json::to_value(info),
                PluginInfo::Unknown => Ok(serde_json::Value::Null),
            };
            if let Ok(info) = info {
                index.insert(
                    &hash,
                    index::Indexed {
                        kind,
                        exports: plugin.inspection.exports.clone(),
                        imports: plugin.inspection.imports.clone(),
                        info,
                    },
                );
            }
        }
        Ok(plugin)
    }

    /// A plugin known from the index: nothing compiled or instantiated until a session starts.
    fn indexed_plugin(
        &self,
        source: &PluginSource,
        indexed: index::Indexed,
    ) -> Result<LoadedPlugin, PluginError> {
        let inspection = Inspection {
            exports: indexed.exports,
            imports: indexed.imports,
            size: source.bytes.len(),
            origin: source.origin,
            path: source.path.clone(),
            hash: source.hash_hex(),
        };
        let kind = inspection.kind(&source.label)?;
        let unreadable = |err: serde_json::Error| PluginError::InvalidInfo {
            plugin: source.label.clone(),
            message: format!("its indexed info is unreadable: {err}"),
        };
        let info = match (kind, indexed.kind) {
            (PluginKind::Provider, PluginKind::Provider) => {
                PluginInfo::Provider(serde_json::from_value(indexed.info).map_err(unreadable)?)
            }
            (PluginKind::SignalParser, PluginKind::SignalParser) => {
                PluginInfo::SignalParser(serde_json::from_value(indexed.info).map_err(unreadable)?)
            }
            _ => {
                return Err(PluginError::InvalidInfo {
                    plugin: source.label.clone(),
                    message: "its indexed kind differs from its exports".to_owned(),
                });
            }
        };
        let wit_version = inspection.wit_version().map(str::to_owned);
        let pre = match self
            .inner
            .linked
            .get((*source.hash.as_bytes(), kind, wit_version.clone()))
        {
            Some(pre) => prepare::LazyPre::ready(pre),
            None => prepare::LazyPre::lazy(source.clone(), kind, wit_version),
        };
        Ok(LoadedPlugin {
            host: Arc::clone(&self.inner),
            pre: Arc::new(pre),
            kind,
            id: Arc::from(info.id()),
            info,
            inspection,
            granted: Arc::from(Vec::new()),
        })
    }
}

/// What a component exports and imports.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Inspection {
    /// Exported interface names.
    pub exports: Vec<String>,
    /// Imported interface names.
    pub imports: Vec<String>,
    /// Size of the component in bytes.
    pub size: usize,
    /// Where it came from.
    pub origin: Origin,
    /// Its file, if any.
    pub path: Option<PathBuf>,
    /// BLAKE3 hash of the bytes, hex.
    pub hash: String,
}

impl Inspection {
    /// The plugin world the exports name, or why none fits.
    pub fn kind(&self, label: &str) -> Result<PluginKind, PluginError> {
        for (prefix, current, kind) in [
            (
                "codecafe:provider/adapter@",
                &[PROVIDER_INTERFACE, PROVIDER_INTERFACE_V1][..],
                PluginKind::Provider,
            ),
            (
                "codecafe:signals/parser@",
                &[SIGNALS_INTERFACE][..],
                PluginKind::SignalParser,
            ),
        ] {
            if let Some(export) = self.exports.iter().find(|e| e.starts_with(prefix)) {
                return if current.contains(&export.as_str()) {
                    Ok(kind)
                } else {
                    Err(PluginError::WrongVersion {
                        plugin: label.to_owned(),
                        found: export.clone(),
                        supported: WIT_VERSION,
                    })
                };
            }
        }
        Err(PluginError::UnknownWorld {
            plugin: label.to_owned(),
            exports: if self.exports.is_empty() {
                "nothing".to_owned()
            } else {
                self.exports.join(", ")
            },
            supported: WIT_VERSION,
        })
    }
}

impl Inspection {
    /// The WIT version of the plugin interface it exports (`0.2.0`, `0.1.0`), if it exports one.
    pub fn wit_version(&self) -> Option<&str> {
        self.exports
            .iter()
            .filter(|e| e.starts_with("codecafe:"))
            .find_map(|e| e.rsplit_once('@').map(|(_, version)| version))
    }
}

/// WASI 0.2 is linked (behind the sandbox); nothing else is.
fn is_provided_import(name: &str) -> bool {
    name.starts_with("wasi:") && name.contains("@0.2.")
}

/// A plugin's self-description.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case", untagged)]
pub enum PluginInfo {
    /// A provider's info.
    Provider(Box<codecafe_sdk::ProviderInfo>),
    /// A signal parser's info.
    SignalParser(codecafe_sdk::ParserInfo),
    /// Not read yet.
    Unknown,
}

impl PluginInfo {
    /// The plugin's id.
    pub fn id(&self) -> &str {
        match self {
            Self::Provider(i) => &i.id,
            Self::SignalParser(i) => &i.id,
            Self::Unknown => "",
        }
    }

    /// The plugin's version.
    pub fn version(&self) -> &str {
        match self {
            Self::Provider(i) => &i.version,
            Self::SignalParser(i) => &i.version,
            Self::Unknown => "",
        }
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Provider(i) => &i.name,
            Self::SignalParser(i) => &i.name,
            Self::Unknown => "",
        }
    }

    /// The plugin's description.
    pub fn description(&self) -> &str {
        match self {
            Self::Provider(i) => &i.description,
            Self::SignalParser(i) => &i.description,
            Self::Unknown => "",
        }
    }
}

/// A checked, linked plugin, ready to start sessions. Cheap to clone.
#[derive(Clone)]
pub struct LoadedPlugin {
    host: Arc<HostInner>,
    pre: Arc<prepare::LazyPre>,
    kind: PluginKind,
    id: Arc<str>,
    info: PluginInfo,
    inspection: Inspection,
    /// Programs the user granted it (for plugins that declare none: WIT 0.1).
    granted: Arc<[String]>,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("origin", &self.inspection.origin)
            .finish_non_exhaustive()
    }
}

impl LoadedPlugin {
    /// The plugin's id (from its `info`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Which world it implements.
    pub fn kind(&self) -> PluginKind {
        self.kind
    }

    /// Its self-description.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// Its exports, imports, size and origin.
    pub fn inspection(&self) -> &Inspection {
        &self.inspection
    }

    /// The programs it declared it may start (a provider's `requirements.programs`; `*` means
    /// any, as the built-in `command` provider declares).
    pub fn declared_programs(&self) -> &[String] {
        match &self.info {
            PluginInfo::Provider(info) => &info.requirements.programs,
            _ => &[],
        }
    }

    /// The variables of the user's environment its agent gets (names or `PREFIX_*`).
    pub fn declared_env(&self) -> &[String] {
        match &self.info {
            PluginInfo::Provider(info) => &info.requirements.env,
            _ => &[],
        }
    }

    /// A provider built against WIT 0.1, which declares no programs: it may start only what
    /// the user granted it.
    pub fn needs_grant(&self) -> bool {
        self.kind == PluginKind::Provider && self.inspection.wit_version() == Some("0.1.0")
    }

    /// The programs the user granted it.
    pub fn granted_programs(&self) -> &[String] {
        &self.granted
    }

    /// The same plugin with `programs` granted by the user (see [`LoadedPlugin::needs_grant`]).
    pub fn with_granted_programs(mut self, programs: Vec<String>) -> Self {
        self.granted = Arc::from(programs);
        self
    }

    /// Whether it may start `program`: declared or granted, by name (`*` allows any).
    pub fn may_start(&self, program: &str) -> bool {
        let declared = match &self.info {
            PluginInfo::Provider(info) => info.requirements.allows_program(program),
            _ => false,
        };
        declared || self.granted.iter().any(|p| p == "*" || p == program)
    }

    /// [`LoadedPlugin::may_start`] as an error naming the plugin, the program and the fix.
    pub fn check_program(&self, program: &str) -> Result<(), PluginError> {
        if self.may_start(program) {
            return Ok(());
        }
        let allowed: Vec<&str> = self
            .declared_programs()
            .iter()
            .chain(self.granted.iter())
            .map(String::as_str)
            .collect();
        let hint = if self.needs_grant() {
            format!(
                "it was built for plugin interface 0.1, which cannot declare programs: if you \
                 trust it, grant it with `codecafe plugin grant {} {program}`",
                self.id
            )
        } else {
            "the plugin is broken or hostile: remove it (`codecafe plugin list` shows where it \
             comes from)"
                .to_owned()
        };
        let declared = if allowed.is_empty() {
            "nothing".to_owned()
        } else {
            allowed.join(", ")
        };
        Err(PluginError::UndeclaredProgram {
            plugin: self.id.to_string(),
            program: program.to_owned(),
            detail: format!("(it may start: {declared}); {hint}"),
        })
    }

    /// Whether its component is loaded and linked in this process yet (a plugin known from the
    /// index is loaded when its first session starts).
    pub fn is_linked(&self) -> bool {
        self.pre.is_ready()
    }

    /// A fresh instance for one stage session of a provider.
    pub fn provider_session(&self) -> Result<ProviderSession, PluginError> {
        ProviderSession::new(self)
    }

    /// A fresh instance of a signal parser.
    pub fn signal_parser_session(&self) -> Result<SignalParserSession, PluginError> {
        SignalParserSession::new(self)
    }

    fn read_info(&self) -> Result<PluginInfo, PluginError> {
        let info = match self.kind {
            PluginKind::Provider => {
                PluginInfo::Provider(Box::new(self.provider_session()?.info()?))
            }
            PluginKind::SignalParser => {
                PluginInfo::SignalParser(self.signal_parser_session()?.info()?)
            }
        };
        let id = info.id();
        let valid = !id.is_empty()
            && id.len() <= 64
            && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            return Err(PluginError::InvalidInfo {
                plugin: self.id.to_string(),
                message: format!(
                    "its id {id:?} is not valid: use 1 to 64 lowercase letters, digits and `-`, \
                     starting with a letter or digit"
                ),
            });
        }
        Ok(info)
    }
}

fn engine_config() -> Config {
    let mut config = Config::new();
    // Plugins are synchronous; without the async machinery a call costs about half as much.
    config.concurrency_support(false);
    config.epoch_interruption(true);
    config.max_wasm_stack(512 << 10);
    // Wasmtime's own traps and backtraces do not need `.eh_frame`; leaving it out makes loading
    // a cached plugin about 10% faster (no unwind tables to register).
    config.native_unwind_info(false);
    config
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until told to stop or the engine is gone.
fn spawn_epoch_ticker(engine: wasmtime::EngineWeak, stop: Arc<AtomicBool>) {
    let spawned = std::thread::Builder::new()
        .name("codecafe-epoch".to_owned())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                match engine.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        });
    if let Err(err) = spawned {
        tracing::error!("could not start the plugin deadline ticker: {err}");
    }
}

/// Deadline ticks for a wall-time limit, at least one.
fn deadline_ticks(deadline: Duration) -> u64 {
    (deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64 + 1
}
