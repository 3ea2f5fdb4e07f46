//! The one API error type, mapped once to HTTP.
//!
//! Every error leaves as `{"error": {"code", "message", "details"?}}` (docs/api.md). Codes
//! are part of the contract. An internal failure is logged with its cause and answered
//! with a generic 500: no internal detail, key, token or personal datum reaches a
//! response body.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::services::ServiceError;
use crate::services::error::{BoxError, ErrorChain, ErrorCode};

#[derive(Debug)]
pub enum ApiError {
    /// 400 `invalid_request`: malformed JSON, a missing or wrongly typed field.
    InvalidRequest {
        message: String,
        field: Option<String>,
    },
    /// A 4xx the contract names (`weak_password`, `email_taken`, `last_admin`...); its
    /// status and message come with the code.
    Rejected {
        code: ErrorCode,
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
    Internal(BoxError),
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
    pub fn rejected(code: impl Into<ErrorCode>) -> Self {
        Self::Rejected {
            code: code.into(),
            details: None,
        }
    }
    pub fn with_details(self, details: Value) -> Self {
        match self {
            Self::Rejected { code, .. } => Self::Rejected {
                code,
                details: Some(details),
            },
            other => other,
        }
    }
    pub fn internal(cause: impl Into<BoxError>) -> Self {
        Self::Internal(cause.into())
    }

    /// The contract's code for this error; its status and message come with it.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::InvalidRequest { .. } => ErrorCode::InvalidRequest,
            Self::Rejected { code, .. } => *code,
            Self::Unauthenticated => ErrorCode::Unauthenticated,
            Self::Forbidden => ErrorCode::Forbidden,
            Self::NotFound => ErrorCode::NotFound,
            Self::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            Self::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            Self::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::PasswordExpired { .. } => ErrorCode::PasswordExpired,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.error_code().status()
    }

    fn message(&self) -> String {
        match self {
            Self::InvalidRequest { message, .. } => message.clone(),
            other => other.error_code().message().to_owned(),
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
        // The one log line of an internal failure, with its whole chain of causes. The
        // causes are the adapters' and services' own errors, written to name what failed
        // without keys, tokens or personal data.
        if let Self::Internal(cause) = &self {
            tracing::error!(cause = %ErrorChain(cause.as_ref()), "internal error");
        }
        let mut error = json!({ "code": self.error_code(), "message": self.message() });
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

/// Use-case outcomes as the API contract's errors; each code's status and message come
/// from the one table, [`ErrorCode::parts`].
impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Invalid { field, message } => Self::invalid_field(field, message),
            ServiceError::WeakPassword(rules) => {
                let unmet: Vec<Value> = rules
                    .iter()
                    .map(|r| json!({ "rule": r.code(), "message": r.message() }))
                    .collect();
                Self::rejected(ErrorCode::WeakPassword).with_details(json!({ "rules": unmet }))
            }
            ServiceError::PasswordReused => Self::rejected(ErrorCode::PasswordReused),
            ServiceError::EmailTaken => Self::rejected(ErrorCode::EmailTaken),
            ServiceError::InvalidCredentials => Self::rejected(ErrorCode::InvalidCredentials),
            ServiceError::MfaRequired => Self::rejected(ErrorCode::MfaRequired),
            ServiceError::InvalidMfaCode => Self::rejected(ErrorCode::InvalidMfaCode),
            ServiceError::IpNotAllowed => Self::rejected(ErrorCode::IpNotAllowed),
            ServiceError::PasswordResetRequired => Self::rejected(ErrorCode::PasswordResetRequired),
            ServiceError::PasswordExpired { change_token } => {
                Self::PasswordExpired { change_token }
            }
            ServiceError::InvalidToken => Self::rejected(ErrorCode::InvalidToken),
            ServiceError::Unauthenticated => Self::Unauthenticated,
            ServiceError::Forbidden => Self::Forbidden,
            ServiceError::MfaEnrolmentRequired => Self::rejected(ErrorCode::MfaEnrolmentRequired),
            ServiceError::NotFound => Self::NotFound,
            ServiceError::Conflict(kind) => Self::rejected(kind),
            ServiceError::BadRequest(kind) => Self::rejected(kind),
            ServiceError::RateLimited { retry_after_secs } => {
                Self::RateLimited { retry_after_secs }
            }
            ServiceError::ProviderUnavailable => Self::rejected(ErrorCode::ProviderUnavailable),
            ServiceError::Internal(cause) => Self::Internal(cause),
        }
    }
}
