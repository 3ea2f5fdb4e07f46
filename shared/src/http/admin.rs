//! The `admin` function's routes (API.md "admin function"): users, invitations, the IP
//! allowlist, the security policy, sign-in analytics and the audit log. Every route but
//! accepting an invitation takes `Authorized<AdminOnly>`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;

use super::error::ApiError;
use super::json::ApiJson;
use super::query::{ApiQuery, ListParams, page_in_memory};
use super::session::{AdminOnly, Authorized};
use super::{AppState, ClientIp};
use crate::domain::ids::{EntryId, UserId};
use crate::domain::password::PolicyPreset;
use crate::domain::roles::Role;
use crate::services::records::SecurityPolicy;
use crate::services::security::LoginOutcome;
use crate::services::security_admin::{AttemptFilter, TimeRange};
use crate::services::users::UserChanges;

type Admin = Authorized<AdminOnly>;

/// The default reporting window.
const DEFAULT_RANGE_DAYS: i64 = 30;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/users", get(list_users).post(invite_user))
        .route("/v1/users/{id}", patch(update_user).delete(delete_user))
        .route("/v1/invites/accept", post(accept_invite))
        .route(
            "/v1/security/ip-allowlist",
            get(list_allowlist).post(add_allow_entry),
        )
        .route("/v1/security/ip-allowlist/{id}", delete(remove_allow_entry))
        .route("/v1/security/policy", get(get_policy).put(put_policy))
        .route("/v1/security/login-attempts", get(login_attempts))
        .route("/v1/security/audit-log", get(audit_log))
}

async fn list_users(
    State(app): State<AppState>,
    admin: Admin,
    ApiQuery(list): ApiQuery<ListParams>,
) -> Result<Response, ApiError> {
    let (data, next) = app
        .list_users(&admin.ctx, list.limit()?, list.cursor()?)
        .await?;
    Ok(Json(json!({ "data": data, "next_cursor": next.map(|c| c.encode()) })).into_response())
}

#[derive(Deserialize)]
struct InviteBody {
    email: String,
    role: Role,
}

