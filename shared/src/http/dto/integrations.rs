//! The bodies of the `oauth` function: integrations, the Stripe OAuth install and
//! restricted keys, Paddle API keys, disconnects and webhooks.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::list_reply;
use crate::adapters::demo::DemoShape;
use crate::domain::ids::IntegrationId;
use crate::services::integrations::{IntegrationStatus, IntegrationView, Provider};

#[derive(Debug, Serialize, ToSchema)]
pub struct Integration {
    pub id: IntegrationId,
    pub provider: Provider,
    pub status: IntegrationStatus,
    pub connected_at: DateTime<Utc>,
    #[schema(required = true)]
    pub last_sync_at: Option<DateTime<Utc>>,
    /// Present only after a failed sync.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub last_error: Option<String>,
    /// A custom integration's name, if its admin gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    /// Demo integrations only: whose ids the generated records carry (`stripe` or
    /// `paddle`); the local demo tenant has one of each.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub demo_shape: Option<DemoShape>,
}

impl From<IntegrationView> for Integration {
    fn from(view: IntegrationView) -> Self {
        Self {
            id: view.id,
            provider: view.provider,
            status: view.status,
            connected_at: view.connected_at,
            last_sync_at: view.last_sync_at,
            last_error: view.last_error,
            name: view.name,
            demo_shape: view.demo_shape,
        }
    }
}

list_reply!(IntegrationList of Integration);

/// The providers a key can be given for.
#[derive(Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyProvider {
    Stripe,
    Paddle,
}

#[derive(Deserialize, ToSchema)]
pub struct ConnectKeyRequest {
    #[schema(inline)]
    pub provider: KeyProvider,
    /// Stripe: a read-only restricted key (`rk_live_…` or `rk_test_…`). Paddle: an API
    /// key with read permissions only (`pdl_live_apikey_…` or `pdl_sdbx_apikey_…`).
    #[schema(value_type = String)]
    pub api_key: SecretString,
    /// Paddle only: the secret key of the notification destination pointed at
    /// `/v1/webhooks/paddle/{id}` (`pdl_ntfset_…`); without it, webhooks are refused
    /// and the hourly sync still runs.
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable = false)]
    pub webhook_secret: Option<SecretString>,
}

/// `PUT /v1/integrations/{id}/webhook-secret`.
#[derive(Deserialize, ToSchema)]
pub struct WebhookSecretRequest {
    /// The secret key of the Paddle notification destination pointed at
    /// `/v1/webhooks/paddle/{id}` (`pdl_ntfset_…`).
    #[schema(value_type = String)]
    pub webhook_secret: SecretString,
}

#[derive(Serialize, ToSchema)]
pub struct OAuthStart {
    #[schema(format = "uri")]
    pub authorize_url: String,
    /// Single-use, bound to the tenant and the user, valid 10 minutes.
    pub state: String,
}

/// Stripe's redirect back to Tally: `?state` with `code`, or with `error` when the
/// merchant declined.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    #[param(required = true, nullable = false, min_length = 1, max_length = 128)]
    pub state: Option<String>,
    #[param(nullable = false, max_length = 512)]
    pub code: Option<String>,
    /// Sent by Stripe when the merchant declined.
    #[param(nullable = false)]
    pub error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DataDeletedBy {
    /// Access is revoked now; the integration's data is deleted by then (24 hours).
    pub data_deleted_by: DateTime<Utc>,
}

/// A Stripe event as Stripe signs it (only these fields are read). The handler verifies
/// the signature over the raw bytes, so this type only documents the body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct StripeEvent {
    pub id: String,
    #[schema(rename = "type")]
    pub kind: String,
    pub account: Option<String>,
}

/// A Paddle notification as Paddle signs it (only `event_id` is read). The handler
/// verifies the signature over the raw bytes, so this type only documents the body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PaddleNotification {
    pub event_id: String,
    pub event_type: String,
    pub notification_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookAck {
    pub received: bool,
}
