//! `GET /health`, `/healthz` and `/readyz`, backed by a background prober so that health
//! checks never wait on a slow upstream.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rampart_core::Backend;
use serde::Serialize;
use utoipa::ToSchema;

use crate::metrics::{BackendLabels, Metrics};
use crate::state::AppState;

const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ComponentHealth {
    /// `ok`, `down` or `unknown` (not probed yet).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Seconds since the last probe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_secs_ago: Option<u64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthReport {
    /// `ok` (everything up), `degraded` (storage up, some backend down) or `down`.
    pub status: &'static str,
    pub version: &'static str,
    pub uptime_secs: u64,
    pub components: BTreeMap<String, ComponentHealth>,
}

struct Probe {
    ok: bool,
    detail: Option<String>,
    at: Instant,
}

/// The last probe result of every backend.
#[derive(Default)]
pub struct HealthMonitor {
    backends: RwLock<BTreeMap<String, Probe>>,
}

impl HealthMonitor {
    /// Probes every backend now and then every `interval`, until the returned task is
    /// aborted. Each result also goes to the backend's circuit (see `Router::observe_health`).
    pub fn spawn(
        self: &Arc<Self>,
        router: rampart_router::Router,
        interval: Duration,
        metrics: Arc<Metrics>,
    ) -> tokio::task::JoinHandle<()> {
        let monitor = self.clone();
        let backends: Vec<Arc<dyn Backend>> =
            router.catalog().backends().iter().map(|handle| handle.backend.clone()).collect();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            loop {
                ticker.tick().await;
                let probes = backends.iter().map(|backend| async {
                    let result = tokio::time::timeout(PROBE_TIMEOUT, backend.health()).await;
                    let detail = match result {
                        Ok(Ok(())) => None,
                        Ok(Err(error)) => Some(error.to_string()),
                        Err(_) => Some(format!("no answer within {PROBE_TIMEOUT:?}")),
                    };
                    (backend.name().to_owned(), detail)
                });
                for (name, detail) in futures_util::future::join_all(probes).await {
                    let ok = detail.is_none();
                    router.observe_health(&name, detail.clone().map_or(Ok(()), Err));
                    metrics.backend_up.get_or_create(&BackendLabels { backend: name.clone() }).set(i64::from(ok));
                    if let Ok(mut map) = monitor.backends.write() {
                        let was_ok = map.get(&name).map(|probe| probe.ok);
                        if was_ok != Some(ok) {
                            match &detail {
                                None => tracing::info!(backend = %name, "backend is healthy"),
                                Some(detail) => tracing::warn!(backend = %name, %detail, "backend is unhealthy"),
                            }
                        }
                        map.insert(name, Probe { ok, detail, at: Instant::now() });
                    }
                }
            }
        })
    }

    fn snapshot(&self, names: &[String]) -> BTreeMap<String, ComponentHealth> {
        let map = self.backends.read().ok();
        names
            .iter()
            .map(|name| {
                let health = match map.as_ref().and_then(|map| map.get(name)) {
                    Some(probe) => ComponentHealth {
                        status: if probe.ok { "ok" } else { "down" },
                        detail: probe.detail.clone(),
                        checked_secs_ago: Some(probe.at.elapsed().as_secs()),
                    },
                    None => ComponentHealth {
                        status: "unknown",
                        detail: Some("not probed yet".to_owned()),
                        checked_secs_ago: None,
                    },
                };
                (format!("backend:{name}"), health)
            })
            .collect()
    }
}

async fn storage_health(state: &AppState) -> ComponentHealth {
    match tokio::time::timeout(PROBE_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => {
            ComponentHealth { status: "ok", detail: Some(state.store.engine().to_owned()), checked_secs_ago: Some(0) }
        }
        Ok(Err(error)) => {
            ComponentHealth { status: "down", detail: Some(error.to_string()), checked_secs_ago: Some(0) }
        }
        Err(_) => ComponentHealth {
            status: "down",
            detail: Some("storage did not answer within 5 s".to_owned()),
            checked_secs_ago: Some(0),
        },
    }
}

async fn report(state: &AppState) -> HealthReport {
    let names: Vec<String> =
        state.router.catalog().backends().iter().map(|backend| backend.name().to_owned()).collect();
    let mut components = state.health.snapshot(&names);
    let storage = storage_health(state).await;
    let storage_ok = storage.status == "ok";
    components.insert("storage".to_owned(), storage);
    let backends_ok =
        components.iter().filter(|(name, _)| name.starts_with("backend:")).all(|(_, health)| health.status == "ok");
    let any_backend_ok = components.iter().any(|(name, health)| name.starts_with("backend:") && health.status == "ok");
    let status = match (storage_ok, backends_ok, any_backend_ok || names.is_empty()) {
        (true, true, _) => "ok",
        (true, false, true) => "degraded",
        _ => "down",
    };
    HealthReport {
        status,
        version: env!("CARGO_PKG_VERSION"),
        uptime_secs: state.started_at.elapsed().as_secs(),
        components,
    }
}

#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "Overall and per-component status", body = HealthReport),
              (status = 503, description = "Down", body = HealthReport)))]
pub async fn health(State(state): State<Arc<AppState>>) -> (StatusCode, Json<HealthReport>) {
    let report = report(&state).await;
    let status = if report.status == "down" { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (status, Json(report))
}

#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "The process is alive")))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "Storage reachable and at least one backend healthy", body = HealthReport),
              (status = 503, description = "Not ready; `components` says why", body = HealthReport)))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, Json<HealthReport>) {
    let report = report(&state).await;
    let storage_ok = report.components.get("storage").is_some_and(|health| health.status == "ok");
    let backend_ok =
        report.components.iter().any(|(name, health)| name.starts_with("backend:") && health.status == "ok");
    let status = if storage_ok && backend_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(report))
}
