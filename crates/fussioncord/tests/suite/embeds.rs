//! Rich embeds (issue 17): sent with a message (`embeds`, or the deprecated
//! single `embed`), checked against Discord's limits with 50035 errors at
//! each field's path, rendered back exactly as sent plus `type: "rich"` in
//! the reply, MESSAGE_CREATE/MESSAGE_UPDATE and history, replaced by an
//! edit; `attachment://filename` URLs resolved to the message's own files.
//! Run on SQLite and PostgreSQL (`TEST_STORE=postgres`).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::attachments::{file, payload, png, send_form, until_no_files};
use crate::common::ws::ALL_INTENTS;
use crate::common::{assert_error, TestApp, TestUser};

async fn setup(app: &TestApp) -> (TestUser, String) {
    let owner = app.register("embedder").await;
    let (_, channel) = app.guild(&owner, "embeds").await;
    (owner, channel)
}

fn full_embed() -> Value {
    json!({
        "title": "Punch cards",
        "description": "A batch of **cards**",
        "url": "https://example.com/cards",
        "timestamp": "2024-03-01T12:30:00+00:00",
        "color": 16711680,
        "footer": {"text": "the footer", "icon_url": "https://example.com/f.png"},
        "image": {"url": "https://example.com/i.png"},
        "thumbnail": {"url": "https://example.com/t.png"},
        "author": {"name": "Ada", "url": "https://example.com/ada", "icon_url": "https://example.com/a.png"},
        "fields": [
            {"name": "one", "value": "1", "inline": true},
            {"name": "two", "value": "2", "inline": false},
        ],
    })
}

/// `e` as Discord renders it back: the same, plus `type: "rich"`.
fn rendered(mut e: Value) -> Value {
    e["type"] = json!("rich");
    e
}

