//! Custom segments: a tenant's named sets of dimension filters, usable as `segment=`
//! wherever `filter[...]` is (docs/api.md, "Custom segments"). The rules of a segment
//! are here, pure; the service stores them and resolves a `segment=` into a slice.
//!
//! - A name is 1..=64 characters once trimmed, unique in the tenant regardless of case,
//!   and never the name of an RFM segment (`segment=loyal` must keep meaning RFM).
//! - Filters are one value per dimension, parsed exactly as `filter[<dimension>]`
//!   (an unknown dimension is `unknown_dimension`), at least one, each value at most
//!   [`MAX_VALUE_CHARS`] characters.
//! - A tenant keeps at most [`MAX_SEGMENTS`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::SegmentId;
use crate::domain::metrics::{Filter, MetricsError, RfmSegment};

/// How many custom segments a tenant may keep.
pub const MAX_SEGMENTS: usize = 100;
/// The longest name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// The longest filter value, in characters.
pub const MAX_VALUE_CHARS: usize = 200;

/// One stored custom segment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomSegment {
    pub id: SegmentId,
    pub name: String,
    /// Sorted by dimension, one per dimension.
    pub filters: Vec<Filter>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a segment's definition can get wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentRuleError {
    #[error("the name must be 1 to 64 characters")]
    NameLength,
    #[error("the name is an RFM segment's")]
    NameReserved,
    #[error("at least one filter is required")]
    NoFilter,
    #[error("a filter value must be 1 to 200 characters")]
    ValueLength,
    #[error(transparent)]
    Filter(#[from] MetricsError),
}

/// A name and filters as a request gives them, checked: the trimmed name and the
/// parsed filters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentDefinition {
    pub name: String,
    pub filters: Vec<Filter>,
}

impl SegmentDefinition {
    pub fn parse(name: &str, filters: &BTreeMap<String, String>) -> Result<Self, SegmentRuleError> {
        let name = name.trim();
        let length = name.chars().count();
        if length == 0 || length > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(SegmentRuleError::NameLength);
        }
        if RfmSegment::ALL
            .iter()
            .any(|rfm| rfm.as_str().eq_ignore_ascii_case(name))
        {
            return Err(SegmentRuleError::NameReserved);
        }
        if filters.is_empty() {
            return Err(SegmentRuleError::NoFilter);
        }
        let mut parsed = Vec::with_capacity(filters.len());
        for (dimension, value) in filters {
            let filter = Filter::parse(dimension, value)?;
            let chars = value.chars().count();
            if chars == 0 || chars > MAX_VALUE_CHARS {
                return Err(SegmentRuleError::ValueLength);
            }
            parsed.push(filter);
        }
        parsed.sort_by_key(|f| f.dimension);
        Ok(Self {
            name: name.to_owned(),
            filters: parsed,
        })
    }
}

/// Whether two names are the same name (case-insensitive, Unicode lower case).
pub fn same_name(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_definition_is_a_trimmed_name_and_its_filters_by_dimension() {
        let parsed = SegmentDefinition::parse(
            "  EU cards ",
            &filters(&[("plan", "pro"), ("country", "DE")]),
        )
        .unwrap();
        assert_eq!(parsed.name, "EU cards");
        let dims: Vec<&str> = parsed
            .filters
            .iter()
            .map(|f| f.dimension.as_str())
            .collect();
        assert_eq!(dims, ["country", "plan"]);
    }

    #[test]
    fn names_are_1_to_64_characters_and_never_an_rfm_segment() {
        let one = filters(&[("country", "DE")]);
        assert_eq!(
            SegmentDefinition::parse(" ", &one),
            Err(SegmentRuleError::NameLength)
        );
        assert!(SegmentDefinition::parse(&"é".repeat(64), &one).is_ok());
        assert_eq!(
            SegmentDefinition::parse(&"é".repeat(65), &one),
            Err(SegmentRuleError::NameLength)
        );
        assert_eq!(
            SegmentDefinition::parse("At_Risk", &one),
            Err(SegmentRuleError::NameReserved)
        );
        assert!(same_name("Ärzte", "äRZTE"));
    }

    #[test]
    fn filters_are_required_known_and_bounded() {
        assert_eq!(
            SegmentDefinition::parse("x", &filters(&[])),
            Err(SegmentRuleError::NoFilter)
        );
        assert!(matches!(
            SegmentDefinition::parse("x", &filters(&[("colour", "red")])),
            Err(SegmentRuleError::Filter(MetricsError::UnknownDimension(_)))
        ));
        assert_eq!(
            SegmentDefinition::parse("x", &filters(&[("city", "")])),
            Err(SegmentRuleError::ValueLength)
        );
    }
}
