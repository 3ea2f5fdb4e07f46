//! Envelope encryption for tenant data (docs/design.md §3).
//!
//! Each tenant has one data key, made by the KeyService under the encryption context
//! `{tenant_id}` and stored only in wrapped form, at `(TENANT#<id>, KEY)` ([`DataKeyKey`]). Business
//! records are serialized to JSON and sealed under that key into the item's `data`
//! attribute, bound to table, pk and sk. Plain keys are cached per process for a short
//! time (a warm Lambda must not call KMS on every request) and zeroized when dropped.
//! Deleting the wrapped key crypto-shreds the tenant: nothing sealed opens again.
//!
//! Rotation (`POST /v1/security/rotate-keys`): the key item gets a new key of the next
//! generation and keeps the one it replaces as `retired_wrapped` while the re-seal job
//! moves every item to the new key; values name their generation (`domain::crypto`), so
//! reads open items of either. When no item under the retired key remains, the job
//! removes `retired_wrapped`: the old key is destroyed. At most one key is retired at a
//! time: a rotation while one is is refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::crypto::DataKey;
use crate::domain::ids::TenantId;
use crate::ports::{
    Attr, Condition, EncryptionContext, Item, Key, KeyError, KeyService, Store, StoreError,
    WrappedKey,
};
use crate::repos::{EntityKey, Write, tenant_of};

mod sealing;
pub use sealing::{
    open_bytes, open_record, open_with_ring, parse_record, seal_bytes, seal_bytes_as, seal_record,
    seal_record_as, sealed_generation,
};

/// The sort key of a tenant's wrapped data key.
const DATA_KEY_SK: &str = "KEY";
/// The attribute that holds an item's sealed record.
pub(crate) const SEALED_ATTR: &str = "data";
const WRAPPED_ATTR: &str = "wrapped";
/// The generation of the current key (absent: 0, the tenant's first key).
const GENERATION_ATTR: &str = "generation";
/// The key a rotation replaced, kept wrapped until no item is sealed under it.
const RETIRED_WRAPPED_ATTR: &str = "retired_wrapped";
const RETIRED_GENERATION_ATTR: &str = "retired_generation";

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
    /// A rotation was asked for while the previous one still re-seals.
    #[error("a key rotation is still re-sealing")]
    RotationInProgress,
}

impl VaultError {
    /// Whether a conditional write (or a transaction) was refused by its condition.
    pub fn is_conflict(&self) -> bool {
        matches!(self, VaultError::Store(StoreError::ConditionFailed))
    }
}

/// A tenant's keys in plain: the current one, and the one a rotation retired while
/// items are still sealed under it. Zeroized on drop (each [`DataKey`] is).
#[derive(Clone)]
pub struct KeyRing {
    pub generation: u32,
    pub current: DataKey,
    pub retired: Option<(u32, DataKey)>,
}

impl KeyRing {
    /// The key of `generation`, if the ring holds it.
    pub fn of_generation(&self, generation: u32) -> Option<&DataKey> {
        if generation == self.generation {
            return Some(&self.current);
        }
        match &self.retired {
            Some((g, key)) if *g == generation => Some(key),
            _ => None,
        }
    }
}

/// Where a tenant's keys stand, read without unwrapping any (the re-seal job, tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyState {
    /// The generation of the current key: 0 before any rotation.
    pub generation: u32,
    /// The retired key's generation while items may still be sealed under it.
    pub retired: Option<u32>,
}

/// What a rotation prepared: the new generation, the keys in plain, and the write that
/// stores the new key and retires the old one (conditional on the key item unchanged).
pub struct Rotation {
    pub generation: u32,
    pub previous: DataKey,
    pub write: Write,
}

struct CachedKey {
    ring: KeyRing,
    fetched: Instant,
}

