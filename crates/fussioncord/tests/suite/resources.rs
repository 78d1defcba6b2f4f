//! What an attacker's requests cost the server, measured: CPU time of
//! message searches, and peak memory of large JSON bodies. Each test
//! prints its figures (run with `--nocapture`; docs/SECURITY.md quotes
//! them) and asserts generous bounds that the attacks of issue 13 broke.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::Connection;

use common::TestApp;

/// Clock ticks per second for /proc's CPU times (USER_HZ, 100 on Linux).
const TICKS: f64 = 100.0;

/// utime + stime of process `pid` in seconds, from /proc/PID/stat.
fn cpu_of(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // The command name may hold spaces; the fields after it do not.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / TICKS
}

/// CPU seconds the server has used: this process (the in-process server;
/// the test runs alone in it, see `common::in_own_process`), plus on
/// PostgreSQL the backends serving the test's own database, found by their
/// process titles (`postgres: user fc_test_… …`).
fn server_cpu(database: Option<&str>) -> f64 {
    let mut total = cpu_of("self");
    if let Some(db) = database {
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let title = String::from_utf8_lossy(&cmdline);
            if title.starts_with("postgres:") && title.split_whitespace().any(|w| w == db) {
                total += cpu_of(&pid);
            }
        }
    }
    total
}

/// Inserts `n` messages into `channel` straight into the database (20,000
/// through the API would take minutes here), older than `newest`, each with
/// a handful of words, a link, and the word `a`.
async fn bulk_messages(app: &TestApp, channel: &str, author: &str, newest: u64, n: u64) {
    let values = "$1, $2 - i, $3, 'a message number ' || i || ' about https://example.com/page' || (i % 50)";
    match &app.config.database.url {
        Some(url) => {
            let mut db = sqlx::PgConnection::connect(url).await.unwrap();
            let sql = format!(
                "INSERT INTO messages (channel_id, id, author_id, content) \
                 SELECT {values} FROM generate_series(1::BIGINT, $4::BIGINT) AS g(i)"
            );
            sqlx::query(&sql)
                .bind(channel.parse::<i64>().unwrap())
                .bind(newest as i64)
                .bind(author.parse::<i64>().unwrap())
                .bind(n as i64)
                .execute(&mut db)
                .await
                .unwrap();
        }
        None => {
            let path = app.config.data_dir.join("fussioncord.db");
            let url = format!("sqlite://{}", path.display());
            let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut db).await.unwrap();
            let sql = format!(
                "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < $4) \
                 INSERT INTO messages (channel_id, id, author_id, content) SELECT {values} FROM g"
            );
            sqlx::query(&sql)
                .bind(channel.parse::<i64>().unwrap())
                .bind(newest as i64)
                .bind(author.parse::<i64>().unwrap())
                .bind(n as i64)
                .execute(&mut db)
                .await
                .unwrap();
        }
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(0.0)
}

