//! Custom segments (docs/api.md, "Custom segments"): a tenant's named filter sets, and
//! the one resolver every analytics route calls to turn `segment=` and `filter[...]`
//! into the slice it answers about.
//!
//! `segment=` names an RFM segment (`champions`, …) or a custom segment's id. A custom
//! segment contributes its filters, ANDed with the request's (two values for one
//! dimension match nothing: an empty slice, not an error); an RFM segment contributes a
//! mask of its customers, read from the snapshot. The combined filters are what the
//! role is checked against (a viewer using a segment on `city` is refused as
//! `filter[city]` is) and what k-anonymity covers. An id that is not one of the
//! tenant's segments is 404 `not_found`, as another tenant's id in a path.
//!
//! Writes are not audited: like the other analytics settings (FX rates, reporting
//! currency) a segment is a saved query, not a security event.

use std::collections::BTreeMap;

use crate::domain::ids::{SegmentId, TenantId};
use crate::domain::metrics::{CustomerMask, Dimension, Facts, Filter, RfmSegment, Slice};
use crate::domain::roles::Role;
use crate::domain::segments::{
    CustomSegment, MAX_SEGMENTS, SegmentDefinition, SegmentRuleError, same_name,
};
use crate::services::analytics::Snapshot;
use crate::services::analytics_query::{Suppression, check_dimensions};
use crate::services::contexts::Analytics;
use crate::services::error::{BadRequest, Conflict, ServiceError};
use crate::services::sessions::TenantCtx;

/// How often a write is tried again when another write changed the list meanwhile.
const WRITE_ATTEMPTS: usize = 3;

/// What `segment=` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentRef {
    Rfm(RfmSegment),
    Custom(SegmentId),
}

impl SegmentRef {
    /// An RFM segment's name or a segment id (canonical lower-case UUID); `None` else.
    pub fn parse(text: &str) -> Option<Self> {
        RfmSegment::ALL
            .into_iter()
            .find(|rfm| rfm.as_str() == text)
            .map(Self::Rfm)
            .or_else(|| SegmentId::parse(text).map(Self::Custom))
    }
}

/// A request's slice before the snapshot is read: the combined filters, and the RFM
/// segment whose customers the snapshot will give.
#[derive(Clone, Debug, Default)]
pub struct SegmentSlice {
    pub filters: Vec<Filter>,
    pub rfm: Option<RfmSegment>,
}

impl SegmentSlice {
    /// The slice on the snapshot's facts: the RFM segment becomes a mask of its
    /// customers.
    pub fn on(self, snapshot: &Snapshot) -> Slice {
        let customers = self.rfm.map(|rfm| {
            let members = snapshot
                .customers
                .iter()
                .zip(&snapshot.order.dims)
                .filter(|(row, _)| row.segment.as_deref() == Some(rfm.as_str()))
                .filter_map(|(_, facts_index)| facts_index.map(|i| i as usize));
            CustomerMask::of(snapshot.facts.customers.len(), members)
        });
        Slice {
            filters: self.filters,
            customers,
        }
    }
}

impl From<SegmentRuleError> for ServiceError {
    fn from(err: SegmentRuleError) -> Self {
        match err {
            SegmentRuleError::NameLength => ServiceError::invalid(
                "name",
                "`name` must be 1 to 64 characters (leading and trailing spaces are trimmed).",
            ),
            SegmentRuleError::NameReserved => ServiceError::invalid(
                "name",
                "`name` may not be an RFM segment's (champions, loyal, at_risk, cant_lose, hibernating, new).",
            ),
            SegmentRuleError::NoFilter => {
                ServiceError::invalid("filters", "`filters` must hold at least one filter.")
            }
            SegmentRuleError::ValueLength => {
                ServiceError::invalid("filters", "Each filter value must be 1 to 200 characters.")
            }
            SegmentRuleError::Filter(_) => ServiceError::BadRequest(BadRequest::UnknownDimension),
        }
    }
}

