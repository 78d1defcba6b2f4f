//! Unmodified discord.py and discord.js bots against the load-balanced
//! cluster (issue 19), through the death of a node: two nodes as processes
//! of the real binary on one PostgreSQL database, sharing events through
//! NATS JetStream and gateway sessions through Redis (`common::cluster`),
//! behind Debian's nginx running `deploy/nginx/fussioncord.conf` over TLS
//! (`common::nginx`). The nodes name nginx as `gateway.public_url`, so
//! READY's `resume_gateway_url` (and `/gateway/bot`, for discord.js) send
//! the libraries back through nginx.
//!
//! The bot logs in through nginx and answers "ping N" with "pong N". The
//! node holding its gateway socket (read from each node's `/metrics`) is
//! SIGKILLed; pings are posted while it is gone and after. The library
//! must come back by itself through nginx to the surviving node, resume
//! (never IDENTIFY again), and answer every ping, before, during and after,
//! exactly once.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::cluster::{drop_stream, node_process, tag, Node};
use crate::common::fresh_postgres;
use crate::common::nginx::{free_port, Nginx};
use crate::tour::{node, python, LineBot};

const PINGS: usize = 15;

/// What a bot needs to find the cluster: nginx's URL, its token and the
/// CA of nginx's certificate.
struct Target {
    base: String,
    token: String,
    ca: std::path::PathBuf,
}

async fn failover(library: &'static str, start: impl FnOnce(&Target) -> LineBot) {
    let db = fresh_postgres().await;
    let tag = tag();
    let dir = tempfile::tempdir().unwrap();
    // nginx's ports are chosen first: the nodes name its URL.
    let (https, http) = (free_port(), free_port());
    let public = vec![("FUSSIONCORD__GATEWAY__PUBLIC_URL", format!("wss://127.0.0.1:{https}"))];
    let mut nodes: Vec<Node> = (1..=2).map(|w| node_process(&db, &tag, w, dir.path(), &public)).collect();
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr.parse().unwrap()).collect();
    let nginx = Nginx::start_on(&addrs, https, http).await;
    let lb = nginx.api("127.0.0.1".parse().unwrap());

    let person = lb.register("person").await;
    let (guild, channel) = lb.guild(&person, "Failover").await;
    let bot = lb.bot(&person, "Failover Bot", true).await;
    lb.add_bot(&person, &bot, guild["id"].as_str().unwrap()).await;
    let target = Target {
        base: format!("https://127.0.0.1:{https}"),
        token: bot.token.trim_start_matches("Bot ").to_owned(),
        ca: nginx.ca_file(),
    };
    let mut lib = start(&target);
    let ready = lib.says("READY ").await;
    assert_eq!(ready, bot.id, "{library} logged in as its bot");

    // Which node holds the bot's socket: nobody else is connected.
    let mut sockets = Vec::new();
    for n in &nodes {
        sockets.push(n.gateway_sockets().await);
    }
    let holder = sockets.iter().position(|s| *s == 1.0).expect("one node holds the bot's socket");
    assert_eq!(sockets.iter().sum::<f64>(), 1.0, "the bot's socket is the only one: {sockets:?}");
    let survivor = 1 - holder;

    let ping = |n: usize| {
        let (lb, channel, person) = (&lb, &channel, &person);
        async move { lb.send(person, channel, &format!("ping {n}")).await }
    };
    let mut replied = Vec::new();
    for n in 1..=5 {
        ping(n).await;
    }
    read_replies(&mut lib, &mut replied, 5).await;

    // SIGKILL: no op 7, no goodbye; nginx drops the bot's connection.
    nodes[holder].child.kill().expect("SIGKILL the node holding the bot");
    nodes[holder].child.wait().unwrap();
    // Pings at once, while the library notices and comes back: those
    // posted before its RESUME reach the surviving node are replayed from
    // the stream (how many depends on the library's timing; the take-over
    // without them is `suite/cluster.rs`'s), the rest are live.
    for n in 6..=10 {
        ping(n).await;
    }
    read_replies(&mut lib, &mut replied, 10).await;
    for n in 11..=PINGS {
        ping(n).await;
    }
    read_replies(&mut lib, &mut replied, PINGS).await;
    // Anything said twice comes now or never.
    lib.lines_within(Duration::from_secs(2)).await;
    let seen = lib.seen().to_vec();

    let count = |prefix: &str| seen.iter().filter(|l| l.starts_with(prefix)).count();
    if count("READY ") != 1 || count("RESUMED") == 0 {
        lib.fail(format!(
            "it must resume, not identify again: {} READY, {} RESUMED",
            count("READY "),
            count("RESUMED")
        ));
    }
    let lost = seen.iter().position(|l| l == "DISCONNECTED" || l == "RECONNECTING");
    let resumed = seen.iter().position(|l| l == "RESUMED");
    if !(lost.is_some() && lost < resumed) {
        lib.fail("it never saw its connection go before resuming".into());
    }
    // Every reply it sent, the late ones included.
    let mut counted: Vec<usize> =
        seen.iter().filter_map(|l| l.strip_prefix("REPLIED ")).map(|n| n.parse().unwrap()).collect();
    counted.sort();
    assert_eq!(counted, (1..=PINGS).collect::<Vec<_>>(), "{library} answered every ping once");
    assert_eq!(nodes[survivor].gateway_sockets().await, 1.0, "{library} came back through nginx to the surviving node");

    // The channel itself: one pong per ping, nothing more from the bot.
    let (status, history) = lb.get(&format!("/channels/{channel}/messages?limit=100"), &person.token).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let mut pongs: Vec<String> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["author"]["id"] == json!(bot.id))
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect();
    pongs.sort_by_key(|p| p.trim_start_matches("pong ").parse::<usize>().unwrap_or(usize::MAX));
    let expected: Vec<String> = (1..=PINGS).map(|n| format!("pong {n}")).collect();
    assert_eq!(pongs, expected, "{library}: one pong per ping in the channel");

    drop(lib);
    drop(nginx);
    drop(nodes);
    drop_stream(&format!("FC_TEST_{tag}")).await;
}

/// Reads the bot's lines until it has replied to `upto` pings in all;
/// each `REPLIED N` is one reply sent.
async fn read_replies(lib: &mut LineBot, replied: &mut Vec<usize>, upto: usize) {
    while replied.len() < upto {
        let (prefix, rest) = lib.says_any(&["REPLIED ", "FAILED "]).await;
        if prefix == "FAILED " {
            lib.fail(format!("a reply failed: {rest}"));
        }
        replied.push(rest.parse().unwrap());
    }
}

#[tokio::test]
async fn a_discord_py_bot_carries_on_through_the_death_of_its_node() {
    failover("discord.py", |t| {
        let mut command = python("failover.py");
        command.env("FC_HTTP", &t.base).env("FC_TOKEN", &t.token).env("SSL_CERT_FILE", &t.ca);
        LineBot::run("discord.py", command)
    })
    .await;
}

#[tokio::test]
async fn a_discord_js_bot_carries_on_through_the_death_of_its_node() {
    failover("discord.js", |t| {
        let mut command = node("failover.mjs", "discord.js");
        command.env("FC_API", format!("{}/api", t.base)).env("FC_TOKEN", &t.token).env("NODE_EXTRA_CA_CERTS", &t.ca);
        LineBot::run("discord.js", command)
    })
    .await;
}
