//! Roles (issue 19): `serve --role all|api|gateway`. An API node serves
//! the HTTP API and the web client and refuses gateway connections; a
//! gateway node serves the WebSocket gateway and the operations endpoints
//! but no REST API; together, on one PostgreSQL database and one NATS
//! stream, they are one deployment. `/readyz` reflects Redis when the rate
//! limiter uses it, and a node told to stop (SIGTERM) asks its gateway
//! clients to reconnect (op 7), whatever its role.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use server::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::ws::{Gateway, ALL_INTENTS};
use crate::common::{binary, fresh_postgres, TestApp};

fn nats_url() -> String {
    std::env::var("TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Nodes with these roles on one fresh PostgreSQL database and one NATS
/// stream of their own (removed with [`drop_stream`]).
async fn deployment(roles: &[Role]) -> (Vec<TestApp>, String) {
    let db = fresh_postgres().await;
    let tag = format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
    let mut nodes = Vec::new();
    for role in roles {
        let (db, tag, role) = (db.clone(), tag.clone(), *role);
        nodes.push(
            TestApp::spawn_with(move |c| {
                c.role = role;
                c.database.url = Some(db);
                c.cluster.nats_url = nats_url();
                c.cluster.stream = format!("FC_ROLES_{tag}");
                c.cluster.subject_prefix = format!("fcroles.{tag}");
                c.cluster.max_age_secs = 300;
            })
            .await,
        );
    }
    (nodes, format!("FC_ROLES_{tag}"))
}

async fn drop_stream(name: &str) {
    let client = async_nats::connect(nats_url()).await.expect("NATS");
    async_nats::jetstream::new(client).delete_stream(name).await.expect("the test's stream goes");
}

fn root(app: &TestApp) -> String {
    format!("http://{}", app.addr())
}

/// A WebSocket handshake at `/` that the node refuses: its status and body.
async fn refused_upgrade(addr: &str) -> (u16, Value) {
    use tokio_tungstenite::tungstenite::Error;
    match tokio_tungstenite::connect_async(format!("ws://{addr}/?v=10&encoding=json")).await {
        Ok(_) => panic!("{addr} accepted a gateway connection"),
        Err(Error::Http(res)) => {
            let body = res.body().as_deref().unwrap_or_default();
            let value = serde_json::from_slice(body)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)));
            (res.status().as_u16(), value)
        }
        Err(e) => panic!("the handshake failed without an HTTP answer: {e}"),
    }
}

#[tokio::test]
async fn an_api_node_and_a_gateway_node_serve_their_parts_of_one_deployment() {
    let (nodes, stream) = deployment(&[Role::Api, Role::Gateway]).await;
    let (api, gw) = (&nodes[0], &nodes[1]);

    // The API node: REST, the web client, the operations endpoints.
    let ada = api.register("ada").await;
    let bea = api.register("bea").await;
    let (guild, channel) = api.guild(&ada, "Split").await;
    api.join(&ada, &channel, &bea).await;
    let (status, _) = api.get("/gateway", &ada.token).await;
    assert_eq!(status, StatusCode::OK);
    let page = api.client.get(root(api)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "the web client's page");
    for path in ["/healthz", "/readyz", "/metrics"] {
        let res = api.client.get(format!("{}{path}", root(api))).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path} on the API node");
    }
    // ... but no gateway: an upgrade is told so, in Discord's error shape.
    let (status, body) = refused_upgrade(&api.gateway_addr()).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], 0);
    assert!(body["message"].as_str().unwrap().contains("gateway node"), "{body}");

    // The gateway node: no REST API, no web client...
    let messages = format!("/channels/{channel}/messages");
    for (method, path) in [
        (reqwest::Method::GET, "/users/@me"),
        (reqwest::Method::GET, "/gateway"),
        (reqwest::Method::POST, "/auth/register"),
        (reqwest::Method::POST, messages.as_str()),
    ] {
        let (status, body) =
            gw.call(method.clone(), path, Some(&ada.token), Some(json!({"content": "x", "username": "x"}))).await;
        assert_eq!((status, body["code"].clone()), (StatusCode::NOT_FOUND, json!(0)), "{method} {path} on the gateway");
    }
    let page = gw.client.get(root(gw)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND, "no web client on the gateway node");
    for path in ["/healthz", "/readyz", "/metrics"] {
        let res = gw.client.get(format!("{}{path}", root(gw))).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path} on the gateway node");
    }
    // ... but sessions, which hear what the API node does.
    let mut bea_gw = gw.gateway("").await;
    let ready = bea_gw.identify(&bea.token, ALL_INTENTS).await;
    assert_eq!(ready["guilds"][0]["id"], guild["id"]);
    let sent = api.send(&ada, &channel, "through the API node").await;
    let created = bea_gw.dispatch("MESSAGE_CREATE").await;
    assert_eq!(created["d"]["id"], sent["id"]);
    assert_eq!(created["d"]["content"], "through the API node");

    // A node with every role serves both.
    let all = TestApp::spawn_with(|c| c.role = Role::All).await;
    let cid = all.register("cid").await;
    let mut cid_gw = all.gateway("").await;
    let ready = cid_gw.identify(&cid.token, ALL_INTENTS).await;
    assert_eq!(ready["user"]["id"].as_str(), Some(cid.id.as_str()));

    drop(nodes);
    drop_stream(&stream).await;
}

