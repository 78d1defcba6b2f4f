//! `RedisLocator`: which node holds which interaction, in Redis
//! (`<prefix>:i:<id>` and `<prefix>:it:<sha-256 of the token>`, each the
//! holder's base URL, for the tokens' 15 minutes), and the HTTP client that
//! hands a request on to that node.

use std::time::Duration;

use redis::aio::ConnectionManager;
use sha2::{Digest, Sha256};

use domain::interactions::{Held, InteractionId, Locator, Relayed};
use events::BoxFuture;

/// As long as an interaction's token works, and a little more.
const HELD_FOR: Duration = Duration::from_secs(16 * 60);
const TIMEOUT: Duration = Duration::from_secs(2);
/// How long a node handed a request may take to answer it.
const RELAY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct RedisLocator {
    conn: ConnectionManager,
    prefix: String,
    /// This node's base URL, as the others reach it.
    me: String,
    http: reqwest::Client,
}

impl RedisLocator {
    /// Connects to Redis; `me` is this node's base URL (`http://host:port`).
    pub async fn connect(url: &str, prefix: &str, me: &str) -> Result<Self, String> {
        let conn = crate::connect_redis(url, TIMEOUT * 5).await?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(RELAY_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { conn, prefix: prefix.to_owned(), me: me.trim_end_matches('/').to_owned(), http })
    }

    fn key(&self, held: Held<'_>) -> String {
        match held {
            Held::Id(id) => format!("{}:i:{id}", self.prefix),
            Held::Token(token) => {
                let digest = Sha256::digest(token.as_bytes());
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                format!("{}:it:{hex}", self.prefix)
            }
        }
    }
}

impl Locator for RedisLocator {
    fn announce<'a>(&'a self, id: InteractionId, token: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let ms = HELD_FOR.as_millis() as u64;
            let mut pipe = redis::pipe();
            pipe.pset_ex(self.key(Held::Id(id)), &self.me, ms).ignore();
            pipe.pset_ex(self.key(Held::Token(token)), &self.me, ms).ignore();
            let mut conn = self.conn.clone();
            match tokio::time::timeout(TIMEOUT, pipe.query_async::<()>(&mut conn)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "an interaction's node not written to Redis"),
                Err(_) => tracing::warn!("an interaction's node not written to Redis in time"),
            }
        })
    }

    fn owner_of(&self, held: Held<'_>) -> BoxFuture<'_, Option<String>> {
        let key = self.key(held);
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let owner: Option<String> =
                match tokio::time::timeout(TIMEOUT, redis::cmd("GET").arg(&key).query_async(&mut conn)).await {
                    Ok(Ok(owner)) => owner,
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "could not ask Redis which node holds an interaction");
                        None
                    }
                    Err(_) => None,
                };
            owner.filter(|o| *o != self.me)
        })
    }

    fn relay(&self, owner: String, request: Relayed) -> BoxFuture<'_, Result<Relayed, String>> {
        Box::pin(async move {
            let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|e| e.to_string())?;
            let mut call = self.http.request(method, format!("{owner}{}", request.path));
            for (name, value) in &request.headers {
                call = call.header(name.as_str(), value.as_slice());
            }
            let res = call.body(request.body).send().await.map_err(|e| e.to_string())?;
            let status = res.status().as_u16();
            let headers = res.headers().iter().map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec())).collect();
            let body = res.bytes().await.map_err(|e| e.to_string())?;
            Ok(Relayed { method: String::new(), path: String::new(), status, headers, body })
        })
    }
}
