//! Connecting a Stripe account read-only with Stripe Apps OAuth 2.0 (the other way,
//! a restricted key, is in `keys`).
//!
//! OAuth, per docs.stripe.com/stripe-apps/api-authentication/oauth: the merchant is
//! sent to the install link `{authorize_url}?client_id=…&redirect_uri=…&state=…`;
//! Stripe redirects back with a one-time `code` (valid 5 minutes), exchanged at
//! `POST {token_url}` (`grant_type=authorization_code`) authenticated with the app's
//! own secret key as HTTP Basic user. Access tokens live one hour; refresh tokens a
//! year and rotate on every refresh (`grant_type=refresh_token`): the new one must be
//! stored, the old one is dead. Disconnecting revokes the install at
//! `POST …/oauth/deauthorize` (`client_id`, `stripe_user_id`), beside the token URL.
//!
//! None of these POSTs is retried: a code is single-use and a refresh rotates, so a
//! retry after a lost response would only fail, or worse, orphan the new token.
//! Tokens are `SecretString`s ([`OAuthTokens`], in `oauth_tokens`).

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use zeroize::Zeroize;

use super::client::{http_client, transport_failure};
use super::errors::{StripeError, classify_error};
pub use super::oauth_tokens::OAuthTokens;
use crate::config::Config;

/// Stripe documents one hour for Stripe Apps access tokens and sends no `expires_in`.
const ACCESS_TOKEN_LIFETIME_SECS: i64 = 3600;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The code or refresh token was refused (used, expired, revoked): reconnect.
    #[error("stripe refused the grant ({code})")]
    InvalidGrant { code: String },
    /// The app's own secret key was refused.
    #[error("stripe refused the app's credentials")]
    Unauthorized,
    #[error("stripe's OAuth endpoint is unavailable: {0}")]
    Unavailable(String),
    #[error("unexpected OAuth response: {0}")]
    Malformed(String),
}

/// Stripe's token response (docs: access_token, refresh_token, scope,
/// stripe_user_id, livemode, token_type, stripe_publishable_key — the last two unused).
#[derive(Deserialize, Zeroize)]
#[zeroize(drop)]
struct TokenResponse {
    access_token: String,
    refresh_token: String,
    stripe_user_id: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    livemode: bool,
    /// Not sent today; honoured if Stripe starts sending it.
    expires_in: Option<i64>,
}

/// The OAuth side of the Stripe App: its client id and its own secret key.
pub struct StripeOAuth {
    http: reqwest::Client,
    authorize_url: String,
    token_url: String,
    deauthorize_url: String,
    client_id: String,
    app_secret_key: SecretString,
}

impl std::fmt::Debug for StripeOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeOAuth")
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("app_secret_key", &"[redacted]")
            .finish()
    }
}

impl StripeOAuth {
    /// The app as configured (`TALLY_STRIPE_OAUTH_AUTHORIZE_URL`, `…_TOKEN_URL`).
    pub fn new(
        config: &Config,
        client_id: impl Into<String>,
        app_secret_key: SecretString,
    ) -> Result<Self, OAuthError> {
        let http = http_client().map_err(|e| OAuthError::Unavailable(e.to_string()))?;
        let token_url = config
            .stripe_oauth_token_url
            .trim_end_matches('/')
            .to_owned();
        // Stripe serves deauthorize beside the token endpoint (`/v1/oauth/…`).
        let deauthorize_url = match token_url.rsplit_once('/') {
            Some((prefix, _)) => format!("{prefix}/deauthorize"),
            None => format!("{token_url}/deauthorize"),
        };
        Ok(Self {
            http,
            authorize_url: config.stripe_oauth_authorize_url.clone(),
            token_url,
            deauthorize_url,
            client_id: client_id.into(),
            app_secret_key,
        })
    }

    /// The install link to send the merchant to. `state` is the caller's single-use,
    /// unguessable value, checked again on the callback.
    pub fn authorize_url(&self, redirect_uri: &str, state: &str) -> Result<String, OAuthError> {
        let params = [
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", redirect_uri),
            ("state", state),
        ];
        reqwest::Url::parse_with_params(&self.authorize_url, &params)
            .map(String::from)
            .map_err(|_| OAuthError::Malformed("the authorize URL is not a URL".into()))
    }

    /// Exchanges the callback's `code`; `now` (Unix seconds) dates the expiry.
    pub async fn exchange_code(&self, code: &str, now: i64) -> Result<OAuthTokens, OAuthError> {
        let form = [("grant_type", "authorization_code"), ("code", code)];
        self.request_tokens(&form, now).await
    }

