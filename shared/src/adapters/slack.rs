//! The SlackSender over HTTPS: one `reqwest::Client` per process, a short timeout (a
//! slow Slack must not hold the digest job), no redirects (a webhook answers 200 or an
//! error; a redirect would send the message somewhere the tenant did not configure).
//! Errors are built from the status or from reqwest's error without its URL.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use crate::ports::{SlackError, SlackMessage, SlackSender};

/// How long one POST may take, connection included.
pub const SLACK_TIMEOUT: Duration = Duration::from_secs(5);

pub struct HttpSlack {
    client: reqwest::Client,
}

impl HttpSlack {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .timeout(SLACK_TIMEOUT)
            .connect_timeout(SLACK_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { client }
    }
}

impl Default for HttpSlack {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl SlackSender for HttpSlack {
    async fn post(&self, url: &SecretString, message: &SlackMessage) -> Result<(), SlackError> {
        let response = self
            .client
            .post(url.expose_secret())
            .json(message)
            .send()
            .await
            .map_err(|err| SlackError::Unreachable(err.without_url().to_string()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(SlackError::Status(status.as_u16()))
        }
    }
}
