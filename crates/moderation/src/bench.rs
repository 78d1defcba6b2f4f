//! `fussioncord moderation bench`: the per-message cost of scoring real
//! messages (both scores come from one call), as percentiles and throughput.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::data::{self, DataError};
use crate::Classifier;

#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub texts: usize,
    pub passes: usize,
    pub messages: usize,
    pub mean_chars: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    pub mean_us: f64,
    pub messages_per_second: f64,
}

/// Every text of the six data sets, in file order.
pub fn dataset_texts(dir: &Path, limit: Option<usize>) -> Result<Vec<String>, DataError> {
    let mut texts = Vec::new();
    let mut sets = data::toxicity_sets(dir, limit)?;
    sets.extend([data::sms(dir, limit)?, data::youtube(dir, limit)?]);
    for set in sets {
        texts.extend(set.examples.into_iter().map(|(t, _)| t));
    }
    Ok(texts)
}

/// Scores `texts` `passes` times, timing every call.
pub fn run(classifier: &dyn Classifier, texts: &[String], passes: usize, progress: bool) -> BenchReport {
    // Warm caches and the allocator so the first figures are not cold misses.
    for t in texts.iter().take(1000) {
        std::hint::black_box(classifier.score(t));
    }
    let total = texts.len() * passes;
    let mut times: Vec<Duration> = Vec::with_capacity(total);
    let started = Instant::now();
    let step = (total / 10).max(1);
    let mut next_report = step;
    for pass in 0..passes {
        for t in texts {
            let t0 = Instant::now();
            std::hint::black_box(classifier.score(std::hint::black_box(t)));
            times.push(t0.elapsed());
            if progress && times.len() == next_report {
                next_report += step;
                eprintln!("  scored {}/{} (pass {}/{passes})", times.len(), total, pass + 1);
            }
        }
    }
    let wall = started.elapsed();
    times.sort_unstable();
    let pct = |p: f64| -> f64 {
        if times.is_empty() {
            return 0.0;
        }
        let i = ((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1;
        us(times[i])
    };
    let sum: Duration = times.iter().sum();
    let chars: usize = texts.iter().map(|t| t.chars().count()).sum();
    BenchReport {
        texts: texts.len(),
        passes,
        messages: total,
        mean_chars: round(chars as f64 / texts.len().max(1) as f64),
        p50_us: pct(0.50),
        p90_us: pct(0.90),
        p99_us: pct(0.99),
        p999_us: pct(0.999),
        max_us: times.last().map_or(0.0, |&d| us(d)),
        mean_us: round(us(sum) / total.max(1) as f64),
        messages_per_second: round(total as f64 / wall.as_secs_f64().max(1e-9)),
    }
}

fn us(d: Duration) -> f64 {
    round(d.as_secs_f64() * 1e6)
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub fn summary(r: &BenchReport) -> String {
    format!(
        "scored {} messages ({} texts x {} passes, mean {:.0} chars), toxicity and spam per call:\n  \
         p50 {:.1} µs  p90 {:.1} µs  p99 {:.1} µs  p99.9 {:.1} µs  max {:.1} µs  mean {:.1} µs\n  \
         throughput {:.0} messages/s on one thread\n",
        r.messages,
        r.texts,
        r.passes,
        r.mean_chars,
        r.p50_us,
        r.p90_us,
        r.p99_us,
        r.p999_us,
        r.max_us,
        r.mean_us,
        r.messages_per_second
    )
}
