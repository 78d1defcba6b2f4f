//! Cluster mode (issue 19): nodes on one PostgreSQL database share their
//! events through NATS JetStream (127.0.0.1:4222, or `TEST_NATS_URL`) and
//! their gateway sessions' resume state through Redis (127.0.0.1:6379, or
//! `TEST_REDIS_URL`). A person connected to one node hears what is done on
//! another, in order, once; a node's own events still reach its own
//! sessions; `/readyz` reflects the bus. A client resumes on any node —
//! after its own node was killed (through nginx), or drained with op 7 —
//! and gets every event it missed, in order, once.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::cluster::{drop_stream, nats_url, node_process, redis_url};
use crate::common::nginx::Nginx;
use crate::common::ws::{self, ALL_INTENTS};
use crate::common::{fresh_postgres, TestApp, TestUser};

/// Nodes of one cluster: one database, one stream (this test's own, so
/// tests running side by side do not hear each other; `drop_stream` removes
/// it), each node its own snowflake worker.
async fn cluster(n: u8) -> (Vec<TestApp>, String) {
    cluster_with(n, |_| {}).await
}

async fn cluster_with(n: u8, tune: impl Fn(&mut server::Config) + Clone + Send + 'static) -> (Vec<TestApp>, String) {
    let db = fresh_postgres().await;
    let tag = format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
    let mut nodes = Vec::new();
    for worker in 1..=n {
        let (db, tag, tune) = (db.clone(), tag.clone(), tune.clone());
        nodes.push(
            TestApp::spawn_with(move |c| {
                c.database.url = Some(db);
                c.snowflake.worker = Some(worker);
                c.cluster.nats_url = nats_url();
                c.cluster.stream = format!("FC_TEST_{tag}");
                c.cluster.subject_prefix = format!("fctest.{tag}");
                c.cluster.max_age_secs = 300;
                c.cluster.redis_url = redis_url();
                c.cluster.redis_prefix = format!("fctest:{tag}");
                // The test's own settings last: they may replace the above.
                tune(c);
            })
            .await,
        );
    }
    (nodes, format!("FC_TEST_{tag}"))
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

    // Posted through either node, every message reaches both sessions once,
    // in one order, the stream's: the same for every session, and the
    // order each node posted its own. (Two nodes' messages acknowledged
    // one after the other may reach the stream the other way round: a
    // node publishes after it answers.)
    for i in 0..10 {
        let via = if i % 2 == 0 { a } else { b };
        let (status, _) =
            via.post(&format!("/channels/{channel}/messages"), &ada.token, json!({"content": format!("m{i}")})).await;
        assert_eq!(status, StatusCode::OK);
    }
    let mut orders = Vec::new();
    for gw in [&mut bea_gw, &mut ada_gw] {
        let mut seen = Vec::new();
        while seen.len() < 10 {
            let e = gw.dispatch("MESSAGE_CREATE").await;
            seen.push(e["d"]["content"].as_str().unwrap().to_owned());
        }
        let mut all = seen.clone();
        all.sort_by_key(|m| m[1..].parse::<u32>().unwrap());
        let expected: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
        assert_eq!(all, expected, "every message once: {seen:?}");
        for node in 0..2 {
            let posted: Vec<&String> = seen.iter().filter(|m| m[1..].parse::<u32>().unwrap() % 2 == node).collect();
            let mut sorted = posted.clone();
            sorted.sort_by_key(|m| m[1..].parse::<u32>().unwrap());
            assert_eq!(posted, sorted, "a node's messages in the order it posted them: {seen:?}");
        }
        let more: Vec<Value> = gw.dispatches(Duration::from_millis(500)).await;
        assert!(!more.iter().any(|e| e["t"] == "MESSAGE_CREATE"), "a message came twice: {more:?}");
        orders.push(seen);
    }
    assert_eq!(orders[0], orders[1], "both nodes' sessions see one order");

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

/// What a test gateway client runs over: TCP, or TLS to nginx.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin {}
impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> Stream for S {}

/// Sends op 6 on `gw` for a session.
async fn send_resume<S: Stream>(gw: &mut ws::Gateway<S>, token: &str, session_id: &str, seq: Option<u64>) {
    gw.hello().await;
    gw.send(json!({ "op": 6, "d": { "token": token, "session_id": session_id, "seq": seq } })).await;
    gw.seq = seq;
    gw.session_id = Some(session_id.to_owned());
}

/// Every message once, in order, and nothing more.
async fn check_all<S: Stream>(who: &str, seen: &[String], gw: &mut ws::Gateway<S>, n: usize) -> Vec<Value> {
    let expected: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
    let lost = expected.iter().filter(|m| !seen.contains(m)).count();
    let extra = seen.len() as isize - (n - lost) as isize;
    assert_eq!((lost, extra), (0, 0), "{who}: lost, duplicated");
    assert_eq!(seen, &expected[..], "{who} got every message once, in order");
    let more = gw.dispatches(Duration::from_millis(300)).await;
    assert!(!more.iter().any(|e| e["t"] == "MESSAGE_CREATE"), "{who}: a message came twice");
    more
}

/// Sends op 6 on a fresh connection to `addr` for `gw`'s session.
async fn resume_on(addr: &str, token: &str, session_id: &str, seq: Option<u64>) -> ws::Gateway {
    let mut gw = ws::Gateway::connect(addr, "").await;
    send_resume(&mut gw, token, session_id, seq).await;
    gw
}

/// The contents of the MESSAGE_CREATEs `gw` receives until it has `want`
/// of them in all (with `seen`), failing on an invalid session.
async fn read_messages<S: Stream>(gw: &mut ws::Gateway<S>, seen: &mut Vec<String>, want: usize) {
    read_messages_noting(gw, seen, want, &mut Vec::new()).await
}

/// [`read_messages`], keeping the other payloads in `noted`.
async fn read_messages_noting<S: Stream>(
    gw: &mut ws::Gateway<S>,
    seen: &mut Vec<String>,
    want: usize,
    noted: &mut Vec<Value>,
) {
    while seen.len() < want {
        match gw.next_within(Duration::from_secs(15)).await {
            Some(ws::Received::Payload(p)) if p["op"] == 0 && p["t"] == "MESSAGE_CREATE" => {
                seen.push(p["d"]["content"].as_str().unwrap().to_owned());
            }
            Some(ws::Received::Payload(p)) => {
                assert_ne!(p["op"], 9, "the session could not be resumed: {p}");
                noted.push(p);
            }
            other => panic!("the connection ended after {} messages: {other:?}", seen.len()),
        }
    }
}

#[tokio::test]
async fn a_session_resumes_on_another_node_with_what_it_missed_once_in_order() {
    let (nodes, stream) = cluster(2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let ada = a.register("ada").await;
    let bea = a.register("bea").await;
    let (_, channel) = a.guild(&ada, "Moving").await;
    a.join(&ada, &channel, &bea).await;
    let mut gw = a.gateway("").await;
    gw.identify(&bea.token, ALL_INTENTS).await;
    let post = |node: &'static str, i: usize| {
        let via = if node == "a" { a } else { b };
        let (channel, token) = (channel.clone(), ada.token.clone());
        async move {
            let (status, body) =
                via.post(&format!("/channels/{channel}/messages"), &token, json!({"content": format!("m{i}")})).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    post("a", 0).await;
    let mut seen = Vec::new();
    read_messages(&mut gw, &mut seen, 1).await;
    // A heartbeat acknowledges every frame so far: node A lets them go
    // from the shared state too, and a resume still finds where it is.
    gw.heartbeat().await;
    let ack = gw.next().await;
    assert_eq!(ack["op"], 11, "{ack}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (session, seq) = (gw.session_id.clone().unwrap(), gw.seq);
    gw.cut();
    // While Bea is away her session stays on node A, which keeps it.
    for i in 1..6 {
        post(if i % 2 == 0 { "a" } else { "b" }, i).await;
    }
    // She comes back through node B: it takes the session over.
    let mut gw = resume_on(&b.gateway_addr(), &bea.token, &session, seq).await;
    read_messages(&mut gw, &mut seen, 6).await;
    let resumed = gw.dispatch("RESUMED").await;
    assert_eq!(resumed["op"], 0);
    for i in 6..9 {
        post(if i % 2 == 0 { "a" } else { "b" }, i).await;
    }
    read_messages(&mut gw, &mut seen, 9).await;
    let expected: Vec<String> = (0..9).map(|i| format!("m{i}")).collect();
    assert_eq!(seen, expected, "every message once, in order");
    let more = gw.dispatches(Duration::from_millis(500)).await;
    assert!(!more.iter().any(|e| e["t"] == "MESSAGE_CREATE"), "a message came twice: {more:?}");

    // And back to node A, which let it go: it takes it over in turn.
    let (session, seq) = (gw.session_id.clone().unwrap(), gw.seq);
    gw.cut();
    post("b", 9).await;
    let mut gw = resume_on(&a.gateway_addr(), &bea.token, &session, seq).await;
    read_messages(&mut gw, &mut seen, 10).await;
    assert_eq!(seen.last().map(String::as_str), Some("m9"));
    let more = gw.dispatches(Duration::from_millis(500)).await;
    assert!(!more.iter().any(|e| e["t"] == "MESSAGE_CREATE"), "a message came twice: {more:?}");

    // Someone else's session is not theirs to take.
    let mut other = resume_on(&b.gateway_addr(), &ada.token, &session, seq).await;
    let answer = other.next().await;
    assert_eq!(answer["op"], 9, "{answer}");
    drop(nodes);
    drop_stream(&stream).await;
}

/// How a resume on a connection ended: the messages it was sent, and
/// whether it resumed (RESUMED) or was told the session is gone (op 9).
async fn resume_outcome(gw: &mut ws::Gateway) -> (Vec<String>, bool) {
    let mut seen = Vec::new();
    loop {
        match gw.next_within(Duration::from_secs(20)).await {
            Some(ws::Received::Payload(p)) if p["t"] == "MESSAGE_CREATE" => {
                seen.push(p["d"]["content"].as_str().unwrap().to_owned());
            }
            Some(ws::Received::Payload(p)) if p["t"] == "RESUMED" => return (seen, true),
            Some(ws::Received::Payload(p)) if p["op"] == 9 => return (seen, false),
            Some(_) => {}
            None => panic!("no answer to a resume"),
        }
    }
}

/// A client that retries its resume on two nodes at once, after its node
/// died, has its session taken over by one of them; the other says the
/// session is gone. (Both wait for the dead node's heartbeat to lapse, so
/// each hears the other's claim while taking over.) The session is then
/// held once: every message reaches it once, and it moves on to the other
/// node later as any session does.
#[tokio::test]
async fn a_session_claimed_on_two_nodes_at_once_is_taken_over_by_one() {
    let db = fresh_postgres().await;
    let tag = crate::common::cluster::tag();
    let dir = tempfile::tempdir().unwrap();
    let mut a = node_process(&db, &tag, 1, dir.path(), &[]);
    let b = node_process(&db, &tag, 2, dir.path(), &[]);
    let c = node_process(&db, &tag, 3, dir.path(), &[]);
    let ada = b.app.register("ada").await;
    let bea = b.app.register("bea").await;
    let (_, channel) = b.app.guild(&ada, "Twice").await;
    b.app.join(&ada, &channel, &bea).await;
    let post = |i: usize| post_numbered(&b.app, &channel, &ada.token, i);
    let mut gw = a.app.gateway("").await;
    gw.identify(&bea.token, ALL_INTENTS).await;
    let (session, seq, mut seen) = killed_after_one(&mut a, gw, post).await;
    let (to_b, to_c) = (b.app.gateway_addr(), c.app.gateway_addr());
    let (mut on_b, mut on_c) =
        tokio::join!(resume_on(&to_b, &bea.token, &session, seq), resume_on(&to_c, &bea.token, &session, seq),);
    let ((from_b, b_won), (from_c, c_won)) = tokio::join!(resume_outcome(&mut on_b), resume_outcome(&mut on_c));
    assert!(b_won != c_won, "exactly one node takes the session over (B: {b_won}, C: {c_won})");
    let (mut winner, loser_addr, missed) = if b_won { (on_b, to_c, from_b) } else { (on_c, to_b, from_c) };
    seen.extend(missed);
    for i in 4..7 {
        post(i).await;
    }
    read_messages(&mut winner, &mut seen, 7).await;
    let expected: Vec<String> = (0..7).map(|i| format!("m{i}")).collect();
    assert_eq!(seen, expected, "every message once, in order, from the node that won");
    // The session moves on to the node that lost, with nothing twice.
    let (session, seq) = (winner.session_id.clone().unwrap(), winner.seq);
    winner.cut();
    post(7).await;
    let mut gw = resume_on(&loser_addr, &bea.token, &session, seq).await;
    let (missed, resumed) = resume_outcome(&mut gw).await;
    assert!(resumed, "the session moves on");
    seen.extend(missed);
    post(8).await;
    read_messages(&mut gw, &mut seen, 9).await;
    let expected: Vec<String> = (0..9).map(|i| format!("m{i}")).collect();
    assert_eq!(seen, expected, "every message once, in order");
    let more = gw.dispatches(Duration::from_millis(500)).await;
    assert!(!more.iter().any(|e| e["t"] == "MESSAGE_CREATE"), "a message came twice: {more:?}");
    drop((b, c));
    drop_stream(&format!("FC_TEST_{tag}")).await;
}

#[tokio::test]
async fn clients_of_a_killed_node_and_of_a_drained_node_resume_elsewhere_missing_nothing() {
    let db = fresh_postgres().await;
    let tag = crate::common::cluster::tag();
    let dir = tempfile::tempdir().unwrap();
    let mut a = node_process(&db, &tag, 1, dir.path(), &[]);
    let b = node_process(&db, &tag, 2, dir.path(), &[]);
    let mut c = node_process(&db, &tag, 3, dir.path(), &[]);
    // nginx, as deployed, in front of nodes A and B.
    let nodes: Vec<std::net::SocketAddr> = [&a, &b].iter().map(|n| n.addr.parse().unwrap()).collect();
    let nginx = Nginx::start(&nodes).await;
    let ada = b.app.register("ada").await;
    let bea = b.app.register("bea").await;
    let cat = b.app.register("cat").await;
    let (_, channel) = b.app.guild(&ada, "Chaos").await;
    b.app.join(&ada, &channel, &bea).await;
    b.app.join(&ada, &channel, &cat).await;
    // Bea on node A, which will be killed; Cat on node C, which will be
    // drained; Ada on node B throughout.
    let mut bea_gw = a.app.gateway("").await;
    bea_gw.identify(&bea.token, ALL_INTENTS).await;
    let mut cat_gw = c.app.gateway("").await;
    cat_gw.identify(&cat.token, ALL_INTENTS).await;
    let mut ada_gw = b.app.gateway("").await;
    ada_gw.identify(&ada.token, ALL_INTENTS).await;
    // Dan is on node A too, and never comes back.
    let dan = b.app.register("dan").await;
    b.app.join(&ada, &channel, &dan).await;
    let mut dan_gw = a.app.gateway("").await;
    dan_gw.identify(&dan.token, ALL_INTENTS).await;

    const N: usize = 120;
    let sender = {
        let (base, channel, token) = (b.app.gateway_addr(), channel.clone(), ada.token.clone());
        tokio::spawn(async move {
            let b = TestApp::attach(&base);
            for i in 0..N {
                let (status, body) =
                    b.post(&format!("/channels/{channel}/messages"), &token, json!({"content": format!("m{i}")})).await;
                assert_eq!(status, StatusCode::OK, "message {i} was not acknowledged: {body}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };

    // Node A dies with SIGKILL a third of the way through.
    let mut bea_seen = Vec::new();
    read_messages(&mut bea_gw, &mut bea_seen, N / 3).await;
    a.child.kill().expect("SIGKILL node A");
    a.child.wait().unwrap();
    while let Some(ws::Received::Payload(p)) = bea_gw.next_within(Duration::from_secs(10)).await {
        if p["t"] == "MESSAGE_CREATE" {
            bea_seen.push(p["d"]["content"].as_str().unwrap().to_owned());
        }
    }
    // A client's back-off: messages flow meanwhile, which node A never
    // handled, so node B has them replayed from the stream.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // She comes back through nginx, which finds node A gone.
    let (session, seq) = (bea_gw.session_id.clone().unwrap(), bea_gw.seq);
    let mut bea_gw = nginx.gateway("127.0.0.1".parse().unwrap(), &[]).await.expect("nginx upgrades the socket");
    send_resume(&mut bea_gw, &bea.token, &session, seq).await;

    // Node C is drained (SIGTERM): its clients are told to reconnect.
    let mut cat_seen = Vec::new();
    read_messages(&mut cat_gw, &mut cat_seen, 2 * N / 3).await;
    let term = std::process::Command::new("kill").args(["-TERM", &c.child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let mut told_to_reconnect = false;
    while let Some(received) = cat_gw.next_within(Duration::from_secs(10)).await {
        match received {
            ws::Received::Payload(p) if p["op"] == 7 => told_to_reconnect = true,
            ws::Received::Payload(p) if p["t"] == "MESSAGE_CREATE" => {
                cat_seen.push(p["d"]["content"].as_str().unwrap().to_owned())
            }
            ws::Received::Payload(_) => {}
            ws::Received::Closed(_) => break,
        }
    }
    assert!(told_to_reconnect, "a drained node sends op 7");
    let mut cat_gw =
        resume_on(&b.app.gateway_addr(), &cat.token, cat_gw.session_id.as_deref().unwrap(), cat_gw.seq).await;

    read_messages(&mut bea_gw, &mut bea_seen, N).await;
    read_messages(&mut cat_gw, &mut cat_seen, N).await;
    let mut ada_seen = Vec::new();
    let mut ada_noted = Vec::new();
    read_messages_noting(&mut ada_gw, &mut ada_seen, N, &mut ada_noted).await;
    sender.await.expect("every message was acknowledged");
    check_all("bea", &bea_seen, &mut bea_gw, N).await;
    check_all("cat", &cat_seen, &mut cat_gw, N).await;
    ada_noted.extend(check_all("ada", &ada_seen, &mut ada_gw, N).await);
    // Dan went offline with node A, in bounded time; Bea and Cat, who
    // resumed, never did.
    let offline = |p: &Value, who: &TestUser| {
        p["t"] == "PRESENCE_UPDATE" && p["d"]["user"]["id"] == who.id.as_str() && p["d"]["status"] == "offline"
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !ada_noted.iter().any(|p| offline(p, &dan)) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match ada_gw.next_within(left).await {
            Some(ws::Received::Payload(p)) => ada_noted.push(p),
            other => panic!("Dan was never shown offline after his node died: {other:?}"),
        }
    }
    for who in [&bea, &cat] {
        assert!(!ada_noted.iter().any(|p| offline(p, who)), "{} was shown offline though resumed", who.username);
    }
    drop(dan_gw);
    let _ = c.child.wait();
    drop(b);
    drop_stream(&format!("FC_TEST_{tag}")).await;
}

#[tokio::test]
async fn presence_is_the_clusters_and_one_node_letting_go_leaves_a_user_online() {
    let (nodes, stream) = cluster_with(2, |c| c.gateway.resume_window_ms = 500).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let ada = a.register("ada").await;
    let bea = a.register("bea").await;
    let (guild, channel) = a.guild(&ada, "Everywhere").await;
    let guild = guild["id"].as_str().unwrap().to_owned();
    a.join(&ada, &channel, &bea).await;
    let mut ada_on_a = a.gateway("").await;
    ada_on_a.identify(&ada.token, ALL_INTENTS).await;
    // Bea, on node B, sees Ada online in her snapshot, from node A.
    let mut bea_gw = b.gateway("").await;
    bea_gw.identify(&bea.token, ALL_INTENTS).await;
    let snapshot = bea_gw.dispatch("GUILD_CREATE").await;
    let shown: Vec<&Value> = snapshot["d"]["presences"].as_array().unwrap().iter().collect();
    assert!(
        shown.iter().any(|p| p["user"]["id"] == ada.id.as_str() && p["status"] == "online"),
        "Ada, on node A, is online in Bea's snapshot on node B: {shown:?}"
    );
    // Either node counts both as online.
    for node in [a, b] {
        let (_, g) = node.get(&format!("/guilds/{guild}?with_counts=true"), &ada.token).await;
        assert_eq!(g["approximate_presence_count"], 2, "{g}");
    }
    // Ada also connects on node B, then leaves node A for good: she is
    // still online, so nobody is told otherwise.
    let mut ada_on_b = b.gateway("").await;
    ada_on_b.identify(&ada.token, ALL_INTENTS).await;
    ada_on_a.close().await;
    let seen = bea_gw.dispatches(Duration::from_millis(2000)).await;
    assert!(
        !seen.iter().any(|p| p["t"] == "PRESENCE_UPDATE"
            && p["d"]["user"]["id"] == ada.id.as_str()
            && p["d"]["status"] == "offline"),
        "Ada was shown offline while connected to node B: {seen:?}"
    );
    // When her last session, on node B, goes, she is offline.
    ada_on_b.close().await;
    loop {
        let p = bea_gw.dispatch("PRESENCE_UPDATE").await;
        if p["d"]["user"]["id"] == ada.id.as_str() && p["d"]["status"] == "offline" {
            break;
        }
    }
    let (_, g) = a.get(&format!("/guilds/{guild}?with_counts=true"), &bea.token).await;
    assert_eq!(g["approximate_presence_count"], 1, "{g}");
    drop(nodes);
    drop_stream(&stream).await;
}

/// A NATS server of the test's own (with JetStream, its store in `dir`),
/// so it can be stopped and started again without disturbing other tests.
struct OwnNats {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl OwnNats {
    /// Debian's nats-server.
    fn start(port: u16, dir: &std::path::Path) -> Self {
        Self::start_binary("nats-server", port, dir)
    }

    fn start_binary(binary: &str, port: u16, dir: &std::path::Path) -> Self {
        let child = std::process::Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{binary} runs: {e}"));
        Self { child, port, dir: dir.to_owned() }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn wait_up(&self) {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("nats-server did not start");
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnNats {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn nats_restarted_mid_stream_loses_no_acknowledged_message() {
    let store = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut nats = OwnNats::start(port, store.path());
    nats.wait_up().await;
    let url = nats.url();
    let (nodes, _) = cluster_with(2, move |c| c.cluster.nats_url = url.clone()).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let ada = a.register("ada").await;
    let bea = a.register("bea").await;
    let (_, channel) = a.guild(&ada, "Weather").await;
    a.join(&ada, &channel, &bea).await;
    let mut bea_gw = b.gateway("").await;
    bea_gw.identify(&bea.token, ALL_INTENTS).await;
    let mut ada_gw = a.gateway("").await;
    ada_gw.identify(&ada.token, ALL_INTENTS).await;

    const N: usize = 60;
    let mut acknowledged = 0;
    for i in 0..N {
        if i == N / 3 {
            // NATS dies; messages are still posted and acknowledged (they
            // are in the database), and their events wait for NATS.
            nats.kill();
        }
        if i == 2 * N / 3 {
            nats = OwnNats::start(port, &nats.dir.clone());
            nats.wait_up().await;
        }
        let via = if i % 2 == 0 { a } else { b };
        let (status, body) =
            via.post(&format!("/channels/{channel}/messages"), &ada.token, json!({"content": format!("m{i}")})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        acknowledged += 1;
        if (N / 3..2 * N / 3).contains(&i) {
            // Down for longer than JetStream waits for an acknowledgement,
            // so publishes fail and are sent again.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    assert_eq!(acknowledged, N);
    for gw in [&mut bea_gw, &mut ada_gw] {
        let mut seen = Vec::new();
        while seen.len() < N {
            match gw.next_within(Duration::from_secs(30)).await {
                Some(ws::Received::Payload(p)) if p["t"] == "MESSAGE_CREATE" => {
                    seen.push(p["d"]["content"].as_str().unwrap().to_owned())
                }
                Some(ws::Received::Payload(_)) => {}
                other => panic!("{} of {N} messages arrived, then {other:?}: {seen:?}", seen.len()),
            }
        }
        // Per node, in the order it published; every message once.
        let mut sorted = seen.clone();
        sorted.sort_by_key(|m| m[1..].parse::<usize>().unwrap());
        sorted.dedup();
        assert_eq!(sorted.len(), N, "each message once: {seen:?}");
        for parity in [0, 1] {
            let mine: Vec<usize> =
                seen.iter().map(|m| m[1..].parse::<usize>().unwrap()).filter(|i| i % 2 == parity).collect();
            assert!(mine.windows(2).all(|w| w[0] < w[1]), "one node's messages out of order: {seen:?}");
        }
        let more = gw.dispatches(Duration::from_millis(500)).await;
        assert!(!more.iter().any(|e| e["t"] == "MESSAGE_CREATE"), "a message came twice: {more:?}");
    }
    drop(nodes);
}

#[tokio::test]
async fn an_api_node_killed_mid_request_loses_no_acknowledged_write() {
    let db = fresh_postgres().await;
    let tag = format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
    let dir = tempfile::tempdir().unwrap();
    let mut a = node_process(&db, &tag, 1, dir.path(), &[]);
    let b = node_process(&db, &tag, 2, dir.path(), &[]);
    let ada = b.app.register("ada").await;
    let (_, channel) = b.app.guild(&ada, "Writes").await;
    // Eight writers post through node A as fast as it answers; A is killed
    // while they do.
    let mut writers = Vec::new();
    for w in 0..8 {
        let (addr, channel, token) = (a.app.gateway_addr(), channel.clone(), ada.token.clone());
        writers.push(tokio::spawn(async move {
            let node = TestApp::attach(&addr);
            let mut acknowledged = Vec::new();
            for i in 0.. {
                let body = json!({"content": format!("w{w}-{i}")});
                let res = node
                    .client
                    .post(format!("http://{addr}/api/v10/channels/{channel}/messages"))
                    .header("Authorization", &token)
                    .json(&body)
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status() == StatusCode::OK => {
                        let m: Value = r.json().await.expect("an acknowledged message");
                        acknowledged.push(m["id"].as_str().unwrap().to_owned());
                    }
                    // Cut off mid-request: not acknowledged, may or may not
                    // have been written.
                    _ => break,
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    a.child.kill().expect("SIGKILL node A");
    a.child.wait().unwrap();
    let mut acknowledged = Vec::new();
    for w in writers {
        acknowledged.extend(w.await.unwrap());
    }
    assert!(acknowledged.len() >= 8, "writes were acknowledged before the kill: {}", acknowledged.len());
    // Every acknowledged message is there, read through node B.
    for id in &acknowledged {
        let (status, m) = b.app.get(&format!("/channels/{channel}/messages/{id}"), &ada.token).await;
        assert_eq!(status, StatusCode::OK, "acknowledged message {id} was lost: {m}");
    }
    drop(b);
    drop_stream(&format!("FC_TEST_{tag}")).await;
}

/// A Redis server of the test's own, so it can be stopped and started.
struct OwnRedis {
    child: std::process::Child,
}

impl OwnRedis {
    async fn start(port: u16) -> Self {
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs (Debian's redis-server package)");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Self { child };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on {port}");
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn readiness(node: &TestApp) -> (StatusCode, Value) {
    let res = node.client.get(format!("http://{}/readyz", node.addr())).send().await.unwrap();
    (res.status(), res.json().await.unwrap())
}

#[tokio::test]
async fn a_node_whose_shared_resume_state_is_gone_is_not_ready_and_recovers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let redis = OwnRedis::start(port).await;
    let (nodes, stream) = cluster_with(1, move |c| c.cluster.redis_url = format!("redis://127.0.0.1:{port}")).await;
    let node = &nodes[0];
    let ada = node.register("ada").await;
    let (_, channel) = node.guild(&ada, "Fragile").await;
    let mut gw = node.gateway("").await;
    gw.identify(&ada.token, ALL_INTENTS).await;
    let (status, body) = readiness(node).await;
    assert_eq!((status, &body["checks"]["sessions"]), (StatusCode::OK, &json!("ok")), "{body}");

    drop(redis);
    let mut ready = true;
    for _ in 0..50 {
        let (status, body) = readiness(node).await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(body["checks"]["sessions"], "unavailable", "{body}");
            ready = false;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!ready, "the node stayed ready without its shared resume state");
    // A message posted meanwhile is acknowledged; its frame waits for Redis.
    let (status, _) = node.post(&format!("/channels/{channel}/messages"), &ada.token, json!({"content": "held"})).await;
    assert_eq!(status, StatusCode::OK);

    let _redis = OwnRedis::start(port).await;
    let created = gw.dispatch("MESSAGE_CREATE").await;
    assert_eq!(created["d"]["content"], "held", "the frame went out once Redis was back");
    let mut back = false;
    for _ in 0..50 {
        if readiness(node).await.0 == StatusCode::OK {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "the node is ready again with Redis back");
    drop(nodes);
    drop_stream(&stream).await;
}

/// A session taken over from a killed node by a node where nobody else is
/// in its guild: the take-over waits for the dead node's heartbeat to
/// lapse (seconds), and the guild's view, which routes the events it
/// missed, must outlast that wait (the reaper drops views of guilds no
/// session is in: once, every missed and later message was lost).
#[tokio::test]
async fn a_session_of_a_killed_node_is_taken_over_where_nobody_shares_its_guild() {
    let db = fresh_postgres().await;
    let tag = crate::common::cluster::tag();
    let dir = tempfile::tempdir().unwrap();
    let mut a = node_process(&db, &tag, 1, dir.path(), &[]);
    let b = node_process(&db, &tag, 2, dir.path(), &[]);
    let ada = b.app.register("ada").await;
    let bea = b.app.register("bea").await;
    let (_, channel) = b.app.guild(&ada, "Alone").await;
    b.app.join(&ada, &channel, &bea).await;
    // Bea alone on node A; nobody on node B's gateway.
    let mut gw = a.app.gateway("").await;
    gw.identify(&bea.token, ALL_INTENTS).await;
    let post = |i: usize| post_numbered(&b.app, &channel, &ada.token, i);
    // Messages 1 to 3 are posted after node A died: it never handled them,
    // so node B has them replayed from the stream, after waiting for A's
    // heartbeat to lapse.
    let (session, seq, mut seen) = killed_after_one(&mut a, gw, post).await;
    let mut gw = resume_on(&b.app.gateway_addr(), &bea.token, &session, seq).await;
    read_messages(&mut gw, &mut seen, 4).await;
    gw.dispatch("RESUMED").await;
    for i in 4..6 {
        post(i).await;
    }
    read_messages(&mut gw, &mut seen, 6).await;
    let expected: Vec<String> = (0..6).map(|i| format!("m{i}")).collect();
    assert_eq!(seen, expected, "every message once, in order");
    drop(b);
    drop_stream(&format!("FC_TEST_{tag}")).await;
}

/// An interaction stays on the node that took the person's request; the
/// application's answers, sent to another node, are handed on to it.
#[tokio::test]
async fn an_application_answers_an_interaction_through_another_node() {
    let (nodes, stream) = cluster(2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let person = a.register("clicker").await;
    let (guild, channel) = a.guild(&person, "Buttons").await;
    let guild = guild["id"].as_str().unwrap().to_owned();
    let bot = a.bot(&person, "Button Bot", true).await;
    a.add_bot(&person, &bot, &guild).await;
    let mut person_gw = a.gateway("").await;
    person_gw.identify(&person.token, ALL_INTENTS).await;
    // The bot's session and its answers are on node B.
    let mut bot_gw = b.gateway("").await;
    bot_gw.identify(&bot.token, ALL_INTENTS).await;
    let buttons = json!([{"type": 1, "components": [{"type": 2, "style": 1, "label": "Yes", "custom_id": "yes"}]}]);
    let (status, msg) = b
        .post(&format!("/channels/{channel}/messages"), &bot.token, json!({"content": "choose", "components": buttons}))
        .await;
    assert_eq!(status, StatusCode::OK, "{msg}");

    // The person clicks through node A, which holds the interaction.
    let click = json!({"type": 3, "application_id": bot.id, "guild_id": guild, "channel_id": channel,
                       "message_id": msg["id"], "session_id": "s", "nonce": "n-1",
                       "data": {"component_type": 2, "custom_id": "yes"}});
    let (status, body) = a.post("/interactions", &person.token, click).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let i = bot_gw.dispatch("INTERACTION_CREATE").await["d"].clone();
    let (id, token) = (i["id"].as_str().unwrap(), i["token"].as_str().unwrap());

    // A forged token is refused by the holder, through node B.
    let forged = format!("/interactions/{id}/{token}x/callback");
    let (status, body) = b.call(reqwest::Method::POST, &forged, None, Some(json!({"type": 6}))).await;
    assert_eq!((status, body["code"].as_u64()), (StatusCode::NOT_FOUND, Some(10062)), "{body}");
    // The answer, sent to node B, is taken by node A: once.
    let callback = format!("/interactions/{id}/{token}/callback");
    let answer = json!({"type": 4, "data": {"content": "answered"}});
    let (status, body) = b.call(reqwest::Method::POST, &callback, None, Some(answer.clone())).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let success = person_gw.dispatch("INTERACTION_SUCCESS").await;
    assert_eq!(success["d"]["id"].as_str(), Some(id));
    let (status, body) = b.call(reqwest::Method::POST, &callback, None, Some(answer)).await;
    assert_eq!((status, body["code"].as_u64()), (StatusCode::BAD_REQUEST, Some(40060)), "{body}");
    // Follow-ups and the original, through its webhook on node B.
    let hook = format!("/webhooks/{}/{token}", bot.id);
    let (status, original) = b.call(reqwest::Method::GET, &format!("{hook}/messages/@original"), None, None).await;
    assert_eq!((status, original["content"].as_str()), (StatusCode::OK, Some("answered")), "{original}");
    let (status, more) =
        b.call(reqwest::Method::POST, &format!("{hook}?wait=true"), None, Some(json!({"content": "more"}))).await;
    assert_eq!((status, more["content"].as_str()), (StatusCode::OK, Some("more")), "{more}");
    let seen = saying(&mut person_gw, "more").await;
    assert_eq!(seen["d"]["id"], more["id"]);
    drop(nodes);
    drop_stream(&stream).await;
}

/// Skips MESSAGE_CREATEs until one saying `content`.
async fn saying(gw: &mut ws::Gateway, content: &str) -> Value {
    loop {
        let e = gw.dispatch("MESSAGE_CREATE").await;
        if e["d"]["content"] == content {
            return e;
        }
    }
}

/// Node processes with voice servers, on one database and stream, whose
/// voice certificates come from one CA that the clients trust.
struct VoiceNodes {
    db: String,
    tag: String,
    dir: tempfile::TempDir,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    ca: String,
}

impl VoiceNodes {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, ca) = crate::common::voice::tls_files(dir.path());
        Self { db: fresh_postgres().await, tag: crate::common::cluster::tag(), dir, cert, key, ca }
    }

    /// A node named `name` (`cluster.node`) with snowflake worker `worker`.
    fn start(&self, worker: u8, name: &str) -> crate::common::cluster::Node {
        let env = [
            ("FUSSIONCORD__CLUSTER__NODE", name.to_owned()),
            ("FUSSIONCORD__VOICE__TLS_CERT", self.cert.display().to_string()),
            ("FUSSIONCORD__VOICE__TLS_KEY", self.key.display().to_string()),
        ];
        let mut node = node_process(&self.db, &self.tag, worker, self.dir.path(), &env);
        node.app.voice_ca = self.ca.clone();
        node
    }

    /// A guild of `owner`'s that `members` join, and a voice channel in it.
    async fn call_place(&self, app: &TestApp, owner: &TestUser, members: &[&TestUser]) -> (String, String) {
        let (guild, text) = app.guild(owner, "Calls").await;
        let guild = guild["id"].as_str().unwrap().to_owned();
        for member in members {
            app.join(owner, &text, member).await;
        }
        let (status, vc) =
            app.post(&format!("/guilds/{guild}/channels"), &owner.token, json!({ "name": "Lounge", "type": 2 })).await;
        assert!(status.is_success(), "{vc}");
        (guild, vc["id"].as_str().unwrap().to_owned())
    }
}

/// Voice is the cluster's: a call lives on one node's voice server, which
/// members whose gateway sessions are on other nodes join; every node sees
/// every voice state. When that node dies, the members whose sessions
/// resumed elsewhere, or were elsewhere, are sent to a live voice server
/// (VOICE_SERVER_UPDATE) and hear each other there; a member whose session
/// died with it leaves voice.
#[tokio::test]
async fn a_call_spans_nodes_and_moves_to_a_live_voice_server_when_its_node_dies() {
    use crate::common::voice::{join, Joined, VoiceClient, AES_GCM};
    let nodes = VoiceNodes::new().await;
    let mut a = nodes.start(1, "node-a");
    let b = nodes.start(2, "node-b");
    let ada = b.app.register("ada").await;
    let bea = b.app.register("bea").await;
    let cat = b.app.register("cat").await;
    let (guild, vc) = nodes.call_place(&b.app, &ada, &[&bea, &cat]).await;

    // Ada, on node A, starts the call: on node A's voice server. Node B
    // knows of it.
    let ada_joined = join(&a.app, &ada, &guild, &vc).await;
    let on_a = ada_joined.endpoint.clone();
    let mut seen_on_b = None;
    for _ in 0..100 {
        let (status, state) = voice_state(&b.app, &guild, &ada, &ada.token).await;
        if status == StatusCode::OK {
            seen_on_b = Some(state);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen_on_b = seen_on_b.expect("node B answers Ada's voice state, held on node A");
    assert_eq!(seen_on_b["channel_id"], vc.as_str(), "{seen_on_b}");
    assert_eq!(seen_on_b["session_id"], ada_joined.session_id.as_str(), "{seen_on_b}");
    // A snapshot made on node B lists her in voice.
    let mut snapshot = b.app.gateway("").await;
    snapshot.identify(&bea.token, ALL_INTENTS).await;
    let created = snapshot.dispatch("GUILD_CREATE").await;
    let states = created["d"]["voice_states"].as_array().unwrap();
    assert!(
        states.iter().any(|s| s["user_id"] == ada.id.as_str() && s["channel_id"] == vc.as_str()),
        "node B's GUILD_CREATE has Ada's voice state: {states:?}"
    );
    drop(snapshot);

    // Bea, on node B, joins the same call: she is sent to node A's voice
    // server, which admits her and forwards Ada's voice to her.
    let mut bea_joined = join(&b.app, &bea, &guild, &vc).await;
    assert_eq!(bea_joined.endpoint, on_a, "Bea joins the call where it is");
    let cat_joined = join(&a.app, &cat, &guild, &vc).await;
    assert_eq!(cat_joined.endpoint, on_a);
    // A node started now learns the call from the others.
    let c = nodes.start(3, "node-c");
    let mut told = StatusCode::NOT_FOUND;
    for _ in 0..100 {
        (told, _) = voice_state(&c.app, &guild, &ada, &ada.token).await;
        if told == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(told, StatusCode::OK, "node C, started after the call, knows Ada's voice state");
    let mut ada_voice = VoiceClient::connect(&a.app, &ada_joined, AES_GCM).await;
    let bea_voice = VoiceClient::connect(&a.app, &bea_joined, AES_GCM).await;
    ada_voice.speaking(true).await;
    ada_voice.send_audio(b"first").await;
    let heard = bea_voice.receive(Duration::from_secs(5)).await.expect("Ada's voice reaches Bea across nodes");
    assert_eq!(heard.payload, b"first");
    assert_eq!(heard.ssrc, ada_voice.ssrc);

    // Node A dies. Ada resumes on node B; Cat, also on node A, never
    // comes back.
    let (ada_session, ada_seq) = (ada_joined.gateway.session_id.clone().unwrap(), ada_joined.gateway.seq);
    drop(ada_voice);
    drop(bea_voice);
    a.child.kill().expect("SIGKILL node A");
    a.child.wait().unwrap();
    drop(cat_joined);
    let mut ada_gw = resume_on(&b.app.gateway_addr(), &ada.token, &ada_session, ada_seq).await;

    // Both are sent to a live voice server (node B's or node C's), and Cat
    // leaves voice.
    let mut cat_left = false;
    let mut moved = None;
    while moved.is_none() || !cat_left {
        let Some(ws::Received::Payload(p)) = bea_joined.gateway.next_within(Duration::from_secs(15)).await else {
            panic!("Bea's session ended; moved {moved:?}, Cat left {cat_left}");
        };
        if p["t"] == "VOICE_SERVER_UPDATE" {
            moved = Some(p["d"].clone());
        }
        // (Cat joining, before, is among what Bea had not read yet.)
        if p["t"] == "VOICE_STATE_UPDATE" && p["d"]["user_id"] == cat.id.as_str() && p["d"]["channel_id"].is_null() {
            cat_left = true;
        }
    }
    let moved = moved.unwrap();
    let moved_to = moved["endpoint"].as_str().unwrap().to_owned();
    assert_ne!(moved_to, on_a, "a live voice server: {moved}");
    assert_eq!(moved["guild_id"], guild.as_str());
    let ada_moved = loop {
        match ada_gw.next_within(Duration::from_secs(15)).await {
            Some(ws::Received::Payload(p)) if p["t"] == "VOICE_SERVER_UPDATE" => break p["d"].clone(),
            Some(ws::Received::Payload(p)) => assert_ne!(p["op"], 9, "Ada's session resumes: {p}"),
            other => panic!("Ada's resumed session ended: {other:?}"),
        }
    };
    assert_eq!(ada_moved["endpoint"], moved_to.as_str(), "Ada goes where Bea goes: {ada_moved}");
    let (status, gone) = voice_state(&b.app, &guild, &cat, &ada.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "Cat is out of voice: {gone}");
    assert_eq!(gone["code"], 10065, "{gone}");
    let (status, kept) = voice_state(&b.app, &guild, &ada, &ada.token).await;
    assert_eq!(status, StatusCode::OK, "Ada, resumed, is still in voice: {kept}");
    assert_eq!(kept["channel_id"], vc.as_str());

    // On that voice server, they hear each other again.
    bea_joined.endpoint = moved_to.clone();
    bea_joined.token = moved["token"].as_str().unwrap().to_owned();
    let ada_joined = Joined {
        gateway: ada_gw,
        user: ada.clone(),
        guild: guild.clone(),
        session_id: ada_session,
        token: ada_moved["token"].as_str().unwrap().to_owned(),
        endpoint: moved_to,
    };
    let mut ada_voice = VoiceClient::connect(&b.app, &ada_joined, AES_GCM).await;
    let bea_voice = VoiceClient::connect(&b.app, &bea_joined, AES_GCM).await;
    ada_voice.speaking(true).await;
    ada_voice.send_audio(b"again").await;
    let heard = bea_voice.receive(Duration::from_secs(5)).await.expect("Ada's voice reaches Bea there");
    assert_eq!(heard.payload, b"again");
    drop((b, c));
    drop_stream(&format!("FC_TEST_{}", nodes.tag)).await;
}

/// A node that crashes and comes back at once under its configured name is
/// not seen to die; its earlier run's voice states go when it starts
/// (it holds no session yet), and calls on the voice server it had move to
/// a live one.
#[tokio::test]
async fn a_node_restarted_under_its_name_drops_its_old_voice_states() {
    use crate::common::voice::join;
    let nodes = VoiceNodes::new().await;
    let mut a = nodes.start(1, "node-a");
    let b = nodes.start(2, "node-b");
    let ada = b.app.register("ada").await;
    let bea = b.app.register("bea").await;
    let (guild, vc) = nodes.call_place(&b.app, &ada, &[&bea]).await;
    // Ada starts the call on node A; Bea joins it from node B.
    let ada_joined = join(&a.app, &ada, &guild, &vc).await;
    let mut bea_joined = join(&b.app, &bea, &guild, &vc).await;
    assert_eq!(bea_joined.endpoint, ada_joined.endpoint);
    // Node A crashes and is back at once, under the same name.
    a.child.kill().expect("SIGKILL node A");
    a.child.wait().unwrap();
    drop(ada_joined);
    let _a = nodes.start(3, "node-a");
    let (mut ada_left, mut moved) = (false, None);
    while !ada_left || moved.is_none() {
        let Some(ws::Received::Payload(p)) = bea_joined.gateway.next_within(Duration::from_secs(15)).await else {
            panic!("Bea's session ended; Ada left {ada_left}, moved {moved:?}");
        };
        if p["t"] == "VOICE_STATE_UPDATE" && p["d"]["user_id"] == ada.id.as_str() && p["d"]["channel_id"].is_null() {
            ada_left = true;
        }
        if p["t"] == "VOICE_SERVER_UPDATE" {
            moved = Some(p["d"]["endpoint"].clone());
        }
    }
    assert_ne!(moved.unwrap(), bea_joined.endpoint.as_str(), "Bea is sent off the voice server that is gone");
    let (status, gone) = voice_state(&b.app, &guild, &ada, &ada.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{gone}");
    drop(b);
    drop_stream(&format!("FC_TEST_{}", nodes.tag)).await;
}

async fn voice_state(app: &TestApp, guild: &str, user: &TestUser, token: &str) -> (StatusCode, Value) {
    app.get(&format!("/guilds/{guild}/voice-states/{}", user.id), token).await
}

/// Posts message `m{i}` in `channel` through `app`, and checks it was
/// acknowledged.
/// A session on `node` reads message 0 (posted with `post`); then the node
/// is SIGKILLed, the client's socket dropped, and messages 1 to 3 posted,
/// none of which the node handled. Returns the session's id, its last
/// sequence and the messages it read, for a resume elsewhere.
async fn killed_after_one<F: std::future::Future<Output = ()>>(
    node: &mut crate::common::cluster::Node,
    mut gw: ws::Gateway,
    post: impl Fn(usize) -> F,
) -> (String, Option<u64>, Vec<String>) {
    post(0).await;
    let mut seen = Vec::new();
    read_messages(&mut gw, &mut seen, 1).await;
    let (session, seq) = (gw.session_id.clone().unwrap(), gw.seq);
    node.child.kill().expect("SIGKILL the node");
    node.child.wait().unwrap();
    gw.cut();
    for i in 1..4 {
        post(i).await;
    }
    (session, seq, seen)
}

async fn post_numbered(app: &TestApp, channel: &str, token: &str, i: usize) {
    let (status, body) =
        app.post(&format!("/channels/{channel}/messages"), token, json!({"content": format!("m{i}")})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A NATS server of 2.10 or later, which filters a consumer by many
/// subjects: `TEST_NATS_SERVER`, or what `scripts/nats-server.sh` installs
/// (the test command runs it).
fn newer_nats_server() -> String {
    let path = std::env::var("TEST_NATS_SERVER").unwrap_or_else(|_| {
        format!("{}/.cache/fussioncord/nats-venv/bin/nats-server", std::env::var("HOME").unwrap_or_default())
    });
    assert!(
        std::path::Path::new(&path).exists(),
        "no NATS server of 2.10 or later at {path}: run scripts/nats-server.sh (or set TEST_NATS_SERVER)"
    );
    path
}

/// MESSAGE_CREATEs a node's gateway has routed so far.
async fn messages_routed(node: &TestApp) -> f64 {
    node.metric("fussioncord_gateway_events_total{event=\"MESSAGE_CREATE\"}").await
}

/// The contents of the next `n` MESSAGE_CREATEs a session receives, then
/// checks that no other comes.
async fn next_messages(gw: &mut ws::Gateway, n: usize) -> Vec<String> {
    let mut seen = Vec::new();
    while seen.len() < n {
        let e = gw.dispatch("MESSAGE_CREATE").await;
        seen.push(e["d"]["content"].as_str().unwrap().to_owned());
    }
    let more = gw.dispatches(Duration::from_millis(300)).await;
    assert!(!more.iter().any(|e| e["t"] == "MESSAGE_CREATE"), "a message more than once: {more:?}");
    seen
}

#[tokio::test]
async fn a_node_reads_the_traffic_of_only_the_guilds_its_sessions_are_in() {
    let store = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nats = OwnNats::start_binary(&newer_nats_server(), port, store.path());
    nats.wait_up().await;
    let url = nats.url();
    let (nodes, _) = cluster_with(2, move |c| {
        c.cluster.nats_url = url.clone();
        // A closed session ends within a second.
        c.gateway.resume_window_ms = 1_000;
    })
    .await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let ada = a.register("ada").await;
    let bea = a.register("bea").await;
    let (_, ada_channel) = a.guild(&ada, "Ada's").await;
    let (_, bea_channel) = a.guild(&bea, "Bea's").await;
    let (_, bea_other) = a.guild(&bea, "Bea's other").await;
    // Ada on node A, Bea on node B, each alone in a guild.
    let mut ada_gw = a.gateway("").await;
    ada_gw.identify(&ada.token, ALL_INTENTS).await;
    let mut bea_gw = b.gateway("").await;
    bea_gw.identify(&bea.token, ALL_INTENTS).await;
    // Node A reads Bea's channel now (its row must not be kept stale).
    let (status, _) = a.get(&format!("/channels/{bea_channel}"), &bea.token).await;
    assert_eq!(status, StatusCode::OK);

    // Bea's guild's messages, posted through both nodes, reach her on B
    // once and in order; node A, where nobody is in her guild, routes none.
    let (a_before, b_before) = (messages_routed(a).await, messages_routed(b).await);
    let mut last = String::new();
    for i in 0..20 {
        let via = if i % 2 == 0 { a } else { b };
        last = via.send(&bea, &bea_channel, &format!("b{i}")).await["id"].as_str().unwrap().to_owned();
    }
    let seen = next_messages(&mut bea_gw, 20).await;
    let mut sorted = seen.clone();
    sorted.sort_by_key(|m| m[1..].parse::<u32>().unwrap());
    assert_eq!(sorted, (0..20).map(|i| format!("b{i}")).collect::<Vec<_>>(), "every message once: {seen:?}");
    // Ada's guild's message, posted after them, reaches her on node A: by
    // then node A has read past Bea's.
    a.send(&ada, &ada_channel, "a0").await;
    assert_eq!(next_messages(&mut ada_gw, 1).await, ["a0"]);
    assert_eq!(messages_routed(a).await - a_before, 1.0, "node A routed only Ada's guild's message");
    assert_eq!(messages_routed(b).await - b_before, 20.0, "node B routed only Bea's guild's messages");
    // What node A answers of Bea's channel still names its last message.
    let (_, channel) = a.get(&format!("/channels/{bea_channel}"), &bea.token).await;
    assert_eq!(channel["last_message_id"].as_str(), Some(last.as_str()), "{channel}");

    // Ada joins Bea's guild while connected to node A: node A reads its
    // traffic from her join on, so every message posted after it (through
    // node A, whose events reach the stream in the order it posts them)
    // reaches her, once.
    a.join(&bea, &bea_channel, &ada).await;
    let contents: Vec<String> = (0..30).map(|i| format!("j{i}")).collect();
    let posts = contents.iter().map(|c| a.send(&bea, &bea_channel, c));
    futures::future::join_all(posts).await;
    let mut seen = next_messages(&mut ada_gw, 30).await;
    seen.sort_by_key(|m| m[1..].parse::<u32>().unwrap());
    assert_eq!(seen, contents);
    assert_eq!(next_messages(&mut bea_gw, 30).await.len(), 30);

    // A session of Bea's identifying on node A gets the traffic of her
    // other guild there, posted through node B, from the moment it is
    // ready.
    let mut bea_on_a = a.gateway("").await;
    bea_on_a.identify(&bea.token, ALL_INTENTS).await;
    b.send(&bea, &bea_other, "k0").await;
    assert_eq!(next_messages(&mut bea_on_a, 1).await, ["k0"]);
    bea_gw.dispatch("MESSAGE_CREATE").await;

    // When Ada's and Bea's sessions on node A end, node A stops reading
    // Bea's guild (it looks every 10 s): her messages stop being routed
    // there.
    ada_gw.close().await;
    bea_on_a.close().await;
    let mut stopped = false;
    for i in 0..30 {
        let before = messages_routed(a).await;
        b.send(&bea, &bea_channel, &format!("s{i}")).await;
        bea_gw.dispatch("MESSAGE_CREATE").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        if messages_routed(a).await == before {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(800)).await;
    }
    assert!(stopped, "node A still reads the traffic of a guild nobody there is in");
    drop(nodes);
}
