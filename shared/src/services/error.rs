//! The services' one error type, and the table of every error code the API contract
//! names. Each `ServiceError` variant is an outcome the contract names (or an internal
//! failure); [`ErrorCode::parts`] gives each code its HTTP status and message in one
//! exhaustive `match`, so a new code cannot leave without them.

use std::error::Error as StdError;
use std::fmt;

use http::StatusCode;

use crate::domain::password::PasswordRule;
use crate::ports::{EventError, KeyError, SecretError, StoreError};
use crate::services::vault::VaultError;

/// The cause an internal failure keeps, with its own chain of sources.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

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
    #[error("conflict: {}", ErrorCode::Conflict(*.0).as_str())]
    Conflict(Conflict),
    /// A 400 the contract names beyond `invalid_request`: `invalid_cidr`, ...
    #[error("bad request: {}", ErrorCode::BadRequest(*.0).as_str())]
    BadRequest(BadRequest),
    /// The payment processor could not be reached or answered out of contract (after
    /// the client's bounded retries); nothing was saved and the client may retry.
    #[error("the payment processor is unavailable")]
    ProviderUnavailable,
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    /// Anything that is not the client's fault. The cause keeps its chain of sources
    /// for the one log line written where the failure is finally handled (see
    /// [`ErrorChain`]); the client only ever sees the opaque 500.
    #[error("internal failure")]
    Internal(#[source] BoxError),
}

impl ServiceError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
    /// An internal failure caused by `cause`: an error (kept with its sources) or a
    /// sentence saying what broke. Neither may hold a secret or a personal datum: it
    /// is logged.
    pub fn internal(cause: impl Into<BoxError>) -> Self {
        Self::Internal(cause.into())
    }
}

/// The 409s the contract names. Their codes and messages are in [`ErrorCode::parts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conflict {
    LastAdmin,
    WouldLockOut,
    MfaAlreadyEnabled,
    MfaSetupRequired,
    MfaNotEnabled,
    ConcurrentUpdate,
    OauthNotConfigured,
    CredentialsMissing,
    /// The Stripe account is already linked to another tenant (OAuth callback).
    StripeAccountLinked,
    /// The tenant's e-mail address is not proven yet (connecting, inviting).
    EmailUnverified,
    /// No analytics snapshot yet: the tenant has no finished sync.
    NoDataYet,
    // How a sync ended, also stored as the integration's `last_error`. A sync runs
    // outside any request, so these reach no response today; they are conflicts
    // because the integration's state, not the request, is at fault.
    CredentialsRefused,
    PermissionMissing,
    SyncProviderUnavailable,
    UnexpectedResponse,
    /// The sync ran past the job timeout (`TALLY_JOB_TIMEOUT_MS`); the next pass
    /// resumes it.
    SyncTimedOut,
    /// A data-key rotation was asked for while the previous one still re-seals.
    RotationInProgress,
    /// Another custom segment of the tenant has this name (any case).
    SegmentNameTaken,
    /// The tenant keeps the most custom segments it may.
    SegmentLimitReached,
    /// A sync was asked of a custom integration: its data comes through imports.
    ImportOnly,
    /// An import was sent to an integration that syncs from its processor.
    NotCustomIntegration,
    /// A notification secret was given for an integration that is not Paddle's.
    NotPaddleIntegration,
}

/// The 400s the contract names beyond `invalid_request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BadRequest {
    InvalidCidr,
    KeyNotRestricted,
    InvalidApiKey,
    InvalidSignature,
    /// The webhook came without a `Stripe-Signature`/`Paddle-Signature` header (code
    /// `invalid_signature`).
    SignatureMissing,
    OauthExchangeFailed,
    /// An OAuth callback whose `state` is not ours, was used, or has expired.
    InvalidState,
    UnknownMetric,
    UnknownDimension,
}

/// Every error code that can leave in a response body, `{"error": {"code", ...}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidRequest,
    WeakPassword,
    PasswordReused,
    EmailTaken,
    InvalidCredentials,
    MfaRequired,
    InvalidMfaCode,
    IpNotAllowed,
    PasswordResetRequired,
    PasswordExpired,
    InvalidToken,
    Unauthenticated,
    Forbidden,
    MfaEnrolmentRequired,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
    /// The `Accept` header allows no representation the route has (JSON, or CSV where
    /// the route offers it).
    NotAcceptable,
    RateLimited,
    ProviderUnavailable,
    Internal,
    Conflict(Conflict),
    BadRequest(BadRequest),
}

