//! The plugin host's errors: what went wrong, with which plugin, in which call.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong loading or calling a plugin.
///
/// Expected failures of a plugin (a bad stage option, an unreadable signal block) are not errors
/// here: they are typed values the calls return. These are the failures of the plugin itself or
/// of the sandbox around it.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },

    /// The bytes are not a WebAssembly component this host can compile.
    #[error(
        "{plugin}: not a valid WebAssembly component ({message}); build plugins with \
         `cargo build --target wasm32-wasip2` against codecafe-sdk"
    )]
    Compile {
        /// Where the plugin came from.
        plugin: String,
        /// Wasmtime's explanation.
        message: String,
    },

    /// The component exports neither plugin world.
    #[error(
        "{plugin}: exports no codecafe plugin interface (it exports: {exports}); a plugin must \
         export `codecafe:provider/adapter@{supported}` or `codecafe:signals/parser@{supported}`"
    )]
    UnknownWorld {
        /// Where the plugin came from.
        plugin: String,
        /// What it exports instead, comma-separated.
        exports: String,
        /// The WIT version this host supports.
        supported: &'static str,
    },

    /// The component was built against a WIT version this host does not support.
    #[error(
        "{plugin}: built against `{found}`, but this codecafe supports {supported}; rebuild \
         the plugin with this codecafe's codecafe-sdk"
    )]
    WrongVersion {
        /// Where the plugin came from.
        plugin: String,
        /// The interface it exports.
        found: String,
        /// The WIT version this host supports.
        supported: &'static str,
    },

    /// The component imports something the sandbox does not provide.
    #[error(
        "{plugin}: imports `{import}`, which codecafe does not provide; plugins may import only \
         WASI 0.2 interfaces (and get no files, environment or network through them)"
    )]
    UnsupportedImport {
        /// Where the plugin came from.
        plugin: String,
        /// The import's name.
        import: String,
    },

    /// Linking or instantiating failed.
    #[error("{plugin}: cannot be instantiated: {message}")]
    Instantiate {
        /// Where the plugin came from.
        plugin: String,
        /// Wasmtime's explanation.
        message: String,
    },

    /// The plugin's `info` is unusable.
    #[error("{plugin}: {message}")]
    InvalidInfo {
        /// Where the plugin came from.
        plugin: String,
        /// What is wrong.
        message: String,
    },

    /// A call ran past its deadline and was interrupted.
    #[error("plugin `{plugin}` ran past its {deadline:?} deadline in `{call}` and was stopped")]
    DeadlineExceeded {
        /// The plugin's id.
        plugin: String,
        /// The WIT function.
        call: &'static str,
        /// The deadline.
        deadline: Duration,
    },

    /// The plugin tried to grow its memory past the cap.
    #[error(
        "plugin `{plugin}` tried to use {requested} bytes of memory in `{call}`, over its cap of \
         {limit} bytes, and was stopped"
    )]
    MemoryLimit {
        /// The plugin's id.
        plugin: String,
        /// The WIT function.
        call: &'static str,
        /// Bytes it asked for.
        requested: usize,
        /// The cap.
        limit: usize,
    },

    /// The plugin returned more data than a call may return.
    #[error(
        "plugin `{plugin}` returned {size} bytes from `{call}`, over the cap of {limit} bytes; \
         the result was discarded"
    )]
    OutputTooLarge {
        /// The plugin's id.
        plugin: String,
        /// The WIT function.
        call: &'static str,
        /// Bytes returned.
        size: usize,
        /// The cap.
        limit: usize,
    },

    /// A provider asked the host to start a program it did not declare (and the user did not
    /// grant it).
    #[error("plugin `{plugin}` asked to start `{program}`, which it did not declare {detail}")]
    UndeclaredProgram {
        /// The plugin's id.
        plugin: String,
        /// The program it asked for.
        program: String,
        /// What it may start, and what the user can do.
        detail: String,
    },

    /// The plugin trapped: a panic, a stack overflow or another fault.
    #[error("plugin `{plugin}` failed in `{call}`: {reason}{}", log_suffix(.log))]
    Trap {
        /// The plugin's id.
        plugin: String,
        /// The WIT function.
        call: &'static str,
        /// The trap, in words.
        reason: String,
        /// The end of what the plugin wrote to stdout/stderr (a panic message, usually).
        log: String,
    },

    /// A plugin with this id is not installed.
    #[error("no plugin `{id}` is installed; `codecafe plugin list` shows the installed ones")]
    NotFound {
        /// The id asked for.
        id: String,
    },

    /// A built-in plugin cannot be removed.
    #[error(
        "`{id}` is built in and cannot be removed; a plugin with the same id in the plugins folder overrides it"
    )]
    BuiltIn {
        /// The id.
        id: String,
    },

    /// The plugin is of the other kind than the caller needs.
    #[error("plugin `{id}` is a {found}, not a {expected}")]
    WrongKind {
        /// The plugin's id.
        id: String,
        /// What it is.
        found: &'static str,
        /// What was needed.
        expected: &'static str,
    },
}

fn log_suffix(log: &str) -> String {
    let log = log.trim();
    if log.is_empty() {
        String::new()
    } else {
        format!("\n  plugin output: {}", log.replace('\n', "\n  "))
    }
}

impl PluginError {
    /// True for failures of one call that leave the plugin usable for the next call
    /// (the host has already replaced the failed instance).
    pub fn is_contained(&self) -> bool {
        matches!(
            self,
            Self::DeadlineExceeded { .. }
                | Self::MemoryLimit { .. }
                | Self::OutputTooLarge { .. }
                | Self::Trap { .. }
        )
    }
}
