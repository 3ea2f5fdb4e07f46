//! Write sharding: a large tenant's bulk items spread over several partition keys.
//!
//! DynamoDB serves about 1,000 write units a second per partition key, and a backfill
//! writes its sort keys in order, which DynamoDB cannot split. So the bulk of a tenant
//! — billing records other than customers, customer profiles, snapshot parts — lives in
//! `N` partitions: shard 0 is the tenant's own partition `TENANT#<id>` (so a tenant of
//! one shard is laid out exactly as before sharding), shard `s > 0` is
//! `TENANT#<id>#S<s>`. An item's shard is a hash of its sort key modulo `N`, so a point
//! read finds it from its key alone; a listing reads every shard, in parallel.
//!
//! `N` is chosen once per tenant from its size and recorded in the tenant item (the
//! plain attribute `shards`): when the tenant's first full sync has listed its customers
//! (customer records stay in shard 0 whatever `N`, so they can be written before `N` is
//! known), one shard per [`crate::config::Config::shard_customers`] customers, at most
//! [`MAX_SHARDS`]. It never changes afterwards, so no item ever moves: a process caches
//! it once read. A tenant that already holds bulk items in its own partition when `N`
//! is chosen (one that predates sharding) is recorded with one shard.
//!
//! Whatever erases "every item of a tenant" (closure) or "every item of an integration"
//! (the sweep) walks shards `0..MAX_SHARDS` without reading `N`, so an erasure resumed
//! after the tenant item is gone still finds every shard.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::ids::TenantId;
use crate::ports::{Attr, Condition, Key, Query, SortKeys, Store, StoreError};
use crate::repos::tenants::TenantKey;
use crate::repos::{EntityKey, RepoError, n, tenant_of};

/// The most shards a tenant may have: 16 partitions take 16,000 write units a second,
/// a 100,000-customer backfill (some 2.8 million items) in about three minutes of
/// DynamoDB time.
pub const MAX_SHARDS: u16 = 16;

/// The tenant item's plain attribute recording `N`.
const SHARDS_ATTR: &str = "shards";

/// Sort-key prefixes of the sharded entities, checked for in the tenant's own partition
/// before `N` is chosen (any one present: the tenant predates sharding).
pub(crate) const SHARDED_PREFIXES: [&str; 7] = [
    "PM#",
    "SUB#",
    "INV#",
    "CHG#",
    "REF#",
    "PROFILE#",
    "ANALYTICS#PART#",
];

/// How many partitions a tenant's bulk items are spread over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shards(u16);

impl Shards {
    /// One shard: the tenant's own partition only.
    pub const ONE: Shards = Shards(1);

    /// `count` shards, clamped to `1..=MAX_SHARDS`.
    pub fn new(count: u16) -> Self {
        Self(count.clamp(1, MAX_SHARDS))
    }

    /// The shards for a tenant of `customers` customers: one per `per_shard` started.
    pub fn for_customers(customers: u64, per_shard: u64) -> Self {
        let wanted = customers.div_ceil(per_shard.max(1));
        Self::new(u16::try_from(wanted).unwrap_or(MAX_SHARDS))
    }

    pub fn count(self) -> u16 {
        self.0
    }

    /// The shard of the item with sort key `sk`: FNV-1a of the key, modulo `N`. Stable
    /// across processes and releases (a changed function would lose every item).
    pub fn of(self, sk: &str) -> u16 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in sk.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        (hash % u64::from(self.0)) as u16
    }

    /// The key of the item with sort key `sk` of `tenant`.
    pub fn key(self, tenant: &TenantId, sk: String) -> Key {
        Key::new(partition(tenant, self.of(&sk)), sk)
    }

    /// Every partition of the tenant under this layout, shard 0 first.
    pub fn partitions(self, tenant: &TenantId) -> Vec<String> {
        (0..self.0).map(|shard| partition(tenant, shard)).collect()
    }
}

/// Shard `shard`'s partition of `tenant` (shard 0: the tenant's own).
pub fn partition(tenant: &TenantId, shard: u16) -> String {
    match shard {
        0 => tenant.partition(),
        _ => format!("{}#S{shard:02}", tenant.partition()),
    }
}

