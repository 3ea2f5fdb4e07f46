//! The `admin` function's routes (docs/api.md, "admin function"): users, invitations,
//! the IP allowlist, the security policy, sign-in analytics and the audit log. Every
//! route but accepting an invitation takes `Authorized<AdminOnly>`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::download::Negotiated;
use super::dto::PathId;
use super::dto::admin::{
    AcceptInviteRequest, AllowEntry, AllowEntryList, AllowEntryRequest, AuditEntry, AuditEntryList,
    Invitation, InviteRequest, KeyRotationStarted, LoginAttempt, LoginAttemptReport,
    SecurityPolicy, User, UserList, UserPatch,
};
use super::dto::error::ErrorBody;
use super::error::ApiError;
use super::json::ApiJson;
use super::negotiate::ReplyFormat;
use super::query::{PageRequest, page_in_memory};
use super::report_params::{AttemptParams, Attempts, Range, ReportRange};
use super::responses::{
    BodyRefused, ConcurrentUpdate, InvalidRequest, NotAcceptable, NotFound, RoleForbidden,
    Unauthenticated,
};
use super::session::{AdminOnly, Authorized};
use super::{AdminState, ClientIp};
use crate::domain::ids::{EntryId, UserId};
use crate::services::contexts::TenantAdmin;
use crate::services::users::UserChanges;
use std::sync::Arc;

type Admin = Authorized<AdminOnly>;

pub fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, invite_user))
        .routes(routes!(update_user, delete_user))
        .routes(routes!(accept_invite))
        .routes(routes!(list_allowlist, add_allow_entry))
        .routes(routes!(remove_allow_entry))
        .routes(routes!(get_policy, put_policy))
        .routes(routes!(login_attempts))
        .routes(routes!(audit_log))
        .routes(routes!(rotate_keys))
}

/// The tenant's users
#[utoipa::path(
    get, path = "/v1/users", tag = "admin", operation_id = "listUsers",
    params(PageRequest, ReplyFormat),
    responses(
        (status = 200, description = "One page of users (CSV: one row per user; the next page in `Link`).",
            content((UserList = "application/json"), (String = "text/csv"))),
        (status = 400, response = InvalidRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 406, response = NotAcceptable),
    )
)]
async fn list_users(
    State(app): State<Arc<TenantAdmin>>,
    admin: Admin,
    page: PageRequest,
    format: ReplyFormat,
) -> Result<Negotiated<UserList>, ApiError> {
    let (users, next) = app.list_users(&admin.ctx, page.limit, page.cursor).await?;
    Ok(format.reply(UserList {
        data: users.into_iter().map(User::from).collect(),
        next_cursor: next.map(|c| c.encode()),
    }))
}

/// Invite a user
///
/// The invitation is emitted as an event carrying the token.
#[utoipa::path(
    post, path = "/v1/users", tag = "admin", operation_id = "inviteUser",
    request_body = InviteRequest,
    responses(
        (status = 201, description = "Invited.", body = Invitation),
        (status = 400, response = InvalidRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 409, body = ErrorBody, description = "`email_taken`: the address is already a user of this tenant (another tenant's address gets the 201 of a fresh one, see docs/api.md); `email_unverified`: the tenant's sign-up address is not proven yet (`POST /v1/email/verify`)."),
        BodyRefused,
    )
)]
async fn invite_user(
    State(app): State<Arc<TenantAdmin>>,
    admin: Admin,
    ApiJson(body): ApiJson<InviteRequest>,
) -> Result<(StatusCode, Json<Invitation>), ApiError> {
    let invitation = app.invite_user(&admin.ctx, &body.email, body.role).await?;
    Ok((StatusCode::CREATED, Json(invitation.into())))
}

/// Change a user's role or disable them
///
/// Disabling ends the user's sessions at once.
#[utoipa::path(
    patch, path = "/v1/users/{id}", tag = "admin", operation_id = "updateUser",
    params(PathId<UserId>),
    request_body = UserPatch,
    responses(
        (status = 200, description = "The user as changed.", body = User),
        (status = 400, response = InvalidRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 404, response = NotFound),
        (status = 409, body = ErrorBody, description = "`last_admin` (the tenant keeps one active admin), `concurrent_update`."),
        BodyRefused,
    )
)]
async fn update_user(
    State(app): State<Arc<TenantAdmin>>,
    admin: Admin,
    PathId(id): PathId<UserId>,
    ApiJson(body): ApiJson<UserPatch>,
) -> Result<Json<User>, ApiError> {
    let changes = UserChanges {
        role: body.role,
        disabled: body.disabled,
    };
    Ok(Json(
        app.update_user(&admin.ctx, &id, changes).await?.into(),
    ))
}

