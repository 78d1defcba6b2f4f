//! `fanout`: one channel, N gateway sessions, K senders posting over REST.
//! Every session must see every acknowledged message exactly once; the
//! latency is from just before the REST call to the gateway frame's arrival,
//! both on this process's monotonic clock.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use hdrhistogram::Histogram;
use memchr::memmem::Finder;
use tokio::time::Instant;

use crate::gw::{self, Fleet, FleetSpec, Handler};
use crate::load::{self, LoadSpec, LoadStats};
use crate::report::{step, Progress, Report};
use crate::stats::{self, proc_sample, round3, Seen, SendLog};
use crate::target::{auth_header, Common, Poster, Target};

#[derive(Args, Debug)]
pub struct FanoutArgs {
    #[command(flatten)]
    pub common: Common,
    /// Gateway sessions receiving every message.
    #[arg(long, default_value_t = 100)]
    pub sessions: usize,
    /// Distinct accounts behind the sessions [default: one per session].
    #[arg(long)]
    pub users: Option<usize>,
    /// Accounts posting (the first K of the accounts).
    #[arg(long, default_value_t = 4)]
    pub senders: usize,
    /// Messages per second over all senders; 0 for as fast as the server answers.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Requests in flight per sender [default: 1 as fast as possible, 256 at a rate].
    #[arg(long)]
    pub inflight: Option<usize>,
    /// Seconds to wait after the last send for deliveries to arrive.
    #[arg(long, default_value_t = 10.0)]
    pub drain: f64,
    /// Pause between all sessions being ready and the first message (ms).
    #[arg(long, default_value_t = 500)]
    pub settle_ms: u64,
    /// Sessions connecting and identifying at once.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
    /// Local addresses to connect from, comma-separated (e.g. 127.0.0.2,127.0.0.3).
    #[arg(long, value_delimiter = ',')]
    pub source_addrs: Vec<IpAddr>,
}

/// State every session shares.
struct Shared {
    log: SendLog,
    /// `fcb<run>#`, which every message of this run starts with, followed by its sequence number.
    tag_text: String,
    tag: Finder<'static>,
    tag_len: usize,
    /// First receipts, over all sessions.
    delivered: AtomicU64,
    /// When the last first receipt arrived (SendLog clock).
    last_delivery_ns: AtomicU64,
}

/// One session's view of the run.
struct Receiver {
    shared: Arc<Shared>,
    seen: Seen,
    latency: Histogram<u64>,
    duplicates: u64,
    /// Tagged messages this run never sent (cannot happen unless ids are mangled).
    unknown: u64,
}

impl Handler for Receiver {
    fn frame(&mut self, frame: &[u8]) -> bool {
        let Some(at) = self.shared.tag.find(frame) else { return false };
        if memchr::memmem::find(frame, b"\"MESSAGE_CREATE\"").is_none() {
            return false;
        }
        let now = self.shared.log.now_ns();
        let digits = frame[at + self.shared.tag_len..].iter().take_while(|b| b.is_ascii_digit());
        let seq = digits.fold(0u64, |n, d| n.wrapping_mul(10).wrapping_add(u64::from(d - b'0')));
        if self.seen.mark(seq) {
            self.duplicates += 1;
            return true;
        }
        self.shared.delivered.fetch_add(1, Ordering::Relaxed);
        self.shared.last_delivery_ns.fetch_max(now, Ordering::Relaxed);
        match self.shared.log.sent_at(seq) {
            Some(sent) => stats::record(&mut self.latency, now.saturating_sub(sent) / 1000),
            None => self.unknown += 1,
        }
        true
    }
}

