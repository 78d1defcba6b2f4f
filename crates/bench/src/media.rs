//! `media`: files over the public HTTP surface. Four phases, each for
//! `--duration` seconds with `--concurrency` requests in flight:
//! uploads of `--upload-mib` MiB files as message attachments (multipart),
//! downloads of a 1 MiB image from its CDN URL, the media proxy resizing
//! that image cold (every request a size not asked before, so the cache
//! never answers) and warm (one size, from the cache). MB/s and latency
//! percentiles per phase; every answer is checked (sizes, bytes, the
//! resized image's dimensions), so a wrong byte fails the run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use bytes::Bytes;
use clap::Args;
use image::{DynamicImage, ImageFormat, RgbImage};
use rand::{Rng, SeedableRng};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::load::{self, LoadSpec, LoadStats};
use crate::report::Report;
use crate::stats::{self, proc_sample, round3};
use crate::target::{Common, Target};

#[derive(Args, Debug)]
pub struct MediaArgs {
    #[command(flatten)]
    pub common: Common,
    /// Size of each uploaded file, in MiB.
    #[arg(long, default_value_t = 4.0)]
    pub upload_mib: f64,
    /// Requests in flight in each phase.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Seconds of each phase (uploads, downloads, cold resizes, cached resizes).
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
}

const BOUNDARY: &str = "fussioncord-bench-media-7f3a";

/// A multipart message body carrying `bytes` as `files[0]`.
fn form(filename: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(bytes.len() + 512);
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"payload_json\"\r\nContent-Type: application/json\r\n\r\n{{}}\r\n\
             --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"{filename}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A PNG of noise (which does not compress) of about 1 MiB: 592×592 RGB.
fn megabyte_png() -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(17);
    let img = RgbImage::from_fn(592, 592, |_, _| image::Rgb([rng.gen(), rng.gen(), rng.gen()]));
    let mut out = std::io::Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(img).write_to(&mut out, ImageFormat::Png).expect("encoding a PNG in memory");
    out.into_inner()
}

/// Uploads `bytes` as one message's file; answers its attachment object.
async fn upload(target: &Target, auth: &str, url: &str, filename: &str, bytes: &[u8]) -> Result<Value> {
    let resp = target
        .http
        .post(url)
        .header(AUTHORIZATION, auth)
        .header(CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(form(filename, bytes))
        .send()
        .await?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!("upload: HTTP {status}: {}", text.chars().take(200).collect::<String>());
    }
    let msg: Value = serde_json::from_str(&text)?;
    let attachment = msg["attachments"][0].clone();
    ensure!(attachment["size"] == json!(bytes.len()), "the attachment's size is not the upload's: {attachment}");
    Ok(attachment)
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<(String, Bytes)> {
    let resp = http.get(url).send().await?;
    let status = resp.status();
    let content_type = resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let body = resp.bytes().await?;
    if !status.is_success() {
        bail!("GET: HTTP {status}: {}", String::from_utf8_lossy(&body[..body.len().min(200)]));
    }
    Ok((content_type, body))
}

/// One phase: `op` for `duration` with `concurrency` in flight; reports
/// its count, latency and, given the bytes each request moves, MB/s.
async fn phase<F, Fut>(
    report: &mut Report,
    name: &'static str,
    spec: LoadSpec,
    bytes_each: Option<u64>,
    op: F,
) -> Result<()>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let load_stats = Arc::new(LoadStats::default());
    let progress = load_stats.progress(name, "done");
    let t0 = Instant::now();
    load::drive(spec, 1, load_stats.clone(), op).await;
    let wall = t0.elapsed().as_secs_f64();
    drop(progress);
    let ok = load_stats.ok.load(Ordering::Relaxed);
    let failed = load_stats.failed.load(Ordering::Relaxed);
    let mut result = json!({
        "requests": ok,
        "per_s": round3(ok as f64 / wall),
        "latency": stats::summary(&load_stats.latency.lock().unwrap()),
    });
    if let Some(each) = bytes_each {
        result["mb_per_s"] = json!(round3((ok * each) as f64 / wall / 1e6));
    }
    report.result(name, result);
    if failed > 0 {
        report.fail(format!("{name}: {failed} requests failed: {:?}", load_stats.errors.lock().unwrap()));
    }
    if ok == 0 {
        report.fail(format!("{name}: no request succeeded"));
    }
    Ok(())
}

