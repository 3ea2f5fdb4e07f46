//! Closed tenants: the global listing `(CLOSED, <tenant>)` the sweep erases from, and
//! the receipt `(DELETED#<sha256 of the tenant id>, RECEIPT)` that remains afterwards
//! (a hash of the id, never the id, e-mails or name).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::domain::ids::TenantId;
use crate::ports::{Condition, Item, Key, Query, SortKeys, Store};
use crate::repos::{EntityKey, RepoError, Write, n, query_all, s, with_n, with_s};

/// The global partition listing closed tenants awaiting erasure.
const CLOSED_PK: &str = "CLOSED";
const RECEIPT_PREFIX: &str = "DELETED#";
const RECEIPT_SK: &str = "RECEIPT";
const TENANT_ID: &str = "tenant_id";
const CLOSED_AT: &str = "closed_at";
const ERASE_BY: &str = "erase_by";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosedListingKey {
    pub tenant: TenantId,
}

impl EntityKey for ClosedListingKey {
    fn key(&self) -> Key {
        Key::new(CLOSED_PK, self.tenant.to_string())
    }
    fn parse(key: &Key) -> Option<Self> {
        (key.pk == CLOSED_PK).then_some(())?;
        Some(Self {
            tenant: TenantId::parse(&key.sk)?,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptKey {
    /// Hex SHA-256 of the tenant id.
    pub tenant_hash: String,
}

impl ReceiptKey {
    pub fn of(tenant: &TenantId) -> Self {
        Self {
            tenant_hash: hex::encode(Sha256::digest(tenant.as_str().as_bytes())),
        }
    }
}

impl EntityKey for ReceiptKey {
    fn key(&self) -> Key {
        Key::new(format!("{RECEIPT_PREFIX}{}", self.tenant_hash), RECEIPT_SK)
    }
    fn parse(key: &Key) -> Option<Self> {
        let hash = key.pk.strip_prefix(RECEIPT_PREFIX)?;
        let hex = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
        (hex && key.sk == RECEIPT_SK).then(|| Self {
            tenant_hash: hash.to_owned(),
        })
    }
}

#[derive(Clone)]
pub struct Closures {
    store: Arc<dyn Store>,
}

impl Closures {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// The write that lists a closed tenant for erasure.
    pub fn list(
        &self,
        tenant: &TenantId,
        closed_at: DateTime<Utc>,
        erase_by: DateTime<Utc>,
    ) -> Write {
        let key = ClosedListingKey {
            tenant: tenant.clone(),
        };
        let item = with_s(Item::new(key.key()), TENANT_ID, tenant.to_string());
        let item = with_n(item, CLOSED_AT, closed_at.timestamp());
        let item = with_n(item, ERASE_BY, erase_by.timestamp());
        Write::put(item, Condition::None)
    }

    /// Every listed tenant (entries whose id does not parse are skipped).
    pub async fn listed(&self) -> Result<Vec<TenantId>, RepoError> {
        let query = Query::new(CLOSED_PK, SortKeys::All).limit(1000);
        let items = query_all(self.store.as_ref(), query).await?;
        Ok(items
            .iter()
            .filter_map(|item| TenantId::parse(s(item, TENANT_ID).unwrap_or_default()))
            .collect())
    }

    /// Every listed tenant with when it closed (Unix seconds; absent if unreadable).
    pub async fn listed_since(&self) -> Result<Vec<(TenantId, Option<i64>)>, RepoError> {
        let query = Query::new(CLOSED_PK, SortKeys::All).limit(1000);
        let items = query_all(self.store.as_ref(), query).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let tenant = TenantId::parse(s(item, TENANT_ID).unwrap_or_default())?;
                Some((tenant, n(item, CLOSED_AT)))
            })
            .collect())
    }

    /// Removes a tenant from the listing (its erasure is done).
    pub async fn unlist(&self, tenant: &TenantId) -> Result<(), RepoError> {
        let key = ClosedListingKey {
            tenant: tenant.clone(),
        };
        Ok(self.store.delete(&key.key(), Condition::None).await?)
    }

    /// Writes the receipt of an erasure.
    pub async fn write_receipt(
        &self,
        tenant: &TenantId,
        closed_at: DateTime<Utc>,
        erase_by: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        let item = Item::new(ReceiptKey::of(tenant).key());
        let item = with_n(item, CLOSED_AT, closed_at.timestamp());
        let item = with_n(item, ERASE_BY, erase_by.timestamp());
        Ok(self.store.put(item, Condition::None).await?)
    }
}
