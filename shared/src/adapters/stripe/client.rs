//! The HTTP client to Stripe's API: one `reqwest::Client` reused for every call, the
//! credential (a restricted key or an OAuth access token) sent as a bearer token and
//! kept in a `SecretString`, the API version pinned so the shapes `parse` reads do not
//! drift with the account's default version.
//!
//! GETs are retried on 429, 5xx and transport failures with exponential backoff,
//! honouring `Retry-After` and Stripe's `Stripe-Should-Retry`, bounded by
//! [`RetryPolicy`], and paced to the account's read budget ([`super::pacing`]). Errors and log lines carry the HTTP status, the request path (ids
//! only) and Stripe's error `type`/`code`/`param` — never the credential, the query
//! string, or Stripe's error message (which can echo what was sent).

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::STRIPE_API_VERSION;
pub use super::errors::StripeError;
use super::errors::classify_error;
use super::pacing::{DEFAULT_READS_PER_SECOND, ReadPacer};
use crate::config::Config;

/// How hard to try before giving up on a throttled or failing Stripe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first backoff delay; it doubles after each failed attempt.
    pub base: Duration,
    /// No single wait is longer, whatever `Retry-After` asks for.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// A policy with `base` as first delay and the default bounds (tests pass ms).
    pub fn with_base(base: Duration) -> Self {
        Self {
            base,
            ..Self::default()
        }
    }

    /// The wait after `failed_attempts` failures: Stripe's `Retry-After` when it sent
    /// one, else `base × 2^(failed_attempts − 1)`; capped at `max_delay` either way.
    pub fn delay(&self, failed_attempts: u32, retry_after: Option<Duration>) -> Duration {
        let doublings = failed_attempts.saturating_sub(1).min(16);
        let backoff = self.base.saturating_mul(1u32 << doublings);
        retry_after.unwrap_or(backoff).min(self.max_delay)
    }
}

/// A client of Stripe's API for one credential.
#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    api_base: String,
    credential: SecretString,
    retry: RetryPolicy,
    /// Shared by the client's clones: one budget for the account.
    pacer: Arc<ReadPacer>,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("api_base", &self.api_base)
            .field("credential", &"[redacted]")
            .field("retry", &self.retry)
            .finish()
    }
}

impl StripeClient {
    /// A client of the API at `api_base` (e.g. `https://api.stripe.com`).
    pub fn new(api_base: &str, credential: SecretString) -> Result<Self, StripeError> {
        Ok(Self::with_http(http_client()?, api_base, credential))
    }

    /// A client of the configured API base (`TALLY_STRIPE_API_BASE`).
    pub fn from_config(config: &Config, credential: SecretString) -> Result<Self, StripeError> {
        Self::new(&config.stripe_api_base, credential)
    }

    /// A client sharing an existing connection pool (one per warm function).
    pub fn with_http(http: reqwest::Client, api_base: &str, credential: SecretString) -> Self {
        Self {
            http,
            api_base: api_base.trim_end_matches('/').to_owned(),
            credential,
            retry: RetryPolicy::default(),
            pacer: Arc::new(ReadPacer::new(DEFAULT_READS_PER_SECOND)),
        }
    }

    /// At most about `per_second` requests a second (`TALLY_STRIPE_READS_PER_SECOND`).
    pub fn with_reads_per_second(mut self, per_second: u32) -> Self {
        self.pacer = Arc::new(ReadPacer::new(per_second));
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// `GET {api_base}{path}?{params}`, retried as the policy allows. `path` starts
    /// with `/v1/` and holds ids only (it is logged); `params` are form-encoded.
    pub async fn get(&self, path: &str, params: &[(&str, &str)]) -> Result<Value, StripeError> {
        if !path.starts_with("/v1/") {
            return Err(StripeError::Malformed("a request path outside /v1/".into()));
        }
        let url = format!("{}{}", self.api_base, path);
        let read = Read {
            provider: "stripe",
            path,
            retry: &self.retry,
            pacer: &self.pacer,
            should_retry,
        };
        get_json(read, || {
            self.http
                .get(&url)
                .query(params)
                .bearer_auth(self.credential.expose_secret())
                .header("Stripe-Version", STRIPE_API_VERSION)
        })
        .await
        .map_err(|failure| match failure {
            ReadFailure::Unavailable(why) => StripeError::Unavailable(why),
            ReadFailure::NotJson => StripeError::Malformed(format!("{path}: the body is not JSON")),
            ReadFailure::Refused(status, body) => classify_error(status, &body),
        })
    }
}

/// One paced, retried read of a processor's API (Stripe's and Paddle's clients).
pub(crate) struct Read<'a> {
    /// The provider's name, for log lines.
    pub provider: &'static str,
    /// The request's path, for log lines (never the query string: it may hold ids).
    pub path: &'a str,
    pub retry: &'a RetryPolicy,
    pub pacer: &'a ReadPacer,
    /// Whether a non-2xx answer is worth another attempt.
    pub should_retry: fn(StatusCode, &HeaderMap) -> bool,
}

