//! The built-in plugins: `claude-code`, `codex`, `command` and `signals-default`, compiled from
//! `plugins/` by this crate's build script and embedded in the binary.

use codecafe_plugin_host::PluginSource;

/// One embedded plugin component.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinPlugin {
    /// The plugin's id.
    pub id: &'static str,
    /// The component's bytes.
    pub bytes: &'static [u8],
    /// BLAKE3 hash of the bytes, hex, computed at build time.
    pub hash: &'static str,
}

impl BuiltinPlugin {
    /// The plugin as a source for the plugin host.
    pub fn source(&self) -> PluginSource {
        PluginSource::built_in(self.bytes, self.hash, self.id)
    }
}

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

include!("../plugin_profile.rs");

/// Sources for every built-in plugin, in discovery order. The embedded bytes are copied into
/// shared buffers once per process; later calls share them.
pub fn sources() -> Vec<PluginSource> {
    static SOURCES: std::sync::OnceLock<Vec<PluginSource>> = std::sync::OnceLock::new();
    SOURCES
        .get_or_init(|| BUILTINS.iter().map(BuiltinPlugin::source).collect())
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_a_component_with_its_hash() {
        assert_eq!(BUILTINS.len(), 5);
        for plugin in BUILTINS {
            // The component-model preamble: magic, then version 0x0d with layer 1.
            assert_eq!(&plugin.bytes[..4], b"\0asm", "{}", plugin.id);
            assert_eq!(
                &plugin.bytes[4..8],
                &[0x0d, 0x00, 0x01, 0x00],
                "{}",
                plugin.id
            );
            assert_eq!(plugin.source().hash_hex(), plugin.hash);
        }
    }
}
