//! The load balancer (issue 19): `deploy/nginx/fussioncord.conf`, run by
//! Debian's nginx (`scripts/nginx.sh` installs it) as a process of the
//! test on loopback ports (`common::nginx`), in front of nodes on one
//! PostgreSQL database sharing their events through NATS (127.0.0.1:4222,
//! or `TEST_NATS_URL`). Only the lines the file marks EDIT (upstream
//! servers, certificate, `listen` ports) are rewritten, so what is tested
//! is what is deployed.
//! Clients reach nginx over TLS from chosen loopback addresses
//! (127.0.0.2, .3, …), so the address nginx forwards differs from its own.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::net::TcpSocket;

use crate::attachments::{file, payload, send_form};
use crate::common::cluster::{drop_stream, nats_url};
use crate::common::nginx::Nginx;
use crate::common::ws::{Gateway, Received, ALL_INTENTS};
use crate::common::{fresh_postgres, TestApp};

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, last))
}

/// Two nodes on one database and one NATS stream (this test's own), each
/// its own snowflake worker (1 and 2), trusting nginx (127.0.0.1) to name
/// the client and holding one gateway socket per client address.
async fn two_nodes() -> (Vec<TestApp>, String) {
    let db = fresh_postgres().await;
    let tag = format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
    let mut nodes = Vec::new();
    for worker in 1..=2 {
        let (db, tag) = (db.clone(), tag.clone());
        nodes.push(
            TestApp::spawn_with(move |c| {
                c.database.url = Some(db);
                c.snowflake.worker = Some(worker);
                c.cluster.nats_url = nats_url();
                c.cluster.stream = format!("FC_TEST_LB_{tag}");
                c.cluster.subject_prefix = format!("fctest.lb.{tag}");
                c.cluster.max_age_secs = 300;
                c.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
                c.gateway.max_connections_per_address = 1;
            })
            .await,
        );
    }
    (nodes, format!("FC_TEST_LB_{tag}"))
}

/// The snowflake worker (bits 21–17) of an id: which node made it.
fn worker_of(id: &serde_json::Value) -> u64 {
    (id.as_str().unwrap().parse::<u64>().unwrap() >> 17) & 0x1f
}

/// Open gateway sockets on one node, from its own `/metrics`.
async fn gateway_sockets(node: &TestApp) -> f64 {
    let text = node.client.get(format!("http://{}/metrics", node.addr())).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("fussioncord_gateway_connections "))
        .and_then(|v| v.trim().parse().ok())
        .expect("fussioncord_gateway_connections in /metrics")
}