/// Why a [`get_json`] read failed; each client maps it to its own error.
pub(crate) enum ReadFailure {
    /// Unreachable, or still throttled or failing after the policy's attempts: why,
    /// without the URL.
    Unavailable(String),
    /// A 2xx whose body is not JSON.
    NotJson,
    /// A final refusal: its status and body, for the provider's own classification.
    Refused(StatusCode, bytes::Bytes),
}

/// Sends `request()` until it succeeds or the policy gives up: each attempt waits for
/// the pacer; a transport failure, or an answer `should_retry` accepts, waits the
/// policy's delay (honouring `Retry-After`) and tries again, up to `max_attempts`.
pub(crate) async fn get_json(
    read: Read<'_>,
    request: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Value, ReadFailure> {
    let Read {
        provider,
        path,
        retry,
        pacer,
        should_retry,
    } = read;
    let max_attempts = retry.max_attempts.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        pacer.wait().await;
        let response = match request().send().await {
            Ok(response) => response,
            Err(err) => {
                let why = transport_failure(&err);
                if err.is_builder() || attempt >= max_attempts {
                    return Err(ReadFailure::Unavailable(format!(
                        "{why} after {attempt} attempts"
                    )));
                }
                let delay = retry.delay(attempt, None);
                tracing::warn!(
                    provider,
                    path,
                    attempt,
                    delay_ms = delay.as_millis() as u64,
                    why,
                    "processor unreachable; retrying"
                );
                tokio::time::sleep(delay).await;
                continue;
            }
        };
        let status = response.status();
        tracing::debug!(
            provider,
            path,
            status = status.as_u16(),
            attempt,
            "processor request"
        );
        if status.is_success() {
            return response
                .json::<Value>()
                .await
                .map_err(|_| ReadFailure::NotJson);
        }
        let retryable = should_retry(status, response.headers());
        if retryable && attempt < max_attempts {
            let delay = retry.delay(attempt, retry_after(response.headers()));
            tracing::warn!(
                provider,
                path,
                status = status.as_u16(),
                attempt,
                delay_ms = delay.as_millis() as u64,
                "processor throttled or failing; retrying"
            );
            tokio::time::sleep(delay).await;
            continue;
        }
        if retryable {
            return Err(ReadFailure::Unavailable(format!(
                "HTTP {} after {attempt} attempts",
                status.as_u16()
            )));
        }
        let body = response.bytes().await.unwrap_or_default();
        return Err(ReadFailure::Refused(status, body));
    }
}

/// The HTTP client every Stripe call shares: bounded time, no redirects (a redirect
/// from Stripe's API is not expected, and must not carry the credential anywhere).
pub fn http_client() -> Result<reqwest::Client, StripeError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("tally/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| StripeError::Unavailable("the HTTP client could not be built".into()))
}

/// A transport failure, named without the URL (`reqwest::Error`'s text includes it,
/// query string and all).
pub(crate) fn transport_failure(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connection failed"
    } else if err.is_builder() {
        "invalid request"
    } else {
        "transport error"
    }
}

/// Stripe says whether a retry can succeed (`Stripe-Should-Retry`); without it, 429
/// (rate limited) and 5xx are worth retrying.
fn should_retry(status: StatusCode, headers: &HeaderMap) -> bool {
    match headers
        .get("stripe-should-retry")
        .and_then(|v| v.to_str().ok())
    {
        Some("true") => true,
        Some("false") => false,
        _ => status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error(),
    }
}

/// `Retry-After` in whole seconds (the form Stripe sends); HTTP dates are ignored.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
        };
        assert_eq!(policy.delay(1, None), Duration::from_millis(100));
        assert_eq!(policy.delay(2, None), Duration::from_millis(200));
        assert_eq!(policy.delay(3, None), Duration::from_millis(350));
        assert_eq!(policy.delay(60, None), Duration::from_millis(350));
    }

    #[test]
    fn retry_after_wins_but_is_capped() {
        let policy = RetryPolicy::with_base(Duration::from_millis(100));
        assert_eq!(policy.delay(1, Some(Duration::ZERO)), Duration::ZERO);
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(3600))),
            policy.max_delay
        );
    }

    #[test]
    fn the_debug_form_hides_the_credential() {
        let client = StripeClient::new(
            "https://api.stripe.com/",
            SecretString::from("rk_test_SECRET"),
        )
        .unwrap();
        assert!(!format!("{client:?}").contains("SECRET"));
    }
}
