//! The HTTP client to Paddle Billing's API: one `reqwest::Client`, the API key sent as
//! a bearer token and kept in a `SecretString`, and the base URL chosen by the key's
//! environment (sandbox keys to the sandbox API, live keys to the live API).
//!
//! GETs are retried on 429, 5xx and transport failures, honouring Paddle's
//! `Retry-After` (Paddle answers 429 `too_many_requests` past 240 requests a minute per
//! IP address), bounded by the same [`RetryPolicy`] as Stripe's client and paced by the
//! same kind of [`ReadPacer`]. Errors and log lines carry the HTTP status, the request
//! path (ids only) and Paddle's error `type`/`code` — never the key, the query string,
//! or Paddle's `detail` (which can echo what was sent).

use std::sync::Arc;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;

use super::keys::{KeyEnvironment, key_environment};
use crate::adapters::stripe::RetryPolicy;
use crate::adapters::stripe::client::{Read, ReadFailure, get_json, http_client};
use crate::adapters::stripe::pacing::ReadPacer;
use crate::config::Config;
use crate::ports::ConnectorError;

/// What went wrong talking to Paddle, with only non-identifying detail.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PaddleError {
    #[error("paddle refused the API key")]
    Unauthorized,
    #[error("the API key lacks a permission")]
    Forbidden,
    #[error("paddle has no such entity")]
    NotFound,
    #[error("paddle rejected the request: HTTP {status}, type {error_type:?}, code {code:?}")]
    Rejected {
        status: u16,
        error_type: Option<String>,
        code: Option<String>,
    },
    #[error("paddle is unavailable: {0}")]
    Unavailable(String),
    #[error("unexpected response from paddle: {0}")]
    Malformed(String),
}

impl From<PaddleError> for ConnectorError {
    fn from(err: PaddleError) -> Self {
        match err {
            PaddleError::Unauthorized => ConnectorError::Unauthorized,
            PaddleError::Forbidden => ConnectorError::Forbidden,
            PaddleError::Unavailable(why) => ConnectorError::Unavailable(why),
            other @ (PaddleError::NotFound
            | PaddleError::Rejected { .. }
            | PaddleError::Malformed(_)) => ConnectorError::Malformed(other.to_string()),
        }
    }
}

/// A client of Paddle's API for one API key.
#[derive(Clone)]
pub struct PaddleClient {
    http: reqwest::Client,
    api_base: String,
    key: SecretString,
    retry: RetryPolicy,
    pacer: Arc<ReadPacer>,
}

impl std::fmt::Debug for PaddleClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaddleClient")
            .field("api_base", &self.api_base)
            .field("key", &"[redacted]")
            .field("retry", &self.retry)
            .finish()
    }
}

impl PaddleClient {
    /// A client of the API at `api_base` (e.g. `https://api.paddle.com`).
    pub fn new(api_base: &str, key: SecretString) -> Result<Self, PaddleError> {
        let http = http_client()
            .map_err(|_| PaddleError::Unavailable("the HTTP client could not be built".into()))?;
        Ok(Self {
            http,
            api_base: api_base.trim_end_matches('/').to_owned(),
            key,
            retry: RetryPolicy::default(),
            pacer: Arc::new(ReadPacer::new(3)),
        })
    }

    /// A client of the configured API of the key's environment, with the configured
    /// backoff and pace; `None` for a string that is not a Paddle API key.
    pub fn from_config(config: &Config, key: SecretString) -> Result<Option<Self>, PaddleError> {
        let base = match key_environment(key.expose_secret()) {
            Some(KeyEnvironment::Live) => &config.paddle_api_base,
            Some(KeyEnvironment::Sandbox) => &config.paddle_sandbox_api_base,
            None => return Ok(None),
        };
        Ok(Some(
            Self::new(base, key)?
                .with_retry(RetryPolicy::with_base(config.paddle_retry_base))
                .with_reads_per_second(config.paddle_reads_per_second),
        ))
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_reads_per_second(mut self, per_second: u32) -> Self {
        self.pacer = Arc::new(ReadPacer::new(per_second));
        self
    }

    /// `GET {api_base}{path}?{params}`, retried as the policy allows. `path` starts
    /// with `/` and holds ids only (it is logged).
    pub async fn get(&self, path: &str, params: &[(&str, &str)]) -> Result<Value, PaddleError> {
        if !path.starts_with('/') || path.contains("..") {
            return Err(PaddleError::Malformed(
                "a request path outside the API".into(),
            ));
        }
        let url = format!("{}{}", self.api_base, path);
        let read = Read {
            provider: "paddle",
            path,
            retry: &self.retry,
            pacer: &self.pacer,
            // Paddle sends no retry advice: 429 (with `Retry-After`) and 5xx are worth it.
            should_retry: |status, _| {
                status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
            },
        };
        get_json(read, || {
            self.http
                .get(&url)
                .query(params)
                .bearer_auth(self.key.expose_secret())
        })
        .await
        .map_err(|failure| match failure {
            ReadFailure::Unavailable(why) => PaddleError::Unavailable(why),
            ReadFailure::NotJson => PaddleError::Malformed(format!("{path}: the body is not JSON")),
            ReadFailure::Refused(status, body) => classify_error(status, &body),
        })
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

/// Paddle's error object, minus `detail` and `errors[]` (they can echo request values).
#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(rename = "type")]
    error_type: Option<String>,
    code: Option<String>,
}

/// A final (not retried) error response as a [`PaddleError`].
pub(crate) fn classify_error(status: StatusCode, body: &[u8]) -> PaddleError {
    let detail = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|b| b.error);
    let (error_type, code) = match detail {
        Some(d) => (safe_token(d.error_type), safe_token(d.code)),
        None => (None, None),
    };
    match status {
        StatusCode::UNAUTHORIZED => PaddleError::Unauthorized,
        StatusCode::FORBIDDEN => PaddleError::Forbidden,
        StatusCode::NOT_FOUND => PaddleError::NotFound,
        _ => PaddleError::Rejected {
            status: status.as_u16(),
            error_type,
            code,
        },
    }
}

/// Keeps an error token only if it looks like one (`not_found`, `request_error`).
fn safe_token(token: Option<String>) -> Option<String> {
    token.filter(|t| {
        !t.is_empty() && t.len() <= 64 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_keep_codes_but_never_details() {
        // The shape of Paddle's "Errors" reference page.
        let body = br#"{"error":{"type":"request_error","code":"bad_request","detail":"Invalid request: pdl_live_apikey_SECRET","documentation_url":"https://developer.paddle.com/v1/errors/shared/bad_request"},"meta":{"request_id":"f00bb3ca"}}"#;
        let text = classify_error(StatusCode::BAD_REQUEST, body).to_string();
        assert!(text.contains("bad_request") && text.contains("request_error"));
        assert!(!text.contains("SECRET"), "{text}");
        assert_eq!(
            classify_error(StatusCode::UNAUTHORIZED, b""),
            PaddleError::Unauthorized
        );
        assert_eq!(
            classify_error(StatusCode::FORBIDDEN, b"{}"),
            PaddleError::Forbidden
        );
    }

    #[test]
    fn the_debug_form_hides_the_key() {
        let client = PaddleClient::new(
            "https://api.paddle.com",
            SecretString::from("pdl_live_apikey_SECRET"),
        )
        .unwrap();
        assert!(!format!("{client:?}").contains("SECRET"));
    }
}
