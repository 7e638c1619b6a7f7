//! Steps shared by the model endpoints: field errors, model lookup, upstream bookkeeping.

use std::sync::Arc;
use std::time::Instant;

use rampart_config::ModelKind;
use rampart_router::{RouteError, Routed};
use rampart_types::FieldError;

use crate::error::ApiError;
use crate::metrics::{BackendLabels, UpstreamErrorLabels};
use crate::state::AppState;
use rampart_router::ResolvedModel;

pub fn field_error(error: FieldError) -> ApiError {
    ApiError::InvalidRequest { message: error.message, param: error.param, code: None }
}

/// Finds the model by name or alias; a miss suggests close names, a kind mismatch says why.
pub fn resolve_model(state: &AppState, name: &str, wanted: ModelKind) -> Result<Arc<ResolvedModel>, ApiError> {
    let Some(model) = state.router.catalog().resolve(name) else {
        return Err(model_not_found(state, name));
    };
    if model.kind != wanted {
        let endpoint = match model.kind {
            ModelKind::Chat => "/v1/chat/completions",
            ModelKind::Embedding => "/v1/embeddings",
        };
        return Err(ApiError::invalid(
            format!("model '{name}' is a {} model: use it with {endpoint}", model.kind.as_str()),
            Some("model"),
        ));
    }
    Ok(model.clone())
}

/// 404 for an unknown model, suggesting close names.
pub fn model_not_found(state: &AppState, name: &str) -> ApiError {
    let suggestions = state.router.catalog().suggestions(name);
    let hint = if suggestions.is_empty() {
        if state.router.catalog().models().is_empty() {
            " No models are configured: add [[backends]] and [[models]] to the config.".to_owned()
        } else {
            " GET /v1/models lists the available models.".to_owned()
        }
    } else {
        format!(
            " Did you mean {}?",
            suggestions.iter().map(|name| format!("'{name}'")).collect::<Vec<_>>().join(" or ")
        )
    };
    ApiError::ModelNotFound { message: format!("The model '{name}' does not exist.{hint}") }
}

/// Records the routed call's upstream latency, or its error, by backend.
pub fn observe_route<T>(
    state: &AppState,
    started: Instant,
    result: Result<Routed<T>, RouteError>,
) -> Result<Routed<T>, ApiError> {
    match result {
        Ok(routed) => {
            state
                .metrics
                .upstream_duration
                .get_or_create(&BackendLabels { backend: routed.backend.clone() })
                .observe(started.elapsed().as_secs_f64());
            Ok(routed)
        }
        Err(error) => {
            if let RouteError::Backend(error) = &error {
                state
                    .metrics
                    .upstream_errors
                    .get_or_create(&UpstreamErrorLabels {
                        backend: error.backend().to_owned(),
                        kind: error.metric_kind(),
                    })
                    .inc();
            }
            tracing::warn!(error = %error, "routed call failed");
            Err(ApiError::from(error))
        }
    }
}
