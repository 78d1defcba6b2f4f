//! `history`: fill a channel with M messages over the public API, then time
//! random pages `GET /channels/{id}/messages?before=<random id>&limit=50`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use futures::stream::{self, StreamExt};
use rand::Rng;
use reqwest::header::AUTHORIZATION;
use serde::de::IgnoredAny;
use serde::Deserialize;
use tokio::time::Instant;

use crate::load::{self, LoadSpec, LoadStats};
use crate::report::{step, Progress, Report};
use crate::stats::{self, proc_sample, round3};
use crate::target::{auth_header, Common, Poster, Target};

#[derive(Args, Debug)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub common: Common,
    /// Messages to post before reading (0: read the channel as it is; needs --channel).
    #[arg(long, default_value_t = 10_000)]
    pub messages: u64,
    /// Posts in flight while filling.
    #[arg(long, default_value_t = 64)]
    pub fill_concurrency: usize,
    /// Accounts posting while filling.
    #[arg(long, default_value_t = 8)]
    pub authors: usize,
    /// Seconds of reading.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Concurrent readers.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Page size.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

pub async fn run(args: HistoryArgs) -> Result<Report> {
    if args.messages == 0 && args.common.channel.is_none() {
        bail!("--messages 0 reads an existing channel: give it with --channel");
    }
    if !(1..=100).contains(&args.limit) {
        bail!("--limit must be 1 to 100");
    }
    let target = Target::open(&args.common).await?;
    let mut report = Report::new("history");
    target.describe(&mut report);
    report.param("messages", args.messages);
    report.param("fill_concurrency", args.fill_concurrency);
    report.param("duration_s", args.duration);
    report.param("concurrency", args.concurrency);
    report.param("limit", args.limit);

    let tokens = target.accounts(args.authors.max(1)).await?;
    let channel = target.channel(&tokens).await?;
    let auths: Vec<_> = tokens.iter().map(|t| auth_header(t)).collect::<Result<_>>()?;

    // Fill.
    let (mut lo, mut hi) = (u64::MAX, 0u64);
    if args.messages > 0 {
        step(format!("filling the channel with {} messages", args.messages));
        let poster = Poster::new(&target, &channel);
        let done = Arc::new(AtomicU64::new(0));
        let progress = {
            let (done, m) = (done.clone(), args.messages);
            let last = AtomicU64::new(0);
            Progress::start("fill", move |_| {
                let d = done.load(Ordering::Relaxed);
                format!("{d}/{m} posted ({}/s)", d - last.swap(d, Ordering::Relaxed))
            })
        };
        let started = Instant::now();
        let mut posts = stream::iter(0..args.messages)
            .map(|i| {
                let (poster, auth, done) = (&poster, &auths[i as usize % auths.len()], &done);
                async move {
                    let body = poster.post(auth, &format!("history filler {i}")).await?;
                    done.fetch_add(1, Ordering::Relaxed);
                    let created: Created = serde_json::from_slice(&body).context("message create answer")?;
                    created.id.parse::<u64>().map_err(|_| anyhow!("message id {:?} is not a snowflake", created.id))
                }
            })
            .buffer_unordered(args.fill_concurrency.max(1));
        let mut failed = 0u64;
        let mut first_error = None;
        while let Some(r) = posts.next().await {
            match r {
                Ok(id) => {
                    lo = lo.min(id);
                    hi = hi.max(id);
                }
                Err(e) => {
                    failed += 1;
                    first_error.get_or_insert(format!("{e:#}"));
                }
            }
        }
        drop(progress);
        let took = started.elapsed().as_secs_f64();
        report.result("fill_s", round3(took));
        report.result("fill_per_s", (args.messages as f64 / took).round());
        if failed > 0 {
            report.fail(format!("{failed} posts failed while filling: {}", first_error.unwrap_or_default()));
        }
    }
    // Widen to what the channel held before (an existing channel).
    let first = page(&target, &auths[0], &channel, "after=1&limit=1").await?;
    let newest = page(&target, &auths[0], &channel, "limit=1").await?;
    if let (Some(a), Some(b)) = (first.first(), newest.first()) {
        lo = lo.min(*a);
        hi = hi.max(*b);
    }
    if hi == 0 {
        bail!("the channel holds no messages");
    }
    report.param("id_range", format!("{lo}..={hi}"));

    // Read.
    step(format!("reading random pages for {}s", args.duration));
    let spec = LoadSpec { rate: 0.0, duration: Duration::from_secs_f64(args.duration), inflight: 1 };
    let load_stats = Arc::new(LoadStats::default());
    let items = Arc::new(AtomicU64::new(0));
    let base = Arc::<str>::from(format!("{}/channels/{channel}/messages?limit={}&before=", target.api, args.limit));
    let server_before = target.server_sample();
    let me_before = proc_sample(std::process::id());
    let t0 = Instant::now();
    let progress = load_stats.progress("history", "pages");
    {
        let (http, auths, items, base, limit) = (target.http.clone(), Arc::new(auths), items.clone(), base, args.limit);
        load::drive(spec, args.concurrency.max(1), load_stats.clone(), move |s| {
            let (http, auths, items, base) = (http.clone(), auths.clone(), items.clone(), base.clone());
            async move {
                let before = rand::thread_rng().gen_range(lo + 1..=hi + 1);
                let resp = http
                    .get(format!("{base}{before}"))
                    .header(AUTHORIZATION, auths[s % auths.len()].clone())
                    .send()
                    .await?;
                let status = resp.status();
                let body = resp.bytes().await?;
                if !status.is_success() {
                    bail!("HTTP {status}: {}", String::from_utf8_lossy(&body[..body.len().min(200)]));
                }
                let page: Vec<IgnoredAny> =
                    serde_json::from_slice(&body).context("history page is not a JSON array")?;
                if page.len() > limit as usize {
                    bail!("asked for {limit} messages, got {}", page.len());
                }
                items.fetch_add(page.len() as u64, Ordering::Relaxed);
                Ok(())
            }
        })
        .await;
    }
    let wall = t0.elapsed().as_secs_f64();
    drop(progress);
    let server_after = target.server_sample();
    let me_after = proc_sample(std::process::id());
    let ok = load_stats.ok.load(Ordering::Relaxed);
    let failed = load_stats.failed.load(Ordering::Relaxed);
    report.result("pages", ok);
    report.result("pages_per_s", (ok as f64 / wall).round());
    report.result("messages_per_page", round3(items.load(Ordering::Relaxed) as f64 / ok.max(1) as f64));
    report.result("page_latency", stats::summary(&load_stats.latency.lock().unwrap()));
    report.resources((server_before, server_after), (me_before, me_after), wall);
    if failed > 0 {
        report.fail(format!("{failed} page requests failed: {:?}", load_stats.errors.lock().unwrap()));
    }
    if ok == 0 {
        report.fail("no page was read");
    }
    target.finish(&report);
    Ok(report)
}

/// The ids of one page.
async fn page(target: &Target, auth: &reqwest::header::HeaderValue, channel: &str, query: &str) -> Result<Vec<u64>> {
    let resp = target
        .http
        .get(format!("{}/channels/{channel}/messages?{query}", target.api))
        .header(AUTHORIZATION, auth.clone())
        .send()
        .await?;
    let status = resp.status();
    if !status.is_success() {
        bail!("GET messages?{query}: HTTP {status}");
    }
    let msgs: Vec<Created> = resp.json().await?;
    Ok(msgs.iter().filter_map(|m| m.id.parse().ok()).collect())
}
