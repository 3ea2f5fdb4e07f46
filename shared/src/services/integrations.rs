//! Integrations: a tenant's read-only connections to payment processors.
//!
//! An integration is stored sealed in the tenant's partition with a plain status, and
//! listed in a global schedule partition (`repos::integrations`) so the scheduled
//! ingest can find every connected integration without a Scan. Its credentials — OAuth tokens or a restricted key — live only in the
//! SecretStore under `tally/<tenant>/<integration>`: never in the table, a log, an
//! error, an event or an export.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::adapters::demo::{DemoConnector, DemoParams, DemoShape};
use crate::adapters::paddle::{PaddleClient, PaddleConnector};
use crate::adapters::stripe::{
    OAuthTokens, RetryPolicy, StripeClient, StripeConnector, StripeOAuth,
};
use crate::domain::ids::{IntegrationId, TenantId};
use crate::ports::{Connector, SecretName};
use crate::services::contexts::Integrations;
use crate::services::error::{Conflict, ServiceError};
use crate::services::records::conflict_as;

pub use crate::repos::integrations::{IntegrationRecord, StoredIntegration};
/// The Stripe App's secret key (OAuth token exchange), created outside the template.
pub const STRIPE_APP_SECRET: &str = "tally/system/stripe-app-secret";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum Provider {
    Stripe,
    Demo,
    Custom,
    Paddle,
}

impl Provider {
    /// The provider's name as the API and the metrics spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stripe => "stripe",
            Self::Demo => "demo",
            Self::Custom => "custom",
            Self::Paddle => "paddle",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Stripe, Self::Demo, Self::Custom, Self::Paddle]
            .into_iter()
            .find(|p| p.as_str() == text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum IntegrationStatus {
    Connected,
    Syncing,
    Error,
    Disconnected,
}

impl IntegrationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::Syncing => "syncing",
            Self::Error => "error",
            Self::Disconnected => "disconnected",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "connected" => Some(Self::Connected),
            "syncing" => Some(Self::Syncing),
            "error" => Some(Self::Error),
            "disconnected" => Some(Self::Disconnected),
            _ => None,
        }
    }
}

/// The credentials of an integration, as stored in the SecretStore: Stripe's restricted
/// key or OAuth tokens, or Paddle's API key with the notification destination's secret
/// its webhooks are signed with (when one was given).
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Credential {
    RestrictedKey {
        key: String,
    },
    Oauth {
        tokens: String,
    },
    PaddleKey {
        key: String,
        #[serde(default)]
        webhook_secret: Option<String>,
    },
}

/// What `GET /v1/integrations` shows.
#[derive(Debug, Serialize)]
pub struct IntegrationView {
    pub id: IntegrationId,
    pub provider: Provider,
    pub status: IntegrationStatus,
    pub connected_at: DateTime<Utc>,
    pub last_sync_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A demo integration's shape (whose ids its records carry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demo_shape: Option<DemoShape>,
}

impl IntegrationView {
    /// What the list, a connect and an export show of one integration.
    pub fn of(id: IntegrationId, status: IntegrationStatus, record: &IntegrationRecord) -> Self {
        Self {
            id,
            provider: record.provider,
            status,
            connected_at: record.connected_at,
            last_sync_at: record.last_sync_at,
            last_error: record.last_error.clone(),
            demo_shape: record.demo_shape,
            name: record.name.clone(),
        }
    }
}

/// Chooses the connector of a demo integration in place of the generated dataset its
/// record names, for a program that embeds the services with a demo of its own: the
/// bench's DynamoDB cost model syncs tenants of up to 100,000 customers whose data
/// changes between passes. `None` keeps the record's connector. Stripe integrations
/// never consult it.
pub type DemoConnectorOverride =
    dyn Fn(&TenantId, &IntegrationId) -> Option<Arc<dyn Connector>> + Send + Sync;

pub fn secret_name(tenant: &TenantId, id: &IntegrationId) -> Result<SecretName, ServiceError> {
    Ok(SecretName::integration(tenant.as_str(), id.as_str())?)
}

impl Integrations {
    /// Installs a [`DemoConnectorOverride`]; `false` when one is already installed
    /// (it is set once, before the first sync).
    pub fn override_demo_connectors(&self, choose: Arc<DemoConnectorOverride>) -> bool {
        self.demo_override.set(choose).is_ok()
    }

