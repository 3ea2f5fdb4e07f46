//! Re-sealing a tenant's items under its current data key after a rotation (issue 17,
//! finding 10).
//!
//! A pass walks every item of the tenant's partitions — its own and every shard any
//! layout may use, [`every_partition`], the same list closure erases, so a partition
//! added there is covered here — and seals again, under the current key, each value sealed under
//! another generation. Each such item is read again just before (the page may be
//! seconds old; bulk items are rewritten without a version check, so the time between
//! read and write is what could lose a concurrent write) and written back only if it
//! is still at that version; every other attribute and the version itself are kept, so
//! a writer holding the item's version is not disturbed. One that changed meanwhile is
//! counted as remaining: the next pass finds it again. Items are re-sealed a few at a
//! time in parallel. The job that runs the passes destroys the retired key only after a
//! pass found nothing left under it.

use std::sync::Arc;

use crate::domain::ids::TenantId;
use crate::ports::{Condition, Key, Query, SortKeys, Store, StoreError};
use crate::repos::shards::every_partition;
use crate::repos::vault::{self, KeyRing, SEALED_ATTR};
use crate::repos::{RepoError, Sealer, read_concurrently};

/// Items read per page of a pass.
const PAGE: usize = 500;
/// Items re-sealed at once.
const IN_FLIGHT: usize = 16;

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResealPass {
    /// Items sealed again under the current key.
    pub resealed: u64,
    /// Items still sealed under another key: they changed while the pass read them.
    pub remaining: u64,
}

/// What became of one item.
enum Outcome {
    Resealed,
    Changed,
}

#[derive(Clone)]
pub struct Reseal {
    sealer: Sealer,
}

impl Reseal {
    pub(crate) fn new(sealer: Sealer) -> Self {
        Self { sealer }
    }

    /// One pass over the tenant's items (see the module's comment).
    pub async fn pass(&self, tenant: &TenantId) -> Result<ResealPass, RepoError> {
        let ring = Arc::new(self.sealer.keys.fresh_ring(tenant).await?);
        let store = self.sealer.store.clone();
        let mut pass = ResealPass::default();
        for pk in every_partition(tenant) {
            let mut cursor = None;
            loop {
                let query = Query::new(pk.clone(), SortKeys::All)
                    .limit(PAGE)
                    .after(cursor);
                let page = store.query(query).await?;
                let stale: Vec<Key> = page
                    .items
                    .iter()
                    .filter(|item| {
                        vault::sealed_generation(item).is_some_and(|g| g != ring.generation)
                    })
                    .map(|item| item.key.clone())
                    .collect();
                let outcomes = read_concurrently(stale, IN_FLIGHT, |key| {
                    reseal_item(store.clone(), ring.clone(), key)
                })
                .await?;
                for outcome in outcomes {
                    match outcome {
                        Outcome::Resealed => pass.resealed += 1,
                        Outcome::Changed => pass.remaining += 1,
                    }
                }
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        Ok(pass)
    }
}

/// Reads the item again and, if it is still under another key, writes it back sealed
/// under the current one at the same version; `None` when there is nothing to do (gone,
/// or already re-sealed by a writer).
async fn reseal_item(
    store: Arc<dyn Store>,
    ring: Arc<KeyRing>,
    key: Key,
) -> Result<Option<Outcome>, RepoError> {
    let Some(item) = store.get(&key).await? else {
        return Ok(None);
    };
    match vault::sealed_generation(&item) {
        Some(generation) if generation != ring.generation => {}
        _ => return Ok(None),
    }
    let table = store.table_name();
    let plain = vault::open_with_ring(table, &ring, &item)?;
    let mut resealed = vault::seal_bytes_as(table, (ring.generation, &ring.current), key, &plain)
        .with_version(item.version);
    for (name, value) in item.attrs.iter().filter(|(n, _)| *n != SEALED_ATTR) {
        resealed.attrs.insert(name.clone(), value.clone());
    }
    match store
        .put(resealed, Condition::VersionIs(item.version))
        .await
    {
        Ok(()) => Ok(Some(Outcome::Resealed)),
        Err(StoreError::ConditionFailed) => Ok(Some(Outcome::Changed)),
        Err(other) => Err(other.into()),
    }
}
