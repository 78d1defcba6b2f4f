//! Settings, layered: built-in defaults, then `fussioncord.toml` (or the
//! file given with `--config`), then `FUSSIONCORD__*` environment
//! variables (`FUSSIONCORD__DATABASE__URL` sets `database.url`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// What this node serves: `all` (the default), `api` or `gateway`
    /// (`serve --role` wins over it).
    #[serde(default)]
    pub role: Role,
    /// Address the HTTP API listens on.
    pub listen: SocketAddr,
    /// Where the embedded SQLite database lives.
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub snowflake: SnowflakeConfig,
    /// HTTP limits, as the API crate defines them.
    pub http: api::HttpConfig,
    pub auth: AuthConfig,
    /// The gateway's settings, as the gateway crate defines them.
    pub gateway: gateway::GatewayConfig,
    /// Rate limits, as the ratelimit crate defines them.
    pub ratelimit: ratelimit::RateLimitConfig,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    pub avatars: AvatarsConfig,
    /// Uploaded files (attachments, avatars, emoji and sticker images):
    /// where they are kept, how large they may be, how their URLs are
    /// signed; as the media crate defines them.
    #[serde(default)]
    pub media: media::MediaConfig,
    /// AutoMod and the message classifier, as the API crate defines them.
    pub moderation: domain::automod::ModerationConfig,
    /// The voice server (TLS voice gateway and UDP media), as the voice
    /// crate defines it.
    #[serde(default)]
    pub voice: voice::VoiceConfig,
    /// Link previews: whether links in messages are unfurled, and what the
    /// fetcher may reach; as the unfurl crate defines them.
    #[serde(default)]
    pub unfurl: unfurl::UnfurlConfig,
    /// Interactions: the first answer's deadline, and which non-public
    /// addresses applications' HTTP interactions endpoints may be at; as
    /// the domain crate defines them.
    #[serde(default)]
    pub interactions: domain::interactions::InteractionsConfig,
    /// Several nodes: the NATS JetStream event bus, as the cluster crate
    /// defines it. Unset, one node's events stay in its process.
    #[serde(default)]
    pub cluster: cluster::ClusterConfig,
    /// Traces: where spans are exported over OTLP, if anywhere.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// An OpenTelemetry collector's OTLP/HTTP base URL, e.g.
    /// `http://127.0.0.1:4318`: spans go to `<url>/v1/traces` as protobuf.
    /// Unset: no span is exported (logs are unchanged).
    pub otlp_endpoint: Option<String>,
    /// The `service.name` of the exported spans; `service.instance.id` is
    /// the node's name (`cluster.node`).
    pub service_name: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self { otlp_endpoint: None, service_name: "fussioncord".into() }
    }
}

impl TelemetryConfig {
    /// Whether spans are exported (an empty endpoint counts as unset, as
    /// an environment variable set to nothing does).
    pub fn exports(&self) -> bool {
        self.traces_url().is_some()
    }

    /// Where the spans are sent: the endpoint's OTLP traces path.
    pub fn traces_url(&self) -> Option<String> {
        let base = self.otlp_endpoint.as_deref().map(str::trim).filter(|e| !e.is_empty())?;
        Some(if base.ends_with("/v1/traces") {
            base.to_owned()
        } else {
            format!("{}/v1/traces", base.trim_end_matches('/'))
        })
    }
}

/// What one node of a deployment serves. Every role opens the store and the
/// event bus, and answers `/healthz`, `/readyz` and `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything in one process: the HTTP API, the web client, the
    /// WebSocket gateway and the voice server.
    #[default]
    All,
    /// The HTTP API and the web client; no gateway sessions and no voice
    /// server, so nothing here outlives a request.
    Api,
    /// The WebSocket gateway and the voice server (whose joins come through
    /// the gateway's op 4); no REST API and no web client.
    Gateway,
}

impl Role {
    pub fn serves_api(self) -> bool {
        matches!(self, Self::All | Self::Api)
    }