    /// A fresh access token and the rotated refresh token (store it: the old one died).
    pub async fn refresh(
        &self,
        refresh_token: &SecretString,
        now: i64,
    ) -> Result<OAuthTokens, OAuthError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
        ];
        self.request_tokens(&form, now).await
    }

    /// Revokes the install for the merchant's account (disconnect).
    pub async fn deauthorize(&self, stripe_user_id: &str) -> Result<(), OAuthError> {
        let form = [
            ("client_id", self.client_id.as_str()),
            ("stripe_user_id", stripe_user_id),
        ];
        self.post(&self.deauthorize_url, &form).await.map(drop)
    }

    async fn request_tokens(
        &self,
        form: &[(&str, &str)],
        now: i64,
    ) -> Result<OAuthTokens, OAuthError> {
        let body = self.post(&self.token_url, form).await?;
        let response: TokenResponse = serde_json::from_slice(&body)
            .map_err(|_| OAuthError::Malformed("the token response lacks a field".into()))?;
        let lifetime = response
            .expires_in
            .filter(|s| *s > 0)
            .unwrap_or(ACCESS_TOKEN_LIFETIME_SECS);
        Ok(OAuthTokens {
            access_token: SecretString::from(response.access_token.as_str()),
            refresh_token: SecretString::from(response.refresh_token.as_str()),
            expires_at: now.saturating_add(lifetime),
            stripe_user_id: response.stripe_user_id.clone(),
            scope: response.scope.clone(),
            livemode: response.livemode,
        })
    }

    /// One form POST authenticated as the app (Basic, secret key as user, no
    /// password — Stripe's `-u sk_…:`); the body on success, a classified error else.
    async fn post(&self, url: &str, form: &[(&str, &str)]) -> Result<Vec<u8>, OAuthError> {
        let response = self
            .http
            .post(url)
            .basic_auth(self.app_secret_key.expose_secret(), Some(""))
            .form(form)
            .send()
            .await
            .map_err(|e| OAuthError::Unavailable(transport_failure(&e).to_owned()))?;
        let status = response.status();
        tracing::debug!(status = status.as_u16(), "stripe oauth request");
        let body = response
            .bytes()
            .await
            .map_err(|e| OAuthError::Unavailable(transport_failure(&e).to_owned()))?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(OAuthError::Unavailable(format!("HTTP {}", status.as_u16())));
        }
        Err(oauth_error(status, &body))
    }
}

/// OAuth endpoints answer `{"error": "invalid_grant", "error_description": …}`; other
/// Stripe endpoints `{"error": {"type": …, "code": …}}`. Codes only, never texts.
fn oauth_error(status: reqwest::StatusCode, body: &[u8]) -> OAuthError {
    #[derive(Deserialize)]
    struct OAuthErrorBody {
        error: String,
    }
    if status.as_u16() == 401 {
        return OAuthError::Unauthorized;
    }
    if let Ok(parsed) = serde_json::from_slice::<OAuthErrorBody>(body) {
        let code = parsed.error;
        let looks_like_code = !code.is_empty()
            && code.len() <= 64
            && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        return OAuthError::InvalidGrant {
            code: if looks_like_code {
                code
            } else {
                "unknown".to_owned()
            },
        };
    }
    match classify_error(status, body) {
        StripeError::Unauthorized | StripeError::Forbidden => OAuthError::Unauthorized,
        other => OAuthError::Malformed(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth() -> StripeOAuth {
        let config = Config::from_vars(|_| None).unwrap();
        StripeOAuth::new(&config, "ca_app", SecretString::from("sk_test_APP")).unwrap()
    }

    #[test]
    fn the_install_link_carries_client_redirect_and_state() {
        let url = oauth()
            .authorize_url("https://app.example/cb?x=1", "st&ate")
            .unwrap();
        assert!(url.starts_with("https://marketplace.stripe.com/oauth/v2/authorize?"));
        assert!(url.contains("client_id=ca_app"));
        assert!(url.contains("redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fx%3D1"));
        assert!(url.contains("state=st%26ate"));
    }

    #[test]
    fn deauthorize_sits_beside_the_token_endpoint() {
        assert_eq!(
            oauth().deauthorize_url,
            "https://api.stripe.com/v1/oauth/deauthorize"
        );
        assert!(!format!("{:?}", oauth()).contains("sk_test_APP"));
    }

    #[test]
    fn oauth_errors_keep_the_code_only() {
        let body =
            br#"{"error":"invalid_grant","error_description":"Refresh token rt_SECRET expired"}"#;
        let err = oauth_error(reqwest::StatusCode::BAD_REQUEST, body);
        assert_eq!(
            err,
            OAuthError::InvalidGrant {
                code: "invalid_grant".into()
            }
        );
        assert!(!err.to_string().contains("SECRET"));
    }
}
