//! Real bot libraries from the package registries, unmodified, against a
//! server the test starts: each bot logs in, receives a message a person
//! posted over REST, and replies; the person's own gateway connection
//! receives the reply. The libraries added later take a longer tour
//! (`bots/tour.rs`): reactions, member updates and a resume after a cut
//! connection too. `scripts/bot-libs.sh` installs the pinned libraries.

mod common;

#[path = "bots/discord_js.rs"]
mod discord_js;
#[path = "bots/discord_py.rs"]
mod discord_py;
#[path = "bots/disnake.rs"]
mod disnake;
#[path = "bots/eris.rs"]
mod eris;
#[path = "bots/hikari.rs"]
mod hikari;
#[path = "bots/oceanic.rs"]
mod oceanic;
#[path = "bots/permissions_py.rs"]
mod permissions_py;
#[path = "bots/proxy.rs"]
mod proxy;
#[path = "bots/scenario.rs"]
mod scenario;
#[path = "bots/tour.rs"]
mod tour;
#[path = "bots/twilight.rs"]
mod twilight;
