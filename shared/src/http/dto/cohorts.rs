//! The body of `/v1/metrics/cohorts` (the forecast's is in `forecast`).
//!
//! Money is integer minor units of the reply's `currency`; ratios are numbers, null
//! when their base is empty. A viewer's reply leaves out what k-anonymity hides
//! (`services::analytics_query::Suppression`): the whole slice, a group, or a cohort
//! of fewer than k customers.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::metrics::Unconverted;
use crate::domain::metrics::{Cohort, CohortInterval, CohortPeriod, CohortTable, UnconvertedMinor};
use crate::services::analytics_query::Suppression;

pub(super) fn unconverted(list: &[crate::domain::metrics::Unconverted]) -> Vec<Unconverted> {
    UnconvertedMinor::of_mrr(list)
        .into_iter()
        .map(Unconverted::from)
        .collect()
}

/// The cohort at the end of its `offset`-th period.
#[derive(Serialize, ToSchema)]
pub struct CohortCell {
    pub offset: usize,
    pub period_start: NaiveDate,
    /// Inclusive; the query's `to` for a partial last period.
    pub period_end: NaiveDate,
    /// Members paying at `period_end`.
    pub customers: u64,
    /// The members' MRR at `period_end`, minor units.
    pub mrr: i64,
    /// `customers` ÷ cohort size.
    #[schema(required = true)]
    pub logo_retention: Option<f64>,
    /// `mrr` ÷ the cohort's `start_mrr` (expansion included).
    #[schema(required = true)]
    pub revenue_retention: Option<f64>,
}

impl From<&CohortPeriod> for CohortCell {
    fn from(p: &CohortPeriod) -> Self {
        Self {
            offset: p.offset,
            period_start: p.period_start,
            period_end: p.period_end,
            customers: p.customers,
            mrr: p.mrr.to_minor(),
            logo_retention: p.logo_retention,
            revenue_retention: p.revenue_retention,
        }
    }
}

/// The customers who first paid in one period, and what each later period kept.
#[derive(Serialize, ToSchema)]
pub struct CohortRow {
    /// `2025-01` (month) or `2025-Q1` (quarter).
    pub cohort: String,
    pub period_start: NaiveDate,
    /// Cohort size.
    pub customers: u64,
    /// MRR at the end of the cohort's first period, minor units.
    pub start_mrr: i64,
    pub periods: Vec<CohortCell>,
    /// Viewers only: fewer than the tenant's `min_group_size` customers; no figure.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(required = false)]
    pub suppressed: bool,
}

impl CohortRow {
    fn new(c: &Cohort, suppression: &Suppression) -> Self {
        if suppression.hides_count(c.customers) {
            return Self {
                cohort: c.cohort.clone(),
                period_start: c.period_start,
                customers: 0,
                start_mrr: 0,
                periods: Vec::new(),
                suppressed: true,
            };
        }
        Self {
            cohort: c.cohort.clone(),
            period_start: c.period_start,
            customers: c.customers,
            start_mrr: c.start_mrr.to_minor(),
            periods: c.periods.iter().map(CohortCell::from).collect(),
            suppressed: false,
        }
    }
}

fn rows(cohorts: &[Cohort], suppression: &Suppression) -> Vec<CohortRow> {
    cohorts
        .iter()
        .map(|c| CohortRow::new(c, suppression))
        .collect()
}

#[derive(Serialize, ToSchema)]
pub struct CohortGroupRows {
    pub key: String,
    pub cohorts: Vec<CohortRow>,
    /// Viewers only: the group covers fewer customers than the tenant's
    /// `min_group_size`; its cohorts are left out.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(required = false)]
    pub suppressed: bool,
}

/// Cohort triangles; with `group_by`, also one per value.
#[derive(Serialize, ToSchema)]
pub struct CohortTriangle {
    pub interval: CohortInterval,
    pub currency: String,
    /// The name of the definition (`cohorts` in the definitions).
    pub definition: String,
    pub cohorts: Vec<CohortRow>,
    /// With `group_by` only; sorted by key.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub groups: Option<Vec<CohortGroupRows>>,
    pub unconverted: Vec<Unconverted>,
    pub data_as_of: DateTime<Utc>,
    /// Viewers only: the filters cover fewer customers than the tenant's
    /// `min_group_size`; no figure is given.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(required = false)]
    pub suppressed: bool,
}

impl CohortTriangle {
    pub fn new(
        table: CohortTable,
        definition: &str,
        data_as_of: DateTime<Utc>,
        suppression: &Suppression,
    ) -> Self {
        let mut reply = Self {
            interval: table.interval,
            currency: table.currency,
            definition: definition.to_owned(),
            cohorts: rows(&table.cohorts, suppression),
            groups: table.groups.map(|groups| {
                groups
                    .iter()
                    .map(|g| {
                        let hidden = suppression.hides_group(&g.key);
                        CohortGroupRows {
                            key: g.key.clone(),
                            cohorts: if hidden {
                                Vec::new()
                            } else {
                                rows(&g.cohorts, suppression)
                            },
                            suppressed: hidden,
                        }
                    })
                    .collect()
            }),
            unconverted: unconverted(&table.unconverted),
            data_as_of,
            suppressed: false,
        };
        if suppression.all {
            reply.cohorts.clear();
            reply.unconverted.clear();
            reply.suppressed = true;
        }
        reply
    }
}
