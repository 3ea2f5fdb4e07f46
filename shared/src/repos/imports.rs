//! What a custom integration's imports keep besides billing records: its plans
//! (`IMPPLAN#<integration>#<plan>`) and each subscription's event log
//! (`IMPSUB#<integration>#<subscription>`), sealed in the tenant's own partition. The
//! events are kept so that a later batch extends a subscription's log; the records the
//! engine reads are rebuilt from the whole log ([`crate::domain::import`]). Ids in keys
//! are [`crate::domain::import::record_id`]s of the caller's external ids. Deleted by
//! the sweep with the integration, erased with the partition on closure.

use std::collections::HashMap;

use crate::domain::ids::{IntegrationId, TenantId};
use crate::domain::import::{PlanRow, SubscriptionLog, record_id};
use crate::ports::Key;
use crate::repos::billing::valid_provider_id;
use crate::repos::{EntityKey, RepoError, Sealer, read_concurrently, rewrite_stamp, tenant_of};

/// Point reads in flight at once.
const READS_IN_FLIGHT: usize = 32;

/// Which of the two an item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportItem {
    Plan,
    Subscription,
}

impl ImportItem {
    fn prefix(self) -> &'static str {
        match self {
            ImportItem::Plan => "IMPPLAN#",
            ImportItem::Subscription => "IMPSUB#",
        }
    }
    /// Every item of this kind of one integration, under this sort-key prefix.
    pub fn integration_prefix(self, integration: &IntegrationId) -> String {
        format!("{}{integration}#", self.prefix())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportKey {
    pub tenant: TenantId,
    pub integration: IntegrationId,
    pub item: ImportItem,
    /// A record id (`[A-Za-z0-9_-]`, up to 255).
    pub id: String,
}

impl EntityKey for ImportKey {
    fn key(&self) -> Key {
        Key::new(
            self.tenant.partition(),
            format!(
                "{}{}",
                self.item.integration_prefix(&self.integration),
                self.id
            ),
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        let tenant = tenant_of(&key.pk)?;
        let item = [ImportItem::Plan, ImportItem::Subscription]
            .into_iter()
            .find(|item| key.sk.starts_with(item.prefix()))?;
        let (integration, id) = key.sk[item.prefix().len()..].split_once('#')?;
        Some(Self {
            tenant,
            integration: IntegrationId::parse(integration)?,
            item,
            id: Some(id).filter(|id| valid_provider_id(id))?.to_owned(),
        })
    }
}

#[derive(Clone)]
pub struct Imports {
    sealer: Sealer,
}

impl Imports {
    pub(crate) fn new(sealer: Sealer) -> Self {
        Self { sealer }
    }

    fn key(
        tenant: &TenantId,
        integration: &IntegrationId,
        item: ImportItem,
        external_id: &str,
    ) -> Key {
        ImportKey {
            tenant: tenant.clone(),
            integration: integration.clone(),
            item,
            id: record_id(external_id),
        }
        .key()
    }

    /// The stored plans among `external_ids`, by external id.
    pub async fn plans(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        external_ids: Vec<String>,
    ) -> Result<HashMap<String, PlanRow>, RepoError> {
        let found = self
            .read_many::<PlanRow>(tenant, integration, ImportItem::Plan, external_ids)
            .await?;
        Ok(found
            .into_iter()
            .map(|p| (p.external_id.clone(), p))
            .collect())
    }

    /// The stored logs among `external_ids` (subscriptions), by external id.
    pub async fn logs(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        external_ids: Vec<String>,
    ) -> Result<HashMap<String, SubscriptionLog>, RepoError> {
        let found = self
            .read_many::<SubscriptionLog>(
                tenant,
                integration,
                ImportItem::Subscription,
                external_ids,
            )
            .await?;
        Ok(found
            .into_iter()
            .map(|log| (log.subscription.clone(), log))
            .collect())
    }

    async fn read_many<T>(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        item: ImportItem,
        external_ids: Vec<String>,
    ) -> Result<Vec<T>, RepoError>
    where
        T: serde::de::DeserializeOwned + Send + 'static,
    {
        let sealer = self.sealer.clone();
        let (tenant, integration) = (tenant.clone(), integration.clone());
        read_concurrently(external_ids, READS_IN_FLIGHT, move |external_id| {
            let (sealer, tenant) = (sealer.clone(), tenant.clone());
            let key = Self::key(&tenant, &integration, item, &external_id);
            async move { Ok(sealer.load::<T>(&tenant, &key).await?.map(|(t, _)| t)) }
        })
        .await
    }

    /// Writes plans and logs (whole, unconditional copies), as one batch write.
    pub async fn put(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        plans: &[PlanRow],
        logs: &[SubscriptionLog],
    ) -> Result<(), RepoError> {
        let mut items = Vec::with_capacity(plans.len() + logs.len());
        for plan in plans {
            let key = Self::key(tenant, integration, ImportItem::Plan, &plan.external_id);
            let item = self.sealer.seal(tenant, key, plan).await?;
            items.push(item.with_version(rewrite_stamp()));
        }
        for log in logs {
            let key = Self::key(
                tenant,
                integration,
                ImportItem::Subscription,
                &log.subscription,
            );
            let item = self.sealer.seal(tenant, key, log).await?;
            items.push(item.with_version(rewrite_stamp()));
        }
        if !items.is_empty() {
            self.sealer.store.batch_put(items).await?;
        }
        Ok(())
    }
}
