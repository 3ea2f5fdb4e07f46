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
pub mod cohorts;
pub mod custom_segments;
pub mod customers;
pub mod digest;
pub mod download;
pub mod dto;
pub mod error;
pub mod health;
pub mod imports;
pub mod integrations;
pub mod json;
pub mod layers;
pub mod metrics;
pub mod negotiate;
pub mod openapi;
pub mod query;
pub mod reference;
pub mod report_params;
pub mod responses;
pub mod session;
pub mod settings;
pub mod support;
pub mod web;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::ports::Clock;
use crate::services::{
    Analytics, Identity, Integrations, Services, SessionGate, Tenancy, TenantAdmin,
};

pub use client_ip::ClientIp;
pub use error::ApiError;
pub use json::ApiJson;

/// The functions that serve HTTP (docs/design.md, "The shape").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Auth,
    Admin,
    Oauth,
    Account,
    Query,
}

/// What a function's handlers and extractors reach: the configuration, the session
/// gate every authenticated route passes, and the one context its routes use. Each
/// function has its own, so a Lambda builds only the context its role allows.
macro_rules! function_state {
    ($(#[$doc:meta])* $name:ident { $field:ident: $context:ty }) => {
        $(#[$doc])*
        #[derive(Clone, FromRef)]
        pub struct $name {
            pub config: Arc<Config>,
            pub clock: Arc<dyn Clock>,
            pub gate: Arc<SessionGate>,
            pub $field: Arc<$context>,
        }
    };
}

function_state!(
    /// `auth`: sign-up, sessions, passwords, two-factor, health.
    AuthState { identity: Identity }
);
function_state!(
    /// `admin`: users, security policy, allowlist, logs.
    AdminState { admin: TenantAdmin }
);
function_state!(
    /// `oauth`: integrations, Stripe OAuth, webhooks.
    OauthState { integrations: Integrations }
);
function_state!(
    /// `account`: export and closure.
    AccountState { tenancy: Tenancy }
);
function_state!(
    /// `query`: metrics, customers, settings.
    QueryState { analytics: Analytics }
);

impl Function {
    pub const ALL: [Function; 5] = [
        Function::Auth,
        Function::Admin,
        Function::Oauth,
        Function::Account,
        Function::Query,
    ];

    /// This function's operations, for the OpenAPI document.
    pub fn openapi(self) -> utoipa::openapi::OpenApi {
        match self {
            Function::Auth => auth_routes().into_openapi(),
            Function::Admin => admin_routes().into_openapi(),
            Function::Oauth => oauth_routes().into_openapi(),
            Function::Account => account::routes().into_openapi(),
            Function::Query => analytics::routes().into_openapi(),
        }
    }

    /// This function's routes on the contexts of `services`, without the common
    /// layers (the local server merges every function's).
    pub fn routes(self, services: &Services) -> Router {
        let config = services.config.clone();
        let clock = services.adapters.clock.clone();
        let gate = services.gate.clone();
        match self {
            Function::Auth => Router::from(auth_routes()).with_state(AuthState {
                config,
                clock,
                gate,
                identity: services.identity.clone(),
            }),
            Function::Admin => Router::from(admin_routes()).with_state(AdminState {
                config,
                clock,
                gate,
                admin: services.admin.clone(),
            }),
            Function::Oauth => Router::from(oauth_routes()).with_state(OauthState {
                config,
                clock,
                gate,
                integrations: services.integrations.clone(),
            }),
            Function::Account => Router::from(account::routes()).with_state(AccountState {
                config,
                clock,
                gate,
                tenancy: services.tenancy.clone(),
            }),
            Function::Query => Router::from(analytics::routes()).with_state(QueryState {
                config,
                clock,
                gate,
                analytics: services.analytics.clone(),
            }),
        }
    }
}

fn auth_routes() -> OpenApiRouter<AuthState> {
    health::routes()
        .merge(auth::routes())
        .merge(digest::me_routes())
        .merge(support::operator_routes())
}

fn oauth_routes() -> OpenApiRouter<OauthState> {
    integrations::routes()
        .merge(imports::routes())
        .merge(digest::slack_routes())
}

fn admin_routes() -> OpenApiRouter<AdminState> {
    admin::routes().merge(support::admin_routes())
}

/// The `auth` function's app, as deployed to Lambda.
pub fn auth_app(state: AuthState) -> Router {
    let origin = state.config.app_url.clone();
    layers::finish(auth_routes().into(), state, &origin)
}

/// The `admin` function's app.
pub fn admin_app(state: AdminState) -> Router {
    let origin = state.config.app_url.clone();
    layers::finish(admin_routes().into(), state, &origin)
}

/// The `oauth` function's app.
pub fn oauth_app(state: OauthState) -> Router {
    let origin = state.config.app_url.clone();
    layers::finish(oauth_routes().into(), state, &origin)
}

/// The `account` function's app.
pub fn account_app(state: AccountState) -> Router {
    let origin = state.config.app_url.clone();
    layers::finish(account::routes().into(), state, &origin)
}

/// The `query` function's app.
pub fn query_app(state: QueryState) -> Router {
    let origin = state.config.app_url.clone();
    layers::finish(analytics::routes().into(), state, &origin)
}

/// The `web` function's app: the dashboard's files (`web`), and nothing else. It holds
/// no state and no adapter, and answers no cross-origin caller.
pub fn web_app() -> Router {
    layers::finish(web::routes(), (), "")
}

/// Every function's routes on one router, as the local server serves them, with the
/// OpenAPI document at `/openapi.json`, its reference page at `/docs` and the dashboard
/// at `/` (the `web` function's routes).
pub fn local_app(services: &Services) -> Router {
    let routes = Function::ALL
        .into_iter()
        .fold(openapi::routes().merge(web::routes()), |router, f| {
            router.merge(f.routes(services))
        });
    let origin = services.config.app_url.clone();
    layers::finish(routes, (), &origin)
}