/// Delete a user
#[utoipa::path(
    delete, path = "/v1/users/{id}", tag = "admin", operation_id = "deleteUser",
    params(PathId<UserId>),
    responses(
        (status = 204, description = "Deleted, with their sessions."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 404, response = NotFound),
        (status = 409, body = ErrorBody, description = "`last_admin`, `concurrent_update`."),
    )
)]
async fn delete_user(
    State(app): State<Arc<TenantAdmin>>,
    admin: Admin,
    PathId(id): PathId<UserId>,
) -> Result<StatusCode, ApiError> {
    app.delete_user(&admin.ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accept an invitation and set a password
///
/// No session; the password must meet the tenant's policy.
#[utoipa::path(
    post, path = "/v1/invites/accept", tag = "admin", operation_id = "acceptInvite", security(),
    request_body = AcceptInviteRequest,
    responses(
        (status = 201, description = "The user can now sign in.", body = User),
        (status = 400, body = ErrorBody, description = "`invalid_request`, `invalid_token` (bad, used or expired), `weak_password`."),
        BodyRefused,
    )
)]
async fn accept_invite(
    State(app): State<Arc<TenantAdmin>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<AcceptInviteRequest>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let user = app.accept_invite(&body.token, &body.password, ip).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// The tenant's IP allowlist
///
/// The entries, a page at a time. An empty list allows any address.
#[utoipa::path(
    get, path = "/v1/security/ip-allowlist", tag = "admin", operation_id = "listAllowlist",
    params(PageRequest),
    responses(
        (status = 200, description = "The entries.", body = AllowEntryList),
        (status = 400, response = InvalidRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
    )
)]
async fn list_allowlist(
    State(app): State<Arc<TenantAdmin>>,
    admin: Admin,
    page: PageRequest,
) -> Result<Json<AllowEntryList>, ApiError> {
    let entries = app.list_allowlist(&admin.ctx).await?;
    let (data, next_cursor) = page_in_memory(entries, &page, |e| e.id.to_string())?;
    Ok(Json(AllowEntryList {
        data: data.into_iter().map(AllowEntry::from).collect(),
        next_cursor,
    }))
}

/// Allow an address or network
#[utoipa::path(
    post, path = "/v1/security/ip-allowlist", tag = "admin", operation_id = "addAllowEntry",
    request_body = AllowEntryRequest,
    responses(
        (status = 201, description = "Added.", body = AllowEntry),
        (status = 400, body = ErrorBody, description = "`invalid_request` (e.g. a `note` over 200 characters), `invalid_cidr`."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 409, body = ErrorBody, description = "`would_lock_out`: the list would not cover the caller's own address."),
        BodyRefused,
    )
)]
async fn add_allow_entry(
    State(app): State<Arc<TenantAdmin>>,
    admin: Admin,
    ApiJson(body): ApiJson<AllowEntryRequest>,
) -> Result<(StatusCode, Json<AllowEntry>), ApiError> {
    let entry = app
        .add_allow_entry(&admin.ctx, &body.cidr, &body.note)
        .await?;
    Ok((StatusCode::CREATED, Json(entry.into())))
}

/// Remove an allowlist entry
#[utoipa::path(
    delete, path = "/v1/security/ip-allowlist/{id}", tag = "admin",
    operation_id = "removeAllowEntry",
    params(PathId<EntryId>),
    responses(
        (status = 204, description = "Removed."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 404, response = NotFound),
        (status = 409, body = ErrorBody, description = "`would_lock_out`: the rest of the list would not cover the caller's own address."),
    )
)]
async fn remove_allow_entry(
    State(app): State<Arc<TenantAdmin>>,
    admin: Admin,
    PathId(id): PathId<EntryId>,
) -> Result<StatusCode, ApiError> {
    app.remove_allow_entry(&admin.ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tenant's security policy
#[utoipa::path(
    get, path = "/v1/security/policy", tag = "admin", operation_id = "getSecurityPolicy",
    responses(
        (status = 200, description = "The policy.", body = SecurityPolicy),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
    )
)]
async fn get_policy(
    State(app): State<Arc<TenantAdmin>>,
    admin: Admin,
) -> Result<Json<SecurityPolicy>, ApiError> {
    Ok(Json(app.policy(&admin.ctx).await?.into()))
}

