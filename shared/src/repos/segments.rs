//! A tenant's custom segments: one sealed item in its partition, `SEGMENTS`, holding
//! the whole list (at most 100 small definitions, a few tens of KB). One item makes
//! the list's rules — at most 100, names unique regardless of case — hold under
//! concurrent writes: every write is conditional on the version read, so of two racing
//! writers one fails and reads again. Sealed: a filter value (a city) can point at
//! people. Erased with the tenant's partition.

use serde::{Deserialize, Serialize};

use crate::domain::ids::TenantId;
use crate::domain::segments::CustomSegment;
use crate::ports::{Condition, Key};
use crate::repos::{EntityKey, RepoError, Sealer, Stored, tenant_of};

const SEGMENTS_SK: &str = "SEGMENTS";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentsKey {
    pub tenant: TenantId,
}

impl EntityKey for SegmentsKey {
    fn key(&self) -> Key {
        Key::new(self.tenant.partition(), SEGMENTS_SK)
    }
    fn parse(key: &Key) -> Option<Self> {
        let tenant = tenant_of(&key.pk)?;
        (key.sk == SEGMENTS_SK).then_some(Self { tenant })
    }
}

/// The sealed body.
#[derive(Serialize, Deserialize)]
struct SegmentList {
    segments: Vec<CustomSegment>,
}

#[derive(Clone)]
pub struct CustomSegments {
    sealer: Sealer,
}

impl CustomSegments {
    pub(crate) fn new(sealer: Sealer) -> Self {
        Self { sealer }
    }

    /// The tenant's segments with the version a write must name (0: none stored yet).
    pub async fn all(&self, tenant: &TenantId) -> Result<Stored<Vec<CustomSegment>>, RepoError> {
        let key = SegmentsKey {
            tenant: tenant.clone(),
        };
        let loaded = self.sealer.load::<SegmentList>(tenant, &key.key()).await?;
        Ok(match loaded {
            Some((list, item)) => Stored {
                record: list.segments,
                version: item.version,
            },
            None => Stored {
                record: Vec::new(),
                version: 0,
            },
        })
    }

    /// Replaces the list if it is still at `version` (0: if none is stored). A list
    /// changed meanwhile fails with a conflict ([`RepoError::is_conflict`]).
    pub async fn replace(
        &self,
        tenant: &TenantId,
        segments: Vec<CustomSegment>,
        version: u64,
    ) -> Result<(), RepoError> {
        let key = SegmentsKey {
            tenant: tenant.clone(),
        };
        let list = SegmentList { segments };
        let item = self
            .sealer
            .seal(tenant, key.key(), &list)
            .await?
            .with_version(version + 1);
        let condition = match version {
            0 => Condition::Absent,
            v => Condition::VersionIs(v),
        };
        Ok(self.sealer.store.put(item, condition).await?)
    }
}
