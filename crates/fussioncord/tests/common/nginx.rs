//! nginx running `deploy/nginx/fussioncord.conf` (Debian's nginx;
//! `scripts/nginx.sh` installs it) as a process of the test on loopback
//! ports, in front of nodes. Only the lines the file marks EDIT (upstream
//! servers, certificate, `listen` ports) are rewritten, so what is tested
//! is what is deployed. Used by `suite/load_balancer.rs` and
//! `bots/cluster.rs`.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::ws::Gateway;
use super::{voice, TestApp};

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

pub fn free_port() -> u16 {
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
pub struct Nginx {
    child: Child,
    pub https: SocketAddr,
    pub http: SocketAddr,
    /// PEM of the CA that signed nginx's certificate (for 127.0.0.1).
    pub ca: String,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// On free ports.
    pub async fn start(nodes: &[SocketAddr]) -> Self {
        Self::start_on(nodes, free_port(), free_port()).await
    }

    /// On the ports given: TLS on `https`, the redirect on `http` (nodes
    /// that must name nginx's URL, in `gateway.public_url`, are started
    /// before it knowing its port).
    pub async fn start_on(nodes: &[SocketAddr], https: u16, http: u16) -> Self {
        let binary = nginx_binary();
        let dir = tempfile::tempdir().unwrap();
        // Workers run as `nobody` when the test runs as root: they must
        // reach their temporary directories under this one.
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let (cert, key, ca) = voice::tls_files(dir.path());
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

    /// The CA as a file (`SSL_CERT_FILE` for Python, `NODE_EXTRA_CA_CERTS`
    /// for Node).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("voice-tls/ca.pem")
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// A client of the API through nginx over TLS, from `from`, trusting
    /// only the test CA.
    pub fn api(&self, from: IpAddr) -> TestApp {
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
    pub async fn gateway(
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
