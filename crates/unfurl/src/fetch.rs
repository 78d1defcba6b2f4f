//! The fetcher: GET over http or https that connects only where the
//! [`Policy`] permits.
//!
//! - A host written as an IP address is checked before anything is sent
//!   (reqwest connects to those without asking a resolver).
//! - A host name is resolved by [`Guard`], the client's only resolver,
//!   which answers the addresses to connect to only when every one of them
//!   is permitted for the URL's port: the addresses checked are the
//!   addresses connected to, so a name cannot resolve one way for the check
//!   and another for the connection.
//! - No proxy from the environment is used (a proxy would resolve the name
//!   itself, past the guard).
//! - Redirects are not followed by the client: each `Location` is a new
//!   URL, checked like the first, at most `max_redirects` times.
//! - Bodies are read up to `max_bytes` (pages only up to `</head>`), and a
//!   whole preview, redirects included, has `timeout_ms`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use url::{Host, Url};

use crate::address::Policy;
use crate::config::UnfurlConfig;

/// Why a URL was not fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The URL, a redirect or a resolved address is not permitted: nothing
    /// was sent to it.
    Refused(String),
    /// It was tried and did not give a usable answer (network error,
    /// status, type, size, time).
    Failed(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused(why) => write!(f, "refused: {why}"),
            Failure::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

/// The resolver's refusal, found again in reqwest's error chain.
#[derive(Debug)]
struct Refusal(String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

/// The only resolver of a hop's client: resolves with the system's resolver
/// (through tokio) and answers only permitted addresses for `port`.
struct Guard {
    policy: Arc<Policy>,
    port: u16,
}

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(guarded_lookup(self.policy.clone(), self.port, name.as_str().to_owned()))
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn guarded_lookup(policy: Arc<Policy>, port: u16, host: String) -> Result<Addrs, BoxError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port)).await?.collect();
    if addrs.is_empty() {
        return Err(format!("{host} has no address").into());
    }
    if let Some(bad) = addrs.iter().find(|a| !policy.permits(**a)) {
        return Err(Box::new(Refusal(format!("{host} resolves to {bad}, which is not permitted"))));
    }
    Ok(Box::new(addrs.into_iter()))
}

/// A response the fetcher got: where it came from in the end, its media
/// type, and the first bytes of its body.
#[derive(Debug)]
pub struct Fetched {
    pub url: Url,
    /// The media type, lowercased, without parameters.
    pub content_type: String,
    pub body: Vec<u8>,
}

/// What to read of a body.
#[derive(Debug, Clone, Copy)]
pub enum Read {
    /// An HTML page: up to `</head>`.
    Head,
    /// An image: until its size can be read from its header.
    ImageHeader,
    /// A small document (oEmbed JSON): whole, up to the cap.
    Whole,
}

#[derive(Clone)]
pub struct Fetcher {
    policy: Arc<Policy>,
    config: Arc<UnfurlConfig>,
}

impl Fetcher {
    pub fn new(policy: Policy, config: UnfurlConfig) -> Self {
        Self { policy: Arc::new(policy), config: Arc::new(config) }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.config.timeout_ms.max(1))
    }

    /// GETs `url`, following permitted redirects, and reads the start of
    /// the body of a media type `wanted` accepts (`Failed` otherwise).
    pub async fn get(
        &self,
        url: &Url,
        accept: &str,
        wanted: impl Fn(&str) -> Option<Read>,
    ) -> Result<Fetched, Failure> {
        let mut url = url.clone();
        let mut hops = 0;
        loop {
            let port = self.check(&url)?;
            let client = self.client(port)?;
            let mut response =
                client.get(url.clone()).header(ACCEPT, accept).send().await.map_err(|e| classify(&url, e))?;
            let status = response.status();
            if status.is_redirection() {
                if hops >= self.config.max_redirects {
                    return Err(Failure::Failed(format!("more than {} redirects", self.config.max_redirects)));
                }
                hops += 1;
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| Failure::Failed(format!("{status} without a Location")))?;
                url = url.join(location).map_err(|_| Failure::Failed(format!("bad Location {location:?}")))?;
                continue;
            }
            if !status.is_success() {
                return Err(Failure::Failed(format!("{url} answered {status}")));
            }
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
                .unwrap_or_default();
            let Some(read) = wanted(&content_type) else {
                return Err(Failure::Failed(format!("{url} is {content_type:?}")));
            };
            let body = self.read(&mut response, read).await?;
            return Ok(Fetched { url, content_type, body });
        }
    }

    /// POSTs `body` to `url` with `headers` under the same address rules
    /// (no redirect is followed: a POST is not repeated elsewhere); answers
    /// the status and the body, read whole up to the cap. HTTP interactions
    /// go out through this.
    pub async fn post(&self, url: &Url, headers: &[(&str, String)], body: Vec<u8>) -> Result<(u16, Vec<u8>), Failure> {
        let port = self.check(url)?;
        let client = self.client(port)?;
        let mut request = client.post(url.clone()).body(body);
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let mut response = request.send().await.map_err(|e| classify(url, e))?;
        let status = response.status().as_u16();
        let body = self.read(&mut response, Read::Whole).await?;
        Ok((status, body))
    }

    /// The port to connect to, once the URL may be fetched at all: http or
    /// https, a host, and a host written as an address permitted.
    fn check(&self, url: &Url) -> Result<u16, Failure> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Failure::Refused(format!("{} is not http or https", url.scheme())));
        }
        let port = url.port_or_known_default().ok_or_else(|| Failure::Refused("no port".into()))?;
        let ip = match url.host() {
            None => return Err(Failure::Refused("no host".into())),
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            // A name that is an address in some spelling the URL parser
            // left alone would be connected to directly: check it too.
            Some(Host::Domain(d)) => d.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok(),
        };
        if let Some(ip) = ip {
            if !self.policy.permits(SocketAddr::new(ip, port)) {
                return Err(Failure::Refused(format!("{ip} port {port} is not permitted")));
            }
        }
        Ok(port)
    }

    /// A client for one hop: its resolver knows the hop's port.
    fn client(&self, port: u16) -> Result<reqwest::Client, Failure> {
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .dns_resolver(Arc::new(Guard { policy: self.policy.clone(), port }))
            .connect_timeout(self.timeout())
            .timeout(self.timeout())
            .pool_max_idle_per_host(0)
            .user_agent(self.config.user_agent.as_str())
            .build()
            .map_err(|e| Failure::Failed(format!("building the client: {e}")))
    }

    async fn read(&self, response: &mut reqwest::Response, read: Read) -> Result<Vec<u8>, Failure> {
        let max = self.config.max_bytes;
        let mut body = Vec::new();
        while body.len() < max {
            let chunk = match response.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => return Err(Failure::Failed(format!("reading the body: {e}"))),
            };
            let searched_from = body.len().saturating_sub(7);
            let take = chunk.len().min(max - body.len());
            body.extend_from_slice(&chunk[..take]);
            let done = match read {
                Read::Head => body[searched_from..].windows(7).any(|w| w.eq_ignore_ascii_case(b"</head>")),
                Read::ImageHeader => imagesize::blob_size(&body).is_ok(),
                Read::Whole => false,
            };
            if done {
                break;
            }
        }
        Ok(body)
    }
}

/// A reqwest error as a refusal (the guard said no) or a failure.
fn classify(url: &Url, e: reqwest::Error) -> Failure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<Refusal>() {
            return Failure::Refused(r.0.clone());
        }
        source = s.source();
    }
    Failure::Failed(format!("{url}: {e}"))
}
