//! twilight 0.17 (Rust), in-process: a `Shard` and an HTTP `Client` pointed
//! at our server. twilight's model is strict (missing fields are errors, not
//! defaults), so every event and response the bot sees is also a check that
//! we send Discord's full shapes.

use std::time::Duration;

use tokio::sync::mpsc;
use twilight_gateway::error::ReceiveMessageErrorType;
use twilight_gateway::{ConfigBuilder, Event, EventTypeFlags, Intents, Shard, ShardId, StreamExt as _};
use twilight_http::Client;
use twilight_model::channel::Message;
use twilight_model::gateway::payload::incoming::{GuildCreate, Ready};
use twilight_model::guild::Guild;
use twilight_model::id::marker::{ChannelMarker, GuildMarker, UserMarker};
use twilight_model::id::Id;

use crate::scenario::Scene;

const REPLY: &str = "pong from twilight";

/// What the bot reports to the test as it goes.
#[derive(Debug)]
enum Seen {
    Ready(Box<Ready>),
    /// A GUILD_CREATE with the full guild (not an unavailable stub).
    Guild(Id<GuildMarker>),
    /// The bot's reply as the HTTP response returned it.
    Replied(Box<Message>),
    /// The bot's own reply, come back over its gateway.
    Echo(Box<Message>),
}

#[tokio::test]
async fn twilight_bot_replies() {
    let mut scene = Scene::new().await;
    let (tx, mut seen) = mpsc::unbounded_channel();
    let mut bot = tokio::spawn(run_bot(scene.bot_token(), scene.app.gateway_addr(), tx));

    // Each step is bounded; if the bot task fails first, its error is the
    // useful message, so it is raced against every wait. Reports are read
    // first: the bot may rightly finish while some are still queued.
    let mut next = async |what: &str| -> Seen {
        tokio::select! {
            biased;
            got = tokio::time::timeout(Duration::from_secs(30), seen.recv()) => match got {
                Ok(Some(seen)) => seen,
                // The bot dropped its sender: it has ended, and its result says why.
                Ok(None) => panic!("twilight bot stopped before {what}: {:?}", (&mut bot).await),
                Err(_) => panic!("twilight: no {what} within 30 s"),
            },
            ended = &mut bot => panic!("twilight bot stopped before {what}: {:?}", ended.expect("bot task panicked")),
        }
    };

    let Seen::Ready(ready) = next("READY").await else { panic!("READY must come first") };
    assert_eq!(ready.user.id.to_string(), scene.bot.id);
    assert!(ready.user.bot);
    assert!(ready.guilds.iter().any(|g| g.id.to_string() == scene.guild), "READY lists the bot's guild");
    let Seen::Guild(guild) = next("GUILD_CREATE").await else { panic!("expected GUILD_CREATE after READY") };
    assert_eq!(guild.to_string(), scene.guild);

    scene.post("ping").await;
    let Seen::Replied(reply) = next("reply").await else { panic!("expected the HTTP reply") };
    assert_eq!(reply.content, REPLY);
    assert_eq!(reply.author.id.to_string(), scene.bot.id);
    assert_eq!(reply.channel_id.to_string(), scene.channel);

    let event = scene.expect_bot_message(REPLY).await;
    assert_eq!(event["d"]["id"], reply.id.to_string());
    let Seen::Echo(echo) = next("its own reply over the gateway").await else { panic!("expected the echo") };
    assert_eq!(echo.id, reply.id);
    assert_eq!(echo.guild_id.map(|g| g.to_string()), Some(scene.guild.clone()));
    bot.await.expect("bot task panicked").expect("bot finished cleanly");
}

/// The bot: answers "ping" with [`REPLY`] until its own reply comes back over
/// the gateway. Any error, including one deserialising an event, ends it.
async fn run_bot(token: String, addr: String, tx: mpsc::UnboundedSender<Seen>) -> Result<(), String> {
    let http = Client::builder().token(token.clone()).proxy(addr.clone(), true).build();
    let intents = Intents::GUILDS | Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT;
    let config = ConfigBuilder::new(token, intents).proxy_url(format!("ws://{addr}")).build();
    let mut shard = Shard::with_config(ShardId::ONE, config);
    let mut me: Option<Id<UserMarker>> = None;
    let report = |seen: Seen| tx.send(seen).map_err(|_| "the test stopped listening".to_owned());

    while let Some(item) = shard.next_event(EventTypeFlags::all()).await {
        let event = item.map_err(|error| match error.kind() {
            ReceiveMessageErrorType::Deserializing { event } => {
                format!("twilight could not deserialise {event}\n{}", explain(event))
            }
            _ => format!("shard error: {error:?}"),
        })?;
        match event {
            Event::Ready(ready) => {
                me = Some(ready.user.id);
                report(Seen::Ready(Box::new(ready)))?;
            }
            Event::GuildCreate(created) => match *created {
                GuildCreate::Available(guild) => report(Seen::Guild(guild.id))?,
                GuildCreate::Unavailable(guild) => return Err(format!("guild {} arrived unavailable", guild.id)),
            },
            Event::MessageCreate(message) if Some(message.author.id) == me => {
                report(Seen::Echo(Box::new(message.0)))?;
                return Ok(());
            }
            Event::MessageCreate(message) if message.content == "ping" => {
                let reply = reply(&http, message.channel_id).await?;
                report(Seen::Replied(Box::new(reply)))?;
            }
            Event::GatewayClose(frame) => return Err(format!("gateway closed: {frame:?}")),
            _ => {}
        }
    }
    Err("the shard stream ended".into())
}

async fn reply(http: &Client, channel: Id<ChannelMarker>) -> Result<Message, String> {
    let response = http.create_message(channel).content(REPLY).await.map_err(|e| format!("create_message: {e:?}"))?;
    // Reading the body as text first keeps it for the error message.
    let body = response.text().await.map_err(|e| format!("reading the reply: {e:?}"))?;
    serde_json::from_str(&body).map_err(|e| format!("twilight could not deserialise the reply {body}: {e}"))
}

/// serde's message for an untagged enum (GUILD_CREATE) or a nested payload
/// names no field; deserialising the payload as its model type directly does.
fn explain(event: &str) -> String {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(event) else { return "not JSON".into() };
    let d = value["d"].to_string();
    let error = match value["t"].as_str() {
        Some("READY") => serde_json::from_str::<Ready>(&d).err(),
        Some("GUILD_CREATE") => serde_json::from_str::<Guild>(&d).err(),
        Some("MESSAGE_CREATE") => serde_json::from_str::<Message>(&d).err(),
        _ => None,
    };
    error.map_or_else(String::new, |e| format!("as its model type: {e}"))
}
