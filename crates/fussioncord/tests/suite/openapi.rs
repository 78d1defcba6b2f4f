//! The server describes itself: an OpenAPI 3.1 document at
//! `/api/openapi.json` and Swagger UI over it at `/api/docs`, both served
//! from the binary without a token.
//!
//! The document is checked by a real validator (`openapi-spec-validator`
//! from PyPI, installed by `scripts/bot-libs.sh`), against the routes
//! `crates/api/src/routes/mod.rs` mounts in both directions (so a route
//! added without documentation fails here), against the running router, and
//! against Discord's own document for the operation ids we borrow from it.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use common::{mounted_routes, TestApp};

/// `http://host:port/api`.
fn api_root(app: &TestApp) -> String {
    app.base.trim_end_matches("/v10").to_owned()
}

async fn fetch_document(app: &TestApp) -> Value {
    // `call` also insists on `Content-Type: application/json` exactly.
    let (status, doc) = app.call(Method::GET, &format!("{}/openapi.json", api_root(app)), None, None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    doc
}

/// (method, path) → operation object, for every operation in a document.
fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("document has paths") {
        for (method, op) in item.as_object().expect("path item is an object") {
            if ["get", "post", "put", "patch", "delete", "head", "options", "trace"].contains(&method.as_str()) {
                out.insert((method.to_uppercase(), path.clone()), op.clone());
            }
        }
    }
    out
}

/// The Python that `scripts/bot-libs.sh` sets up (`FUSSIONCORD_PYTHON`
/// overrides it).
fn python() -> String {
    std::env::var("FUSSIONCORD_PYTHON").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/fussioncord/venv/bin/python")
    })
}

/// Runs `openapi-spec-validator`'s OpenAPI 3.1 validator over `doc`;
/// `Err` carries its complaint.
fn validate_openapi_3_1(doc: &Value) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let script = "import json, sys\n\
        from openapi_spec_validator import OpenAPIV31SpecValidator, validate\n\
        validate(json.load(open(sys.argv[1])), cls=OpenAPIV31SpecValidator)\n";
    let out = Command::new(python())
        .args(["-c", script])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("run {} (scripts/bot-libs.sh installs it): {e}", python()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "openapi-spec-validator is missing; run scripts/bot-libs.sh: {stderr}"
    );
    if out.status.success() {
        Ok(())
    } else {
        Err(stderr.into_owned())
    }
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1() {
    let app = TestApp::spawn().await;
    let doc = fetch_document(&app).await;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")), "version: {}", doc["openapi"]);
    assert_eq!(doc["servers"][0]["url"], "/api/v10");
    if let Err(complaint) = validate_openapi_3_1(&doc) {
        panic!("/api/openapi.json is not valid OpenAPI 3.1:\n{complaint}");
    }

    // The validator does reject a broken document: a dangling reference, a
    // parameter in a place OpenAPI 3 has not.
    let mut broken = doc.clone();
    broken["paths"]["/users/@me"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] =
        "#/components/schemas/Nowhere".into();
    assert!(validate_openapi_3_1(&broken).is_err(), "a dangling $ref passed the validator");
    let mut broken = doc;
    broken["paths"]["/users/{user_id}"]["get"]["parameters"][0]["in"] = "body".into();
    assert!(validate_openapi_3_1(&broken).is_err(), "a parameter `in: body` passed the validator");
}

#[tokio::test]
async fn the_document_lists_exactly_the_mounted_routes() {
    let app = TestApp::spawn().await;
    let doc = fetch_document(&app).await;
    let documented: BTreeSet<(String, String)> = operations(&doc).into_keys().collect();
    let mounted = mounted_routes();
    let undocumented: Vec<_> = mounted.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&mounted).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "the router in crates/api/src/routes/mod.rs and the handlers' #[utoipa::path] annotations disagree:\n\
         mounted but not documented: {undocumented:?}\n\
         documented but not mounted: {unrouted:?}"
    );
}

