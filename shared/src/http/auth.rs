//! The `auth` function's routes (docs/api.md, "auth function"): sign-up, sign-in and
//! sign-out, the caller's account and sessions, passwords, two-factor authentication.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::PathId;
use super::dto::auth::{
    CodeRequest, LoginRequest, Me, NewSession, PasswordChangeRequest, PasswordOnlyRequest,
    RecoveryCodes, ResetRequest, ResetRequestRequest, SessionList, SessionSummary, SignupRequest,
    SignupResponse, TotpDisableRequest, TotpEnrolment, VerifyEmailRequest,
};
use super::dto::error::{ErrorBody, LoginForbiddenError};
use super::error::ApiError;
use super::json::ApiJson;
use super::query::{PageRequest, page_in_memory};
use super::responses::{
    BodyRefused, InvalidRequest, Locked, NotFound, RateLimited, RoleForbidden, SessionForbidden,
    Unauthenticated,
};
use super::session::{AdminOnly, Authorized, EnrollingSession, Session};
use super::{AuthState, ClientIp};
use crate::domain::ids::SessionId;
use crate::services::accounts::SignupRequest as Signup;
use crate::services::contexts::Identity;
use crate::services::sessions::LoginRequest as Login;
use std::sync::Arc;

pub fn routes() -> OpenApiRouter<AuthState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(list_sessions))
        .routes(routes!(end_session))
        .routes(routes!(change_password))
        .routes(routes!(reset_request))
        .routes(routes!(reset))
        .routes(routes!(verify_email))
        .routes(routes!(resend_verification))
        .routes(routes!(totp_setup))
        .routes(routes!(totp_confirm))
        .routes(routes!(totp_disable))
}

/// Create a tenant and its first admin
#[utoipa::path(
    post, path = "/v1/signup", tag = "auth", operation_id = "signup", security(),
    request_body = SignupRequest,
    responses(
        (status = 201, description = "The tenant and its first admin exist.", body = SignupResponse),
        (status = 400, body = ErrorBody, description = "`invalid_request` (a missing or wrongly \
            typed field, an invalid `company` or `email`), `weak_password` (`details.rules` \
            lists each unmet rule)."),
        (status = 409, body = ErrorBody, description = "`email_taken`: an account with this e-mail exists."),
        BodyRefused,
        (status = 429, response = RateLimited),
    )
)]
async fn signup(
    State(app): State<Arc<Identity>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<SignupRequest>,
) -> Result<(StatusCode, Json<SignupResponse>), ApiError> {
    let (tenant_id, user_id) = app
        .signup(Signup {
            company: body.company,
            email: body.email,
            password: body.password,
            ip,
        })
        .await?;
    let reply = SignupResponse { tenant_id, user_id };
    Ok((StatusCode::CREATED, Json(reply)))
}

/// Sign in
///
/// Unknown e-mail and wrong password get the same reply in the same time. After five
/// failed attempts the account is locked until its password is reset (423).
#[utoipa::path(
    post, path = "/v1/sessions", tag = "auth", operation_id = "createSession", security(),
    request_body = LoginRequest,
    responses(
        (status = 201, description = "Signed in.", body = NewSession),
        (status = 400, response = InvalidRequest),
        (status = 401, body = ErrorBody, description = "`invalid_credentials` (unknown e-mail or \
            wrong password), `mfa_required` (send `totp_code` or `recovery_code`), \
            `invalid_mfa_code`."),
        (status = 403, body = LoginForbiddenError, description = "`ip_not_allowed` (not on the \
            tenant's allowlist), or `password_expired` with a single-use `change_token` (top \
            level and in `details`) for `POST /v1/password/change`."),
        BodyRefused,
        (status = 423, body = ErrorBody, description = "`password_reset_required`: too many failed sign-ins; reset the password."),
        (status = 429, response = RateLimited),
    )
)]
async fn login(
    State(app): State<Arc<Identity>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<(StatusCode, Json<NewSession>), ApiError> {
    let session = app
        .login(Login {
            email: body.email,
            password: body.password,
            totp_code: body.totp_code,
            recovery_code: body.recovery_code,
            ip,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(session.into())))
}

/// Sign out
#[utoipa::path(
    delete, path = "/v1/sessions/current", tag = "auth", operation_id = "deleteCurrentSession",
    responses(
        (status = 204, description = "The session has ended."),
        (status = 401, response = Unauthenticated),
    )
)]
async fn logout(
    State(app): State<Arc<Identity>>,
    EnrollingSession(session): EnrollingSession,
) -> Result<StatusCode, ApiError> {
    app.logout(&session.ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller and their tenant
#[utoipa::path(
    get, path = "/v1/me", tag = "auth", operation_id = "getMe",
    responses(
        (status = 200, description = "The caller.", body = Me),
        (status = 401, response = Unauthenticated),
    )
)]
async fn me(
    State(app): State<Arc<Identity>>,
    EnrollingSession(session): EnrollingSession,
) -> Result<Json<Me>, ApiError> {
    Ok(Json(app.me(&session.ctx).await?.into()))
}