pub async fn run(args: FanoutArgs) -> Result<Report> {
    if args.sessions == 0 || args.senders == 0 {
        bail!("--sessions and --senders must be at least 1");
    }
    let target = Target::open(&args.common).await?;
    let mut report = Report::new("fanout");
    target.describe(&mut report);
    let users = args.users.unwrap_or(args.sessions).max(args.senders).max(1);
    let inflight = args.inflight.unwrap_or(if args.rate > 0.0 { 256 } else { 1 });
    let spec = LoadSpec { rate: args.rate, duration: Duration::from_secs_f64(args.duration), inflight };
    report.param("sessions", args.sessions);
    report.param("users", users);
    report.param("senders", args.senders);
    report.param("load", spec.describe());

    let tokens = target.accounts(users).await?;
    let channel = target.channel(&tokens).await?;

    let epoch = Instant::now().into_std();
    let tag = format!("fcb{}#", target.run_tag);
    let shared = Arc::new(Shared {
        log: SendLog::new(epoch),
        tag: Finder::new(tag.as_bytes()).into_owned(),
        tag_text: tag.clone(),
        tag_len: tag.len(),
        delivered: AtomicU64::new(0),
        last_delivery_ns: AtomicU64::new(0),
    });
    let fleet_spec = FleetSpec {
        sessions: args.sessions,
        connect_concurrency: args.connect_concurrency,
        sources: gw::sources(&args.source_addrs, args.sessions, target.gateway_addr),
        intents: gw::INTENTS,
    };
    step(format!("opening {} gateway sessions", args.sessions));
    let fleet = Fleet::launch(&target, &fleet_spec, &tokens, |_| Receiver {
        shared: shared.clone(),
        seen: Seen::default(),
        latency: stats::histogram(),
        duplicates: 0,
        unknown: 0,
    });
    let connect_time = fleet.wait_ready(Duration::from_secs(120 + args.sessions as u64 / 50)).await;
    let ready = fleet.ready.load(Ordering::Relaxed);
    report.result("connect_identify_s", round3(connect_time.as_secs_f64()));
    if ready < args.sessions {
        report.fail(format!("only {ready} of {} sessions became ready", args.sessions));
    }
    tokio::time::sleep(Duration::from_millis(args.settle_ms)).await;

    // The measured phase.
    let posters: Vec<_> = tokens.iter().take(args.senders).map(|t| auth_header(t)).collect::<Result<_>>()?;
    let posters = Arc::new(posters);
    let poster = Poster::new(&target, &channel);
    let next_seq = Arc::new(AtomicU64::new(0));
    let load_stats = Arc::new(LoadStats::default());
    let server_before = target.server_sample();
    let peers_before = target.peer_samples();
    let me_before = proc_sample(std::process::id());
    let t0 = Instant::now();
    let t0_ns = shared.log.now_ns();
    let progress = {
        let (ls, sh, n) = (load_stats.clone(), shared.clone(), args.sessions as u64);
        let last = AtomicU64::new(0);
        Progress::start("fanout", move |_| {
            let d = sh.delivered.load(Ordering::Relaxed);
            let per_s = d - last.swap(d, Ordering::Relaxed);
            let ok = ls.ok.load(Ordering::Relaxed);
            format!(
                "sent {} ok {} failed {} | delivered {d}/{} ({per_s}/s)",
                ls.started.load(Ordering::Relaxed),
                ok,
                ls.failed.load(Ordering::Relaxed),
                ok * n
            )
        })
    };
    {
        let (shared, posters, next_seq, poster) = (shared.clone(), posters.clone(), next_seq.clone(), poster.clone());
        let capacity = shared.log.capacity();
        load::drive(spec, args.senders, load_stats.clone(), move |s| {
            let (shared, posters, next_seq, poster) =
                (shared.clone(), posters.clone(), next_seq.clone(), poster.clone());
            async move {
                let seq = next_seq.fetch_add(1, Ordering::Relaxed);
                if seq >= capacity {
                    bail!("more messages than the harness can track");
                }
                let content = format!("{}{seq}# fanout", shared.tag_text);
                shared.log.sent(seq);
                match poster.post(&posters[s], &content).await {
                    Ok(_) => {
                        shared.log.acked(seq);
                        Ok(())
                    }
                    Err(e) => {
                        shared.log.failed(seq);
                        Err(e)
                    }
                }
            }
        })
        .await;
    }
    let send_time = t0.elapsed();
    let ok = load_stats.ok.load(Ordering::Relaxed);
    let expected = ok * args.sessions as u64;
    let drain_deadline = Instant::now() + Duration::from_secs_f64(args.drain);
    while shared.delivered.load(Ordering::Relaxed) < expected
        && Instant::now() < drain_deadline
        && fleet.dead.load(Ordering::Relaxed) == 0
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let server_after = target.server_sample();
    let peers_after = target.peer_samples();
    let me_after = proc_sample(std::process::id());
    let wall = t0.elapsed().as_secs_f64();
    drop(progress);
    let delivered = shared.delivered.load(Ordering::Relaxed);
    let last_ns = shared.last_delivery_ns.load(Ordering::Relaxed);
    let delivery_span = (last_ns.saturating_sub(t0_ns)) as f64 / 1e9;

    step("closing sessions");
    let ended = fleet.finish().await;
    let total_seq = next_seq.load(Ordering::Relaxed);
    let acked: Vec<u64> = (0..total_seq).filter(|s| shared.log.is_acked(*s)).collect();
    let mut latency = stats::histogram();
    let (mut lost, mut dups, mut unknown, mut unacked_delivered) = (0u64, 0u64, 0u64, 0u64);
    let mut session_errors = Vec::new();
    for (end, r) in &ended {
        latency.add(&r.latency).expect("same histogram shape");
        dups += r.duplicates;
        unknown += r.unknown;
        lost += acked.iter().filter(|s| !r.seen.has(**s)).count() as u64;
        unacked_delivered += (0..total_seq).filter(|s| !shared.log.is_acked(*s) && r.seen.has(*s)).count() as u64;
        if let Some(e) = &end.error {
            session_errors.push(e.clone());
        }
    }

    report.result("messages_sent", ok);
    report.result("messages_failed", load_stats.failed.load(Ordering::Relaxed));
    report.result("send_rate_per_s", round3(ok as f64 / send_time.as_secs_f64()));
    report.result("late_starts", load_stats.late.load(Ordering::Relaxed));
    report.result("deliveries", delivered);
    report.result("deliveries_expected", expected);
    report
        .result("deliveries_per_s", if delivery_span > 0.0 { (delivered as f64 / delivery_span).round() } else { 0.0 });
    report.result("lost", lost);
    report.result("duplicated", dups);
    report.result("send_to_receive", stats::summary(&latency));
    report.result("rest_latency", stats::summary(&load_stats.latency.lock().unwrap()));
    // CPU per delivery of each process of the server: for a cluster, what
    // each node spends (the senders' node stores and publishes, the
    // receivers' node routes and writes frames).
    let per_delivery = |b: &Option<crate::stats::ProcSample>, a: &Option<crate::stats::ProcSample>| match (b, a) {
        (Some(b), Some(a)) if delivered > 0 => serde_json::json!(round3((a.cpu_s - b.cpu_s) * 1e6 / delivered as f64)),
        _ => serde_json::Value::Null,
    };
    if server_before.is_some() {
        report.result("server_cpu_us_per_delivery", per_delivery(&server_before, &server_after));
    }
    if !args.common.peer_pids.is_empty() {
        let peers: Vec<_> = peers_before.iter().zip(&peers_after).map(|(b, a)| per_delivery(b, a)).collect();
        report.result("peers_cpu_us_per_delivery", peers);
    }
    report.resources((server_before, server_after), (me_before, me_after), wall);
    report.peer_resources(&args.common.peer_pids, peers_before, peers_after, wall);
    if lost > 0 {
        report.fail(format!("{lost} deliveries lost"));
    }
    if dups > 0 {
        report.fail(format!("{dups} deliveries duplicated"));
    }
    if unknown > 0 {
        report.fail(format!("{unknown} tagged messages this run never sent"));
    }
    if unacked_delivered > 0 {
        report.note(format!("{unacked_delivered} deliveries of messages whose request failed"));
    }
    let failed = load_stats.failed.load(Ordering::Relaxed);
    if failed > 0 {
        report.fail(format!("{failed} requests failed: {:?}", load_stats.errors.lock().unwrap()));
    }
    if ok == 0 {
        report.fail("no message was sent");
    }
    if !session_errors.is_empty() {
        session_errors.truncate(5);
        report.fail(format!(
            "{} sessions ended early: {session_errors:?}",
            ended.iter().filter(|(e, _)| e.error.is_some()).count()
        ));
    }
    target.finish(&report);
    Ok(report)
}
