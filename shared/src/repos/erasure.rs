//! Deleting what the registry says goes: the selections of [`super::registry`] (one key,
//! or every key under a prefix of a partition), page by page and up to 100 keys to a
//! transaction. Used by the sweep and by tenant closure.

use std::sync::Arc;

use crate::domain::ids::TenantId;
use crate::ports::store::MAX_TRANSACTION_OPS;
use crate::ports::{Condition, Key, Query, SortKeys, Store, WriteOp};
use crate::repos::RepoError;
use crate::repos::shards::every_partition;

/// Keys read per page while deleting (each page is deleted before the next is read).
const DELETE_PAGE: usize = 500;

/// What to delete: one item, or every item of a partition under a sort-key prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection(Selected);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Selected {
    Key(Key),
    Prefix {
        pk: String,
        prefix: String,
    },
    /// Every item under the prefix in each of the tenant's partitions (its own and
    /// every shard any layout may use, see [`super::shards`]).
    Sharded {
        tenant: TenantId,
        prefix: String,
    },
}

impl Selection {
    pub(crate) fn key(key: Key) -> Self {
        Self(Selected::Key(key))
    }
    pub(crate) fn prefix(pk: String, prefix: String) -> Self {
        Self(Selected::Prefix { pk, prefix })
    }
    pub(crate) fn sharded(tenant: &TenantId, prefix: String) -> Self {
        Self(Selected::Sharded {
            tenant: tenant.clone(),
            prefix,
        })
    }
    /// Whether `key` falls in the selection.
    #[cfg(test)]
    pub(crate) fn contains(&self, key: &Key) -> bool {
        match &self.0 {
            Selected::Key(k) => k == key,
            Selected::Prefix { pk, prefix } => &key.pk == pk && key.sk.starts_with(prefix.as_str()),
            Selected::Sharded { tenant, prefix } => {
                every_partition(tenant).contains(&key.pk) && key.sk.starts_with(prefix.as_str())
            }
        }
    }
}

#[derive(Clone)]
pub struct Erasure {
    store: Arc<dyn Store>,
}

impl Erasure {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Deletes every selection; returns how many items: each single key counts (whether
    /// it existed or not), each prefix what it held.
    pub async fn delete(&self, selections: Vec<Selection>) -> Result<u64, RepoError> {
        let mut keys = Vec::new();
        let mut deleted = 0;
        for selection in selections {
            match selection.0 {
                Selected::Key(key) => keys.push(key),
                Selected::Prefix { pk, prefix } => {
                    deleted += self.delete_sorted(&pk, SortKeys::prefix(prefix)).await?;
                }
                Selected::Sharded { tenant, prefix } => {
                    for pk in every_partition(&tenant) {
                        let sort = SortKeys::prefix(prefix.clone());
                        deleted += self.delete_sorted(&pk, sort).await?;
                    }
                }
            }
        }
        Ok(deleted + delete_keys(self.store.as_ref(), keys).await?)
    }

    /// Deletes every item whose `expires_at` has passed, where the store has no TTL of
    /// its own; returns how many.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, RepoError> {
        Ok(self.store.purge_expired(now).await?)
    }

    /// Deletes every item of the tenant's partitions: the shards first, its own
    /// partition (the tenant item with them) last, so an erasure resumed after a stop
    /// finds everything again.
    pub async fn erase_partition(&self, tenant: &TenantId) -> Result<u64, RepoError> {
        let mut deleted = 0;
        for pk in every_partition(tenant).into_iter().rev() {
            deleted += self.delete_sorted(&pk, SortKeys::All).await?;
        }
        Ok(deleted)
    }

    async fn delete_sorted(&self, pk: &str, sort: SortKeys) -> Result<u64, RepoError> {
        let mut deleted = 0;
        loop {
            // Always the first page: what was read is gone before the next read.
            let page = self
                .store
                .query(Query::new(pk, sort.clone()).limit(DELETE_PAGE))
                .await?;
            if page.items.is_empty() {
                return Ok(deleted);
            }
            let keys = page.items.into_iter().map(|i| i.key).collect();
            deleted += delete_keys(self.store.as_ref(), keys).await?;
        }
    }
}

/// Deletes keys, up to 100 to a transaction; missing ones are fine. Returns how many
/// distinct keys were given.
pub(crate) async fn delete_keys(store: &dyn Store, mut keys: Vec<Key>) -> Result<u64, RepoError> {
    keys.sort();
    keys.dedup();
    let count = keys.len() as u64;
    for chunk in keys.chunks(MAX_TRANSACTION_OPS) {
        let ops = chunk
            .iter()
            .map(|key| WriteOp::Delete {
                key: key.clone(),
                condition: Condition::None,
            })
            .collect();
        store.transact(ops).await?;
    }
    Ok(count)
}