impl Analytics {
    /// The tenant's custom segments, oldest first.
    pub async fn custom_segments(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<CustomSegment>, ServiceError> {
        Ok(self.repos.custom_segments.all(tenant).await?.record)
    }

    /// One of the tenant's segments (`NotFound` for any other id).
    pub async fn custom_segment(
        &self,
        tenant: &TenantId,
        id: &SegmentId,
    ) -> Result<CustomSegment, ServiceError> {
        self.custom_segments(tenant)
            .await?
            .into_iter()
            .find(|s| &s.id == id)
            .ok_or(ServiceError::NotFound)
    }

    /// Saves a new segment (at most [`MAX_SEGMENTS`], its name not another's).
    pub async fn create_custom_segment(
        &self,
        ctx: &TenantCtx,
        name: &str,
        filters: &BTreeMap<String, String>,
    ) -> Result<CustomSegment, ServiceError> {
        let definition = SegmentDefinition::parse(name, filters)?;
        let now = self.now();
        let segment = CustomSegment {
            id: SegmentId::generate(),
            name: definition.name,
            filters: definition.filters,
            created_at: now,
            updated_at: now,
        };
        self.write_segments(ctx.tenant(), |list| {
            if list.len() >= MAX_SEGMENTS {
                return Err(ServiceError::Conflict(Conflict::SegmentLimitReached));
            }
            name_free(list, &segment.name, None)?;
            list.push(segment.clone());
            Ok(())
        })
        .await?;
        Ok(segment)
    }

    /// Replaces a segment's name and filters.
    pub async fn replace_custom_segment(
        &self,
        ctx: &TenantCtx,
        id: &SegmentId,
        name: &str,
        filters: &BTreeMap<String, String>,
    ) -> Result<CustomSegment, ServiceError> {
        let definition = SegmentDefinition::parse(name, filters)?;
        let now = self.now();
        let mut replaced = None;
        self.write_segments(ctx.tenant(), |list| {
            name_free(list, &definition.name, Some(id))?;
            let segment = list
                .iter_mut()
                .find(|s| &s.id == id)
                .ok_or(ServiceError::NotFound)?;
            segment.name = definition.name.clone();
            segment.filters = definition.filters.clone();
            segment.updated_at = now;
            replaced = Some(segment.clone());
            Ok(())
        })
        .await?;
        replaced.ok_or(ServiceError::NotFound)
    }

    /// Deletes a segment.
    pub async fn delete_custom_segment(
        &self,
        ctx: &TenantCtx,
        id: &SegmentId,
    ) -> Result<(), ServiceError> {
        self.write_segments(ctx.tenant(), |list| {
            let before = list.len();
            list.retain(|s| &s.id != id);
            if list.len() == before {
                return Err(ServiceError::NotFound);
            }
            Ok(())
        })
        .await
    }

    /// Reads the list, applies `change` and writes it back if no other write came in
    /// between; tries again a few times if one did.
    async fn write_segments(
        &self,
        tenant: &TenantId,
        mut change: impl FnMut(&mut Vec<CustomSegment>) -> Result<(), ServiceError>,
    ) -> Result<(), ServiceError> {
        for _ in 0..WRITE_ATTEMPTS {
            let stored = self.repos.custom_segments.all(tenant).await?;
            let mut list = stored.record;
            change(&mut list)?;
            match self
                .repos
                .custom_segments
                .replace(tenant, list, stored.version)
                .await
            {
                Ok(()) => return Ok(()),
                Err(err) if err.is_conflict() => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(ServiceError::Conflict(Conflict::ConcurrentUpdate))
    }

    /// The slice a request asks about: its filters ANDed with the segment's, checked
    /// against the role (with `group_by`). See the module's comment.
    pub async fn slice(
        &self,
        ctx: &TenantCtx,
        segment: Option<&SegmentRef>,
        mut filters: Vec<Filter>,
        group_by: Option<Dimension>,
    ) -> Result<SegmentSlice, ServiceError> {
        let rfm = match segment {
            None => None,
            Some(SegmentRef::Rfm(rfm)) => Some(*rfm),
            Some(SegmentRef::Custom(id)) => {
                let segment = self.custom_segment(ctx.tenant(), id).await?;
                filters.extend(segment.filters);
                None
            }
        };
        check_dimensions(ctx.role(), &filters, group_by)?;
        Ok(SegmentSlice { filters, rfm })
    }

    /// What to suppress in `role`'s reply about the slice (k-anonymity over the
    /// customers the filters and the segment's mask hold).
    pub async fn slice_suppression(
        &self,
        tenant: &TenantId,
        role: Role,
        facts: &Facts,
        slice: &Slice,
        group_by: Option<Dimension>,
    ) -> Result<Suppression, ServiceError> {
        self.suppression_with(tenant, role, || {
            crate::domain::metrics::slice_coverage(facts, slice, group_by)
        })
        .await
    }
}

/// Refuses `name` if another segment than `except` has it.
fn name_free(
    list: &[CustomSegment],
    name: &str,
    except: Option<&SegmentId>,
) -> Result<(), ServiceError> {
    let taken = list
        .iter()
        .any(|s| Some(&s.id) != except && same_name(&s.name, name));
    if taken {
        return Err(ServiceError::Conflict(Conflict::SegmentNameTaken));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_reference_is_an_rfm_name_or_a_canonical_id() {
        assert_eq!(
            SegmentRef::parse("at_risk"),
            Some(SegmentRef::Rfm(RfmSegment::AtRisk))
        );
        let id = SegmentId::generate();
        assert_eq!(SegmentRef::parse(id.as_str()), Some(SegmentRef::Custom(id)));
        assert_eq!(SegmentRef::parse("At_Risk"), None);
        assert_eq!(SegmentRef::parse("vip"), None);
    }
}