/// The caller's own sessions
///
/// The caller's live sessions, a page at a time.
#[utoipa::path(
    get, path = "/v1/me/sessions", tag = "auth", operation_id = "listMySessions",
    params(PageRequest),
    responses(
        (status = 200, description = "The sessions.", body = SessionList),
        (status = 400, response = InvalidRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = SessionForbidden),
    )
)]
async fn list_sessions(
    State(app): State<Arc<Identity>>,
    session: Session,
    page: PageRequest,
) -> Result<Json<SessionList>, ApiError> {
    let sessions = app.list_sessions(&session.ctx).await?;
    let (data, next_cursor) = page_in_memory(sessions, &page, |s| s.id.to_string())?;
    Ok(Json(SessionList {
        data: data.into_iter().map(SessionSummary::from).collect(),
        next_cursor,
    }))
}

/// End one of the caller's own sessions
#[utoipa::path(
    delete, path = "/v1/me/sessions/{id}", tag = "auth", operation_id = "deleteMySession",
    params(PathId<SessionId>),
    responses(
        (status = 204, description = "The session has ended."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = SessionForbidden),
        (status = 404, response = NotFound),
    )
)]
async fn end_session(
    State(app): State<Arc<Identity>>,
    session: Session,
    PathId(id): PathId<SessionId>,
) -> Result<StatusCode, ApiError> {
    app.end_session(&session.ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change the password
///
/// Signed in: `{current_password, new_password}`. With an expired password (no session):
/// `{change_token, new_password}`, the token from the 403 `password_expired` of
/// `POST /v1/sessions`. Ends every other session of the user.
#[utoipa::path(
    post, path = "/v1/password/change", tag = "auth", operation_id = "changePassword",
    security(("bearer" = []), ()),
    request_body = PasswordChangeRequest,
    responses(
        (status = 204, description = "Changed."),
        (status = 400, body = ErrorBody, description = "`invalid_request` (neither \
            `current_password` nor `change_token`, a missing or wrongly typed field), \
            `weak_password`, `password_reused` (one of the last five), `invalid_token` (a \
            bad, used or expired `change_token`)."),
        (status = 401, body = ErrorBody, description = "`unauthenticated` (`current_password` \
            without a valid session), `invalid_credentials` (wrong `current_password`)."),
        (status = 403, response = SessionForbidden),
        BodyRefused,
        (status = 423, response = Locked),
        (status = 429, response = RateLimited),
    )
)]
async fn change_password(
    State(app): State<Arc<Identity>>,
    ClientIp(ip): ClientIp,
    session: Option<Session>,
    ApiJson(body): ApiJson<PasswordChangeRequest>,
) -> Result<StatusCode, ApiError> {
    match (body.change_token, body.current_password, session) {
        (Some(token), _, _) => {
            app.change_expired_password(&token, &body.new_password, ip)
                .await?
        }
        (None, Some(current), Some(session)) => {
            app.change_password(&session.ctx, &current, &body.new_password)
                .await?
        }
        (None, Some(_), None) => return Err(ApiError::Unauthenticated),
        (None, None, _) => {
            return Err(ApiError::invalid_field(
                "current_password",
                "Field `current_password` (or `change_token`) is required.",
            ));
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// E-mail a password reset link
///
/// Always 202, whether or not the address has an account; when it has, a
/// `PasswordResetRequested` event carries a single-use token valid 30 minutes.
#[utoipa::path(
    post, path = "/v1/password/reset-request", tag = "auth",
    operation_id = "requestPasswordReset", security(),
    request_body = ResetRequestRequest,
    responses(
        (status = 202, description = "Accepted (no body)."),
        (status = 400, response = InvalidRequest),
        BodyRefused,
        (status = 429, response = RateLimited),
    )
)]
async fn reset_request(
    State(app): State<Arc<Identity>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<ResetRequestRequest>,
) -> Result<StatusCode, ApiError> {
    app.request_password_reset(&body.email, ip).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Set a new password with a reset token
///
/// Clears the lockout and ends every session of the user.
#[utoipa::path(
    post, path = "/v1/password/reset", tag = "auth", operation_id = "resetPassword", security(),
    request_body = ResetRequest,
    responses(
        (status = 204, description = "The password is set."),
        (status = 400, body = ErrorBody, description = "`invalid_request`, `invalid_token` (bad, \
            used or expired), `weak_password`, `password_reused`."),
        BodyRefused,
    )
)]
async fn reset(
    State(app): State<Arc<Identity>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Result<StatusCode, ApiError> {
    app.reset_password(&body.token, &body.new_password, ip)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Prove the sign-up's e-mail address
///
/// With the single-use token of the `EmailVerificationRequested` mail (valid 7 days).
/// Until then the tenant may neither connect an integration nor invite users
/// (409 `email_unverified`).
#[utoipa::path(
    post, path = "/v1/email/verify", tag = "auth", operation_id = "verifyEmail", security(),
    request_body = VerifyEmailRequest,
    responses(
        (status = 204, description = "Proven."),
        (status = 400, body = ErrorBody, description = "`invalid_request`, `invalid_token` (bad, used or expired)."),
        BodyRefused,
    )
)]
async fn verify_email(
    State(app): State<Arc<Identity>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<VerifyEmailRequest>,
) -> Result<StatusCode, ApiError> {
    if body.token.is_empty() || body.token.len() > 128 {
        return Err(ApiError::from(crate::services::ServiceError::InvalidToken));
    }
    app.verify_email(&body.token, ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send the e-mail verification again
///
/// A fresh token while the tenant's address is unproven; nothing once it is proven.
#[utoipa::path(
    post, path = "/v1/email/verify/resend", tag = "auth", operation_id = "resendEmailVerification",
    responses(
        (status = 202, description = "Sent (no body)."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
    )
)]
async fn resend_verification(
    State(app): State<Arc<Identity>>,
    admin: Authorized<AdminOnly>,
) -> Result<StatusCode, ApiError> {
    app.resend_verification(&admin.ctx).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Start two-factor enrolment
///
/// Re-authenticated by the password. Allowed while enrolment is pending.
#[utoipa::path(
    post, path = "/v1/mfa/totp/setup", tag = "auth", operation_id = "setupTotp",
    request_body = PasswordOnlyRequest,
    responses(
        (status = 200, description = "The secret to enter in an authenticator app.", body = TotpEnrolment),
        (status = 400, response = InvalidRequest),
        (status = 401, body = ErrorBody, description = "`unauthenticated`, `invalid_credentials` (wrong password)."),
        (status = 409, body = ErrorBody, description = "`mfa_already_enabled`, `concurrent_update`."),
        BodyRefused,
        (status = 423, response = Locked),
        (status = 429, response = RateLimited),
    )
)]
async fn totp_setup(
    State(app): State<Arc<Identity>>,
    EnrollingSession(session): EnrollingSession,
    ApiJson(body): ApiJson<PasswordOnlyRequest>,
) -> Result<Json<TotpEnrolment>, ApiError> {
    let enrolment = app.totp_setup(&session.ctx, &body.password).await?;
    Ok(Json(enrolment.into()))
}

