//! OpenTelemetry traces over OTLP: the tracer provider Rampart exports its spans with.
//!
//! The gateway and the backends use only the OpenTelemetry API (`opentelemetry`): spans
//! follow the GenAI semantic conventions (`gen_ai.*`), and W3C `traceparent` goes in from
//! callers and out to model servers. This crate builds what receives those spans: a batch
//! processor on the tokio runtime feeding an OTLP exporter over HTTP/protobuf (on the
//! workspace's reqwest) or gRPC (tonic). With no endpoint configured nothing is exported and
//! the tracer is a no-op, so an unconfigured gateway pays nothing for tracing.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, span_processor_with_async_runtime::BatchSpanProcessor};
use rampart_config::{OtlpProtocol, TelemetryConfig};

/// The instrumentation scope of every Rampart span.
pub const TRACER_NAME: &str = "rampart";

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("[telemetry] otlp_endpoint '{endpoint}' is not an http(s) URL: {detail}")]
    InvalidEndpoint { endpoint: String, detail: String },
    #[error("[telemetry] otlp_headers: '{name}' is not a valid header: {detail}")]
    InvalidHeader { name: String, detail: String },
    #[error("could not build the OTLP {protocol} exporter: {detail}")]
    Exporter { protocol: &'static str, detail: String },
}

/// Where spans go, once resolved from the config and the standard environment variables.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportTarget {
    pub endpoint: String,
    pub protocol: OtlpProtocol,
}

impl ExportTarget {
    /// `[telemetry] otlp_endpoint`, else `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is),
    /// else `OTEL_EXPORTER_OTLP_ENDPOINT`; `None` when none is set.
    pub fn resolve(config: &TelemetryConfig, env: impl Fn(&str) -> Option<String>) -> Option<ExportTarget> {
        let protocol = config.otlp_protocol;
        let configured = config.otlp_endpoint.clone().filter(|url| !url.trim().is_empty());
        let (endpoint, exact) = match configured {
            Some(url) => (url, false),
            None => match env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").filter(|url| !url.trim().is_empty()) {
                Some(url) => (url, true),
                None => (env("OTEL_EXPORTER_OTLP_ENDPOINT").filter(|url| !url.trim().is_empty())?, false),
            },
        };
        let endpoint = match protocol {
            OtlpProtocol::HttpProtobuf if !exact => traces_url(&endpoint),
            _ => endpoint,
        };
        Some(ExportTarget { endpoint, protocol })
    }
}

/// OTLP/HTTP posts traces to `/v1/traces`; a base URL without a path gets it appended.
fn traces_url(endpoint: &str) -> String {
    let trimmed = endpoint.trim_end_matches('/');
    let after_scheme = trimmed.split_once("://").map_or(trimmed, |(_, rest)| rest);
    if after_scheme.contains('/') { trimmed.to_owned() } else { format!("{trimmed}/v1/traces") }
}

/// The running tracer provider; dropping it does not flush, `shutdown` does.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    target: Option<ExportTarget>,
}

impl Telemetry {
    /// A provider that records nothing and exports nothing.
    pub fn disabled() -> Self {
        Telemetry { provider: None, target: None }
    }

    /// Builds the exporter for the configured target; must run inside a tokio runtime (the
    /// batch processor runs on it). With no target, `disabled()`.
    pub fn start(config: &TelemetryConfig) -> Result<Self, TelemetryError> {
        match ExportTarget::resolve(config, |name| std::env::var(name).ok()) {
            Some(target) => Self::start_with(config, target),
            None => Ok(Self::disabled()),
        }
    }

