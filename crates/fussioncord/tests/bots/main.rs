//! Real bot libraries from the package registries, unmodified, against a
//! server the test starts: each bot logs in, receives a message a person
//! posted over REST, and replies; the person's own gateway connection
//! receives the reply. The libraries added later take a longer tour
//! (`bots/tour.rs`): reactions, member updates and a resume after a cut
//! connection too. `scripts/bot-libs.sh` installs the pinned libraries.

#[path = "../common/mod.rs"]
mod common;

mod cluster;
mod discord_js;
mod discord_py;
mod disnake;
mod eris;
mod hikari;
mod http_interactions;
mod oceanic;
mod permissions_py;
mod proxy;
mod scenario;
mod tour;
mod twilight;
mod voice;
