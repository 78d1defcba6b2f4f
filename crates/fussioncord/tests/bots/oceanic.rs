//! Oceanic.js 1.15 (npm, pinned in `js/package-lock.json`), unmodified:
//! `js/oceanic.mjs` takes the whole tour, behind a proxy that cuts its
//! connections.

use super::tour::{node, tour, LineBot};

#[tokio::test]
async fn an_oceanic_js_bot_takes_the_tour() {
    tour("Oceanic.js", |scene, base| LineBot::spawn("Oceanic.js", node("oceanic.mjs", "oceanic.js"), scene, base))
        .await;
}
