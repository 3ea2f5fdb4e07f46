//! Connecting processors, read-only (docs/api.md "oauth function").
//!
//! Stripe: through the Stripe App's OAuth 2.0 install (a single-use `state` bound to the
//! tenant and the admin who started it, valid 10 minutes), or with a restricted key
//! (`rk_…`) that one test call accepts. Full secret keys (`sk_…`) are refused: Tally
//! never holds a key that can write.
//!
//! Paddle: with an API key (`pdl_live_apikey_…`/`pdl_sdbx_apikey_…`) that one read of
//! each entity the sync needs accepts, and optionally the notification destination's
//! secret (`pdl_ntfset_…`) its webhooks are signed with. Paddle's API does not tell a
//! key's permissions, so a key that can write cannot be told apart and refused: the
//! README says which read permissions to pick.

use chrono::Duration;
use secrecy::{ExposeSecret, SecretString};

use crate::adapters::demo::DemoShape;
use crate::adapters::paddle;
use crate::adapters::stripe::{KeyKind, check_key, key_kind};
use crate::domain::ids::{IntegrationId, TenantId};
use crate::domain::roles::Role;
use crate::ports::ConnectorError;
use crate::repos::tokens::TokenKind;
use crate::services::contexts::Integrations;
use crate::services::error::{BadRequest, Conflict, ServiceError};
use crate::services::integrations::{
    IntegrationRecord, IntegrationStatus, IntegrationView, Provider,
};
use crate::services::jobs::SyncJob;
use crate::services::sessions::TenantCtx;

/// How long an OAuth `state` is valid.
const OAUTH_STATE_MINUTES: i64 = 10;
pub const OAUTH_CALLBACK_PATH: &str = "/v1/oauth/stripe/callback";

impl Integrations {
    /// `GET /v1/integrations`.
    pub async fn list_integrations(
        &self,
        ctx: &TenantCtx,
    ) -> Result<Vec<IntegrationView>, ServiceError> {
        let mut out = Vec::new();
        for stored in self.repos.integrations.all(ctx.tenant()).await? {
            out.push(IntegrationView::of(
                stored.id,
                stored.status,
                &stored.record,
            ));
        }
        Ok(out)
    }

    /// `POST /v1/integrations {provider: "stripe", api_key}`.
    pub async fn connect_stripe_key(
        &self,
        ctx: &TenantCtx,
        api_key: &SecretString,
    ) -> Result<IntegrationView, ServiceError> {
        self.guard.require_verified_email(ctx.tenant()).await?;
        match key_kind(api_key.expose_secret()) {
            KeyKind::Restricted => {}
            KeyKind::Secret => return Err(ServiceError::BadRequest(BadRequest::KeyNotRestricted)),
            _ => return Err(ServiceError::BadRequest(BadRequest::InvalidApiKey)),
        }
        let client = self.stripe_client(api_key.clone())?;
        key_checked("stripe", check_key(&client).await)?;
        let id = IntegrationId::generate();
        self.store_stripe_key(ctx.tenant(), &id, api_key).await?;
        let record = IntegrationRecord::new(Provider::Stripe, self.now());
        self.announce_connected(
            ctx,
            id,
            record,
            "IntegrationConnected:stripe:restricted_key",
        )
        .await
    }

