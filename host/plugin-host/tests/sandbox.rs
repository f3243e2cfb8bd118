//! The sandbox against hostile plugins built from `tests/fixtures/plugins/`: each attack ends in
//! a clear, contained error and the same session serves the next call normally.

use std::time::Duration;

use codecafe_plugin_host::{
    HostConfig, Limits, Origin, PluginError, PluginHost, PluginKind, PluginSource, ProviderSession,
};
use codecafe_sdk::{AgentEvent, Stream};
use codecafe_test_support::fixture_plugin;

fn host() -> PluginHost {
    PluginHost::new(HostConfig {
        cache_dir: Some(codecafe_test_support::shared_compile_cache()),
        limits: Limits {
            memory_bytes: 32 << 20,
            call_deadline: Duration::from_millis(300),
            ..Limits::default()
        },
    })
    .expect("host starts")
}

fn session(host: &PluginHost, fixture: &str) -> ProviderSession {
    let source =
        PluginSource::from_file(&fixture_plugin(fixture), Origin::User).expect("fixture file");
    let plugin = host.load(source).expect("fixture loads");
    assert_eq!(plugin.kind(), PluginKind::Provider);
    assert_eq!(plugin.id(), format!("fixture-{fixture}"));
    plugin.provider_session().expect("instantiates")
}

/// Runs the attack, returns its error, and checks that the next call works.
fn attack(fixture: &str) -> PluginError {
    let host = host();
    let mut session = session(&host, fixture);
    let error = session
        .parse_output(Stream::Stdout, "attack")
        .expect_err("the attack must fail");
    assert!(error.is_contained(), "{fixture}: {error}");
    let message = error.to_string();
    assert!(
        message.contains(&format!("fixture-{fixture}")),
        "names the plugin: {message}"
    );
    assert!(
        message.contains("parse-output"),
        "names the call: {message}"
    );
    let after = session
        .parse_output(Stream::Stdout, "after")
        .expect("the next call works");
    assert_eq!(
        after.events,
        [AgentEvent::AssistantText {
            text: "after".to_owned()
        }]
    );
    error
}

#[test]
fn an_infinite_loop_is_stopped_at_the_deadline() {
    match attack("loop") {
        PluginError::DeadlineExceeded { deadline, call, .. } => {
            assert_eq!(deadline, Duration::from_millis(300));
            assert_eq!(call, "parse-output");
        }
        other => panic!("expected a deadline error, got {other}"),
    }
}

#[test]
fn a_memory_bomb_hits_the_cap() {
    match attack("memory-bomb") {
        PluginError::MemoryLimit {
            limit, requested, ..
        } => {
            assert_eq!(limit, 32 << 20);
            assert!(requested > limit);
        }
        other => panic!("expected a memory limit error, got {other}"),
    }
}

#[test]
fn deep_recursion_is_a_stack_overflow() {
    match attack("deep-recursion") {
        PluginError::Trap { reason, .. } => assert!(reason.contains("stack overflow"), "{reason}"),
        other => panic!("expected a trap, got {other}"),
    }
}

#[test]
fn a_panic_is_reported_with_its_message() {
    match attack("panic") {
        PluginError::Trap { reason, log, .. } => {
            assert!(reason.contains("panicked"), "{reason}");
            assert!(log.contains("fixture panicked on purpose"), "{log}");
        }
        other => panic!("expected a trap, got {other}"),
    }
}

#[test]
fn oversized_output_is_discarded() {
    match attack("oversized-output") {
        PluginError::OutputTooLarge { size, limit, .. } => {
            assert_eq!(size, 16 << 20);
            assert_eq!(limit, Limits::default().output_bytes);
        }
        other => panic!("expected an output cap error, got {other}"),
    }
}

#[test]
fn the_host_filesystem_is_not_visible() {
    match attack("read-file") {
        PluginError::Trap { log, .. } => {
            assert!(log.contains("could not read /etc/passwd"), "{log}");
            assert!(!log.contains("root:"), "leaked: {log}");
        }
        other => panic!("expected a trap, got {other}"),
    }
}

#[test]
fn the_host_environment_is_not_visible() {
    // SAFETY of the test's premise: this process has variables that a leaking sandbox would show.
    assert!(std::env::var_os("PATH").is_some());
    match attack("read-env") {
        PluginError::Trap { log, .. } => {
            assert!(
                log.contains("no environment variables are visible"),
                "{log}"
            )
        }
        other => panic!("expected a trap, got {other}"),
    }
}

#[test]
fn sleeping_cannot_block_the_host() {
    let host = host();
    let mut session = session(&host, "sleeper");
    let batch = session
        .parse_output(Stream::Stdout, "attack")
        .expect("the sleep ends at once");
    assert_eq!(
        batch.events,
        [AgentEvent::AssistantText {
            text: "woke up".to_owned()
        }]
    );
}

#[test]
fn a_foreign_import_is_refused_at_load() {
    let source = PluginSource::from_file(&fixture_plugin("foreign-import"), Origin::User)
        .expect("fixture file");
    match host().load(source) {
        Err(PluginError::UnsupportedImport { import, .. }) => {
            assert_eq!(import, "fixture:evil/net@0.1.0")
        }
        other => panic!("expected an unsupported import error, got {other:?}"),
    }
}