#[tokio::test]
async fn nginx_spreads_requests_and_gateway_sockets_over_two_nodes_over_tls() {
    let (nodes, stream) = two_nodes().await;
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr()).collect();
    let nginx = Nginx::start(&addrs).await;
    let lb = nginx.api(loopback(2));

    // Plain HTTP is sent to HTTPS.
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://{}/api/v10/gateway", nginx.http))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::MOVED_PERMANENTLY);
    let location = res.headers()["location"].to_str().unwrap();
    assert!(location.starts_with("https://127.0.0.1") && location.ends_with("/api/v10/gateway"), "{location}");

    // Traffic figures stay private: nginx refuses /metrics, which each
    // node answers to whoever scrapes it directly.
    let metrics = lb.client.get(format!("https://{}/metrics", nginx.https)).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::FORBIDDEN);
    assert_eq!(gateway_sockets(&nodes[0]).await, 0.0);

    let ada = lb.register("ada").await;
    let bea = lb.register("bea").await;
    let (guild, channel) = lb.guild(&ada, "Behind nginx").await;
    lb.join(&ada, &channel, &bea).await;

    // Requests reach both nodes: the ids they make carry their worker.
    let mut workers = std::collections::BTreeSet::new();
    for i in 0..6 {
        let msg = lb.send(&ada, &channel, &format!("spread {i}")).await;
        workers.insert(worker_of(&msg["id"]));
    }
    assert_eq!(
        workers.into_iter().collect::<Vec<_>>(),
        [1, 2],
        "messages posted through nginx were made by both nodes"
    );

    // A body larger than nginx's default limit (1 MiB) passes: a 3 MiB file.
    let bytes = vec![b'x'; 3 << 20];
    let (status, msg) = send_form(
        &lb,
        reqwest::Method::POST,
        &format!("/channels/{channel}/messages"),
        &ada.token,
        &[payload(json!({"content": "big"})), file("files[0]", "big.txt", "text/plain", bytes)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    assert_eq!(msg["attachments"][0]["size"], 3 << 20);

    // Gateway sessions over wss://, one per node (nginx gives a new socket
    // to the node holding fewer).
    let mut ada_gw = nginx.gateway(loopback(2), &[]).await.expect("ada's socket is accepted");
    let ready = ada_gw.identify(&ada.token, ALL_INTENTS).await;
    assert_eq!(ready["guilds"][0]["id"], guild["id"]);
    // The Host the client dialled reaches the node, port and all.
    assert_eq!(ready["resume_gateway_url"], format!("ws://{}", nginx.https), "{ready}");
    let mut bea_gw = nginx.gateway(loopback(3), &[]).await.expect("bea's socket is accepted");
    bea_gw.identify(&bea.token, ALL_INTENTS).await;
    for node in &nodes {
        assert_eq!(gateway_sockets(node).await, 1.0, "each node holds one of the two sockets");
    }

    // A message posted through nginx reaches both sessions, on both nodes.
    lb.send(&bea, &channel, "through the balancer").await;
    for gw in [&mut ada_gw, &mut bea_gw] {
        let created = gw.dispatch("MESSAGE_CREATE").await;
        assert_eq!(created["d"]["content"], "through the balancer");
        assert_eq!(created["d"]["author"]["id"].as_str(), Some(bea.id.as_str()));
    }

    // The nodes trust nginx, so the address it forwards is the client's:
    // 127.0.0.4 may hold one socket per node (the cap is one per address),
    // whatever other clients hold through the same nginx…
    let mut first = nginx.gateway(loopback(4), &[]).await.expect("127.0.0.4's first socket");
    first.hello().await;
    let mut second = nginx.gateway(loopback(4), &[]).await.expect("127.0.0.4's second socket, on the other node");
    second.hello().await;
    for node in &nodes {
        assert_eq!(gateway_sockets(node).await, 2.0);
    }
    // …and no more, even claiming another address in X-Forwarded-For
    // (nginx names the client it sees).
    let third = nginx.gateway(loopback(4), &[("x-forwarded-for", "203.0.113.9")]).await;
    assert_eq!(third.err(), Some(429), "a third socket from 127.0.0.4 is over the per-address cap on either node");
    // Another client address is counted apart.
    let mut other = nginx.gateway(loopback(5), &[]).await.expect("127.0.0.5 is another client");
    other.hello().await;

    drop((ada_gw, bea_gw, first, second, other));
    drop(nginx);
    drop(nodes);
    drop_stream(&stream).await;
}

/// A node stopping (SIGTERM's graceful shutdown) is passed over: its
/// gateway clients, told to reconnect (op 7), reconnect through nginx and
/// land on the other node, and requests, POSTs included, go on being
/// answered, by the other node, none lost to the stopped one.
#[tokio::test]
async fn a_stopping_node_is_passed_over_and_its_gateway_clients_reconnect_through_nginx() {
    let (mut nodes, stream) = two_nodes().await;
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr()).collect();
    let nginx = Nginx::start(&addrs).await;
    let lb = nginx.api(loopback(2));
    let ada = lb.register("ada").await;
    let (_, channel) = lb.guild(&ada, "Failover").await;
    // Two sessions of Ada's, one on each node.
    let mut sessions = Vec::new();
    for from in [loopback(2), loopback(3)] {
        let mut gw = nginx.gateway(from, &[]).await.expect("a socket through nginx");
        gw.identify(&ada.token, ALL_INTENTS).await;
        sessions.push((from, gw));
    }
    for node in &nodes {
        assert_eq!(gateway_sockets(node).await, 1.0, "each node holds one session");
    }

    // Node 1 (worker 1) stops; the session it held is told to reconnect.
    let stopping = nodes[0].stop();
    let mut told = None;
    'wait: for _ in 0..100 {
        for (i, (_, gw)) in sessions.iter_mut().enumerate() {
            if let Some(Received::Payload(p)) = gw.next_within(Duration::from_millis(50)).await {
                if p["op"] == 7 {
                    told = Some(i);
                    break 'wait;
                }
            }
        }
    }
    let told = told.expect("the stopping node's session gets op 7 RECONNECT");
    let (from, mut gw) = sessions.remove(told);
    gw.close().await;
    stopping.await.unwrap().expect("the node stops cleanly");

    // Reconnecting through nginx reaches the node still up.
    let mut again = nginx.gateway(from, &[]).await.expect("the reconnect is accepted");
    again.identify(&ada.token, ALL_INTENTS).await;
    assert_eq!(gateway_sockets(&nodes[1]).await, 2.0, "both sessions are on the node still up");

    // Every request through nginx is answered, by node 2.
    for i in 0..4 {
        let msg = lb.send(&ada, &channel, &format!("after {i}")).await;
        assert_eq!(worker_of(&msg["id"]), 2, "made by the node still up");
    }
    for gw in [&mut again, &mut sessions[0].1] {
        for i in 0..4 {
            let created = gw.dispatch("MESSAGE_CREATE").await;
            assert_eq!(created["d"]["content"], format!("after {i}"));
        }
    }

    drop((again, sessions));
    drop(nginx);
    drop(nodes);
    drop_stream(&stream).await;
}

/// A node that does not list nginx in `http.trusted_proxies` ignores the
/// X-Forwarded-For nginx sends: every client counts as nginx's address.
#[tokio::test]
async fn a_node_that_does_not_trust_nginx_counts_every_client_as_nginx() {
    let node = TestApp::spawn_with(|c| {
        assert!(c.http.trusted_proxies.is_empty());
        c.gateway.max_connections_per_address = 1;
    })
    .await;
    let nginx = Nginx::start(&[node.addr()]).await;
    let mut first = nginx.gateway(loopback(2), &[]).await.expect("the first socket is accepted");
    first.hello().await;
    let second = nginx.gateway(loopback(3), &[]).await;
    assert_eq!(second.err(), Some(429), "127.0.0.3 counted as nginx (127.0.0.1), which holds its one socket");
    // Straight to the node, not through nginx, 127.0.0.3 is itself.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(loopback(3), 0)).unwrap();
    let tcp = socket.connect(node.addr()).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{}/?v=10&encoding=json", node.addr()), tcp)
        .await
        .expect("a direct socket from 127.0.0.3 is accepted");
    let mut direct = Gateway::from_stream(ws);
    direct.hello().await;
}