/// A server process, killed if the test ends before it does (a failed
/// assertion must not leave it running).
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// `serve` with `args` after the subcommand; the process and its address.
fn serve_with(cmd: &mut Command, args: &[&str], data_dir: &std::path::Path) -> (Node, String) {
    let mut child = cmd
        .arg("serve")
        .args(args)
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("serve starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("http://"), "serve did not start: {line:?}");
    let addr = line.trim().rsplit("http://").next().unwrap().to_owned();
    (Node(child), addr)
}

/// SIGTERM, then the exit status within 10 s.
fn terminate(node: &mut Node) -> std::process::ExitStatus {
    let status = Command::new("kill").args(["-TERM", &node.0.id().to_string()]).status().unwrap();
    assert!(status.success());
    terminate_after_signal(node)
}

#[tokio::test]
async fn the_role_comes_from_the_flag_or_the_environment_and_a_bogus_one_is_refused() {
    let out = binary(&None).args(["serve", "--role", "bogus"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'bogus'") && err.contains("--role") && err.contains("all, api or gateway"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let out = binary(&None).env("FUSSIONCORD__ROLE", "bogus").arg("serve").arg("--data-dir").arg(dir.path()).output();
    let out = out.unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bogus") && err.to_lowercase().contains("role"), "{err}");

    // The environment sets the role; the flag wins over it.
    let gateway_url = |addr: &str| format!("http://{addr}/api/v10/gateway");
    let (mut child, addr) = serve_with(binary(&None).env("FUSSIONCORD__ROLE", "gateway"), &[], &dir.path().join("env"));
    let res = reqwest::get(gateway_url(&addr)).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "FUSSIONCORD__ROLE=gateway serves no REST API");
    assert!(terminate(&mut child).success());
    let (mut child, addr) =
        serve_with(binary(&None).env("FUSSIONCORD__ROLE", "gateway"), &["--role", "api"], &dir.path().join("flag"));
    let res = reqwest::get(gateway_url(&addr)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "--role api wins over the environment");
    let (status, _) = refused_upgrade(&addr).await;
    assert_eq!(status, 404);
    assert!(terminate(&mut child).success(), "an API node stops cleanly on SIGTERM");
}

#[tokio::test]
async fn sigterm_sends_op_7_to_the_clients_of_a_gateway_node_then_it_exits() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = binary(&None)
        .args(["bot", "create", "--name", "Drained", "--privileged-intents", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.lines().find_map(|l| l.strip_prefix("token: ")).expect("a token").trim().to_owned();

    for role in ["gateway", "all"] {
        // Two IDENTIFYs of one bot in a row: 1 ms apart at least, not 5 s.
        let mut cmd = binary(&None);
        cmd.env("FUSSIONCORD__GATEWAY__IDENTIFY_INTERVAL_MS", "1");
        let (mut child, addr) = serve_with(&mut cmd, &["--role", role], &data);
        let mut clients = Vec::new();
        for _ in 0..2 {
            // The interval still holds: an IDENTIFY within 1 ms of the
            // last is answered with op 9, which a fast machine can reach.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let mut gw = Gateway::connect(&addr, "").await;
            gw.identify(&format!("Bot {token}"), ALL_INTENTS).await;
            clients.push(gw);
        }
        // SIGTERM: every client is asked to reconnect before the node goes.
        Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
        for gw in &mut clients {
            let next = gw.next().await;
            assert_eq!(next["op"], 7, "role {role}: {next}");
            gw.close().await;
        }
        let status = terminate_after_signal(&mut child);
        assert!(status.success(), "role {role}: exited with {status}");
        // Gone: nothing listens any more.
        assert!(tokio::net::TcpStream::connect(&addr).await.is_err(), "role {role}: still listening");
    }
}

/// The exit status of a child already sent SIGTERM, within 10 s.
fn terminate_after_signal(node: &mut Node) -> std::process::ExitStatus {
    for _ in 0..100 {
        if let Some(status) = node.0.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server did not stop within 10 s of SIGTERM");
}

/// A TCP forwarder to Redis that the test can cut and restore, standing in
/// for Redis going away and coming back.
struct Forwarder {
    port: u16,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Forwarder {
    async fn start(port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind the forwarder");
        let port = listener.local_addr().unwrap().port();
        let target = redis_url().trim_start_matches("redis://").trim_end_matches('/').to_owned();
        let task = tokio::spawn(async move {
            let mut pipes = tokio::task::JoinSet::new();
            loop {
                let Ok((mut client, _)) = listener.accept().await else { return };
                let target = target.clone();
                pipes.spawn(async move {
                    let Ok(mut redis) = tokio::net::TcpStream::connect(target).await else { return };
                    let (mut a, mut b) = ([0u8; 4096], [0u8; 4096]);
                    loop {
                        tokio::select! {
                            n = client.read(&mut a) => match n {
                                Ok(n) if n > 0 => if redis.write_all(&a[..n]).await.is_err() { return },
                                _ => return,
                            },
                            n = redis.read(&mut b) => match n {
                                Ok(n) if n > 0 => if client.write_all(&b[..n]).await.is_err() { return },
                                _ => return,
                            },
                        }
                    }
                });
            }
        });
        Self { port, task: Some(task) }
    }

    /// Closes the listener and every connection through it.
    async fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

#[tokio::test]
async fn readyz_reflects_redis_when_the_rate_limiter_uses_it() {
    let mut redis = Forwarder::start(0).await;
    let port = redis.port;
    let app = TestApp::spawn_with(|c| {
        c.ratelimit.backend = ratelimit::Backend::Redis;
        c.ratelimit.redis_url = format!("redis://127.0.0.1:{port}");
        c.ratelimit.key_prefix = format!("fc-ready-{:x}:", rand::random::<u64>());
    })
    .await;
    let readyz = || async {
        let res = app.client.get(format!("{}/readyz", root(&app))).send().await.unwrap();
        (res.status(), res.json::<Value>().await.unwrap())
    };
    let (status, body) = readyz().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"]["ratelimit"], "ok");

    // Redis goes away: not ready, and the answer says which part is missing.
    redis.cut().await;
    let (status, body) = readyz().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        body,
        json!({ "status": "unavailable", "checks": { "store": "ok", "bus": "ok", "ratelimit": "unavailable", "ids": "ok", "sessions": "ok" } })
    );
    // Still alive, and requests still go through, uncounted.
    let res = app.client.get(format!("{}/healthz", root(&app))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    app.register("uncounted").await;

    // Redis is back: ready again once the connection is remade.
    let _redis = Forwarder::start(port).await;
    let mut last = None;
    for _ in 0..50 {
        let (status, body) = readyz().await;
        if status == StatusCode::OK {
            last = None;
            break;
        }
        last = Some(body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(last, None, "still not ready with Redis back");
}