    /// Creates an integration (record and index together) whose credentials, if any,
    /// were stored first.
    pub(crate) async fn create_integration(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        record: &IntegrationRecord,
    ) -> Result<(), ServiceError> {
        Ok(self.repos.integrations.create(tenant, id, record).await?)
    }

    /// Stores a Stripe integration's credentials in the SecretStore.
    pub(crate) async fn store_stripe_key(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        key: &SecretString,
    ) -> Result<(), ServiceError> {
        let credential = Credential::RestrictedKey {
            key: key.expose_secret().to_owned(),
        };
        self.put_credential(tenant, id, &credential).await
    }

    /// Stores a Paddle integration's API key and notification secret.
    pub(crate) async fn store_paddle_key(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        key: &SecretString,
        webhook_secret: Option<&SecretString>,
    ) -> Result<(), ServiceError> {
        let credential = Credential::PaddleKey {
            key: key.expose_secret().to_owned(),
            webhook_secret: webhook_secret.map(|s| s.expose_secret().to_owned()),
        };
        self.put_credential(tenant, id, &credential).await
    }

    /// The API key of a Paddle integration; `None` when its credential is not a Paddle
    /// key (or is gone).
    pub(crate) async fn paddle_key(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
    ) -> Result<Option<SecretString>, ServiceError> {
        let Some(secret) = self.secrets.get(&secret_name(tenant, id)?).await? else {
            return Ok(None);
        };
        let credential: Credential = serde_json::from_str(secret.expose_secret())
            .map_err(|_| ServiceError::internal("stored credential unreadable"))?;
        Ok(match credential {
            Credential::PaddleKey { key, .. } => Some(SecretString::from(key)),
            _ => None,
        })
    }

    /// The notification secret of a Paddle integration, if it has one.
    pub(crate) async fn paddle_webhook_secret(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
    ) -> Result<Option<SecretString>, ServiceError> {
        let Some(secret) = self.secrets.get(&secret_name(tenant, id)?).await? else {
            return Ok(None);
        };
        let credential: Credential = serde_json::from_str(secret.expose_secret())
            .map_err(|_| ServiceError::internal("stored credential unreadable"))?;
        Ok(match credential {
            Credential::PaddleKey {
                webhook_secret: Some(secret),
                ..
            } => Some(SecretString::from(secret)),
            _ => None,
        })
    }

    /// A Paddle client for `key` (live or sandbox API by its prefix), with the
    /// configured backoff; `None` when it is not a Paddle API key.
    pub(crate) fn paddle_client(
        &self,
        key: SecretString,
    ) -> Result<Option<PaddleClient>, ServiceError> {
        PaddleClient::from_config(&self.config, key).map_err(ServiceError::internal)
    }

    pub(crate) async fn store_stripe_tokens(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        tokens: &OAuthTokens,
    ) -> Result<(), ServiceError> {
        let credential = Credential::Oauth {
            tokens: tokens.to_secret_json().expose_secret().to_owned(),
        };
        self.put_credential(tenant, id, &credential).await
    }

    async fn put_credential(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        credential: &Credential,
    ) -> Result<(), ServiceError> {
        let json = zeroize::Zeroizing::new(
            serde_json::to_string(credential).map_err(ServiceError::internal)?,
        );
        let secret = SecretString::from(json.as_str().to_owned());
        self.secrets.put(&secret_name(tenant, id)?, &secret).await?;
        Ok(())
    }

    /// The integration with its version, if it exists.
    pub(crate) async fn load_integration(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
    ) -> Result<Option<StoredIntegration>, ServiceError> {
        Ok(self.repos.integrations.get(tenant, id).await?)
    }

    /// The integration a caller acts on: `NotFound` when it does not exist or is
    /// disconnected (a disconnected one is gone as far as the API is concerned), and
    /// `wrong` when it is not of `provider` (when one is asked for).
    pub(crate) async fn load_live_integration(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        provider: Option<(Provider, Conflict)>,
    ) -> Result<StoredIntegration, ServiceError> {
        let stored = self
            .load_integration(tenant, id)
            .await?
            .filter(|s| s.status != IntegrationStatus::Disconnected)
            .ok_or(ServiceError::NotFound)?;
        match provider {
            Some((provider, wrong)) if stored.record.provider != provider => {
                Err(ServiceError::Conflict(wrong))
            }
            _ => Ok(stored),
        }
    }

