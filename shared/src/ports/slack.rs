//! The SlackSender port: the weekly digest's message to a tenant's Slack incoming
//! webhook. The webhook URL is a secret (whoever holds it may post to the channel):
//! it is passed as a [`SecretString`] and no error of this port carries it.

use async_trait::async_trait;
use secrecy::SecretString;
use serde::Serialize;

/// A message as Slack's incoming webhooks take it: `{"text": ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SlackMessage {
    pub text: String,
}

/// Why a message was not delivered. Never the URL, never the response body.
#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    #[error("Slack answered HTTP {0}")]
    Status(u16),
    #[error("Slack could not be reached: {0}")]
    Unreachable(String),
}

#[async_trait]
pub trait SlackSender: Send + Sync {
    /// POSTs `message` to the webhook at `url`.
    async fn post(&self, url: &SecretString, message: &SlackMessage) -> Result<(), SlackError>;
}
