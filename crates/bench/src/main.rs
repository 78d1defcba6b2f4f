//! fussioncord-bench: a load generator that drives a Discord-compatible
//! server over its public protocols only (HTTP API v10, Gateway v10 and voice), so
//! it measures what a client feels and works against any such server.
//!
//! Scenarios: `fanout`, `idle`, `history`, `rest`, `media`, `voice`; see `--help` of each and
//! docs/PERFORMANCE.md.

mod fanout;
mod gw;
mod history;
mod idle;
mod load;
mod media;
mod report;
mod rest;
mod stats;
mod target;
mod voice;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "fussioncord-bench",
    version,
    about = "Load generator for Discord-compatible servers (REST, gateway, voice)"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand, Debug)]
enum Scenario {
    /// One channel, N gateway sessions, K senders posting over REST: send→receive
    /// latency, deliveries per second, lost and duplicated events.
    Fanout(fanout::FanoutArgs),
    /// S sessions that only heartbeat: server memory per session, time to connect them all.
    Idle(idle::IdleArgs),
    /// Fill a channel with M messages, then time random history pages.
    History(history::HistoryArgs),
    /// Message-create throughput and latency with many concurrent authors.
    Rest(rest::RestArgs),
    /// Files: uploads (MB/s), downloads of a 1 MiB image, and the media
    /// proxy resizing it cold and from its cache; latency percentiles.
    Media(media::MediaArgs),
    /// N senders and M listeners in one voice channel (main gateway, voice
    /// gateway over TLS, UDP with real AEAD): forwarded packets per second,
    /// loss, latency the server adds, its CPU and memory per participant.
    Voice(voice::VoiceArgs),
}

/// Raises the open-file limit as far as allowed (a spawned server inherits
/// it); answers the limit in force.
fn raise_nofile() -> u64 {
    let want: libc::rlim_t =
        std::fs::read_to_string("/proc/sys/fs/nr_open").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(1 << 20);
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        let raised = libc::rlimit { rlim_cur: want, rlim_max: want.max(lim.rlim_max) };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
            // Not privileged: the soft limit can still reach the hard one.
            let soft = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            libc::setrlimit(libc::RLIMIT_NOFILE, &soft);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    lim.rlim_cur
}

pub fn nofile_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: as above.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    lim.rlim_cur
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    raise_nofile();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let (json_path, outcome) = runtime.block_on(async {
        match cli.scenario {
            Scenario::Fanout(a) => (a.common.json.clone(), fanout::run(a).await),
            Scenario::Idle(a) => (a.common.json.clone(), idle::run(a).await),
            Scenario::History(a) => (a.common.json.clone(), history::run(a).await),
            Scenario::Rest(a) => (a.common.json.clone(), rest::run(a).await),
            Scenario::Media(a) => (a.common.json.clone(), media::run(a).await),
            Scenario::Voice(a) => (a.common.json.clone(), voice::run(a).await),
        }
    });
    // Sessions still closing must not hold the exit up.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match outcome {
        Ok(report) => {
            report.print();
            if let Some(path) = json_path {
                if let Err(e) = report.write_json(&path) {
                    eprintln!("error: writing {}: {e:#}", path.display());
                    return std::process::ExitCode::from(2);
                }
                eprintln!("-- report written to {}", path.display());
            }
            if report.failures.is_empty() {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
