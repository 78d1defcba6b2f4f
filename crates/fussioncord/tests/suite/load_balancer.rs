//! The load balancer (issue 19): `deploy/nginx/fussioncord.conf`, run by
//! Debian's nginx (`scripts/nginx.sh` installs it) as a process of the
//! test on loopback ports, in front of nodes on one PostgreSQL database
//! sharing their events through NATS (127.0.0.1:4222, or `TEST_NATS_URL`).
//! Only the lines the file marks EDIT (upstream servers, certificate,
//! `listen` ports) are rewritten, so what is tested is what is deployed.
//! Clients reach nginx over TLS from chosen loopback addresses
//! (127.0.0.2, .3, …), so the address nginx forwards differs from its own.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::attachments::{file, payload, send_form};
use crate::common::ws::{Gateway, Received, ALL_INTENTS};
use crate::common::{fresh_postgres, voice, TestApp};

fn nats_url() -> String {
    std::env::var("TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// The deployed configuration, as committed.
fn deploy_config() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nginx/fussioncord.conf");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Debian's nginx; the test fails (never skips) without it.
fn nginx_binary() -> PathBuf {
    let found = ["/usr/sbin/nginx", "/usr/bin/nginx"].iter().map(PathBuf::from).find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!("nginx is not installed: run `bash scripts/nginx.sh` (the test command, scripts/test.sh, does)")
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `deploy/nginx/fussioncord.conf` with its EDIT lines rewritten: both
/// upstreams list `nodes`, the TLS server listens on `https`, the redirect
/// on `http`, with the test's certificate. Every rewrite must find its
/// line, so the file and this test cannot drift apart unnoticed.
fn render(config: &str, nodes: &[SocketAddr], https: u16, http: u16, cert: &Path, key: &Path) -> String {
    let mut out = String::new();
    let (mut upstreams, mut listens, mut certs) = (Vec::new(), 0, 0);
    let mut upstream: Option<String> = None;
    let mut servers_written = false;
    for line in config.lines() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix("upstream ") {
            upstream = Some(name.trim_end_matches('{').trim().to_owned());
            servers_written = false;
        } else if upstream.is_some() && t == "}" {
            assert!(servers_written, "upstream {upstream:?} lists no server line to replace");
            upstreams.push(upstream.take().unwrap());
        } else if upstream.is_some() && t.starts_with("server ") {
            if !servers_written {
                for node in nodes {
                    out.push_str(&format!("    server {node} max_fails=3 fail_timeout=10s;\n"));
                }
                servers_written = true;
            }
            continue;
        } else if t.starts_with("listen [::]:") {
            continue;
        } else if t == "listen 80;" {
            out.push_str(&format!("    listen 127.0.0.1:{http};\n"));
            listens += 1;
            continue;
        } else if let Some(rest) = t.strip_prefix("listen 443 ") {
            out.push_str(&format!("    listen 127.0.0.1:{https} {rest}\n"));
            listens += 1;
            continue;
        } else if t.starts_with("ssl_certificate ") || t.starts_with("ssl_certificate_key ") {
            let (directive, _) = t.split_once(' ').unwrap();
            let path = if directive == "ssl_certificate" { cert } else { key };
            out.push_str(&format!("    {directive} {};\n", path.display()));
            certs += 1;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    upstreams.sort();
    assert_eq!(upstreams, ["fussioncord_api", "fussioncord_gateway"], "the upstreams the config defines");
    assert_eq!(listens, 2, "`listen 80;` and `listen 443 …` in the config");
    assert_eq!(certs, 2, "ssl_certificate and ssl_certificate_key in the config");
    out
}

/// nginx running the deployed configuration in front of `nodes`, in the
/// foreground with its own prefix, pid file, logs and temporary paths.
struct Nginx {
    child: Child,
    https: SocketAddr,
    http: SocketAddr,
    /// PEM of the CA that signed nginx's certificate (for 127.0.0.1).
    ca: String,
    dir: tempfile::TempDir,
}

impl Nginx {
    async fn start(nodes: &[SocketAddr]) -> Self {
        let binary = nginx_binary();
        let dir = tempfile::tempdir().unwrap();
        // Workers run as `nobody` when the test runs as root: they must
        // reach their temporary directories under this one.
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let (cert, key, ca) = voice::tls_files(dir.path());
        let (https, http) = (free_port(), free_port());
        let site = render(&deploy_config(), nodes, https, http, &cert, &key);
        let d = dir.path().display();
        std::fs::write(dir.path().join("fussioncord.conf"), site).unwrap();
        // What Debian's /etc/nginx/nginx.conf gives a site file, reduced to
        // what these paths need.
        let main = format!(
            "worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
             include {d}/fussioncord.conf;\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
        let check = Command::new(&binary)
            .arg("-t")
            .args(["-p", &d.to_string(), "-c", &format!("{d}/nginx.conf"), "-e", &format!("{d}/error.log")])
            .output()
            .expect("nginx -t runs");
        assert!(
            check.status.success(),
            "nginx rejects the deployed configuration: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let child = Command::new(&binary)
            .args(["-p", &d.to_string(), "-c", &format!("{d}/nginx.conf"), "-e", &format!("{d}/error.log")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx starts");
        let https: SocketAddr = format!("127.0.0.1:{https}").parse().unwrap();
        let http: SocketAddr = format!("127.0.0.1:{http}").parse().unwrap();
        let mut nginx = Self { child, https, http, ca, dir };
        for _ in 0..100 {
            if TcpStream::connect(nginx.https).await.is_ok() && TcpStream::connect(nginx.http).await.is_ok() {
                return nginx;
            }
            if let Some(status) = nginx.child.try_wait().unwrap() {
                panic!("nginx exited ({status}): {}", nginx.error_log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("nginx did not listen on {} and {}: {}", nginx.https, nginx.http, nginx.error_log());
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// A client of the API through nginx over TLS, from `from`, trusting
    /// only the test CA.
    fn api(&self, from: IpAddr) -> TestApp {
        let client = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca.as_bytes()).unwrap())
            .local_address(from)
            .build()
            .unwrap();
        let mut app = TestApp::attach(&self.https.to_string());
        app.base = format!("https://{}/api/v10", self.https);
        app.client = client;
        app
    }

    /// A gateway connection through nginx (`wss://`), from `from`, with
    /// extra request headers; the HTTP status when the upgrade is refused.
    async fn gateway(
        &self,
        from: IpAddr,
        headers: &[(&'static str, &str)],
    ) -> Result<Gateway<TlsStream<TcpStream>>, u16> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, ServerName};
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(self.ca.as_bytes()).unwrap()).unwrap();
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(from, 0)).unwrap();
        let tcp = socket.connect(self.https).await.expect("nginx accepts");
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .expect("TLS handshake with nginx, trusting the test CA");
        let mut request = format!("wss://{}/?v=10&encoding=json", self.https).into_client_request().unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(*name, value.parse().unwrap());
        }
        match tokio_tungstenite::client_async(request, tls).await {
            Ok((ws, _)) => Ok(Gateway::from_stream(ws)),
            Err(tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
            Err(e) => panic!("WebSocket upgrade through nginx: {e}"),
        }
    }
}

impl Drop for Nginx {
    /// Stops the nginx this test started: SIGTERM to its master, which
    /// stops its worker and waits for it (SIGKILL would orphan the worker,
    /// still listening), then SIGKILL if it has not gone within 5 s.
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on the pid of our own child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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

async fn drop_stream(name: &str) {
    let client = async_nats::connect(nats_url()).await.expect("NATS");
    async_nats::jetstream::new(client).delete_stream(name).await.expect("the test's stream goes");
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
