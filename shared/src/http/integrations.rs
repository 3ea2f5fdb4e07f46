//! The `oauth` function's routes (docs/api.md, "oauth function"): integrations, the
//! Stripe OAuth install, restricted keys, Paddle API keys, sync requests, disconnects
//! and Stripe and Paddle webhooks.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::OauthState;
use super::dto::PathId;
use super::dto::error::ErrorBody;
use super::dto::integrations::{
    CallbackParams, ConnectKeyRequest, DataDeletedBy, Integration, IntegrationList, KeyProvider,
    OAuthStart, PaddleNotification, StripeEvent, WebhookAck, WebhookSecretRequest,
};
use super::error::ApiError;
use super::json::ApiJson;
use super::query::{ApiQuery, PageRequest, page_in_memory};
use super::responses::{
    BodyRefused, ConcurrentUpdate, InvalidRequest, NotFound, PayloadTooLarge, RedirectToApp,
    RoleForbidden, SessionForbidden, Unauthenticated,
};
use super::session::{AdminOnly, Authorized, Session};
use crate::domain::ids::IntegrationId;
use crate::services::ServiceError;
use crate::services::contexts::Integrations;
use crate::services::error::BadRequest;
use std::sync::Arc;

type Admin = Authorized<AdminOnly>;

/// The most bytes a webhook body may have (Stripe events and Paddle notifications are
/// well under this).
const WEBHOOK_BODY_LIMIT: usize = 64 * 1024;

pub fn routes() -> OpenApiRouter<OauthState> {
    OpenApiRouter::new()
        .routes(routes!(list, connect_with_key))
        .routes(routes!(start_oauth))
        .routes(routes!(oauth_callback))
        .routes(routes!(request_sync))
        .routes(routes!(set_webhook_secret))
        .routes(routes!(disconnect))
        .routes(routes!(stripe_webhook))
        .routes(routes!(paddle_webhook))
}

/// The tenant's integrations (every role)
///
/// The integrations, a page at a time.
#[utoipa::path(
    get, path = "/v1/integrations", tag = "integrations", operation_id = "listIntegrations",
    params(PageRequest),
    responses(
        (status = 200, description = "The integrations.", body = IntegrationList),
        (status = 400, response = InvalidRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = SessionForbidden),
    )
)]
async fn list(
    State(app): State<Arc<Integrations>>,
    session: Session,
    page: PageRequest,
) -> Result<Json<IntegrationList>, ApiError> {
    let integrations = app.list_integrations(&session.ctx).await?;
    let (data, next_cursor) = page_in_memory(integrations, &page, |i| i.id.to_string())?;
    Ok(Json(IntegrationList {
        data: data.into_iter().map(Integration::from).collect(),
        next_cursor,
    }))
}

/// Connect Stripe or Paddle with a read-only API key
///
/// The key is checked against the processor before it is stored; a first sync is
/// queued. Paddle keys go to Paddle's live or sandbox API by their prefix.
#[utoipa::path(
    post, path = "/v1/integrations", tag = "integrations", operation_id = "connectWithKey",
    request_body = ConnectKeyRequest,
    responses(
        (status = 201, description = "Connected.", body = Integration),
        (status = 400, body = ErrorBody, description = "`invalid_request` (also a `webhook_secret` \
            that is not a Paddle notification secret), `key_not_restricted` (a secret Stripe `sk_…` \
            key), `invalid_api_key` (not a Stripe restricted key or a Paddle API key, or the \
            processor refused it or a read the sync needs)."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 409, body = ErrorBody, description = "`email_unverified`: the tenant's sign-up address is not proven yet (`POST /v1/email/verify`)."),
        BodyRefused,
        (status = 502, body = ErrorBody, description = "`provider_unavailable`: the processor could not \
            be reached or answered out of contract while the key was checked; nothing was saved \
            and the call may be retried."),
    )
)]
async fn connect_with_key(
    State(app): State<Arc<Integrations>>,
    admin: Admin,
    ApiJson(body): ApiJson<ConnectKeyRequest>,
) -> Result<(StatusCode, Json<Integration>), ApiError> {
    let integration = match body.provider {
        KeyProvider::Stripe => {
            if body.webhook_secret.is_some() {
                return Err(ApiError::invalid_field(
                    "webhook_secret",
                    "Only a Paddle integration takes a webhook secret.",
                ));
            }
            app.connect_stripe_key(&admin.ctx, &body.api_key).await?
        }
        KeyProvider::Paddle => {
            app.connect_paddle_key(&admin.ctx, &body.api_key, body.webhook_secret.as_ref())
                .await?
        }
    };
    Ok((StatusCode::CREATED, Json(integration.into())))
}

