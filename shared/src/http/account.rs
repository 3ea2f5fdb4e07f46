//! The `account` function's routes (docs/api.md, "account function", role admin):
//! exports and account closure.
//!
//! Exports are built by a job (the `ExportRequested` event) into sealed pages and
//! served page by page (`?page=N`), so a tenant of any size stays within Lambda's
//! 6 MB response limit; each page is a JSON document, and concatenating the sections of
//! all pages gives the whole export.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AccountState;
use super::dto::PathId;
use super::dto::account::{
    AccountClosed, CloseAccountRequest, ExportAccepted, ExportPage, PageNumber, PageParams,
};
use super::dto::error::ErrorBody;
use super::error::ApiError;
use super::json::ApiJson;
use super::responses::{
    BodyRefused, ConcurrentUpdate, InvalidRequest, Locked, RateLimited, RoleForbidden,
    Unauthenticated,
};
use super::session::{AdminOnly, Authorized};
use crate::domain::ids::ExportId;
use crate::services::contexts::Tenancy;
use std::sync::Arc;

type Admin = Authorized<AdminOnly>;

pub fn routes() -> OpenApiRouter<AccountState> {
    OpenApiRouter::new()
        .routes(routes!(request_export))
        .routes(routes!(export_page))
        .routes(routes!(close_account))
}

/// Request an export of the tenant's data
///
/// At most one export per tenant a minute (429 with `Retry-After` otherwise).
#[utoipa::path(
    post, path = "/v1/exports", tag = "account", operation_id = "requestExport",
    responses(
        (status = 202, description = "Requested; poll `GET /v1/exports/{id}`.", body = ExportAccepted),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 429, response = RateLimited),
    )
)]
async fn request_export(
    State(app): State<Arc<Tenancy>>,
    admin: Admin,
) -> Result<(StatusCode, Json<ExportAccepted>), ApiError> {
    let id = app.request_export(&admin.ctx).await?;
    Ok((StatusCode::ACCEPTED, Json(ExportAccepted { id })))
}

/// An export's status, and one page of it once ready
///
/// While the export is built, `status` is `pending` and `document` null. Once ready,
/// `document` is page `page` of `pages` (JSON sections: tenant, users without secrets,
/// integrations without tokens, customers, subscriptions, payments, metrics);
/// concatenating the sections of all pages gives the whole export.
#[utoipa::path(
    get, path = "/v1/exports/{id}", tag = "account", operation_id = "getExport",
    params(PathId<ExportId>, PageParams),
    responses(
        (status = 200, description = "The export.", body = ExportPage),
        (status = 400, response = InvalidRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 404, body = ErrorBody, description = "`not_found`: unknown, expired or another tenant's export, or a page past the last."),
    )
)]
async fn export_page(
    State(app): State<Arc<Tenancy>>,
    admin: Admin,
    PathId(id): PathId<ExportId>,
    PageNumber(page): PageNumber,
) -> Result<Json<ExportPage>, ApiError> {
    Ok(Json(app.export_page(&admin.ctx, &id, page).await?.into()))
}

/// Close the tenant's account
///
/// Sessions end and access is refused at once; everything is deleted within 30 days.
/// `confirm` must be the company name exactly.
#[utoipa::path(
    delete, path = "/v1/account", tag = "account", operation_id = "closeAccount",
    request_body = CloseAccountRequest,
    responses(
        (status = 202, description = "Closed; the deletion deadline.", body = AccountClosed),
        (status = 400, body = ErrorBody, description = "`invalid_request` (a missing or wrongly typed field; `confirm` is not the company name)."),
        (status = 401, body = ErrorBody, description = "`unauthenticated`, `invalid_credentials` (wrong password)."),
        (status = 403, response = RoleForbidden),
        (status = 409, response = ConcurrentUpdate),
        BodyRefused,
        (status = 423, response = Locked),
        (status = 429, response = RateLimited),
    )
)]
async fn close_account(
    State(app): State<Arc<Tenancy>>,
    admin: Admin,
    ApiJson(body): ApiJson<CloseAccountRequest>,
) -> Result<(StatusCode, Json<AccountClosed>), ApiError> {
    let deleted_by = app
        .close_account(&admin.ctx, &body.password, &body.confirm)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(AccountClosed { deleted_by })))
}
