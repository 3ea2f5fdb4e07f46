//! HTTP: one axum router per function, the same code in Lambda (`lambda_http::run`)
//! and in the local server (all routers merged on one `axum::serve`).

pub mod account;
pub mod admin;
pub mod analytics;
pub mod auth;
pub mod client_ip;
pub mod error;
pub mod health;
pub mod integrations;
pub mod json;
pub mod layers;
pub mod query;
pub mod session;

use axum::Router;

use crate::services::Services;

pub use client_ip::ClientIp;
pub use error::ApiError;
pub use json::ApiJson;

/// What handlers reach the use cases through.
pub type AppState = std::sync::Arc<Services>;

/// The functions of DESIGN.md that serve HTTP.
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

    /// This function's routes, without the common layers.
    pub fn routes(self) -> Router<AppState> {
        match self {
            Function::Auth => health::routes().merge(auth::routes()),
            Function::Admin => admin::routes(),
            Function::Oauth => integrations::routes(),
            Function::Account => account::routes(),
            Function::Query => analytics::routes(),
        }
    }
}

/// One function's app, as deployed to Lambda.
pub fn function_app(function: Function, state: AppState) -> Router {
    let origin = state.config.app_url.clone();
    layers::finish(function.routes(), state, &origin)
}

/// Every function's routes on one router, as the local server serves them.
pub fn local_app(state: AppState) -> Router {
    let routes = Function::ALL
        .into_iter()
        .fold(Router::new(), |router, f| router.merge(f.routes()));
    let origin = state.config.app_url.clone();
    layers::finish(routes, state, &origin)
}
