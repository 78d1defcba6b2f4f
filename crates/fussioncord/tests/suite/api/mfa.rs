//! Authentication hardening: MFA (TOTP and backup codes) as Discord does
//! it, per-account login throttling, password changes that revoke every
//! token, the session list, and tokens kept out of the logs.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::common::{assert_error, fresh_database, TestApp, TestUser};

const PASSWORD: &str = "correct horse battery";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const CHROME: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

/// A secret as a client makes one: 20 random bytes in base32.
fn new_secret() -> String {
    let bytes: [u8; 20] = rand::random();
    match Secret::Raw(bytes.to_vec()).to_encoded() {
        Secret::Encoded(s) => s,
        Secret::Raw(_) => unreachable!("to_encoded encodes"),
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The code an authenticator app shows at `unix_secs`.
fn code_at(secret: &str, unix_secs: u64) -> String {
    let bytes = Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, bytes).generate(unix_secs)
}

/// A six-digit code valid at no step the server could accept right now.
fn wrong_code(secret: &str) -> String {
    let now = now_secs();
    let valid: Vec<String> = (0..4).map(|i| code_at(secret, now - 30 + i * 30)).collect();
    (0..10).map(|n| format!("{n:06}")).find(|c| !valid.contains(c)).unwrap()
}

/// POSTs JSON with a chosen User-Agent; the answer must be Discord-shaped.
async fn post_as(app: &TestApp, path: &str, user_agent: &str, body: Value) -> (StatusCode, Value) {
    let res = app
        .client
        .post(format!("{}{path}", app.base))
        .header("User-Agent", user_agent)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = res.status();
    assert_eq!(res.headers()["content-type"], "application/json");
    (status, res.json().await.unwrap())
}

async fn login(app: &TestApp, login: &str, password: &str) -> (StatusCode, Value) {
    app.call(Method::POST, "/auth/login", None, Some(json!({ "login": login, "password": password }))).await
}

async fn mfa_login(app: &TestApp, ticket: &str, code: &str) -> (StatusCode, Value) {
    app.call(Method::POST, "/auth/mfa/totp", None, Some(json!({ "ticket": ticket, "code": code }))).await
}

/// A password login for an MFA user: the ticket.
async fn ticket(app: &TestApp, user: &str) -> String {
    let (status, body) = login(app, user, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token"], Value::Null, "{body}");
    body["ticket"].as_str().expect("a ticket").to_owned()
}

/// Turns MFA on with a code for now; returns (secret, new token, codes).
async fn enable(app: &TestApp, user: &TestUser) -> (String, String, Vec<String>) {
    let secret = new_secret();
    let (status, body) = app
        .post(
            "/users/@me/mfa/totp/enable",
            &user.token,
            json!({ "secret": secret, "code": code_at(&secret, now_secs()), "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let codes = body["backup_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10, "{body}");
    for c in codes {
        assert_eq!(c["user_id"], json!(user.id));
        assert_eq!(c["consumed"], false);
        let code = c["code"].as_str().unwrap();
        assert!(code.len() == 8 && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()), "{code}");
    }
    let codes = codes.iter().map(|c| c["code"].as_str().unwrap().to_owned()).collect();
    (secret, body["token"].as_str().unwrap().to_owned(), codes)
}

#[tokio::test]
async fn totp_enable_login_replay_backup_codes_and_disable() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let (_, second) = login(&app, "alice", PASSWORD).await;
    let second = second["token"].as_str().unwrap().to_owned();
    let secret = new_secret();
    let t0 = now_secs();
    let enable_path = "/users/@me/mfa/totp/enable";

    // Refusals change nothing.
    let wrong_pw = app
        .post(enable_path, &alice.token, json!({ "secret": secret, "code": code_at(&secret, t0), "password": "nope" }))
        .await;
    assert_error(&wrong_pw, 400, 50035);
    assert_eq!(wrong_pw.1["errors"]["password"]["_errors"][0]["code"], "PASSWORD_DOES_NOT_MATCH");
    let bad_secret =
        app.post(enable_path, &alice.token, json!({ "secret": "not base32!", "code": "123456", "password": PASSWORD }));
    assert_error(&bad_secret.await, 400, 60005);
    let wrong = app
        .post(enable_path, &alice.token, json!({ "secret": secret, "code": wrong_code(&secret), "password": PASSWORD }))
        .await;
    assert_error(&wrong, 400, 60008);
    assert_eq!(app.get("/users/@me", &alice.token).await.1["mfa_enabled"], false);

    // Enabling answers a new token and revokes every other one.
    let (status, body) = app
        .post(
            enable_path,
            &alice.token,
            json!({ "secret": secret, "code": code_at(&secret, t0), "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let codes: Vec<String> =
        body["backup_codes"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 10);
    assert_error(&app.get("/users/@me", &alice.token).await, 401, 40001);
    assert_error(&app.get("/users/@me", &second).await, 401, 40001);
    let (status, me) = app.get("/users/@me", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["mfa_enabled"], true);
    let again =
        app.post(enable_path, &token, json!({ "secret": new_secret(), "code": "123456", "password": PASSWORD })).await;
    assert_error(&again, 400, 60001);

    // A password login now answers a ticket, not a token.
    let (status, body) = login(&app, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token"], Value::Null);
    assert_eq!(body["user_id"], json!(alice.id));
    assert_eq!(
        (&body["mfa"], &body["sms"], &body["totp"], &body["backup"]),
        (&json!(true), &json!(false), &json!(true), &json!(true))
    );
    assert_eq!(body["webauthn"], Value::Null);
    let first = body["ticket"].as_str().unwrap().to_owned();
    assert!(first.len() >= 32);

    // The code that enabled MFA was used: it cannot log in. The next
    // step's code can, once.
    assert_error(&mfa_login(&app, &first, &code_at(&secret, t0)).await, 400, 60008);
    let next = code_at(&secret, t0 + 30);
    let (status, body) = mfa_login(&app, &first, &next).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user_id"], json!(alice.id));
    let via_totp = body["token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/users/@me", &via_totp).await.0, StatusCode::OK);
    // A used ticket is gone; a replayed code is refused on a new one.
    assert_error(&mfa_login(&app, &first, &next).await, 400, 60006);
    let fresh = ticket(&app, "alice").await;
    assert_error(&mfa_login(&app, &fresh, &next).await, 400, 60008);
    assert_error(&mfa_login(&app, &fresh, &code_at(&secret, t0)).await, 400, 60008);
    assert_error(&mfa_login(&app, "made-up", &next).await, 400, 60006);

    // A backup code works once, typed any way.
    let (status, body) = mfa_login(&app, &fresh, &codes[0]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let third = ticket(&app, "alice").await;
    assert_error(&mfa_login(&app, &third, &codes[0]).await, 400, 60008);
    let typed = format!("{}-{}", codes[1][..4].to_uppercase(), &codes[1][4..]);
    let (status, body) = mfa_login(&app, &third, &typed).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The backup codes: their state without the password is refused; with
    // it, which are used (their text is not kept); then a fresh set.
    let wrong_pw = app.post("/users/@me/mfa/codes", &token, json!({ "password": "nope", "regenerate": false })).await;
    assert_error(&wrong_pw, 400, 50035);
    let (status, body) =
        app.post("/users/@me/mfa/codes", &token, json!({ "password": PASSWORD, "regenerate": false })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = body["backup_codes"].as_array().unwrap();
    assert_eq!(listed.len(), 10);
    let consumed: Vec<bool> = listed.iter().map(|c| c["consumed"].as_bool().unwrap()).collect();
    assert_eq!(&consumed[..3], &[true, true, false]);
    assert!(listed.iter().all(|c| c["code"].is_null() && c["user_id"] == json!(alice.id)));
    let (status, body) =
        app.post("/users/@me/mfa/codes", &token, json!({ "password": PASSWORD, "regenerate": true })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let renewed: Vec<String> =
        body["backup_codes"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap().to_owned()).collect();
    assert_eq!(renewed.len(), 10);
    assert!(renewed.iter().all(|c| !codes.contains(c)));
    let fourth = ticket(&app, "alice").await;
    assert_error(&mfa_login(&app, &fourth, &codes[2]).await, 400, 60008);
    assert_eq!(mfa_login(&app, &fourth, &renewed[0]).await.0, StatusCode::OK);

    // Disabling takes a code, answers a new token and revokes the others.
    let disable = "/users/@me/mfa/totp/disable";
    assert_error(&app.post(disable, &token, json!({ "code": wrong_code(&secret) })).await, 400, 60008);
    assert_error(&app.post(disable, &token, json!({ "code": renewed[0] })).await, 400, 60008);
    let (status, body) = app.post(disable, &token, json!({ "code": renewed[1] })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let after = body["token"].as_str().unwrap().to_owned();
    for old in [&token, &via_totp] {
        assert_error(&app.get("/users/@me", old).await, 401, 40001);
    }
    let (_, me) = app.get("/users/@me", &after).await;
    assert_eq!(me["mfa_enabled"], false);
    assert_error(&app.post(disable, &after, json!({ "code": renewed[2] })).await, 400, 60002);
    let (status, body) = login(&app, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["token"].is_string() && body.get("ticket").is_none(), "{body}");

    // Bots have no second factor.
    let bot = app.bot(&TestUser { token: after.clone(), ..alice.clone() }, "Robot", false).await;
    let by_bot =
        app.post(enable_path, &bot.token, json!({ "secret": new_secret(), "code": "1", "password": "x" })).await;
    assert_error(&by_bot, 403, 20001);
}

#[tokio::test]
async fn parallel_guesses_cannot_outrun_the_throttle() {
    let app = TestApp::spawn().await;
    app.register("carol").await;
    // Forty wrong passwords at once: each is counted before it is checked,
    // so no more than the account's five are ever checked.
    let guesses = (0..40).map(|i| {
        let app = &app;
        async move { login(app, "carol", &format!("wrong guess {i}")).await }
    });
    let replies = futures::future::join_all(guesses).await;
    let checked = replies.iter().filter(|(status, _)| *status == StatusCode::BAD_REQUEST).count();
    let refused = replies.iter().filter(|(status, _)| *status == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, refused), (5, 35), "{replies:?}");
    // The right password is refused too, until the window ends.
    assert_eq!(login(&app, "carol", PASSWORD).await.0, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn guessing_codes_kills_the_ticket_and_throttles_the_account() {
    let app = TestApp::spawn().await;
    let bob = app.register("bob").await;
    let (secret, _token, codes) = enable(&app, &bob).await;

    let t = ticket(&app, "bob").await;
    let wrong = wrong_code(&secret);
    for attempt in 1..=5 {
        let reply = mfa_login(&app, &t, &wrong).await;
        assert_error(&reply, 400, 60008);
        assert_eq!(reply.1["message"], "Invalid two-factor code", "attempt {attempt}");
    }
    // Five wrong codes: the ticket is dead, even for a right code...
    assert_error(&mfa_login(&app, &t, &codes[0]).await, 400, 60006);
    // ...and the account refuses logins for the rest of the window, with
    // Discord's 429 — the right password included.
    let res = app
        .client
        .post(format!("{}/auth/login", app.base))
        .json(&json!({ "login": "bob", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["via"], "1.1 fussioncord");
    let retry_header: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["message"], "You are being rate limited.");
    assert_eq!(body["global"], false);
    let retry = body["retry_after"].as_f64().expect("retry_after is a number");
    assert!(retry > 800.0 && retry <= 900.0, "{body}");
    assert_eq!(retry_header, retry.ceil() as u64);

    // By email too: the count is the account's, not the login name's.
    let (status, body) = login(&app, "bob@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");

    // Whether an account exists does not show: five wrong passwords for
    // nobody are throttled the same way, and the answers match.
    let mut answers = Vec::new();
    for login_name in ["nobody", "carol"] {
        if login_name == "carol" {
            app.register("carol").await;
        }
        for _ in 0..5 {
            let reply = login(&app, login_name, "wrong wrong wrong").await;
            assert_error(&reply, 400, 50035);
            answers.push(reply.1);
        }
        let (status, body) = login(&app, login_name, PASSWORD).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{login_name}: {body}");
        assert_eq!(body["message"], "You are being rate limited.");
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
}

#[tokio::test]
async fn the_throttle_lifts_when_its_window_ends() {
    let app = TestApp::spawn_with(|c| {
        c.auth.login_max_failures = 3;
        c.auth.login_window_secs = 3;
    })
    .await;
    app.register("dave").await;
    for _ in 0..3 {
        assert_error(&login(&app, "dave", "wrong wrong wrong").await, 400, 50035);
    }
    let (status, body) = login(&app, "dave", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let retry = body["retry_after"].as_f64().unwrap();
    assert!(retry > 0.0 && retry <= 3.0, "{body}");
    tokio::time::sleep(Duration::from_secs_f64(retry + 0.2)).await;
    let (status, body) = login(&app, "dave", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A success clears the count: the next failures start from zero.
    for _ in 0..2 {
        assert_error(&login(&app, "dave", "wrong wrong wrong").await, 400, 50035);
    }
    assert_eq!(login(&app, "dave", PASSWORD).await.0, StatusCode::OK);
}

#[tokio::test]
async fn changing_the_password_revokes_every_token_of_the_user() {
    let app = TestApp::spawn().await;
    let erin = app.register("erin").await;
    let (_, other) = login(&app, "erin", PASSWORD).await;
    let other = other["token"].as_str().unwrap().to_owned();
    let bot = app.bot(&erin, "Erin Bot", false).await;
    let frank = app.register("frank").await;

    let refused = [
        (json!({ "new_password": "a new password" }), "password", "BASE_TYPE_REQUIRED"),
        (json!({ "password": "wrong one", "new_password": "a new password" }), "password", "PASSWORD_DOES_NOT_MATCH"),
        (json!({ "password": PASSWORD, "new_password": "short" }), "new_password", "PASSWORD_TOO_SHORT"),
    ];
    for (body, field, code) in refused {
        let reply = app.patch("/users/@me", &erin.token, body.clone()).await;
        assert_error(&reply, 400, 50035);
        assert_eq!(reply.1["errors"][field]["_errors"][0]["code"], code, "{body}: {}", reply.1);
    }
    // An ordinary profile change carries no token.
    let (status, body) = app.patch("/users/@me", &erin.token, json!({ "global_name": "Erin" })).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("token").is_none(), "{body}");

    let (status, body) = app
        .patch("/users/@me", &erin.token, json!({ "password": PASSWORD, "new_password": "an entirely new one" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["username"], "erin");
    let token = body["token"].as_str().expect("a new token").to_owned();
    // Every other token of hers is revoked, the one used included...
    assert_error(&app.get("/users/@me", &erin.token).await, 401, 40001);
    assert_error(&app.get("/users/@me", &other).await, 401, 40001);
    assert_eq!(app.get("/users/@me", &token).await.1["id"], json!(erin.id));
    // ...but not her bot's, nor anybody else's.
    assert_eq!(app.get("/users/@me", &bot.token).await.0, StatusCode::OK);
    assert_eq!(app.get("/users/@me", &frank.token).await.0, StatusCode::OK);
    // The new password is the one that logs in.
    assert_error(&login(&app, "erin", PASSWORD).await, 400, 50035);
    assert_eq!(login(&app, "erin", "an entirely new one").await.0, StatusCode::OK);
}

#[tokio::test]
async fn sessions_are_listed_and_revoked_by_id_hash() {
    let app = TestApp::spawn().await;
    let gina = app.register("gina").await;
    let (_, on_firefox) = post_as(&app, "/auth/login", FIREFOX, json!({ "login": "gina", "password": PASSWORD })).await;
    let on_firefox = on_firefox["token"].as_str().unwrap().to_owned();
    let (_, on_chrome) = post_as(&app, "/auth/login", CHROME, json!({ "login": "gina", "password": PASSWORD })).await;
    let on_chrome = on_chrome["token"].as_str().unwrap().to_owned();
    let tokens = [&gina.token, &on_firefox, &on_chrome];

    let (status, body) = app.get("/auth/sessions", &gina.token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sessions = body["user_sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 3, "{body}");
    let text = body.to_string();
    for token in tokens {
        let secret_part = token.split('.').nth(1).unwrap();
        assert!(!text.contains(secret_part), "a token leaks into {text}");
    }
    let mut hashes: Vec<&str> = sessions.iter().map(|s| s["id_hash"].as_str().unwrap()).collect();
    hashes.sort();
    hashes.dedup();
    assert_eq!(hashes.len(), 3);
    let find = |platform: &str| sessions.iter().find(|s| s["client_info"]["platform"] == platform).cloned();
    let firefox = find("Firefox").expect("the Firefox session");
    assert_eq!(firefox["client_info"]["os"], "Linux");
    assert_eq!(find("Chrome").expect("the Chrome session")["client_info"]["os"], "Windows");
    for s in &sessions {
        let when = s["approx_last_used_time"].as_str().unwrap();
        assert!(when.len() >= 20 && when.as_bytes()[10] == b'T', "{s}");
    }

    // The id is stable, and using a token within the minute rewrites
    // nothing.
    app.get("/users/@me", &on_firefox).await;
    let (_, again) = app.get("/auth/sessions", &on_chrome).await;
    assert_eq!(again["user_sessions"].as_array().unwrap().len(), 3);
    let same = again["user_sessions"].as_array().unwrap().iter().find(|s| s["id_hash"] == firefox["id_hash"]).cloned();
    assert_eq!(same.as_ref().map(|s| &s["approx_last_used_time"]), Some(&firefox["approx_last_used_time"]));

    // Somebody else naming her sessions revokes nothing.
    let hal = app.register("hal").await;
    let all: Vec<Value> = sessions.iter().map(|s| s["id_hash"].clone()).collect();
    let (status, _) = app.post("/auth/sessions/logout", &hal.token, json!({ "session_id_hashes": all })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for token in tokens {
        assert_eq!(app.get("/users/@me", token).await.0, StatusCode::OK);
    }
    assert_eq!(app.get("/users/@me", &hal.token).await.0, StatusCode::OK);

    // She revokes the Firefox one: only it stops working.
    let (status, _) = app
        .post("/auth/sessions/logout", &gina.token, json!({ "session_id_hashes": [firefox["id_hash"], "unknown"] }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(&app.get("/users/@me", &on_firefox).await, 401, 40001);
    assert_eq!(app.get("/users/@me", &on_chrome).await.0, StatusCode::OK);
    let (_, left) = app.get("/auth/sessions", &gina.token).await;
    let left = left["user_sessions"].as_array().unwrap();
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|s| s["id_hash"] != firefox["id_hash"]));

    let too_many: Vec<String> = (0..101).map(|i| format!("h{i}")).collect();
    let reply = app.post("/auth/sessions/logout", &gina.token, json!({ "session_id_hashes": too_many })).await;
    assert_error(&reply, 400, 50035);
    let bot = app.bot(&gina, "Gina Bot", false).await;
    assert_error(&app.get("/auth/sessions", &bot.token).await, 403, 20001);
}

#[tokio::test]
async fn revoked_tokens_lose_their_gateway_connections() {
    let app = TestApp::spawn().await;
    let jo = app.register("jo").await;
    let (_, other) = post_as(&app, "/auth/login", FIREFOX, json!({ "login": "jo", "password": PASSWORD })).await;
    let other = other["token"].as_str().unwrap().to_owned();
    let mut kept = app.gateway("").await;
    kept.identify(&jo.token, 0).await;
    let mut revoked = app.gateway("").await;
    revoked.identify(&other, 0).await;

    // Logging one session out closes its connection, and only its.
    let (_, list) = app.get("/auth/sessions", &jo.token).await;
    let firefox = list["user_sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["client_info"]["platform"] == "Firefox")
        .map(|s| s["id_hash"].clone())
        .unwrap();
    let (status, _) = app.post("/auth/sessions/logout", &jo.token, json!({ "session_id_hashes": [firefox] })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(revoked.closed().await, Some(4004));
    kept.heartbeat().await;
    while kept.next().await["op"] != 11 {}

    // A password change closes the rest.
    let (status, body) =
        app.patch("/users/@me", &jo.token, json!({ "password": PASSWORD, "new_password": "a fresh password" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(kept.closed().await, Some(4004));
    // The new token connects.
    let mut fresh = app.gateway("").await;
    let ready = fresh.identify(body["token"].as_str().unwrap(), 0).await;
    assert_eq!(ready["user"]["id"], json!(jo.id));
}

/// Runs the real binary with every log level on and reads what it logged
/// while tokens, tickets, secrets, codes and passwords went through it.
#[tokio::test]
async fn tokens_and_secrets_never_reach_the_logs() {
    let database_url = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = crate::common::binary(&database_url);
    cmd.env("RUST_LOG", "trace")
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("serve starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stderr = child.stderr.take().unwrap();
    // Drain the log as it comes so the server never blocks on a full pipe.
    let log = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = stderr.read_to_end(&mut all);
        String::from_utf8_lossy(&all).into_owned()
    });
    let mut banner = String::new();
    while !banner.contains("http://") {
        banner.clear();
        assert!(stdout.read_line(&mut banner).unwrap() > 0, "the server printed no address");
    }
    let addr = banner.trim().rsplit("http://").next().unwrap().to_owned();
    let app = TestApp::attach(&addr);

    let ivy = app.register("ivy").await;
    let (secret, token, codes) = enable(&app, &ivy).await;
    let t = ticket(&app, "ivy").await;
    assert_error(&mfa_login(&app, &t, &wrong_code(&secret)).await, 400, 60008);
    let (status, body) = mfa_login(&app, &t, &codes[0]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let last = body["token"].as_str().unwrap().to_owned();
    // Refused tokens, in both header forms, and a gateway IDENTIFY.
    assert_error(&app.get("/users/@me", &format!("{last}x")).await, 401, 40001);
    assert_error(&app.get("/users/@me", &format!("Bot {last}")).await, 401, 40001);
    let mut gw = app.gateway("").await;
    let ready = gw.identify(&last, 0).await;
    assert_eq!(ready["user"]["id"], json!(ivy.id), "{ready}");
    gw.close().await;
    let (status, _) =
        app.patch("/users/@me", &last, json!({ "password": PASSWORD, "new_password": "another secret phrase" })).await;
    assert_eq!(status, StatusCode::OK);

    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "server exited with {status}");
    let log = log.join().unwrap();
    assert!(log.contains("listening"), "trace logging did not reach stderr: {log}");
    let mut secrets = vec![ivy.token.clone(), token, last, t, secret, PASSWORD.to_owned()];
    secrets.extend(codes);
    secrets.push("another secret phrase".into());
    for s in &secrets {
        // The random part of a token alone would be enough to use it.
        let needle = s.rsplit('.').next().unwrap();
        assert!(!log.contains(needle), "the log contains a secret ({needle}):\n{log}");
    }
}
