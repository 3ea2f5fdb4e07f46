//! Billing records as ingested: `(TENANT#<id>, <KIND>#<integration>#<provider id>)`,
//! sealed. Upserted by key, so a repeated or interrupted sync never duplicates.

use std::collections::BTreeMap;

use crate::domain::billing::{BillingRecord, ObjectKind};
use crate::domain::ids::{IntegrationId, TenantId};
use crate::ports::{Condition, Cursor, Key, Query, SortKeys};
use crate::repos::{
    EntityKey, RepoError, SealedPage, Sealer, read_concurrently, sealed_len, tenant_of,
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
}

impl EntityKey for BillingRecordKey {
    fn key(&self) -> Key {
        Key::new(
            self.tenant.partition(),
            format!(
                "{}{}",
                integration_prefix(self.kind, &self.integration),
                self.id
            ),
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        let kind = ObjectKind::ALL
            .into_iter()
            .find(|k| key.sk.starts_with(record_prefix(*k)))?;
        let rest = &key.sk[record_prefix(kind).len()..];
        let (integration, id) = rest.split_once('#')?;
        Some(Self {
            tenant: tenant_of(&key.pk)?,
            integration: IntegrationId::parse(integration)?,
            kind,
            id: Some(id).filter(|id| valid_provider_id(id))?.to_owned(),
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

#[derive(Clone)]
pub struct BillingRecords {
    sealer: Sealer,
}

fn key(tenant: &TenantId, integration: &IntegrationId, kind: ObjectKind, id: &str) -> Key {
    BillingRecordKey {
        tenant: tenant.clone(),
        integration: integration.clone(),
        kind,
        id: id.to_owned(),
    }
    .key()
}

impl BillingRecords {
    pub(crate) fn new(sealer: Sealer) -> Self {
        Self { sealer }
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
        let mut unique: BTreeMap<Key, BillingRecord> = BTreeMap::new();
        for record in records {
            let key = key(tenant, integration, record.kind(), record.id());
            unique.insert(key, record);
        }
        let mut items = Vec::with_capacity(unique.len());
        for (key, record) in unique {
            items.push(self.sealer.seal(tenant, key, &record).await?);
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
        let key = key(tenant, integration, kind, id);
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
        let key = key(tenant, integration, kind, id);
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

    /// Every record of one kind of an integration, opened a page at a time: only one
    /// page of sealed items is held at once, not the kind's (for a 100,000-customer
    /// tenant, some 650,000 invoices of ~1.5 KB sealed).
    pub async fn all(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        kind: ObjectKind,
    ) -> Result<Vec<BillingRecord>, RepoError> {
        let mut records = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.export_page(tenant, integration, kind, cursor).await?;
            records.extend(page.records.into_iter().map(|(record, _)| record));
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(records),
            }
        }
    }

    /// One page (up to 1,000) of one kind of an integration's records, with sealed sizes.
    pub async fn export_page(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        kind: ObjectKind,
        cursor: Option<Cursor>,
    ) -> Result<SealedPage<BillingRecord>, RepoError> {
        let prefix = integration_prefix(kind, integration);
        let query = Query::new(tenant.partition(), SortKeys::prefix(prefix))
            .limit(1000)
            .after(cursor);
        let page = self.sealer.store.query(query).await?;
        let records = self.sealer.open_all(tenant, &page.items).await?;
        let sizes = page.items.iter().map(sealed_len);
        Ok(SealedPage {
            records: records.into_iter().zip(sizes).collect(),
            next: page.next_cursor,
        })
    }
}
