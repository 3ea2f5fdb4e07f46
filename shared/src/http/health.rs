//! `GET /v1/health`: liveness and the running version. Touches no adapter, so a
//! health check never wakes KMS or the table.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes<S: Clone + Send + Sync + 'static>() -> OpenApiRouter<S> {
    OpenApiRouter::new().routes(routes!(health))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: HealthStatus,
    /// The running version of Tally.
    pub version: &'static str,
}

/// Liveness and the running version
#[utoipa::path(
    get, path = "/v1/health", tag = "health", operation_id = "getHealth", security(),
    responses((status = 200, description = "Running.", body = Health))
)]
async fn health() -> Json<Health> {
    Json(Health {
        status: HealthStatus::Ok,
        version: env!("CARGO_PKG_VERSION"),
    })
}
