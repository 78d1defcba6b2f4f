//! Voice with unmodified libraries: a discord.py bot (with its `voice`
//! extra) joins a voice channel over the TLS voice gateway and UDP and
//! plays Opus frames; a discord.js bot with @discordjs/voice in the same
//! channel receives them, decrypts them with its own key and mode, and
//! hands over the very frames that were sent.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::discord_js::JsBot;
use crate::scenario::{python, Scene};

/// The frames `py/voice_bot.py` plays, as it builds them.
fn frame(i: usize) -> Vec<u8> {
    let mut f = vec![0x78, (i & 0xFF) as u8];
    f.extend((0..40).map(|k| ((i * 7 + k) & 0xFF) as u8));
    f
}

/// discord.py and discord.js end playback with five silence frames.
const SILENCE: [u8; 3] = [0xF8, 0xFF, 0xFE];

#[tokio::test]
async fn a_discord_py_bot_plays_and_a_discord_js_bot_hears_the_same_opus_frames() {
    let mut scene = Scene::new().await;
    let app = &scene.app;
    let ca = app.voice_ca_file().expect("the harness gives the voice server a certificate");
    let listener = app.bot(&scene.person, "Listener", false).await;
    app.add_bot(&scene.person, &listener, &scene.guild).await;
    let (_, channels) = app.get(&format!("/guilds/{}/channels", scene.guild), &scene.person.token).await;
    let voice =
        channels.as_array().unwrap().iter().find(|c| c["type"] == 2).unwrap()["id"].as_str().unwrap().to_owned();

    let mut js = JsBot::start_script(
        &scene,
        "voice.mjs",
        listener.token.trim_start_matches("Bot ").to_owned(),
        &[
            ("FC_GUILD", scene.guild.clone()),
            ("FC_VOICE_CHANNEL", voice.clone()),
            ("FC_SPEAKER", scene.bot.id.clone()),
            ("NODE_EXTRA_CA_CERTS", ca.display().to_string()),
        ],
    );
    js.line(|l| l == "LISTENING", Duration::from_secs(60)).await;

    const FRAMES: usize = 50;
    let mut py = Command::new(python())
        .arg(format!("{}/tests/bots/py/voice_bot.py", env!("CARGO_MANIFEST_DIR")))
        .env("FC_HTTP", scene.http_base())
        .env("FC_TOKEN", scene.bot_token())
        .env("FC_VOICE_CHANNEL", &voice)
        .env("FC_FRAMES", FRAMES.to_string())
        .env("SSL_CERT_FILE", &ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("python runs");
    let mut said = BufReader::new(py.stdout.take().unwrap()).lines();
    let played = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = said.next_line().await.unwrap() {
            if line.starts_with("PLAYED") {
                return line;
            }
        }
        panic!("discord.py exited before playing: {:?}", py.try_wait());
    })
    .await
    .expect("discord.py played its frames within a minute");
    assert_eq!(played, format!("PLAYED {FRAMES}"));

    let mut heard = Vec::new();
    loop {
        let line = js.line(|l| l.starts_with("OPUS ") || l == "SILENT", Duration::from_secs(10)).await;
        let Some(hex) = line.strip_prefix("OPUS ") else { break };
        let bytes: Vec<u8> =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
        if bytes != SILENCE {
            heard.push(bytes);
        }
    }
    let sent: Vec<Vec<u8>> = (0..FRAMES).map(frame).collect();
    assert_eq!(heard.len(), sent.len(), "every frame arrives once (loopback loses nothing)");
    assert_eq!(heard, sent, "discord.js hands over exactly the frames discord.py played");

    // The person saw both bots in the channel.
    let mut in_voice = std::collections::BTreeSet::new();
    while in_voice.len() < 2 {
        let event: Value = tokio::time::timeout(Duration::from_secs(10), scene.watcher.dispatch("VOICE_STATE_UPDATE"))
            .await
            .expect("both bots' voice states reach the person");
        if event["d"]["channel_id"] == voice.as_str() {
            in_voice.insert(event["d"]["user_id"].as_str().unwrap().to_owned());
        }
    }
    assert!(in_voice.contains(&scene.bot.id) && in_voice.contains(&listener.id));
}