    pub fn start_with(config: &TelemetryConfig, target: ExportTarget) -> Result<Self, TelemetryError> {
        validate_endpoint(&target.endpoint)?;
        // The HTTP exporter's client needs a TLS provider even for plain http; another part
        // of the process may have installed it already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let timeout = Duration::from_secs(config.export_timeout_secs.max(1));
        let exporter = match target.protocol {
            OtlpProtocol::HttpProtobuf => {
                let headers: HashMap<String, String> =
                    config.otlp_headers.iter().map(|(name, value)| (name.clone(), value.clone())).collect();
                for name in headers.keys() {
                    http::HeaderName::from_bytes(name.as_bytes()).map_err(|error| TelemetryError::InvalidHeader {
                        name: name.clone(),
                        detail: error.to_string(),
                    })?;
                }
                opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint(target.endpoint.clone())
                    .with_timeout(timeout)
                    .with_headers(headers)
                    .build()
                    .map_err(|error| TelemetryError::Exporter {
                        protocol: "http/protobuf",
                        detail: error.to_string(),
                    })?
            }
            OtlpProtocol::Grpc => {
                let mut metadata = tonic::metadata::MetadataMap::new();
                for (name, value) in &config.otlp_headers {
                    let invalid = |detail: String| TelemetryError::InvalidHeader { name: name.clone(), detail };
                    let key = tonic::metadata::MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes())
                        .map_err(|error| invalid(error.to_string()))?;
                    let value = value
                        .parse()
                        .map_err(|error: tonic::metadata::errors::InvalidMetadataValue| invalid(error.to_string()))?;
                    metadata.insert(key, value);
                }
                opentelemetry_otlp::SpanExporter::builder()
                    .with_tonic()
                    .with_protocol(opentelemetry_otlp::Protocol::Grpc)
                    .with_endpoint(target.endpoint.clone())
                    .with_timeout(timeout)
                    .with_metadata(metadata)
                    .build()
                    .map_err(|error| TelemetryError::Exporter { protocol: "grpc", detail: error.to_string() })?
            }
        };
        let processor = BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio).build();
        let ratio = config.sample_ratio.clamp(0.0, 1.0);
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio))))
            .with_resource(
                Resource::builder()
                    .with_service_name(config.service_name.clone())
                    .with_attribute(opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
                    .build(),
            )
            .build();
        Ok(Telemetry { provider: Some(provider), target: Some(target) })
    }

    /// Where spans are exported, if anywhere.
    pub fn target(&self) -> Option<&ExportTarget> {
        self.target.as_ref()
    }

    /// The tracer the gateway makes its spans with: a no-op one when disabled.
    pub fn tracer(&self) -> BoxedTracer {
        match &self.provider {
            Some(provider) => BoxedTracer::new(Box::new(provider.tracer(TRACER_NAME))),
            None => BoxedTracer::new(Box::new(opentelemetry::trace::noop::NoopTracer::new())),
        }
    }

    /// Exports what is still queued; the caller waits at most the export timeout.
    pub fn force_flush(&self) {
        if let Some(provider) = &self.provider
            && let Err(error) = provider.force_flush()
        {
            tracing::warn!(%error, "could not flush queued spans");
        }
    }

    /// Flushes and stops the exporter, at shutdown.
    pub fn shutdown(&self) {
        if let Some(provider) = &self.provider
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(%error, "could not shut the trace exporter down cleanly");
        }
    }
}

fn validate_endpoint(endpoint: &str) -> Result<(), TelemetryError> {
    let invalid =
        |detail: &str| TelemetryError::InvalidEndpoint { endpoint: endpoint.to_owned(), detail: detail.to_owned() };
    let uri: http::Uri = endpoint.parse().map_err(|error: http::uri::InvalidUri| invalid(&error.to_string()))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(invalid("it must start with http:// or https://")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())
    }

    #[test]
    fn config_endpoint_wins_and_gets_the_traces_path() {
        let config = TelemetryConfig { otlp_endpoint: Some("http://collector:4318".into()), ..Default::default() };
        let target = ExportTarget::resolve(&config, env_of(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://other:4318")]));
        assert_eq!(target.map(|target| target.endpoint).as_deref(), Some("http://collector:4318/v1/traces"));
    }

    #[test]
    fn a_url_with_a_path_is_kept_and_the_traces_variable_is_exact() {
        let config =
            TelemetryConfig { otlp_endpoint: Some("https://otel.example/ingest/traces".into()), ..Default::default() };
        let target = ExportTarget::resolve(&config, env_of(&[]));
        assert_eq!(target.map(|target| target.endpoint).as_deref(), Some("https://otel.example/ingest/traces"));
        let target = ExportTarget::resolve(
            &TelemetryConfig::default(),
            env_of(&[
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://d:1"),
            ]),
        );
        assert_eq!(target.map(|target| target.endpoint).as_deref(), Some("http://c:4318"));
    }

    #[test]
    fn grpc_endpoints_get_no_path_and_nothing_set_means_no_export() {
        let config = TelemetryConfig { otlp_protocol: OtlpProtocol::Grpc, ..Default::default() };
        let target = ExportTarget::resolve(&config, env_of(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")]));
        assert_eq!(target.map(|target| target.endpoint).as_deref(), Some("http://c:4317"));
        assert_eq!(ExportTarget::resolve(&TelemetryConfig::default(), env_of(&[])), None);
    }

    #[test]
    fn bad_endpoints_are_named() {
        for (endpoint, expected) in [("collector:4318", "http://"), ("ftp://x/", "http://"), ("http://", "")] {
            let error = validate_endpoint(endpoint).err().map(|error| error.to_string()).unwrap_or_default();
            assert!(error.contains(endpoint) && error.contains(expected), "{endpoint}: {error}");
        }
        assert!(validate_endpoint("http://127.0.0.1:4318/v1/traces").is_ok());
    }
}

#[cfg(feature = "receiver")]
pub mod receiver;
