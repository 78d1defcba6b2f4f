//! Integration tests of the HTTP API: real servers on loopback, a real HTTP
//! client, real databases. `TEST_STORE=sqlite|postgres` picks the backend.

mod avatars;
mod cli;
mod counts;
mod flow;
mod mfa;
mod persistence;
mod read_states;
mod relationships;
mod search;
mod settings;
