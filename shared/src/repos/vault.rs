//! Envelope encryption for tenant data (docs/design.md §3).
//!
//! Each tenant has one data key, made by the KeyService under the encryption context
//! `{tenant_id}` and stored only in wrapped form, at `(TENANT#<id>, KEY)` ([`DataKeyKey`]). Business
//! records are serialized to JSON and sealed under that key into the item's `data`
//! attribute, bound to table, pk and sk. Plain keys are cached per process for a short
//! time (a warm Lambda must not call KMS on every request) and zeroized when dropped.
//! Deleting the wrapped key crypto-shreds the tenant: nothing sealed opens again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::domain::crypto::{self, DataKey, SealedAt};
use crate::domain::ids::TenantId;
use crate::ports::{
    Attr, Condition, EncryptionContext, Item, Key, KeyError, KeyService, Store, StoreError,
    WrappedKey,
};
use crate::repos::{EntityKey, Write, tenant_of};

/// The sort key of a tenant's wrapped data key.
const DATA_KEY_SK: &str = "KEY";
/// The attribute that holds an item's sealed record.
pub(crate) const SEALED_ATTR: &str = "data";
const WRAPPED_ATTR: &str = "wrapped";

/// Where a tenant's wrapped data key lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataKeyKey {
    pub tenant: TenantId,
}

impl EntityKey for DataKeyKey {
    fn key(&self) -> Key {
        Key::new(self.tenant.partition(), DATA_KEY_SK)
    }
    fn parse(key: &Key) -> Option<Self> {
        let tenant = tenant_of(&key.pk)?;
        (key.sk == DATA_KEY_SK).then_some(Self { tenant })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The tenant has no data key (never created, or closed and shredded).
    #[error("the tenant has no data key")]
    NoKey,
    /// A sealed record did not open or did not parse: tampered, moved, or shredded.
    #[error("a sealed record does not open")]
    Corrupt,
}

impl VaultError {
    /// Whether a conditional write (or a transaction) was refused by its condition.
    pub fn is_conflict(&self) -> bool {
        matches!(self, VaultError::Store(StoreError::ConditionFailed))
    }
}

struct CachedKey {
    key: DataKey,
    fetched: Instant,
}

/// Tenant data keys: create, unwrap (cached), forget.
pub struct TenantKeys {
    store: Arc<dyn Store>,
    keys: Arc<dyn KeyService>,
    ttl: Duration,
    cache: Mutex<HashMap<TenantId, CachedKey>>,
}

impl TenantKeys {
    pub fn new(store: Arc<dyn Store>, keys: Arc<dyn KeyService>, ttl: Duration) -> Self {
        Self {
            store,
            keys,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// A new data key for a new tenant, and the write that stores it wrapped; the caller
    /// puts that write in the transaction that creates the tenant. Not cached until it
    /// is read back: the write may still fail.
    pub async fn create(&self, tenant: &TenantId) -> Result<(DataKey, Write), VaultError> {
        let (key, item) = self.new_key_item(tenant).await?;
        Ok((key, Write::put(item, Condition::Absent)))
    }

    async fn new_key_item(&self, tenant: &TenantId) -> Result<(DataKey, Item), VaultError> {
        let (key, wrapped) = self
            .keys
            .generate_data_key(&EncryptionContext::tenant(tenant.as_str()))
            .await?;
        let item = Item::new(
            DataKeyKey {
                tenant: tenant.clone(),
            }
            .key(),
        )
        .with(WRAPPED_ATTR, Attr::B(wrapped.0));
        Ok((key, item))
    }

    /// Whether the tenant still has a wrapped key (a closure not yet finished).
    pub async fn exists(&self, tenant: &TenantId) -> Result<bool, VaultError> {
        let key = DataKeyKey {
            tenant: tenant.clone(),
        };
        Ok(self.store.get(&key.key()).await?.is_some())
    }

    /// Deletes the wrapped key and forgets the plain one: nothing sealed of the tenant
    /// opens again (crypto-shredding).
    pub async fn shred(&self, tenant: &TenantId) -> Result<(), VaultError> {
        let key = DataKeyKey {
            tenant: tenant.clone(),
        };
        self.store.delete(&key.key(), Condition::None).await?;
        self.forget(tenant);
        Ok(())
    }

    /// The tenant's plain data key.
    pub async fn data_key(&self, tenant: &TenantId) -> Result<DataKey, VaultError> {
        if let Some(key) = self.cached(tenant) {
            return Ok(key);
        }
        let item = self
            .store
            .get(
                &DataKeyKey {
                    tenant: tenant.clone(),
                }
                .key(),
            )
            .await?
            .ok_or(VaultError::NoKey)?;
        let wrapped = WrappedKey(item.b(WRAPPED_ATTR).ok_or(VaultError::Corrupt)?.to_vec());
        let key = self
            .keys
            .decrypt_data_key(&wrapped, &EncryptionContext::tenant(tenant.as_str()))
            .await?;
        self.remember(tenant, &key);
        Ok(key)
    }

    /// The tenant's data key, created if it has none (for the system pseudo-tenant,
    /// whose key comes into being on first use; two racing creators agree through the
    /// conditional write).
    pub async fn ensure(&self, tenant: &TenantId) -> Result<DataKey, VaultError> {
        match self.data_key(tenant).await {
            Err(VaultError::NoKey) => {}
            other => return other,
        }
        let (key, item) = self.new_key_item(tenant).await?;
        match self.store.put(item, Condition::Absent).await {
            Ok(()) => {
                self.remember(tenant, &key);
                Ok(key)
            }
            Err(StoreError::ConditionFailed) => self.data_key(tenant).await,
            Err(other) => Err(other.into()),
        }
    }

    /// Drops the cached plain key (after closure or key deletion).
    pub fn forget(&self, tenant: &TenantId) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(tenant);
        }
    }

