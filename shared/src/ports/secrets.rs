//! The SecretStore port: OAuth tokens and processor API keys live here and nowhere else
//! (not in the table, not in logs). Names follow `tally/<tenant>/<integration>`; a tenant's
//! Slack webhook URL is `tally/<tenant>/slack-webhook`.

use async_trait::async_trait;
use secrecy::SecretString;

/// The last segment of a tenant's Slack webhook secret's name (the IAM policies of
/// infra/template.yaml name it too).
pub const SLACK_WEBHOOK_SECRET: &str = "slack-webhook";

/// A validated secret name: `tally/` then 1..=200 characters of `[A-Za-z0-9/_.-]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretName(String);

impl SecretName {
    pub fn parse(name: &str) -> Result<Self, SecretError> {
        let rest = name
            .strip_prefix("tally/")
            .ok_or_else(|| SecretError::InvalidName(name.to_owned()))?;
        let valid = !rest.is_empty()
            && rest.len() <= 200
            && !rest.contains("..")
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'.' | b'-'));
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(SecretError::InvalidName(name.to_owned()))
        }
    }
    /// The secret of one integration of one tenant.
    pub fn integration(tenant_id: &str, integration_id: &str) -> Result<Self, SecretError> {
        Self::parse(&format!("tally/{tenant_id}/{integration_id}"))
    }
    /// A tenant's Slack incoming-webhook URL (the weekly digest's channel): one per
    /// tenant, beside its integrations' secrets, deleted with the tenant.
    pub fn slack_webhook(tenant_id: &str) -> Result<Self, SecretError> {
        Self::parse(&format!("tally/{tenant_id}/{SLACK_WEBHOOK_SECRET}"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("invalid secret name {0:?}")]
    InvalidName(String),
    #[error("secret store failure: {0}")]
    Backend(String),
}

#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Creates the secret or replaces its value.
    async fn put(&self, name: &SecretName, value: &SecretString) -> Result<(), SecretError>;

    async fn get(&self, name: &SecretName) -> Result<Option<SecretString>, SecretError>;

    /// Deletes at once, with no recovery window. Deleting a missing secret succeeds.
    async fn delete(&self, name: &SecretName) -> Result<(), SecretError>;
}
