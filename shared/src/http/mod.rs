//! HTTP: one axum router per function, the same code in Lambda (`lambda_http::run`)
//! and in the local server (all routers merged on one `axum::serve`).
//!
//! The layer only translates (docs/design.md, "The HTTP layer"): extractors turn a
//! request into checked values (`Session`, `Authorized<R>`, `PageRequest`, the analytics
//! parameters, JSON bodies of `dto`), a handler calls one use case, and a DTO of `dto`
//! is the reply. Each handler carries its OpenAPI operation (`#[utoipa::path]`); the
//! routers are built from those declarations, so the document in `openapi` describes
//! exactly the routes served.

pub mod account;
pub mod admin;
pub mod analytics;
pub mod analytics_params;
pub mod auth;
pub mod client_ip;
pub mod customers;
pub mod dto;
pub mod error;
pub mod health;
pub mod integrations;
pub mod json;
pub mod layers;
pub mod metrics;
pub mod openapi;
pub mod query;
pub mod reference;
pub mod report_params;
pub mod responses;
pub mod session;
pub mod settings;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use crate::services::Services;

pub use client_ip::ClientIp;
pub use error::ApiError;
pub use json::ApiJson;

/// What handlers reach the use cases through.
pub type AppState = std::sync::Arc<Services>;

/// The functions that serve HTTP (docs/design.md, "The shape").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Auth,
    Admin,
    Oauth,
    Account,
    Query,
}

impl Function {
    pub const ALL: [Function; 5] = [
        Function::Auth,
        Function::Admin,
        Function::Oauth,
        Function::Account,
        Function::Query,
    ];

    /// This function's routes with their OpenAPI operations.
    pub fn api(self) -> OpenApiRouter<AppState> {
        match self {
            Function::Auth => health::routes().merge(auth::routes()),
            Function::Admin => admin::routes(),
            Function::Oauth => integrations::routes(),
            Function::Account => account::routes(),
            Function::Query => analytics::routes(),
        }
    }

    /// This function's routes, without the common layers.
    pub fn routes(self) -> Router<AppState> {
        self.api().into()
    }
}

/// One function's app, as deployed to Lambda.
pub fn function_app(function: Function, state: AppState) -> Router {
    let origin = state.config.app_url.clone();
    layers::finish(function.routes(), state, &origin)
}

/// Every function's routes on one router, as the local server serves them, with the
/// OpenAPI document at `/openapi.json` and its reference page at `/docs`.
pub fn local_app(state: AppState) -> Router {
    let routes = Function::ALL
        .into_iter()
        .fold(openapi::routes(), |router, f| router.merge(f.routes()));
    let origin = state.config.app_url.clone();
    layers::finish(routes, state, &origin)
}
