//! `fussioncord`: the server and its command line. Only wiring lives here.

mod otlp;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use model::Id;
use server::{Config, LogFormat, Role};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// mimalloc rather than glibc's malloc for Rust's allocations: glibc keeps
/// what many connections freed in per-thread arenas and returns little of it
/// to the system (1,000 sockets and 150 zstd sessions opened and closed left
/// the RSS at its peak), while mimalloc gives freed pages back, so the
/// server's memory follows its load (docs/SECURITY.md, Gateway). C libraries
/// (zstd) still call glibc's malloc: see [`return_large_c_blocks`].
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// glibc serves blocks of 128 KiB and more with their own mappings, given
/// back when freed, but raises that threshold to the largest block freed so
/// far, after which zstd's contexts (~250 KiB each) come from arenas that
/// are never trimmed. A fixed threshold keeps them mapped and returned.
/// (Replacing malloc itself with mimalloc's `override` costs ~900 KiB of
/// resident memory per zstd context instead of ~280 KiB.)
fn return_large_c_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the C allocator (under its
    // own lock); no memory is touched.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// A Discord-compatible chat server you run yourself.
#[derive(Parser)]
#[command(name = "fussioncord", version, about)]
struct Cli {
    /// Configuration file (default: ./fussioncord.toml if it exists).
    /// Environment variables FUSSIONCORD__SECTION__KEY override it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log lines as `text` or as `json` objects, one per line, on stderr
    /// [default: text, or `log.format` in the config]. RUST_LOG filters them.
    #[arg(long, global = true, value_name = "text|json")]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: HTTP API on one port, data in the data directory.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080, or `listen` in the config].
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<SocketAddr>,
        /// Directory of the embedded database [default: ./data, or `data_dir` in the config].
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// What this node serves: `all` (HTTP API, web client, gateway and
        /// voice), `api` (the HTTP API and web client) or `gateway` (the
        /// WebSocket gateway and voice), each with /healthz, /readyz and
        /// /metrics [default: all, or `role` in the config].
        #[arg(long, value_name = "all|api|gateway")]
        role: Option<Role>,
    },
    /// Manage bots without a web client.
    #[command(subcommand)]
    Bot(BotCommand),
    /// Write messages straight into the store (for measurements).
    #[command(subcommand)]
    Messages(MessagesCommand),
    /// Message classifiers: train the model, score messages, measure the cost.
    #[command(subcommand)]
    Moderation(ModerationCommand),
}

