//! Spans exported over OTLP when `telemetry.otlp_endpoint` is set: every
//! `tracing` span at INFO or above (each HTTP request, each event's
//! `publish` and `dispatch`) becomes an OpenTelemetry span, batched and
//! sent as protobuf over HTTP, named by `service.name` and, for the node,
//! `service.instance.id`.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;

const TIMEOUT: Duration = Duration::from_secs(10);

/// The tracer provider exporting to the configured endpoint, or `None`
/// when none is set. Call from within the runtime the exports will use;
/// shut it down (see [`shutdown`]) to send what is still batched.
pub fn provider(config: &server::TelemetryConfig, node: &str) -> anyhow::Result<Option<SdkTracerProvider>> {
    let Some(url) = config.traces_url() else { return Ok(None) };
    let client = OnRuntime {
        http: reqwest::Client::builder().timeout(TIMEOUT).build()?,
        runtime: tokio::runtime::Handle::current(),
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url)
        .with_timeout(TIMEOUT)
        .build()?;
    let resource = Resource::builder()
        .with_service_name(config.service_name.clone())
        .with_attribute(KeyValue::new("service.instance.id", node.to_owned()))
        .build();
    Ok(Some(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build()))
}

/// Sends the spans still batched and stops the exporter. Its thread waits
/// on requests that run on this runtime, so it is waited for off the
/// runtime's own threads.
pub async fn shutdown(provider: SdkTracerProvider) {
    match tokio::task::spawn_blocking(move || provider.shutdown()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "exporting the last spans failed"),
        Err(e) => tracing::warn!(error = %e, "exporting the last spans failed"),
    }
}

/// reqwest (0.12, already built for link previews) as OTLP's HTTP client.
/// The batch exporter runs on a thread of its own, outside any runtime,
/// while reqwest needs tokio's: each request is run on the server's
/// runtime and awaited from there.
#[derive(Debug)]
struct OnRuntime {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let http = self.http.clone();
        self.runtime
            .spawn(async move {
                let answer = http.execute(request).await?;
                let (status, headers) = (answer.status(), answer.headers().clone());
                let mut response = Response::new(answer.bytes().await?);
                *response.status_mut() = status;
                *response.headers_mut() = headers;
                Ok(response)
            })
            .await?
    }
}
