//! The tokens of one Stripe Apps install, and their stored form. Every token is a
//! `SecretString` (so `Debug` redacts it); the JSON that goes to the SecretStore is
//! one too, and is zeroized once serialized or parsed.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use super::oauth::OAuthError;

/// Refresh this long before expiry, so a sync never starts on a dying token.
const REFRESH_MARGIN_SECS: i64 = 300;

/// The tokens of one install. `Debug` shows the secrets redacted.
#[derive(Clone, Debug)]
pub struct OAuthTokens {
    pub access_token: SecretString,
    pub refresh_token: SecretString,
    /// When the access token expires (Unix seconds).
    pub expires_at: i64,
    /// The merchant's account (`acct_…`).
    pub stripe_user_id: String,
    pub scope: String,
    pub livemode: bool,
}

/// The stored form: only ever built inside [`OAuthTokens::to_secret_json`] and read
/// back in [`OAuthTokens::from_secret_json`].
#[derive(Serialize, Deserialize, Zeroize)]
#[zeroize(drop)]
struct StoredTokens {
    access_token: String,
    refresh_token: String,
    expires_at: i64,
    stripe_user_id: String,
    scope: String,
    livemode: bool,
}

impl OAuthTokens {
    /// Whether to refresh before using the access token at `now`.
    pub fn needs_refresh(&self, now: i64) -> bool {
        now >= self.expires_at - REFRESH_MARGIN_SECS
    }

    /// The tokens as JSON, itself a secret: for the SecretStore and nowhere else.
    pub fn to_secret_json(&self) -> SecretString {
        let stored = StoredTokens {
            access_token: self.access_token.expose_secret().to_owned(),
            refresh_token: self.refresh_token.expose_secret().to_owned(),
            expires_at: self.expires_at,
            stripe_user_id: self.stripe_user_id.clone(),
            scope: self.scope.clone(),
            livemode: self.livemode,
        };
        // Serializing plain strings and integers cannot fail.
        SecretString::from(serde_json::to_string(&stored).unwrap_or_default())
    }

    pub fn from_secret_json(json: &SecretString) -> Result<Self, OAuthError> {
        let stored: StoredTokens = serde_json::from_str(json.expose_secret()).map_err(|_| {
            OAuthError::Malformed("stored tokens are not in the expected form".into())
        })?;
        Ok(Self {
            access_token: SecretString::from(stored.access_token.as_str()),
            refresh_token: SecretString::from(stored.refresh_token.as_str()),
            expires_at: stored.expires_at,
            stripe_user_id: stored.stripe_user_id.clone(),
            scope: stored.scope.clone(),
            livemode: stored.livemode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_through_their_secret_json_and_debug_hides_them() {
        let tokens = OAuthTokens {
            access_token: SecretString::from("at_SECRET"),
            refresh_token: SecretString::from("rt_SECRET"),
            expires_at: 5000,
            stripe_user_id: "acct_1".into(),
            scope: "stripe_apps".into(),
            livemode: false,
        };
        assert!(!format!("{tokens:?}").contains("SECRET"));
        let back = OAuthTokens::from_secret_json(&tokens.to_secret_json()).unwrap();
        assert_eq!(back.refresh_token.expose_secret(), "rt_SECRET");
        assert_eq!(back.expires_at, 5000);
        assert!(back.needs_refresh(4700) && !back.needs_refresh(4699));
    }
}
