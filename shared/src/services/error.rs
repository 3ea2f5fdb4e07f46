//! The services' one error type. Each variant is an outcome the API contract names (or
//! an internal failure); `http::error` maps it to a status and code in one place.

use crate::domain::password::PasswordRule;
use crate::ports::{EventError, KeyError, SecretError, StoreError};
use crate::services::vault::VaultError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid field {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("the password breaks the policy")]
    WeakPassword(Vec<PasswordRule>),
    #[error("the password was used recently")]
    PasswordReused,
    #[error("the e-mail is taken")]
    EmailTaken,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("a second factor is required")]
    MfaRequired,
    #[error("the second-factor code is not valid")]
    InvalidMfaCode,
    #[error("the client address is not allowed")]
    IpNotAllowed,
    #[error("the account is locked until a password reset")]
    PasswordResetRequired,
    #[error("the password has expired")]
    PasswordExpired { change_token: String },
    #[error("the token is invalid, used or expired")]
    InvalidToken,
    #[error("not authenticated")]
    Unauthenticated,
    #[error("the role does not allow this")]
    Forbidden,
    #[error("two-factor enrolment is required first")]
    MfaEnrolmentRequired,
    #[error("not found")]
    NotFound,
    /// A 409 the contract names: `last_admin`, `would_lock_out`, ...
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A 400 the contract names beyond `invalid_request`: `invalid_cidr`, ...
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The payment processor could not be reached or answered out of contract (after
    /// the client's bounded retries); nothing was saved and the client may retry.
    #[error("the payment processor is unavailable")]
    ProviderUnavailable,
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("internal: {0}")]
    Internal(String),
}

impl ServiceError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::InvalidCursor => Self::invalid("cursor", "The cursor is not valid."),
            other => Self::internal(other),
        }
    }
}

impl From<VaultError> for ServiceError {
    fn from(err: VaultError) -> Self {
        match err {
            VaultError::Store(store) => store.into(),
            // The tenant was closed, its key shredded, while this call was in flight:
            // whatever session carried it is over.
            VaultError::NoKey => Self::Unauthenticated,
            other => Self::internal(other),
        }
    }
}

impl From<KeyError> for ServiceError {
    fn from(err: KeyError) -> Self {
        Self::internal(err)
    }
}

impl From<SecretError> for ServiceError {
    fn from(err: SecretError) -> Self {
        Self::internal(err)
    }
}

impl From<EventError> for ServiceError {
    fn from(err: EventError) -> Self {
        Self::internal(err)
    }
}
