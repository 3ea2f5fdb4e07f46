//! Support access over HTTP (docs/api.md, "support access").
//!
//! * [`admin_routes`] (the `admin` function, role admin): a tenant's grants to
//!   operators — create, list, revoke.
//! * [`operator_routes`] (the `auth` function): an operator's sign-in and sign-out, and
//!   break-glass access. The tenant an operator reads or opens is named by the
//!   `X-Tally-Tenant` header; its reads go through the query routes themselves
//!   (`session::Authorized`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::PathId;
use super::dto::error::ErrorBody;
use super::dto::support::{
    BreakGlassRequest, GrantRequest, NewOperatorSession, OperatorLoginRequest, SupportGrant,
    SupportGrantList,
};
use super::error::ApiError;
use super::json::ApiJson;
use super::query::{PageRequest, page_in_memory};
use super::responses::{
    BodyRefused, InvalidRequest, NotFound, RateLimited, RoleForbidden, Unauthenticated,
};
use super::session::{AdminOnly, Authorized, OperatorSession, TENANT_HEADER};
use super::{AdminState, AuthState, ClientIp};
use crate::domain::ids::{GrantId, TenantId};
use crate::services::contexts::{Identity, TenantAdmin};
use crate::services::operators::OperatorLoginRequest as Login;
use std::sync::Arc;

type Admin = Authorized<AdminOnly>;

pub fn admin_routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list_grants, create_grant))
        .routes(routes!(revoke_grant))
}

pub fn operator_routes() -> OpenApiRouter<AuthState> {
    OpenApiRouter::new()
        .routes(routes!(operator_login))
        .routes(routes!(operator_logout))
        .routes(routes!(break_glass))
}

/// The tenant named by `X-Tally-Tenant` (an operator's request only).
pub struct NamedTenant(pub TenantId);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for NamedTenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .headers
            .get(TENANT_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(TenantId::parse)
            .map(NamedTenant)
            .ok_or(ApiError::NotFound)
    }
}

/// The tenant's support grants
///
/// Live grants (`status: active`) and ended ones not yet deleted, newest first.
#[utoipa::path(
    get, path = "/v1/support/grants", tag = "support", operation_id = "listSupportGrants",
    params(PageRequest),
    responses(
        (status = 200, description = "One page of grants.", body = SupportGrantList),
        (status = 400, response = InvalidRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
    )
)]
async fn list_grants(
    State(app): State<Arc<TenantAdmin>>,
    admin: Admin,
    page: PageRequest,
) -> Result<Json<SupportGrantList>, ApiError> {
    let grants = app.list_support_grants(&admin.ctx).await?;
    let (data, next_cursor) = page_in_memory(grants, &page, |g| g.id.to_string())?;
    Ok(Json(SupportGrantList {
        data: data.into_iter().map(SupportGrant::from).collect(),
        next_cursor,
    }))
}

/// Grant an operator read access
///
/// One operator may read this tenant's analytics, metrics and customers (never write)
/// for `duration_hours` (at most 72), for the reason given. Every read is in the audit
/// log.
#[utoipa::path(
    post, path = "/v1/support/grants", tag = "support", operation_id = "createSupportGrant",
    request_body = GrantRequest,
    responses(
        (status = 201, description = "Granted.", body = SupportGrant),
        (status = 400, body = ErrorBody, description = "`invalid_request`: `duration_hours` \
            outside 1-72, a `reason` outside 10-1,000 characters, an unknown `operator_id`."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        BodyRefused,
    )
)]
async fn create_grant(
    State(app): State<Arc<TenantAdmin>>,
    admin: Admin,
    ApiJson(body): ApiJson<GrantRequest>,
) -> Result<(StatusCode, Json<SupportGrant>), ApiError> {
    let grant = app
        .grant_support(
            &admin.ctx,
            &body.operator_id,
            &body.reason,
            body.duration_hours,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(grant.into())))
}

/// Revoke a support grant
///
/// Access ends with the operator's next request. Break-glass access may be revoked too.
#[utoipa::path(
    delete, path = "/v1/support/grants/{id}", tag = "support", operation_id = "revokeSupportGrant",
    params(PathId<GrantId>),
    responses(
        (status = 204, description = "Revoked."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 404, response = NotFound),
    )
)]
async fn revoke_grant(
    State(app): State<Arc<TenantAdmin>>,
    admin: Admin,
    PathId(id): PathId<GrantId>,
) -> Result<StatusCode, ApiError> {
    app.revoke_support_grant(&admin.ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sign in as an operator
///
/// Staff only (operators are created by the `local operator create` command, never
/// through this API). A TOTP code is always required. The token starts with `op_`; it
/// reaches no tenant without that tenant's grant.
#[utoipa::path(
    post, path = "/v1/operator/sessions", tag = "support", operation_id = "createOperatorSession",
    security(),
    request_body = OperatorLoginRequest,
    responses(
        (status = 201, description = "Signed in.", body = NewOperatorSession),
        (status = 400, response = InvalidRequest),
        (status = 401, body = ErrorBody, description = "`invalid_credentials`, `mfa_required` \
            (send `totp_code`), `invalid_mfa_code`."),
        BodyRefused,
        (status = 423, body = ErrorBody, description = "`password_reset_required`: too many \
            failed sign-ins (`local operator unlock`)."),
        (status = 429, response = RateLimited),
    )
)]
async fn operator_login(
    State(app): State<Arc<Identity>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<OperatorLoginRequest>,
) -> Result<(StatusCode, Json<NewOperatorSession>), ApiError> {
    let session = app
        .operator_login(Login {
            email: body.email,
            password: body.password,
            totp_code: body.totp_code,
            ip,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(session.into())))
}

/// Sign out an operator
#[utoipa::path(
    delete, path = "/v1/operator/sessions/current", tag = "support",
    operation_id = "deleteOperatorSession",
    responses(
        (status = 204, description = "The session has ended."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
    )
)]
async fn operator_logout(
    State(app): State<Arc<Identity>>,
    OperatorSession(op): OperatorSession,
) -> Result<StatusCode, ApiError> {
    app.operator_logout(&op).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Break-glass access
///
/// An operator opens read access to the tenant named by `X-Tally-Tenant` without its
/// consent, for a critical security issue or suspected abuse: a written reason, 4 hours
/// at most. The tenant's admins are notified at once (a `SupportBreakGlassOpened`
/// event) and the opening is in the tenant's audit log.
#[utoipa::path(
    post, path = "/v1/operator/break-glass", tag = "support", operation_id = "openBreakGlass",
    params(("X-Tally-Tenant" = String, Header, format = "uuid", description = "The tenant.")),
    request_body = BreakGlassRequest,
    responses(
        (status = 201, description = "Opened.", body = SupportGrant),
        (status = 400, body = ErrorBody, description = "`invalid_request`: `duration_hours` \
            outside 1-4, a `reason` outside 10-1,000 characters."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 404, response = NotFound),
        BodyRefused,
    )
)]
async fn break_glass(
    State(app): State<Arc<Identity>>,
    OperatorSession(op): OperatorSession,
    NamedTenant(tenant): NamedTenant,
    ApiJson(body): ApiJson<BreakGlassRequest>,
) -> Result<(StatusCode, Json<SupportGrant>), ApiError> {
    let grant = app
        .break_glass(&op, &tenant, &body.reason, body.duration_hours)
        .await?;
    Ok((StatusCode::CREATED, Json(grant.into())))
}
