//! disnake 2.12 (PyPI, a discord.py fork), unmodified: `py/disnake_bot.py`
//! takes the whole tour, behind a proxy that cuts its connections.

use super::tour::{python, tour, LineBot};

#[tokio::test]
async fn a_disnake_bot_takes_the_tour() {
    tour("disnake", |scene, base| LineBot::spawn("disnake", python("disnake_bot.py"), scene, base)).await;
}
