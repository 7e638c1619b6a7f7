//! The HTTP edge: OpenAI-compatible endpoints, health, metrics, the request log API, the
//! OpenAPI document and the browser chat page at `/`, plus the server loop.
//!
//! Handlers parse and validate, resolve the model in the catalog, call the backend and map
//! errors once (in `error`). This crate never talks to an engine directly: storage and model
//! servers come in through `rampart_core` traits. No panic escapes a handler.

mod audit;
mod audit_api;
mod auth;
mod background;
mod body;
mod budget;
mod cache;
mod chat;
pub mod conversation_log;
mod decision;
mod embeddings;
mod error;
mod guard;
mod health;
mod hints;
mod keys_api;
mod limits_api;
mod metrics;
mod middleware;
mod models;
mod openapi;
mod principal;
mod record;
mod request_log;
mod requests_api;
mod resolve;
mod retrieval;
mod router_api;
mod routes;
mod server;
pub mod spans;
mod state;
mod ui;
mod usage_api;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use audit::{AuditTrail, checkpoint_now, spawn_checkpoints};
pub use auth::{Caller, Gatekeeper, GatekeeperError};
pub use error::ApiError;
pub use health::HealthMonitor;
pub use metrics::Metrics;
pub use openapi::openapi_json;
pub use principal::{MAX_PRINCIPAL_VALUE_BYTES, TENANT_HEADER, USER_HEADER, principal_from};
pub use rampart_limits::Limiter;
pub use rampart_router::{CatalogError, ModelCatalog, ResolvedModel, RouteTable, Router as ModelRouter};
pub use request_log::RequestLogger;
pub use retrieval::{GuardrailsSanitizer, Retrieval, RouterEmbedder, SESSION_HEADER};
pub use server::{ServeOptions, Workers, serve};
pub use state::{AppState, Limits};

/// All routes, wrapped in the request-id / panic / metrics layer. Everything under `/v1` and
/// `/api` needs an identity (see [`auth`]); health, metrics, the OpenAPI document and the
/// chat page's files do not.
pub fn router(state: Arc<AppState>) -> Router {
    let protected = Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/embeddings", post(embeddings::embeddings))
        .route("/v1/models", get(models::list_models))
        .route("/v1/models/{*id}", get(models::get_model))
        .route("/api/v1/requests", get(requests_api::list_requests))
        .route("/api/v1/router", get(router_api::router_status))
        .route("/api/v1/usage", get(usage_api::usage_summary))
        .route("/api/v1/limits", get(limits_api::limits_status))
        .route("/api/v1/keys", get(keys_api::list_keys).post(keys_api::create_key))
        .route("/api/v1/keys/{id}", axum::routing::delete(keys_api::revoke_key))
        .route("/api/v1/audit", get(audit_api::list_records))
        .route("/api/v1/audit/verify", get(audit_api::verify))
        .route("/api/v1/audit/proof/{seq}", get(audit_api::proof))
        .route("/api/v1/audit/checkpoint", get(audit_api::latest_checkpoint))
        .route("/api/v1/traces/{request_id}", get(audit_api::trace))
        .route("/ingest", post(retrieval::ingest).layer(axum::extract::DefaultBodyLimit::disable()))
        .route("/query", post(retrieval::query))
        .route("/embed", post(retrieval::embed))
        .route("/api/v1/documents", get(retrieval::list_documents))
        .route("/api/v1/documents/{id}", get(retrieval::show_document).delete(retrieval::delete_document))
        .route("/api/v1/documents/{id}/state", post(retrieval::set_document_state))
        .route("/api/v1/memory", post(retrieval::propose_memory))
        .route("/api/v1/memory/gc", post(retrieval::collect_expired))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate));
    let routes = Router::new()
        .merge(protected)
        .route("/health", get(health::health))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi_document))
        .merge(ui::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    observed(routes, state)
}

/// Wraps routes in the layer every request passes: request id, panic isolation, metrics.
pub fn observed(routes: Router<Arc<AppState>>, state: Arc<AppState>) -> Router {
    routes.layer(axum::middleware::from_fn_with_state(state.clone(), middleware::observe)).with_state(state)
}

async fn metrics_text(axum::extract::State(state): axum::extract::State<Arc<AppState>>) -> Response {
    let mut response = state.metrics.render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

async fn openapi_document() -> Response {
    let mut response = openapi_json().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound { message: format!("no route for {}: see /openapi.json for the API", uri.path()) }
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let body = rampart_types::ErrorResponse::new(
        "invalid_request_error",
        format!("method {method} is not allowed on {}", uri.path()),
    )
    .with_code("method_not_allowed");
    (axum::http::StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}
