//! The analytics snapshot in the table: its parts, sealed and stored under an id
//! derived from their bytes `(TENANT#<id>[#S<shard>], ANALYTICS#PART#<part id>)`; its
//! manifest (the head and the list of part ids), sealed chunks
//! `(TENANT#<id>, ANALYTICS#<version>#<index>)`; both published by writing the plain
//! pointer `(TENANT#<id>, ANALYTICS)` last. The customer profiles
//! `(TENANT#<id>[#S<shard>], PROFILE#<integration>#<customer>)` (sealed). Parts and
//! profiles are spread over the tenant's shards ([`super::shards`]); the pointer and
//! the manifest chunks, a few items, stay in its own partition.

use crate::domain::crypto::keyed_hash;
use crate::domain::ids::TenantId;
use crate::domain::metrics::CustomerProfile;
use crate::ports::{Condition, Item, Key, SortKeys};
use crate::repos::shards::{Layouts, ShardPages, Shards, partition, tenant_and_shard};
use crate::repos::{
    EntityKey, RepoError, Sealer, all_under, n, read_concurrently, rewrite_stamp, tenant_of, with_n,
};

const POINTER_SK: &str = "ANALYTICS";
const CHUNK_PREFIX: &str = "ANALYTICS#";
const PROFILE_PREFIX: &str = "PROFILE#";
const PART_PREFIX: &str = "ANALYTICS#PART#";
const SNAPSHOT: &str = "snapshot";
const CHUNKS: &str = "chunks";
const FORMAT: &str = "format";
/// Parts sealed and written per batch call (~180 KB each at most, sealed).
const PARTS_PER_BATCH: usize = 200;
/// Parts read by key at once.
const PARTS_IN_FLIGHT: usize = 16;
/// Parts per page of a whole-snapshot read (DynamoDB returns at most 1 MB a page).
const PARTS_PER_PAGE: usize = 500;
/// Profiles sealed and written per batch call: a thousand keeps 40 DynamoDB requests
/// of 25 per call (ten rounds of four in flight) and a bounded number of sealed items
/// in memory.
const PROFILES_PER_BATCH: usize = 1000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotPointerKey {
    pub tenant: TenantId,
}

