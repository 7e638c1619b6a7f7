//! The OpenAPI document, generated from the handlers' annotations and the wire types.
//! `docs/openapi.json` is a checked-in copy; a test fails when the two drift apart.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rampart",
        description = "Sovereign AI gateway: an OpenAI-compatible API in front of local and cloud models.",
        license(name = "Apache-2.0")
    ),
    paths(
        crate::chat::chat_completions,
        crate::embeddings::embeddings,
        crate::models::list_models,
        crate::models::get_model,
        crate::health::health,
        crate::health::healthz,
        crate::health::readyz,
        crate::requests_api::list_requests,
        crate::usage_api::usage_summary,
        crate::limits_api::limits_status,
        crate::router_api::router_status,
        crate::keys_api::create_key,
        crate::keys_api::list_keys,
        crate::keys_api::revoke_key,
        crate::audit_api::list_records,
        crate::audit_api::verify,
        crate::audit_api::proof,
        crate::audit_api::latest_checkpoint,
        crate::audit_api::trace,
        crate::retrieval::ingest_api::ingest,
        crate::retrieval::query_api::query,
        crate::retrieval::query_api::embed,
        crate::retrieval::documents_api::list_documents,
        crate::retrieval::documents_api::show_document,
        crate::retrieval::documents_api::delete_document,
        crate::retrieval::documents_api::set_document_state,
        crate::retrieval::memory_api::propose_memory,
        crate::retrieval::memory_api::collect_expired,
        metrics,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "openai", description = "OpenAI-compatible endpoints"),
        (name = "health", description = "Liveness, readiness and component health"),
        (name = "rampart", description = "Rampart's own API"),
        (name = "retrieval", description = "Document ingest, hybrid search and memory"),
    )
)]
pub struct ApiDoc;

/// `/v1/*` and `/api/*` take `Authorization: Bearer` with a Rampart API key or an OIDC token
/// once authentication is on (docs/security.md).
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some(
                "A Rampart API key (rk_...) or an OIDC access token; not needed while the gateway has no key and no issuer",
            )).build()),
        );
        openapi.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
    }
}

/// The document as pretty JSON, as served at `/openapi.json` and checked in.
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_else(|error| format!("{{\"error\":\"{error}\"}}"))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
#[allow(dead_code, reason = "documents the /metrics route, which is served by a closure over the registry")]
pub(crate) fn metrics() {}