    /// `POST /v1/integrations {provider: "paddle", api_key, webhook_secret?}`.
    pub async fn connect_paddle_key(
        &self,
        ctx: &TenantCtx,
        api_key: &SecretString,
        webhook_secret: Option<&SecretString>,
    ) -> Result<IntegrationView, ServiceError> {
        self.guard.require_verified_email(ctx.tenant()).await?;
        if let Some(secret) = webhook_secret
            && !valid_notification_secret(secret.expose_secret())
        {
            return Err(ServiceError::invalid(
                "webhook_secret",
                "Not a Paddle notification secret (pdl_ntfset_...).",
            ));
        }
        let trimmed = SecretString::from(api_key.expose_secret().trim().to_owned());
        let client = self
            .paddle_client(trimmed.clone())?
            .ok_or(ServiceError::BadRequest(BadRequest::InvalidApiKey))?;
        key_checked("paddle", paddle::check_key(&client).await)?;
        let id = IntegrationId::generate();
        self.store_paddle_key(ctx.tenant(), &id, &trimmed, webhook_secret)
            .await?;
        // The webhook route names the integration only: this pointer finds its tenant.
        let pointer = paddle_pointer(&id);
        if !self
            .repos
            .stripe_accounts
            .claim(&pointer, ctx.tenant(), &id, None)
            .await?
        {
            return Err(ServiceError::internal("a new integration id is taken"));
        }
        let record = IntegrationRecord {
            account: Some(pointer),
            ..IntegrationRecord::new(Provider::Paddle, self.now())
        };
        self.announce_connected(ctx, id, record, "IntegrationConnected:paddle:api_key")
            .await
    }

    /// The end of a connect by key: the integration stored, audited as `action` by the
    /// admin who connected it, and its first sync queued.
    async fn announce_connected(
        &self,
        ctx: &TenantCtx,
        id: IntegrationId,
        record: IntegrationRecord,
        action: &str,
    ) -> Result<IntegrationView, ServiceError> {
        self.create_integration(ctx.tenant(), &id, &record).await?;
        self.guard
            .audit(
                ctx.tenant(),
                Some(ctx.user()),
                action,
                Some(format!("integration:{id}")),
                Some(ctx.ip()),
            )
            .await?;
        self.publish_sync_requested(ctx.tenant(), &id).await?;
        Ok(view(id, &record))
    }

    /// `POST /v1/integrations/stripe/connect`: the install link and its single-use state.
    pub async fn start_stripe_oauth(
        &self,
        ctx: &TenantCtx,
    ) -> Result<(String, String), ServiceError> {
        self.guard.require_verified_email(ctx.tenant()).await?;
        let oauth = self.stripe_oauth().await?;
        let state = self
            .guard
            .issue_token(
                TokenKind::OAuthState,
                ctx.tenant(),
                ctx.user(),
                Duration::minutes(OAUTH_STATE_MINUTES),
            )
            .await?;
        let redirect_uri = format!("{}{OAUTH_CALLBACK_PATH}", self.config.api_url);
        let url = oauth
            .authorize_url(&redirect_uri, &state)
            .map_err(ServiceError::internal)?;
        Ok((url, state))
    }

    /// `GET /v1/oauth/stripe/callback`: consumes the state, exchanges the code, stores
    /// the tokens, creates the integration. `InvalidToken` for a bad, used or expired
    /// state (the route answers 400 `invalid_state`); other failures are redirected.
    pub async fn finish_stripe_oauth(
        &self,
        code: &str,
        state: &str,
    ) -> Result<IntegrationId, ServiceError> {
        let (tenant, user_id, state_key) =
            self.guard.token_owner(TokenKind::OAuthState, state).await?;
        if !self.repos.tokens.consume(&state_key).await? {
            return Err(ServiceError::InvalidToken);
        }
        // The admin who started it must still be an active admin of the tenant.
        match self.repos.users.get(&tenant, &user_id).await? {
            Some(u) if u.record.role == Role::Admin && !u.record.disabled => {}
            _ => return Err(ServiceError::InvalidToken),
        }
        let tokens = self
            .stripe_oauth()
            .await?
            .exchange_code(code, self.now().timestamp())
            .await
            .map_err(|_| ServiceError::BadRequest(BadRequest::OauthExchangeFailed))?;
        let id = IntegrationId::generate();
        if valid_account(&tokens.stripe_user_id) {
            // Claimed before anything is stored: a refused link leaves nothing behind.
            // (The tokens are dropped, not revoked: revoking would end the other
            // tenant's access to the same account.)
            self.claim_stripe_account(&tenant, &tokens.stripe_user_id, &id)
                .await?;
        }
        self.store_stripe_tokens(&tenant, &id, &tokens).await?;
        let record = IntegrationRecord {
            account: Some(tokens.stripe_user_id.clone()),
            ..IntegrationRecord::new(Provider::Stripe, self.now())
        };
        self.create_integration(&tenant, &id, &record).await?;
        self.guard
            .audit(
                &tenant,
                Some(&user_id),
                "IntegrationConnected:stripe:oauth",
                Some(format!("integration:{id}")),
                None,
            )
            .await?;
        self.publish_sync_requested(&tenant, &id).await?;
        Ok(id)
    }

