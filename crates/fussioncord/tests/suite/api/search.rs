//! Message search: what it finds (words, authors, mentions, links,
//! channels, id bounds, pages), that edits and deletes reach the index at
//! once, that nobody finds what they may not read, DM search, hostile query
//! text, and messages stored before the index existed.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{assert_error, backend, TestApp, TestUser};

const READ_MESSAGE_HISTORY: u64 = 1 << 16;
const VIEW_CHANNEL: u64 = 1 << 10;

async fn search(app: &TestApp, user: &TestUser, path: &str) -> Value {
    let (status, body) = app.get(path, &user.token).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

async fn in_guild(app: &TestApp, user: &TestUser, guild: &str, query: String) -> Value {
    search(app, user, &format!("/guilds/{guild}/messages/search?{query}")).await
}

/// The contents of the hits, in order, after checking the answer's shape.
fn contents(body: &Value) -> Vec<String> {
    assert!(body["total_results"].is_u64(), "{body}");
    assert!(body["analytics_id"].is_string(), "{body}");
    assert_eq!(body["doing_deep_historical_index"], false);
    body["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no messages in {body}"))
        .iter()
        .map(|hit| {
            let hit = hit.as_array().unwrap_or_else(|| panic!("a hit is a list: {hit}"));
            assert_eq!(hit.len(), 1, "{hit:?}");
            assert_eq!(hit[0]["hit"], true, "{hit:?}");
            hit[0]["content"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn total(body: &Value) -> u64 {
    body["total_results"].as_u64().unwrap_or_else(|| panic!("no total in {body}"))
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_owned()
}

async fn channel(app: &TestApp, owner: &TestUser, guild: &str, name: &str) -> String {
    let (status, body) = app.post(&format!("/guilds/{guild}/channels"), &owner.token, json!({ "name": name })).await;
    assert!(status.is_success(), "{body}");
    id(&body)
}

/// Denies `deny` to @everyone in `channel`.
async fn deny_everyone(app: &TestApp, owner: &TestUser, guild: &str, channel: &str, deny: u64) {
    let (status, body) = app
        .call(
            reqwest::Method::PUT,
            &format!("/channels/{channel}/permissions/{guild}"),
            Some(&owner.token),
            Some(json!({ "type": 0, "allow": "0", "deny": deny.to_string() })),
        )
        .await;
    assert!(status.is_success(), "{body}");
}

#[tokio::test]
async fn finds_words_authors_mentions_links_and_channels() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (guild, general) = app.guild(&alice, "Search").await;
    let g = id(&guild);
    app.join(&alice, &general, &bob).await;
    let random = channel(&app, &alice, &g, "random").await;

    app.send(&alice, &general, "Hello World from alice").await;
    app.send(&bob, &general, &format!("hello there <@{}>", alice.id)).await;
    app.send(&alice, &random, "see https://example.com/page for details").await;
    app.send(&bob, &random, "HELLO again").await;
    app.send(&alice, &general, "helloworld is one word").await;
    app.send(&bob, &general, "Grüße und Привет, 你好").await;

    let (a, b, gg) = (&app, &bob, g.as_str());
    let s = move |q: String| in_guild(a, b, gg, q);
    // Whole words, any case, newest first; every word must occur.
    let hello = s("content=hello".into()).await;
    assert_eq!(contents(&hello), ["HELLO again", &format!("hello there <@{}>", alice.id), "Hello World from alice"]);
    assert_eq!(total(&hello), 3);
    assert_eq!(contents(&s("content=hello%20WORLD".into()).await), ["Hello World from alice"]);
    assert_eq!(contents(&s("content=hel".into()).await), Vec::<String>::new());
    assert_eq!(contents(&s("content=grüße".into()).await), ["Grüße und Привет, 你好"]);
    assert_eq!(contents(&s("content=%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82".into()).await), ["Grüße und Привет, 你好"]);
    // Authors, one or several.
    assert_eq!(total(&s(format!("author_id={}", bob.id)).await), 3);
    assert_eq!(total(&s(format!("author_id={}&author_id={}", bob.id, alice.id)).await), 6);
    assert_eq!(contents(&s(format!("author_id={}&content=hello", alice.id)).await), ["Hello World from alice"]);
    assert_eq!(total(&s("author_type=user".into()).await), 6);
    assert_eq!(total(&s("author_type=bot".into()).await), 0);
    // Mentions.
    assert_eq!(contents(&s(format!("mentions={}", alice.id)).await), [format!("hello there <@{}>", alice.id)]);
    assert_eq!(total(&s(format!("mentions={}", bob.id)).await), 0);
    // Links; nothing we store has an embed or a file.
    assert_eq!(contents(&s("has=link".into()).await), ["see https://example.com/page for details"]);
    assert_eq!(total(&s("has=-link".into()).await), 5);
    assert_eq!(total(&s("has=embed".into()).await), 0);
    assert_eq!(total(&s("has=file".into()).await), 0);
    assert_eq!(total(&s("has=-file&content=hello".into()).await), 3);
    let (status, body) = app.get(&format!("/guilds/{g}/messages/search?has=gif"), &bob.token).await;
    assert_error(&(status, body.clone()), 400, 50035);
    assert!(body["errors"]["has"]["_errors"].is_array(), "{body}");
    // Channels, one or several.
    assert_eq!(contents(&s(format!("channel_id={random}")).await).len(), 2);
    assert_eq!(contents(&s(format!("channel_id={random}&content=hello")).await), ["HELLO again"]);
    assert_eq!(total(&s(format!("channel_id={random}&channel_id={general}")).await), 6);

    // Each hit is the message exactly as the messages routes show it.
    for hit in hello["messages"].as_array().unwrap() {
        let mut hit = hit[0].clone();
        let path = format!("/channels/{}/messages/{}", hit["channel_id"].as_str().unwrap(), id(&hit));
        let (_, shown) = app.get(&path, &bob.token).await;
        hit.as_object_mut().unwrap().remove("hit");
        assert_eq!(hit, shown);
    }
}

#[tokio::test]
async fn pages_bounds_and_order() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let (guild, ch) = app.guild(&alice, "Pages").await;
    let g = id(&guild);
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(id(&app.send(&alice, &ch, &format!("note {i}")).await));
    }
    app.send(&alice, &ch, "unrelated").await;
    let (a, b, gg) = (&app, &alice, g.as_str());
    let s = move |q: String| in_guild(a, b, gg, format!("content=note&{q}"));
    let names = |from: std::ops::Range<usize>| from.rev().map(|i| format!("note {i}")).collect::<Vec<_>>();

    let first = s(String::new()).await;
    assert_eq!((total(&first), contents(&first)), (30, names(5..30)));
    let last = s("limit=10&offset=25".into()).await;
    assert_eq!((total(&last), contents(&last)), (30, names(0..5)));
    assert_eq!(contents(&s("limit=3&offset=3".into()).await), names(24..27));
    let oldest = s("limit=2&sort_order=asc".into()).await;
    assert_eq!(contents(&oldest), ["note 0", "note 1"]);
    assert_eq!(total(&s("offset=9975".into()).await), 30);

    // Discord's min_id/max_id, and before/after for them; both bounds exclusive.
    for (below, above) in [("max_id", "min_id"), ("before", "after")] {
        let page = s(format!("{below}={}&{above}={}", ids[10], ids[5])).await;
        assert_eq!((total(&page), contents(&page)), (4, names(6..10)));
    }
    assert_eq!(total(&s(format!("before={}", ids[3])).await), 3);
    assert_eq!(total(&s(format!("min_id={}", ids[27])).await), 2);

    for (bad, field) in [
        ("limit=0", "limit"),
        ("limit=26", "limit"),
        ("limit=x", "limit"),
        ("offset=9976", "offset"),
        ("offset=-1", "offset"),
        ("max_id=abc", "max_id"),
        ("min_id=-5", "min_id"),
        ("before=1.5", "before"),
        ("author_id=0", "author_id"),
        ("channel_id=x", "channel_id"),
        ("mentions=99999999999999999999", "mentions"),
        ("sort_order=sideways", "sort_order"),
        ("sort_by=magic", "sort_by"),
        ("author_type=robot", "author_type"),
        ("pinned=maybe", "pinned"),
    ] {
        let path = format!("/guilds/{g}/messages/search?{bad}");
        let (status, body) = app.get(&path, &alice.token).await;
        assert_error(&(status, body.clone()), 400, 50035);
        assert!(body["errors"][field]["_errors"].is_array(), "{path}: {body}");
    }
    let too_many: String = (1..=101).map(|i| format!("author_id={i}&")).collect();
    let (status, body) = app.get(&format!("/guilds/{g}/messages/search?{too_many}"), &alice.token).await;
    assert_error(&(status, body.clone()), 400, 50035);
    assert_eq!(body["errors"]["author_id"]["_errors"].as_array().unwrap().len(), 1, "{body}");
}

#[tokio::test]
async fn edits_and_deletes_reach_the_index_at_once() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let (guild, ch) = app.guild(&alice, "Changes").await;
    let g = id(&guild);
    let (a, b, gg) = (&app, &alice, g.as_str());
    let count = move |q: &'static str| async move { total(&in_guild(a, b, gg, format!("content={q}")).await) };

    let m = id(&app.send(&alice, &ch, "original wording").await);
    app.patch(&format!("/channels/{ch}/messages/{m}"), &alice.token, json!({ "content": "revised text" })).await;
    assert_eq!(count("original").await, 0, "the old text is gone from the index");
    let found = search(&app, &alice, &format!("/guilds/{g}/messages/search?content=revised")).await;
    assert_eq!(contents(&found), ["revised text"]);
    assert!(found["messages"][0][0]["edited_timestamp"].is_string());

    app.delete(&format!("/channels/{ch}/messages/{m}"), &alice.token).await;
    assert_eq!(count("revised").await, 0);

    let a = id(&app.send(&alice, &ch, "doomed one").await);
    let b = id(&app.send(&alice, &ch, "doomed two").await);
    app.send(&alice, &ch, "doomed three").await;
    let (status, body) =
        app.post(&format!("/channels/{ch}/messages/bulk-delete"), &alice.token, json!({ "messages": [a, b] })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(count("doomed").await, 1);

    let other = channel(&app, &alice, &g, "other").await;
    app.send(&alice, &other, "doomed four").await;
    assert_eq!(count("doomed").await, 2);
    app.delete(&format!("/channels/{other}"), &alice.token).await;
    assert_eq!(count("doomed").await, 1);
}

#[tokio::test]
async fn nobody_finds_what_they_may_not_read() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let (guild, general) = app.guild(&alice, "Secrets").await;
    let g = id(&guild);
    app.join(&alice, &general, &bob).await;
    let secret = channel(&app, &alice, &g, "secret").await;
    let no_history = channel(&app, &alice, &g, "no-history").await;
    deny_everyone(&app, &alice, &g, &secret, VIEW_CHANNEL).await;
    deny_everyone(&app, &alice, &g, &no_history, READ_MESSAGE_HISTORY).await;
    for ch in [&general, &secret, &no_history] {
        app.send(&alice, ch, "treasure map").await;
    }

    let path = format!("/guilds/{g}/messages/search?content=treasure");
    // The owner reads everything; bob only the general channel.
    assert_eq!(total(&search(&app, &alice, &path).await), 3);
    let found = search(&app, &bob, &path).await;
    assert_eq!(total(&found), 1);
    assert_eq!(found["messages"][0][0]["channel_id"], json!(general));
    assert_eq!(total(&search(&app, &bob, &format!("/guilds/{g}/messages/search")).await), 1);
    // Naming a channel one may not read is Missing Access, as on Discord.
    for ch in [&secret, &no_history] {
        assert_error(&app.get(&format!("{path}&channel_id={ch}"), &bob.token).await, 403, 50001);
        assert_error(&app.get(&format!("{path}&channel_id={general}&channel_id={ch}"), &bob.token).await, 403, 50001);
        assert_error(
            &app.get(&format!("/channels/{ch}/messages/search?content=treasure"), &bob.token).await,
            403,
            50001,
        );
    }
    // A channel of no guild of ours, or none at all.
    let (_, elsewhere) = app.guild(&carol, "Elsewhere").await;
    assert_error(&app.get(&format!("{path}&channel_id={elsewhere}"), &alice.token).await, 404, 10003);
    // Outsiders see nothing of the guild.
    assert_error(&app.get(&path, &carol.token).await, 403, 50001);
    assert_error(&app.get("/guilds/4242424242424242/messages/search", &carol.token).await, 404, 10004);
    assert_error(&app.get(&format!("/channels/{general}/messages/search"), &carol.token).await, 403, 50001);

    // Once allowed, bob finds it; NSFW channels only when asked for.
    let (status, body) = app
        .call(
            reqwest::Method::PUT,
            &format!("/channels/{secret}/permissions/{}", bob.id),
            Some(&alice.token),
            Some(json!({ "type": 1, "allow": (VIEW_CHANNEL | READ_MESSAGE_HISTORY).to_string(), "deny": "0" })),
        )
        .await;
    assert!(status.is_success(), "{body}");
    assert_eq!(total(&search(&app, &bob, &path).await), 2);
    let (status, body) = app.patch(&format!("/channels/{secret}"), &alice.token, json!({ "nsfw": true })).await;
    assert!(status.is_success(), "{body}");
    assert_eq!(total(&search(&app, &bob, &path).await), 1);
    assert_eq!(total(&search(&app, &bob, &format!("{path}&include_nsfw=true")).await), 2);
}