/// Tenant data keys: create, unwrap (cached), rotate, forget.
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

    /// How long a process keeps a tenant's plain keys: after a rotation, a process may
    /// seal under the retired key for this long (the re-seal job waits it out).
    pub fn cache_ttl(&self) -> Duration {
        self.ttl
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

    async fn key_item(&self, tenant: &TenantId) -> Result<Item, VaultError> {
        let key = DataKeyKey {
            tenant: tenant.clone(),
        };
        self.store.get(&key.key()).await?.ok_or(VaultError::NoKey)
    }

    /// Whether the tenant still has a wrapped key (a closure not yet finished).
    pub async fn exists(&self, tenant: &TenantId) -> Result<bool, VaultError> {
        let key = DataKeyKey {
            tenant: tenant.clone(),
        };
        Ok(self.store.get(&key.key()).await?.is_some())
    }

    /// Deletes the wrapped key (with a retired one, if any: both are attributes of the
    /// one item) and forgets the plain ones: nothing sealed of the tenant opens again
    /// (crypto-shredding).
    pub async fn shred(&self, tenant: &TenantId) -> Result<(), VaultError> {
        let key = DataKeyKey {
            tenant: tenant.clone(),
        };
        self.store.delete(&key.key(), Condition::None).await?;
        self.forget(tenant);
        Ok(())
    }

    /// The tenant's current plain data key.
    pub async fn data_key(&self, tenant: &TenantId) -> Result<DataKey, VaultError> {
        Ok(self.ring(tenant).await?.current)
    }

    /// The tenant's keys: the current one and a retired one still needed.
    pub async fn ring(&self, tenant: &TenantId) -> Result<KeyRing, VaultError> {
        if let Some(ring) = self.cached(tenant) {
            return Ok(ring);
        }
        self.load_ring(tenant).await
    }

    /// The ring read from the store, bypassing the cache (a value names a generation
    /// the cached ring does not hold: another process rotated meanwhile).
    pub async fn fresh_ring(&self, tenant: &TenantId) -> Result<KeyRing, VaultError> {
        self.forget(tenant);
        self.load_ring(tenant).await
    }

    async fn load_ring(&self, tenant: &TenantId) -> Result<KeyRing, VaultError> {
        let item = self.key_item(tenant).await?;
        let ring = self.unwrap_ring(tenant, &item).await?;
        self.remember(tenant, &ring);
        Ok(ring)
    }

    async fn unwrap_ring(&self, tenant: &TenantId, item: &Item) -> Result<KeyRing, VaultError> {
        let context = EncryptionContext::tenant(tenant.as_str());
        let wrapped = WrappedKey(item.b(WRAPPED_ATTR).ok_or(VaultError::Corrupt)?.to_vec());
        let current = self.keys.decrypt_data_key(&wrapped, &context).await?;
        let retired = match (
            item.b(RETIRED_WRAPPED_ATTR),
            generation_of(item, RETIRED_GENERATION_ATTR),
        ) {
            (Some(bytes), Some(generation)) => {
                let key = self
                    .keys
                    .decrypt_data_key(&WrappedKey(bytes.to_vec()), &context)
                    .await?;
                Some((generation, key))
            }
            _ => None,
        };
        Ok(KeyRing {
            generation: generation_of(item, GENERATION_ATTR).unwrap_or(0),
            current,
            retired,
        })
    }

    /// The generations stored for the tenant, without unwrapping anything.
    pub async fn state(&self, tenant: &TenantId) -> Result<KeyState, VaultError> {
        let item = self.key_item(tenant).await?;
        Ok(KeyState {
            generation: generation_of(&item, GENERATION_ATTR).unwrap_or(0),
            retired: item
                .b(RETIRED_WRAPPED_ATTR)
                .and_then(|_| generation_of(&item, RETIRED_GENERATION_ATTR)),
        })
    }

    /// Prepares a rotation: a new key of the next generation becomes current, the
    /// current one is kept wrapped as retired. Refused while a key is retired (the
    /// previous rotation still re-seals).
    pub async fn rotate(&self, tenant: &TenantId) -> Result<Rotation, VaultError> {
        let item = self.key_item(tenant).await?;
        if item.b(RETIRED_WRAPPED_ATTR).is_some() {
            return Err(VaultError::RotationInProgress);
        }
        let ring = self.unwrap_ring(tenant, &item).await?;
        let generation = ring.generation.checked_add(1).ok_or(VaultError::Corrupt)?;
        let (_, fresh) = self.new_key_item(tenant).await?;
        let (Some(new_wrapped), Some(old_wrapped)) = (fresh.b(WRAPPED_ATTR), item.b(WRAPPED_ATTR))
        else {
            return Err(VaultError::Corrupt);
        };
        let rotated = Item::new(item.key.clone())
            .with_version(item.version + 1)
            .with(WRAPPED_ATTR, Attr::B(new_wrapped.to_vec()))
            .with(GENERATION_ATTR, Attr::N(i64::from(generation)))
            .with(RETIRED_WRAPPED_ATTR, Attr::B(old_wrapped.to_vec()))
            .with(RETIRED_GENERATION_ATTR, Attr::N(i64::from(ring.generation)));
        Ok(Rotation {
            generation,
            previous: ring.current,
            write: Write::put(rotated, Condition::VersionIs(item.version)),
        })
    }

    /// Destroys the retired key of `generation` (its wrapped form is removed from the
    /// key item); nothing sealed under it opens again. Refused (a conflict) if the key
    /// item changed meanwhile; a no-op if that key is already gone.
    pub async fn destroy_retired(
        &self,
        tenant: &TenantId,
        generation: u32,
    ) -> Result<(), VaultError> {
        let item = self.key_item(tenant).await?;
        if generation_of(&item, RETIRED_GENERATION_ATTR) != Some(generation)
            || item.b(RETIRED_WRAPPED_ATTR).is_none()
        {
            return Ok(());
        }
        let mut kept = item.clone().with_version(item.version + 1);
        kept.attrs.remove(RETIRED_WRAPPED_ATTR);
        kept.attrs.remove(RETIRED_GENERATION_ATTR);
        self.store
            .put(kept, Condition::VersionIs(item.version))
            .await?;
        self.forget(tenant);
        Ok(())
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
                self.remember(
                    tenant,
                    &KeyRing {
                        generation: 0,
                        current: key.clone(),
                        retired: None,
                    },
                );
                Ok(key)
            }
            Err(StoreError::ConditionFailed) => self.data_key(tenant).await,
            Err(other) => Err(other.into()),
        }
    }

    /// Drops the cached plain keys (after closure, rotation or key deletion).
    pub fn forget(&self, tenant: &TenantId) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(tenant);
        }
    }

    fn cached(&self, tenant: &TenantId) -> Option<KeyRing> {
        let mut cache = self.cache.lock().ok()?;
        match cache.get(tenant) {
            Some(c) if c.fetched.elapsed() < self.ttl => Some(c.ring.clone()),
            Some(_) => {
                cache.remove(tenant);
                None
            }
            None => None,
        }
    }

    fn remember(&self, tenant: &TenantId, ring: &KeyRing) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|_, c| c.fetched.elapsed() < self.ttl);
            cache.insert(
                tenant.clone(),
                CachedKey {
                    ring: ring.clone(),
                    fetched: Instant::now(),
                },
            );
        }
    }
}

fn generation_of(item: &Item, name: &str) -> Option<u32> {
    item.n(name).and_then(|n| u32::try_from(n).ok())
}