#[tokio::test]
async fn every_operation_is_described_and_its_parameters_match_its_path() {
    let app = TestApp::spawn().await;
    let doc = fetch_document(&app).await;
    let tags: BTreeSet<&str> = doc["tags"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    let mut ids = BTreeSet::new();
    for ((method, path), op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
        assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{method} {path} has no summary");
        let tag = op["tags"][0].as_str().unwrap_or_else(|| panic!("{method} {path} has no tag"));
        assert!(tags.contains(tag), "{method} {path}: tag {tag} is not declared");
        for status in ["429", "4XX"] {
            assert!(op["responses"][status].is_object(), "{method} {path} does not document {status}");
        }
        // One success, or (executing a webhook) a body with `wait` and 204
        // without, as Discord documents it; or (creating an application
        // command, which overwrites one of the same name) 201 for a new
        // command and 200 for an overwritten one, also as Discord documents it.
        let success: Vec<(&String, &Value)> =
            op["responses"].as_object().unwrap().iter().filter(|(k, _)| k.starts_with('2')).collect();
        let bodies = success.iter().filter(|(_, r)| r.get("content").is_some()).count();
        let codes: Vec<&str> = success.iter().map(|(k, _)| k.as_str()).collect();
        let upsert = method == "POST" && path.ends_with("/commands") && codes == ["200", "201"];
        assert!(!success.is_empty() && (bodies <= 1 || upsert), "{method} {path}: success responses {success:?}");

        let in_path: BTreeSet<&str> = path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect();
        let params: Vec<&Value> = op["parameters"].as_array().map(|p| p.iter().collect()).unwrap_or_default();
        let declared: BTreeSet<&str> =
            params.iter().filter(|p| p["in"] == "path").filter_map(|p| p["name"].as_str()).collect();
        assert_eq!(declared, in_path, "{method} {path}: path parameters");
        for p in params.iter().filter(|p| p["in"] == "path" && p["name"].as_str().is_some_and(|n| n.ends_with("_id"))) {
            assert_eq!(p["schema"]["$ref"], "#/components/schemas/Snowflake", "{method} {path}: {p}");
        }
    }
    let snowflake = &doc["components"]["schemas"]["Snowflake"];
    assert_eq!(snowflake["type"], "string", "ids are strings: {snowflake}");

    // Routes that need no token say so; the others name the token scheme.
    let public: BTreeSet<(String, String)> =
        operations(&doc).into_iter().filter(|(_, op)| op.get("security").is_none()).map(|(k, _)| k).collect();
    let expected: BTreeSet<(String, String)> = [
        ("POST", "/auth/register"),
        ("POST", "/auth/login"),
        ("POST", "/auth/mfa/totp"),
        ("GET", "/gateway"),
        ("GET", "/invites/{code}"),
        // A webhook's or an interaction's token is in its path.
        ("POST", "/interactions/{interaction_id}/{interaction_token}/callback"),
        ("GET", "/webhooks/{webhook_id}/{webhook_token}"),
        ("PATCH", "/webhooks/{webhook_id}/{webhook_token}"),
        ("DELETE", "/webhooks/{webhook_id}/{webhook_token}"),
        ("POST", "/webhooks/{webhook_id}/{webhook_token}"),
        ("POST", "/webhooks/{webhook_id}/{webhook_token}/github"),
        ("POST", "/webhooks/{webhook_id}/{webhook_token}/slack"),
        ("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"),
        ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"),
        ("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .collect();
    assert_eq!(public, expected, "operations without security");
    let scheme = &doc["components"]["securitySchemes"]["Token"];
    assert_eq!(
        (&scheme["type"], &scheme["in"], &scheme["name"]),
        (&"apiKey".into(), &"header".into(), &"Authorization".into())
    );
}

/// Every documented operation reaches a handler under the documented
/// server URL: without a token it meets authentication (401) or the
/// handler's own answer, never the router's 404 or 405.
#[tokio::test]
async fn the_router_serves_every_documented_operation() {
    let app = TestApp::spawn().await;
    let doc = fetch_document(&app).await;
    let root = app.base.trim_end_matches("/api/v10");
    let server = doc["servers"][0]["url"].as_str().unwrap();
    for ((method, path), op) in operations(&doc) {
        let concrete: String = path
            .split('/')
            .map(|s| match s {
                "{code}" => "nosuchinvite",
                "{emoji}" => "%F0%9F%91%8D",
                "{user}" => "@me",
                s if s.starts_with('{') => "1",
                s => s,
            })
            .collect::<Vec<_>>()
            .join("/");
        let body = op.get("requestBody").map(|_| serde_json::json!({}));
        let (status, answer) =
            app.call(method.parse().unwrap(), &format!("{root}{server}{concrete}"), None, body).await;
        let routing_failure =
            (status == StatusCode::NOT_FOUND && answer["code"] == 0) || status == StatusCode::METHOD_NOT_ALLOWED;
        assert!(!routing_failure, "{method} {server}{concrete}: the router does not serve it ({status} {answer})");
        if op.get("security").is_some() {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {concrete} without a token: {answer}");
        }
    }
}

fn discord_spec() -> Value {
    let path = match std::env::var_os("DISCORD_OPENAPI") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/discord-api-spec/openapi.json"),
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("Discord's OpenAPI document is required at {} (or DISCORD_OPENAPI): {e}", path.display())
    });
    serde_json::from_str(&text).unwrap()
}

/// An operation id borrowed from Discord names the same operation there:
/// same method, same path (our parameters may stand for Discord's `@me`).
#[tokio::test]
async fn operation_ids_borrowed_from_discord_name_the_same_operations() {
    let app = TestApp::spawn().await;
    let doc = fetch_document(&app).await;
    let discord: BTreeMap<String, (String, String)> = operations(&discord_spec())
        .into_iter()
        .filter_map(|(key, op)| Some((op["operationId"].as_str()?.to_owned(), key)))
        .collect();
    let param = |s: &str| s.starts_with('{') && s.ends_with('}');
    let mut borrowed = 0;
    for ((method, path), op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap();
        let Some((their_method, their_path)) = discord.get(id) else { continue };
        borrowed += 1;
        let (ours, theirs): (Vec<_>, Vec<_>) = (path.split('/').collect(), their_path.split('/').collect());
        let same_path = ours.len() == theirs.len()
            && ours.iter().zip(&theirs).all(|(a, b)| a == b || (param(a) && (param(b) || *b == "@me")));
        assert!(
            *their_method == method && same_path,
            "{id}: ours is {method} {path}, Discord's is {their_method} {their_path}"
        );
    }
    assert!(borrowed > 50, "only {borrowed} operation ids are Discord's");
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let root = api_root(&app);
    // `/api/docs` leads to the page (its files load relative to `/api/docs/`).
    for url in [format!("{root}/docs"), format!("{root}/docs/")] {
        let res = app.client.get(&url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{url}");
        assert_eq!(res.url().path(), "/api/docs/", "{url} ends up at the page");
        let ctype = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ctype.starts_with("text/html"), "{url}: {ctype}");
    }
    let html = app.client.get(format!("{root}/docs/")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("swagger-ui"), "not Swagger UI: {html}");

    // Every script and stylesheet the page names loads from us.
    let assets: Vec<&str> = ["src=\"", "href=\""]
        .iter()
        .flat_map(|attr| html.split(attr).skip(1).filter_map(|rest| rest.split('"').next()))
        .collect();
    for kind in [".js", ".css"] {
        assert!(assets.iter().any(|a| a.ends_with(kind)), "no {kind} file in the page: {assets:?}");
    }
    let mut initializer = String::new();
    for asset in &assets {
        assert!(
            !asset.contains("://") && !asset.starts_with("//"),
            "remote asset {asset}: Swagger UI must be vendored"
        );
        let url = format!("{root}/docs/{}", asset.trim_start_matches("./"));
        let res = app.client.get(&url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{url}");
        let body = res.text().await.unwrap();
        assert!(!body.is_empty(), "{url} is empty");
        if asset.ends_with("swagger-initializer.js") {
            initializer = body;
        }
    }
    // The page's configuration points at our document and at nothing remote.
    assert!(initializer.contains("\"/api/openapi.json\""), "the page does not load /api/openapi.json: {initializer}");
    for text in [&html, &initializer] {
        assert!(!text.contains("http://") && !text.contains("https://"), "a remote URL in: {text}");
    }

    // Beside it, the API's JSON 404 and authentication behave as before.
    let (status, body) = app.call(Method::GET, &format!("{root}/docs/nothing-here.js"), None, None).await;
    assert_eq!((status, &body["code"]), (StatusCode::NOT_FOUND, &0.into()), "{body}");
    let (status, body) = app.call(Method::GET, &format!("{root}/docsy"), None, None).await;
    assert_eq!((status, &body["code"]), (StatusCode::NOT_FOUND, &0.into()), "{body}");
    let (status, body) = app.call(Method::GET, "/users/@me", None, None).await;
    assert_eq!((status, &body["code"]), (StatusCode::UNAUTHORIZED, &40001.into()), "{body}");
    let (status, _) = app.call(Method::POST, &format!("{root}/openapi.json"), None, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}
