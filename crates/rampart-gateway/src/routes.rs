//! Resolving what a client put in `model`: a configured model or alias, or a `[[routes]]`
//! name whose rules pick the model for this request.

use std::sync::Arc;

use axum::http::HeaderMap;
use rampart_config::ModelKind;
use rampart_router::{ResolvedModel, RouteHints, RouteRequest};
use rampart_types::ModelObject;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::resolve::resolve_model;
use crate::state::AppState;

pub const TAGS_HEADER: &str = "x-rampart-tags";

/// The model that serves `name` for this request. For a route, the rule's other candidates
/// go into `hints.alternates` (tried as fallbacks, in order of weight). `count_prompt` is
/// called only when a rule of the route looks at the prompt's size.
pub fn resolve_target(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
    kind: ModelKind,
    metadata: Option<&Map<String, Value>>,
    hints: &mut RouteHints,
    count_prompt: impl FnOnce(&ResolvedModel) -> u64,
) -> Result<Arc<ResolvedModel>, ApiError> {
    let Some(route) = state.routes.get(name) else { return resolve_model(state, name, kind) };
    if route.kind != kind {
        return Err(ApiError::invalid(
            format!("'{name}' routes to {} models: use it with the matching endpoint", route.kind.as_str()),
            Some("model"),
        ));
    }
    let tags = tags_of(headers, metadata);
    let prompt_tokens =
        if route.needs_prompt_tokens() { route.first_candidate().map(|model| count_prompt(model)) } else { None };
    let request = RouteRequest { metadata, tags: &tags, hints, prompt_tokens };
    let Some(choice) = route.choose(&request) else {
        return Err(ApiError::InvalidRequest {
            message: format!(
                "no rule of route '{name}' matches this request (its metadata, tags, classification, tier or size); \
                 add a rule without `when` as the default"
            ),
            param: Some("model".to_owned()),
            code: Some("no_matching_route"),
        });
    };
    tracing::debug!(route = name, rule = choice.rule, model = %choice.model.name, "route chose a model");
    hints.alternates = choice.alternates;
    Ok(choice.model)
}

/// Tags from `x-rampart-tags: a, b` and `metadata.tags` (an array of strings or `"a,b"`).
fn tags_of(headers: &HeaderMap, metadata: Option<&Map<String, Value>>) -> Vec<String> {
    let split = |text: &str| {
        text.split(',').map(str::trim).filter(|tag| !tag.is_empty()).map(str::to_owned).collect::<Vec<_>>()
    };
    let mut tags = headers.get(TAGS_HEADER).and_then(|value| value.to_str().ok()).map(split).unwrap_or_default();
    match metadata.and_then(|metadata| metadata.get("tags")) {
        Some(Value::String(text)) => tags.extend(split(text)),
        Some(Value::Array(items)) => tags.extend(items.iter().filter_map(Value::as_str).map(str::to_owned)),
        _ => {}
    }
    tags
}

/// The routes as `/v1/models` lists them: owned by `rampart-route`, rooted at their first
/// candidate.
pub fn route_objects(state: &AppState) -> Vec<ModelObject> {
    let mut names: Vec<&str> = state.routes.names().collect();
    names.sort_unstable();
    names.into_iter().filter_map(|name| route_object(state, name)).collect()
}

pub fn route_object(state: &AppState, name: &str) -> Option<ModelObject> {
    let route = state.routes.get(name)?;
    Some(ModelObject {
        id: name.to_owned(),
        object: "model".to_owned(),
        created: state.started_unix_secs,
        owned_by: "rampart-route".to_owned(),
        root: route.first_candidate().map(|model| model.name.clone()),
        tier: None,
        kind: Some(route.kind.as_str().to_owned()),
        context_window: None,
    })
}