    /// Points a Stripe account at a new integration of `tenant`. Refused
    /// (`stripe_account_linked`) while it points at a live integration of another
    /// tenant; a pointer left by a disconnected or vanished integration, or by the same
    /// tenant, is replaced, conditionally on the version read.
    async fn claim_stripe_account(
        &self,
        tenant: &TenantId,
        account: &str,
        id: &IntegrationId,
    ) -> Result<(), ServiceError> {
        let accounts = &self.repos.stripe_accounts;
        if accounts.claim(account, tenant, id, None).await? {
            return Ok(());
        }
        let linked = Err(ServiceError::Conflict(Conflict::StripeAccountLinked));
        let Some((owner, version)) = accounts.owner(account).await? else {
            // Deleted meanwhile: claim it afresh.
            return match accounts.claim(account, tenant, id, None).await? {
                true => Ok(()),
                false => linked,
            };
        };
        let held_by_another = match &owner {
            Some((owner_tenant, _)) if owner_tenant == tenant => false,
            Some((owner_tenant, owner_id)) => self
                .load_integration(owner_tenant, owner_id)
                .await?
                .is_some_and(|stored| stored.status != IntegrationStatus::Disconnected),
            None => false,
        };
        if held_by_another || !accounts.claim(account, tenant, id, Some(version)).await? {
            return linked;
        }
        Ok(())
    }

    /// Consumes an OAuth state without connecting (the merchant declined at Stripe).
    pub async fn discard_oauth_state(&self, state: &str) -> Result<(), ServiceError> {
        let (_, _, key) = self.guard.token_owner(TokenKind::OAuthState, state).await?;
        if !self.repos.tokens.consume(&key).await? {
            return Err(ServiceError::InvalidToken);
        }
        Ok(())
    }

    /// `POST /v1/integrations/{id}/sync`: queues a sync (202).
    /// `PUT /v1/integrations/{id}/webhook-secret {webhook_secret}`: sets or replaces a
    /// Paddle integration's notification secret. The webhook URL names the integration,
    /// so the notification destination can only be made in Paddle once the integration
    /// exists: its secret comes after the key, and again whenever it is rotated.
    pub async fn set_paddle_webhook_secret(
        &self,
        ctx: &TenantCtx,
        id: &IntegrationId,
        webhook_secret: &SecretString,
    ) -> Result<(), ServiceError> {
        if !valid_notification_secret(webhook_secret.expose_secret()) {
            return Err(ServiceError::invalid(
                "webhook_secret",
                "Not a Paddle notification secret (pdl_ntfset_...).",
            ));
        }
        let paddle = (Provider::Paddle, Conflict::NotPaddleIntegration);
        self.load_live_integration(ctx.tenant(), id, Some(paddle))
            .await?;
        let key = self
            .paddle_key(ctx.tenant(), id)
            .await?
            .ok_or(ServiceError::Conflict(Conflict::CredentialsMissing))?;
        self.store_paddle_key(ctx.tenant(), id, &key, Some(webhook_secret))
            .await?;
        self.guard
            .audit(
                ctx.tenant(),
                Some(ctx.user()),
                "IntegrationWebhookSecretSet:paddle",
                Some(format!("integration:{id}")),
                Some(ctx.ip()),
            )
            .await?;
        Ok(())
    }

