//! `rest`: message-create throughput and latency with many concurrent authors.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;
use tokio::time::Instant;

use crate::load::{self, LoadSpec, LoadStats};
use crate::report::Report;
use crate::stats::{self, proc_sample, round3};
use crate::target::{auth_header, Common, Poster, Target};

#[derive(Args, Debug)]
pub struct RestArgs {
    #[command(flatten)]
    pub common: Common,
    /// Accounts posting at once.
    #[arg(long, default_value_t = 64)]
    pub authors: usize,
    /// Messages per second over all authors; 0 for as fast as the server answers.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Seconds of posting.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Requests in flight per author [default: 1 as fast as possible, 64 at a rate].
    #[arg(long)]
    pub inflight: Option<usize>,
    /// Before posting, the guild's owner sets AutoMod rules that every
    /// message of the other authors is checked against but none trips:
    /// keywords with wildcards and a regex, a keyword preset, mention spam,
    /// and the toxicity extension (one classifier call per message).
    #[arg(long)]
    pub automod: bool,
}

/// AutoMod rules on the channel's guild that the harness's messages
/// (`rest TAG N`) never trip, so every create pays for the checks and all
/// succeed. How many were set.
async fn set_rules(target: &Target, owner: &str, channel: &str) -> Result<usize> {
    let info = target.call(reqwest::Method::GET, Some(owner), &format!("/channels/{channel}"), None).await?;
    let guild = info["guild_id"].as_str().context("--automod needs a guild channel")?;
    let block = json!([{ "type": 1, "metadata": { "custom_message": "blocked by the benchmark's rules" } }]);
    let rules = [
        json!({ "name": "bench keywords", "event_type": 1, "trigger_type": 1, "actions": block, "enabled": true,
                "trigger_metadata": { "keyword_filter": ["*forbidden*", "zebra*", "*quux", "exact phrase here"],
                                      "regex_patterns": ["b[a4]dw[o0]rd\\d+"] } }),
        json!({ "name": "bench preset", "event_type": 1, "trigger_type": 4, "actions": block, "enabled": true,
                "trigger_metadata": { "presets": [1, 2, 3] } }),
        json!({ "name": "bench mentions", "event_type": 1, "trigger_type": 5, "actions": block, "enabled": true,
                "trigger_metadata": { "mention_total_limit": 10 } }),
        json!({ "name": "bench toxicity", "event_type": 1, "trigger_type": 1000, "actions": block, "enabled": true,
                "trigger_metadata": { "toxicity_threshold": 0.99 } }),
    ];
    for rule in &rules {
        target
            .call(reqwest::Method::POST, Some(owner), &format!("/guilds/{guild}/auto-moderation/rules"), Some(rule))
            .await
            .with_context(|| format!("creating AutoMod rule {}", rule["name"]))?;
    }
    Ok(rules.len())
}

pub async fn run(args: RestArgs) -> Result<Report> {
    if args.authors == 0 {
        bail!("--authors must be at least 1");
    }
    let target = Target::open(&args.common).await?;
    let mut report = Report::new("rest");
    target.describe(&mut report);
    let inflight = args.inflight.unwrap_or(if args.rate > 0.0 { 64 } else { 1 });
    let spec = LoadSpec { rate: args.rate, duration: Duration::from_secs_f64(args.duration), inflight };
    report.param("authors", args.authors);
    report.param("load", spec.describe());

    let tokens = target.accounts(args.authors).await?;
    let channel = target.channel(&tokens).await?;
    report.param("automod_rules", if args.automod { set_rules(&target, &tokens[0], &channel).await? } else { 0 });
    let auths: Arc<Vec<_>> = Arc::new(tokens.iter().map(|t| auth_header(t)).collect::<Result<_>>()?);
    let poster = Poster::new(&target, &channel);
    let load_stats = Arc::new(LoadStats::default());
    let counter = Arc::new(AtomicU64::new(0));
    let server_before = target.server_sample();
    let me_before = proc_sample(std::process::id());
    let t0 = Instant::now();
    let progress = load_stats.progress("rest", "created");
    let run_tag = target.run_tag.clone();
    load::drive(spec, args.authors, load_stats.clone(), move |s| {
        let (poster, auths, counter, run_tag) = (poster.clone(), auths.clone(), counter.clone(), run_tag.clone());
        async move {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            poster.post(&auths[s % auths.len()], &format!("rest {run_tag} {n}")).await.map(drop)
        }
    })
    .await;
    let wall = t0.elapsed().as_secs_f64();
    drop(progress);
    let server_after = target.server_sample();
    let me_after = proc_sample(std::process::id());
    let ok = load_stats.ok.load(Ordering::Relaxed);
    let failed = load_stats.failed.load(Ordering::Relaxed);
    report.result("messages_created", ok);
    report.result("creates_per_s", round3(ok as f64 / wall));
    report.result("late_starts", load_stats.late.load(Ordering::Relaxed));
    report.result("latency", stats::summary(&load_stats.latency.lock().unwrap()));
    report.resources((server_before, server_after), (me_before, me_after), wall);
    if failed > 0 {
        report.fail(format!("{failed} requests failed: {:?}", load_stats.errors.lock().unwrap()));
    }
    if ok == 0 {
        report.fail("no message was created");
    }
    target.finish(&report);
    Ok(report)
}
