//! The sweep (hourly in AWS; `local sweep [--at]` and a timer in `serve`): deletes what
//! is due. Disconnected integrations' data (the promise: within 24 hours), closed
//! tenants (within 30 days; their key is already shredded at closure), and expired
//! items (sessions, tokens, rate counters, old sign-in attempts and audit entries) where
//! the store has no TTL of its own.
//!
//! Idempotent and resumable: data goes first, the entries that lead to it (the
//! integration and its schedule entry, the `CLOSED` listing) last, so a run killed
//! half-way leaves its listing in place and the next run finishes. Nothing becomes
//! visible again meanwhile: a disconnected integration's data is hidden from the
//! moment of the disconnect, a closed tenant's from its closing write.

use serde::Serialize;

use crate::domain::billing::ObjectKind;
use crate::domain::ids::{IntegrationId, TenantId};
use crate::ports::store::query_all;
use crate::ports::{Key, Query, SortKeys};
use crate::services::Services;
use crate::services::analytics::PROFILE_PREFIX;
use crate::services::closure::CLOSED_PK;
use crate::services::error::ServiceError;
use crate::services::ingestion::record_prefix;
use crate::services::integrations::{INTEG_PREFIX, INTEGRATIONS_PK, IntegrationStatus};

/// Keys read per page while deleting (each page is deleted before the next is read).
const DELETE_PAGE: usize = 500;

#[derive(Debug, Default, Serialize)]
pub struct SweepReport {
    pub integrations_purged: u64,
    pub integration_items_deleted: u64,
    pub tenants_erased: u64,
    pub tenant_items_deleted: u64,
    pub expired_items_deleted: u64,
}

impl Services {
    pub async fn sweep(&self) -> Result<SweepReport, ServiceError> {
        let mut report = SweepReport::default();
        let store = self.adapters.store.as_ref();
        for item in query_all(
            store,
            Query::new(INTEGRATIONS_PK, SortKeys::All).limit(1000),
        )
        .await?
        {
            if item.s("status").and_then(IntegrationStatus::parse)
                != Some(IntegrationStatus::Disconnected)
            {
                continue;
            }
            let ids = TenantId::parse(item.s("tenant_id").unwrap_or_default()).zip(
                IntegrationId::parse(item.s("integration_id").unwrap_or_default()),
            );
            let Some((tenant, integration)) = ids else {
                continue;
            };
            report.integration_items_deleted += self
                .purge_integration(&tenant, &integration, &item.key)
                .await?;
            report.integrations_purged += 1;
        }
        for item in query_all(store, Query::new(CLOSED_PK, SortKeys::All).limit(1000)).await? {
            let Some(tenant) = TenantId::parse(item.s("tenant_id").unwrap_or_default()) else {
                continue;
            };
            self.finish_closure(&tenant).await?;
            report.tenant_items_deleted += self.delete_partition(&tenant.partition()).await?;
            self.adapters
                .store
                .delete(&item.key, crate::ports::Condition::None)
                .await?;
            report.tenants_erased += 1;
        }
        report.expired_items_deleted = store.purge_expired(self.now().timestamp()).await?;
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

    /// Deletes a disconnected integration's records, sync state and entry, and audits
    /// the count (not the contents).
    async fn purge_integration(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        index: &Key,
    ) -> Result<u64, ServiceError> {
        let mut deleted = 0;
        for kind in ObjectKind::ALL {
            deleted += self
                .delete_selection(
                    &tenant.partition(),
                    SortKeys::prefix(format!("{}{id}#", record_prefix(kind))),
                )
                .await?;
        }
        // The customer profiles the analytics snapshot wrote for it.
        deleted += self
            .delete_selection(
                &tenant.partition(),
                SortKeys::prefix(format!("{PROFILE_PREFIX}{id}#")),
            )
            .await?;
        deleted += self
            .delete_keys(vec![Key::new(tenant.partition(), format!("SYNC#{id}"))])
            .await?;
        // Still readable: the tenant's key exists unless the tenant is closing too.
        if self.tenant_keys.data_key(tenant).await.is_ok() {
            self.audit(
                tenant,
                None,
                &format!("IntegrationDataDeleted:items={deleted}"),
                Some(format!("integration:{id}")),
                None,
            )
            .await?;
        }
        self.delete_keys(vec![
            Key::new(tenant.partition(), format!("{INTEG_PREFIX}{id}")),
            index.clone(),
        ])
        .await?;
        Ok(deleted)
    }

    /// Deletes every item of a partition, page by page.
    async fn delete_partition(&self, pk: &str) -> Result<u64, ServiceError> {
        self.delete_selection(pk, SortKeys::All).await
    }

    async fn delete_selection(&self, pk: &str, sort: SortKeys) -> Result<u64, ServiceError> {
        let mut deleted = 0;
        loop {
            // Always the first page: what was read is gone before the next read.
            let page = self
                .adapters
                .store
                .query(Query::new(pk, sort.clone()).limit(DELETE_PAGE))
                .await?;
            if page.items.is_empty() {
                return Ok(deleted);
            }
            deleted += self
                .delete_keys(page.items.into_iter().map(|i| i.key).collect())
                .await?;
        }
    }
}
