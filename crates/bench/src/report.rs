//! The outcome of a run: a table for people, a JSON document for tools.

use std::io::Write;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

pub struct Report {
    pub scenario: &'static str,
    pub parameters: Map<String, Value>,
    /// In the order they were added, which is the order of the table.
    pub results: Vec<(String, Value)>,
    /// What makes the run a failure (lost events, failed requests, …).
    pub failures: Vec<String>,
    pub notes: Vec<String>,
    started: SystemTime,
}

impl Report {
    pub fn new(scenario: &'static str) -> Self {
        Self {
            scenario,
            parameters: Map::new(),
            results: Vec::new(),
            failures: Vec::new(),
            notes: Vec::new(),
            started: SystemTime::now(),
        }
    }

    pub fn param(&mut self, key: &str, value: impl Into<Value>) {
        self.parameters.insert(key.into(), value.into());
    }

    /// CPU and memory of the server and of the harness over the run, for
    /// whichever of the two was sampled before and after.
    pub fn resources(
        &mut self,
        server: (Option<crate::stats::ProcSample>, Option<crate::stats::ProcSample>),
        harness: (Option<crate::stats::ProcSample>, Option<crate::stats::ProcSample>),
        wall_s: f64,
    ) {
        for (key, sample) in [("server", server), ("harness", harness)] {
            if let (Some(before), Some(after)) = sample {
                self.result(key, crate::stats::proc_delta(before, after, wall_s));
            }
        }
    }

    /// `server_peers`: the other processes of the server (`--peer-pid`),
    /// each sampled before and after like the server.
    pub fn peer_resources(
        &mut self,
        pids: &[u32],
        before: Vec<Option<crate::stats::ProcSample>>,
        after: Vec<Option<crate::stats::ProcSample>>,
        wall_s: f64,
    ) {
        if pids.is_empty() {
            return;
        }
        let peers: Vec<Value> = pids
            .iter()
            .zip(before.into_iter().zip(after))
            .map(|(pid, sample)| match sample {
                (Some(b), Some(a)) => {
                    let mut v = crate::stats::proc_delta(b, a, wall_s);
                    v["pid"] = json!(pid);
                    v
                }
                _ => json!({ "pid": pid, "error": "no such process" }),
            })
            .collect();
        self.result("server_peers", peers);
    }

    pub fn result(&mut self, key: &str, value: impl Into<Value>) {
        self.results.push((key.into(), value.into()));
    }

    pub fn fail(&mut self, why: impl Into<String>) {
        self.failures.push(why.into());
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    pub fn to_json(&self) -> Value {
        let results: Map<String, Value> = self.results.iter().cloned().collect();
        json!({
            "scenario": self.scenario,
            "ok": self.failures.is_empty(),
            "failures": self.failures,
            "notes": self.notes,
            "parameters": self.parameters,
            "results": results,
            "git_revision": crate::stats::git_revision(),
            "machine": crate::stats::machine(),
            "started_unix_s": self.started.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            "harness": concat!("fussioncord-bench ", env!("CARGO_PKG_VERSION")),
        })
    }

    /// The human table on stdout.
    pub fn print(&self) {
        let mut rows: Vec<(String, String)> = Vec::new();
        for (k, v) in &self.parameters {
            rows.push((format!("param {k}"), flat(v)));
        }
        for (k, v) in &self.results {
            match v {
                Value::Object(m) => {
                    for (k2, v2) in m {
                        rows.push((format!("{k}.{k2}"), flat(v2)));
                    }
                }
                _ => rows.push((k.clone(), flat(v))),
            }
        }
        let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(10).max(10);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "\n== {} ==", self.scenario);
        let _ = writeln!(out, "{:<w$}  value", "metric");
        let _ = writeln!(out, "{:-<w$}  {:-<20}", "", "");
        for (k, v) in rows {
            let _ = writeln!(out, "{k:<w$}  {v}");
        }
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        if self.failures.is_empty() {
            let _ = writeln!(out, "result: OK");
        } else {
            for f in &self.failures {
                let _ = writeln!(out, "FAILED: {f}");
            }
        }
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(&self.to_json())?;
        std::fs::write(path, text + "\n")?;
        Ok(())
    }
}

fn flat(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// A line a second on stderr while a phase runs.
pub struct Progress {
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    pub fn start(label: &'static str, line: impl Fn(f64) -> String + Send + 'static) -> Self {
        let start = Instant::now();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                let t = start.elapsed().as_secs_f64();
                eprintln!("[{label} {t:>5.1}s] {}", line(t));
            }
        });
        Self { task }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A status line on stderr, for phases that are not timed.
pub fn step(msg: impl AsRef<str>) {
    eprintln!("-- {}", msg.as_ref());
}
