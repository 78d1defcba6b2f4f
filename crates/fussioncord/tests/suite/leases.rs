//! Snowflake worker ids without hand configuration (issue 19): nodes on
//! one database lease distinct worker ids (bits 21–17 of every id they
//! mint), and a node whose lease is taken from it stops minting, answering
//! 503 to whatever needs a new id, until it holds one again.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{fresh_postgres, TestApp, TestUser};

fn worker_of(id: &Value) -> u64 {
    let id: u64 = id.as_str().expect("a snowflake string").parse().unwrap();
    (id >> 17) & 0x1f
}

#[tokio::test]
async fn nodes_on_one_database_lease_distinct_worker_ids() {
    let db = fresh_postgres().await;
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let db = db.clone();
        nodes.push(
            TestApp::spawn_with(move |c| {
                c.database.url = Some(db);
                c.snowflake.lease = Some(true);
            })
            .await,
        );
    }
    // A node with a fixed worker id keeps it, and takes no lease.
    let fixed = {
        let db = db.clone();
        TestApp::spawn_with(move |c| {
            c.database.url = Some(db);
            c.snowflake.worker = Some(9);
        })
        .await
    };
    let ada = nodes[0].register("ada").await;
    let (_, channel) = nodes[0].guild(&ada, "Workers").await;
    let mut workers = Vec::new();
    for node in &nodes {
        let message = node.send(&ada, &channel, "which worker?").await;
        workers.push(worker_of(&message["id"]));
        let res = node.client.get(format!("http://{}/readyz", node.addr())).send().await.unwrap();
        assert_eq!(res.json::<Value>().await.unwrap()["checks"]["ids"], "ok");
    }
    workers.sort();
    assert_eq!(workers, [0, 1, 2], "the lowest free worker ids, one per node");
    let message = fixed.send(&ada, &channel, "fixed").await;
    assert_eq!(worker_of(&message["id"]), 9);
    // Users made on another node carry that node's worker id.
    let bea = nodes[2].register("bea").await;
    assert!(workers.contains(&worker_of(&json!(bea.id))));
}

/// Rows that make every worker id another holder's for a long time.
fn take_every_worker_id() -> String {
    let rows: Vec<String> = (0..32).map(|w| format!("({w}, 'intruder', 4102444800000, 0)")).collect();
    format!(
        "INSERT INTO node_leases (worker, holder, expires_at, floor_ms) VALUES {} \
         ON CONFLICT (worker) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at",
        rows.join(", ")
    )
}

async fn post(app: &TestApp, user: &TestUser, channel: &str, content: &str) -> (StatusCode, Value) {
    app.post(&format!("/channels/{channel}/messages"), &user.token, json!({ "content": content })).await
}

#[tokio::test]
async fn a_node_whose_lease_is_taken_stops_minting_until_it_holds_one_again() {
    let app = TestApp::spawn_with(|c| {
        c.snowflake.lease = Some(true);
        c.snowflake.lease_ttl_secs = 2;
        c.snowflake.lease_renew_secs = 1;
    })
    .await;
    let ada = app.register("ada").await;
    let (_, channel) = app.guild(&ada, "Taken").await;
    let first = app.send(&ada, &channel, "before").await;
    assert_eq!(worker_of(&first["id"]), 0);

    // Every worker id, this node's included, is taken over in the table.
    app.sql(&[take_every_worker_id()]).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut probes = 0;
    let refused = loop {
        probes += 1;
        let res = post(&app, &ada, &channel, &format!("probe {probes}")).await;
        if res.0 != StatusCode::OK {
            break res;
        }
        assert!(Instant::now() < deadline, "still minting 5 s after its lease was taken: {}", res.1);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(refused.0, StatusCode::SERVICE_UNAVAILABLE, "{}", refused.1);
    assert_eq!(refused.1["code"], 0);
    // Nothing that needs an id is made, and the node says it is not ready.
    let (status, _) = app.post("/guilds", &ada.token, json!({ "name": "No Ids" })).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let res = app.client.get(format!("http://{}/readyz", app.addr())).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.json::<Value>().await.unwrap()["checks"]["ids"], "unavailable");
    // Reading still works.
    let (status, history) = app.get(&format!("/channels/{channel}/messages"), &ada.token).await;
    assert_eq!(status, StatusCode::OK);
    let refused_probe = format!("probe {probes}");
    assert!(history.as_array().unwrap().iter().all(|m| m["content"] != refused_probe), "a refused message was stored");

    // One worker id comes free: the node takes it and mints again.
    app.sql(&["DELETE FROM node_leases WHERE worker = 7".to_owned()]).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let after = loop {
        let res = post(&app, &ada, &channel, "after").await;
        if res.0 == StatusCode::OK {
            break res.1;
        }
        assert_eq!(res.0, StatusCode::SERVICE_UNAVAILABLE, "{}", res.1);
        assert!(Instant::now() < deadline, "not minting 5 s after a worker id came free");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(worker_of(&after["id"]), 7);
    let (first, after): (u64, u64) =
        (first["id"].as_str().unwrap().parse().unwrap(), after["id"].as_str().unwrap().parse().unwrap());
    assert!(after > first);
}

#[tokio::test]
async fn a_node_that_cannot_renew_its_lease_stops_minting_when_it_runs_out() {
    let db = fresh_postgres().await;
    let app = {
        let db = db.clone();
        TestApp::spawn_with(move |c| {
            c.database.url = Some(db);
            c.snowflake.lease = Some(true);
            c.snowflake.lease_ttl_secs = 2;
            c.snowflake.lease_renew_secs = 1;
        })
        .await
    };
    let ids = || async {
        let res = app.client.get(format!("http://{}/readyz", app.addr())).send().await.unwrap();
        res.json::<Value>().await.unwrap()["checks"]["ids"].as_str().unwrap().to_owned()
    };
    assert_eq!(ids().await, "ok");
    // The database goes away: renewals fail, nobody takes the row, and
    // the lease runs out on this node's own clock (2 s after the last
    // renewal at most).
    let admin =
        std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = db.rsplit('/').next().unwrap();
    let out = std::process::Command::new("psql")
        .args(["-q", "-d", &admin, "-c", &format!("DROP DATABASE {name} WITH (FORCE)")])
        .output()
        .expect("psql runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dropped = Instant::now();
    while ids().await == "ok" {
        assert!(dropped.elapsed() < Duration::from_secs(5), "still holding a lease 5 s after renewals stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
