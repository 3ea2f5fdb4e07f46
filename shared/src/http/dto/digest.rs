//! The bodies of the weekly digest's routes: a user's opt-in, the tenant's Slack
//! webhook (written, never read back: replies say only whether one is configured), and
//! the preview of the digest (the domain's `Digest`, money in minor units).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::domain::digest::Digest as DigestPreview;

/// Whether the caller receives the weekly digest by e-mail (off until turned on).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DigestSubscription {
    pub weekly: bool,
}

/// A Slack incoming-webhook URL: `https://hooks.slack.com/services/...`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlackWebhookRequest {
    #[schema(
        max_length = 300,
        pattern = "^https://hooks\\.slack\\.com/services/[A-Za-z0-9]+/[A-Za-z0-9]+/[A-Za-z0-9]+$"
    )]
    pub url: String,
}

/// Whether the tenant has a Slack webhook, and when it was set. The URL is never sent
/// back.
#[derive(Serialize, ToSchema)]
pub struct SlackWebhookStatus {
    pub configured: bool,
    #[schema(required = true)]
    pub updated_at: Option<DateTime<Utc>>,
}
