//! `GET /api/v1/router`: the routing mode (normal or solo-sustain), each backend's circuit and
//! load, and recent router events.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use rampart_router::RouterStatus;

use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/router", tag = "rampart",
    responses((status = 200, description = "Routing mode, circuits, queues and recent events", body = RouterStatus)))]
pub async fn router_status(State(state): State<Arc<AppState>>) -> Json<RouterStatus> {
    Json(state.router.status())
}
