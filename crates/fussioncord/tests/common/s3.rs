//! The S3-protocol server that media tests run against when
//! `TEST_MEDIA=s3`: moto's server (scripts/s3-server.sh) at
//! `TEST_S3_ENDPOINT` (default `http://127.0.0.1:5055`), started here if
//! nothing answers there, and spoken to over its own S3 API: one fresh
//! bucket per test, and what a bucket holds — its objects and the
//! multipart uploads still in progress — read back to check that nothing
//! was left behind.
//!
//! Shared by the server's integration tests and the media crate's own
//! (`crates/media/tests/store.rs` includes this file).

#![allow(dead_code)] // each test binary uses part of it

use std::path::Path;
use std::sync::Mutex;

/// `TEST_MEDIA`: where the media store keeps files, `local` (a directory,
/// the default) or `s3`.
pub fn media_backend() -> String {
    let backend = std::env::var("TEST_MEDIA").unwrap_or_else(|_| "local".into());
    assert!(matches!(backend.as_str(), "local" | "s3"), "TEST_MEDIA must be local or s3, not {backend:?}");
    backend
}

pub fn endpoint() -> String {
    std::env::var("TEST_S3_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:5055".into())
        .trim_end_matches('/')
        .to_owned()
}

/// Makes sure the S3 server answers, starting it (scripts/s3-server.sh)
/// if nothing listens at the endpoint; fails the test if it cannot.
fn ensure_running() {
    static CHECKED: Mutex<bool> = Mutex::new(false);
    let mut checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
    if *checked {
        return;
    }
    let endpoint = endpoint();
    let host_port = endpoint.split_once("://").map_or(endpoint.as_str(), |(_, rest)| rest);
    if std::net::TcpStream::connect(host_port).is_err() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/s3-server.sh");
        let status = std::process::Command::new("bash")
            .arg(&script)
            .arg("start")
            .env("TEST_S3_ENDPOINT", &endpoint)
            .status()
            .expect("run scripts/s3-server.sh");
        assert!(
            status.success(),
            "TEST_MEDIA=s3 needs the S3 server at {endpoint}; `{} start` failed",
            script.display()
        );
    }
    *checked = true;
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// A new, empty bucket with a name of its own.
pub async fn fresh_bucket() -> String {
    ensure_running();
    let bucket = format!("fc-test-{:016x}", rand::random::<u64>());
    let res = client().put(format!("{}/{bucket}", endpoint())).send().await.expect("reach the S3 server");
    assert!(res.status().is_success(), "create bucket {bucket}: {} {}", res.status(), res.text().await.unwrap());
    bucket
}

/// The settings of a media store in `bucket` (moto takes any credentials).
pub fn config(bucket: &str) -> media::S3Config {
    media::S3Config {
        bucket: bucket.to_owned(),
        region: "us-east-1".into(),
        endpoint: Some(endpoint()),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        allow_http: true,
    }
}

/// The keys under `prefix` of `bucket`'s objects and of its multipart
/// uploads still in progress (each once per upload), sorted.
pub async fn keys(bucket: &str, prefix: &str) -> Vec<String> {
    let mut keys = objects(bucket, prefix).await;
    keys.extend(uploads(bucket, prefix).await);
    keys.sort();
    keys
}

/// The keys of `bucket`'s objects under `prefix` (ListObjectsV2).
pub async fn objects(bucket: &str, prefix: &str) -> Vec<String> {
    list(&format!("{}/{bucket}?list-type=2&prefix={prefix}", endpoint())).await
}

/// The keys of `bucket`'s multipart uploads in progress under `prefix`
/// (ListMultipartUploads).
pub async fn uploads(bucket: &str, prefix: &str) -> Vec<String> {
    list(&format!("{}/{bucket}?uploads&prefix={prefix}", endpoint())).await
}

async fn list(url: &str) -> Vec<String> {
    let res = client().get(url).send().await.expect("reach the S3 server");
    let status = res.status();
    let xml = res.text().await.unwrap();
    assert!(status.is_success(), "{url}: {status} {xml}");
    assert!(!xml.contains("<IsTruncated>true</IsTruncated>"), "{url}: more than one page");
    tag_values(&xml, "Key")
}

/// An object's bytes, `None` when there is none: read with object_store's
/// own S3 client (moto refuses unsigned reads of objects).
pub async fn object(bucket: &str, key: &str) -> Option<Vec<u8>> {
    let store = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_endpoint(endpoint())
        .with_allow_http(true)
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .build()
        .unwrap();
    match object_store::ObjectStore::get(&store, &object_store::path::Path::from(key)).await {
        Ok(got) => Some(got.bytes().await.unwrap().to_vec()),
        Err(object_store::Error::NotFound { .. }) => None,
        Err(e) => panic!("GET {key}: {e}"),
    }
}

/// The text of every `<tag>…</tag>` in `xml`, unescaped.
fn tag_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let end = after.find(&close).expect("a closed tag");
        out.push(
            after[..end]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
        rest = &after[end + close.len()..];
    }
    out
}

/// The parts stored by `bucket`'s multipart uploads in progress under
/// `prefix` (ListMultipartUploads, then ListParts of each).
pub async fn stored_parts(bucket: &str, prefix: &str) -> usize {
    let url = format!("{}/{bucket}?uploads&prefix={prefix}", endpoint());
    let xml = client().get(&url).send().await.expect("reach the S3 server").text().await.unwrap();
    let (keys, ids) = (tag_values(&xml, "Key"), tag_values(&xml, "UploadId"));
    assert_eq!(keys.len(), ids.len(), "{xml}");
    let mut parts = 0;
    for (key, id) in keys.iter().zip(&ids) {
        let res = client().get(format!("{}/{bucket}/{key}?uploadId={id}", endpoint())).send().await.unwrap();
        match res.status().as_u16() {
            200 => parts += res.text().await.unwrap().matches("<Part>").count(),
            // Aborted meanwhile.
            404 => {}
            other => panic!("ListParts {key}: {other} {}", res.text().await.unwrap()),
        }
    }
    parts
}