    pub async fn request_sync(
        &self,
        ctx: &TenantCtx,
        id: &IntegrationId,
    ) -> Result<(), ServiceError> {
        let stored = self.load_live_integration(ctx.tenant(), id, None).await?;
        if stored.record.provider == Provider::Custom {
            return Err(ServiceError::Conflict(Conflict::ImportOnly));
        }
        self.publish_sync_requested(ctx.tenant(), id).await
    }

    pub(crate) async fn publish_sync_requested(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
    ) -> Result<(), ServiceError> {
        let job = SyncJob {
            tenant_id: tenant.clone(),
            integration_id: id.clone(),
        };
        let event = job.event(self.now());
        Ok(self.events.publish(&event).await?)
    }

    /// Creates the demo integration of a tenant (the local `serve --demo`).
    pub async fn connect_demo(
        &self,
        tenant: &TenantId,
        seed: u64,
    ) -> Result<IntegrationId, ServiceError> {
        self.connect_demo_of(tenant, seed, None).await
    }

    /// The same with a dataset of `customers` customers (`None`: the default 2,000).
    pub async fn connect_demo_of(
        &self,
        tenant: &TenantId,
        seed: u64,
        customers: Option<usize>,
    ) -> Result<IntegrationId, ServiceError> {
        self.connect_demo_shaped(tenant, seed, customers, DemoShape::Stripe)
            .await
    }

    /// A demo integration whose records carry the ids of `shape`'s processor: the local
    /// demo tenant has a Stripe-shaped and a Paddle-shaped one, so it shows two sources.
    pub async fn connect_demo_shaped(
        &self,
        tenant: &TenantId,
        seed: u64,
        customers: Option<usize>,
        shape: DemoShape,
    ) -> Result<IntegrationId, ServiceError> {
        let id = IntegrationId::generate();
        let today = self
            .now()
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp())
            .unwrap_or(0);
        let record = IntegrationRecord {
            demo: Some((seed, today)),
            demo_customers: customers,
            demo_shape: Some(shape),
            ..IntegrationRecord::new(Provider::Demo, self.now())
        };
        self.create_integration(tenant, &id, &record).await?;
        Ok(id)
    }
}

/// The event type that asks the ingest function to sync one integration.
pub const SYNC_REQUESTED: &str = "SyncRequested";

fn valid_account(account: &str) -> bool {
    !account.is_empty()
        && account.len() <= 64
        && account
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The account pointer of a Paddle integration: its webhooks name only the integration
/// (`/v1/webhooks/paddle/{id}`), so the global pointer from it to the tenant is kept
/// with Stripe's account pointers (and removed with them on disconnect and closure).
pub(crate) fn paddle_pointer(id: &IntegrationId) -> String {
    format!("paddle_{id}")
}

/// A Paddle notification destination's secret key, as Paddle formats it.
fn valid_notification_secret(secret: &str) -> bool {
    secret.strip_prefix("pdl_ntfset_").is_some_and(|rest| {
        (16..=256).contains(&rest.len())
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

/// A key check's answer as the API gives it: a refused key is `invalid_api_key`, a
/// processor that cannot be reached or answers out of contract a 502.
fn key_checked(
    provider: &'static str,
    checked: Result<(), ConnectorError>,
) -> Result<(), ServiceError> {
    match checked {
        Ok(()) => Ok(()),
        Err(ConnectorError::Unauthorized | ConnectorError::Forbidden) => {
            Err(ServiceError::BadRequest(BadRequest::InvalidApiKey))
        }
        Err(ConnectorError::Unavailable(cause) | ConnectorError::Malformed(cause)) => {
            tracing::warn!(provider, %cause, "the processor could not check a key");
            Err(ServiceError::ProviderUnavailable)
        }
        Err(ConnectorError::CursorExpired) => Err(ServiceError::internal(
            "a key check returned a cursor error",
        )),
    }
}

fn view(id: IntegrationId, record: &IntegrationRecord) -> IntegrationView {
    IntegrationView::of(id, IntegrationStatus::Connected, record)
}
