//! Custom segments on the wire (`/v1/segments/custom`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::ids::SegmentId;
use crate::domain::segments::CustomSegment as CustomSegmentRecord;
use crate::http::analytics_params::FilterSchema;

/// A segment's name and filters, as created or replaced.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomSegmentRequest {
    /// 1 to 64 characters once trimmed; unique in the tenant regardless of case; not an
    /// RFM segment's name.
    #[schema(min_length = 1, max_length = 64, examples("EU card payers"))]
    pub name: String,
    /// `{<dimension>: value}`, at least one, ANDed and compared case-insensitively as
    /// `filter[<dimension>]=value` is; each value 1 to 200 characters.
    #[schema(value_type = FilterSchema)]
    pub filters: BTreeMap<String, String>,
}

#[derive(Serialize, ToSchema)]
pub struct CustomSegment {
    pub id: SegmentId,
    pub name: String,
    #[schema(value_type = FilterSchema)]
    pub filters: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<CustomSegmentRecord> for CustomSegment {
    fn from(segment: CustomSegmentRecord) -> Self {
        Self {
            id: segment.id,
            name: segment.name,
            filters: segment
                .filters
                .into_iter()
                .map(|f| (f.dimension.as_str().to_owned(), f.value))
                .collect(),
            created_at: segment.created_at,
            updated_at: segment.updated_at,
        }
    }
}

/// The tenant's custom segments, oldest first (at most 100).
#[derive(Serialize, ToSchema)]
pub struct CustomSegmentList {
    pub segments: Vec<CustomSegment>,
}