/// Set the tenant's security policy
#[utoipa::path(
    put, path = "/v1/security/policy", tag = "admin", operation_id = "putSecurityPolicy",
    request_body = SecurityPolicy,
    responses(
        (status = 200, description = "The policy as stored.", body = SecurityPolicy),
        (status = 400, response = InvalidRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 409, response = ConcurrentUpdate),
        BodyRefused,
    )
)]
async fn put_policy(
    State(app): State<Arc<TenantAdmin>>,
    admin: Admin,
    ApiJson(body): ApiJson<SecurityPolicy>,
) -> Result<Json<SecurityPolicy>, ApiError> {
    Ok(Json(app.set_policy(&admin.ctx, body.into()).await?.into()))
}

/// Sign-in attempts, summarised and listed newest first
///
/// The summary covers the whole range and filter; `data` is one page.
#[utoipa::path(
    get, path = "/v1/security/login-attempts", tag = "admin", operation_id = "listLoginAttempts",
    params(ReportRange, AttemptParams, PageRequest),
    responses(
        (status = 200, description = "The report.", body = LoginAttemptReport),
        (status = 400, response = InvalidRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
    )
)]
async fn login_attempts(
    State(app): State<Arc<TenantAdmin>>,
    admin: Admin,
    Range(range): Range,
    Attempts(filter): Attempts,
    page: PageRequest,
) -> Result<Json<LoginAttemptReport>, ApiError> {
    let (summary, data, next) = app
        .login_attempts(&admin.ctx, range, &filter, page.limit, page.cursor)
        .await?;
    Ok(Json(LoginAttemptReport {
        summary: summary.into(),
        data: data.into_iter().map(LoginAttempt::from).collect(),
        next_cursor: next.map(|c| c.encode()),
    }))
}

/// The tenant's audit log, newest first
#[utoipa::path(
    get, path = "/v1/security/audit-log", tag = "admin", operation_id = "listAuditLog",
    params(ReportRange, PageRequest, ReplyFormat),
    responses(
        (status = 200, description = "One page of entries (CSV: one row per entry; the next page in `Link`).",
            content((AuditEntryList = "application/json"), (String = "text/csv"))),
        (status = 400, response = InvalidRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 406, response = NotAcceptable),
    )
)]
async fn audit_log(
    State(app): State<Arc<TenantAdmin>>,
    admin: Admin,
    Range(range): Range,
    page: PageRequest,
    format: ReplyFormat,
) -> Result<Negotiated<AuditEntryList>, ApiError> {
    let (data, next) = app
        .audit_log(&admin.ctx, range, page.limit, page.cursor)
        .await?;
    Ok(format.reply(AuditEntryList {
        data: data.into_iter().map(AuditEntry::from).collect(),
        next_cursor: next.map(|c| c.encode()),
    }))
}

/// Rotate the tenant's data key
///
/// A new data key seals every write from now on; the tenant's stored items are sealed
/// again under it by a background job, which then destroys the old key. Audited.
#[utoipa::path(
    post, path = "/v1/security/rotate-keys", tag = "admin", operation_id = "rotateKeys",
    responses(
        (status = 202, description = "Rotated; the re-seal runs in the background.", body = KeyRotationStarted),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 409, body = ErrorBody, description = "`rotation_in_progress`: the previous rotation is still re-sealing."),
    )
)]
async fn rotate_keys(
    State(app): State<Arc<TenantAdmin>>,
    admin: Admin,
) -> Result<(StatusCode, Json<KeyRotationStarted>), ApiError> {
    let rotation = app.rotate_keys(&admin.ctx).await?;
    Ok((StatusCode::ACCEPTED, Json(rotation.into())))
}
