//! Cluster mode (issue 19), its first part: nodes on one PostgreSQL
//! database share their events through NATS JetStream (127.0.0.1:4222, or
//! `TEST_NATS_URL`). A person connected to one node hears what is done on
//! another, in order, once; a node's own events still reach its own
//! sessions; `/readyz` reflects the bus.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::ws::ALL_INTENTS;
use crate::common::{fresh_postgres, TestApp};

fn nats_url() -> String {
    std::env::var("TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// Nodes of one cluster: one database, one stream (this test's own, so
/// tests running side by side do not hear each other; `drop_stream` removes
/// it), each node its own snowflake worker.
async fn cluster(n: u8) -> (Vec<TestApp>, String) {
    let db = fresh_postgres().await;
    let tag = format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
    let mut nodes = Vec::new();
    for worker in 1..=n {
        let (db, tag) = (db.clone(), tag.clone());
        nodes.push(
            TestApp::spawn_with(move |c| {
                c.database.url = Some(db);
                c.snowflake.worker = Some(worker);
                c.cluster.nats_url = nats_url();
                c.cluster.stream = format!("FC_TEST_{tag}");
                c.cluster.subject_prefix = format!("fctest.{tag}");
                c.cluster.max_age_secs = 300;
            })
            .await,
        );
    }
    (nodes, format!("FC_TEST_{tag}"))
}

/// Removes a test's stream from NATS once its nodes are gone.
async fn drop_stream(name: &str) {
    let client = async_nats::connect(nats_url()).await.expect("NATS");
    async_nats::jetstream::new(client).delete_stream(name).await.expect("the test's stream goes");
}

#[tokio::test]
async fn a_message_posted_on_one_node_reaches_sessions_on_every_node_in_order_once() {
    let (nodes, stream) = cluster(2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let ada = a.register("ada").await;
    let bea = a.register("bea").await;
    let (guild, channel) = a.guild(&ada, "Two Nodes").await;
    a.join(&ada, &channel, &bea).await;
    // Bea is connected to node B; Ada to node A.
    let mut bea_gw = b.gateway("").await;
    let ready = bea_gw.identify(&bea.token, ALL_INTENTS).await;
    assert_eq!(ready["guilds"][0]["id"], guild["id"], "node B reads the shared database");
    let mut ada_gw = a.gateway("").await;
    ada_gw.identify(&ada.token, ALL_INTENTS).await;

    // Posted through either node, every message reaches both sessions, in
    // the order they were posted, each once.
    for i in 0..10 {
        let via = if i % 2 == 0 { a } else { b };
        let (status, _) =
            via.post(&format!("/channels/{channel}/messages"), &ada.token, json!({"content": format!("m{i}")})).await;
        assert_eq!(status, StatusCode::OK);
    }
    for gw in [&mut bea_gw, &mut ada_gw] {
        let mut seen = Vec::new();
        while seen.len() < 10 {
            let e = gw.dispatch("MESSAGE_CREATE").await;
            seen.push(e["d"]["content"].as_str().unwrap().to_owned());
        }
        let expected: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
        assert_eq!(seen, expected);
        let more: Vec<Value> = gw.dispatches(Duration::from_millis(500)).await;
        assert!(!more.iter().any(|e| e["t"] == "MESSAGE_CREATE"), "a message came twice: {more:?}");
    }

    // Typing on node B reaches Ada's session on node A.
    let (status, _) =
        b.call(reqwest::Method::POST, &format!("/channels/{channel}/typing"), Some(&bea.token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let typing = ada_gw.dispatch("TYPING_START").await;
    assert_eq!(typing["d"]["user_id"].as_str(), Some(bea.id.as_str()));

    // A change on node A drops what node B had cached: a rename is seen.
    let (status, _) = a.patch(&format!("/channels/{channel}"), &ada.token, json!({"name": "renamed-on-a"})).await;
    assert_eq!(status, StatusCode::OK);
    let updated = bea_gw.dispatch("CHANNEL_UPDATE").await;
    assert_eq!(updated["d"]["name"], "renamed-on-a");
    let (_, seen_from_b) = b.get(&format!("/channels/{channel}"), &bea.token).await;
    assert_eq!(seen_from_b["name"], "renamed-on-a");

    // Both nodes are ready with the bus connected.
    for node in [a, b] {
        let res = node.client.get(format!("http://{}/readyz", node.addr())).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    drop(nodes);
    drop_stream(&stream).await;
}
