//! Dimensions for `filter[<dimension>]=<value>` and `group_by=<dimension>`.
//!
//! Most dimensions describe a customer ([`CustomerDims`]: where they are, how they pay,
//! which integration they came from). `currency` belongs to each (customer, currency)
//! unit and `plan` to each slice of a customer's MRR, so those two are resolved by the
//! engine from the MRR facts themselves.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::MetricsError;
use super::facts::Facts;

/// The group key of a missing value (a customer without a country...). Filtering on it
/// selects exactly those customers.
pub const UNKNOWN_KEY: &str = "unknown";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum Dimension {
    Country,
    City,
    CardBrand,
    CardFunding,
    PaymentMethod,
    Plan,
    Currency,
    Integration,
}

impl Dimension {
    pub const ALL: [Dimension; 8] = [
        Dimension::Country,
        Dimension::City,
        Dimension::CardBrand,
        Dimension::CardFunding,
        Dimension::PaymentMethod,
        Dimension::Plan,
        Dimension::Currency,
        Dimension::Integration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Country => "country",
            Dimension::City => "city",
            Dimension::CardBrand => "card_brand",
            Dimension::CardFunding => "card_funding",
            Dimension::PaymentMethod => "payment_method",
            Dimension::Plan => "plan",
            Dimension::Currency => "currency",
            Dimension::Integration => "integration",
        }
    }

    /// True for the dimensions that describe a whole customer.
    pub fn is_customer_level(self) -> bool {
        !matches!(self, Dimension::Plan | Dimension::Currency)
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Dimension {
    type Err = MetricsError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Dimension::ALL
            .into_iter()
            .find(|dimension| dimension.as_str() == text)
            .ok_or_else(|| MetricsError::UnknownDimension(text.to_owned()))
    }
}

/// What the engine knows about a customer for slicing: no personal data beyond city and
/// country. Card facts come from the customer's default payment method, else their
/// latest subscription's default payment method, else their latest charge.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerDims {
    /// ISO 3166-1 alpha-2, upper-case.
    pub country: Option<String>,
    pub city: Option<String>,
    /// Lower-case: visa, mastercard...
    pub card_brand: Option<String>,
    /// credit, debit, prepaid, unknown.
    pub card_funding: Option<String>,
    /// The payment method type: card, sepa_debit...
    pub payment_method: Option<String>,
    /// The integration the customer was synced from.
    pub integration: Option<String>,
}

impl CustomerDims {
    /// The customer's value of a customer-level dimension (`None` for plan and currency,
    /// and for a missing value).
    pub fn get(&self, dimension: Dimension) -> Option<&str> {
        match dimension {
            Dimension::Country => self.country.as_deref(),
            Dimension::City => self.city.as_deref(),
            Dimension::CardBrand => self.card_brand.as_deref(),
            Dimension::CardFunding => self.card_funding.as_deref(),
            Dimension::PaymentMethod => self.payment_method.as_deref(),
            Dimension::Integration => self.integration.as_deref(),
            Dimension::Plan | Dimension::Currency => None,
        }
    }

    /// The group key for a customer-level dimension: the value, or [`UNKNOWN_KEY`].
    pub fn key(&self, dimension: Dimension) -> &str {
        self.get(dimension).unwrap_or(UNKNOWN_KEY)
    }
}

/// One `filter[dimension]=value`. Several filters are ANDed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub dimension: Dimension,
    pub value: String,
}

impl Filter {
    /// Parses a dimension name and value (an unknown name is a typed error → 400).
    pub fn parse(dimension: &str, value: &str) -> Result<Filter, MetricsError> {
        Ok(Filter {
            dimension: dimension.parse()?,
            value: value.to_owned(),
        })
    }

    /// Whether a key matches (case-insensitive: `US` and `us`, `Visa` and `visa`).
    pub fn matches(&self, key: &str) -> bool {
        key.eq_ignore_ascii_case(&self.value)
    }
}

/// Whether a customer passes every customer-level filter.
pub fn customer_passes(dims: &CustomerDims, filters: &[Filter]) -> bool {
    filters
        .iter()
        .filter(|filter| filter.dimension.is_customer_level())
        .all(|filter| filter.matches(dims.key(filter.dimension)))
}

/// Whether a key of `dimension` passes the filters on that dimension.
pub fn key_passes(dimension: Dimension, key: &str, filters: &[Filter]) -> bool {
    filters
        .iter()
        .filter(|filter| filter.dimension == dimension)
        .all(|filter| filter.matches(key))
}

/// Every value of every dimension present in the facts (`GET /v1/dimensions`), sorted.
pub fn dimension_values(facts: &Facts) -> BTreeMap<Dimension, Vec<String>> {
    let mut values: BTreeMap<Dimension, BTreeSet<String>> = BTreeMap::new();
    for customer in &facts.customers {
        for dimension in Dimension::ALL.into_iter().filter(|d| d.is_customer_level()) {
            if let Some(value) = customer.dims.get(dimension) {
                values
                    .entry(dimension)
                    .or_default()
                    .insert(value.to_owned());
            }
        }
    }
    values
        .entry(Dimension::Plan)
        .or_default()
        .extend(facts.plans.iter().cloned());
    values
        .entry(Dimension::Currency)
        .or_default()
        .extend(facts.currencies.iter().cloned());
    values
        .into_iter()
        .map(|(dimension, set)| (dimension, set.into_iter().collect()))
        .collect()
}