/// Issue 13, item 5: `content=a a a …` (512 repeats) cost 0.64 CPU-seconds
/// per search in a guild of 20,000 messages, and six at once slowed
/// everyone's history reads 8×. Repeats are one word now, searches run in
/// their own bounded lane, and a search over its budget answers 202.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn search_attacks_cost_bounded_cpu_and_leave_history_reads_alone() {
    // Its CPU measure counts this whole process.
    if !common::in_own_process(module_path!(), "search_attacks_cost_bounded_cpu_and_leave_history_reads_alone") {
        return;
    }
    let mut app = TestApp::spawn().await;
    let owner = app.register("owner").await;
    let reader = app.register("reader").await;
    let (guild, channel) = app.guild(&owner, "Big guild").await;
    let guild = guild["id"].as_str().unwrap().to_owned();
    app.join(&owner, &channel, &reader).await;
    let first = app.send(&owner, &channel, "the first message").await;
    let newest: u64 = first["id"].as_str().unwrap().parse().unwrap();
    const MESSAGES: u64 = 20_000;
    bulk_messages(&app, &channel, &owner.id, newest, MESSAGES).await;
    let database = app.config.database.url.as_ref().map(|u| u.rsplit('/').next().unwrap().to_owned());

    let attack = format!("/guilds/{guild}/messages/search?content={}", "a%20".repeat(512));
    let (status, found) = app.get(&attack, &owner.token).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["total_results"], json!(MESSAGES), "every bulk message holds the word `a`");
    // Words inside links are words on both stores.
    let (status, found) = app.get(&format!("/guilds/{guild}/messages/search?content=page7"), &owner.token).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["total_results"], json!(MESSAGES / 50));

    let history = format!("/channels/{channel}/messages?limit=50");
    let time_history = |n: usize| {
        let (app, token, history) = (&app, reader.token.clone(), history.clone());
        async move {
            let mut took = Vec::new();
            for _ in 0..n {
                let started = Instant::now();
                let (status, page) = app.get(&history, &token).await;
                assert_eq!(status, StatusCode::OK, "{page}");
                took.push(started.elapsed().as_secs_f64());
            }
            took
        }
    };
    let quiet = median(time_history(20).await);

    // Six attackers at once, two searches each, while someone reads history.
    let cpu_before = server_cpu(database.as_deref());
    let attackers: Vec<_> = (0..6)
        .map(|_| {
            let (client, url, token) = (app.client.clone(), format!("{}{attack}", app.base), owner.token.clone());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                for _ in 0..2 {
                    let res = client.get(&url).header("Authorization", &token).send().await.unwrap();
                    statuses.push(res.status().as_u16());
                }
                statuses
            })
        })
        .collect();
    let busy = time_history(20).await;
    let mut statuses = Vec::new();
    for a in attackers {
        statuses.extend(a.await.unwrap());
    }
    let cpu = server_cpu(database.as_deref()) - cpu_before;
    let busy_max = busy.iter().copied().fold(0.0, f64::max);
    println!(
        "search attack ({}): 12 searches of 512 × `a` over {MESSAGES} messages: {cpu:.2} CPU-s in all \
         (incl. 20 history reads); history read median {:.1} ms quiet, {:.1} ms under attack (max {:.1} ms); \
         answers {statuses:?}",
        common::backend(),
        quiet * 1e3,
        median(busy.clone()) * 1e3,
        busy_max * 1e3,
    );
    assert!(statuses.iter().all(|s| *s == 200 || *s == 202), "{statuses:?}");
    // Before: 0.64 CPU-s per search, 7.7 for these twelve.
    assert!(cpu < 3.0, "12 searches cost {cpu:.2} CPU-seconds");
    assert!(busy_max < 5.0, "a history read waited {busy_max:.1} s behind searches");

    // More distinct words than a search may ask for: refused, naming the field.
    let words: Vec<String> = (0..17).map(|i| format!("w{i}")).collect();
    let (status, body) =
        app.get(&format!("/guilds/{guild}/messages/search?content={}", words.join("%20")), &owner.token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errors"]["content"]["_errors"][0]["code"], "BASE_TYPE_MAX_LENGTH", "{body}");

    // A budget the search cannot keep: Discord's "try again" answer.
    app.config.database.search_budget_ms = 1;
    app.restart().await;
    let expensive = format!("/guilds/{guild}/messages/search?content=a%20message%20about%20example&has=link");
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(app.call(Method::GET, &expensive, Some(&owner.token), None).await);
    }
    let (status, body) = answers.iter().find(|(s, _)| *s == StatusCode::ACCEPTED).cloned().unwrap_or_else(|| {
        panic!("no search was stopped by a 1 ms budget: {answers:?}");
    });
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["code"], json!(110000), "{body}");
    assert_eq!(body["retry_after"], json!(2), "{body}");
    assert_eq!(body["documents_indexed"], json!(0), "{body}");
    // The store is fine afterwards.
    let (status, _) = app.get(&history, &reader.token).await;
    assert_eq!(status, StatusCode::OK);
}

/// The `fussioncord` binary, serving on a free port; its address.
fn spawn_binary(dir: &std::path::Path, database_url: &Option<String>) -> (Child, String) {
    let mut cmd = common::binary(database_url);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("serve starts");
    let mut banner = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut banner).unwrap();
    let addr = banner.trim().rsplit("http://").next().unwrap().trim_end_matches('/').to_owned();
    (child, addr)
}

