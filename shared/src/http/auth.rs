//! The `auth` function's routes (API.md "auth function").

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use super::error::ApiError;
use super::json::ApiJson;
use super::query::{ApiQuery, ListParams, page_in_memory};
use super::session::{EnrollingSession, Session};
use super::{AppState, ClientIp};
use crate::domain::ids::SessionId;
use crate::services::accounts::SignupRequest;
use crate::services::sessions::LoginRequest;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/signup", post(signup))
        .route("/v1/sessions", post(login))
        .route("/v1/sessions/current", delete(logout))
        .route("/v1/me", get(me))
        .route("/v1/me/sessions", get(list_sessions))
        .route("/v1/me/sessions/{id}", delete(end_session))
        .route("/v1/password/change", post(change_password))
        .route("/v1/password/reset-request", post(reset_request))
        .route("/v1/password/reset", post(reset))
        .route("/v1/mfa/totp/setup", post(totp_setup))
        .route("/v1/mfa/totp/confirm", post(totp_confirm))
        .route("/v1/mfa/totp", delete(totp_disable))
}

#[derive(Deserialize)]
struct SignupBody {
    company: String,
    email: String,
    password: SecretString,
}

async fn signup(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<SignupBody>,
) -> Result<Response, ApiError> {
    let request = SignupRequest {
        company: body.company,
        email: body.email,
        password: body.password,
        ip,
    };
    let (tenant_id, user_id) = app.signup(request).await?;
    let reply = json!({ "tenant_id": tenant_id, "user_id": user_id });
    Ok((StatusCode::CREATED, Json(reply)).into_response())
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: SecretString,
    #[serde(default)]
    totp_code: Option<String>,
    #[serde(default)]
    recovery_code: Option<String>,
}

async fn login(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let session = app
        .login(LoginRequest {
            email: body.email,
            password: body.password,
            totp_code: body.totp_code,
            recovery_code: body.recovery_code,
            ip,
        })
        .await?;
    let reply = json!({
        "token": session.token.expose_secret(),
        "expires_at": session.expires_at,
        "idle_timeout_seconds": session.idle_timeout_seconds,
        "user": session.user,
    });
    Ok((StatusCode::CREATED, Json(reply)).into_response())
}

async fn logout(
    State(app): State<AppState>,
    EnrollingSession(session): EnrollingSession,
) -> Result<StatusCode, ApiError> {
    app.logout(&session.ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(
    State(app): State<AppState>,
    EnrollingSession(session): EnrollingSession,
) -> Result<Response, ApiError> {
    Ok(Json(app.me(&session.ctx).await?).into_response())
}

async fn list_sessions(
    State(app): State<AppState>,
    session: Session,
    ApiQuery(paging): ApiQuery<ListParams>,
) -> Result<Response, ApiError> {
    let sessions = app.list_sessions(&session.ctx).await?;
    let (data, next) = page_in_memory(sessions, &paging, |s| s.id.to_string())?;
    Ok(Json(json!({ "data": data, "next_cursor": next })).into_response())
}

async fn end_session(
    State(app): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = SessionId::parse(&id).ok_or(ApiError::NotFound)?;
    app.end_session(&session.ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct ChangeBody {
    #[serde(default)]
    current_password: Option<SecretString>,
    #[serde(default)]
    change_token: Option<String>,
    new_password: SecretString,
}

async fn change_password(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Option<Session>,
    ApiJson(body): ApiJson<ChangeBody>,
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

#[derive(Deserialize)]
struct ResetRequestBody {
    email: String,
}

async fn reset_request(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<ResetRequestBody>,
) -> Result<StatusCode, ApiError> {
    app.request_password_reset(&body.email, ip).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize)]
struct ResetBody {
    token: String,
    new_password: SecretString,
}

async fn reset(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<ResetBody>,
) -> Result<StatusCode, ApiError> {
    app.reset_password(&body.token, &body.new_password, ip)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct PasswordBody {
    password: SecretString,
}

async fn totp_setup(
    State(app): State<AppState>,
    EnrollingSession(session): EnrollingSession,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<Response, ApiError> {
    Ok(Json(app.totp_setup(&session.ctx, &body.password).await?).into_response())
}

#[derive(Deserialize)]
struct CodeBody {
    code: String,
}

async fn totp_confirm(
    State(app): State<AppState>,
    EnrollingSession(session): EnrollingSession,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Response, ApiError> {
    let codes = app.totp_confirm(&session.ctx, &body.code).await?;
    Ok(Json(json!({ "recovery_codes": codes })).into_response())
}

#[derive(Deserialize)]
struct DisableBody {
    password: SecretString,
    code: String,
}

async fn totp_disable(
    State(app): State<AppState>,
    session: Session,
    ApiJson(body): ApiJson<DisableBody>,
) -> Result<StatusCode, ApiError> {
    app.totp_disable(&session.ctx, &body.password, &body.code)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