#[tokio::test]
async fn embeds_come_back_exactly_in_the_reply_the_event_and_history() {
    let app = TestApp::spawn().await;
    let (owner, channel) = setup(&app).await;
    let mut gw = app.gateway("").await;
    gw.identify(&owner.token, ALL_INTENTS).await;
    let minimal = json!({"description": "only words"});
    let (status, msg) = app
        .post(
            &format!("/channels/{channel}/messages"),
            &owner.token,
            // Output-only fields and `type` are accepted and ignored.
            json!({"embeds": [full_embed(), {"description": "only words", "type": "rich", "video": {"url": "https://x.y/v"}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    let expected = json!([rendered(full_embed()), rendered(minimal.clone())]);
    assert_eq!(msg["embeds"], expected, "only embeds, no content: valid");
    assert_eq!(msg["content"], "");
    let event = gw.dispatch("MESSAGE_CREATE").await;
    assert_eq!(event["d"]["embeds"], expected);
    let id = msg["id"].as_str().unwrap();
    let (_, got) = app.get(&format!("/channels/{channel}/messages/{id}"), &owner.token).await;
    assert_eq!(got["embeds"], expected);
    let (_, history) = app.get(&format!("/channels/{channel}/messages"), &owner.token).await;
    assert_eq!(history[0]["embeds"], expected);

    // The deprecated single `embed`.
    let (status, msg) = app
        .post(&format!("/channels/{channel}/messages"), &owner.token, json!({"embed": {"title": "old style"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    assert_eq!(msg["embeds"], json!([{"type": "rich", "title": "old style"}]));

    // An edit replaces them; one that does not name them keeps them;
    // `[]` removes them (with content left, the message stays valid).
    let path = format!("/channels/{channel}/messages/{id}");
    let (status, edited) =
        app.patch(&path, &owner.token, json!({"content": "now words", "embeds": [{"title": "replaced"}]})).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["embeds"], json!([{"type": "rich", "title": "replaced"}]));
    let update = gw.dispatch("MESSAGE_UPDATE").await;
    assert_eq!(update["d"]["embeds"], edited["embeds"]);
    let (_, edited) = app.patch(&path, &owner.token, json!({"content": "still"})).await;
    assert_eq!(edited["embeds"], json!([{"type": "rich", "title": "replaced"}]));
    // SUPPRESS_EMBEDS is stored; rich embeds stay (Discord suppresses link
    // previews only).
    let (status, edited) = app.patch(&path, &owner.token, json!({"flags": 4})).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["flags"], 4);
    assert_eq!(edited["embeds"], json!([{"type": "rich", "title": "replaced"}]));
    let (_, edited) = app.patch(&path, &owner.token, json!({"embeds": []})).await;
    assert_eq!(edited["embeds"], json!([]));
    let (_, got) = app.get(&path, &owner.token).await;
    assert_eq!(got["embeds"], json!([]));
    assert_eq!(got["flags"], 4);
    // Removing the embeds of a message with nothing else is refused.
    let (_, only) =
        app.post(&format!("/channels/{channel}/messages"), &owner.token, json!({"embeds": [{"title": "t"}]})).await;
    let only_path = format!("/channels/{channel}/messages/{}", only["id"].as_str().unwrap());
    assert_error(&app.patch(&only_path, &owner.token, json!({"embeds": []})).await, 400, 50006);
    let (_, got) = app.get(&only_path, &owner.token).await;
    assert_eq!(got["embeds"], json!([{"type": "rich", "title": "t"}]));
}

/// Asserts a 50035 whose errors hold `code` at `path` (dotted).
fn assert_form_error(result: &(StatusCode, Value), path: &str, code: &str) {
    assert_error(result, 400, 50035);
    let mut node = &result.1["errors"];
    for part in path.split('.') {
        node = &node[part];
    }
    assert_eq!(node["_errors"][0]["code"], json!(code), "{path} in {}", result.1);
}

#[tokio::test]
async fn every_limit_is_refused_at_its_field_path_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let (owner, channel) = setup(&app).await;
    let post = format!("/channels/{channel}/messages");
    let long = |n: usize| "x".repeat(n);
    let field = |name: String, value: String| json!({"name": name, "value": value});
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"embeds": vec![json!({"title": "t"}); 11]}), "embeds", "BASE_TYPE_MAX_LENGTH"),
        (json!({"embeds": [{"title": long(257)}]}), "embeds.0.title", "BASE_TYPE_MAX_LENGTH"),
        (
            json!({"embeds": [{"title": "ok"}, {"description": long(4097)}]}),
            "embeds.1.description",
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            json!({"embeds": [{"fields": vec![field("n".into(), "v".into()); 26]}]}),
            "embeds.0.fields",
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            json!({"embeds": [{"fields": [field(long(257), "v".into())]}]}),
            "embeds.0.fields.0.name",
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            json!({"embeds": [{"fields": [field("a".into(), "b".into()), field("n".into(), long(1025))]}]}),
            "embeds.0.fields.1.value",
            "BASE_TYPE_MAX_LENGTH",
        ),
        (json!({"embeds": [{"fields": [{"name": "n"}]}]}), "embeds.0.fields.0.value", "BASE_TYPE_REQUIRED"),
        (json!({"embeds": [{"footer": {"text": long(2049)}}]}), "embeds.0.footer.text", "BASE_TYPE_MAX_LENGTH"),
        (json!({"embeds": [{"author": {"name": long(257)}}]}), "embeds.0.author.name", "BASE_TYPE_MAX_LENGTH"),
        (json!({"embeds": [{"title": "t", "url": "javascript:alert(1)"}]}), "embeds.0.url", "URL_TYPE_INVALID_URL"),
        (json!({"embeds": [{"title": "t", "timestamp": "yesterday"}]}), "embeds.0.timestamp", "DATE_TIME_TYPE_PARSE"),
        (json!({"embeds": [{"title": "t", "color": 16777216}]}), "embeds.0.color", "NUMBER_TYPE_MAX"),
        (json!({"embeds": [{}]}), "embeds.0", "EMBED_EMPTY"),
        (json!({"embeds": [{"color": 5, "url": "https://example.com"}]}), "embeds.0", "EMBED_EMPTY"),
        (json!({"embed": {"title": long(300)}}), "embeds.0.title", "BASE_TYPE_MAX_LENGTH"),
        // 6000 characters across all embeds, each part within its own limit.
        (
            json!({"embeds": [
                {"description": long(4096), "title": long(256)},
                {"description": long(1649)},
            ]}),
            "embeds",
            "MAX_EMBED_SIZE_EXCEEDED",
        ),
    ];
    for (body, path, code) in cases {
        assert_form_error(&app.post(&post, &owner.token, body.clone()).await, path, code);
    }
    let (_, history) = app.get(&post, &owner.token).await;
    assert_eq!(history, json!([]), "nothing was stored");

    // Exactly at every limit, and exactly 6000 in total, is accepted.
    let at_limits = json!({"embeds": [
        {"title": long(256), "description": long(4096)},
        {"footer": {"text": long(1000)}, "author": {"name": long(256)}, "fields": [field(long(256), long(136))]},
    ]});
    let (status, msg) = app.post(&post, &owner.token, at_limits.clone()).await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    assert_eq!(msg["embeds"][1]["fields"][0]["value"], json!(long(136)));
    let (status, msg) = app
        .post(
            &post,
            &owner.token,
            json!({"embeds": vec![json!({"fields": vec![field("n".into(), "v".into()); 25]}); 10]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{msg}");

    // Edits are checked alike and leave the message as it was.
    let path = format!("{post}/{}", msg["id"].as_str().unwrap());
    let refused = app.patch(&path, &owner.token, json!({"embeds": [{"title": long(257)}]})).await;
    assert_form_error(&refused, "embeds.0.title", "BASE_TYPE_MAX_LENGTH");
    let (_, got) = app.get(&path, &owner.token).await;
    assert_eq!(got["embeds"].as_array().unwrap().len(), 10);
    assert!(got["edited_timestamp"].is_null());
}

#[tokio::test]
async fn attachment_urls_resolve_to_the_messages_own_files() {
    let app = TestApp::spawn().await;
    let (owner, channel) = setup(&app).await;
    let mut gw = app.gateway("").await;
    gw.identify(&owner.token, ALL_INTENTS).await;
    let (status, msg) = send_form(
        &app,
        Method::POST,
        &format!("/channels/{channel}/messages"),
        &owner.token,
        &[
            payload(json!({"embeds": [{
                "title": "with a picture",
                "image": {"url": "attachment://chart.png"},
                "thumbnail": {"url": "attachment://missing.png"},
                "author": {"name": "me", "icon_url": "attachment://chart.png"},
                "footer": {"text": "f", "icon_url": "attachment://chart.png"},
            }]})),
            file("files[0]", "chart.png", "image/png", png(500)),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    let a = &msg["attachments"][0];
    let e = &msg["embeds"][0];
    let image = &e["image"];
    let url = a["url"].as_str().unwrap();
    assert!(url.contains("/chart.png?ex="), "{url}");
    assert_eq!(image["url"], a["url"]);
    assert_eq!(image["proxy_url"], a["proxy_url"]);
    assert_eq!((image["width"].clone(), image["height"].clone()), (json!(3), json!(2)));
    assert_eq!(e["author"]["icon_url"], a["url"]);
    assert_eq!(e["author"]["proxy_icon_url"], a["proxy_url"]);
    assert_eq!(e["footer"]["icon_url"], a["url"]);
    // A name that is not one of the message's files stays as sent.
    assert_eq!(e["thumbnail"], json!({"url": "attachment://missing.png"}));
    let res = app.client.get(image["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().to_vec(), png(500));

    let event = gw.dispatch("MESSAGE_CREATE").await;
    assert_eq!(event["d"]["embeds"][0]["image"]["width"], json!(3));
    assert!(event["d"]["embeds"][0]["image"]["url"].as_str().unwrap().contains("/chart.png?ex="));
    let (_, history) = app.get(&format!("/channels/{channel}/messages"), &owner.token).await;
    assert_eq!(history[0]["embeds"][0]["image"]["height"], json!(2));
    assert!(history[0]["embeds"][0]["image"]["url"].as_str().unwrap().contains("/chart.png?ex="));
}

#[tokio::test]
async fn a_refused_embed_keeps_no_file_of_its_multipart_body() {
    let app = TestApp::spawn().await;
    let (owner, channel) = setup(&app).await;
    let result = send_form(
        &app,
        Method::POST,
        &format!("/channels/{channel}/messages"),
        &owner.token,
        &[
            payload(json!({"embeds": [{"title": "x".repeat(257), "image": {"url": "attachment://a.png"}}]})),
            file("files[0]", "a.png", "image/png", png(300)),
        ],
    )
    .await;
    assert_form_error(&result, "embeds.0.title", "BASE_TYPE_MAX_LENGTH");
    until_no_files(&app).await;
    let (_, history) = app.get(&format!("/channels/{channel}/messages"), &owner.token).await;
    assert_eq!(history, json!([]));
}
