//! A handler that panics costs one request a 500, never the server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use rampart_gateway::{
    AppState, HealthMonitor, Limiter, Limits, Metrics, ModelCatalog, ModelRouter, RequestLogger, observed,
};
use tower::ServiceExt;

async fn state() -> Arc<AppState> {
    let store = rampart_store::open_store("sqlite::memory:").await.unwrap();
    let metrics = Arc::new(Metrics::new());
    let (request_log, _writer) = RequestLogger::spawn(store.clone(), metrics.clone());
    Arc::new(AppState {
        router: ModelRouter::new(ModelCatalog::default(), Default::default()),
        routes: Default::default(),
        limiter: Arc::new(Limiter::new(&[], store.clone())),
        context: Default::default(),
        cache: rampart_cache::open_cache(None, 1024).await.unwrap(),
        cache_default_ttl: std::time::Duration::from_secs(1),
        gatekeeper: Arc::new(rampart_gateway::Gatekeeper::build(&Default::default(), store.clone()).await.unwrap()),
        policy: Arc::new(rampart_policy::PolicyEngine::with_default_bundle().unwrap()),
        audit: rampart_gateway::AuditTrail::new(store.clone(), true),
        audit_public_key: None,
        store,
        metrics,
        tracer: std::sync::Arc::new(rampart_gateway::spans::noop_tracer()),
        guardrails: None,
        conversations: None,
        retrieval: None,
        request_log,
        health: Arc::new(HealthMonitor::default()),
        limits: Limits { body_limit_bytes: 1024, request_timeout: std::time::Duration::from_secs(5) },
        started_at: Instant::now(),
        started_unix_secs: 0,
    })
}

async fn boom() -> &'static str {
    panic!("handler bug")
}

#[tokio::test]
async fn a_panicking_handler_answers_500_with_the_request_id_and_the_next_request_is_served() {
    let state = state().await;
    let routes: Router<Arc<AppState>> = Router::new().route("/boom", get(boom)).route("/fine", get(|| async { "ok" }));
    let app = observed(routes, state.clone());

    let request = Request::get("/boom").header("x-request-id", "req-42").body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(response.headers()["x-request-id"], "req-42");
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["error"]["type"], "api_error");
    assert!(body["error"]["message"].as_str().unwrap().contains("req-42"), "{body}");

    let response = app.oneshot(Request::get("/fine").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(state.metrics.render().contains(r#"status="500""#));
}