pub async fn run(args: MediaArgs) -> Result<Report> {
    ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    ensure!(args.upload_mib > 0.0, "--upload-mib must be positive");
    let target = Target::open(&args.common).await?;
    let mut report = Report::new("media");
    target.describe(&mut report);
    let spec = LoadSpec { rate: 0.0, duration: Duration::from_secs_f64(args.duration), inflight: args.concurrency };
    report.param("load", spec.describe());
    let tokens = target.accounts(1).await?;
    let channel = target.channel(&tokens).await?;
    let token: Arc<str> = tokens[0].as_str().into();
    let messages: Arc<str> = format!("{}/channels/{channel}/messages", target.api).into();
    let target = Arc::new(target);

    let server_before = target.server_sample();
    let me_before = proc_sample(std::process::id());
    let t0 = Instant::now();

    // Uploads.
    let size = (args.upload_mib * 1024.0 * 1024.0) as usize;
    report.param("upload_bytes", size);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let file: Arc<Vec<u8>> = Arc::new((0..size).map(|_| rng.gen()).collect());
    {
        let (target, token, messages, file) = (target.clone(), token.clone(), messages.clone(), file.clone());
        phase(&mut report, "upload", spec, Some(size as u64), move |_| {
            let (target, token, messages, file) = (target.clone(), token.clone(), messages.clone(), file.clone());
            async move { upload(&target, &token, &messages, "upload.bin", &file).await.map(drop) }
        })
        .await?;
    }

    // The 1 MiB image, downloaded from its CDN URL.
    let png: Arc<Bytes> = Arc::new(Bytes::from(megabyte_png()));
    report.param("image_bytes", png.len());
    let attachment = upload(&target, &token, &messages, "noise.png", &png).await.context("uploading the image")?;
    let url: Arc<str> = attachment["url"].as_str().context("an attachment without a url")?.into();
    let proxy: Arc<str> = attachment["proxy_url"].as_str().context("an attachment without a proxy_url")?.into();
    {
        let (http, url, png) = (target.http.clone(), url.clone(), png.clone());
        phase(&mut report, "download", spec, Some(png.len() as u64), move |_| {
            let (http, url, png) = (http.clone(), url.clone(), png.clone());
            async move {
                let (_, body) = fetch(&http, &url).await?;
                ensure!(body == *png, "the download is not the upload ({} bytes)", body.len());
                Ok(())
            }
        })
        .await?;
    }

    // Resized by the proxy: each cold request a width never asked before
    // (a new cache entry), then one width over and over (the cache).
    let widths = Arc::new(AtomicU64::new(0));
    let check = |body: &Bytes, content_type: &str, width: u32| -> Result<()> {
        ensure!(content_type == "image/webp", "resized as {content_type}");
        let img = image::load_from_memory(body).context("the resized image does not decode")?;
        ensure!(img.width() == width && img.height() == width, "{}×{} for width {width}", img.width(), img.height());
        Ok(())
    };
    {
        let (http, proxy, widths) = (target.http.clone(), proxy.clone(), widths.clone());
        phase(&mut report, "resize_cold", spec, None, move |_| {
            let (http, proxy, widths) = (http.clone(), proxy.clone(), widths.clone());
            async move {
                let n = widths.fetch_add(1, Ordering::Relaxed);
                // Widths 16..591, then the same widths with another height:
                // every pair is a new transform.
                let width = 16 + (n % 576) as u32;
                let height = 1000 + n as u32 / 576;
                let (content_type, body) =
                    fetch(&http, &format!("{proxy}width={width}&height={height}&format=webp")).await?;
                check(&body, &content_type, width)
            }
        })
        .await?;
    }
    {
        let (http, proxy) = (target.http.clone(), proxy.clone());
        let warm = format!("{proxy}width=128&format=webp");
        let (content_type, first) = fetch(&http, &warm).await?;
        check(&first, &content_type, 128)?;
        let (warm, first) = (Arc::new(warm), Arc::new(first));
        phase(&mut report, "resize_cached", spec, None, move |_| {
            let (http, warm, first) = (http.clone(), warm.clone(), first.clone());
            async move {
                let (_, body) = fetch(&http, &warm).await?;
                ensure!(body == *first, "a cached resize differs from the first");
                Ok(())
            }
        })
        .await?;
    }
    let wall = t0.elapsed().as_secs_f64();
    report.resources((server_before, target.server_sample()), (me_before, proc_sample(std::process::id())), wall);
    target.finish(&report);
    Ok(report)
}
