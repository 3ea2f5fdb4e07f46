//! Re-sealing a tenant's items under its current data key after a rotation (issue 17,
//! finding 10).
//!
//! A pass walks every item of the tenant's partitions — the same list closure erases,
//! [`erasure::tenant_partitions`], so a partition added there is covered here — and
//! seals again, under the current key, each value sealed under another generation. The
//! item is written back only if it did not change since read (same version; every
//! other attribute and the version itself are kept, so a writer holding the item's
//! version is not disturbed). One that changed meanwhile is counted as remaining: the
//! next pass finds it again. The job that runs the passes destroys the retired key only
//! after a pass found nothing left under it.

use crate::domain::ids::TenantId;
use crate::ports::{Condition, Query, SortKeys, StoreError};
use crate::repos::erasure::tenant_partitions;
use crate::repos::vault::{self, SEALED_ATTR};
use crate::repos::{RepoError, Sealer};

/// Items read per page of a pass.
const PAGE: usize = 500;

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResealPass {
    /// Items sealed again under the current key.
    pub resealed: u64,
    /// Items still sealed under another key: they changed while the pass read them.
    pub remaining: u64,
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
        let ring = self.sealer.keys.fresh_ring(tenant).await?;
        let store = self.sealer.store.as_ref();
        let table = store.table_name();
        let mut pass = ResealPass::default();
        for pk in tenant_partitions(tenant) {
            let mut cursor = None;
            loop {
                let query = Query::new(pk.clone(), SortKeys::All)
                    .limit(PAGE)
                    .after(cursor);
                let page = store.query(query).await?;
                for item in &page.items {
                    match vault::sealed_generation(item) {
                        Some(generation) if generation != ring.generation => {}
                        _ => continue,
                    }
                    let plain = vault::open_with_ring(table, &ring, item)?;
                    let mut resealed = vault::seal_bytes_as(
                        table,
                        (ring.generation, &ring.current),
                        item.key.clone(),
                        &plain,
                    )
                    .with_version(item.version);
                    for (name, value) in item.attrs.iter().filter(|(n, _)| *n != SEALED_ATTR) {
                        resealed.attrs.insert(name.clone(), value.clone());
                    }
                    match store
                        .put(resealed, Condition::VersionIs(item.version))
                        .await
                    {
                        Ok(()) => pass.resealed += 1,
                        Err(StoreError::ConditionFailed) => pass.remaining += 1,
                        Err(other) => return Err(other.into()),
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
