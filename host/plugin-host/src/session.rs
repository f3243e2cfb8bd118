//! Plugin sessions: one sandboxed instance each, and the calls on it.
//!
//! Every call sets the epoch deadline first and classifies what comes back: the plugin's own
//! result, or a trap / limit turned into a [`PluginError`] naming the plugin and the call. After
//! a trap the instance is replaced by a fresh one, so the session stays usable.

use std::sync::Arc;

use codecafe_sdk::types as sdk;
use wasmtime::Store;

use crate::bindings::{self, provider, provider_v1, signals};
use crate::sandbox::{self, MemoryCapReached, SandboxState};
use crate::{LoadedPlugin, PluginError, PluginKind, deadline_ticks};

/// The linked, pre-instantiated form of a plugin (cheap to clone: shared underneath).
#[derive(Clone)]
pub(crate) enum Pre {
    Provider(provider::ProviderPre<SandboxState>),
    /// A provider built against `codecafe:provider@0.1.0`.
    ProviderV1(provider_v1::ProviderPre<SandboxState>),
    SignalParser(signals::SignalParserPre<SandboxState>),
}

/// A provider instance, of either linked version.
pub(crate) enum ProviderBindings {
    V2(provider::Provider),
    V1(provider_v1::Provider),
}

/// Runs `$body` on the provider's adapter interface of whichever version it is, with `$conv`
/// naming that version's conversions (`crate::bindings::v2` or `v1`).
macro_rules! on_adapter {
    ($bindings:expr, |$adapter:ident, $conv:ident| $body:expr) => {
        match $bindings {
            ProviderBindings::V2(b) => {
                use crate::bindings::v2 as $conv;
                let $adapter = b.codecafe_provider_adapter();
                $body
            }
            ProviderBindings::V1(b) => {
                use crate::bindings::v1 as $conv;
                let $adapter = b.codecafe_provider_adapter();
                $body
            }
        }
    };
}

/// The parts every session has: the plugin, its store, the limits.
struct Instance<B> {
    plugin: LoadedPlugin,
    store: Store<SandboxState>,
    bindings: B,
}

/// How much of a plugin's log goes into an error message.
const LOG_TAIL: usize = 2048;

impl<B> Instance<B> {
    fn new(
        plugin: &LoadedPlugin,
        instantiate: impl Fn(&Pre, &mut Store<SandboxState>) -> wasmtime::Result<B>,
    ) -> Result<Self, PluginError> {
        // Linked first (a plugin known from the index may compile here): the deadline is the
        // instance's, not the compiler's.
        let pre = plugin.pre.get(&plugin.host)?;
        let limits = plugin.host.limits;
        let mut store = sandbox::new_store(&plugin.host.engine, &limits);
        store.set_epoch_deadline(deadline_ticks(limits.call_deadline));
        let bindings = instantiate(pre, &mut store)
            .map_err(|err| classify(plugin, &store, "instantiate", err))?;
        Ok(Self {
            plugin: plugin.clone(),
            store,
            bindings,
        })
    }

    /// Runs one call under the deadline; on failure replaces the instance.
    fn call<R>(
        &mut self,
        name: &'static str,
        instantiate: impl Fn(&Pre, &mut Store<SandboxState>) -> wasmtime::Result<B>,
        f: impl FnOnce(&B, &mut Store<SandboxState>) -> wasmtime::Result<R>,
        size: impl FnOnce(&R) -> usize,
    ) -> Result<R, PluginError> {
        let limits = self.plugin.host.limits;
        self.store
            .set_epoch_deadline(deadline_ticks(limits.call_deadline));
        match f(&self.bindings, &mut self.store) {
            Ok(value) => {
                let returned = size(&value);
                if returned > limits.output_bytes {
                    return Err(PluginError::OutputTooLarge {
                        plugin: self.plugin.id.to_string(),
                        call: name,
                        size: returned,
                        limit: limits.output_bytes,
                    });
                }
                Ok(value)
            }
            Err(err) => {
                let error = classify(&self.plugin, &self.store, name, err);
                // A trapped instance may be in any state: discard it.
                *self = Self::new(&self.plugin, instantiate)?;
                Err(error)
            }
        }
    }

    fn log(&self) -> String {
        self.store.data().log.text()
    }
}

