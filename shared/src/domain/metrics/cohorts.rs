//! Cohorts: customers grouped by the period (month or quarter) in which they first paid,
//! and how many of them, and how much of their MRR, each later period keeps.
//!
//! **A customer's cohort** is the period of the first day its MRR in the selection
//! becomes positive. Under subscription billing in Stripe, MRR starts with the first
//! paid invoice, so this is the period of the first payment: a trial that never paid
//! puts nobody in a cohort. Customers who first paid before the range belong to earlier
//! cohorts and are left out of every cohort of the range.
//!
//! For each cohort and each offset k = 0, 1, … up to the range's end: the customers
//! paying (MRR > 0) at the end of period k, and the cohort's MRR then (each change
//! converted on its own day, exactly as in [`super::mrr_series`], or in its own
//! currency). `logo_retention` = paying ÷ cohort size; `revenue_retention` = MRR at the
//! end of period k ÷ MRR at the end of the cohort's first period (expansion included, so
//! it can exceed 1; null when the first period ends at 0). A customer who churns and
//! comes back counts as paying again from its return.
//!
//! By plan or currency (`group_by`), the unit is a customer's MRR in that plan or
//! currency: its cohort is the first period it paid in that plan or currency. Customer
//! dimensions group whole customers. The work is one pass over the MRR changes, as the
//! series' walk.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::MetricsError;
use super::calendar::{Periods, SeriesInterval, civil, date_of_day, day_of_date};
use super::cohort_walk::{Pass, Triangle};
use super::dimensions::{Dimension, Filter};
use super::facts::Facts;
use super::money::Mrr;
use super::series::{CurrencyMode, Selection, SeriesQuery, Unconverted, unconverted_mrr};

/// A cohort's period length (`interval=month|quarter`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum CohortInterval {
    #[default]
    Month,
    Quarter,
}

impl CohortInterval {
    /// `None` for anything but `month` or `quarter`.
    pub fn parse(text: &str) -> Option<CohortInterval> {
        match text {
            "month" => Some(CohortInterval::Month),
            "quarter" => Some(CohortInterval::Quarter),
            _ => None,
        }
    }
    fn series(self) -> SeriesInterval {
        match self {
            CohortInterval::Month => SeriesInterval::Month,
            CohortInterval::Quarter => SeriesInterval::Quarter,
        }
    }
    /// `2025-01` or `2025-Q1`.
    fn label(self, start: u32) -> String {
        let (year, month, _) = civil(start);
        match self {
            CohortInterval::Month => format!("{year:04}-{month:02}"),
            CohortInterval::Quarter => format!("{year:04}-Q{}", (month - 1) / 3 + 1),
        }
    }
}

#[derive(Clone, Debug)]
pub struct CohortQuery {
    /// The cohorts are those of the periods from the one containing `from` to the one
    /// containing `to`; offsets run up to `to` (inclusive).
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub interval: CohortInterval,
    pub currency: CurrencyMode,
    pub filters: Vec<Filter>,
    /// Only these customers (a segment's), besides the filters.
    pub customers: Option<super::slice::CustomerMask>,
    pub group_by: Option<Dimension>,
}

/// One cell of the triangle: the cohort at the end of its `offset`-th period.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CohortPeriod {
    pub offset: usize,
    pub period_start: NaiveDate,
    /// Inclusive; the query's `to` for a partial last period.
    pub period_end: NaiveDate,
    /// Cohort members paying at `period_end`.
    pub customers: u64,
    pub mrr: Mrr,
    /// `customers` ÷ cohort size; `None` for an empty cohort.
    pub logo_retention: Option<f64>,
    /// `mrr` ÷ the cohort's MRR at the end of its first period; `None` when that is 0.
    pub revenue_retention: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cohort {
    /// `2025-01` or `2025-Q1`.
    pub cohort: String,
    pub period_start: NaiveDate,
    /// Customers who first paid in the period.
    pub customers: u64,
    /// Their MRR at the end of the period.
    pub start_mrr: Mrr,
    pub periods: Vec<CohortPeriod>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CohortGroup {
    pub key: String,
    pub cohorts: Vec<Cohort>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CohortTable {
    pub interval: CohortInterval,
    pub currency: String,
    pub cohorts: Vec<Cohort>,
    /// With `group_by`: a triangle per key that has any cohort member, sorted by key.
    pub groups: Option<Vec<CohortGroup>>,
    /// Currencies left out for want of a rate, with their native MRR at `to`.
    pub unconverted: Vec<Unconverted>,
}

/// The cohort triangle(s) of the query.
pub fn cohorts(facts: &Facts, query: &CohortQuery) -> Result<CohortTable, MetricsError> {
    let periods = Periods::new(
        day_of_date(query.from),
        day_of_date(query.to),
        query.interval.series(),
    )?;
    let series_query = SeriesQuery {
        from: query.from,
        to: query.to,
        interval: query.interval.series(),
        currency: query.currency.clone(),
        filters: query.filters.clone(),
        customers: query.customers.clone(),
        group_by: query.group_by,
    };
    let selection = Selection::resolve(facts, &series_query)?;
    let mut pass = Pass::new(&periods, &selection, query.group_by);
    for run in facts.changes.chunk_by(|a, b| a.customer == b.customer) {
        let Some(head) = run.first() else { continue };
        if selection.customer_ok.get(head.customer as usize) == Some(&true) {
            pass.customer(run);
        }
    }
    let present = |t: &Triangle| present(t, &periods, query.interval);
    let groups = query.group_by.map(|_| {
        let mut groups: Vec<CohortGroup> = selection
            .group_keys
            .iter()
            .zip(&pass.groups)
            .filter(|(_, t)| t.sizes.iter().any(|s| *s > 0))
            .map(|(key, t)| CohortGroup {
                key: key.clone(),
                cohorts: present(t),
            })
            .collect();
        groups.sort_by(|a, b| a.key.cmp(&b.key));
        groups
    });
    Ok(CohortTable {
        interval: query.interval,
        currency: query.currency.code(),
        cohorts: present(&pass.total),
        groups,
        unconverted: unconverted_mrr(facts, &selection, periods.last_day),
    })
}

/// A triangle as the reply's cohorts: sizes, start MRR, each period and its ratios.
fn present(triangle: &Triangle, periods: &Periods, interval: CohortInterval) -> Vec<Cohort> {
    let ratio = |part: f64, whole: f64| (whole != 0.0).then(|| part / whole);
    let mut out = Vec::with_capacity(triangle.sizes.len());
    for (c, (size, row)) in triangle.sizes.iter().zip(&triangle.cells).enumerate() {
        let start = periods.starts.get(c).copied().unwrap_or(periods.last_day);
        let start_mrr = row.first().map_or(0, |cell| cell.1);
        let cells = row.iter().enumerate().map(|(offset, (paying, mrr))| {
            let absolute = c + offset;
            CohortPeriod {
                offset,
                period_start: date_of_day(periods.starts.get(absolute).copied().unwrap_or(start)),
                period_end: date_of_day(periods.end_of(absolute)),
                customers: *paying,
                mrr: Mrr(*mrr),
                logo_retention: ratio(*paying as f64, *size as f64),
                revenue_retention: ratio(Mrr(*mrr).as_minor_f64(), Mrr(start_mrr).as_minor_f64()),
            }
        });
        out.push(Cohort {
            cohort: interval.label(start),
            period_start: date_of_day(start),
            customers: *size,
            start_mrr: Mrr(start_mrr),
            periods: cells.collect(),
        });
    }
    out
}
