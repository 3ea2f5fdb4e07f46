//! Stripe's error responses, reduced to what is safe to log and act on: the HTTP
//! status and Stripe's error `type`, `code` and `param`. Never the `message` (it can
//! echo request values, keys included), the URL or the credential.

use reqwest::StatusCode;
use serde::Deserialize;

use crate::ports::ConnectorError;

/// What went wrong talking to Stripe, with only non-identifying detail.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StripeError {
    #[error("stripe refused the credentials")]
    Unauthorized,
    #[error("the credentials lack a permission")]
    Forbidden,
    #[error("stripe has no such object (code {code:?}, param {param:?})")]
    NotFound {
        code: Option<String>,
        param: Option<String>,
    },
    #[error(
        "stripe rejected the request: HTTP {status}, type {error_type:?}, code {code:?}, param {param:?}"
    )]
    Rejected {
        status: u16,
        error_type: Option<String>,
        code: Option<String>,
        param: Option<String>,
    },
    #[error("stripe is unavailable: {0}")]
    Unavailable(String),
    #[error("unexpected response from stripe: {0}")]
    Malformed(String),
}

impl From<StripeError> for ConnectorError {
    fn from(err: StripeError) -> Self {
        match err {
            StripeError::Unauthorized => ConnectorError::Unauthorized,
            StripeError::Forbidden => ConnectorError::Forbidden,
            StripeError::Unavailable(why) => ConnectorError::Unavailable(why),
            other @ (StripeError::NotFound { .. }
            | StripeError::Rejected { .. }
            | StripeError::Malformed(_)) => ConnectorError::Malformed(other.to_string()),
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

/// Stripe's error object, minus `message` (it can echo request values).
#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(rename = "type")]
    error_type: Option<String>,
    code: Option<String>,
    param: Option<String>,
}

/// A final (not retried) error response as a [`StripeError`].
pub(crate) fn classify_error(status: StatusCode, body: &[u8]) -> StripeError {
    let detail = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|b| b.error);
    let (error_type, code, param) = match detail {
        Some(d) => (
            safe_token(d.error_type),
            safe_token(d.code),
            safe_token(d.param),
        ),
        None => (None, None, None),
    };
    match status {
        StatusCode::UNAUTHORIZED => StripeError::Unauthorized,
        StatusCode::FORBIDDEN => StripeError::Forbidden,
        StatusCode::NOT_FOUND => StripeError::NotFound { code, param },
        _ if code.as_deref() == Some("resource_missing") => StripeError::NotFound { code, param },
        _ => StripeError::Rejected {
            status: status.as_u16(),
            error_type,
            code,
            param,
        },
    }
}

/// Keeps a Stripe error token only if it looks like one (a short identifier such as
/// `resource_missing` or `expand[0]`), so nothing else from a body reaches a log.
fn safe_token(token: Option<String>) -> Option<String> {
    token.filter(|t| {
        !t.is_empty()
            && t.len() <= 64
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'[' | b']'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_keep_codes_but_never_messages() {
        let body = br#"{"error":{"type":"invalid_request_error","code":"parameter_unknown","param":"foo","message":"Received unknown parameter: sk_live_SECRET"}}"#;
        let err = classify_error(StatusCode::BAD_REQUEST, body);
        let text = err.to_string();
        assert!(text.contains("parameter_unknown") && text.contains("invalid_request_error"));
        assert!(!text.contains("SECRET"), "{text}");
        let odd = br#"{"error":{"type":"x","code":"has spaces and sk_live_1","param":null}}"#;
        assert!(
            !classify_error(StatusCode::BAD_REQUEST, odd)
                .to_string()
                .contains("sk_live")
        );
    }

    #[test]
    fn statuses_map_to_their_meaning() {
        assert_eq!(
            classify_error(StatusCode::UNAUTHORIZED, b""),
            StripeError::Unauthorized
        );
        assert_eq!(
            classify_error(StatusCode::FORBIDDEN, b"{}"),
            StripeError::Forbidden
        );
        let missing = br#"{"error":{"type":"invalid_request_error","code":"resource_missing","param":"ending_before"}}"#;
        assert!(matches!(
            classify_error(StatusCode::BAD_REQUEST, missing),
            StripeError::NotFound { param: Some(p), .. } if p == "ending_before"
        ));
    }
}
