//! The sweep (hourly in AWS; `local sweep [--at]` and a timer in `serve`): deletes what
//! is due. Disconnected integrations' data (the promise: within 24 hours), closed
//! tenants (within 30 days; their key is already shredded at closure), and expired
//! items (sessions, tokens, rate counters, old sign-in attempts and audit entries) where
//! the store has no TTL of its own.
//!
//! What goes with an integration, and in which order, comes from the registry of stored
//! entities (`repos::registry`). Idempotent and resumable: data goes first, the entries
//! that lead to it (the integration and its schedule entry, the closed listing) last, so a run killed
//! half-way leaves its listing in place and the next run finishes. Nothing becomes
//! visible again meanwhile: a disconnected integration's data is hidden from the
//! moment of the disconnect, a closed tenant's from its closing write.

use serde::Serialize;

use crate::domain::ids::{IntegrationId, TenantId};
use crate::repos::registry::{self, Sweep};
use crate::services::contexts::Tenancy;
use crate::services::error::ServiceError;
use crate::services::integrations::IntegrationStatus;

#[derive(Debug, Default, Serialize)]
pub struct SweepReport {
    pub integrations_purged: u64,
    pub integration_items_deleted: u64,
    pub tenants_erased: u64,
    pub tenant_items_deleted: u64,
    pub expired_items_deleted: u64,
}

impl Tenancy {
    pub async fn sweep(&self) -> Result<SweepReport, ServiceError> {
        let mut report = SweepReport::default();
        for entry in self.repos.integrations.schedule().await? {
            if entry.status != Some(IntegrationStatus::Disconnected) {
                continue;
            }
            report.integration_items_deleted += self
                .purge_integration(&entry.tenant, &entry.integration)
                .await?;
            report.integrations_purged += 1;
        }
        for tenant in self.repos.closures.listed().await? {
            self.finish_closure(&tenant).await?;
            report.tenant_items_deleted += self.repos.erasure.erase_partition(&tenant).await?;
            self.repos.closures.unlist(&tenant).await?;
            report.tenants_erased += 1;
        }
        let now = self.now().timestamp();
        report.expired_items_deleted = self.repos.erasure.purge_expired(now).await?;
        tracing::info!(
            integrations = report.integrations_purged,
            integration_items = report.integration_items_deleted,
            tenants = report.tenants_erased,
            tenant_items = report.tenant_items_deleted,
            expired = report.expired_items_deleted,
            "sweep done"
        );
        Ok(report)
    }

    /// Deletes a disconnected integration's data (its records, the customer profiles
    /// the snapshot wrote for it, its sync state), audits the count (not the contents),
    /// and deletes its item and schedule entry last.
    async fn purge_integration(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
    ) -> Result<u64, ServiceError> {
        let data = registry::of_integration(Sweep::IntegrationData, tenant, id);
        let deleted = self.repos.erasure.delete(data).await?;
        // Still readable: the tenant's key exists unless the tenant is closing too.
        if self.tenant_keys.data_key(tenant).await.is_ok() {
            self.guard
                .audit(
                    tenant,
                    None,
                    &format!("IntegrationDataDeleted:items={deleted}"),
                    Some(format!("integration:{id}")),
                    None,
                )
                .await?;
        }
        let entry = registry::of_integration(Sweep::IntegrationEntry, tenant, id);
        self.repos.erasure.delete(entry).await?;
        Ok(deleted)
    }
}
