//! Driving requests: K senders, either open-loop at a target rate (each
//! request starts at its scheduled time, whether or not earlier ones have
//! answered, up to an in-flight cap) or closed-loop as fast as the server
//! answers.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::report::Progress;
use crate::stats;

#[derive(Debug, Clone, Copy)]
pub struct LoadSpec {
    /// Requests per second over all senders; 0 for as fast as possible.
    pub rate: f64,
    pub duration: Duration,
    /// Requests in flight per sender: the cap in rate mode, the number of
    /// back-to-back loops when as fast as possible.
    pub inflight: usize,
}

impl LoadSpec {
    pub fn describe(&self) -> Value {
        json!({
            "rate_per_s": if self.rate > 0.0 { json!(self.rate) } else { json!("max") },
            "duration_s": self.duration.as_secs_f64(),
            "inflight_per_sender": self.inflight,
        })
    }
}

/// What the requests did; shared with the progress line.
pub struct LoadStats {
    pub started: AtomicU64,
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    /// Requests that started later than scheduled because the in-flight cap was reached.
    pub late: AtomicU64,
    pub latency: Mutex<Histogram<u64>>,
    pub errors: Mutex<Vec<String>>,
}

impl Default for LoadStats {
    fn default() -> Self {
        Self {
            started: AtomicU64::new(0),
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            late: AtomicU64::new(0),
            latency: Mutex::new(stats::histogram()),
            errors: Mutex::new(Vec::new()),
        }
    }
}

impl LoadStats {
    /// A progress line each second: requests done so far (`noun`), per
    /// second, and failed.
    pub fn progress(self: &Arc<Self>, label: &'static str, noun: &'static str) -> Progress {
        let stats = self.clone();
        let last = AtomicU64::new(0);
        Progress::start(label, move |_| {
            let ok = stats.ok.load(Ordering::Relaxed);
            let per_s = ok - last.swap(ok, Ordering::Relaxed);
            format!("{ok} {noun} ({per_s}/s), {} failed", stats.failed.load(Ordering::Relaxed))
        })
    }

    fn finish(&self, began: Instant, r: Result<()>) {
        let micros = began.elapsed().as_micros() as u64;
        match r {
            Ok(()) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
                stats::record(&mut self.latency.lock().unwrap(), micros);
            }
            Err(e) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut errors = self.errors.lock().unwrap();
                if errors.len() < 5 {
                    errors.push(format!("{e:#}"));
                }
            }
        }
    }
}

/// Runs `op(sender)` per the spec; returns once every request has answered.
pub async fn drive<F, Fut>(spec: LoadSpec, senders: usize, stats: Arc<LoadStats>, op: F)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let end = start + spec.duration;
    let inflight = spec.inflight.max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for s in 0..senders {
        let op = op.clone();
        let stats = stats.clone();
        if spec.rate > 0.0 {
            let interval = Duration::from_secs_f64(senders as f64 / spec.rate);
            let offset = interval.mul_f64(s as f64 / senders as f64);
            tasks.spawn(async move {
                let permits = Arc::new(Semaphore::new(inflight));
                let mut i: u32 = 0;
                loop {
                    let due = start + offset + interval * i;
                    i += 1;
                    if due >= end {
                        break;
                    }
                    tokio::time::sleep_until(due).await;
                    let permit = match permits.clone().try_acquire_owned() {
                        Ok(p) => p,
                        Err(_) => {
                            stats.late.fetch_add(1, Ordering::Relaxed);
                            permits.clone().acquire_owned().await.expect("never closed")
                        }
                    };
                    let op = op.clone();
                    let stats = stats.clone();
                    tokio::spawn(async move {
                        stats.started.fetch_add(1, Ordering::Relaxed);
                        let began = Instant::now();
                        let r = op(s).await;
                        stats.finish(began, r);
                        drop(permit);
                    });
                }
                let _ = permits.acquire_many(inflight as u32).await;
            });
        } else {
            for _ in 0..inflight {
                let op = op.clone();
                let stats = stats.clone();
                tasks.spawn(async move {
                    while Instant::now() < end {
                        stats.started.fetch_add(1, Ordering::Relaxed);
                        let began = Instant::now();
                        let r = op(s).await;
                        stats.finish(began, r);
                    }
                });
            }
        }
    }
    while tasks.join_next().await.is_some() {}
}
