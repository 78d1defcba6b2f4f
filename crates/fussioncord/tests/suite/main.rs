//! The integration suite: real servers on loopback (started in-process by
//! the harness in `tests/common`, or as the `fussioncord` binary), real
//! HTTP and WebSocket clients, real databases; `TEST_STORE=sqlite|postgres`
//! picks the backend. One test binary, one module per subject, so the
//! server is linked once rather than once per file; `tests/bots` is the
//! only other binary (the real bot libraries).
//!
//! Run one module with its name as the filter, e.g.
//! `cargo test -p fussioncord --test suite gateway_limits::`.
//!
//! A new test goes into the module of its subject, a new subject into a new
//! file here with its `mod` line below (`layout::` checks that every file
//! is one). Tests share this process: one that measures the process itself
//! runs alone in a child process (`common::in_own_process`), and nothing
//! may set process-wide state (environment variables, the working
//! directory) that other tests would see.

#[path = "../common/mod.rs"]
mod common;

mod access;
mod api;
mod attachments;
mod automod;
mod bad_input;
mod cluster;
mod commands;
mod cost;
mod durability;
mod edge;
mod embeds;
mod expressions;
mod fill;
mod gateway;
mod gateway_limits;
mod interactions;
mod layering;
mod leases;
mod link_previews;
mod load_balancer;
mod media_proxy;
mod moderation;
mod openapi;
mod ops;
mod permissions;
mod ratelimit;
mod resources;
mod roles;
mod schema;
mod shared_state;
mod tracing_otlp;
mod voice;
mod voice_media;
mod voice_webrtc;
mod webclient;
mod webhooks;

/// The suite's own shape.
mod layout {
    use std::path::Path;

    /// Every source file under `tests/suite` is a module of the suite (a
    /// file without its `mod` line would never be compiled, and its tests
    /// would silently not run), and `tests/` holds no test binary besides
    /// `suite` and `bots`.
    #[test]
    fn every_test_file_is_compiled_into_one_of_the_two_binaries() {
        let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
        let suite = tests.join("suite");
        let mut missing = Vec::new();
        for (dir, parent) in [(suite.clone(), "main.rs"), (suite.join("api"), "../api.rs")] {
            let declared = std::fs::read_to_string(dir.join(parent)).unwrap();
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else { continue };
                if path.extension().is_some_and(|e| e == "rs") && stem != "main" {
                    if !declared.lines().any(|l| l.trim() == format!("mod {stem};")) {
                        missing.push(path.display().to_string());
                    }
                }
            }
        }
        assert!(missing.is_empty(), "files that no `mod` line compiles: {missing:?}");

        let mut binaries: Vec<String> = std::fs::read_dir(&tests)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs") || p.join("main.rs").is_file())
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        binaries.sort();
        assert_eq!(
            binaries,
            ["bots", "suite"],
            "tests/ should hold the two test binaries only; put new tests in a module of tests/suite"
        );
    }
}