impl EntityKey for SnapshotPointerKey {
    fn key(&self) -> Key {
        Key::new(self.tenant.partition(), POINTER_SK)
    }
    fn parse(key: &Key) -> Option<Self> {
        let tenant = tenant_of(&key.pk)?;
        (key.sk == POINTER_SK).then_some(Self { tenant })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotChunkKey {
    pub tenant: TenantId,
    pub version: i64,
    pub index: usize,
}

fn version_prefix(version: i64) -> String {
    format!("{CHUNK_PREFIX}{version:020}#")
}

impl EntityKey for SnapshotChunkKey {
    fn key(&self) -> Key {
        Key::new(
            self.tenant.partition(),
            format!("{}{:06}", version_prefix(self.version), self.index),
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        let (version, index) = key.sk.strip_prefix(CHUNK_PREFIX)?.split_once('#')?;
        let parsed = Self {
            tenant: tenant_of(&key.pk)?,
            version: version.parse().ok()?,
            index: index.parse().ok()?,
        };
        (parsed.key() == *key).then_some(parsed)
    }
}

/// One part of a snapshot, named by a keyed hash of its bytes (see [`Snapshots::part_ids`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotPartKey {
    pub tenant: TenantId,
    /// 32 lower-case hex digits.
    pub part: String,
    /// The shard holding it.
    pub shard: u16,
}

impl SnapshotPartKey {
    pub fn placed(tenant: &TenantId, part: &str, shards: Shards) -> Self {
        Self {
            tenant: tenant.clone(),
            part: part.to_owned(),
            shard: shards.of(&format!("{PART_PREFIX}{part}")),
        }
    }
}

impl EntityKey for SnapshotPartKey {
    fn key(&self) -> Key {
        Key::new(
            partition(&self.tenant, self.shard),
            format!("{PART_PREFIX}{}", self.part),
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        let part = key.sk.strip_prefix(PART_PREFIX)?;
        let valid = part.len() == 32
            && part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then_some(())?;
        let (tenant, shard) = tenant_and_shard(&key.pk)?;
        Some(Self {
            tenant,
            part: part.to_owned(),
            shard,
        })
    }
}

/// The prefix of every profile of one integration.
pub(crate) fn profiles_prefix(integration: &str) -> String {
    format!("{PROFILE_PREFIX}{integration}#")
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileKey {
    pub tenant: TenantId,
    pub integration: String,
    pub customer: String,
    /// The shard holding it.
    pub shard: u16,
}

impl ProfileKey {
    pub fn placed(tenant: &TenantId, integration: &str, customer: &str, shards: Shards) -> Self {
        Self {
            tenant: tenant.clone(),
            integration: integration.to_owned(),
            customer: customer.to_owned(),
            shard: shards.of(&profile_sort_key(integration, customer)),
        }
    }
}

fn profile_sort_key(integration: &str, customer: &str) -> String {
    format!("{PROFILE_PREFIX}{integration}#{customer}")
}

impl EntityKey for ProfileKey {
    fn key(&self) -> Key {
        Key::new(
            partition(&self.tenant, self.shard),
            profile_sort_key(&self.integration, &self.customer),
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        let (integration, customer) = key.sk.strip_prefix(PROFILE_PREFIX)?.split_once('#')?;
        (!integration.is_empty() && !customer.is_empty()).then_some(())?;
        let (tenant, shard) = tenant_and_shard(&key.pk)?;
        Some(Self {
            tenant,
            integration: integration.to_owned(),
            customer: customer.to_owned(),
            shard,
        })
    }
}

/// The published snapshot's pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotPointer {
    pub version: i64,
    pub chunks: usize,
    /// The snapshot's encoding (`None` for a pointer written before formats existed).
    pub format: Option<i64>,
    /// The pointer item's store version (0 for a pointer not read from the store).
    pub stored: u64,
}

#[derive(Clone)]
pub struct Snapshots {
    sealer: Sealer,
    layouts: Layouts,
}

fn pointer_key(tenant: &TenantId) -> Key {
    SnapshotPointerKey {
        tenant: tenant.clone(),
    }
    .key()
}

fn part_key(tenant: &TenantId, part: &str, shards: Shards) -> Key {
    SnapshotPartKey::placed(tenant, part, shards).key()
}

fn chunk_key(tenant: &TenantId, version: i64, index: usize) -> Key {
    SnapshotChunkKey {
        tenant: tenant.clone(),
        version,
        index,
    }
    .key()
}

impl Snapshots {
    pub(crate) fn new(sealer: Sealer, layouts: Layouts) -> Self {
        Self { sealer, layouts }
    }

    pub async fn pointer(&self, tenant: &TenantId) -> Result<Option<SnapshotPointer>, RepoError> {
        let item = self.sealer.store.get(&pointer_key(tenant)).await?;
        Ok(item.map(|item| SnapshotPointer {
            version: n(&item, SNAPSHOT).unwrap_or(0),
            chunks: n(&item, CHUNKS).unwrap_or(0).max(0) as usize,
            format: n(&item, FORMAT),
            stored: item.version,
        }))
    }

    /// Stores one chunk of a snapshot not yet published.
    pub async fn put_chunk(
        &self,
        tenant: &TenantId,
        version: i64,
        index: usize,
        bytes: &[u8],
    ) -> Result<(), RepoError> {
        let key = chunk_key(tenant, version, index);
        let item = self.sealer.seal_bytes(tenant, key, bytes).await?;
        Ok(self.sealer.store.put(item, Condition::None).await?)
    }

    /// Stores the chunks (indexes 0, 1...) of a snapshot not yet published, as one
    /// batch write.
    ///
    /// A batch, not a transaction: nothing reads a version's chunks until its pointer
    /// is published (one put of one item, atomic by itself, after every chunk is
    /// stored), so chunks of a half-written version are invisible and a retry of the
    /// rebuild writes a new version. Chunks
    /// are up to ~270 KB sealed; DynamoDB's batch of 25 stays under its 16 MB limit.
    pub async fn put_chunks(
        &self,
        tenant: &TenantId,
        version: i64,
        chunks: &[&[u8]],
    ) -> Result<(), RepoError> {
        let mut items = Vec::with_capacity(chunks.len());
        for (index, bytes) in chunks.iter().enumerate() {
            let key = chunk_key(tenant, version, index);
            items.push(self.sealer.seal_bytes(tenant, key, bytes).await?);
        }
        Ok(self.sealer.store.batch_put(items).await?)
    }

    pub async fn chunk(
        &self,
        tenant: &TenantId,
        version: i64,
        index: usize,
    ) -> Result<Option<Vec<u8>>, RepoError> {
        let key = chunk_key(tenant, version, index);
        self.sealer.load_bytes(tenant, &key).await
    }

    /// Publishes a snapshot whose chunks are stored, in place of `previous` (as read
    /// before the pass began): `Ok(false)`, and nothing written, when another pass
    /// published since — two passes of one tenant never interleave their versions.
    pub async fn publish(
        &self,
        tenant: &TenantId,
        pointer: SnapshotPointer,
        previous: Option<&SnapshotPointer>,
    ) -> Result<bool, RepoError> {
        let (version, condition) = match previous {
            Some(previous) => (previous.stored + 1, Condition::VersionIs(previous.stored)),
            None => (1, Condition::Absent),
        };
        let item =
            with_n(Item::new(pointer_key(tenant)), SNAPSHOT, pointer.version).with_version(version);
        let item = with_n(item, CHUNKS, pointer.chunks as i64);
        let item = match pointer.format {
            Some(format) => with_n(item, FORMAT, format),
            None => item,
        };
        match self.sealer.store.put(item, condition).await {
            Ok(()) => Ok(true),
            Err(crate::ports::StoreError::ConditionFailed) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    /// The ids parts are stored under: an HMAC of each part's bytes under a key derived
    /// (once per call) from the tenant's data key, so equal parts share one item while
    /// the id reveals nothing of what they hold (and nothing across tenants).
    pub async fn part_ids<'b>(
        &self,
        tenant: &TenantId,
        parts: impl IntoIterator<Item = &'b [u8]>,
    ) -> Result<Vec<String>, RepoError> {
        let data_key = self.sealer.keys.data_key(tenant).await?;
        let id_key = keyed_hash(data_key.expose_bytes(), b"tally snapshot part id v1");
        Ok(parts
            .into_iter()
            .map(|bytes| {
                let mut id = keyed_hash(id_key.as_bytes(), bytes);
                id.truncate(32);
                id
            })
            .collect())
    }

    /// Stores parts (id, bytes) as one batch write. A part is immutable: its id is a
    /// function of its bytes, so writing one again is harmless.
    pub async fn put_parts(
        &self,
        tenant: &TenantId,
        parts: &[(String, Vec<u8>)],
    ) -> Result<(), RepoError> {
        let shards = self.layouts.shards(tenant).await?;
        for batch in parts.chunks(PARTS_PER_BATCH) {
            let mut items = Vec::with_capacity(batch.len());
            for (id, bytes) in batch {
                items.push(
                    self.sealer
                        .seal_bytes(tenant, part_key(tenant, id, shards), bytes)
                        .await?,
                );
            }
            self.sealer.store.batch_put(items).await?;
        }
        Ok(())
    }

    /// The parts with these ids (those that are stored), read a few at a time.
    pub async fn parts(
        &self,
        tenant: &TenantId,
        ids: &[String],
    ) -> Result<Vec<(String, Vec<u8>)>, RepoError> {
        let shards = self.layouts.shards(tenant).await?;
        let (sealer, tenant) = (self.sealer.clone(), tenant.clone());
        read_concurrently(ids.to_vec(), PARTS_IN_FLIGHT, move |id| {
            let (sealer, tenant) = (sealer.clone(), tenant.clone());
            async move {
                let key = part_key(&tenant, &id, shards);
                let loaded = sealer.load_bytes(&tenant, &key).await?;
                Ok(loaded.map(|bytes| (id, bytes)))
            }
        })
        .await
    }

    /// Every stored part, a page at a time (`on_page` gets each page's parts): what a
    /// process reads to decode a whole snapshot.
    pub async fn each_part(
        &self,
        tenant: &TenantId,
        mut on_page: impl FnMut(Vec<(String, Vec<u8>)>) -> Result<(), RepoError>,
    ) -> Result<(), RepoError> {
        let shards = self.layouts.shards(tenant).await?;
        let store = self.sealer.store.as_ref();
        let sort = SortKeys::prefix(PART_PREFIX);
        let mut pages = ShardPages::new(store, shards.partitions(tenant), sort, PARTS_PER_PAGE);
        while let Some(items) = pages.next_round().await? {
            // Each item with its id; an item whose key is not a part's is not one.
            let (ids, items): (Vec<String>, Vec<Item>) = items
                .into_iter()
                .filter_map(|item| SnapshotPartKey::parse(&item.key).map(|k| (k.part, item)))
                .unzip();
            let chunks = self.sealer.open_all_bytes(tenant, &items).await?;
            on_page(ids.into_iter().zip(chunks).collect())?;
        }
        Ok(())
    }

    /// Deletes parts no longer in any published manifest (idempotent).
    pub async fn delete_parts(&self, tenant: &TenantId, ids: &[String]) -> Result<(), RepoError> {
        let shards = self.layouts.shards(tenant).await?;
        let keys = ids.iter().map(|id| part_key(tenant, id, shards)).collect();
        Ok(self.sealer.store.batch_delete(keys).await?)
    }

    /// The keys of every snapshot item that is not `keep`: parts not in `parts` and
    /// manifest chunks of other versions (left by a pass that stopped after writing
    /// them), in every shard. Read a page at a time, keys only kept.
    pub async fn unreferenced(
        &self,
        tenant: &TenantId,
        version: i64,
        parts: &std::collections::HashSet<String>,
    ) -> Result<Vec<Key>, RepoError> {
        let mut stale = Vec::new();
        let shards = self.layouts.shards(tenant).await?;
        let store = self.sealer.store.as_ref();
        let sort = SortKeys::prefix(CHUNK_PREFIX);
        let mut pages = ShardPages::new(store, shards.partitions(tenant), sort, PARTS_PER_PAGE);
        while let Some(items) = pages.next_round().await? {
            for item in items {
                let referenced = match (
                    SnapshotPartKey::parse(&item.key),
                    SnapshotChunkKey::parse(&item.key),
                ) {
                    (Some(part), _) => parts.contains(&part.part),
                    (None, Some(chunk)) => chunk.version == version,
                    (None, None) => true,
                };
                if !referenced {
                    stale.push(item.key);
                }
            }
        }
        Ok(stale)
    }

    /// Deletes items [`Self::unreferenced`] found.
    pub async fn delete_keys(&self, keys: Vec<Key>) -> Result<(), RepoError> {
        Ok(self.sealer.store.batch_delete(keys).await?)
    }

    /// Deletes every chunk of a version no longer published.
    ///
    /// A batch, not a transaction: nothing reads a version once the pointer has moved
    /// off it, so chunks deleted in any order, or left half-deleted by a crash, are
    /// never seen; deleting them again is harmless. (A transactional delete of a
    /// 270 KB chunk costs twice the write units of a batched one.)
    pub async fn delete_version(&self, tenant: &TenantId, version: i64) -> Result<u64, RepoError> {
        let store = self.sealer.store.as_ref();
        let stale = all_under(store, tenant, version_prefix(version), 100).await?;
        let keys: Vec<Key> = stale.into_iter().map(|i| i.key).collect();
        let deleted = keys.len() as u64;
        store.batch_delete(keys).await?;
        Ok(deleted)
    }
}

/// Customer profiles (subscriptions and payments) as of the last rebuild.
#[derive(Clone)]
pub struct Profiles {
    sealer: Sealer,
    layouts: Layouts,
}

impl Profiles {
    pub(crate) fn new(sealer: Sealer, layouts: Layouts) -> Self {
        Self { sealer, layouts }
    }

    fn key(tenant: &TenantId, integration: &str, customer: &str, shards: Shards) -> Key {
        ProfileKey::placed(tenant, integration, customer, shards).key()
    }

    pub async fn put(
        &self,
        tenant: &TenantId,
        integration: &str,
        profile: &CustomerProfile,
    ) -> Result<(), RepoError> {
        let shards = self.layouts.shards(tenant).await?;
        let key = Self::key(tenant, integration, &profile.id, shards);
        let item = self.sealer.seal(tenant, key, profile).await?;
        let item = item.with_version(rewrite_stamp());
        Ok(self.sealer.store.put(item, Condition::None).await?)
    }

    /// Stores profiles (by integration id) as batch writes, [`PROFILES_PER_BATCH`] to a
    /// call, so that sealed items of a large tenant are not all held at once.
    ///
    /// A batch, not a transaction: each profile is a whole, unconditional copy derived
    /// from the records, independent of the others; a rebuild interrupted half-way
    /// leaves some profiles fresh and some from the last rebuild, and the next rebuild
    /// rewrites them all.
    pub async fn put_all(
        &self,
        tenant: &TenantId,
        profiles: &[(String, CustomerProfile)],
    ) -> Result<(), RepoError> {
        let shards = self.layouts.shards(tenant).await?;
        for chunk in profiles.chunks(PROFILES_PER_BATCH) {
            let mut items = Vec::with_capacity(chunk.len());
            for (integration, profile) in chunk {
                let key = Self::key(tenant, integration, &profile.id, shards);
                let item = self.sealer.seal(tenant, key, profile).await?;
                items.push(item.with_version(rewrite_stamp()));
            }
            self.sealer.store.batch_put(items).await?;
        }
        Ok(())
    }

    /// Deletes the profiles of customers (integration id, customer id) no longer in
    /// the snapshot (idempotent).
    pub async fn delete_all(
        &self,
        tenant: &TenantId,
        customers: &[(String, String)],
    ) -> Result<(), RepoError> {
        let shards = self.layouts.shards(tenant).await?;
        let keys = customers
            .iter()
            .map(|(integration, customer)| Self::key(tenant, integration, customer, shards))
            .collect();
        Ok(self.sealer.store.batch_delete(keys).await?)
    }

    pub async fn get(
        &self,
        tenant: &TenantId,
        integration: &str,
        customer: &str,
    ) -> Result<Option<CustomerProfile>, RepoError> {
        let shards = self.layouts.shards(tenant).await?;
        let key = Self::key(tenant, integration, customer, shards);
        let loaded = self.sealer.load(tenant, &key).await?;
        Ok(loaded.map(|(profile, _)| profile))
    }
}
