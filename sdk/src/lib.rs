//! # codecafe-sdk
//!
//! The one crate a codecafe plugin depends on. A plugin is a WebAssembly component that teaches
//! codecafe something new:
//!
//! - a **provider** drives one agent CLI: it builds the command line for a stage and turns the
//!   agent's output into normalized [`AgentEvent`]s ([`Provider`], [`export_provider!`]);
//! - a **signal parser** reads what a finished stage asks the workflow to do next
//!   ([`SignalParser`], [`export_signal_parser!`]).
//!
//! Plugins are data-only and sandboxed: they cannot read files, see the environment, open
//! sockets or spawn processes. The host does all of that with what the plugin returns.
//!
//! ## A provider in a few lines
//!
//! ```
//! use codecafe_sdk::*;
//!
//! #[derive(Default)]
//! struct Echo;
//!
//! impl Provider for Echo {
//!     fn info(&self) -> ProviderInfo {
//!         provider_info!("echo", "Echo", "Prints the prompt back.", programs: ["echo"])
//!     }
//!
//!     fn build_command(&mut self, invocation: &Invocation) -> Result<CommandSpec, BuildError> {
//!         Ok(CommandSpec::new("echo").arg(&invocation.prompt))
//!     }
//! }
//!
//! export_provider!(Echo);
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --release` (crate type `cdylib`) and add the
//! `.wasm` with `codecafe plugin add`. The programs a provider names in its info are the only
//! ones the host will start for it; the variables its agent needs from the user's environment
//! go in `info.requirements.env`. Every trait method but `info` and `build_command` has a
//! default, so the plugin above already turns each output line into assistant text; when a run
//! reports no [`AgentEvent::FinalResult`], the host takes its assistant text as the final text.
//!
//! ## Reading options and output
//!
//! [`Invocation`] reads a stage's options typed ([`Invocation::option`], [`Invocation::choice`],
//! [`Invocation::bool_option`], [`Invocation::string_list`]) and turns a bad value into a
//! [`BuildError::InvalidOption`] that names the key. The [`json`] module reads agents' JSON lines
//! tolerantly, and fast ([`json::Str`] and [`json::StrOr`] borrow strings from the line);
//! [`LineFramer`] makes lines of output chunks.
//!
//! ## Testing
//!
//! Off `wasm32` a plugin is an ordinary crate: its tests call the trait methods directly. The
//! [`testing`] module builds invocations, reads captured transcripts and replays them in random
//! chunk splits, and picks events of one kind out of a run.
//!
//! ## State
//!
//! The host makes a fresh instance of a plugin for every stage session, created with
//! [`Default`], and calls it from one thread; `&mut self` methods may keep parsing state (tool
//! names by id, text seen so far) for the length of that session.

extern crate self as codecafe_sdk;

pub mod framing;
pub mod json;
pub mod jsonrpc;
pub mod testing;
pub mod types;

#[doc(hidden)]
pub mod __private;

pub use framing::LineFramer;
pub use types::*;

/// The version of the provider WIT package (`codecafe:provider`) this SDK builds against.
pub const WIT_VERSION: &str = "0.2.0";

/// The version of the signal parser WIT package (`codecafe:signals`) this SDK builds against.
pub const SIGNALS_WIT_VERSION: &str = "0.1.0";

/// A provider adapter: the knowledge of how to drive one agent CLI.
///
/// Implement it on a `Default` type and export it with [`export_provider!`].
pub trait Provider: Default + 'static {
    /// Who this provider is and what it can do.
    fn info(&self) -> ProviderInfo;

    /// The command to start the agent for this invocation.
    fn build_command(&mut self, invocation: &Invocation) -> Result<CommandSpec, BuildError>;

    /// One line of the agent's output, without its line ending (in PTY mode, one chunk).
    ///
    /// The default makes each non-empty stdout line assistant text and each stderr line a log
    /// entry, and remembers the stdout text for [`Provider::finish_output`].
    fn parse_output(&mut self, source: Stream, line: &str) -> OutputBatch {
        default_parse_output(source, line)
    }

    /// The agent exited (`None`: killed by a signal). Flush anything pending.
    ///
    /// The default reports nothing; the host treats a non-zero exit without a final result as a
    /// failure on its own.
    fn finish_output(&mut self, exit_code: Option<i32>) -> OutputBatch {
        let _ = exit_code;
        OutputBatch::default()
    }

    /// Bytes that deliver the user's text to the running agent. The default is the text and a
    /// newline.
    fn encode_input(&mut self, text: &str) -> Result<Vec<u8>, AdapterError> {
        let mut bytes = text.as_bytes().to_vec();
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Bytes that deliver the user's decision on an approval request (with the reason of a
    /// denial, for the agent). Unsupported by default.
    fn encode_approval(
        &mut self,
        request_id: &str,
        decision: ApprovalDecision,
        reason: Option<&str>,
    ) -> Result<Vec<u8>, AdapterError> {
        let _ = (request_id, decision, reason);
        Err(AdapterError::Unsupported("approvals".to_owned()))
    }

    /// Interactive mode: the agent's state from its rendered screen and window title. The
    /// default cannot tell, and says busy so the host keeps waiting.
    fn check_screen(&mut self, screen: &str, title: &str) -> ScreenState {
        let _ = (screen, title);
        ScreenState::Busy
    }

    /// Interactive mode: one complete line the agent appended to its transcript. A
    /// `FinalResult` marks the end of the agent's turn. The default reads nothing.
    fn parse_transcript(&mut self, line: &str) -> OutputBatch {
        let _ = line;
        OutputBatch::default()
    }
}

/// The default reading of one output line: stdout is assistant text, stderr is a log entry.
pub fn default_parse_output(source: Stream, line: &str) -> OutputBatch {
    if line.trim().is_empty() {
        return OutputBatch::default();
    }
    OutputBatch::one(match source {
        Stream::Stdout => AgentEvent::AssistantText {
            text: line.to_owned(),
        },
        Stream::Stderr => AgentEvent::Log {
            text: line.to_owned(),
        },
    })
}

/// A [`ProviderInfo`] for a headless provider with no special capabilities, versioned with
/// the plugin crate's own version, optionally with the programs it may start (the host starts
/// nothing else for it): `provider_info!("echo", "Echo", "…", programs: ["echo"])`. Adjust the
/// fields you need.
#[macro_export]
macro_rules! provider_info {
    ($id:expr, $name:expr, $description:expr, programs: [$($program:expr),* $(,)?]) => {{
        let mut info = $crate::provider_info!($id, $name, $description);
        info.requirements.programs = ::std::vec![$(::std::string::String::from($program)),*];
        info
    }};
    ($id:expr, $name:expr, $description:expr) => {
        $crate::ProviderInfo {
            id: ::std::string::String::from($id),
            name: ::std::string::String::from($name),
            version: ::std::string::String::from(env!("CARGO_PKG_VERSION")),
            description: ::std::string::String::from($description),
            modes: ::std::vec![$crate::Mode::Headless],
            capabilities: $crate::Capabilities::default(),
            requirements: $crate::Requirements::default(),
            readiness: ::std::option::Option::None,
        }
    };
}

/// A signal parser: reads what a finished stage asks the workflow to do next.
///
/// Implement it on a `Default` type and export it with [`export_signal_parser!`].
pub trait SignalParser: Default + 'static {
    /// Who this parser is.
    fn info(&self) -> ParserInfo;

    /// The signals in a stage's final text.
    fn parse(&mut self, text: &str, context: &StageContext) -> Result<StageSignals, SignalError>;
}

/// Exports a [`Provider`] implementation as the plugin's `codecafe:provider/adapter` interface.
///
/// Use it once per plugin crate, at the top level. On targets other than `wasm32` it expands to
/// nothing, so the same crate can be tested and benchmarked natively.
#[macro_export]
macro_rules! export_provider {
    ($provider:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        const _: () = {
            ::std::thread_local! {
                static STATE: ::std::cell::RefCell<::std::option::Option<$provider>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            struct Export;
            impl $crate::__private::HasProvider for Export {
                type Provider = $provider;
                fn with<R>(f: impl FnOnce(&mut $provider) -> R) -> R {
                    STATE.with(|state| {
                        let mut state = state.borrow_mut();
                        f(state.get_or_insert_with(<$provider as ::std::default::Default>::default))
                    })
                }
            }
            $crate::__private::export_provider_world!(Export with_types_in $crate::__private::provider_bindings);
        };
    };
}

/// Exports a [`SignalParser`] implementation as the plugin's `codecafe:signals/parser`
/// interface. Like [`export_provider!`], it expands to nothing off `wasm32`.
#[macro_export]
macro_rules! export_signal_parser {
    ($parser:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        const _: () = {
            ::std::thread_local! {
                static STATE: ::std::cell::RefCell<::std::option::Option<$parser>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            struct Export;
            impl $crate::__private::HasSignalParser for Export {
                type Parser = $parser;
                fn with<R>(f: impl FnOnce(&mut $parser) -> R) -> R {
                    STATE.with(|state| {
                        let mut state = state.borrow_mut();
                        f(state.get_or_insert_with(<$parser as ::std::default::Default>::default))
                    })
                }
            }
            $crate::__private::export_signals_world!(Export with_types_in $crate::__private::signals_bindings);
        };
    };
}
