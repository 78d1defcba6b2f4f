//! The trace context that follows a request from node to node: a span's
//! W3C `traceparent` (`00-<trace id>-<span id>-<flags>`) to carry with what
//! the request causes elsewhere, and a span continued from one.
//!
//! Spans are `tracing`'s; they become OpenTelemetry spans only where the
//! binary installed an OpenTelemetry layer (`telemetry.otlp_endpoint`).
//! Without it every function here answers "no trace" and costs a lookup,
//! and servers sharing a process (tests) share no tracing state.

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Whether the current span belongs to a trace that is recorded: what is
/// published now is worth a span of its own and a `traceparent`.
pub fn in_trace() -> bool {
    Span::current().context().span().span_context().is_valid()
}

/// The `traceparent` of `span`, for another node to continue the trace
/// from; `None` when `span` is not recorded as an OpenTelemetry span.
pub fn traceparent(span: &Span) -> Option<String> {
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| format!("00-{}-{}-{:02x}", sc.trace_id(), sc.span_id(), sc.trace_flags().to_u8()))
}

/// Makes `span` (not entered yet) the child of the remote span that
/// `traceparent` names. A malformed value is ignored: the span then starts
/// a trace of its own rather than joining a wrong one.
pub fn continue_from(span: &Span, traceparent: &str) {
    if let Some(remote) = parse(traceparent) {
        // Fails only without an OpenTelemetry layer, where there is
        // nothing to join.
        let _ = span.set_parent(Context::new().with_remote_span_context(remote));
    }
}

/// A `traceparent` as the W3C Trace Context defines it: version 00 exactly,
/// a later version by its first four fields; ids in lowercase hex, never
/// all zeros.
fn parse(value: &str) -> Option<SpanContext> {
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let mut parts = value.split('-');
    let (version, trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let rest_ok = match version {
        "00" => parts.next().is_none(),
        "ff" => false,
        _ => true,
    };
    if !(rest_ok && hex(version, 2) && hex(trace, 32) && hex(span, 16) && hex(flags, 2)) {
        return None;
    }
    let (trace, span) = (TraceId::from_hex(trace).ok()?, SpanId::from_hex(span).ok()?);
    let flags = TraceFlags::new(u8::from_str_radix(flags, 16).ok()?);
    let context = SpanContext::new(trace, span, flags, true, TraceState::default());
    context.is_valid().then_some(context)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn traceparents_are_read_as_the_w3c_defines_them() {
        let ok = parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").expect("the spec's example");
        assert_eq!(ok.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ok.span_id().to_string(), "00f067aa0ba902b7");
        assert!(ok.is_sampled() && ok.is_remote());
        assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-later").is_some());
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
        ] {
            assert!(parse(bad).is_none(), "{bad:?} was accepted");
        }
    }
}
