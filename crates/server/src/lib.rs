//! Start-up: layered configuration, opening the store, serving the API, and
//! shutting down gracefully. Everything here is wiring; the behaviour lives
//! in the domain crates.

mod config;
mod linger;
mod serve;
mod traced;
mod voice_ws;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use model::snowflake::SnowflakeGenerator;
use store::SqlStore;

pub use config::{
    AvatarsConfig, Config, DatabaseConfig, LogConfig, LogFormat, MetricsConfig, Role, TelemetryConfig, WorkerId,
};
pub use voice::Addresses as VoiceAddresses;

/// Opens the store the configuration names: PostgreSQL when
/// `database.url` is set, otherwise SQLite in the data directory.
pub async fn open_store(config: &Config) -> anyhow::Result<SqlStore> {
    match &config.database.url {
        Some(url) if url.starts_with("postgres") => {
            SqlStore::open_postgres(url, config.database.max_connections).await.context("connecting to PostgreSQL")
        }
        Some(url) => anyhow::bail!("unsupported database.url {url:?}: use postgres://… or leave it unset for SQLite"),
        None => {
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
            let path = config.data_dir.join("fussioncord.db");
            SqlStore::open_sqlite(&path).await.with_context(|| format!("opening {}", path.display()))
        }
    }
}

/// The node's snowflake generator: with the configured worker id, or with
/// one leased in `store`'s database and renewed until the lease is released
/// (`snowflake.lease`; see `domain::worker_lease`).
pub async fn worker_ids(
    config: &Config,
    store: Arc<dyn store::Store>,
) -> (Arc<SnowflakeGenerator>, Option<domain::worker_lease::WorkerLease>) {
    let process = config.snowflake.process;
    match config.worker_id() {
        WorkerId::Fixed(worker) => (Arc::new(SnowflakeGenerator::new(worker, process)), None),
        WorkerId::Leased { ttl, renew_every } => {
            let ids = Arc::new(SnowflakeGenerator::leased(process));
            let holder = format!("{}-{}", hostname(), auth::random_hex(6));
            let times = domain::worker_lease::LeaseTimes { ttl, renew_every };
            let lease = domain::worker_lease::WorkerLease::start(store, ids.clone(), holder, times).await;
            (ids, Some(lease))
        }
    }
}

/// This machine's name, to tell lease holders apart in the table.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.').take(64).collect())
        .filter(|h: &String| !h.is_empty())
        .unwrap_or_else(|| "node".into())
}

/// How long shutdown waits for requests in flight.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(30);

/// A server that is listening.
pub struct Running {
    pub addr: SocketAddr,
    /// Where the voice server listens, when `voice.enabled`.
    pub voice: Option<voice::Addresses>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, closes the store.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.context("server task panicked")?
    }

    /// Runs until `signal` completes, then shuts down gracefully.
    pub async fn until(self, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
        signal.await;
        self.shutdown().await
    }
}

/// Binds, opens the store, and serves in a background task.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    start_with_classifier(config, None).await
}

/// The message classifier the configuration names: the model built into
/// the binary, or `moderation.model`. A model file that cannot be loaded
/// stops start-up: it is a configuration error, found at once.
pub fn classifier(config: &Config) -> anyhow::Result<Arc<dyn moderation::Classifier>> {
    let model = match &config.moderation.model {
        Some(path) => moderation::LinearModel::load(path)
            .with_context(|| format!("loading moderation.model {}", path.display()))?,
        None => moderation::LinearModel::embedded().context("loading the built-in moderation model")?,
    };
    Ok(Arc::new(model))
}