/// A field of /proc/PID/status in kB.
fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Issue 13, item 6: a 10 MB body of junk array elements to `PATCH
/// /users/@me` cost ~187 MB of RSS, and eight at once peaked at 482 MB.
/// Bodies deserialize straight into their types now, with a cap on the
/// number of values, so a request costs about its body's size.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_json_bodies_cost_about_their_size() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = common::fresh_database().await;
    let (mut child, addr) = spawn_binary(dir.path(), &database_url);
    let app = TestApp::attach(&addr);
    let person = app.register("person").await;
    let pid = child.id();
    // Warm up: the ordinary paths have run once.
    let (status, _) = app.patch("/users/@me", &person.token, json!({ "global_name": "Person" })).await;
    assert_eq!(status, StatusCode::OK);
    let baseline = status_kb(pid, "VmRSS:");

    const BODY: usize = 10 * 1024 * 1024;
    let junk_array = {
        let mut b = String::with_capacity(BODY + 64);
        b.push_str("{\"global_name\":\"x\",\"junk\":[");
        while b.len() < BODY - 2 {
            b.push_str("1,");
        }
        b.push_str("1]}");
        b
    };
    let junk_text = format!("{{\"global_name\":\"x\",\"junk\":\"{}\"}}", "y".repeat(BODY - 64));
    let wrong_type = format!("{{\"global_name\":[{}1]}}", "[],".repeat((BODY - 64) / 3));
    let mut peaks = Vec::new();
    for (name, body) in [("array", &junk_array), ("string", &junk_text), ("mistyped", &wrong_type)] {
        let sends: Vec<_> = (0..8)
            .map(|_| {
                let (client, url, token, body) =
                    (app.client.clone(), format!("{}/users/@me", app.base), person.token.clone(), body.clone());
                tokio::spawn(async move {
                    let res = client
                        .patch(url)
                        .header("Authorization", token)
                        .header("Content-Type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    let status = res.status();
                    (status, res.json::<Value>().await.unwrap_or(Value::Null))
                })
            })
            .collect();
        for s in sends {
            let (status, body) = s.await.unwrap();
            // Refused (a value cap, a type error) or taken with the junk
            // ignored, as Discord ignores unknown fields: never a 5xx.
            assert!(status.is_success() || status.is_client_error(), "{name}: {status} {body}");
        }
        let hwm = status_kb(pid, "VmHWM:");
        println!(
            "8 concurrent 10 MB bodies ({name}, {}): peak RSS {} MB (baseline {} MB, growth {} MB)",
            common::backend(),
            hwm / 1024,
            baseline / 1024,
            hwm.saturating_sub(baseline) / 1024,
        );
        peaks.push(hwm);
    }
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let _ = child.wait();
    let growth_mb = peaks.iter().max().unwrap().saturating_sub(baseline) / 1024;
    // Eight bodies of 10 MB are 80 MB on the wire; before, 464 MB of growth.
    assert!(growth_mb < 320, "eight 10 MB bodies grew the server by {growth_mb} MB");
}

/// Issue 17: uploads stream into the media store. Ten files of 25 MiB
/// (`media.max_file_size`, the default) sent at once, each in its own
/// message, grow the server by far less than the 250 MiB they carry, and
/// each arrives whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_25_mib_uploads_stream_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = common::fresh_database().await;
    let (mut child, addr) = spawn_binary(dir.path(), &database_url);
    let app = TestApp::attach(&addr);
    let person = app.register("uploader").await;
    let pid = child.id();
    let mut channels = Vec::new();
    for i in 0..10 {
        channels.push(app.guild(&person, &format!("big {i}")).await.1);
    }
    // Warm up: one small file has gone the whole way.
    let small = multipart_file("warm.bin", &[1u8; 1000]);
    let (status, body) = post_form(&app.client, &app.base, &channels[0], &person.token, small).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let baseline = status_kb(pid, "VmRSS:");

    const SIZE: usize = 25 * 1024 * 1024;
    let bytes: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    let sends: Vec<_> = channels
        .iter()
        .map(|channel| {
            let (client, base, channel, token, form) = (
                app.client.clone(),
                app.base.clone(),
                channel.clone(),
                person.token.clone(),
                multipart_file("big.bin", &bytes),
            );
            tokio::spawn(async move { post_form(&client, &base, &channel, &token, form).await })
        })
        .collect();
    for s in sends {
        let (status, body) = s.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["attachments"][0]["size"], SIZE as u64, "{body}");
    }
    let hwm = status_kb(pid, "VmHWM:");
    let growth_mb = hwm.saturating_sub(baseline) / 1024;
    println!(
        "10 concurrent 25 MiB uploads ({}): peak RSS {} MB (baseline {} MB, growth {growth_mb} MB)",
        common::backend(),
        hwm / 1024,
        baseline / 1024,
    );
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let _ = child.wait();
    let stored: Vec<u64> = walk_sizes(&dir.path().join("data/media/attachments"));
    assert_eq!(stored.iter().filter(|s| **s == SIZE as u64).count(), 10, "{stored:?}");
    // 250 MiB went in; held whole it would be at least that.
    assert!(growth_mb < 100, "ten 25 MiB uploads grew the server by {growth_mb} MB");
}

fn multipart_file(filename: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(bytes.len() + 512);
    body.extend_from_slice(
        format!(
            "--b0undary\r\nContent-Disposition: form-data; name=\"payload_json\"\r\nContent-Type: application/json\r\n\r\n{{}}\r\n\
             --b0undary\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"{filename}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n--b0undary--\r\n");
    body
}

async fn post_form(
    client: &reqwest::Client,
    base: &str,
    channel: &str,
    token: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let res = client
        .post(format!("{base}/channels/{channel}/messages"))
        .header("Authorization", token)
        .header("Content-Type", "multipart/form-data; boundary=b0undary")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn walk_sizes(dir: &std::path::Path) -> Vec<u64> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(walk_sizes(&path));
        } else {
            out.push(e.metadata().unwrap().len());
        }
    }
    out
}
