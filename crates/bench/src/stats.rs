//! Measuring: latency histograms, process figures from /proc, the machine,
//! and the bookkeeping of which message was sent when and seen by whom.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// Latencies are recorded in microseconds, 1 µs to 10 minutes, to two
/// significant digits (±1%), which keeps a histogram at about 20 KiB so
/// every gateway session can own one.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 2).expect("valid histogram bounds")
}

/// Records one latency (saturating at the histogram's top).
pub fn record(h: &mut Histogram<u64>, micros: u64) {
    h.saturating_record(micros.max(1));
}

/// p50/p99/p99.9/max in milliseconds, plus the count and mean.
pub fn summary(h: &Histogram<u64>) -> Value {
    let ms = |v: u64| (v as f64) / 1000.0;
    if h.is_empty() {
        return json!({ "count": 0 });
    }
    json!({
        "count": h.len(),
        "mean_ms": round3(h.mean() / 1000.0),
        "p50_ms": ms(h.value_at_quantile(0.50)),
        "p99_ms": ms(h.value_at_quantile(0.99)),
        "p999_ms": ms(h.value_at_quantile(0.999)),
        "max_ms": ms(h.max()),
    })
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// One process's memory and CPU time, from /proc/<pid>/stat and status.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSample {
    pub rss_kib: u64,
    pub hwm_kib: u64,
    pub cpu_s: f64,
    pub threads: u64,
}

pub fn proc_sample(pid: u32) -> Option<ProcSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after it are plain.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some(ProcSample {
        rss_kib: field("VmRSS:"),
        hwm_kib: field("VmHWM:"),
        cpu_s: (utime + stime) as f64 / ticks,
        threads: field("Threads:"),
    })
}

/// Before/after figures of a process over the measured phase.
pub fn proc_delta(before: ProcSample, after: ProcSample, wall_s: f64) -> Value {
    let cpu = after.cpu_s - before.cpu_s;
    json!({
        "rss_before_mib": round3(before.rss_kib as f64 / 1024.0),
        "rss_after_mib": round3(after.rss_kib as f64 / 1024.0),
        "rss_peak_mib": round3(after.hwm_kib as f64 / 1024.0),
        "cpu_seconds": round3(cpu),
        "cpu_cores_busy": if wall_s > 0.0 { round3(cpu / wall_s) } else { 0.0 },
        "threads": after.threads,
    })
}

pub fn machine() -> Value {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned());
    json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "memory_mib": mem_kib / 1024,
        "cpu": model,
        // Other work on the machine skews every figure: say how busy it was.
        "loadavg_at_end": std::fs::read_to_string("/proc/loadavg").ok().map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")),
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|s| s.trim().to_owned()),
    })
}

/// `git rev-parse HEAD` of the working directory, `+dirty` when it has
/// uncommitted changes; `None` outside a repository.
pub fn git_revision() -> Option<String> {
    let out = std::process::Command::new("git").args(["rev-parse", "HEAD"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let mut rev = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let dirty = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    if dirty {
        rev.push_str("+dirty");
    }
    Some(rev)
}

/// When each message was sent, by sequence number, on one clock shared by
/// senders and receivers: nanoseconds since `epoch`, plus flags. Grows in
/// chunks so that neither side ever takes a lock.
pub struct SendLog {
    epoch: Instant,
    chunks: Box<[OnceLock<Box<[AtomicU64]>>]>,
}

const CHUNK: usize = 1 << 16;
const ACKED: u64 = 1 << 63;
const FAILED: u64 = 1 << 62;
const TIME: u64 = FAILED - 1;

impl SendLog {
    pub fn new(epoch: Instant) -> Self {
        // 4096 chunks: room for 268 million messages.
        Self { epoch, chunks: (0..4096).map(|_| OnceLock::new()).collect() }
    }

    pub fn capacity(&self) -> u64 {
        (self.chunks.len() * CHUNK) as u64
    }

    fn slot(&self, seq: u64) -> &AtomicU64 {
        let chunk = self.chunks[seq as usize / CHUNK].get_or_init(|| (0..CHUNK).map(|_| AtomicU64::new(0)).collect());
        &chunk[seq as usize % CHUNK]
    }

    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64 + 1
    }

    /// Stamps `seq` as sent now (before the request goes out).
    pub fn sent(&self, seq: u64) {
        self.slot(seq).store(self.now_ns(), Ordering::Release);
    }

    pub fn acked(&self, seq: u64) {
        self.slot(seq).fetch_or(ACKED, Ordering::AcqRel);
    }

    pub fn failed(&self, seq: u64) {
        self.slot(seq).fetch_or(FAILED, Ordering::AcqRel);
    }

    fn raw(&self, seq: u64) -> u64 {
        match self.chunks.get(seq as usize / CHUNK).and_then(OnceLock::get) {
            Some(chunk) => chunk[seq as usize % CHUNK].load(Ordering::Acquire),
            None => 0,
        }
    }

    /// When `seq` was sent (ns since the epoch), if it was.
    pub fn sent_at(&self, seq: u64) -> Option<u64> {
        Some(self.raw(seq) & TIME).filter(|t| *t != 0)
    }

    pub fn is_acked(&self, seq: u64) -> bool {
        self.raw(seq) & ACKED != 0
    }
}

/// Which sequence numbers one session has seen.
#[derive(Default)]
pub struct Seen {
    bits: Vec<u64>,
}

impl Seen {
    /// Marks `seq`; returns whether it had been seen already.
    pub fn mark(&mut self, seq: u64) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        let was = self.bits[word] & (1 << bit) != 0;
        self.bits[word] |= 1 << bit;
        was
    }

    pub fn has(&self, seq: u64) -> bool {
        self.bits.get((seq / 64) as usize).is_some_and(|w| w & (1 << (seq % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_log_keeps_time_and_flags_apart() {
        let log = SendLog::new(Instant::now());
        assert_eq!(log.sent_at(5), None);
        log.sent(5);
        let t = log.sent_at(5).unwrap();
        log.acked(5);
        assert_eq!(log.sent_at(5), Some(t));
        assert!(log.is_acked(5));
        assert!(!log.is_acked(70_000));
    }

    #[test]
    fn seen_counts_duplicates() {
        let mut s = Seen::default();
        assert!(!s.mark(3));
        assert!(s.mark(3));
        assert!(!s.mark(1000));
        assert!(s.has(1000) && !s.has(999));
    }

    #[test]
    fn own_process_is_measurable() {
        let s = proc_sample(std::process::id()).unwrap();
        assert!(s.rss_kib > 0 && s.threads >= 1);
    }
}