/// Every partition any tenant layout may use, shard 0 first: what erasure walks.
pub fn every_partition(tenant: &TenantId) -> Vec<String> {
    Shards(MAX_SHARDS).partitions(tenant)
}

/// The tenant and shard of a partition key, for a shard partition or the tenant's own.
pub(crate) fn tenant_and_shard(pk: &str) -> Option<(TenantId, u16)> {
    if let Some(tenant) = tenant_of(pk) {
        return Some((tenant, 0));
    }
    let (base, shard) = pk.rsplit_once("#S")?;
    let valid = shard.len() == 2 && shard.bytes().all(|b| b.is_ascii_digit());
    let shard: u16 = shard
        .parse()
        .ok()
        .filter(|s| valid && (1..MAX_SHARDS).contains(s))?;
    Some((tenant_of(base)?, shard))
}

/// The pages of one sort-key selection across several partitions (a tenant's shards),
/// read a round at a time: each round queries every partition not yet exhausted at
/// once, so reading N shards takes about as long as reading the largest, and holds at
/// most one page per shard.
pub(crate) struct ShardPages<'a> {
    store: &'a dyn Store,
    /// Each partition's next query; `None` once exhausted.
    next: Vec<Option<Query>>,
}

impl<'a> ShardPages<'a> {
    pub(crate) fn new(
        store: &'a dyn Store,
        partitions: Vec<String>,
        sort: SortKeys,
        limit: usize,
    ) -> Self {
        let next = partitions
            .into_iter()
            .map(|pk| Some(Query::new(pk, sort.clone()).limit(limit)))
            .collect();
        Self { store, next }
    }

    /// The items of the next round (shard order within it); `None` when every
    /// partition is read.
    pub(crate) async fn next_round(
        &mut self,
    ) -> Result<Option<Vec<crate::ports::Item>>, RepoError> {
        let queries: Vec<(usize, Query)> = self
            .next
            .iter_mut()
            .enumerate()
            .filter_map(|(i, q)| q.take().map(|q| (i, q)))
            .collect();
        if queries.is_empty() {
            return Ok(None);
        }
        let store = self.store;
        let pages = futures::future::join_all(queries.into_iter().map(|(i, query)| async move {
            let page = store.query(query.clone()).await;
            (i, query, page)
        }))
        .await;
        let mut items = Vec::new();
        for (i, query, page) in pages {
            let page = page?;
            self.next[i] = page.next_cursor.map(|cursor| query.after(Some(cursor)));
            items.extend(page.items);
        }
        Ok(Some(items))
    }
}

/// Each tenant's `N`, read from its tenant item and cached once recorded.
#[derive(Clone)]
pub struct Layouts {
    store: Arc<dyn Store>,
    known: Arc<Mutex<HashMap<TenantId, Shards>>>,
}

