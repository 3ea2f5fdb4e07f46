//! The `oauth` function's routes (API.md "oauth function"): integrations, the Stripe
//! OAuth install, restricted keys, sync requests, disconnects and Stripe webhooks.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::json::ApiJson;
use super::query::{ApiQuery, ListParams, page_in_memory};
use super::session::{AdminOnly, Authorized, Session};
use crate::domain::ids::IntegrationId;
use crate::services::ServiceError;
use crate::services::error::BadRequest;

type Admin = Authorized<AdminOnly>;

/// The most bytes a webhook body may have (Stripe events are well under this).
const WEBHOOK_BODY_LIMIT: usize = 64 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/integrations", get(list).post(connect_with_key))
        .route("/v1/integrations/stripe/connect", post(start_oauth))
        .route("/v1/oauth/stripe/callback", get(oauth_callback))
        .route("/v1/integrations/{id}/sync", post(request_sync))
        .route("/v1/integrations/{id}", delete(disconnect))
        .route("/v1/webhooks/stripe", post(stripe_webhook))
}

async fn list(
    State(app): State<AppState>,
    session: Session,
    ApiQuery(paging): ApiQuery<ListParams>,
) -> Result<Response, ApiError> {
    let integrations = app.list_integrations(&session.ctx).await?;
    let (data, next) = page_in_memory(integrations, &paging, |i| i.id.to_string())?;
    Ok(Json(json!({ "data": data, "next_cursor": next })).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ProviderName {
    Stripe,
}

#[derive(Deserialize)]
struct KeyBody {
    #[allow(dead_code)]
    provider: ProviderName,
    api_key: SecretString,
}

async fn connect_with_key(
    State(app): State<AppState>,
    admin: Admin,
    ApiJson(body): ApiJson<KeyBody>,
) -> Result<Response, ApiError> {
    let integration = app.connect_stripe_key(&admin.ctx, &body.api_key).await?;
    Ok((StatusCode::CREATED, Json(integration)).into_response())
}

async fn start_oauth(State(app): State<AppState>, admin: Admin) -> Result<Response, ApiError> {
    let (authorize_url, state) = app.start_stripe_oauth(&admin.ctx).await?;
    Ok(Json(json!({ "authorize_url": authorize_url, "state": state })).into_response())
}

#[derive(Deserialize)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Always a redirect to the app, except for a state that is not ours (400): the
/// browser of a forged or replayed callback is told nothing more.
async fn oauth_callback(
    State(app): State<AppState>,
    ApiQuery(params): ApiQuery<CallbackParams>,
) -> Result<Response, ApiError> {
    let invalid_state = || ApiError::rejected(BadRequest::InvalidState);
    let state = params
        .state
        .filter(|s| !s.is_empty() && s.len() <= 128)
        .ok_or_else(invalid_state)?;
    let base = app.config.app_url.clone();
    let target = match (params.code, params.error) {
        (Some(code), None) if !code.is_empty() && code.len() <= 512 => {
            match app.finish_stripe_oauth(&code, &state).await {
                Ok(id) => format!("{base}/?connected={id}"),
                Err(ServiceError::InvalidToken) => return Err(invalid_state()),
                Err(ServiceError::BadRequest(kind)) => format!("{base}/?error={}", kind.as_str()),
                Err(ServiceError::Conflict(kind)) => format!("{base}/?error={}", kind.as_str()),
                Err(other) => return Err(other.into()),
            }
        }
        // The merchant declined at Stripe, or Stripe sent no code: consume the state.
        _ => {
            app.discard_oauth_state(&state).await.map_err(|e| match e {
                ServiceError::InvalidToken => invalid_state(),
                other => other.into(),
            })?;
            format!("{base}/?error=access_denied")
        }
    };
    Ok((StatusCode::FOUND, [(header::LOCATION, target)]).into_response())
}

async fn request_sync(
    State(app): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = IntegrationId::parse(&id).ok_or(ApiError::NotFound)?;
    app.request_sync(&admin.ctx, &id).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn disconnect(
    State(app): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = IntegrationId::parse(&id).ok_or(ApiError::NotFound)?;
    let deadline = app
        .disconnect_integration(admin.ctx.tenant(), &id, Some(&admin.ctx))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "data_deleted_by": deadline })),
    )
        .into_response())
}

async fn stripe_webhook(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if body.len() > WEBHOOK_BODY_LIMIT {
        return Err(ApiError::PayloadTooLarge);
    }
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::rejected(BadRequest::SignatureMissing))?;
    app.stripe_webhook(signature, &body).await?;
    Ok(Json(json!({ "received": true })).into_response())
}
