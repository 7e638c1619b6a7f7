//! `[guardrails]` and `[conversations]`: what is screened as it flows, and what is kept of it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[guardrails]`: PII, secret, injection and moderation screening.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardrailsConfig {
    /// Off by default: a gateway in front of trusted clients may not want the cost. On, with
    /// no `[[guardrails.rules]]`, the built-in rules apply (see docs/guardrails.md).
    pub enabled: bool,
    /// A file holding the key of the `hash` redaction style (any bytes, at least 32). Unset: a
    /// random key per process, so hashes correlate within one run only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash_key_file: Option<PathBuf>,
    pub rules: Vec<GuardrailRuleConfig>,
    /// `[guardrails.injection_classifier]`: a text-classification model that scores prompts and
    /// tool results for injection beside the patterns. Unset: the patterns alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub injection_classifier: Option<InjectionClassifierConfig>,
}

/// `[guardrails.injection_classifier]`: a Hugging Face sequence-classification model on disk
/// (BERT or DeBERTa-v2/v3, such as Llama Prompt Guard 2 or ProtectAI's
/// deberta-v3-base-prompt-injection-v2), run in-process on the CPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectionClassifierConfig {
    /// The model's directory: `config.json`, `tokenizer.json`, `model.safetensors`.
    pub path: PathBuf,
    /// The labels whose probabilities make the score (any case). Empty: every label that does
    /// not read as benign (`BENIGN`, `SAFE`, `LABEL_0`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Tokens per window; a longer text is scored in overlapping windows and counts as its
    /// highest. Unset: 512, or the model's positions if fewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_tokens: Option<usize>,
}

/// `[[guardrails.rules]]`: what to look for, where, and what to do when it is found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardrailRuleConfig {
    pub name: String,
    /// Entity ids (`email`, `credit_card`, `aws_access_key`, `prompt_injection`, …), category
    /// names (`pii`, `secret`, `injection`, `moderation`) or `*`.
    pub entities: Vec<String>,
    pub action: GuardrailAction,
    #[serde(default)]
    pub redaction: GuardrailRedaction,
    /// `prompt`, `response`, `tool_arguments`, `tool_result`, `memory`, `log`; empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<GuardrailStage>,
    #[serde(default)]
    pub min_severity: GuardrailSeverity,
    /// `false`: off unless a policy obligation `{"type": "guardrail", "rule": NAME}` switches
    /// it on for a request.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardrailAction {
    Block,
    Redact,
    Flag,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardrailRedaction {
    Mask,
    Hash,
    #[default]
    Placeholder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardrailStage {
    Prompt,
    Response,
    ToolArguments,
    ToolResult,
    Memory,
    Log,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardrailSeverity {
    #[default]
    Low,
    Medium,
    High,
}

/// `[conversations]`: encrypted conversation history with retention and erasure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConversationsConfig {
    /// Off by default: keeping prompts and answers is a decision an operator makes.
    pub enabled: bool,
    /// The 32-byte master key (base64 or hex, one line) that wraps each tenant's data key.
    /// Unset and no `master_key_env`: `conversations-master.key` in the data dir, created
    /// with mode 0600 on first start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_key_file: Option<PathBuf>,
    /// An environment variable holding the master key instead of a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_key_env: Option<String>,
    /// How long a conversation is kept; 0 keeps it until erased.
    pub retention_days: u32,
    /// Per-tenant retention, overriding `retention_days`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tenant_retention_days: BTreeMap<String, u32>,
    /// How often expired conversations are purged while serving.
    pub purge_interval_secs: u64,
}

impl Default for ConversationsConfig {
    fn default() -> Self {
        ConversationsConfig {
            enabled: false,
            master_key_file: None,
            master_key_env: None,
            retention_days: 30,
            tenant_retention_days: BTreeMap::new(),
            purge_interval_secs: 3600,
        }
    }
}

impl ConversationsConfig {
    pub fn effective_master_key_file(&self, data_dir: &std::path::Path) -> PathBuf {
        self.master_key_file.clone().unwrap_or_else(|| data_dir.join("conversations-master.key"))
    }

    /// Retention of one tenant's conversations, in days; 0 is "until erased".
    pub fn retention_days_for(&self, tenant: &str) -> u32 {
        self.tenant_retention_days.get(tenant).copied().unwrap_or(self.retention_days)
    }
}

/// `[telemetry]`: OpenTelemetry traces over OTLP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// The OTLP receiver: `http://host:4318` for `http/protobuf` (`/v1/traces` is appended
    /// unless the URL has a path), `http://host:4317` for `grpc`. Unset: the standard
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`; with neither,
    /// no traces are exported (W3C `traceparent` is still passed on to model servers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    pub otlp_protocol: OtlpProtocol,
    /// Extra headers on every export (an API key of a hosted collector, say).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub otlp_headers: BTreeMap<String, String>,
    /// `service.name` of the exported resource.
    pub service_name: String,
    /// Share of new traces sampled (0.0–1.0); a caller's sampled `traceparent` is always
    /// followed.
    pub sample_ratio: f64,
    /// How long one export may take before it is given up.
    pub export_timeout_secs: u64,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            otlp_endpoint: None,
            otlp_protocol: OtlpProtocol::HttpProtobuf,
            otlp_headers: BTreeMap::new(),
            service_name: "rampart".to_owned(),
            sample_ratio: 1.0,
            export_timeout_secs: 10,
        }
    }
}

/// How spans travel to the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OtlpProtocol {
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
    #[serde(rename = "grpc")]
    Grpc,
}