    pub fn serves_gateway(self) -> bool {
        matches!(self, Self::All | Self::Gateway)
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(Self::All),
            "api" => Ok(Self::Api),
            "gateway" => Ok(Self::Gateway),
            other => Err(format!("role must be all, api or gateway, not {other:?}")),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::All => "all",
            Self::Api => "api",
            Self::Gateway => "gateway",
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvatarsConfig {
    /// Largest avatar accepted, in bytes once decoded.
    pub max_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` for people, `json` (one object per line) for log collectors.
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("log format must be text or json, not {other:?}")),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Whether `GET /metrics` answers. It reveals traffic figures, not
    /// data; keep it off the public internet at the proxy, or turn it off.
    pub enabled: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://…` to use PostgreSQL; unset for embedded SQLite.
    pub url: Option<String>,
    pub max_connections: u32,
    /// Message searches running at once (further ones wait up to the
    /// budget, then get 202 "try again"); 0 is half the CPU cores.
    #[serde(default)]
    pub search_concurrency: usize,
    /// How long one search's statements may run before the database stops
    /// them, in milliseconds.
    #[serde(default = "default_search_budget_ms")]
    pub search_budget_ms: u64,
}

fn default_search_budget_ms() -> u64 {
    2000
}

impl DatabaseConfig {
    pub fn search_limits(&self) -> store::SearchLimits {
        let defaults = store::SearchLimits::default();
        store::SearchLimits {
            concurrency: if self.search_concurrency == 0 { defaults.concurrency } else { self.search_concurrency },
            budget: std::time::Duration::from_millis(self.search_budget_ms.max(1)),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnowflakeConfig {
    /// The worker bits (0–31) of every id this node mints, fixed. Unset,
    /// the node leases a free worker id in the database when `lease` says
    /// so, and uses 0 otherwise.
    #[serde(default)]
    pub worker: Option<u8>,
    /// The process bits (0–31).
    pub process: u8,
    /// Lease the lowest free worker id in the database, renewed while the
    /// node runs (no two nodes on one database mint with the same one).
    /// Unset: on when `cluster.nats_url` is set and `worker` is not. An
    /// explicit `worker` and `lease = true` together are refused.
    #[serde(default)]
    pub lease: Option<bool>,
    /// How long a lease lasts without renewal, in seconds; a node that
    /// cannot renew stops minting ids when it runs out.
    #[serde(default = "default_lease_ttl_secs")]
    pub lease_ttl_secs: u64,
    /// How often the lease is renewed, in seconds (well below the TTL).
    #[serde(default = "default_lease_renew_secs")]
    pub lease_renew_secs: u64,
}

fn default_lease_ttl_secs() -> u64 {
    30
}

fn default_lease_renew_secs() -> u64 {
    10
}

/// Where a node's snowflake worker id comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerId {
    Fixed(u8),
    Leased { ttl: std::time::Duration, renew_every: std::time::Duration },
}

impl Config {
    /// The worker id setting as it applies to this configuration.
    pub fn worker_id(&self) -> WorkerId {
        let s = &self.snowflake;
        match (s.worker, s.lease) {
            (Some(worker), _) => WorkerId::Fixed(worker),
            (None, Some(true)) => self.leased(),
            (None, None) if self.cluster.enabled() => self.leased(),
            (None, _) => WorkerId::Fixed(0),
        }
    }

    fn leased(&self) -> WorkerId {
        WorkerId::Leased {
            ttl: std::time::Duration::from_secs(self.snowflake.lease_ttl_secs),
            renew_every: std::time::Duration::from_secs(self.snowflake.lease_renew_secs),
        }
    }

    /// The checks a loaded configuration must pass.
    pub fn validate(&self) -> anyhow::Result<()> {
        let s = &self.snowflake;
        anyhow::ensure!(
            s.worker.is_none_or(|w| w < 32) && s.process < 32,
            "snowflake.worker and snowflake.process must be below 32"
        );
        anyhow::ensure!(
            !(s.worker.is_some() && s.lease == Some(true)),
            "snowflake.worker and snowflake.lease = true are both set: a node either has a fixed worker id or leases one"
        );
        anyhow::ensure!(
            s.lease_renew_secs >= 1 && s.lease_ttl_secs >= 2 * s.lease_renew_secs,
            "snowflake.lease_ttl_secs must be at least twice snowflake.lease_renew_secs (at least 1)"
        );
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// argon2id memory cost in KiB and number of passes.
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    /// Failed logins per account within `login_window_secs` before further
    /// attempts are refused (429) until the window ends.
    pub login_max_failures: u32,
    pub login_window_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            role: Role::All,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database: DatabaseConfig {
                url: None,
                max_connections: 16,
                search_concurrency: 0,
                search_budget_ms: default_search_budget_ms(),
            },
            snowflake: SnowflakeConfig {
                worker: None,
                process: 0,
                lease: None,
                lease_ttl_secs: default_lease_ttl_secs(),
                lease_renew_secs: default_lease_renew_secs(),
            },
            http: api::HttpConfig::default(),
            auth: AuthConfig {
                argon2_memory_kib: 19 * 1024,
                argon2_iterations: 2,
                login_max_failures: 5,
                login_window_secs: 15 * 60,
            },
            gateway: gateway::GatewayConfig::default(),
            ratelimit: ratelimit::RateLimitConfig::default(),
            log: LogConfig { format: LogFormat::Text },
            metrics: MetricsConfig { enabled: true },
            avatars: AvatarsConfig { max_bytes: 8 * 1024 * 1024 },
            media: media::MediaConfig::default(),
            moderation: domain::automod::ModerationConfig::default(),
            voice: voice::VoiceConfig::default(),
            unfurl: unfurl::UnfurlConfig::default(),
            interactions: domain::interactions::InteractionsConfig::default(),
            cluster: cluster::ClusterConfig::default(),
            telemetry: TelemetryConfig::default(),
        }
    }
}

impl Config {
    /// Loads the layers. `file` must exist when given; without it,
    /// `./fussioncord.toml` is read if present.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                anyhow::ensure!(path.exists(), "configuration file {} does not exist", path.display());
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("fussioncord.toml")),
        }
        let config: Config = figment.merge(Env::prefixed("FUSSIONCORD__").split("__")).extract()?;
        config.validate()?;
        Ok(config)
    }
}
