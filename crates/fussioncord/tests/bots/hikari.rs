//! hikari 2.7 (PyPI), unmodified: `py/hikari_bot.py` takes the whole tour,
//! behind a proxy that cuts its connections. hikari is strict (it builds
//! its own model of every payload) and sends its gateway payloads as JSON
//! in binary WebSocket frames, as Discord's gateway allows.

use super::tour::{python, tour, LineBot};

#[tokio::test]
async fn a_hikari_bot_takes_the_tour() {
    tour("hikari", |scene, base| LineBot::spawn("hikari", python("hikari_bot.py"), scene, base)).await;
}
