//! The one API error type, mapped once to HTTP.
//!
//! Every error leaves as `{"error": {"code", "message", "details"?}}` (API.md). Codes
//! are part of the contract. An internal failure is logged with its cause and answered
//! with a generic 500: no internal detail, key, token or personal datum reaches a
//! response body.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::ports::StoreError;
use crate::services::ServiceError;
use crate::services::vault::VaultError;

#[derive(Debug)]
pub enum ApiError {
    /// 400 `invalid_request`: malformed JSON, a missing or wrongly typed field.
    InvalidRequest {
        message: String,
        field: Option<String>,
    },
    /// A 4xx the contract names (`weak_password`, `email_taken`, `last_admin`...).
    Rejected {
        status: StatusCode,
        code: &'static str,
        message: String,
        details: Option<Value>,
    },
    Unauthenticated,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited {
        retry_after_secs: u64,
    },
    /// 403 `password_expired`, carrying the single-use token that changes it.
    PasswordExpired {
        change_token: String,
    },
    /// Anything that is not the client's fault. The cause is logged, never sent.
    Internal(String),
}

impl ApiError {
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            message: message.into(),
            field: None,
        }
    }
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            message: message.into(),
            field: Some(field.to_owned()),
        }
    }
    pub fn rejected(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::Rejected {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }
    pub fn with_details(self, details: Value) -> Self {
        match self {
            Self::Rejected {
                status,
                code,
                message,
                ..
            } => Self::Rejected {
                status,
                code,
                message,
                details: Some(details),
            },
            other => other,
        }
    }
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Rejected { status, .. } => *status,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::PasswordExpired { .. } => StatusCode::FORBIDDEN,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest { .. } => "invalid_request",
            Self::Rejected { code, .. } => code,
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RateLimited { .. } => "rate_limited",
            Self::PasswordExpired { .. } => "password_expired",
            Self::Internal(_) => "internal",
        }
    }

    fn message(&self) -> String {
        match self {
            Self::InvalidRequest { message, .. } | Self::Rejected { message, .. } => {
                message.clone()
            }
            Self::Unauthenticated => {
                "Authentication is required: the token is missing, invalid or expired.".into()
            }
            Self::Forbidden => "Your role does not allow this.".into(),
            Self::NotFound => "Nothing was found here.".into(),
            Self::MethodNotAllowed => "This method is not allowed on this path.".into(),
            Self::PayloadTooLarge => "The request body is larger than 64 KiB.".into(),
            Self::UnsupportedMediaType => {
                "The request body must be JSON (Content-Type: application/json).".into()
            }
            Self::RateLimited { .. } => "Too many requests; retry later.".into(),
            Self::PasswordExpired { .. } => {
                "The password has expired: change it with the change_token.".into()
            }
            Self::Internal(_) => "Something went wrong on our side; it has been logged.".into(),
        }
    }

    fn details(&self) -> Option<Value> {
        match self {
            Self::InvalidRequest {
                field: Some(field), ..
            } => Some(json!({ "field": field })),
            Self::Rejected { details, .. } => details.clone(),
            Self::PasswordExpired { change_token } => Some(json!({ "change_token": change_token })),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let mut error = json!({ "code": self.code(), "message": self.message() });
        if let (Some(details), Some(obj)) = (self.details(), error.as_object_mut()) {
            obj.insert("details".into(), details);
        }
        let mut body = json!({ "error": error });
        if let (Self::PasswordExpired { change_token }, Some(obj)) = (&self, body.as_object_mut()) {
            obj.insert("change_token".into(), change_token.clone().into());
        }
        let mut response = (self.status(), Json(body)).into_response();
        if let Self::RateLimited { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

/// The one mapping from use-case outcomes to the API contract's statuses and codes.
impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        use StatusCode as S;
        match err {
            ServiceError::Invalid { field, message } => Self::invalid_field(field, message),
            ServiceError::WeakPassword(rules) => {
                let unmet: Vec<Value> = rules
                    .iter()
                    .map(|r| json!({ "rule": r.code(), "message": r.message() }))
                    .collect();
                Self::rejected(
                    S::BAD_REQUEST,
                    "weak_password",
                    "The password does not meet the policy.",
                )
                .with_details(json!({ "rules": unmet }))
            }
            ServiceError::PasswordReused => Self::rejected(
                S::BAD_REQUEST,
                "password_reused",
                "The password was one of the last five; choose another.",
            ),
            ServiceError::EmailTaken => Self::rejected(
                S::CONFLICT,
                "email_taken",
                "An account with this e-mail exists.",
            ),
            ServiceError::InvalidCredentials => Self::rejected(
                S::UNAUTHORIZED,
                "invalid_credentials",
                "The e-mail or password is not correct.",
            ),
            ServiceError::MfaRequired => Self::rejected(
                S::UNAUTHORIZED,
                "mfa_required",
                "A two-factor code (totp_code or recovery_code) is required.",
            ),
            ServiceError::InvalidMfaCode => Self::rejected(
                S::UNAUTHORIZED,
                "invalid_mfa_code",
                "The two-factor code is not valid or was already used.",
            ),
            ServiceError::IpNotAllowed => Self::rejected(
                S::FORBIDDEN,
                "ip_not_allowed",
                "Your address is not on this account's IP allowlist.",
            ),
            ServiceError::PasswordResetRequired => Self::rejected(
                S::LOCKED,
                "password_reset_required",
                "Too many failed sign-ins: reset the password to unlock the account.",
            ),
            ServiceError::PasswordExpired { change_token } => {
                Self::PasswordExpired { change_token }
            }
            ServiceError::InvalidToken => Self::rejected(
                S::BAD_REQUEST,
                "invalid_token",
                "The token is not valid, was already used, or has expired.",
            ),
            ServiceError::Unauthenticated => Self::Unauthenticated,
            ServiceError::Forbidden => Self::Forbidden,
            ServiceError::MfaEnrolmentRequired => Self::rejected(
                S::FORBIDDEN,
                "mfa_enrolment_required",
                "This account requires two-factor authentication: set it up first.",
            ),
            ServiceError::NotFound => Self::NotFound,
            ServiceError::Conflict(code) => {
                Self::rejected(S::CONFLICT, code, conflict_message(code))
            }
            ServiceError::BadRequest(code) => {
                Self::rejected(S::BAD_REQUEST, code, bad_request_message(code))
            }
            ServiceError::RateLimited { retry_after_secs } => {
                Self::RateLimited { retry_after_secs }
            }
            ServiceError::ProviderUnavailable => Self::rejected(
                S::BAD_GATEWAY,
                "provider_unavailable",
                "Stripe could not be reached or did not answer as expected; nothing was \
                 saved. Try again in a few minutes.",
            ),
            ServiceError::Internal(cause) => Self::Internal(cause),
        }
    }
}

fn conflict_message(code: &str) -> &'static str {
    match code {
        "last_admin" => "A tenant keeps at least one active admin: promote another user first.",
        "would_lock_out" => {
            "This change would lock you out: the allowlist must cover your own address."
        }
        "mfa_already_enabled" => "Two-factor authentication is already enabled.",
        "mfa_setup_required" => "Start the two-factor setup first (POST /v1/mfa/totp/setup).",
        "mfa_not_enabled" => "Two-factor authentication is not enabled.",
        "concurrent_update" => "The resource changed meanwhile; reload it and try again.",
        "oauth_not_configured" => {
            "Stripe OAuth is not configured on this deployment (TALLY_STRIPE_CLIENT_ID and the app secret)."
        }
        "credentials_missing" => "The integration's credentials are gone; connect it again.",
        _ => "The request conflicts with the current state.",
    }
}

