//! What a custom integration's imports keep besides billing records: its plans
//! (`IMPPLAN#<integration>#<plan>`) and each subscription's event log
//! (`IMPSUB#<integration>#<subscription>`), sealed in the tenant's own partition. The
//! events are kept so that a later batch extends a subscription's log; the records the
//! engine reads are rebuilt from the whole log ([`crate::domain::import`]). Ids in keys
//! are [`crate::domain::import::record_id`]s of the caller's external ids. Deleted by
//! the sweep with the integration, erased with the partition on closure.
//!
//! A CSV upload waits for its job as staged chunks
//! (`IMPCHUNK#<integration>#<import>#<000000>`, each sealed, expiring after
//! [`CHUNK_DAYS`]) and one import run (`IMPRUN#<integration>#<import>`, sealed, written
//! last and conditionally: the chunks of a run that exists are all there).

use std::collections::HashMap;

use crate::domain::ids::{ImportId, IntegrationId, TenantId};
use crate::domain::import::{ImportRun, PlanRow, StagedChunk, SubscriptionLog, record_id};
use crate::ports::{Condition, Key};
use crate::repos::billing::valid_provider_id;
use crate::repos::{
    EXPIRES_AT, EntityKey, RepoError, Sealer, Stored, n, read_concurrently, rewrite_stamp,
    tenant_of, with_n,
};

/// How long a staged chunk is kept: its job runs within minutes; a run that never
/// finishes leaves nothing behind for long.
pub const CHUNK_DAYS: i64 = 2;
/// How long an import run can be read back.
pub const RUN_DAYS: i64 = 30;

const RUN_PREFIX: &str = "IMPRUN#";
const CHUNK_PREFIX: &str = "IMPCHUNK#";

/// Every run of one integration, under this sort-key prefix.
pub fn run_prefix(integration: &IntegrationId) -> String {
    format!("{RUN_PREFIX}{integration}#")
}

/// Every staged chunk of one integration, under this sort-key prefix.
pub fn chunk_prefix(integration: &IntegrationId) -> String {
    format!("{CHUNK_PREFIX}{integration}#")
}

/// An import run (sealed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportRunKey {
    pub tenant: TenantId,
    pub integration: IntegrationId,
    pub import: ImportId,
}

impl EntityKey for ImportRunKey {
    fn key(&self) -> Key {
        Key::new(
            self.tenant.partition(),
            format!("{}{}", run_prefix(&self.integration), self.import),
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        let (integration, import) = key.sk.strip_prefix(RUN_PREFIX)?.split_once('#')?;
        Some(Self {
            tenant: tenant_of(&key.pk)?,
            integration: IntegrationId::parse(integration)?,
            import: ImportId::parse(import)?,
        })
    }
}

/// One staged chunk of a CSV upload (sealed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportChunkKey {
    pub tenant: TenantId,
    pub integration: IntegrationId,
    pub import: ImportId,
    pub chunk: usize,
}

impl EntityKey for ImportChunkKey {
    fn key(&self) -> Key {
        Key::new(
            self.tenant.partition(),
            format!(
                "{}{}#{:06}",
                chunk_prefix(&self.integration),
                self.import,
                self.chunk
            ),
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        let mut parts = key.sk.strip_prefix(CHUNK_PREFIX)?.split('#');
        let parsed = Self {
            tenant: tenant_of(&key.pk)?,
            integration: IntegrationId::parse(parts.next()?)?,
            import: ImportId::parse(parts.next()?)?,
            chunk: parts.next()?.parse().ok()?,
        };
        (parts.next().is_none() && parsed.key() == *key).then_some(parsed)
    }
}

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

impl Imports {
    fn run_key(tenant: &TenantId, integration: &IntegrationId, import: &ImportId) -> Key {
        ImportRunKey {
            tenant: tenant.clone(),
            integration: integration.clone(),
            import: import.clone(),
        }
        .key()
    }

    fn chunk_key(
        tenant: &TenantId,
        integration: &IntegrationId,
        import: &ImportId,
        chunk: usize,
    ) -> Key {
        ImportChunkKey {
            tenant: tenant.clone(),
            integration: integration.clone(),
            import: import.clone(),
            chunk,
        }
        .key()
    }

    /// Stages chunk `chunk` of an upload, sealed, expiring at `expires_at` (Unix s).
    pub async fn stage_chunk(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        import: &ImportId,
        chunk: usize,
        rows: &StagedChunk,
        expires_at: i64,
    ) -> Result<(), RepoError> {
        let key = Self::chunk_key(tenant, integration, import, chunk);
        let item = self.sealer.seal(tenant, key, rows).await?;
        let item = with_n(item, EXPIRES_AT, expires_at);
        Ok(self.sealer.store.put(item, Condition::None).await?)
    }

    /// A staged chunk, if it is still there.
    pub async fn chunk(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        import: &ImportId,
        chunk: usize,
    ) -> Result<Option<StagedChunk>, RepoError> {
        let key = Self::chunk_key(tenant, integration, import, chunk);
        Ok(self.sealer.load(tenant, &key).await?.map(|(rows, _)| rows))
    }

    /// Deletes an upload's staged chunks `0..chunks` (by key: none may be left).
    pub async fn drop_chunks(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        import: &ImportId,
        chunks: usize,
    ) -> Result<(), RepoError> {
        for chunk in 0..chunks {
            let key = Self::chunk_key(tenant, integration, import, chunk);
            self.sealer.store.delete(&key, Condition::None).await?;
        }
        Ok(())
    }

    /// Records a new run (its chunks are staged), readable until `expires_at`.
    pub async fn create_run(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        import: &ImportId,
        run: &ImportRun,
        expires_at: i64,
    ) -> Result<(), RepoError> {
        let key = Self::run_key(tenant, integration, import);
        let item = self.sealer.seal(tenant, key, run).await?.with_version(1);
        let item = with_n(item, EXPIRES_AT, expires_at);
        Ok(self.sealer.store.put(item, Condition::Absent).await?)
    }

    /// A run with the version its next save must name.
    pub async fn run(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        import: &ImportId,
    ) -> Result<Option<(Stored<ImportRun>, i64)>, RepoError> {
        let key = Self::run_key(tenant, integration, import);
        let loaded = self.sealer.load::<ImportRun>(tenant, &key).await?;
        Ok(loaded.map(|(record, item)| {
            let expires_at = n(&item, EXPIRES_AT).unwrap_or_default();
            (
                Stored {
                    record,
                    version: item.version,
                },
                expires_at,
            )
        }))
    }

    /// Saves a run if it is still at `version` (a conflict otherwise: another copy of
    /// the job moved it); the new version.
    pub async fn save_run(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        import: &ImportId,
        run: &ImportRun,
        version: u64,
        expires_at: i64,
    ) -> Result<u64, RepoError> {
        let key = Self::run_key(tenant, integration, import);
        let item = self
            .sealer
            .seal(tenant, key, run)
            .await?
            .with_version(version + 1);
        let item = with_n(item, EXPIRES_AT, expires_at);
        self.sealer
            .store
            .put(item, Condition::VersionIs(version))
            .await?;
        Ok(version + 1)
    }
}