/// Turns a wasmtime error from a call into the error users see.
fn classify(
    plugin: &LoadedPlugin,
    store: &Store<SandboxState>,
    call: &'static str,
    err: wasmtime::Error,
) -> PluginError {
    let id = plugin.id.to_string();
    let limits = plugin.host.limits;
    if let Some(cap) = err.downcast_ref::<MemoryCapReached>() {
        return PluginError::MemoryLimit {
            plugin: id,
            call,
            requested: cap.requested,
            limit: cap.limit,
        };
    }
    if let Some(requested) = store.data().limiter.refused {
        return PluginError::MemoryLimit {
            plugin: id,
            call,
            requested,
            limit: limits.memory_bytes,
        };
    }
    let log = store.data().log.tail(LOG_TAIL);
    match err.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => PluginError::DeadlineExceeded {
            plugin: id,
            call,
            deadline: limits.call_deadline,
        },
        Some(wasmtime::Trap::StackOverflow) => PluginError::Trap {
            plugin: id,
            call,
            reason: "stack overflow (too deep recursion)".to_owned(),
            log,
        },
        Some(wasmtime::Trap::UnreachableCodeReached) => PluginError::Trap {
            plugin: id,
            call,
            reason: "the plugin panicked or aborted".to_owned(),
            log,
        },
        Some(trap) => PluginError::Trap {
            plugin: id,
            call,
            reason: trap.to_string(),
            log,
        },
        None => PluginError::Trap {
            plugin: id,
            call,
            reason: format!("{err:#}"),
            log,
        },
    }
}

fn instantiate_provider(
    pre: &Pre,
    store: &mut Store<SandboxState>,
) -> wasmtime::Result<ProviderBindings> {
    match pre {
        Pre::Provider(pre) => pre.instantiate(store).map(ProviderBindings::V2),
        Pre::ProviderV1(pre) => pre.instantiate(store).map(ProviderBindings::V1),
        Pre::SignalParser(_) => Err(wasmtime::format_err!("not a provider")),
    }
}

fn instantiate_parser(
    pre: &Pre,
    store: &mut Store<SandboxState>,
) -> wasmtime::Result<signals::SignalParser> {
    match pre {
        Pre::SignalParser(pre) => pre.instantiate(store),
        Pre::Provider(_) | Pre::ProviderV1(_) => Err(wasmtime::format_err!("not a signal parser")),
    }
}

/// One instance of a provider plugin, for one stage session.
pub struct ProviderSession {
    instance: Instance<ProviderBindings>,
}

impl std::fmt::Debug for ProviderSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSession")
            .field("plugin", &self.instance.plugin.id)
            .finish_non_exhaustive()
    }
}

fn no_size<T>(_: &T) -> usize {
    0
}

fn str_size(s: &str) -> usize {
    s.len()
}

impl ProviderSession {
    pub(crate) fn new(plugin: &LoadedPlugin) -> Result<Self, PluginError> {
        if plugin.kind != PluginKind::Provider {
            return Err(PluginError::WrongKind {
                id: plugin.id.to_string(),
                found: plugin.kind.label(),
                expected: PluginKind::Provider.label(),
            });
        }
        Ok(Self {
            instance: Instance::new(plugin, instantiate_provider)?,
        })
    }

    /// The plugin's id.
    pub fn plugin_id(&self) -> Arc<str> {
        Arc::clone(&self.instance.plugin.id)
    }

    /// What the plugin has written to stdout/stderr in this session (bounded).
    pub fn log(&self) -> String {
        self.instance.log()
    }

    /// `info`.
    pub fn info(&mut self) -> Result<sdk::ProviderInfo, PluginError> {
        self.instance.call(
            "info",
            instantiate_provider,
            |b, s| on_adapter!(b, |a, conv| a.call_info(s).map(conv::info_from_wit)),
            |i| str_size(&i.id) + str_size(&i.name) + str_size(&i.description),
        )
    }

    /// `build-command`: the command for an invocation, or the plugin's typed refusal.
    pub fn build_command(
        &mut self,
        invocation: &sdk::Invocation,
    ) -> Result<Result<sdk::CommandSpec, sdk::BuildError>, PluginError> {
        let built = self.instance.call(
            "build-command",
            instantiate_provider,
            |b, s| {
                on_adapter!(b, |a, conv| a
                    .call_build_command(s, &conv::invocation_to_wit(invocation))
                    .map(|r| r
                        .map(conv::command_from_wit)
                        .map_err(conv::build_error_from_wit)))
            },
            |r| match r {
                Ok(c) => {
                    c.program.len()
                        + c.args.iter().map(String::len).sum::<usize>()
                        + c.env.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
                }
                Err(_) => 0,
            },
        )?;
        // What the plugin asks the host to start is checked here, where it asks.
        if let Ok(spec) = &built {
            self.instance.plugin.check_program(&spec.program)?;
        }
        Ok(built)
    }

    /// `parse-output`: one or more complete lines of the agent's output, joined by `\n`
    /// (without the last line's ending), in one call.
    pub fn parse_output(
        &mut self,
        source: sdk::Stream,
        lines: &str,
    ) -> Result<sdk::OutputBatch, PluginError> {
        self.instance.call(
            "parse-output",
            instantiate_provider,
            |b, s| {
                on_adapter!(b, |a, conv| a
                    .call_parse_output(s, conv::stream_to_wit(source), lines)
                    .map(conv::batch_from_wit))
            },
            bindings::batch_size,
        )
    }

    /// `finish-output`: the agent exited.
    pub fn finish_output(
        &mut self,
        exit_code: Option<i32>,
    ) -> Result<sdk::OutputBatch, PluginError> {
        self.instance.call(
            "finish-output",
            instantiate_provider,
            |b, s| {
                on_adapter!(b, |a, conv| a
                    .call_finish_output(s, exit_code)
                    .map(conv::batch_from_wit))
            },
            bindings::batch_size,
        )
    }

