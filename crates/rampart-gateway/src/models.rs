//! `GET /v1/models` and `GET /v1/models/{id}`: configured models and their aliases.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use rampart_types::{ErrorResponse, ModelList, ModelObject};

use crate::error::ApiError;
use crate::state::AppState;
use rampart_router::ResolvedModel;

#[utoipa::path(get, path = "/v1/models", tag = "openai",
    responses((status = 200, description = "Models and aliases", body = ModelList)))]
pub async fn list_models(State(state): State<Arc<AppState>>) -> Json<ModelList> {
    let data = state
        .router
        .catalog()
        .models()
        .iter()
        .flat_map(|model| {
            std::iter::once(model_object(&state, model, &model.name))
                .chain(model.aliases.iter().map(|alias| model_object(&state, model, alias)))
        })
        .chain(crate::routes::route_objects(&state))
        .collect();
    Json(ModelList { object: "list".to_owned(), data })
}

#[utoipa::path(get, path = "/v1/models/{id}", tag = "openai",
    params(("id" = String, Path, description = "Model name or alias")),
    responses(
        (status = 200, description = "The model", body = ModelObject),
        (status = 404, description = "Unknown model", body = ErrorResponse),
    ))]
pub async fn get_model(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<ModelObject>, ApiError> {
    match state.router.catalog().resolve(&id) {
        Some(model) => Ok(Json(model_object(&state, model, &id))),
        None => crate::routes::route_object(&state, &id)
            .map(Json)
            .ok_or_else(|| crate::resolve::model_not_found(&state, &id)),
    }
}

fn model_object(state: &AppState, model: &ResolvedModel, id: &str) -> ModelObject {
    ModelObject {
        id: id.to_owned(),
        object: "model".to_owned(),
        created: state.started_unix_secs,
        owned_by: model.primary_backend().to_owned(),
        root: Some(model.name.clone()),
        tier: Some(model.tier),
        kind: Some(model.kind.as_str().to_owned()),
        context_window: model.context_window,
    }
}