    /// Writes the integration's record and status (and the index's status) together.
    pub(crate) async fn save_integration(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        record: &IntegrationRecord,
        status: IntegrationStatus,
        previous: &StoredIntegration,
    ) -> Result<(), ServiceError> {
        self.repos
            .integrations
            .save(tenant, id, record, status, previous.version)
            .await
            .map_err(|err| conflict_as(err, ServiceError::Conflict(Conflict::ConcurrentUpdate)))
    }

    /// The Stripe App's OAuth client, when configured.
    pub(crate) async fn stripe_oauth(&self) -> Result<StripeOAuth, ServiceError> {
        let client_id = self
            .config
            .stripe_client_id
            .clone()
            .ok_or(ServiceError::Conflict(Conflict::OauthNotConfigured))?;
        let secret = self
            .secrets
            .get(&SecretName::parse(STRIPE_APP_SECRET)?)
            .await?
            .ok_or(ServiceError::Conflict(Conflict::OauthNotConfigured))?;
        StripeOAuth::new(&self.config, client_id, secret).map_err(ServiceError::internal)
    }

    /// A Stripe client for `credential`, with the configured backoff.
    pub(crate) fn stripe_client(
        &self,
        credential: SecretString,
    ) -> Result<StripeClient, ServiceError> {
        Ok(StripeClient::from_config(&self.config, credential)
            .map_err(ServiceError::internal)?
            .with_retry(RetryPolicy::with_base(self.config.stripe_retry_base))
            .with_reads_per_second(self.config.stripe_reads_per_second))
    }

    /// The connector of an integration: the demo generator, Paddle with its stored API
    /// key, or Stripe with its stored credential (an expiring OAuth access token is refreshed first and the rotated
    /// refresh token stored).
    pub(crate) async fn connector_for(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        record: &IntegrationRecord,
    ) -> Result<Arc<dyn Connector>, ServiceError> {
        if record.provider == Provider::Demo {
            if let Some(connector) = self
                .demo_override
                .get()
                .and_then(|choose| choose(tenant, id))
            {
                return Ok(connector);
            }
            let (seed, end) = record
                .demo
                .unwrap_or((DemoParams::default().seed, DemoParams::default().end));
            let defaults = DemoParams::default();
            let params = DemoParams {
                seed,
                end,
                customers: record.demo_customers.unwrap_or(defaults.customers),
                shape: record.demo_shape.unwrap_or_default(),
                ..defaults
            };
            return Ok(Arc::new(DemoConnector::new(params)));
        }
        let name = secret_name(tenant, id)?;
        let secret = self
            .secrets
            .get(&name)
            .await?
            .ok_or(ServiceError::Conflict(Conflict::CredentialsMissing))?;
        let credential: Credential = serde_json::from_str(secret.expose_secret())
            .map_err(|_| ServiceError::internal("stored credential unreadable"))?;
        let bearer = match credential {
            Credential::PaddleKey { key, .. } => {
                let client = self
                    .paddle_client(SecretString::from(key))?
                    .ok_or(ServiceError::Conflict(Conflict::CredentialsRefused))?;
                return Ok(Arc::new(PaddleConnector::new(client)));
            }
            Credential::RestrictedKey { key } => SecretString::from(key),
            Credential::Oauth { tokens } => {
                let mut tokens = OAuthTokens::from_secret_json(&SecretString::from(tokens))
                    .map_err(ServiceError::internal)?;
                let now = self.now().timestamp();
                if tokens.needs_refresh(now) {
                    tokens = self
                        .stripe_oauth()
                        .await?
                        .refresh(&tokens.refresh_token, now)
                        .await
                        .map_err(|_| ServiceError::Conflict(Conflict::CredentialsRefused))?;
                    self.store_stripe_tokens(tenant, id, &tokens).await?;
                }
                tokens.access_token.clone()
            }
        };
        Ok(Arc::new(StripeConnector::new(self.stripe_client(bearer)?)))
    }
}