    /// `encode-input`: bytes delivering the user's text to the running agent.
    pub fn encode_input(
        &mut self,
        text: &str,
    ) -> Result<Result<Vec<u8>, sdk::AdapterError>, PluginError> {
        self.instance.call(
            "encode-input",
            instantiate_provider,
            |b, s| {
                on_adapter!(b, |a, conv| a
                    .call_encode_input(s, text)
                    .map(|r| r.map_err(conv::adapter_error_from_wit)))
            },
            |r| r.as_ref().map_or(0, Vec::len),
        )
    }

    /// `encode-approval`: bytes delivering the user's decision on an approval request, with a
    /// denial's reason for the agent (a 0.1 plugin cannot take one).
    pub fn encode_approval(
        &mut self,
        request_id: &str,
        decision: sdk::ApprovalDecision,
        reason: Option<&str>,
    ) -> Result<Result<Vec<u8>, sdk::AdapterError>, PluginError> {
        self.instance.call(
            "encode-approval",
            instantiate_provider,
            |b, s| match b {
                ProviderBindings::V2(b) => {
                    use crate::bindings::v2 as conv;
                    b.codecafe_provider_adapter()
                        .call_encode_approval(
                            s,
                            request_id,
                            conv::decision_to_wit(decision),
                            reason,
                        )
                        .map(|r| r.map_err(conv::adapter_error_from_wit))
                }
                ProviderBindings::V1(b) => {
                    use crate::bindings::v1 as conv;
                    b.codecafe_provider_adapter()
                        .call_encode_approval(s, request_id, conv::decision_to_wit(decision))
                        .map(|r| r.map_err(conv::adapter_error_from_wit))
                }
            },
            |r| r.as_ref().map_or(0, Vec::len),
        )
    }

    /// `check-screen`: the agent's state from its rendered screen.
    pub fn check_screen(
        &mut self,
        screen: &str,
        title: &str,
    ) -> Result<sdk::ScreenState, PluginError> {
        self.instance.call(
            "check-screen",
            instantiate_provider,
            |b, s| {
                on_adapter!(b, |a, conv| a
                    .call_check_screen(s, screen, title)
                    .map(conv::screen_from_wit))
            },
            no_size,
        )
    }

    /// `parse-transcript`: lines the agent appended to its transcript (interactive mode). A
    /// 0.1 plugin reads no transcript.
    pub fn parse_transcript(&mut self, lines: &str) -> Result<sdk::OutputBatch, PluginError> {
        self.instance.call(
            "parse-transcript",
            instantiate_provider,
            |b, s| match b {
                ProviderBindings::V2(b) => {
                    use crate::bindings::v2 as conv;
                    b.codecafe_provider_adapter()
                        .call_parse_transcript(s, lines)
                        .map(conv::batch_from_wit)
                }
                ProviderBindings::V1(_) => Ok(sdk::OutputBatch::default()),
            },
            bindings::batch_size,
        )
    }
}

/// One instance of a signal parser plugin.
pub struct SignalParserSession {
    instance: Instance<signals::SignalParser>,
}

impl std::fmt::Debug for SignalParserSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalParserSession")
            .field("plugin", &self.instance.plugin.id)
            .finish_non_exhaustive()
    }
}

impl SignalParserSession {
    pub(crate) fn new(plugin: &LoadedPlugin) -> Result<Self, PluginError> {
        if plugin.kind != PluginKind::SignalParser {
            return Err(PluginError::WrongKind {
                id: plugin.id.to_string(),
                found: plugin.kind.label(),
                expected: PluginKind::SignalParser.label(),
            });
        }
        Ok(Self {
            instance: Instance::new(plugin, instantiate_parser)?,
        })
    }

    /// What the plugin has written to stdout/stderr in this session (bounded).
    pub fn log(&self) -> String {
        self.instance.log()
    }

    /// `info`.
    pub fn info(&mut self) -> Result<sdk::ParserInfo, PluginError> {
        self.instance
            .call(
                "info",
                instantiate_parser,
                |b, s| b.codecafe_signals_parser().call_info(s),
                |i| str_size(&i.id) + str_size(&i.name) + str_size(&i.description),
            )
            .map(bindings::parser_info_from_wit)
    }

    /// `parse`: the signals in a stage's final text, or the plugin's typed refusal.
    pub fn parse(
        &mut self,
        text: &str,
        context: &sdk::StageContext,
    ) -> Result<Result<sdk::StageSignals, sdk::SignalError>, PluginError> {
        let context = bindings::context_to_wit(context);
        self.instance
            .call(
                "parse",
                instantiate_parser,
                |b, s| b.codecafe_signals_parser().call_parse(s, text, &context),
                bindings::signals_size,
            )
            .map(bindings::signals_from_wit)
    }
}