/// [`start`] with another classifier than the configured one (tests give it
/// one that fails, to show a failing classifier never blocks a message).
pub async fn start_with_classifier(
    config: Config,
    classifier: Option<Arc<dyn moderation::Classifier>>,
) -> anyhow::Result<Running> {
    config.validate()?;
    let classifier = match classifier {
        Some(c) => c,
        None => self::classifier(&config)?,
    };
    if !config.moderation.enabled {
        tracing::warn!("moderation.enabled is false: AutoMod rules are not applied to messages");
    }
    // This server's own registry: servers sharing a process (tests) never
    // count each other's traffic.
    let metrics = Arc::new(telemetry::Metrics::new());
    let store =
        open_store(&config).await?.with_search_limits(config.database.search_limits()).with_metrics(metrics.clone());
    let listener = TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let passwords = auth::PasswordHasherConfig::new(auth::HashCost {
        memory_kib: config.auth.argon2_memory_kib,
        iterations: config.auth.argon2_iterations,
    })?;
    // One Redis (`ratelimit.redis_url`) for the counters and for AutoMod's
    // spam windows, when the counters are shared.
    let (limiter, recent) = config.ratelimit.open_shared().await.context("opening the rate limiter")?;
    let shared: Arc<dyn store::Store> = Arc::new(store.clone());
    let (ids, lease) = worker_ids(&config, shared.clone()).await;
    let bus: Arc<dyn events::EventBus> = if config.cluster.enabled() {
        Arc::new(cluster::NatsBus::connect(&config.cluster).await.map_err(anyhow::Error::msg).context("[cluster]")?)
    } else {
        Arc::new(events::LocalBus::new())
    };
    let bus: Arc<dyn events::EventBus> =
        if config.telemetry.exports() { Arc::new(traced::TracedBus(bus)) } else { bus };
    let gw = &config.gateway;
    let role = config.role;
    if role == Role::Api && gw.public_url.is_none() {
        // Behind a load balancer that sends `/` upgrades to gateway nodes
        // the Host is right; reached directly, it names this node.
        tracing::warn!(
            "role = api without gateway.public_url: GET /gateway names the host the client asked, which must route \
             WebSocket upgrades to a gateway node"
        );
    }
    // Voice binds before the domain and the hub exist: VOICE_SERVER_UPDATE
    // and the node's heartbeat name its real endpoint (port 0 included).
    let voice_listeners = if config.voice.enabled && role.serves_gateway() {
        Some(voice::Listeners::bind(&config.voice, &config.data_dir).await.context("starting the voice server")?)
    } else {
        None
    };
    let voice_addrs = voice_listeners.as_ref().map(|l| l.addresses().clone());
    let voice_endpoint = voice_addrs.as_ref().map(|a| a.endpoint.clone());
    // Named once: a node without a configured name gets a random one.
    let node = config.cluster.enabled().then(|| config.cluster.node_name());
    // A node that serves the gateway holds sessions, and with them the
    // threads they run on and the hub that routes events to them. In a
    // cluster an API node has a hub too, without sessions: it hears the
    // other nodes' presences, for `@here` and online counts.
    let (sessions, hub) = if role.serves_gateway() || config.cluster.enabled() {
        let sessions = gateway::SessionRuntime::new(gw.worker_threads).context("starting the gateway's runtime")?;
        let hub = gateway::Hub::new(
            gw.clone(),
            shared.clone(),
            bus.clone(),
            metrics.clone(),
            limiter.clone(),
            config.http.trusted_proxies.clone(),
            sessions.handle(),
        );
        if let Some(node) = node.clone() {
            tracing::info!(node = %node, "cluster node");
            hub.join_cluster(node.clone(), voice_endpoint.clone());
            if role.serves_gateway() && config.cluster.shares_sessions() {
                let store = cluster::RedisSessions::connect(&config.cluster.redis_url, &config.cluster.redis_prefix)
                    .await
                    .map_err(anyhow::Error::msg)
                    .context("[cluster] redis_url")?;
                hub.share_sessions(Arc::new(store), node);
            }
        }
        hub.spawn();
        (Some(sessions), Some(hub))
    } else {
        (None, None)
    };
    let presences: Arc<dyn events::Presences> = match &hub {
        Some(hub) => hub.clone(),
        None => Arc::new(NoSessions),
    };
    let automod =
        Arc::new(domain::automod::AutoMod::new(config.moderation.clone(), classifier, metrics.clone(), recent));
    automod.listen(bus.as_ref());
    let cache = Arc::new(domain::cache::Cache::default());
    cache.listen(&bus);
    let media = Arc::new(open_media(&config, addr)?);
    let domain = domain::Domain {
        store: shared,
        ids,
        bus,
        metrics: metrics.clone(),
        automod,
        presences,
        cache,
        voice: Arc::new(domain::voice::VoiceStates::new(voice_endpoint, node)),
        media,
        unfurl: Arc::new(
            unfurl::Unfurler::new(config.unfurl.clone()).map_err(anyhow::Error::msg).context("reading [unfurl]")?,
        ),
        interactions: Arc::new(
            domain::interactions::Interactions::new(&config.interactions)
                .map_err(anyhow::Error::msg)
                .context("reading [interactions]")?,
        ),
    };
    if config.cluster.shares_sessions() {
        // Interactions stay where they were taken; a callback reaching
        // another node is handed on to this one at this address.
        let me = if !config.cluster.advertise_url.is_empty() {
            Some(config.cluster.advertise_url.clone())
        } else if addr.ip().is_unspecified() {
            tracing::warn!(
                "cluster.advertise_url is not set and this node listens on every address: interactions it \
                 takes cannot be answered through other nodes"
            );
            None
        } else {
            Some(format!("http://{addr}"))
        };
        if let Some(me) = me {
            let locator = cluster::RedisLocator::connect(&config.cluster.redis_url, &config.cluster.redis_prefix, &me)
                .await
                .map_err(anyhow::Error::msg)
                .context("[cluster] redis_url")?;
            domain.interactions.set_locator(Arc::new(locator));
        }
    }
    if role.serves_api() {
        domain::files::sweep(&domain);
    }
    if let Some(hub) = &hub {
        hub.set_domain(&domain);
    }
    domain::voice::listen(&domain);
    let voice_server = voice_listeners.map(|l| l.start(&domain));
    let state = api::ApiState::new(api::ApiParts {
        domain,
        passwords: Arc::new(passwords),
        config: Arc::new(api::ApiConfig {
            max_body_bytes: config.http.max_body_bytes,
            gateway_url: gw.public_url.clone(),
            large_threshold: gw.large_threshold,
            body_read_timeout: std::time::Duration::from_millis(config.http.body_read_timeout_ms),
            metrics_enabled: config.metrics.enabled,
            login_max_failures: config.auth.login_max_failures,
            login_window: std::time::Duration::from_secs(config.auth.login_window_secs),
            avatar_max_bytes: config.avatars.max_bytes,
            session_start: gw.session_start_limit(),
        }),
        limits: Arc::new(api::Limits {
            limiter,
            config: config.ratelimit.clone(),
            trusted_proxies: config.http.trusted_proxies.clone(),
        }),
        proxy: Arc::new(imaging::Proxy::new(&config.media.proxy)),
    });
    // `/` is the gateway for WebSocket upgrades and the web client's page
    // for a plain GET; the client's other pages and files sit beside the API.
    let mut app = match hub.as_ref().filter(|_| role.serves_gateway()) {
        Some(hub) if role.serves_api() => api::router(state)
            .merge(gateway::router(hub.clone()).route_layer(axum::middleware::from_fn(webclient::page_at_root)))
            .merge(webclient::router()),
        Some(hub) => api::ops_router(state).merge(gateway::router(hub.clone())),
        None => api::router(state)
            .route("/", axum::routing::any(no_gateway).layer(axum::middleware::from_fn(webclient::page_at_root)))
            .merge(webclient::router()),
    };
    if let Some(v) = &voice_server {
        let voice_gateway = v.gateway();
        app = app.route("/voice", axum::routing::get(move |req| voice_ws::upgrade(voice_gateway.clone(), req)));
    }
    let app = api::ops::observe(api::edge_layers(app, &config.http), metrics);
    let http = config.http.clone();
    let grace = std::time::Duration::from_millis(gw.shutdown_grace_ms);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        // Stop accepting and finish in-flight requests first, then ask
        // gateway clients to reconnect (op 7) so they resume elsewhere or
        // once we are back, then close the store.
        serve::serve(
            listener,
            app,
            &http,
            async {
                let _ = stopped.await;
            },
            DRAIN,
        )
        .await;
        if let Some(hub) = hub {
            hub.shutdown(grace).await;
        }
        if let Some(v) = voice_server {
            v.shutdown().await;
        }
        if let Some(lease) = lease {
            lease.release().await;
        }
        store.close().await;
        drop(sessions);
        tracing::info!("stopped");
        Ok(())
    });
    tracing::info!(%addr, %role, "listening");
    Ok(Running { addr, voice: voice_addrs, stop: Some(stop), task })
}

