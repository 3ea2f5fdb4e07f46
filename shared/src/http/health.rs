//! `GET /v1/health`: liveness and the running version. Touches no adapter, so a
//! health check never wakes KMS or the table.

use axum::Json;
use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/v1/health", get(health))
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}
