//! Tracing across nodes (issue 19): with `telemetry.otlp_endpoint` set, a
//! request's spans are exported over OTLP (HTTP, protobuf), and the trace
//! follows the request's event through NATS to the gateway of another
//! node, whose `dispatch` span continues it. The nodes are `fussioncord`
//! processes (the exporter is the process's tracing subscriber) sending to
//! a receiver this test runs, which decodes what it is sent. A node
//! without the setting sends nothing, even with OpenTelemetry's own
//! environment variables pointing at the receiver.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use prost::Message;
use serde_json::json;

use crate::common::cluster::{drop_stream, node_process, Node};
use crate::common::ws::ALL_INTENTS;
use crate::common::{fresh_postgres, TestApp};

/// What the receiver was sent: the decoded export requests, and any
/// request it could not take (another path, another content type, bytes
/// that are not an export request).
#[derive(Default)]
struct Received {
    exports: Vec<ExportTraceServiceRequest>,
    refused: Vec<String>,
}

type Inbox = Arc<Mutex<Received>>;

async fn traces(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> (StatusCode, Vec<u8>) {
    let ctype = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let mut inbox = inbox.lock().unwrap();
    match ExportTraceServiceRequest::decode(body) {
        Ok(export) if ctype == "application/x-protobuf" => {
            inbox.exports.push(export);
            // An empty ExportTraceServiceResponse: everything accepted.
            (StatusCode::OK, Vec::new())
        }
        other => {
            inbox.refused.push(format!("{ctype}: {:?}", other.err()));
            (StatusCode::BAD_REQUEST, Vec::new())
        }
    }
}

async fn elsewhere(State(inbox): State<Inbox>, uri: Uri) -> StatusCode {
    inbox.lock().unwrap().refused.push(format!("request to {uri}"));
    StatusCode::NOT_FOUND
}

/// An OTLP/HTTP receiver on a free port: its base URL and what it gets.
async fn receiver() -> (String, Inbox) {
    let inbox = Inbox::default();
    let app = axum::Router::new()
        .route("/v1/traces", axum::routing::post(traces))
        .fallback(elsewhere)
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, inbox)
}

/// One received span, with what names its node.
#[derive(Debug, Clone)]
struct Span {
    service: String,
    node: String,
    name: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
    attributes: HashMap<String, String>,
}

fn strings(attributes: &[KeyValue]) -> HashMap<String, String> {
    attributes
        .iter()
        .filter_map(|kv| {
            let value = match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(s) => s.clone(),
                any_value::Value::IntValue(i) => i.to_string(),
                any_value::Value::BoolValue(b) => b.to_string(),
                other => format!("{other:?}"),
            };
            Some((kv.key.clone(), value))
        })
        .collect()
}

fn spans(inbox: &Inbox) -> Vec<Span> {
    let inbox = inbox.lock().unwrap();
    let mut out = Vec::new();
    for export in &inbox.exports {
        for resource_spans in &export.resource_spans {
            let resource = strings(resource_spans.resource.as_ref().map_or(&[][..], |r| &r.attributes));
            for scope in &resource_spans.scope_spans {
                for span in &scope.spans {
                    out.push(Span {
                        service: resource.get("service.name").cloned().unwrap_or_default(),
                        node: resource.get("service.instance.id").cloned().unwrap_or_default(),
                        name: span.name.clone(),
                        trace_id: span.trace_id.clone(),
                        span_id: span.span_id.clone(),
                        parent_span_id: span.parent_span_id.clone(),
                        attributes: strings(&span.attributes),
                    });
                }
            }
        }
    }
    out
}

/// A cluster node as its own process named `name`, exporting to `otlp`
/// if given.
fn node(
    db: &str,
    tag: &str,
    name: &str,
    worker: u8,
    otlp: Option<&str>,
    receiver: &str,
    dir: &std::path::Path,
) -> Node {
    let mut env = vec![
        ("FUSSIONCORD__CLUSTER__NODE", name.to_owned()),
        // Batches leave every 100 ms rather than every 5 s.
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
        // OpenTelemetry's own variables name the receiver too: only the
        // configuration decides whether anything is exported.
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.to_owned()),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", format!("{receiver}/v1/traces")),
    ];
    // Spans are exported whatever the log shows.
    if let Some(url) = otlp {
        env.push(("FUSSIONCORD__TELEMETRY__OTLP_ENDPOINT", url.to_owned()));
    }
    node_process(db, tag, worker, dir, &env)
}

