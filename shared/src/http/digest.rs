//! The weekly digest's routes, each on the function whose role may do what it does:
//!
//! * `GET/PUT /v1/me/digest` — the caller's own opt-in (any role), on `auth` beside
//!   `/v1/me`;
//! * `GET/PUT/DELETE /v1/settings/slack-webhook` — the tenant's Slack webhook (admin),
//!   on `oauth`, the function that writes and deletes tenants' secrets and never reads
//!   them back;
//! * `GET /v1/settings/digest/preview` — the digest the next run would send (admin: it
//!   names customers), on `query`; it records and sends nothing.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::digest::{
    DigestPreview, DigestSubscription, SlackWebhookRequest, SlackWebhookStatus,
};
use super::dto::error::ErrorBody;
use super::error::ApiError;
use super::json::ApiJson;
use super::responses::{
    BodyRefused, ConcurrentUpdate, NoDataYet, RoleForbidden, SessionForbidden, Unauthenticated,
};
use super::session::{AdminOnly, Authorized, Session};
use super::{AuthState, OauthState, QueryState};
use crate::domain::digest::SlackWebhookUrl;
use crate::services::contexts::{Analytics, Identity, Integrations};
use crate::services::error::Conflict;

pub fn me_routes() -> OpenApiRouter<AuthState> {
    OpenApiRouter::new().routes(routes!(get_subscription, put_subscription))
}

pub fn slack_routes() -> OpenApiRouter<OauthState> {
    OpenApiRouter::new().routes(routes!(get_slack, put_slack, delete_slack))
}

pub fn preview_routes() -> OpenApiRouter<QueryState> {
    OpenApiRouter::new().routes(routes!(preview))
}

/// The caller's weekly digest
///
/// Whether the caller receives the weekly digest by e-mail (off until turned on).
#[utoipa::path(
    get, path = "/v1/me/digest", tag = "auth", operation_id = "getMyDigest",
    responses(
        (status = 200, description = "The caller's choice.", body = DigestSubscription),
        (status = 401, response = Unauthenticated),
        (status = 403, response = SessionForbidden),
    )
)]
async fn get_subscription(
    State(app): State<Arc<Identity>>,
    session: Session,
) -> Result<Json<DigestSubscription>, ApiError> {
    let weekly = app.digest_subscription(&session.ctx).await?;
    Ok(Json(DigestSubscription { weekly }))
}

/// Turn the caller's weekly digest on or off
///
/// Every Monday, the last complete ISO week's MRR, movements, customers and new risks,
/// by e-mail to the caller's address.
#[utoipa::path(
    put, path = "/v1/me/digest", tag = "auth", operation_id = "putMyDigest",
    request_body = DigestSubscription,
    responses(
        (status = 200, description = "The caller's choice as stored.", body = DigestSubscription),
        (status = 400, body = ErrorBody, description = "`invalid_request` (a missing or wrongly typed `weekly`)."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = SessionForbidden),
        (status = 409, response = ConcurrentUpdate),
        BodyRefused,
    )
)]
async fn put_subscription(
    State(app): State<Arc<Identity>>,
    session: Session,
    ApiJson(body): ApiJson<DigestSubscription>,
) -> Result<Json<DigestSubscription>, ApiError> {
    let weekly = app
        .set_digest_subscription(&session.ctx, body.weekly)
        .await?;
    Ok(Json(DigestSubscription { weekly }))
}

fn status(setting: Option<crate::repos::digests::SlackSetting>) -> SlackWebhookStatus {
    SlackWebhookStatus {
        configured: setting.is_some(),
        updated_at: setting.map(|s| s.updated_at),
    }
}

/// The tenant's Slack webhook (admin)
///
/// Whether the weekly digest is posted to Slack. The URL is never returned.
#[utoipa::path(
    get, path = "/v1/settings/slack-webhook", tag = "integrations",
    operation_id = "getSlackWebhook",
    responses(
        (status = 200, description = "Whether one is configured.", body = SlackWebhookStatus),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
    )
)]
async fn get_slack(
    State(app): State<Arc<Integrations>>,
    admin: Authorized<AdminOnly>,
) -> Result<Json<SlackWebhookStatus>, ApiError> {
    Ok(Json(status(app.slack_webhook(&admin.ctx).await?)))
}

/// Set the tenant's Slack webhook (admin)
///
/// A Slack incoming-webhook URL, `https://hooks.slack.com/services/...`; kept in the
/// secret store, never returned or logged. Replaces the one set before.
#[utoipa::path(
    put, path = "/v1/settings/slack-webhook", tag = "integrations",
    operation_id = "putSlackWebhook",
    request_body = SlackWebhookRequest,
    responses(
        (status = 200, description = "Configured.", body = SlackWebhookStatus),
        (status = 400, body = ErrorBody, description = "`invalid_request` naming `url`: not a Slack incoming-webhook URL."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        BodyRefused,
    )
)]
async fn put_slack(
    State(app): State<Arc<Integrations>>,
    admin: Authorized<AdminOnly>,
    ApiJson(body): ApiJson<SlackWebhookRequest>,
) -> Result<Json<SlackWebhookStatus>, ApiError> {
    let url = SlackWebhookUrl::parse(&body.url)
        .map_err(|err| ApiError::invalid_field("url", err.to_string()))?;
    let setting = app.set_slack_webhook(&admin.ctx, url).await?;
    Ok(Json(status(Some(setting))))
}

/// Remove the tenant's Slack webhook (admin)
#[utoipa::path(
    delete, path = "/v1/settings/slack-webhook", tag = "integrations",
    operation_id = "deleteSlackWebhook",
    responses(
        (status = 204, description = "Removed (or there was none)."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
    )
)]
async fn delete_slack(
    State(app): State<Arc<Integrations>>,
    admin: Authorized<AdminOnly>,
) -> Result<StatusCode, ApiError> {
    app.delete_slack_webhook(&admin.ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The weekly digest the next run would send (admin)
///
/// The last complete ISO week's (Monday to Sunday, UTC) MRR and movements in the
/// reporting currency (as `GET /v1/metrics/mrr_movements` reports the same week),
/// customers, and the customers new on the churn-risk and payment-failure-risk lists
/// since the last digest sent (ids only). Nothing is recorded or sent.
#[utoipa::path(
    get, path = "/v1/settings/digest/preview", tag = "analytics",
    operation_id = "previewDigest",
    responses(
        (status = 200, description = "The digest.", body = DigestPreview),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 409, response = NoDataYet),
    )
)]
async fn preview(
    State(app): State<Arc<Analytics>>,
    admin: Authorized<AdminOnly>,
) -> Result<Json<DigestPreview>, ApiError> {
    match app.digest_preview(admin.ctx.tenant()).await? {
        Some(digest) => Ok(Json(digest)),
        None => Err(ApiError::rejected(Conflict::NoDataYet)),
    }
}
