//! Custom segments on the wire (`/v1/segments/custom`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::ids::SegmentId;
use crate::domain::metrics::Dimension;
use crate::domain::roles::Role;
use crate::domain::segments::{CustomSegment as CustomSegmentRecord, MAX_VALUE_CHARS};
use crate::http::analytics_params::FilterSchema;
use crate::services::analytics_query::dimension_visible;

/// A segment's name and filters, as created or replaced.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomSegmentRequest {
    /// 1 to 64 characters once trimmed, no control character; unique in the tenant
    /// regardless of case; not an RFM segment's name.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$",
        examples("EU card payers")
    )]
    pub name: String,
    #[schema(schema_with = filters_schema)]
    pub filters: BTreeMap<String, String>,
}

/// `{<dimension>: value}` as a request gives it: at least one known dimension, each
/// value 1 to 200 characters (what `SegmentDefinition::parse` accepts).
fn filters_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let value = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(MAX_VALUE_CHARS))
    };
    let object = Dimension::ALL
        .into_iter()
        .fold(ObjectBuilder::new(), |object, dimension| {
            object.property(dimension.as_str(), value())
        });
    object
        .schema_type(Type::Object)
        .description(Some(
            "`{<dimension>: value}`, at least one, ANDed and compared case-insensitively as \
             `filter[<dimension>]=value` is; an unknown dimension is `unknown_dimension`.",
        ))
        .min_properties(Some(1))
        .additional_properties(Some(
            utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
        ))
        .examples([serde_json::json!({ "country": "DE", "card_brand": "visa" })])
        .build()
}

#[derive(Serialize, ToSchema)]
pub struct CustomSegment {
    pub id: SegmentId,
    pub name: String,
    #[schema(value_type = FilterSchema)]
    pub filters: BTreeMap<String, String>,
    /// Viewers only: the segment also filters on a dimension the role may not see
    /// (`city`); those filters are left out here, and using the segment is refused (403).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(required = false)]
    pub restricted: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CustomSegment {
    /// The segment as `role` may see it: filters on a dimension it may not see (a
    /// viewer's `city`, whose values `/v1/dimensions` does not give it) are left out.
    pub fn seen_by(segment: CustomSegmentRecord, role: Role) -> Self {
        let mut restricted = false;
        let filters = segment
            .filters
            .into_iter()
            .filter(|f| {
                let visible = dimension_visible(role, f.dimension);
                restricted |= !visible;
                visible
            })
            .map(|f| (f.dimension.as_str().to_owned(), f.value))
            .collect();
        Self {
            id: segment.id,
            name: segment.name,
            filters,
            restricted,
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
