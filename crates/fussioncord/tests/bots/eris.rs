//! Eris 0.18 (npm, pinned in `js/package-lock.json`), unmodified:
//! `js/eris.mjs` takes the whole tour, behind a proxy that cuts its
//! connections. (Eris makes REST requests over `https` only; the bot gives it
//! an agent that opens plain TCP instead of TLS, its own way to route them.)

use super::tour::{node, tour, LineBot};

#[tokio::test]
async fn an_eris_bot_takes_the_tour() {
    tour("Eris", |scene, base| LineBot::spawn("Eris", node("eris.mjs", "eris"), scene, base)).await;
}