async fn invite_user(
    State(app): State<AppState>,
    admin: Admin,
    ApiJson(body): ApiJson<InviteBody>,
) -> Result<Response, ApiError> {
    let invitation = app.invite_user(&admin.ctx, &body.email, body.role).await?;
    let user = invitation.user;
    let reply = json!({ "id": user.id, "email": user.email, "role": user.role, "invite_token": invitation.invite_token });
    Ok((StatusCode::CREATED, Json(reply)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserPatch {
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    disabled: Option<bool>,
}

async fn update_user(
    State(app): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UserPatch>,
) -> Result<Response, ApiError> {
    let id = UserId::parse(&id).ok_or(ApiError::NotFound)?;
    let changes = UserChanges {
        role: body.role,
        disabled: body.disabled,
    };
    Ok(Json(app.update_user(&admin.ctx, &id, changes).await?).into_response())
}

async fn delete_user(
    State(app): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = UserId::parse(&id).ok_or(ApiError::NotFound)?;
    app.delete_user(&admin.ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct AcceptBody {
    token: String,
    password: SecretString,
}

async fn accept_invite(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<AcceptBody>,
) -> Result<Response, ApiError> {
    let user = app.accept_invite(&body.token, &body.password, ip).await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

async fn list_allowlist(
    State(app): State<AppState>,
    admin: Admin,
    ApiQuery(paging): ApiQuery<ListParams>,
) -> Result<Response, ApiError> {
    let entries = app.list_allowlist(&admin.ctx).await?;
    let (data, next) = page_in_memory(entries, &paging, |e| e.id.to_string())?;
    Ok(Json(json!({ "data": data, "next_cursor": next })).into_response())
}

#[derive(Deserialize)]
struct AllowBody {
    cidr: String,
    #[serde(default)]
    note: String,
}

async fn add_allow_entry(
    State(app): State<AppState>,
    admin: Admin,
    ApiJson(body): ApiJson<AllowBody>,
) -> Result<Response, ApiError> {
    let entry = app
        .add_allow_entry(&admin.ctx, &body.cidr, &body.note)
        .await?;
    Ok((StatusCode::CREATED, Json(entry)).into_response())
}

async fn remove_allow_entry(
    State(app): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = EntryId::parse(&id).ok_or(ApiError::NotFound)?;
    app.remove_allow_entry(&admin.ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_policy(State(app): State<AppState>, admin: Admin) -> Result<Response, ApiError> {
    Ok(Json(app.policy(&admin.ctx).await?).into_response())
}

#[derive(Deserialize)]
struct PolicyBody {
    preset: PolicyPreset,
    require_mfa: bool,
}

async fn put_policy(
    State(app): State<AppState>,
    admin: Admin,
    ApiJson(body): ApiJson<PolicyBody>,
) -> Result<Response, ApiError> {
    let policy = SecurityPolicy {
        preset: body.preset,
        require_mfa: body.require_mfa,
    };
    Ok(Json(app.set_policy(&admin.ctx, policy).await?).into_response())
}

#[derive(Deserialize)]
struct ReportParams {
    from: Option<String>,
    to: Option<String>,
    outcome: Option<String>,
    user_id: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// An RFC 3339 time, or a date (the start of the day for `from`, its end for `to`).
fn parse_time(field: &str, text: &str, end_of_day: bool) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        ApiError::invalid_field(
            field,
            format!("`{field}` must be a date (YYYY-MM-DD) or an RFC 3339 time."),
        )
    })?;
    let time = if end_of_day {
        NaiveTime::from_hms_milli_opt(23, 59, 59, 999)
    } else {
        Some(NaiveTime::MIN)
    };
    Ok(date.and_time(time.unwrap_or(NaiveTime::MIN)).and_utc())
}

impl ReportParams {
    fn range(&self, now: DateTime<Utc>) -> Result<TimeRange, ApiError> {
        let to = self
            .to
            .as_deref()
            .map(|t| parse_time("to", t, true))
            .transpose()?
            .unwrap_or(now);
        let from = self
            .from
            .as_deref()
            .map(|t| parse_time("from", t, false))
            .transpose()?
            .unwrap_or(to - Duration::days(DEFAULT_RANGE_DAYS));
        if from > to {
            return Err(ApiError::invalid_field(
                "from",
                "`from` must not be after `to`.",
            ));
        }
        Ok(TimeRange { from, to })
    }
    fn list(&self) -> ListParams {
        ListParams {
            limit: self.limit.clone(),
            cursor: self.cursor.clone(),
        }
    }
}

async fn login_attempts(
    State(app): State<AppState>,
    admin: Admin,
    ApiQuery(params): ApiQuery<ReportParams>,
) -> Result<Response, ApiError> {
    let range = params.range(app.adapters.clock.now())?;
    let outcome = params
        .outcome
        .as_deref()
        .map(|o| {
            serde_json::from_value::<LoginOutcome>(json!(o))
                .map_err(|_| ApiError::invalid_field("outcome", "Unknown outcome."))
        })
        .transpose()?;
    let user_id = params
        .user_id
        .as_deref()
        .map(|u| {
            UserId::parse(u).ok_or_else(|| ApiError::invalid_field("user_id", "Not a user id."))
        })
        .transpose()?;
    let list = params.list();
    let filter = AttemptFilter { outcome, user_id };
    let (summary, data, next) = app
        .login_attempts(&admin.ctx, range, &filter, list.limit()?, list.cursor()?)
        .await?;
    Ok(
        Json(json!({ "summary": summary, "data": data, "next_cursor": next.map(|c| c.encode()) }))
            .into_response(),
    )
}

async fn audit_log(
    State(app): State<AppState>,
    admin: Admin,
    ApiQuery(params): ApiQuery<ReportParams>,
) -> Result<Response, ApiError> {
    let range = params.range(app.adapters.clock.now())?;
    let list = params.list();
    let (data, next) = app
        .audit_log(&admin.ctx, range, list.limit()?, list.cursor()?)
        .await?;
    Ok(Json(json!({ "data": data, "next_cursor": next.map(|c| c.encode()) })).into_response())
}