impl ErrorCode {
    /// The one table: each code's HTTP status, wire code and message. Messages never
    /// echo client input. `invalid_request` answers with its own message when it has
    /// one (which field, and why).
    pub fn parts(self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            Self::InvalidRequest => (
                S::BAD_REQUEST,
                "invalid_request",
                "The request is not valid.",
            ),
            Self::WeakPassword => (
                S::BAD_REQUEST,
                "weak_password",
                "The password does not meet the policy.",
            ),
            Self::PasswordReused => (
                S::BAD_REQUEST,
                "password_reused",
                "The password was one of the last five; choose another.",
            ),
            Self::EmailTaken => (
                S::CONFLICT,
                "email_taken",
                "An account with this e-mail exists.",
            ),
            Self::InvalidCredentials => (
                S::UNAUTHORIZED,
                "invalid_credentials",
                "The e-mail or password is not correct.",
            ),
            Self::MfaRequired => (
                S::UNAUTHORIZED,
                "mfa_required",
                "A two-factor code (totp_code or recovery_code) is required.",
            ),
            Self::InvalidMfaCode => (
                S::UNAUTHORIZED,
                "invalid_mfa_code",
                "The two-factor code is not valid or was already used.",
            ),
            Self::IpNotAllowed => (
                S::FORBIDDEN,
                "ip_not_allowed",
                "Your address is not on this account's IP allowlist.",
            ),
            Self::PasswordResetRequired => (
                S::LOCKED,
                "password_reset_required",
                "Too many failed sign-ins: reset the password to unlock the account.",
            ),
            Self::PasswordExpired => (
                S::FORBIDDEN,
                "password_expired",
                "The password has expired: change it with the change_token.",
            ),
            Self::InvalidToken => (
                S::BAD_REQUEST,
                "invalid_token",
                "The token is not valid, was already used, or has expired.",
            ),
            Self::Unauthenticated => (
                S::UNAUTHORIZED,
                "unauthenticated",
                "Authentication is required: the token is missing, invalid or expired.",
            ),
            Self::Forbidden => (S::FORBIDDEN, "forbidden", "Your role does not allow this."),
            Self::MfaEnrolmentRequired => (
                S::FORBIDDEN,
                "mfa_enrolment_required",
                "This account requires two-factor authentication: set it up first.",
            ),
            Self::NotFound => (S::NOT_FOUND, "not_found", "Nothing was found here."),
            Self::MethodNotAllowed => (
                S::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This method is not allowed on this path.",
            ),
            Self::PayloadTooLarge => (
                S::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is larger than 64 KiB.",
            ),
            Self::UnsupportedMediaType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "The request body must be JSON (Content-Type: application/json).",
            ),
            Self::NotAcceptable => (
                S::NOT_ACCEPTABLE,
                "not_acceptable",
                "This route answers application/json or text/csv (Accept, or ?format=json|csv).",
            ),
            Self::RateLimited => (
                S::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests; retry later.",
            ),
            Self::ProviderUnavailable => (
                S::BAD_GATEWAY,
                "provider_unavailable",
                "Stripe could not be reached or did not answer as expected; nothing was \
                 saved. Try again in a few minutes.",
            ),
            Self::Internal => (
                S::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong on our side; it has been logged.",
            ),
            Self::Conflict(kind) => {
                let (code, message) = match kind {
                    Conflict::LastAdmin => (
                        "last_admin",
                        "A tenant keeps at least one active admin: promote another user first.",
                    ),
                    Conflict::WouldLockOut => (
                        "would_lock_out",
                        "This change would lock you out: the allowlist must cover your own address.",
                    ),
                    Conflict::MfaAlreadyEnabled => (
                        "mfa_already_enabled",
                        "Two-factor authentication is already enabled.",
                    ),
                    Conflict::MfaSetupRequired => (
                        "mfa_setup_required",
                        "Start the two-factor setup first (POST /v1/mfa/totp/setup).",
                    ),
                    Conflict::MfaNotEnabled => (
                        "mfa_not_enabled",
                        "Two-factor authentication is not enabled.",
                    ),
                    Conflict::ConcurrentUpdate => (
                        "concurrent_update",
                        "The resource changed meanwhile; reload it and try again.",
                    ),
                    Conflict::OauthNotConfigured => (
                        "oauth_not_configured",
                        "Stripe OAuth is not configured on this deployment (TALLY_STRIPE_CLIENT_ID and the app secret).",
                    ),
                    Conflict::CredentialsMissing => (
                        "credentials_missing",
                        "The integration's credentials are gone; connect it again.",
                    ),
                    Conflict::StripeAccountLinked => (
                        "stripe_account_linked",
                        "This Stripe account is already connected to another Tally account.",
                    ),
                    Conflict::EmailUnverified => (
                        "email_unverified",
                        "Verify your e-mail address first (the link sent at sign-up; POST /v1/email/verify/resend sends another).",
                    ),
                    Conflict::RotationInProgress => (
                        "rotation_in_progress",
                        "The previous key rotation is still re-sealing your data; try again once it is done.",
                    ),
                    Conflict::SegmentNameTaken => (
                        "segment_name_taken",
                        "Another custom segment has this name (names are compared regardless of case).",
                    ),
                    Conflict::SegmentLimitReached => (
                        "segment_limit_reached",
                        "A tenant keeps at most 100 custom segments: delete one first.",
                    ),
                    Conflict::ImportOnly => (
                        "import_only",
                        "A custom integration has nothing to sync: send its data to POST /v1/integrations/{id}/import/{kind}.",
                    ),
                    Conflict::NotCustomIntegration => (
                        "not_custom_integration",
                        "Only a custom integration takes imports (POST /v1/integrations/custom); this one syncs from its processor.",
                    ),
                    Conflict::NotPaddleIntegration => (
                        "not_paddle_integration",
                        "Only a Paddle integration takes a notification secret; Stripe's webhook secret is the deployment's.",
                    ),
                    Conflict::NoDataYet => (
                        "no_data_yet",
                        "No data yet: connect an integration and let its first sync finish.",
                    ),
                    Conflict::CredentialsRefused => ("credentials_refused", SYNC_CONFLICT),
                    Conflict::PermissionMissing => ("permission_missing", SYNC_CONFLICT),
                    Conflict::SyncProviderUnavailable => ("provider_unavailable", SYNC_CONFLICT),
                    Conflict::UnexpectedResponse => ("unexpected_response", SYNC_CONFLICT),
                    Conflict::SyncTimedOut => ("sync_timed_out", SYNC_CONFLICT),
                };
                (S::CONFLICT, code, message)
            }
            Self::BadRequest(kind) => {
                let (code, message) = match kind {
                    BadRequest::InvalidCidr => (
                        "invalid_cidr",
                        "Not an IPv4 or IPv6 address or CIDR (e.g. 203.0.113.0/24 or 2001:db8::/32); a \
                         network covering every address (/0) is refused: delete the entries instead.",
                    ),
                    BadRequest::KeyNotRestricted => (
                        "key_not_restricted",
                        "Tally only accepts read-only restricted keys (rk_live_... or rk_test_...), never \
                         secret keys. In the Stripe Dashboard: Developers > API keys > Create restricted \
                         key, with Read access to Customers, Subscriptions, Invoices, Charges, Refunds, \
                         Payment methods, Prices, Products, Coupons and Events, and nothing else.",
                    ),
                    BadRequest::InvalidApiKey => (
                        "invalid_api_key",
                        "The processor did not accept this key: for Stripe a live or test restricted key \
                         (rk_...) with read access; for Paddle an API key (pdl_live_apikey_... or \
                         pdl_sdbx_apikey_...) with the read permissions the README lists.",
                    ),
                    BadRequest::InvalidSignature => (
                        "invalid_signature",
                        "The webhook's signature (Stripe-Signature or Paddle-Signature) does not verify \
                         for this body.",
                    ),
                    BadRequest::SignatureMissing => (
                        "invalid_signature",
                        "The webhook's signature header (Stripe-Signature or Paddle-Signature) is missing.",
                    ),
                    BadRequest::OauthExchangeFailed => (
                        "oauth_exchange_failed",
                        "Stripe did not accept the authorization code.",
                    ),
                    BadRequest::InvalidState => (
                        "invalid_state",
                        "The OAuth state is not valid, was used, or has expired.",
                    ),
                    BadRequest::UnknownMetric => (
                        "unknown_metric",
                        "Unknown metric: the API reference (docs/api.md) lists the metric names.",
                    ),
                    BadRequest::UnknownDimension => (
                        "unknown_dimension",
                        "Unknown dimension: use country, city, card_brand, card_funding, payment_method, plan, currency or integration.",
                    ),
                };
                (S::BAD_REQUEST, code, message)
            }
        }
    }

    pub fn status(self) -> StatusCode {
        self.parts().0
    }
    /// The code as the wire spells it.
    pub fn as_str(self) -> &'static str {
        self.parts().1
    }
    pub fn message(self) -> &'static str {
        self.parts().2
    }
}

