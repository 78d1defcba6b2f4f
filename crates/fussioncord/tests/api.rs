//! Integration tests of the HTTP API: real servers on loopback, a real HTTP
//! client, real databases. `TEST_STORE=sqlite|postgres` picks the backend.

mod common;

#[path = "api/avatars.rs"]
mod avatars;
#[path = "api/cli.rs"]
mod cli;
#[path = "api/counts.rs"]
mod counts;
#[path = "api/flow.rs"]
mod flow;
#[path = "api/mfa.rs"]
mod mfa;
#[path = "api/persistence.rs"]
mod persistence;
#[path = "api/read_states.rs"]
mod read_states;
#[path = "api/relationships.rs"]
mod relationships;
#[path = "api/search.rs"]
mod search;
#[path = "api/settings.rs"]
mod settings;
