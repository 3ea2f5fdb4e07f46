//! What an analytics request may ask for and in which currency it is answered: the
//! rules the `query` function's routes apply before they read a snapshot.
//!
//! - A viewer gets aggregates only, and not the `city` dimension (a city with few
//!   customers points at people): [`dimension_visible`] is the one place that says so.
//! - `currency=` is a [`Currency`], checked once by [`iso_currency`]; a query is answered
//!   in it or in the tenant's reporting currency, every currency converted.
//! - Stored exchange rates are keyed by lower-case codes, whatever case they came in.

use std::fmt;

use crate::domain::ids::TenantId;
use crate::domain::metrics::{Dimension, Filter, FxRates};
use crate::domain::roles::{Access, Role};
use crate::services::contexts::Analytics;
use crate::services::currency::iso_currency;
use crate::services::error::ServiceError;
use crate::services::records::DEFAULT_MIN_GROUP_SIZE;

/// A currency a request names: a lower-case three-letter ISO 4217 code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Currency(String);

impl Currency {
    /// Any case is accepted and lower-cased; `None` for anything but three letters.
    pub fn parse(text: &str) -> Option<Self> {
        iso_currency(text).map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `role` may see `dimension`, as a filter, a grouping or a list of values.
pub fn dimension_visible(role: Role, dimension: Dimension) -> bool {
    dimension != Dimension::City || role.allows(Access::CustomerData)
}

/// Refuses a query that filters or groups by a dimension the role may not see.
pub fn check_dimensions(
    role: Role,
    filters: &[Filter],
    group_by: Option<Dimension>,
) -> Result<(), ServiceError> {
    let asked = filters.iter().map(|f| f.dimension).chain(group_by);
    for dimension in asked {
        if !dimension_visible(role, dimension) {
            return Err(ServiceError::Forbidden);
        }
    }
    Ok(())
}

/// What a viewer's reply leaves out: k-anonymity. A filter, or a group, covering fewer
/// than the tenant's `min_group_size` customers (k, 5 by default) would single out a
/// customer through aggregates, whatever the dimension; its figures are suppressed
/// (`"suppressed": true`). Admins and analysts, who may read customers anyway, get
/// everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Suppression {
    /// The whole slice (the filters) covers fewer than k customers.
    pub all: bool,
    /// The group keys that cover fewer than k customers.
    pub groups: std::collections::BTreeSet<String>,
    /// k; 0 when nothing is suppressed for this role.
    pub k: usize,
}

impl Suppression {
    pub fn hides_group(&self, key: &str) -> bool {
        self.all || self.groups.contains(key)
    }
    /// Whether a group of `customers` customers (a segment) is suppressed.
    pub fn hides_count(&self, customers: u64) -> bool {
        u64::try_from(self.k).unwrap_or(u64::MAX) > customers
    }
}

impl Analytics {
    /// What to suppress in `role`'s reply about the slice.
    pub async fn suppression(
        &self,
        ctx_tenant: &TenantId,
        role: Role,
        facts: &crate::domain::metrics::Facts,
        filters: &[Filter],
        group_by: Option<Dimension>,
    ) -> Result<Suppression, ServiceError> {
        self.suppression_with(ctx_tenant, role, || {
            crate::domain::metrics::coverage(facts, filters, group_by)
        })
        .await
    }

    /// The same with the slice's coverage computed by `covered` (only for viewers).
    pub(crate) async fn suppression_with(
        &self,
        ctx_tenant: &TenantId,
        role: Role,
        covered: impl FnOnce() -> crate::domain::metrics::Coverage,
    ) -> Result<Suppression, ServiceError> {
        if role.allows(Access::CustomerData) {
            return Ok(Suppression::default());
        }
        let k = self
            .repos
            .tenants
            .get(ctx_tenant)
            .await?
            .map_or(DEFAULT_MIN_GROUP_SIZE, |t| t.record.policy.min_group_size);
        let k = usize::try_from(k).unwrap_or(usize::MAX);
        let covered = covered();
        Ok(Suppression {
            k,
            all: covered.total < k,
            groups: covered
                .groups
                .into_iter()
                .filter(|(_, customers)| *customers < k)
                .map(|(key, _)| key)
                .collect(),
        })
    }
}

/// The rates as they are stored: every code lower-case.
pub fn normalized_rates(rates: FxRates) -> FxRates {
    FxRates {
        base: rates.base.to_ascii_lowercase(),
        rates: rates
            .rates
            .into_iter()
            .map(|(code, rate)| (code.to_ascii_lowercase(), rate))
            .collect(),
    }
}

/// The tenant's reporting currency as `GET /v1/settings/reporting-currency` tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportingCurrencyView {
    /// The admin's choice, else the snapshot's (the currency with the largest MRR);
    /// `None` before a first sync when nothing was chosen.
    pub currency: Option<String>,
    /// Whether an admin chose it.
    pub chosen: bool,
}

/// Where converted figures take their rates, as the replies say it.
pub const RATES_SOURCE: &str = "ECB euro reference rates of each movement's day; the tenant's stored rates (/v1/settings/fx-rates) for currencies the ECB does not publish";

impl Analytics {
    /// The reporting currency in effect, and whether an admin chose it.
    pub async fn reporting_currency(
        &self,
        tenant: &TenantId,
    ) -> Result<ReportingCurrencyView, ServiceError> {
        let chosen = self.chosen_reporting_currency(tenant).await?;
        let currency = match &chosen {
            Some(code) => Some(code.clone()),
            None => self
                .snapshot(tenant)
                .await?
                .map(|snapshot| snapshot.reporting_currency.clone()),
        };
        Ok(ReportingCurrencyView {
            currency,
            chosen: chosen.is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_three_letters_in_any_case_stored_lower() {
        assert_eq!(
            Currency::parse("EUR").map(|c| c.to_string()),
            Some("eur".into())
        );
        for bad in ["", "eu", "euro", "e1r", "€ur"] {
            assert_eq!(Currency::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn viewers_may_not_slice_by_city_and_everyone_else_may() {
        let city = Filter::parse("city", "Berlin").unwrap();
        let plan = Filter::parse("plan", "pro").unwrap();
        assert!(check_dimensions(Role::Viewer, std::slice::from_ref(&plan), None).is_ok());
        assert!(check_dimensions(Role::Viewer, std::slice::from_ref(&city), None).is_err());
        assert!(check_dimensions(Role::Viewer, &[], Some(Dimension::City)).is_err());
        assert!(check_dimensions(Role::Analyst, &[city], Some(Dimension::City)).is_ok());
        assert!(dimension_visible(Role::Viewer, Dimension::Country));
    }

    #[test]
    fn stored_rates_are_keyed_lower_case() {
        let rates = FxRates {
            base: "EUR".into(),
            rates: [("USD".to_owned(), 1.08)].into_iter().collect(),
        };
        let stored = normalized_rates(rates);
        assert_eq!(stored.base, "eur");
        assert_eq!(stored.rates.get("usd"), Some(&1.08));
    }
}