impl Layouts {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            known: Arc::default(),
        }
    }

    fn cached(&self, tenant: &TenantId) -> Option<Shards> {
        self.known.lock().ok()?.get(tenant).copied()
    }

    fn remember(&self, tenant: &TenantId, shards: Shards) {
        if let Ok(mut known) = self.known.lock() {
            known.insert(tenant.clone(), shards);
        }
    }

    /// The tenant's layout: `N` as recorded, or one shard while none is (nothing
    /// sharded is written before it is, see the module).
    pub async fn shards(&self, tenant: &TenantId) -> Result<Shards, RepoError> {
        if let Some(shards) = self.cached(tenant) {
            return Ok(shards);
        }
        let key = TenantKey {
            tenant: tenant.clone(),
        }
        .key();
        let item = self.store.get(&key).await?;
        match item.as_ref().and_then(|item| n(item, SHARDS_ATTR)) {
            Some(count) => {
                let shards = Shards::new(u16::try_from(count).unwrap_or(MAX_SHARDS));
                self.remember(tenant, shards);
                Ok(shards)
            }
            None => Ok(Shards::ONE),
        }
    }

    /// Records the tenant's `N` unless one is recorded: `wanted`, or one shard when the
    /// tenant's own partition already holds bulk items. Returns the recorded layout.
    /// Concurrent callers agree: the write is conditional on the tenant item's version.
    pub async fn settle(&self, tenant: &TenantId, wanted: Shards) -> Result<Shards, RepoError> {
        if let Some(shards) = self.cached(tenant) {
            return Ok(shards);
        }
        let key = TenantKey {
            tenant: tenant.clone(),
        }
        .key();
        for _ in 0..8 {
            let Some(item) = self.store.get(&key).await? else {
                // No tenant item (a tenant being closed): nothing to record.
                return Ok(Shards::ONE);
            };
            if let Some(count) = n(&item, SHARDS_ATTR) {
                let shards = Shards::new(u16::try_from(count).unwrap_or(MAX_SHARDS));
                self.remember(tenant, shards);
                return Ok(shards);
            }
            let shards = if self.holds_bulk(tenant).await? {
                Shards::ONE
            } else {
                wanted
            };
            let version = item.version;
            let updated = item
                .with(SHARDS_ATTR, Attr::N(i64::from(shards.count())))
                .with_version(version + 1);
            match self.store.put(updated, Condition::VersionIs(version)).await {
                Ok(()) => {
                    self.remember(tenant, shards);
                    return Ok(shards);
                }
                // The tenant item changed (a settings update, another sync): read again.
                Err(StoreError::ConditionFailed) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(
            StoreError::Backend("the tenant item kept changing while recording its shards".into())
                .into(),
        )
    }

    /// Whether the tenant's own partition holds any item of a sharded entity.
    async fn holds_bulk(&self, tenant: &TenantId) -> Result<bool, RepoError> {
        for prefix in SHARDED_PREFIXES {
            let query = Query::new(tenant.partition(), SortKeys::prefix(prefix)).limit(1);
            if !self.store.query(query).await?.items.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shard_is_the_tenants_own_partition() {
        let tenant = TenantId::generate();
        let key = Shards::ONE.key(&tenant, "SUB#i#sub_1".into());
        assert_eq!(key.pk, tenant.partition());
        assert_eq!(Shards::ONE.partitions(&tenant), vec![tenant.partition()]);
    }

    #[test]
    fn a_shard_partition_names_its_tenant_and_shard() {
        let tenant = TenantId::generate();
        for shard in 0..MAX_SHARDS {
            let pk = partition(&tenant, shard);
            assert_eq!(tenant_and_shard(&pk), Some((tenant.clone(), shard)));
        }
        for forged in ["#S16", "#S1", "#Sxx", "#S00", "#S001"] {
            let pk = format!("{}{forged}", tenant.partition());
            assert_eq!(tenant_and_shard(&pk), None, "{forged}");
        }
    }

    #[test]
    fn placement_is_stable_and_spreads_keys_evenly() {
        let shards = Shards::new(16);
        // Pinned: a changed hash would strand every stored item.
        assert_eq!(shards.of("INV#int_1#in_1"), shards.of("INV#int_1#in_1"));
        assert_eq!(
            Shards::new(16).of(""),
            (0xcbf2_9ce4_8422_2325u64 % 16) as u16
        );
        let mut counts = [0u32; 16];
        for i in 0..16_000 {
            counts[usize::from(shards.of(&format!("INV#int_1#in_{i:08}")))] += 1;
        }
        // Sequential ids (a backfill's) land evenly: each shard within 15 % of 1,000.
        assert!(
            counts.iter().all(|&c| (850..=1150).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn the_shard_count_follows_the_customer_count() {
        assert_eq!(Shards::for_customers(0, 10_000), Shards::ONE);
        assert_eq!(Shards::for_customers(2_000, 10_000), Shards::ONE);
        assert_eq!(Shards::for_customers(10_001, 10_000).count(), 2);
        assert_eq!(Shards::for_customers(20_000, 10_000).count(), 2);
        assert_eq!(Shards::for_customers(100_000, 10_000).count(), 10);
        assert_eq!(
            Shards::for_customers(10_000_000, 10_000).count(),
            MAX_SHARDS
        );
        assert_eq!(Shards::for_customers(5, 0).count(), 5);
    }
}