#[test]
fn a_wrong_wit_version_is_refused_at_load() {
    let source = PluginSource::from_file(&fixture_plugin("wrong-version"), Origin::User)
        .expect("fixture file");
    match host().load(source) {
        Err(error @ PluginError::WrongVersion { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains("codecafe:provider/adapter@0.9.0"),
                "{message}"
            );
            assert!(message.contains("0.2.0"), "{message}");
        }
        other => panic!("expected a wrong version error, got {other:?}"),
    }
}

#[test]
fn bytes_that_are_not_a_component_are_a_compile_error() {
    let source = PluginSource::from_bytes(b"not wasm at all".to_vec(), Origin::User, "junk.wasm");
    match host().load(source) {
        Err(PluginError::Compile { plugin, .. }) => assert_eq!(plugin, "junk.wasm"),
        other => panic!("expected a compile error, got {other:?}"),
    }
}

/// A host compiling into (and loading from) the cache in `dir`.
fn cached_host(dir: &std::path::Path) -> PluginHost {
    PluginHost::new(HostConfig {
        cache_dir: Some(dir.to_owned()),
        limits: Limits::default(),
    })
    .expect("host")
}

/// Overwrites the files of the compile cache in `dir` that `which` picks with garbage.
fn corrupt_cache(dir: &std::path::Path, which: impl Fn(&std::path::Path) -> bool) {
    for entry in std::fs::read_dir(dir).expect("cache dir") {
        let path = entry.expect("entry").path();
        if which(&path) {
            std::fs::write(path, b"garbage").expect("corrupt");
        }
    }
}

/// The sleeper fixture plugin's file as a user's plugin.
fn sleeper(path: &std::path::Path) -> PluginSource {
    PluginSource::from_file(path, Origin::User).expect("file")
}

#[test]
fn a_second_host_loads_from_the_compile_cache() {
    let cache = tempfile::tempdir().expect("temp dir");
    let path = fixture_plugin("sleeper");
    let first = cached_host(cache.path());
    first.load(sleeper(&path)).expect("loads");
    assert_eq!(first.stats().compiled, 1);
    assert_eq!(first.stats().cache_hits, 0);

    // A second process knows the plugin from the index: nothing is loaded until a session
    // starts, and then it comes from the compile cache.
    let second = cached_host(cache.path());
    let plugin = second.load(sleeper(&path)).expect("known from the index");
    assert_eq!(plugin.id(), "fixture-sleeper");
    assert!(!plugin.is_linked());
    assert_eq!(second.stats().compiled, 0);
    assert_eq!(second.stats().cache_hits, 0);
    let mut session = plugin.provider_session().expect("instantiates");
    assert!(plugin.is_linked());
    assert_eq!(second.stats().compiled, 0);
    assert_eq!(second.stats().cache_hits, 1);
    plugin.provider_session().expect("a second session");
    assert_eq!(second.stats().cache_hits, 1, "linked once per process");
    // Loaded again (as each order's registry does): already linked, nothing loaded again.
    let again = second.load(sleeper(&path)).expect("known from the index");
    assert!(again.is_linked());
    again
        .provider_session()
        .expect("a session of the second load");
    assert_eq!(
        second.stats().cache_hits,
        1,
        "linked once per host, not per load"
    );
    assert_eq!(
        session
            .parse_output(Stream::Stdout, "hi")
            .expect("works")
            .events,
        [AgentEvent::AssistantText {
            text: "hi".to_owned()
        }]
    );
}

#[test]
fn a_corrupt_cache_entry_is_recompiled() {
    let cache = tempfile::tempdir().expect("temp dir");
    let path = fixture_plugin("sleeper");
    cached_host(cache.path())
        .load(sleeper(&path))
        .expect("loads");
    corrupt_cache(cache.path(), |_| true);
    let host = cached_host(cache.path());
    host.load(sleeper(&path)).expect("recompiles");
    assert_eq!(host.stats().compiled, 1);
}

#[test]
fn a_corrupt_cache_entry_of_an_indexed_plugin_is_recompiled_when_it_is_used() {
    let cache = tempfile::tempdir().expect("temp dir");
    let path = fixture_plugin("sleeper");
    cached_host(cache.path())
        .load(sleeper(&path))
        .expect("loads");
    corrupt_cache(cache.path(), |file| {
        file.extension().is_some_and(|e| e == "cwasm")
    });
    let host = cached_host(cache.path());
    let plugin = host.load(sleeper(&path)).expect("known from the index");
    assert_eq!(host.stats().compiled, 0);
    plugin
        .provider_session()
        .expect("recompiled and instantiated");
    assert_eq!(host.stats().compiled, 1);
}

#[test]
fn first_sessions_of_a_plugin_loaded_by_many_registries_at_once_link_it_once() {
    let cache = tempfile::tempdir().expect("temp dir");
    let path = fixture_plugin("sleeper");
    cached_host(cache.path())
        .load(sleeper(&path))
        .expect("loads");
    // Each order loads its own registry; their first sessions start together.
    let host = cached_host(cache.path());
    let loads: Vec<_> = (0..4)
        .map(|_| host.load(sleeper(&path)).expect("known from the index"))
        .collect();
    let start = std::sync::Barrier::new(loads.len());
    std::thread::scope(|scope| {
        for plugin in &loads {
            let start = &start;
            scope.spawn(move || {
                start.wait();
                plugin.provider_session().expect("instantiates");
            });
        }
    });
    assert!(loads.iter().all(|plugin| plugin.is_linked()));
    assert_eq!(host.stats().compiled, 0);
    assert_eq!(host.stats().cache_hits, 1, "loaded and linked once");
}
