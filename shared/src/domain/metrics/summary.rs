//! `GET /v1/metrics/summary`: the headline numbers as of a day.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::MetricsError;
use super::calendar::{SeriesInterval, add_months, date_of_day, day_of_date};
use super::facts::Facts;
use super::metric::UnconvertedMinor;
use super::policy::definition;
use super::rates::{
    arpu, customer_churn_rate, ltv_minor, net_mrr_churn_rate, nrr, quick_ratio, revenue_churn_rate,
    trailing_churn,
};
use super::series::{CurrencyMode, SeriesQuery, mrr_series};
use super::slice::Slice;

/// `GET /v1/metrics/summary`: MRR, ARR, customers and ARPU at the end of `as_of`; churn
/// rates, NRR, quick ratio and net MRR churn rate of the last complete calendar month; LTV from ARPU now and the six
/// complete months before `as_of`'s month.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub as_of: NaiveDate,
    pub currency: String,
    pub mrr: i64,
    pub arr: i64,
    pub customers: i64,
    pub arpu: i64,
    pub customer_churn_rate: Option<f64>,
    pub revenue_churn_rate: Option<f64>,
    pub nrr: Option<f64>,
    pub quick_ratio: Option<f64>,
    pub net_mrr_churn_rate: Option<f64>,
    pub ltv: i64,
    /// The month the rates are measured over.
    pub rates_from: NaiveDate,
    pub rates_to: NaiveDate,
    /// Currencies left out for want of an exchange rate, with their own MRR.
    pub unconverted: Vec<UnconvertedMinor>,
    /// The name of the definition behind each figure (see `DEFINITIONS`).
    pub definitions: BTreeMap<&'static str, &'static str>,
}

/// The concepts the summary's figures rest on.
const SUMMARY_CONCEPTS: [&str; 11] = [
    "mrr_history",
    "movement_unit",
    "fx_conversion",
    "customers",
    "arpu",
    "customer_churn_rate",
    "revenue_churn_rate",
    "nrr",
    "quick_ratio",
    "net_mrr_churn_rate",
    "ltv",
];

pub fn summary(
    facts: &Facts,
    as_of: NaiveDate,
    currency: CurrencyMode,
    slice: impl Into<Slice>,
) -> Result<Summary, MetricsError> {
    let as_of_day = day_of_date(as_of);
    let Slice { filters, customers } = slice.into();
    let query = SeriesQuery {
        from: date_of_day(add_months(as_of_day, -6)),
        to: as_of,
        interval: SeriesInterval::Month,
        currency,
        filters,
        customers,
        group_by: None,
    };
    let series = mrr_series(facts, &query)?;
    let points = &series.points;
    let (Some(now), Some(last_month)) = (points.last(), points.len().checked_sub(2)) else {
        return Err(MetricsError::InvalidRange);
    };
    let rates = points.get(last_month).unwrap_or(now);
    let arpu_now = arpu(now).unwrap_or_default();
    Ok(Summary {
        as_of,
        currency: series.currency.clone(),
        mrr: now.mrr.to_minor(),
        // 12 × the served MRR: the two served numbers agree exactly.
        arr: now.mrr.to_minor() * 12,
        customers: now.customers,
        arpu: arpu_now.to_minor(),
        customer_churn_rate: customer_churn_rate(rates),
        revenue_churn_rate: revenue_churn_rate(rates),
        nrr: nrr(rates),
        quick_ratio: quick_ratio(rates),
        net_mrr_churn_rate: net_mrr_churn_rate(rates),
        ltv: ltv_minor(arpu_now, trailing_churn(points, last_month)),
        rates_from: rates.period_start,
        rates_to: rates.period_end,
        unconverted: UnconvertedMinor::of_mrr(&series.unconverted),
        definitions: SUMMARY_CONCEPTS
            .into_iter()
            .filter_map(|concept| definition(concept).map(|d| (concept, d.name)))
            .collect(),
    })
}