    fn cached(&self, tenant: &TenantId) -> Option<DataKey> {
        let mut cache = self.cache.lock().ok()?;
        match cache.get(tenant) {
            Some(c) if c.fetched.elapsed() < self.ttl => Some(c.key.clone()),
            Some(_) => {
                cache.remove(tenant);
                None
            }
            None => None,
        }
    }

    fn remember(&self, tenant: &TenantId, key: &DataKey) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|_, c| c.fetched.elapsed() < self.ttl);
            cache.insert(
                tenant.clone(),
                CachedKey {
                    key: key.clone(),
                    fetched: Instant::now(),
                },
            );
        }
    }
}

/// An item at `key` whose `data` attribute is `record` sealed for exactly that place.
pub fn seal_record<T: Serialize>(
    table: &str,
    data_key: &DataKey,
    key: Key,
    record: &T,
) -> Result<Item, VaultError> {
    let plain = Zeroizing::new(serde_json::to_vec(record).map_err(|_| VaultError::Corrupt)?);
    Ok(seal_bytes(table, data_key, key, &plain))
}

/// An item at `key` whose `data` attribute is `bytes` sealed for exactly that place:
/// for opaque blobs (snapshot parts and manifest chunks), which JSON would carry as
/// base64, a third larger — and an item's size is what DynamoDB bills.
pub fn seal_bytes(table: &str, data_key: &DataKey, key: Key, bytes: &[u8]) -> Item {
    let at = SealedAt {
        table,
        pk: &key.pk,
        sk: &key.sk,
    };
    let sealed = crypto::seal(data_key, at, bytes);
    Item::new(key).with(SEALED_ATTR, Attr::B(sealed))
}

/// The plaintext sealed in `item`, for exactly its place.
fn open_plain(
    table: &str,
    data_key: &DataKey,
    item: &Item,
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let sealed = item.b(SEALED_ATTR).ok_or(VaultError::Corrupt)?;
    let at = SealedAt {
        table,
        pk: &item.key.pk,
        sk: &item.key.sk,
    };
    crypto::open(data_key, at, sealed).map_err(|_| VaultError::Corrupt)
}

/// The bytes sealed in `item` by [`seal_bytes`].
pub fn open_bytes(table: &str, data_key: &DataKey, item: &Item) -> Result<Vec<u8>, VaultError> {
    Ok(open_plain(table, data_key, item)?.to_vec())
}

/// The record sealed in `item` by [`seal_record`].
pub fn open_record<T: DeserializeOwned>(
    table: &str,
    data_key: &DataKey,
    item: &Item,
) -> Result<T, VaultError> {
    let plain = open_plain(table, data_key, item)?;
    serde_json::from_slice(&plain).map_err(|_| VaultError::Corrupt)
}