/// Start the Stripe OAuth install
///
/// `state` is single-use, bound to the tenant and the user, valid 10 minutes, and to
/// this browser: the reply sets the cookie `__Host-tally_oauth` (`Secure; HttpOnly;
/// SameSite=Lax`), which the callback must carry.
#[utoipa::path(
    post, path = "/v1/integrations/stripe/connect", tag = "integrations",
    operation_id = "startStripeOAuth",
    responses(
        (status = 200, description = "Where to send the browser.", body = OAuthStart,
            headers(("Set-Cookie" = String, description = "`__Host-tally_oauth`, the browser binding of `state`."))),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 409, body = ErrorBody, description = "`oauth_not_configured`: this deployment has no Stripe app credentials; `email_unverified`: the tenant's sign-up address is not proven yet (`POST /v1/email/verify`)."),
    )
)]
async fn start_oauth(
    State(app): State<Arc<Integrations>>,
    admin: Admin,
) -> Result<Response, ApiError> {
    let (authorize_url, state) = app.start_stripe_oauth(&admin.ctx).await?;
    let cookie = oauth_cookie::set(&state);
    let body = Json(OAuthStart {
        authorize_url,
        state,
    });
    Ok(([(header::SET_COOKIE, cookie)], body).into_response())
}

/// Stripe's OAuth redirect back to Tally
///
/// Always a redirect to the configured app URL (`?connected=<id>` or `?error=<code>`,
/// `stripe_account_linked` when the account is connected to another tenant), except
/// for a state that is not valid or not this browser's (400): the browser of a forged,
/// replayed or handed-over callback is told nothing more.
#[utoipa::path(
    get, path = "/v1/oauth/stripe/callback", tag = "integrations",
    operation_id = "stripeOAuthCallback", security(),
    params(CallbackParams),
    responses(
        (status = 302, response = inline(RedirectToApp)),
        (status = 400, body = ErrorBody, description = "`invalid_state` (missing, unknown, used or expired, or without the `__Host-tally_oauth` cookie of the browser that started it), `invalid_request`."),
    )
)]
async fn oauth_callback(
    State(app): State<Arc<Integrations>>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<CallbackParams>,
) -> Result<Response, ApiError> {
    let invalid_state = || ApiError::rejected(BadRequest::InvalidState);
    let state = params
        .state
        .filter(|s| !s.is_empty() && s.len() <= 128)
        .ok_or_else(invalid_state)?;
    // Only the browser that started the install may finish it: another browser handed
    // the link (an attacker's, say) has no cookie, or its own.
    if !oauth_cookie::matches(&headers, &state) {
        return Err(invalid_state());
    }
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
    let headers = [
        (header::LOCATION, target),
        (header::SET_COOKIE, oauth_cookie::clear()),
    ];
    Ok((StatusCode::FOUND, headers).into_response())
}

/// The cookie that binds an OAuth `state` to the browser that asked for it.
mod oauth_cookie {
    use axum::http::{HeaderMap, header};

    use crate::domain::crypto::constant_time_eq;

    const NAME: &str = "__Host-tally_oauth";
    /// As long as the state is valid.
    const MAX_AGE_SECS: u32 = 600;

    pub(super) fn set(state: &str) -> String {
        format!("{NAME}={state}; Path=/; Max-Age={MAX_AGE_SECS}; Secure; HttpOnly; SameSite=Lax")
    }

    pub(super) fn clear() -> String {
        format!("{NAME}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax")
    }

    /// Whether a `Cookie` header of the request carries this state.
    pub(super) fn matches(headers: &HeaderMap, state: &str) -> bool {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| {
                name == NAME && constant_time_eq(value.as_bytes(), state.as_bytes())
            })
    }
}

