//! The OpenAPI 3.1 document, generated from the code: every function's router declares
//! its handlers with `#[utoipa::path]` (method, path, parameters, body, responses) and
//! the DTOs of `http/dto` carry their schemas, so a route and its description are one
//! declaration. This module adds what belongs to the whole API (info, conventions,
//! security scheme, tags, shared responses) and serves the result.
//!
//! `openapi.yaml` at the repository root is a committed copy of [`yaml`]; the test
//! `tests/api/openapi.rs` fails when they differ and says how to regenerate it.

use std::sync::OnceLock;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::{Function, responses};
use crate::domain::metrics::Dimension;

const CONVENTIONS: &str = "\
Revenue analytics for subscription businesses: sign-in and accounts, administration,
payment-processor integrations, metrics over the synced billing data, exports and
account closure.

Conventions (docs/api.md):
- JSON in and out (`Content-Type: application/json`); request bodies over 64 KiB are
  refused with 413, bodies of another media type with 415.
- Authenticated calls carry `Authorization: Bearer <token>` (from `POST /v1/sessions`).
- Every error is `{\"error\": {\"code\", \"message\", \"details\"?}}` (schema `Error`); the
  codes are fixed. Malformed JSON, a missing or wrongly typed field is 400
  `invalid_request` with `details.field` naming the field.
- Times are RFC 3339 UTC strings unless a field says otherwise; money is integer
  minor units with a lower-case ISO 4217 `currency`.
- Lists take `?limit=` (1-200, default 50) and `?cursor=` where listed and reply
  `{\"data\": [...], \"next_cursor\": null | \"...\"}`.
- Replies may gain fields: clients must ignore properties they do not know.
";

/// What the whole API shares; the operations come from the functions' routers.
#[derive(OpenApi)]
#[openapi(
    info(title = "Tally", description = CONVENTIONS),
    servers((url = "http://127.0.0.1:8080", description = "Local server (`cargo run -p local -- serve`)")),
    security(("bearer" = [])),
    // Named by a parameter only (`group_by`), so no body brings it along.
    components(schemas(Dimension)),
    tags(
        (name = "health"),
        (name = "auth", description = "The auth function."),
        (name = "admin", description = "The admin function (role admin, except accepting an invitation)."),
        (name = "integrations", description = "The oauth function (role admin, except listing)."),
        (name = "analytics", description = "The query function (viewers get aggregates only)."),
        (name = "account", description = "The account function (role admin)."),
        (name = "support", description = "Support access: tenant admins' grants (admin function), operators' sign-in and break-glass (auth function)."),
    ),
    modifiers(&Shared),
)]
struct ApiDoc;

/// The bearer scheme and the responses many operations share.
struct Shared;

impl Modify for Shared {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "The `token` of `POST /v1/sessions`. Sessions expire after 15 idle minutes \
                 and 12 hours at most.",
            ))
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        responses::register(components);
    }
}

/// The document of every function's routes.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for function in Function::ALL {
        doc.merge(function.openapi());
    }
    doc
}

/// How the committed copy says where it comes from.
pub const YAML_HEADER: &str = "\
# Tally's HTTP API as OpenAPI 3.1, generated from the code (shared/src/http): do not edit.
# Regenerate with `UPDATE_OPENAPI=1 cargo test -p tally-tests --test api openapi`;
# the same test fails while this copy differs from what the code generates.
";

/// The document as the committed `openapi.yaml`.
pub fn yaml() -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    Ok(format!("{YAML_HEADER}{}", document().to_yaml()?))
}

/// The document and the reference page, built once per process.
fn served() -> &'static (String, String) {
    static SERVED: OnceLock<(String, String)> = OnceLock::new();
    SERVED.get_or_init(|| {
        let doc = document();
        let json = serde_json::to_value(&doc).unwrap_or_default();
        (json.to_string(), super::reference::page(&json))
    })
}

/// `GET /openapi.json` and `GET /docs`: the document and a reference page rendered
/// from it. Local only; the Lambda functions do not serve them.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(reference_page))
}

async fn openapi_json() -> Response {
    let (json, _) = served();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json.clone(),
    )
        .into_response()
}

async fn reference_page() -> Response {
    let (_, html) = served();
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                super::reference::content_security_policy(),
            ),
        ],
        html.clone(),
    )
        .into_response()
}