#[tokio::test]
async fn dms_are_searched_by_their_recipients_only() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    app.befriend(&alice, &bob).await;
    let (status, dm) = app.post("/users/@me/channels", &alice.token, json!({ "recipient_id": bob.id })).await;
    assert_eq!(status, StatusCode::OK, "{dm}");
    let dm = id(&dm);
    app.send(&alice, &dm, "our little secret").await;
    app.send(&bob, &dm, "secret kept").await;
    app.send(&bob, &dm, "something else").await;

    let path = format!("/channels/{dm}/messages/search?content=secret");
    for reader in [&alice, &bob] {
        let found = search(&app, reader, &path).await;
        assert_eq!(contents(&found), ["secret kept", "our little secret"]);
    }
    assert_eq!(contents(&search(&app, &alice, &format!("{path}&author_id={}", alice.id)).await), ["our little secret"]);
    assert_error(&app.get(&path, &carol.token).await, 403, 50001);
    assert_error(&app.get("/channels/4242424242424242/messages/search", &alice.token).await, 404, 10003);

    // Guild search never reaches into DMs.
    let (guild, ch) = app.guild(&alice, "Public").await;
    app.send(&alice, &ch, "no secret here").await;
    let found = search(&app, &alice, &format!("/guilds/{}/messages/search?content=secret", id(&guild))).await;
    assert_eq!(contents(&found), ["no secret here"]);
    // The channel route serves guild channels too.
    assert_eq!(
        contents(&search(&app, &alice, &format!("/channels/{ch}/messages/search?content=secret")).await).len(),
        1
    );

    // Bots search guilds (Discord documents that for them) but not by channel.
    let bot = app.bot(&alice, "Finder", true).await;
    app.add_bot(&alice, &bot, &id(&guild)).await;
    let found = search(&app, &bot, &format!("/guilds/{}/messages/search?content=secret", id(&guild))).await;
    assert_eq!(total(&found), 1);
    assert_error(&app.get(&format!("/channels/{ch}/messages/search"), &bot.token).await, 403, 20001);
}