/// Set a Paddle integration's notification secret
///
/// The webhook URL (`/v1/webhooks/paddle/{id}`) names the integration, so Paddle's
/// notification destination, and with it its secret, can only be made once the
/// integration exists; a rotated secret replaces the old one the same way. Stored with
/// the API key in the SecretStore, never shown again.
#[utoipa::path(
    put, path = "/v1/integrations/{id}/webhook-secret", tag = "integrations",
    operation_id = "setWebhookSecret",
    params(PathId<IntegrationId>),
    request_body = WebhookSecretRequest,
    responses(
        (status = 204, description = "Stored: signed notifications now queue syncs."),
        (status = 400, response = InvalidRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 404, response = NotFound),
        (status = 409, body = ErrorBody, description = "`not_paddle_integration`: only a Paddle integration takes a notification secret."),
        BodyRefused,
    )
)]
async fn set_webhook_secret(
    State(app): State<Arc<Integrations>>,
    admin: Admin,
    PathId(id): PathId<IntegrationId>,
    ApiJson(body): ApiJson<WebhookSecretRequest>,
) -> Result<StatusCode, ApiError> {
    app.set_paddle_webhook_secret(&admin.ctx, &id, &body.webhook_secret)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Queue a sync of an integration
#[utoipa::path(
    post, path = "/v1/integrations/{id}/sync", tag = "integrations", operation_id = "requestSync",
    params(PathId<IntegrationId>),
    responses(
        (status = 202, description = "Queued (no body)."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 404, response = NotFound),
        (status = 409, body = ErrorBody, description = "`import_only`: a custom integration has nothing to sync; its data comes through `POST /v1/integrations/{id}/import/{kind}`."),
    )
)]
async fn request_sync(
    State(app): State<Arc<Integrations>>,
    admin: Admin,
    PathId(id): PathId<IntegrationId>,
) -> Result<StatusCode, ApiError> {
    app.request_sync(&admin.ctx, &id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Disconnect an integration
///
/// Access is revoked now; the integration's data is deleted within 24 hours.
#[utoipa::path(
    delete, path = "/v1/integrations/{id}", tag = "integrations",
    operation_id = "disconnectIntegration",
    params(PathId<IntegrationId>),
    responses(
        (status = 202, description = "Disconnected; the data deletion deadline.", body = DataDeletedBy),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 404, response = NotFound),
        (status = 409, response = ConcurrentUpdate),
    )
)]
async fn disconnect(
    State(app): State<Arc<Integrations>>,
    admin: Admin,
    PathId(id): PathId<IntegrationId>,
) -> Result<(StatusCode, Json<DataDeletedBy>), ApiError> {
    let data_deleted_by = app
        .disconnect_integration(admin.ctx.tenant(), &id, Some(&admin.ctx))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(DataDeletedBy { data_deleted_by }),
    ))
}

/// Stripe webhook endpoint
///
/// No session: the `Stripe-Signature` (HMAC-SHA256, 300 s tolerance) is verified. A
/// verified event only queues a sync (or marks a deauthorized integration disconnected);
/// repeated event ids are acknowledged without effect.
#[utoipa::path(
    post, path = "/v1/webhooks/stripe", tag = "integrations", operation_id = "stripeWebhook",
    security(),
    params(("Stripe-Signature" = String, Header, description = "Stripe's signature of the body.")),
    request_body = StripeEvent,
    responses(
        (status = 200, description = "Received.", body = WebhookAck),
        (status = 400, body = ErrorBody, description = "`invalid_signature` (missing or not verifying), `invalid_request` (not a Stripe event)."),
        (status = 413, response = PayloadTooLarge),
    )
)]
async fn stripe_webhook(
    State(app): State<Arc<Integrations>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WebhookAck>, ApiError> {
    // A body over the router's limit is refused while it is read: answered here in the
    // error shape, like every other route's.
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::invalid_field("body", "The body could not be read."),
    })?;
    if body.len() > WEBHOOK_BODY_LIMIT {
        return Err(ApiError::PayloadTooLarge);
    }
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::rejected(BadRequest::SignatureMissing))?;
    app.stripe_webhook(signature, &body).await?;
    Ok(Json(WebhookAck { received: true }))
}

/// Paddle webhook endpoint
///
/// No session: the `Paddle-Signature` (`ts=…;h1=…`, HMAC-SHA256 over `ts:body` with the
/// integration's notification secret, 5 s tolerance) is verified. A verified
/// notification only queues a sync of the integration; repeated event ids are
/// acknowledged without effect. An unknown integration, or one without a notification
/// secret, is refused like a bad signature.
#[utoipa::path(
    post, path = "/v1/webhooks/paddle/{id}", tag = "integrations", operation_id = "paddleWebhook",
    security(),
    params(
        ("id" = String, Path, description = "The integration the notification destination was created for."),
        ("Paddle-Signature" = String, Header, description = "Paddle's signature of the body."),
    ),
    request_body = PaddleNotification,
    responses(
        (status = 200, description = "Received.", body = WebhookAck),
        (status = 400, body = ErrorBody, description = "`invalid_signature` (missing, not verifying, or an unknown integration), `invalid_request` (not a Paddle notification)."),
        (status = 413, response = PayloadTooLarge),
    )
)]
async fn paddle_webhook(
    State(app): State<Arc<Integrations>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WebhookAck>, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::invalid_field("body", "The body could not be read."),
    })?;
    if body.len() > WEBHOOK_BODY_LIMIT {
        return Err(ApiError::PayloadTooLarge);
    }
    let signature = headers
        .get("paddle-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::rejected(BadRequest::SignatureMissing))?;
    app.paddle_webhook(&id, signature, &body).await?;
    Ok(Json(WebhookAck { received: true }))
}
