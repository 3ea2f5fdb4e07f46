//! The bodies of the `auth` function: sign-up, sign-in, the caller's account and
//! sessions, passwords and two-factor authentication.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{AllOfBuilder, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::list_reply;
use crate::domain::ids::{SessionId, TenantId, UserId};
use crate::domain::roles::Role;
use crate::services::accounts::Me as MeView;
use crate::services::mfa::TotpEnrolment as EnrolmentView;
use crate::services::sessions::{
    NewSession as NewSessionView, SessionSummary as SessionView, UserSummary as UserSummaryView,
};

#[derive(Deserialize, ToSchema)]
pub struct SignupRequest {
    /// Trimmed; no control characters.
    #[schema(min_length = 1, max_length = 200)]
    pub company: String,
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// Must meet the default policy (12+ characters with upper, lower, digit and symbol;
    /// not a common password).
    #[schema(value_type = String)]
    pub password: SecretString,
}

#[derive(Serialize, ToSchema)]
pub struct SignupResponse {
    pub tenant_id: TenantId,
    pub user_id: UserId,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[schema(value_type = String)]
    pub password: SecretString,
    /// A current code of the authenticator app.
    #[serde(default)]
    pub totp_code: Option<String>,
    /// One of the recovery codes (single use).
    #[serde(default)]
    pub recovery_code: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UserSummary {
    pub id: UserId,
    pub email: String,
    pub role: Role,
}

impl From<UserSummaryView> for UserSummary {
    fn from(user: UserSummaryView) -> Self {
        Self {
            id: user.id,
            email: user.email,
            role: user.role,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct NewSession {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub idle_timeout_seconds: u64,
    pub user: UserSummary,
}

impl From<NewSessionView> for NewSession {
    fn from(session: NewSessionView) -> Self {
        use secrecy::ExposeSecret;
        Self {
            // The one place a session token leaves the process: to its owner, once.
            token: session.token.expose_secret().to_owned(),
            expires_at: session.expires_at,
            idle_timeout_seconds: session.idle_timeout_seconds,
            user: session.user.into(),
        }
    }
}

/// The caller and their tenant.
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub user: MeUser,
    pub tenant: MeTenant,
}

#[derive(Serialize, ToSchema)]
pub struct MeUser {
    pub id: UserId,
    pub email: String,
    pub role: Role,
    pub mfa_enabled: bool,
    /// Null when the tenant's policy does not expire passwords.
    #[schema(required = true)]
    pub password_expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct MeTenant {
    pub id: TenantId,
    pub company: String,
}

impl From<MeView> for Me {
    fn from(me: MeView) -> Self {
        Self {
            user: MeUser {
                id: me.user.id,
                email: me.user.email,
                role: me.user.role,
                mfa_enabled: me.user.mfa_enabled,
                password_expires_at: me.user.password_expires_at,
            },
            tenant: MeTenant {
                id: me.tenant.id,
                company: me.tenant.company,
            },
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SessionSummary {
    pub id: SessionId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[schema(value_type = Option<String>, required = true)]
    pub ip: Option<std::net::IpAddr>,
    /// The session of this request.
    pub current: bool,
}

impl From<SessionView> for SessionSummary {
    fn from(session: SessionView) -> Self {
        Self {
            id: session.id,
            created_at: session.created_at,
            expires_at: session.expires_at,
            ip: session.ip,
            current: session.current,
        }
    }
}

list_reply!(SessionList of SessionSummary);

/// Signed in: `{current_password, new_password}`; with an expired password (no session):
/// `{change_token, new_password}`.
#[derive(Deserialize)]
pub struct PasswordChangeRequest {
    #[serde(default)]
    pub current_password: Option<SecretString>,
    #[serde(default)]
    pub change_token: Option<String>,
    pub new_password: SecretString,
}

/// Written by hand: the derive cannot say "one of these two fields is required".
impl PartialSchema for PasswordChangeRequest {
    fn schema() -> RefOr<Schema> {
        let nullable_string =
            || ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]));
        let fields = ObjectBuilder::new()
            .property("current_password", nullable_string())
            .property("change_token", nullable_string())
            .property(
                "new_password",
                ObjectBuilder::new().schema_type(Type::String),
            )
            .required("new_password");
        let present = |field: &str| {
            ObjectBuilder::new()
                .property(field, ObjectBuilder::new().schema_type(Type::String))
                .required(field)
        };
        let one_of_both = utoipa::openapi::schema::AnyOfBuilder::new()
            .item(present("current_password"))
            .item(present("change_token"));
        AllOfBuilder::new()
            .description(Some(
                "`current_password` with a session, or `change_token` without one.",
            ))
            .item(fields)
            .item(one_of_both)
            .into()
    }
}

impl ToSchema for PasswordChangeRequest {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("PasswordChangeRequest")
    }
}

/// `POST /v1/email/verify`.
#[derive(Deserialize, ToSchema)]
pub struct VerifyEmailRequest {
    /// The token of the `EmailVerificationRequested` mail.
    #[schema(min_length = 1, max_length = 128)]
    pub token: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ResetRequestRequest {
    /// Any string is accepted (and answered 202).
    pub email: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ResetRequest {
    pub token: String,
    #[schema(value_type = String)]
    pub new_password: SecretString,
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordOnlyRequest {
    #[schema(value_type = String)]
    pub password: SecretString,
}

#[derive(Deserialize, ToSchema)]
pub struct CodeRequest {
    pub code: String,
}

#[derive(Deserialize, ToSchema)]
pub struct TotpDisableRequest {
    #[schema(value_type = String)]
    pub password: SecretString,
    /// A current TOTP code (6 characters) or a recovery code.
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// Base32.
    pub secret: String,
    pub otpauth_uri: String,
}

impl From<EnrolmentView> for TotpEnrolment {
    fn from(enrolment: EnrolmentView) -> Self {
        Self {
            secret: enrolment.secret,
            otpauth_uri: enrolment.otpauth_uri,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// The ten single-use recovery codes, shown this once.
    #[schema(min_items = 10, max_items = 10)]
    pub recovery_codes: Vec<String>,
}