/// Who is connected, on a node without a gateway: nobody.
struct NoSessions;

impl events::Presences for NoSessions {
    fn online_members(&self, _: events::GuildId) -> Vec<events::UserId> {
        Vec::new()
    }

    fn online_count(&self, _: events::GuildId) -> u64 {
        0
    }
}

/// `/` on a node that serves no gateway: a WebSocket upgrade (or anything
/// but a plain GET, which gets the web client's page) is told where it is.
async fn no_gateway() -> api::ApiError {
    api::ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        0,
        "404: Not Found (this node serves the HTTP API only; connect to a gateway node)",
    )
}

/// The media store `[media]` names, its URLs starting with the address the
/// server listens on unless `media.public_url` says otherwise. Avatars
/// kept by earlier versions in `<data_dir>/avatars` move into it.
fn open_media(config: &Config, addr: SocketAddr) -> anyhow::Result<media::Media> {
    let media = media::Media::open(&config.media, &config.data_dir, &format!("http://{addr}"))
        .context("opening the media store ([media])")?;
    if config.media.s3.is_none() {
        let (old, new) = (config.data_dir.join("avatars"), config.media.dir(&config.data_dir).join("avatars"));
        if old.is_dir() && !new.exists() {
            std::fs::rename(&old, &new)
                .with_context(|| format!("moving avatars from {} to {}", old.display(), new.display()))?;
        }
    }
    Ok(media)
}

/// Completes on SIGINT or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled: a signal that arrives
/// between start-up and the first poll must still shut down gracefully
/// rather than kill the process.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let (mut term, mut int) = {
        use tokio::signal::unix::{signal, SignalKind};
        (signal(SignalKind::terminate()).ok(), signal(SignalKind::interrupt()).ok())
    };
    async move {
        #[cfg(unix)]
        {
            let term = async {
                match term.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let int = async {
                match int.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = term => {},
                () = int => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown signal received; finishing in-flight requests");
    }
}
