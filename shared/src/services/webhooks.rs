//! Processor webhooks: signals, never the source of truth.
//!
//! Stripe: a verified event (HMAC-SHA256 over `t.body`, constant-time, 300 s tolerance)
//! is deduplicated by its id and only queues a sync of the integration of its account;
//! `account.application.deauthorized` marks the integration disconnected (the merchant
//! uninstalled the app).
//!
//! Paddle: each integration has its own notification destination, pointed at
//! `/v1/webhooks/paddle/{integration}` and signed with that destination's secret
//! (HMAC-SHA256 over `ts:body`, constant-time, Paddle's 5 s tolerance). A verified
//! notification is deduplicated by its event id and queues a sync. An unknown
//! integration, one without a secret, and a bad signature are all answered alike.

use chrono::Duration;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::adapters::paddle;
use crate::adapters::stripe;
use crate::domain::ids::IntegrationId;
use crate::ports::SecretName;
use crate::services::connections::paddle_pointer;
use crate::services::contexts::Integrations;
use crate::services::error::{BadRequest, ServiceError};
use crate::services::integrations::{IntegrationStatus, Provider};

/// The webhook endpoint's signing secret (`whsec_…`), created outside the template.
pub const STRIPE_WEBHOOK_SECRET: &str = "tally/system/stripe-webhook-secret";
/// Stripe's recommended tolerance between the signature's time and now.
const TOLERANCE_SECS: i64 = 300;
/// How long an event id is remembered (Stripe retries for up to 3 days).
const DEDUPE_DAYS: i64 = 4;

/// A Paddle notification: only its event's id is read.
#[derive(Deserialize)]
struct PaddleNotification {
    event_id: String,
}

#[derive(Deserialize)]
struct WebhookEvent {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    account: Option<String>,
}

/// What a webhook led to.
#[derive(Debug, PartialEq, Eq)]
pub enum WebhookOutcome {
    SyncQueued,
    Disconnected,
    Duplicate,
    /// A valid event about no integration of ours.
    Ignored,
}

/// How long a warm process keeps the webhook signing secret (a rotated secret is
/// picked up within this time).
const WEBHOOK_SECRET_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// The signing secret as last read, per warm process: the webhook route is
/// unauthenticated, and reading Secrets Manager on every call would let anyone run up
/// its calls (and its bill, and its throttling of the other functions).
#[derive(Default)]
pub(crate) struct WebhookSecretCache(std::sync::Mutex<Option<(std::time::Instant, SecretString)>>);

impl Integrations {
    /// The webhook signing secret, read at most once per [`WEBHOOK_SECRET_TTL`]. A
    /// missing secret is not remembered (configuring it takes effect at once) and
    /// refuses every signature.
    async fn webhook_secret(&self) -> Result<SecretString, ServiceError> {
        let poisoned = |_| ServiceError::internal("the webhook secret cache is poisoned");
        let cached = self
            .webhook_secret
            .0
            .lock()
            .map_err(poisoned)?
            .as_ref()
            .filter(|(at, _)| at.elapsed() < WEBHOOK_SECRET_TTL)
            .map(|(_, secret)| secret.clone());
        if let Some(secret) = cached {
            return Ok(secret);
        }
        let secret = self
            .secrets
            .get(&SecretName::parse(STRIPE_WEBHOOK_SECRET)?)
            .await?
            .ok_or(ServiceError::BadRequest(BadRequest::InvalidSignature))?;
        *self.webhook_secret.0.lock().map_err(poisoned)? =
            Some((std::time::Instant::now(), secret.clone()));
        Ok(secret)
    }

    /// `POST /v1/webhooks/stripe`.
    pub async fn stripe_webhook(
        &self,
        signature: &str,
        body: &[u8],
    ) -> Result<WebhookOutcome, ServiceError> {
        let secret = self.webhook_secret().await?;
        stripe::SIGNATURE
            .verify(
                secret.expose_secret().as_bytes(),
                signature,
                body,
                self.now().timestamp(),
                TOLERANCE_SECS,
            )
            .map_err(|_| ServiceError::BadRequest(BadRequest::InvalidSignature))?;
        let event: WebhookEvent = serde_json::from_slice(body)
            .map_err(|_| ServiceError::invalid("body", "Not a Stripe event."))?;
        if event.id.is_empty() || event.id.len() > 255 || event.id.contains('#') {
            return Err(ServiceError::invalid("id", "Not a Stripe event id."));
        }
        let remember_until = (self.now() + Duration::days(DEDUPE_DAYS)).timestamp();
        let events = &self.repos.webhook_events;
        if !events.first_sighting(&event.id, remember_until).await? {
            return Ok(WebhookOutcome::Duplicate);
        }
        let Some(account) = event.account.filter(|a| !a.is_empty() && !a.contains('#')) else {
            return Ok(WebhookOutcome::Ignored);
        };
        let Some((tenant, integration)) = self.repos.stripe_accounts.get(&account).await? else {
            return Ok(WebhookOutcome::Ignored);
        };
        if event.event_type == "account.application.deauthorized" {
            self.disconnect_integration(&tenant, &integration, None)
                .await?;
            return Ok(WebhookOutcome::Disconnected);
        }
        self.publish_sync_requested(&tenant, &integration).await?;
        Ok(WebhookOutcome::SyncQueued)
    }
}

impl Integrations {
    /// `POST /v1/webhooks/paddle/{integration}`.
    pub async fn paddle_webhook(
        &self,
        integration: &str,
        signature: &str,
        body: &[u8],
    ) -> Result<WebhookOutcome, ServiceError> {
        let refused = || ServiceError::BadRequest(BadRequest::InvalidSignature);
        let id = IntegrationId::parse(integration).ok_or_else(refused)?;
        let (tenant, pointed) = self
            .repos
            .stripe_accounts
            .get(&paddle_pointer(&id))
            .await?
            .ok_or_else(refused)?;
        if pointed != id {
            return Err(refused());
        }
        match self.load_integration(&tenant, &id).await? {
            Some(stored)
                if stored.record.provider == Provider::Paddle
                    && stored.status != IntegrationStatus::Disconnected => {}
            _ => return Err(refused()),
        }
        let secret = self
            .paddle_webhook_secret(&tenant, &id)
            .await?
            .ok_or_else(refused)?;
        paddle::SIGNATURE
            .verify(
                secret.expose_secret().as_bytes(),
                signature,
                body,
                self.now().timestamp(),
                paddle::webhook::TOLERANCE_SECS,
            )
            .map_err(|_| refused())?;
        let notification: PaddleNotification = serde_json::from_slice(body)
            .map_err(|_| ServiceError::invalid("body", "Not a Paddle notification."))?;
        let event = notification.event_id;
        let valid = (1..=128).contains(&event.len())
            && event
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(ServiceError::invalid("event_id", "Not a Paddle event id."));
        }
        // Paddle retries for up to 3 days too; ids are unique per account, so the
        // integration is part of the key.
        let remember_until = (self.now() + Duration::days(DEDUPE_DAYS)).timestamp();
        let key = format!("paddle_{id}_{event}");
        if !self
            .repos
            .webhook_events
            .first_sighting(&key, remember_until)
            .await?
        {
            return Ok(WebhookOutcome::Duplicate);
        }
        self.publish_sync_requested(&tenant, &id).await?;
        Ok(WebhookOutcome::SyncQueued)
    }
}