#[tokio::test]
async fn hostile_query_text_is_only_text() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let (guild, ch) = app.guild(&alice, "Hostile").await;
    let g = id(&guild);
    app.send(&alice, &ch, "hello there").await;
    app.send(&alice, &ch, r#"NEAR(x y) "quoted" AND OR NOT col:umn"#).await;
    app.send(&alice, &ch, "'; DROP TABLE messages; --").await;

    let long_word = "a".repeat(1024);
    let long_wide = "𝔘".repeat(1024);
    let hostile: Vec<&str> = vec![
        "\"",
        "\"\"",
        "\"hello",
        "hello\"",
        "*",
        "hello*",
        "*hello",
        "NEAR(",
        "NEAR(hello there)",
        "NEAR(a b, 2)",
        "AND",
        "OR",
        "NOT",
        "hello AND",
        "AND hello",
        "hello OR there",
        "NOT hello",
        "-",
        "-hello",
        "--",
        "(",
        ")",
        "((hello)",
        "{hello there}",
        "^hello",
        "hello:",
        "content:hello",
        "col:umn",
        "+",
        "'",
        "''",
        "%",
        "_",
        "%_%",
        "\\",
        "\\\"",
        "\0",
        "hello\0there",
        "\u{202e}olleh",
        "e\u{301}",
        "\u{301}",
        "🦀",
        "🦀 hello",
        "你好",
        "'; DROP TABLE messages; --",
        "$1",
        "?",
        ":name",
        "@everyone",
        "<@1>",
        "[",
        "]",
        "!",
        "&",
        "|",
        "~",
        &long_word,
        &long_wide,
        "   ",
        "\t\n",
    ];
    for text in &hostile {
        let q: String = form_urlencoded(text);
        let path = format!("/guilds/{g}/messages/search?content={q}");
        let (status, body) = app.get(&path, &alice.token).await;
        assert_eq!(status, StatusCode::OK, "{text:?}: {body}");
        contents(&body);
        let (status, body) = app.get(&format!("/channels/{ch}/messages/search?content={q}"), &alice.token).await;
        assert_eq!(status, StatusCode::OK, "{text:?} in a channel: {body}");
    }
    // Syntax is read as the words in it.
    let (a, b, gg) = (&app, &alice, g.as_str());
    let found = move |text: &'static str| async move {
        contents(&in_guild(a, b, gg, format!("content={}", form_urlencoded(text))).await)
    };
    assert_eq!(found("\"hello").await, ["hello there"]);
    assert_eq!(found("hello*").await, ["hello there"]);
    assert_eq!(found("NEAR(x").await, [r#"NEAR(x y) "quoted" AND OR NOT col:umn"#]);
    assert_eq!(found("\"quoted\" AND").await, [r#"NEAR(x y) "quoted" AND OR NOT col:umn"#]);
    assert_eq!(found("DROP TABLE").await, ["'; DROP TABLE messages; --"]);
    assert_eq!(found("hello OR nothing").await, Vec::<String>::new(), "OR is a word that must occur");
    // Too long is a form error; the messages are all still there.
    let (status, body) = app.get(&format!("/guilds/{g}/messages/search?content={}a", long_word), &alice.token).await;
    assert_error(&(status, body.clone()), 400, 50035);
    assert!(body["errors"]["content"]["_errors"].is_array(), "{body}");
    let (_, history) = app.get(&format!("/channels/{ch}/messages"), &alice.token).await;
    assert_eq!(history.as_array().unwrap().len(), 3);
}

fn form_urlencoded(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// Messages stored before the index existed are found once the migration
/// that creates it has run: the database is put back to how it was before
/// migration 0006 (with messages sent since), then the server restarts.
#[tokio::test]
async fn the_migration_indexes_messages_already_stored() {
    let mut app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let (guild, ch) = app.guild(&alice, "Old").await;
    let g = id(&guild);
    app.send(&alice, &ch, "ancient history").await;

    let undo: &[&str] = if backend() == "postgres" {
        &["ALTER TABLE messages DROP COLUMN search", "DELETE FROM _sqlx_migrations WHERE version = 6"]
    } else {
        &[
            "DROP TRIGGER message_search_insert",
            "DROP TRIGGER message_search_update",
            "DROP TRIGGER message_search_delete",
            "DROP TABLE message_search",
            "DELETE FROM _sqlx_migrations WHERE version = 6",
        ]
    };
    {
        use sqlx::Connection;
        let url = match &app.config.database.url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", app.config.data_dir.join("fussioncord.db").display()),
        };
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&url).await.expect("connect to the test database");
        for sql in undo {
            sqlx::query(sql).execute(&mut conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        conn.close().await.unwrap();
    }
    // Neither indexed nor searchable: nothing keeps the index now.
    app.send(&alice, &ch, "history written while unindexed").await;
    app.restart().await;

    let found = search(&app, &alice, &format!("/guilds/{g}/messages/search?content=history")).await;
    assert_eq!(contents(&found), ["history written while unindexed", "ancient history"]);
    app.send(&alice, &ch, "fresh history").await;
    assert_eq!(total(&search(&app, &alice, &format!("/guilds/{g}/messages/search?content=history")).await), 3);
}

/// The words of links, paths and e-mail addresses are found alike on both
/// stores. PostgreSQL's parser kept `https://example.com/some-page` as a
/// URL, a host and a path, so `example` or `page` found nothing there while
/// SQLite's tokenizer found them.
#[tokio::test]
async fn words_inside_links_are_found_on_both_stores() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let (guild, ch) = app.guild(&alice, "Links").await;
    let g = guild["id"].as_str().unwrap().to_owned();
    let text = "see https://docs.example.com/some-page?topic=limits#part2 or write to ops@example.org";
    app.send(&alice, &ch, text).await;
    app.send(&alice, &ch, "nothing to see").await;
    for word in ["docs", "example", "some", "page", "topic", "limits", "part2", "ops", "org", "https", "PAGE"] {
        let found = contents(&in_guild(&app, &alice, &g, format!("content={word}")).await);
        assert_eq!(found, [text], "{word} on {}", backend());
    }
    // The link itself, or a piece of it, finds it as the words in it.
    for query in ["docs.example.com", "example.com/some-page", "ops@example.org"] {
        let found = contents(&in_guild(&app, &alice, &g, format!("content={}", form_urlencoded(query))).await);
        assert_eq!(found, [text], "{query} on {}", backend());
    }
}
