//! Spans reach a real OTLP receiver over both protocols, with their attributes intact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Tracer as _};
use rampart_config::{OtlpProtocol, TelemetryConfig};
use rampart_telemetry::receiver::OtlpReceiver;
use rampart_telemetry::{ExportTarget, Telemetry};

async fn export_one_span(receiver: &OtlpReceiver, protocol: OtlpProtocol) {
    let config = TelemetryConfig { service_name: "rampart-test".into(), ..Default::default() };
    let endpoint = match protocol {
        OtlpProtocol::HttpProtobuf => format!("{}/v1/traces", receiver.base_url()),
        OtlpProtocol::Grpc => receiver.base_url(),
    };
    let telemetry = Telemetry::start_with(&config, ExportTarget { endpoint, protocol }).unwrap();
    let tracer = telemetry.tracer();
    let mut span = tracer
        .span_builder("chat small")
        .with_kind(SpanKind::Client)
        .with_attributes([
            KeyValue::new("gen_ai.operation.name", "chat"),
            KeyValue::new("gen_ai.usage.input_tokens", 12_i64),
        ])
        .start(&tracer);
    span.add_event("rampart.guardrail", vec![KeyValue::new("rule", "secrets")]);
    span.end();
    // The batch processor runs on the runtime; flushing blocks until it has exported.
    tokio::task::block_in_place(|| telemetry.force_flush());
    let received = receiver.wait_for(Duration::from_secs(10), |span| span.name() == "chat small").await;
    let span = received.expect("the span reaches the receiver");
    assert_eq!(span.service_name.as_deref(), Some("rampart-test"));
    assert_eq!(span.attribute("gen_ai.operation.name").as_deref(), Some("chat"));
    assert_eq!(span.attribute("gen_ai.usage.input_tokens").as_deref(), Some("12"));
    assert_eq!(span.event_names(), vec!["rampart.guardrail"]);
    assert_eq!(span.trace_id_hex().len(), 32);
    tokio::task::block_in_place(|| telemetry.shutdown());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_an_otlp_http_receiver() {
    let receiver = OtlpReceiver::start_http().await.unwrap();
    export_one_span(&receiver, OtlpProtocol::HttpProtobuf).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_an_otlp_grpc_receiver() {
    let receiver = OtlpReceiver::start_grpc().await.unwrap();
    export_one_span(&receiver, OtlpProtocol::Grpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_receiver_does_not_block_or_panic() {
    let config = TelemetryConfig { export_timeout_secs: 1, ..Default::default() };
    let target = ExportTarget { endpoint: "http://127.0.0.1:9/v1/traces".into(), protocol: OtlpProtocol::HttpProtobuf };
    let telemetry = Telemetry::start_with(&config, target).unwrap();
    let tracer = telemetry.tracer();
    tracer.start("lost").end();
    let flushed =
        tokio::time::timeout(Duration::from_secs(15), tokio::task::spawn_blocking(move || telemetry.shutdown())).await;
    assert!(flushed.is_ok(), "shutdown returns even when the receiver is down");
}