fn bad_request_message(code: &str) -> &'static str {
    match code {
        "invalid_cidr" => {
            "Not an IPv4 or IPv6 address or CIDR (e.g. 203.0.113.0/24 or 2001:db8::/32); a \
             network covering every address (/0) is refused: delete the entries instead."
        }
        "key_not_restricted" => {
            "Tally only accepts read-only restricted keys (rk_live_... or rk_test_...), never \
             secret keys. In the Stripe Dashboard: Developers > API keys > Create restricted \
             key, with Read access to Customers, Subscriptions, Invoices, Charges, Refunds, \
             Payment methods, Prices, Products, Coupons and Events, and nothing else."
        }
        "invalid_api_key" => {
            "Stripe did not accept this key: use a live or test restricted key with read access."
        }
        "invalid_signature" => "The Stripe-Signature does not verify for this body.",
        "oauth_exchange_failed" => "Stripe did not accept the authorization code.",
        _ => "The request is not valid.",
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::InvalidCursor => Self::invalid_field("cursor", "The cursor is not valid."),
            other => Self::internal(other),
        }
    }
}

impl From<VaultError> for ApiError {
    fn from(err: VaultError) -> Self {
        match err {
            VaultError::Store(store) => store.into(),
            other => Self::internal(other),
        }
    }
}
