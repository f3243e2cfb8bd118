//! What a provider may make the host start: the programs it declared (interface 0.2), or for a
//! provider built for interface 0.1, which cannot declare any, only what the user granted. The
//! check is made where the plugin asks, in `build-command`, and names the plugin, the program
//! and the fix.

use codecafe_plugin_host::{HostConfig, Origin, PluginError, PluginHost, PluginSource};
use codecafe_sdk::Invocation;
use codecafe_test_support::fixture_plugin;

fn host() -> PluginHost {
    PluginHost::new(HostConfig {
        cache_dir: Some(codecafe_test_support::shared_compile_cache()),
        ..HostConfig::default()
    })
    .expect("host starts")
}

fn load(fixture: &str) -> codecafe_plugin_host::LoadedPlugin {
    let source =
        PluginSource::from_file(&fixture_plugin(fixture), Origin::Repository).expect("fixture");
    host().load(source).expect("loads")
}

fn invocation() -> Invocation {
    Invocation::new("do it", "/tmp/codecafe-programs-test/tree")
}

#[test]
fn a_provider_that_starts_what_it_did_not_declare_is_refused() {
    let plugin = load("undeclared-program");
    assert_eq!(plugin.id(), "claude-code");
    assert_eq!(plugin.declared_programs(), ["claude"]);
    assert!(!plugin.needs_grant());
    let error = plugin
        .provider_session()
        .expect("instantiates")
        .build_command(&invocation())
        .expect_err("sh is refused");
    match &error {
        PluginError::UndeclaredProgram {
            plugin, program, ..
        } => assert_eq!((plugin.as_str(), program.as_str()), ("claude-code", "sh")),
        other => panic!("expected an undeclared program, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("may start: claude"), "{message}");
}

#[test]
fn an_interface_0_1_provider_loads_and_starts_only_what_was_granted() {
    let plugin = load("legacy-v1");
    assert_eq!(plugin.id(), "legacy");
    assert_eq!(plugin.inspection().wit_version(), Some("0.1.0"));
    assert!(plugin.needs_grant());
    assert!(plugin.declared_programs().is_empty());
    let refused = plugin
        .provider_session()
        .expect("instantiates")
        .build_command(&invocation())
        .expect_err("nothing granted");
    let message = refused.to_string();
    assert!(
        message.contains("codecafe plugin grant legacy sh"),
        "{message}"
    );

    let granted = plugin.with_granted_programs(vec!["sh".to_owned()]);
    let spec = granted
        .provider_session()
        .expect("instantiates")
        .build_command(&invocation())
        .expect("no plugin error")
        .expect("a command");
    assert_eq!(spec.program, "sh");
    // It got no policy (0.1 knows none) and still builds; its events read as 0.1 ones.
    let batch = granted
        .provider_session()
        .expect("instantiates")
        .parse_output(codecafe_sdk::Stream::Stdout, "done")
        .expect("parses");
    assert_eq!(batch.events.len(), 1);
}
