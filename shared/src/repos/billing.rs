//! Billing records as ingested: `(TENANT#<id>[#S<shard>], <KIND>#<integration>#<provider id>)`,
//! sealed. Upserted by key, so a repeated or interrupted sync never duplicates. Customer
//! records stay in the tenant's own partition; the other kinds are spread over the
//! tenant's shards ([`super::shards`]).

use std::collections::BTreeMap;

use crate::domain::billing::{BillingRecord, ObjectKind};
use crate::domain::ids::{IntegrationId, TenantId};
use crate::ports::{Condition, Cursor, Key, Query, SortKeys, StoreError};
use crate::repos::shards::{Layouts, ShardPages, Shards, partition, tenant_and_shard};
use crate::repos::{
    EntityKey, RepoError, SealedPage, Sealer, read_concurrently, rewrite_stamp, sealed_len,
};

/// The sort-key prefix of a kind's records.
pub fn record_prefix(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Customer => "CUST#",
        ObjectKind::PaymentMethod => "PM#",
        ObjectKind::Subscription => "SUB#",
        ObjectKind::Invoice => "INV#",
        ObjectKind::Charge => "CHG#",
        ObjectKind::Refund => "REF#",
    }
}

/// The prefix of every record of one kind of one integration.
pub(crate) fn integration_prefix(kind: ObjectKind, integration: &IntegrationId) -> String {
    format!("{}{integration}#", record_prefix(kind))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BillingRecordKey {
    pub tenant: TenantId,
    pub integration: IntegrationId,
    pub kind: ObjectKind,
    /// The processor's id: 1 to 255 of `[A-Za-z0-9_-]`.
    pub id: String,
    /// The shard holding it (0 for customers, whatever the tenant's layout).
    pub shard: u16,
}

impl BillingRecordKey {
    /// The key of a record placed by the tenant's layout.
    pub fn placed(
        tenant: &TenantId,
        integration: &IntegrationId,
        kind: ObjectKind,
        id: &str,
        shards: Shards,
    ) -> Self {
        let shard = shards_of(kind, shards).of(&sort_key(kind, integration, id));
        Self {
            tenant: tenant.clone(),
            integration: integration.clone(),
            kind,
            id: id.to_owned(),
            shard,
        }
    }
}

fn sort_key(kind: ObjectKind, integration: &IntegrationId, id: &str) -> String {
    format!("{}{id}", integration_prefix(kind, integration))
}

/// The layout a kind is placed by: customers always in the tenant's own partition (they
/// are listed first, before the tenant's shard count is known).
fn shards_of(kind: ObjectKind, shards: Shards) -> Shards {
    match kind {
        ObjectKind::Customer => Shards::ONE,
        _ => shards,
    }
}

impl EntityKey for BillingRecordKey {
    fn key(&self) -> Key {
        Key::new(
            partition(&self.tenant, self.shard),
            sort_key(self.kind, &self.integration, &self.id),
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        let kind = ObjectKind::ALL
            .into_iter()
            .find(|k| key.sk.starts_with(record_prefix(*k)))?;
        let rest = &key.sk[record_prefix(kind).len()..];
        let (integration, id) = rest.split_once('#')?;
        let (tenant, shard) = tenant_and_shard(&key.pk)?;
        (kind != ObjectKind::Customer || shard == 0).then_some(())?;
        Some(Self {
            tenant,
            integration: IntegrationId::parse(integration)?,
            kind,
            id: Some(id).filter(|id| valid_provider_id(id))?.to_owned(),
            shard,
        })
    }
}

/// A processor id fit for a key: 1 to 255 of `[A-Za-z0-9_-]` (no `#`, no path).
pub fn valid_provider_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 255
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Point reads in flight at once.
const READS_IN_FLIGHT: usize = 32;

/// Records per page of a listing (DynamoDB returns at most 1 MB a page).
const RECORDS_PER_PAGE: usize = 1000;

#[derive(Clone)]
pub struct BillingRecords {
    sealer: Sealer,
    layouts: Layouts,
}

fn key(
    tenant: &TenantId,
    integration: &IntegrationId,
    kind: ObjectKind,
    id: &str,
    shards: Shards,
) -> Key {
    BillingRecordKey::placed(tenant, integration, kind, id, shards).key()
}

/// A position in a listing over shards: the shard, and the position within it. Encoded
/// into the store's opaque cursor as `<shard>|<sort key>` (`<shard>|` for the start of a
/// shard); never seen by clients.
fn shard_cursor(shard: u16, within: Option<&Cursor>) -> Cursor {
    let within = within.map_or("", Cursor::last_sort_key);
    Cursor::after_sort_key(format!("{shard:02}|{within}"))
}

fn open_shard_cursor(cursor: &Cursor, shards: Shards) -> Result<(u16, Option<Cursor>), StoreError> {
    let (shard, within) = cursor
        .last_sort_key()
        .split_once('|')
        .ok_or(StoreError::InvalidCursor)?;
    let shard: u16 = shard
        .parse()
        .ok()
        .filter(|s| *s < shards.count())
        .ok_or(StoreError::InvalidCursor)?;
    let within = (!within.is_empty()).then(|| Cursor::after_sort_key(within));
    Ok((shard, within))
}

impl BillingRecords {
    pub(crate) fn new(sealer: Sealer, layouts: Layouts) -> Self {
        Self { sealer, layouts }
    }

    async fn layout(&self, tenant: &TenantId, kind: ObjectKind) -> Result<Shards, RepoError> {
        Ok(shards_of(kind, self.layouts.shards(tenant).await?))
    }

    /// Upserts records of one integration, sealed, as one batch write; one write per
    /// key (the last record given for it). The caller has checked the ids
    /// ([`valid_provider_id`]). Returns how many were written.
    ///
    /// A batch, not a transaction: each record is a whole, unconditional copy of the
    /// processor's object, so no record depends on another being written with it. A
    /// sync interrupted half-way (some batches written, the sync cursor not yet moved)
    /// rewrites the same records on resume and converges; a batch costs one write unit
    /// per item where a transaction costs two, and its requests run in parallel.
    pub async fn upsert(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        records: Vec<BillingRecord>,
    ) -> Result<u64, RepoError> {
        let shards = self.layouts.shards(tenant).await?;
        let mut unique: BTreeMap<Key, BillingRecord> = BTreeMap::new();
        for record in records {
            let key = key(tenant, integration, record.kind(), record.id(), shards);
            unique.insert(key, record);
        }
        let mut items = Vec::with_capacity(unique.len());
        for (key, record) in unique {
            let item = self.sealer.seal(tenant, key, &record).await?;
            items.push(item.with_version(rewrite_stamp()));
        }
        let written = items.len() as u64;
        self.sealer.store.batch_put(items).await?;
        Ok(written)
    }

    /// Deletes one record (idempotent).
    pub async fn delete(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        kind: ObjectKind,
        id: &str,
    ) -> Result<(), RepoError> {
        let shards = self.layouts.shards(tenant).await?;
        let key = key(tenant, integration, kind, id, shards);
        Ok(self.sealer.store.delete(&key, Condition::None).await?)
    }

    /// One record, if stored.
    pub async fn get(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        kind: ObjectKind,
        id: &str,
    ) -> Result<Option<BillingRecord>, RepoError> {
        let shards = self.layouts.shards(tenant).await?;
        let key = key(tenant, integration, kind, id, shards);
        Ok(self
            .sealer
            .load(tenant, &key)
            .await?
            .map(|(record, _)| record))
    }

    /// The stored records among `keys` (kind and id), read [`READS_IN_FLIGHT`] at a
    /// time: what an incremental pass reads of the customers it recomputes.
    pub async fn get_many(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        keys: &[(ObjectKind, String)],
    ) -> Result<Vec<BillingRecord>, RepoError> {
        let this = self.clone();
        let (tenant, integration) = (tenant.clone(), integration.clone());
        read_concurrently(keys.to_vec(), READS_IN_FLIGHT, move |(kind, id)| {
            let (this, tenant, integration) = (this.clone(), tenant.clone(), integration.clone());
            async move { this.get(&tenant, &integration, kind, &id).await }
        })
        .await
    }

    /// Every record of one kind of an integration (small selections and tests: a
    /// rebuild streams them with [`Self::each`]).
    pub async fn all(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        kind: ObjectKind,
    ) -> Result<Vec<BillingRecord>, RepoError> {
        let mut records = Vec::new();
        self.each(tenant, integration, kind, |page| {
            records.extend(page);
            Ok::<(), RepoError>(())
        })
        .await?;
        Ok(records)
    }

    /// Every record of one kind of an integration, a round of pages at a time (one page
    /// from each of the tenant's shards, read at once): only those sealed items are
    /// held at once, not the kind's (for a 100,000-customer tenant, some 650,000
    /// invoices of ~1.5 KB sealed). `on_page` gets each round's records.
    pub async fn each<E: From<RepoError>>(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        kind: ObjectKind,
        mut on_page: impl FnMut(Vec<BillingRecord>) -> Result<(), E>,
    ) -> Result<(), E> {
        let shards = self.layout(tenant, kind).await?;
        let prefix = SortKeys::prefix(integration_prefix(kind, integration));
        let store = self.sealer.store.as_ref();
        let mut pages = ShardPages::new(store, shards.partitions(tenant), prefix, RECORDS_PER_PAGE);
        while let Some(items) = pages.next_round().await? {
            on_page(self.sealer.open_all(tenant, &items).await?)?;
        }
        Ok(())
    }

    /// One page (up to 1,000) of one kind of an integration's records, with sealed
    /// sizes: the tenant's shards one after another, `next` naming the shard.
    pub async fn export_page(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        kind: ObjectKind,
        cursor: Option<Cursor>,
    ) -> Result<SealedPage<BillingRecord>, RepoError> {
        let shards = self.layout(tenant, kind).await?;
        let (mut shard, mut within) = match cursor {
            Some(cursor) => open_shard_cursor(&cursor, shards)?,
            None => (0, None),
        };
        let prefix = integration_prefix(kind, integration);
        loop {
            let query = Query::new(partition(tenant, shard), SortKeys::prefix(prefix.clone()))
                .limit(RECORDS_PER_PAGE)
                .after(within.take());
            let page = self.sealer.store.query(query).await?;
            let next = match page.next_cursor {
                Some(within) => Some(shard_cursor(shard, Some(&within))),
                None if shard + 1 < shards.count() => Some(shard_cursor(shard + 1, None)),
                None => None,
            };
            // An empty shard yields no page of its own.
            if page.items.is_empty() && next.is_some() {
                shard += 1;
                continue;
            }
            let records = self.sealer.open_all(tenant, &page.items).await?;
            let sizes = page.items.iter().map(sealed_len);
            return Ok(SealedPage {
                records: records.into_iter().zip(sizes).collect(),
                next,
            });
        }
    }
}
