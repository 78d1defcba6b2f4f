//! `idle`: S sessions that only heartbeat. Measures the time to connect and
//! identify them all and the server's memory per session.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use serde_json::json;

use crate::gw::{self, Fleet, FleetSpec, Ignore};
use crate::report::{step, Progress, Report};
use crate::stats::{proc_delta, proc_sample, round3};
use crate::target::{Common, Target};

#[derive(Args, Debug)]
pub struct IdleArgs {
    #[command(flatten)]
    pub common: Common,
    /// Sessions to hold open.
    #[arg(long, default_value_t = 1000)]
    pub sessions: usize,
    /// Distinct accounts behind the sessions [default: sessions, at most 1000].
    #[arg(long)]
    pub users: Option<usize>,
    /// Seconds to hold every session open once all are ready.
    #[arg(long, default_value_t = 5.0)]
    pub hold: f64,
    /// Sessions connecting and identifying at once.
    #[arg(long, default_value_t = 128)]
    pub connect_concurrency: usize,
    /// Local addresses to connect from, comma-separated [default: towards a
    /// loopback server with over 20,000 sessions, 127.0.0.2, 127.0.0.3, …].
    #[arg(long, value_delimiter = ',')]
    pub source_addrs: Vec<IpAddr>,
    /// Identify without joining the accounts to a guild first.
    #[arg(long)]
    pub no_guild: bool,
}

pub async fn run(args: IdleArgs) -> Result<Report> {
    if args.sessions == 0 {
        bail!("--sessions must be at least 1");
    }
    let target = Target::open(&args.common).await?;
    let mut report = Report::new("idle");
    target.describe(&mut report);
    let users = args.users.unwrap_or(args.sessions.min(1000)).max(1);
    let sources = gw::sources(&args.source_addrs, args.sessions, target.gateway_addr);
    report.param("sessions", args.sessions);
    report.param("users", users);
    report.param("hold_s", args.hold);
    report.param("in_guild", !args.no_guild);
    report.param("source_addrs", json!(sources.iter().map(ToString::to_string).collect::<Vec<_>>()));
    report.param("nofile_limit", crate::nofile_limit());

    let tokens = target.accounts(users).await?;
    if !args.no_guild {
        target.channel(&tokens).await?;
    }
    // Let the setup's garbage settle before the baseline.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let server_before = target.server_sample();
    let me_before = proc_sample(std::process::id());

    step(format!("opening {} idle sessions", args.sessions));
    let spec = FleetSpec {
        sessions: args.sessions,
        connect_concurrency: args.connect_concurrency,
        sources,
        intents: gw::INTENTS,
    };
    let fleet = Fleet::launch(&target, &spec, &tokens, |_| Ignore);
    let took = fleet.wait_ready(Duration::from_secs(300 + args.sessions as u64 / 100)).await;
    let ready = fleet.ready.load(Ordering::Relaxed);
    report.result("sessions_ready", ready);
    report.result("connect_identify_all_s", round3(took.as_secs_f64()));
    report.result("sessions_per_s", (ready as f64 / took.as_secs_f64().max(1e-9)).round());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let server_connected = target.server_sample();
    let me_connected = proc_sample(std::process::id());

    let progress = {
        let (ready, dead) = (fleet.ready.clone(), fleet.dead.clone());
        Progress::start("idle", move |_| {
            format!("{} sessions open, {} ended", ready.load(Ordering::Relaxed), dead.load(Ordering::Relaxed))
        })
    };
    tokio::time::sleep(Duration::from_secs_f64(args.hold)).await;
    drop(progress);
    let server_after = target.server_sample();
    let me_after = proc_sample(std::process::id());
    let wall = took.as_secs_f64() + 1.0 + args.hold;

    step("closing sessions");
    let ended = fleet.finish().await;
    let heartbeats: u64 = ended.iter().map(|(e, _)| e.heartbeats).sum();
    let acks: u64 = ended.iter().map(|(e, _)| e.acks).sum();
    report.result("heartbeats_sent", heartbeats);
    report.result("heartbeat_acks", acks);

    let per_session = |before: u64, after: u64| round3((after as f64 - before as f64) / ready.max(1) as f64);
    if let (Some(b), Some(c), Some(a)) = (server_before, server_connected, server_after) {
        report.result("server_kib_per_session", per_session(b.rss_kib, c.rss_kib));
        report.result("server_kib_per_session_after_hold", per_session(b.rss_kib, a.rss_kib));
        report.result("server", proc_delta(b, a, wall));
    }
    if let (Some(b), Some(c), Some(a)) = (me_before, me_connected, me_after) {
        report.result("harness_kib_per_session", per_session(b.rss_kib, c.rss_kib));
        report.result("harness", proc_delta(b, a, wall));
    }
    if ready < args.sessions {
        report.fail(format!("only {ready} of {} sessions became ready", args.sessions));
    }
    let errors: Vec<&String> = ended.iter().filter_map(|(e, _)| e.error.as_ref()).collect();
    if !errors.is_empty() {
        report.fail(format!("{} sessions ended early: {:?}", errors.len(), errors.iter().take(5).collect::<Vec<_>>()));
    }
    if heartbeats > acks + ended.len() as u64 {
        report.fail(format!("{} heartbeats went unacknowledged", heartbeats - acks));
    }
    target.finish(&report);
    Ok(report)
}
