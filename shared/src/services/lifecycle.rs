//! Data lifecycle promises (docs/design.md §4): a disconnected integration loses access at
//! once — provider access revoked, secret force-deleted, syncs stopped, its data hidden
//! — and its data is physically deleted by the sweep within 24 hours.

use chrono::{DateTime, Duration, Utc};

use crate::domain::ids::{IntegrationId, TenantId};
use crate::services::contexts::Integrations;
use crate::services::error::{ErrorChain, ServiceError};
use crate::services::integrations::{IntegrationStatus, Provider, secret_name};
use crate::services::sessions::TenantCtx;

/// How long a disconnected integration's data may remain.
pub const DISCONNECTED_DATA_HOURS: i64 = 24;

impl Integrations {
    /// `DELETE /v1/integrations/{id}` (with the admin's context), or the provider's
    /// own deauthorization (without: nothing left to revoke there). Returns the
    /// deadline by which the data is deleted.
    pub async fn disconnect_integration(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        by: Option<&TenantCtx>,
    ) -> Result<DateTime<Utc>, ServiceError> {
        let stored = self
            .load_integration(tenant, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let mut record = stored.record.clone();
        if stored.status == IntegrationStatus::Disconnected {
            return record.data_deleted_by.ok_or(ServiceError::NotFound);
        }
        let name = secret_name(tenant, id)?;
        if by.is_some()
            && record.provider == Provider::Stripe
            && let Some(account) = record.account.as_deref()
            && let Err(err) = self.revoke_stripe(account).await
        {
            // The secret is deleted below whatever Stripe answered: access from our side
            // ends now; the failed revocation is logged for the operator.
            tracing::warn!(tenant_id = %tenant, integration_id = %id, error = %ErrorChain(&err), "Stripe deauthorize failed");
        }
        self.secrets.delete(&name).await?;
        if let Some(account) = record.account.as_deref() {
            self.repos
                .stripe_accounts
                .delete(account, tenant, id)
                .await?;
        }
        let deadline = self.now() + Duration::hours(DISCONNECTED_DATA_HOURS);
        record.data_deleted_by = Some(deadline);
        record.sync_started_at = None;
        self.save_integration(
            tenant,
            id,
            &record,
            IntegrationStatus::Disconnected,
            &stored,
        )
        .await?;
        // Hidden from queries at once: the snapshot is rebuilt without it.
        self.analytics.rebuild_analytics(tenant).await?;
        let (actor, ip) = match by {
            Some(ctx) => (Some(ctx.user()), Some(ctx.ip())),
            None => (None, None),
        };
        self.guard
            .audit(
                tenant,
                actor,
                "IntegrationDisconnected",
                Some(format!("integration:{id}")),
                ip,
            )
            .await?;
        Ok(deadline)
    }

    async fn revoke_stripe(&self, account: &str) -> Result<(), ServiceError> {
        let oauth = self.stripe_oauth().await?;
        oauth
            .deauthorize(account)
            .await
            .map_err(ServiceError::internal)
    }
}
