//! The bodies of the `query` function's other aggregate routes: the dimensions'
//! values, exchange rates and the reporting currency, segments (money in minor units).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::metrics::{Dimension, FxRates as FxRatesRecord, RfmSegment, SegmentSummary};

/// Each dimension present in the data with its values, sorted. Viewers do not get `city`.
#[derive(Default, Serialize, ToSchema)]
pub struct DimensionValues {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub country: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub city: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub card_brand: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub card_funding: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub payment_method: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub plan: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub currency: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub integration: Option<Vec<String>>,
}

impl FromIterator<(Dimension, Vec<String>)> for DimensionValues {
    fn from_iter<I: IntoIterator<Item = (Dimension, Vec<String>)>>(iter: I) -> Self {
        let mut out = Self::default();
        for (dimension, values) in iter {
            let slot = match dimension {
                Dimension::Country => &mut out.country,
                Dimension::City => &mut out.city,
                Dimension::CardBrand => &mut out.card_brand,
                Dimension::CardFunding => &mut out.card_funding,
                Dimension::PaymentMethod => &mut out.payment_method,
                Dimension::Plan => &mut out.plan,
                Dimension::Currency => &mut out.currency,
                Dimension::Integration => &mut out.integration,
            };
            *slot = Some(values);
        }
        out
    }
}

/// The tenant's exchange rates: units of each currency per one unit of `base`.
#[derive(Deserialize, Serialize, ToSchema)]
pub struct FxRates {
    #[schema(examples("eur"))]
    pub base: String,
    /// Units of each currency per one unit of `base`.
    #[schema(schema_with = rates_schema)]
    pub rates: BTreeMap<String, f64>,
}

/// Positive rates up to 10⁹ (what `FxRates::validate` accepts), keyed by currency.
fn rates_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
    let rate = ObjectBuilder::new()
        .schema_type(Type::Number)
        .exclusive_minimum(Some(0))
        .maximum(Some(1_000_000_000));
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("Units of each currency per one unit of `base`."))
        .additional_properties(Some(AdditionalProperties::RefOr(rate.into())))
        .examples([serde_json::Value::Object(serde_json::Map::from_iter([(
            "usd".to_owned(),
            serde_json::Value::from(1.08),
        )]))])
        .build()
}

impl From<FxRates> for FxRatesRecord {
    fn from(rates: FxRates) -> Self {
        Self {
            base: rates.base,
            rates: rates.rates,
        }
    }
}

impl From<FxRatesRecord> for FxRates {
    fn from(rates: FxRatesRecord) -> Self {
        Self {
            base: rates.base,
            rates: rates.rates,
        }
    }
}

/// The stored rates; `{"base": null, "rates": {}}` until rates are set.
#[derive(Serialize, ToSchema)]
pub struct FxRatesStored {
    #[schema(required = true)]
    pub base: Option<String>,
    pub rates: BTreeMap<String, f64>,
}

impl From<Option<FxRatesRecord>> for FxRatesStored {
    fn from(rates: Option<FxRatesRecord>) -> Self {
        match rates {
            Some(r) => Self {
                base: Some(r.base),
                rates: r.rates,
            },
            None => Self {
                base: None,
                rates: BTreeMap::new(),
            },
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ReportingCurrency {
    /// The reporting currency (`null` before a first sync when none was chosen).
    #[schema(required = true)]
    pub currency: Option<String>,
    /// Set by an admin; otherwise the currency with the largest MRR.
    pub chosen: bool,
    /// Where converted figures take their exchange rates.
    pub rates: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ReportingCurrencyRequest {
    #[schema(pattern = "^[A-Za-z]{3}$")]
    pub currency: String,
}

#[derive(Serialize, ToSchema)]
pub struct SegmentEntry {
    pub name: RfmSegment,
    pub customers: u64,
    /// Minor units of the reply's `currency`.
    pub mrr: i64,
    /// Viewers only: the segment has fewer customers than the tenant's
    /// `min_group_size`; `customers` and `mrr` are 0.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(required = false)]
    pub suppressed: bool,
}

impl SegmentEntry {
    /// Leaves out what `suppression` says a viewer may not see.
    pub fn suppressed(
        mut self,
        suppression: &crate::services::analytics_query::Suppression,
    ) -> Self {
        if self.customers > 0 && suppression.hides_count(self.customers) {
            (self.customers, self.mrr, self.suppressed) = (0, 0, true);
        }
        self
    }
}

impl From<&SegmentSummary> for SegmentEntry {
    fn from(s: &SegmentSummary) -> Self {
        Self {
            name: s.name,
            customers: s.customers,
            mrr: s.mrr.to_minor(),
            suppressed: false,
        }
    }
}

/// RFM segments with their customers and MRR.
#[derive(Serialize, ToSchema)]
pub struct SegmentList {
    pub segments: Vec<SegmentEntry>,
    /// The reporting currency the MRR is in.
    pub currency: String,
}