/// A sync's failure seen as a response (none is sent today): the code says it all.
const SYNC_CONFLICT: &str = "The request conflicts with the current state.";

impl Conflict {
    /// The code as the wire (and an integration's `last_error`) spells it.
    pub fn as_str(self) -> &'static str {
        ErrorCode::Conflict(self).as_str()
    }
}

impl BadRequest {
    /// The code as the wire spells it.
    pub fn as_str(self) -> &'static str {
        ErrorCode::BadRequest(self).as_str()
    }
}

impl From<Conflict> for ErrorCode {
    fn from(kind: Conflict) -> Self {
        Self::Conflict(kind)
    }
}

impl From<BadRequest> for ErrorCode {
    fn from(kind: BadRequest) -> Self {
        Self::BadRequest(kind)
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Shows an error with every source after it, `outer: inner: root`, for the one log
/// line of a failure. Only `Display` is used: the adapters' errors are written to name
/// what failed without secrets or personal data, which their `Debug` may not promise.
pub struct ErrorChain<'a>(pub &'a (dyn StdError + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_serializes_as_the_wire_spells_it() {
        let codes = [
            (ErrorCode::Internal, "internal"),
            (ErrorCode::Conflict(Conflict::LastAdmin), "last_admin"),
            (
                ErrorCode::BadRequest(BadRequest::SignatureMissing),
                "invalid_signature",
            ),
        ];
        for (code, text) in codes {
            assert_eq!(serde_json::to_value(code).ok(), Some(text.into()));
        }
    }

    #[test]
    fn the_chain_names_every_source() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let err = ServiceError::internal(Outer(std::io::Error::other("root")));
        assert_eq!(
            ErrorChain(&err).to_string(),
            "internal failure: outer: root"
        );
    }
}
