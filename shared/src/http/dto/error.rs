//! The error envelope as the document describes it. `http/error.rs` writes it; these
//! types only give it a schema, and a test below holds the two together by reading what
//! `ApiError` actually sends back into them.

use serde::Deserialize;
use utoipa::ToSchema;

/// Every error reply.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = Error)]
#[allow(dead_code)] // Read by the test only: the replies are written by `ApiError`.
pub struct ErrorBody {
    pub error: ErrorObject,
}

#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ErrorObject {
    /// Fixed snake_case code (see each response).
    #[schema(pattern = "^[a-z][a-z0-9_]*$", examples("invalid_request"))]
    pub code: String,
    /// For a person; never echoes secrets or internal detail.
    pub message: String,
    #[serde(default)]
    #[schema(nullable = false)]
    pub details: Option<ErrorDetails>,
}

/// `invalid_request`: `{field}`; `weak_password`: `{rules: [{rule, message}]}`;
/// `password_expired`: `{change_token}`.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetails {
    #[serde(default)]
    #[schema(nullable = false)]
    pub field: Option<String>,
    #[serde(default)]
    #[schema(nullable = false)]
    pub rules: Option<Vec<UnmetRule>>,
    #[serde(default)]
    #[schema(nullable = false)]
    pub change_token: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct UnmetRule {
    pub rule: String,
    pub message: String,
}

/// An `Error`; with `password_expired`, also a top-level `change_token`.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct LoginForbiddenError {
    pub error: ErrorObject,
    #[serde(default)]
    #[schema(nullable = false)]
    pub change_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;
    use crate::http::ApiError;
    use crate::services::ServiceError;

    fn body_of(err: ApiError) -> Vec<u8> {
        let response = err.into_response();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap()
                .to_vec()
        })
    }

    #[test]
    fn every_kind_of_error_reply_reads_as_the_documented_envelope() {
        let replies = [
            ApiError::NotFound,
            ApiError::invalid_field("limit", "bad"),
            ServiceError::WeakPassword(vec![crate::domain::password::PasswordRule::NeedsDigit])
                .into(),
            ApiError::RateLimited {
                retry_after_secs: 3,
            },
            ApiError::internal("a cause that must not leave"),
        ];
        for reply in replies {
            let bytes = body_of(reply);
            let parsed: Result<ErrorBody, _> = serde_json::from_slice(&bytes);
            assert!(parsed.is_ok(), "{}", String::from_utf8_lossy(&bytes));
        }
        let expired = body_of(
            ServiceError::PasswordExpired {
                change_token: "t".into(),
            }
            .into(),
        );
        let parsed: LoginForbiddenError = serde_json::from_slice(&expired).unwrap();
        assert_eq!(parsed.change_token.as_deref(), Some("t"));
        assert_eq!(
            parsed.error.details.and_then(|d| d.change_token).as_deref(),
            Some("t")
        );
    }
}