/// Enable two-factor authentication with a first code
#[utoipa::path(
    post, path = "/v1/mfa/totp/confirm", tag = "auth", operation_id = "confirmTotp",
    request_body = CodeRequest,
    responses(
        (status = 200, description = "Enabled; the ten recovery codes, shown this once.", body = RecoveryCodes),
        (status = 400, response = InvalidRequest),
        (status = 401, body = ErrorBody, description = "`unauthenticated`, `invalid_mfa_code`."),
        (status = 409, body = ErrorBody, description = "`mfa_already_enabled`, `mfa_setup_required`, `concurrent_update`."),
        BodyRefused,
        (status = 423, response = Locked),
        (status = 429, response = RateLimited),
    )
)]
async fn totp_confirm(
    State(app): State<Arc<Identity>>,
    EnrollingSession(session): EnrollingSession,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let recovery_codes = app.totp_confirm(&session.ctx, &body.code).await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// Disable two-factor authentication
///
/// `code` is a current TOTP code (6 characters) or a recovery code.
#[utoipa::path(
    delete, path = "/v1/mfa/totp", tag = "auth", operation_id = "disableTotp",
    request_body = TotpDisableRequest,
    responses(
        (status = 204, description = "Disabled."),
        (status = 400, response = InvalidRequest),
        (status = 401, body = ErrorBody, description = "`unauthenticated`, `invalid_credentials` \
            (wrong password), `invalid_mfa_code`."),
        (status = 403, response = SessionForbidden),
        (status = 409, body = ErrorBody, description = "`mfa_not_enabled`, `concurrent_update`."),
        BodyRefused,
        (status = 423, response = Locked),
        (status = 429, response = RateLimited),
    )
)]
async fn totp_disable(
    State(app): State<Arc<Identity>>,
    session: Session,
    ApiJson(body): ApiJson<TotpDisableRequest>,
) -> Result<StatusCode, ApiError> {
    app.totp_disable(&session.ctx, &body.password, &body.code)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