/// Posts a message through `node` under a request id of the test's
/// choosing, as part of the caller's trace if it names one.
async fn post_message(node: &Node, token: &str, channel: &str, request_id: &str, content: &str, parent: Option<&str>) {
    let mut req = reqwest::Client::new()
        .post(format!("http://{}/api/v10/channels/{channel}/messages", node.addr))
        .header("Authorization", token)
        .header("X-Request-Id", request_id)
        .json(&json!({ "content": content }));
    if let Some(traceparent) = parent {
        req = req.header("traceparent", traceparent);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_request_on_one_node_and_its_dispatch_on_another_are_one_trace() {
    let (receiver_url, inbox) = receiver().await;
    let db = fresh_postgres().await;
    let tag = format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
    let dir = tempfile::tempdir().unwrap();
    let a = node(&db, &tag, "trace-a", 1, Some(&receiver_url), &receiver_url, dir.path());
    let b = node(&db, &tag, "trace-b", 2, Some(&format!("{receiver_url}/")), &receiver_url, dir.path());
    let c = node(&db, &tag, "trace-c", 3, None, &receiver_url, dir.path());
    let on_a = TestApp::attach(&a.addr);
    let ada = on_a.register("ada").await;
    let bea = on_a.register("bea").await;
    let (_, channel) = on_a.guild(&ada, "Traced").await;
    on_a.join(&ada, &channel, &bea).await;
    // Bea listens on node B; Ada posts through node A, then through node C.
    let mut bea_gw = TestApp::attach(&b.addr).gateway("").await;
    bea_gw.identify(&bea.token, ALL_INTENTS).await;
    let (traced, untraced, continued) = (format!("traced-{tag}"), format!("untraced-{tag}"), format!("cont-{tag}"));
    post_message(&a, &ada.token, &channel, &traced, "via A", None).await;
    assert_eq!(bea_gw.dispatch("MESSAGE_CREATE").await["d"]["content"], "via A");
    post_message(&c, &ada.token, &channel, &untraced, "via C", None).await;
    assert_eq!(bea_gw.dispatch("MESSAGE_CREATE").await["d"]["content"], "via C");
    // A caller that traces its requests: node A continues its trace.
    let (caller_trace, caller_span) = (format!("{:032x}", rand::random::<u128>() | 1), "00f067aa0ba902b7");
    let caller = format!("00-{caller_trace}-{caller_span}-01");
    post_message(&a, &ada.token, &channel, &continued, "traced by its caller", Some(&caller)).await;
    assert_eq!(bea_gw.dispatch("MESSAGE_CREATE").await["d"]["content"], "traced by its caller");

    // Node A's request span, and node B's dispatch in the same trace.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let request_span = |all: &[Span], id: &str| {
        all.iter()
            .find(|s| s.name == "request" && s.attributes.get("request_id").map(String::as_str) == Some(id))
            .cloned()
    };
    let (request, dispatch, all) = loop {
        let all = spans(&inbox);
        let request = request_span(&all, &traced);
        let dispatch = request.as_ref().and_then(|r| {
            all.iter().find(|s| {
                s.name == "dispatch"
                    && s.node == "trace-b"
                    && s.trace_id == r.trace_id
                    && s.attributes.get("event").map(String::as_str) == Some("MESSAGE_CREATE")
            })
        });
        if let (Some(r), Some(d), Some(_)) = (&request, dispatch, request_span(&all, &continued)) {
            break (r.clone(), d.clone(), all);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no request span on A with a dispatch span on B in its trace; received: {:#?}",
            all.iter().map(|s| (&s.node, &s.name, &s.attributes)).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!((request.service.as_str(), request.node.as_str()), ("fussioncord", "trace-a"));
    assert_eq!(request.attributes.get("method").map(String::as_str), Some("POST"));
    assert_eq!(request.attributes.get("route").map(String::as_str), Some("/api/v10/channels/{channel_id}/messages"));
    assert!(request.parent_span_id.is_empty(), "the request starts the trace");
    assert_eq!(request.trace_id.len(), 16);
    assert_eq!(dispatch.service, "fussioncord");

    // From B's dispatch, parent by parent, to A's request: through A's
    // publish of the event, the span whose context crossed NATS.
    let by_id: HashMap<&[u8], &Span> = all.iter().map(|s| (s.span_id.as_slice(), s)).collect();
    let mut chain = vec![&dispatch];
    while let Some(parent) = by_id.get(chain.last().unwrap().parent_span_id.as_slice()) {
        assert_eq!(parent.trace_id, request.trace_id, "a parent in another trace");
        assert!(chain.len() < 32, "a circle of parents");
        chain.push(parent);
    }
    let path: Vec<(&str, &str)> = chain.iter().map(|s| (s.node.as_str(), s.name.as_str())).collect();
    assert_eq!(path.first(), Some(&("trace-b", "dispatch")));
    assert_eq!(path.get(1), Some(&("trace-a", "publish")), "{path:?}");
    assert_eq!(chain[1].attributes.get("event").map(String::as_str), Some("MESSAGE_CREATE"));
    assert_eq!(chain.last().unwrap().span_id, request.span_id, "the chain ends at A's request: {path:?}");

    // The caller's trace is continued: its span is the request's parent.
    let continued = request_span(&all, &continued).unwrap();
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert_eq!((hex(&continued.trace_id), hex(&continued.parent_span_id)), (caller_trace, caller_span.to_owned()));
    assert_eq!(continued.node, "trace-a");

    // Node C exports nothing: a few batch intervals later, no span names
    // it, none comes from its request, and the receiver refused nothing.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let all = spans(&inbox);
    let nodes: std::collections::BTreeSet<&str> = all.iter().map(|s| s.node.as_str()).collect();
    assert_eq!(nodes, ["trace-a", "trace-b"].into(), "spans came from elsewhere");
    assert!(!all.iter().any(|s| s.attributes.get("request_id") == Some(&untraced)), "node C's request was exported");
    // Events published outside a trace (C's message) start none: every
    // dispatch continues a request's trace, and B dispatched one message
    // in a span.
    assert!(all.iter().filter(|s| s.name == "dispatch").all(|s| !s.parent_span_id.is_empty()));
    let b_messages = all
        .iter()
        .filter(|s| s.node == "trace-b" && s.name == "dispatch")
        .filter(|s| s.attributes.get("event").map(String::as_str) == Some("MESSAGE_CREATE"))
        .count();
    assert_eq!(b_messages, 2, "A's two messages");
    let refused = inbox.lock().unwrap().refused.clone();
    assert!(refused.is_empty(), "the receiver refused: {refused:?}");

    drop((a, b, c));
    drop_stream(&format!("FC_TEST_{tag}")).await;
}
