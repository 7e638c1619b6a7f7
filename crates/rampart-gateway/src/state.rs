//! Everything a handler needs, built once at start-up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_config::ServerConfig;
use rampart_core::Store;

use crate::health::HealthMonitor;
use crate::metrics::Metrics;
use crate::request_log::RequestLogger;

/// Per-request limits from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub body_limit_bytes: u64,
    pub request_timeout: Duration,
}

impl From<&ServerConfig> for Limits {
    fn from(server: &ServerConfig) -> Self {
        Limits {
            body_limit_bytes: server.body_limit_bytes,
            request_timeout: Duration::from_secs(server.request_timeout_secs),
        }
    }
}

pub struct AppState {
    /// The model catalog with its circuits, queues and fallbacks.
    pub router: rampart_router::Router,
    /// `[[routes]]`: names whose model is chosen per request by rules.
    pub routes: rampart_router::RouteTable,
    /// `[[limits]]` over their ledger.
    pub limiter: Arc<rampart_limits::Limiter>,
    /// `[context]`: token budgets and what to do with prompts that do not fit.
    pub context: rampart_config::ContextConfig,
    /// The exact-match response cache (memory, or Redis with `[cache] url`).
    pub cache: Arc<dyn rampart_cache::ResponseCache>,
    /// `[cache] default_ttl_secs`.
    pub cache_default_ttl: Duration,
    pub store: Arc<dyn Store>,
    /// Who is calling: API keys, OIDC issuers, or the development identity.
    pub gatekeeper: Arc<crate::auth::Gatekeeper>,
    /// The Rego bundle that decides every model call, hot-reloaded by atomic swap.
    pub policy: Arc<rampart_policy::PolicyEngine>,
    /// Where every decision is recorded before it takes effect.
    pub audit: crate::audit::AuditTrail,
    /// The public half of the checkpoint signing key, for verification and proofs.
    pub audit_public_key: Option<[u8; 32]>,
    pub metrics: Arc<Metrics>,
    /// Makes the OpenTelemetry spans (a no-op tracer when no OTLP endpoint is configured).
    pub tracer: crate::spans::SharedTracer,
    /// `[guardrails]`: screening of prompts, answers and what is logged; `None` when off.
    pub guardrails: Option<Arc<rampart_guardrails::Guardrails>>,
    /// `[conversations]`: encrypted history of successful chat calls; `None` when off.
    pub conversations: Option<crate::conversation_log::ConversationRecorder>,
    /// `[retrieval]`: ingest, search and retrieval in chat; `None` when off or when no
    /// embedding model is configured.
    pub retrieval: Option<Arc<crate::retrieval::Retrieval>>,
    pub request_log: RequestLogger,
    pub health: Arc<HealthMonitor>,
    pub limits: Limits,
    pub started_at: Instant,
    pub started_unix_secs: i64,
}