#[derive(Subcommand)]
enum ModerationCommand {
    /// Train the toxicity and spam model from the labelled data sets; writes
    /// the model file and an evaluation report: a held-out split of each
    /// set, leave-one-data-set-out figures for the toxicity sets, precision
    /// and recall per toxicity threshold, and the functional suite.
    Train {
        /// Directory of the data sets (see its README.md).
        #[arg(long, value_name = "DIR", default_value = "../shared/datasets")]
        data: PathBuf,
        /// Where to write the model. The default is the file built into the
        /// binary: rebuild to ship a retrained model.
        #[arg(long, value_name = "FILE", default_value = "crates/moderation/model/moderation.fcm")]
        out: PathBuf,
        /// Where to write the evaluation report (JSON).
        #[arg(long, value_name = "FILE", default_value = "docs/moderation-report.json")]
        report: PathBuf,
        /// Seed of the split and of the shuffling.
        #[arg(long, default_value_t = moderation::train::DEFAULT_SEED)]
        seed: u64,
        /// Training passes of the spam head.
        #[arg(long, default_value_t = moderation::train::DEFAULT_EPOCHS)]
        epochs: usize,
        /// Training passes of the toxicity head.
        #[arg(long, value_name = "EPOCHS", default_value_t = moderation::train::DEFAULT_TOXICITY_EPOCHS)]
        toxicity_epochs: usize,
        /// Hash space of the spam head: 2^BITS feature buckets (8–22).
        #[arg(long, default_value_t = moderation::train::DEFAULT_BITS)]
        bits: u32,
        /// Hash space of the toxicity head: 2^BITS feature buckets (8–22).
        #[arg(long, value_name = "BITS", default_value_t = moderation::train::DEFAULT_TOXICITY_BITS)]
        toxicity_bits: u32,
        /// AdaGrad step size.
        #[arg(long, default_value_t = moderation::train::DEFAULT_LEARNING_RATE)]
        learning_rate: f64,
        /// L2 penalty on the weights an example touches.
        #[arg(long, default_value_t = moderation::train::DEFAULT_L2)]
        l2: f64,
        /// Use only the first N rows of each data set.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Score messages: one per line on stdin, one JSON object per line on
    /// stdout, `{"toxicity": 0.93, "spam": 0.02}`, in input order.
    Score {
        /// A model file instead of the built-in model.
        #[arg(long, value_name = "FILE")]
        model: Option<PathBuf>,
    },
    /// Measure the per-message cost of scoring on the data sets' texts.
    Bench {
        #[arg(long, value_name = "DIR", default_value = "../shared/datasets")]
        data: PathBuf,
        /// A model file instead of the built-in model.
        #[arg(long, value_name = "FILE")]
        model: Option<PathBuf>,
        /// Times to score every text.
        #[arg(long, default_value_t = 4)]
        passes: usize,
        /// Use only the first N rows of each data set.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
}

#[derive(Subcommand)]
enum BotCommand {
    /// Create an application with its bot user; prints the id and token.
    Create {
        /// The bot's display name.
        #[arg(long)]
        name: String,
        /// User id of the application's owner [default: the bot itself].
        #[arg(long, value_name = "USER_ID")]
        owner: Option<u64>,
        /// Allow the privileged gateway intents (presences, guild members,
        /// message content).
        #[arg(long)]
        privileged_intents: bool,
        /// Directory of the embedded database [default: as for serve].
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Add a bot (by application or bot user id) to a guild.
    Add {
        #[arg(long, value_name = "ID")]
        bot: u64,
        #[arg(long, value_name = "ID")]
        guild: u64,
        /// Directory of the embedded database [default: as for serve].
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum MessagesCommand {
    /// Fill a channel with COUNT messages by one author ("history filler
    /// 0", "history filler 1", …), thousands per transaction, as the server
    /// would store them; shows progress on stderr. Run it with the server
    /// stopped: nothing is announced, and the server would mint the same ids.
    Fill {
        #[arg(long, value_name = "ID")]
        channel: u64,
        /// A member of the channel's guild (or a recipient of the DM).
        #[arg(long, value_name = "USER_ID")]
        author: u64,
        #[arg(long, value_name = "N")]
        count: u64,
        /// Directory of the embedded database [default: as for serve].
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

fn id<M>(n: u64, what: &str) -> anyhow::Result<Id<M>> {
    Id::new_checked(n).with_context(|| format!("{what} must be a non-zero id"))
}

/// Installs the process's log subscriber. Headers are never logged, and
/// the libraries that log whole WebSocket messages at TRACE (IDENTIFY and
/// RESUME carry tokens) are silenced there whatever `RUST_LOG` asks for, so
/// neither format can leak a token. With `traces`, spans at INFO and above
/// (and the events logged inside them, as span events) are exported too,
/// whatever `RUST_LOG` lets through to stderr: what the default log shows,
/// never a TRACE payload.
fn init_logging(format: LogFormat, traces: Option<&opentelemetry_sdk::trace::SdkTracerProvider>) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into());
    // The hint keeps the most verbose level that can be logged known to
    // tracing and to the `log` crate's bridge; without it a filter function
    // makes every TRACE line of every library (tungstenite logs each frame)
    // get built, then dropped.
    // The function keeps to its hint: another layer (spans exported at
    // INFO) may ask about levels the log leaves out.
    let max = filter.max_level_hint().unwrap_or(tracing::level_filters::LevelFilter::TRACE);
    let no_payloads =
        tracing_subscriber::filter::filter_fn(move |meta| max >= *meta.level() && carries_no_payload(meta))
            .with_max_level_hint(max);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let layer = match format {
        LogFormat::Text => fmt.with_filter(filter).with_filter(no_payloads).boxed(),
        LogFormat::Json => fmt.json().with_filter(filter).with_filter(no_payloads).boxed(),
    };
    let spans = traces.map(|provider| {
        use opentelemetry::trace::TracerProvider;
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("fussioncord"))
            .with_filter(tracing::level_filters::LevelFilter::INFO)
    });
    tracing_subscriber::registry().with(layer).with(spans).init();
}

fn carries_no_payload(meta: &tracing::Metadata<'_>) -> bool {
    !(*meta.level() == tracing::Level::TRACE && meta.target().contains("tungstenite"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    return_large_c_blocks();
    let cli = Cli::parse();
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(format) = cli.log_format {
        config.log.format = format;
    }
    // A served node exports spans when configured, under its node name,
    // fixed here (random unless configured) so its spans and its cluster
    // role name it alike.
    let serving = matches!(cli.command, Command::Serve { .. });
    if serving && config.cluster.node.is_empty() {
        config.cluster.node = config.cluster.node_name();
    }
    let traces = if serving {
        otlp::provider(&config.telemetry, &config.cluster.node).context("[telemetry] otlp_endpoint")?
    } else {
        None
    };
    init_logging(config.log.format, traces.as_ref());
    let result = run(cli.command, config).await;
    if let Some(provider) = traces {
        otlp::shutdown(provider).await;
    }
    result
}

async fn run(command: Command, mut config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { listen, data_dir, role } => {
            if let Some(role) = role {
                config.role = role;
            }
            if let Some(listen) = listen {
                config.listen = listen;
            }
            if let Some(dir) = data_dir {
                config.data_dir = dir;
            }
            // Listening for signals before anyone can know the address.
            let signal = server::shutdown_signal();
            let running = server::start(config).await?;
            println!("FussionCord listening on http://{}", running.addr);
            running.until(signal).await
        }
        Command::Moderation(cmd) => moderation(cmd),
        Command::Bot(cmd) => {
            let data_dir = match &cmd {
                BotCommand::Create { data_dir, .. } | BotCommand::Add { data_dir, .. } => data_dir.clone(),
            };
            if let Some(dir) = data_dir {
                config.data_dir = dir;
            }
            let store = server::open_store(&config).await?;
            let result = bot(&store, &config, cmd).await;
            store.close().await;
            result
        }
        Command::Messages(MessagesCommand::Fill { channel, author, count, data_dir }) => {
            if let Some(dir) = data_dir {
                config.data_dir = dir;
            }
            let store = server::open_store(&config).await?;
            let (ids, lease) = server::worker_ids(&config, std::sync::Arc::new(store.clone())).await;
            let (channel, author) = (id(channel, "--channel")?, id(author, "--author")?);
            let result = domain::fill::fill_messages(&store, &ids, channel, author, count, true).await;
            if let Some(lease) = lease {
                lease.release().await;
            }
            store.close().await;
            let filled = result?;
            let ids = filled.first.zip(filled.last).map(|(a, b)| format!(", ids {a}..={b}")).unwrap_or_default();
            println!(
                "filled channel {channel} with {} messages in {:.1} s{ids}",
                filled.count,
                filled.elapsed.as_secs_f64()
            );
            Ok(())
        }
    }
}

fn load_model(path: Option<&std::path::Path>) -> anyhow::Result<moderation::LinearModel> {
    Ok(match path {
        Some(p) => moderation::LinearModel::load(p)?,
        None => moderation::LinearModel::embedded().context("the built-in moderation model")?,
    })
}

fn moderation(cmd: ModerationCommand) -> anyhow::Result<()> {
    match cmd {
        ModerationCommand::Train {
            data,
            out,
            report,
            seed,
            epochs,
            toxicity_epochs,
            bits,
            toxicity_bits,
            learning_rate,
            l2,
            limit,
        } => {
            let mut opts = moderation::train::TrainOptions::new(data, out);
            opts.report = Some(report);
            opts.seed = seed;
            opts.epochs = epochs;
            opts.toxicity_epochs = toxicity_epochs;
            opts.bits = bits;
            opts.toxicity_bits = toxicity_bits;
            opts.learning_rate = learning_rate;
            opts.l2 = l2;
            opts.limit = limit;
            opts.progress = true;
            let report = moderation::train::train(&opts)?;
            print!("{}", moderation::train::summary(&report));
        }
        ModerationCommand::Score { model } => {
            let model = load_model(model.as_deref())?;
            moderation::stream::score_lines(&model, std::io::stdin().lock(), std::io::stdout().lock())?;
        }
        ModerationCommand::Bench { data, model, passes, limit } => {
            let model = load_model(model.as_deref())?;
            let texts = moderation::bench::dataset_texts(&data, limit)?;
            eprintln!("scoring {} texts from {} x {passes}", texts.len(), data.display());
            let report = moderation::bench::run(&model, &texts, passes, true);
            print!("{}", moderation::bench::summary(&report));
        }
    }
    Ok(())
}

async fn bot(store: &store::SqlStore, config: &Config, cmd: BotCommand) -> anyhow::Result<()> {
    use store::{GuildStore, UserStore};
    match cmd {
        BotCommand::Create { name, owner, privileged_intents, .. } => {
            let name = name.trim();
            anyhow::ensure!((2..=32).contains(&name.chars().count()), "--name must be 2 to 32 characters");
            let owner = match owner {
                Some(o) => {
                    let owner = id(o, "--owner")?;
                    store.user(owner).await?.with_context(|| format!("no user {o}"))?;
                    Some(owner)
                }
                None => None,
            };
            let (ids, lease) = server::worker_ids(config, std::sync::Arc::new(store.clone())).await;
            let id = ids.next();
            if let Some(lease) = lease {
                lease.release().await;
            }
            let created = domain::service::create_application(store, id?, owner, name, "").await?;
            if privileged_intents {
                use store::ApplicationStore;
                store
                    .update_application(created.application.id, None, Some(domain::service::PRIVILEGED_INTENT_FLAGS))
                    .await?;
            }
            println!("application_id: {}", created.application.id);
            println!("token: {}", created.token);
        }
        BotCommand::Add { bot, guild, .. } => {
            let bot_id = id(bot, "--bot")?;
            let guild_id = id(guild, "--guild")?;
            let user = store.user(bot_id).await?.with_context(|| format!("no bot {bot}"))?;
            anyhow::ensure!(user.bot, "user {bot} is not a bot");
            store.guild(guild_id).await?.with_context(|| format!("no guild {guild}"))?;
            if domain::service::add_member(store, guild_id, bot_id, None).await? {
                println!("added {} to guild {guild}", user.username);
            } else {
                println!("{} is already in guild {guild}", user.username);
            }
        }
    }
    Ok(())
}
