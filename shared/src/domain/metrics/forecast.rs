//! The MRR and customers forecast: a transparent model, `trailing_movement_rates_v1`.
//!
//! From the last `trailing` complete months (the movements of [`super::mrr_series`]):
//! * new and reactivation MRR as absolute amounts per month (their mean);
//! * expansion, contraction, churn (and, under a plan filter, plan switches) as rates of
//!   the month's start MRR (the mean of the monthly rates, months starting at 0 left
//!   out);
//! * new and reactivated customers per month (mean), and the customer churn rate
//!   (churned ÷ start customers, mean of the monthly rates).
//!
//! Each month then follows from the previous one:
//! `MRR_{t+1} = MRR_t × (1 + expansion − contraction − churn + plan_switch) + new +
//! reactivation` and `C_{t+1} = C_t × (1 − customer_churn) + new + reactivated`.
//!
//! **The band** is a prediction interval in the manner of the drift method (Hyndman &
//! Athanasopoulos, *Forecasting: Principles and Practice*, "benchmark methods"). σ is
//! the spread of the model's own one-month errors on the trailing months: each trailing
//! month is predicted from its start with the mean rates, and σ = √(Σ e² / (n − 1)) of
//! the relative errors `e = (actual − predicted) / start`. These errors hold what the
//! means hide: months whose new MRR or churn was far from the mean (the spread of the
//! rates' level, not only of the growth rate), and a trend the means miss. At horizon
//! h the relative spread is `σ_h = σ·√(h·(1 + h/n))` for n trailing months: monthly
//! errors add up as √h, and the error of the mean rates themselves (about σ/√n), which
//! every future month shares, adds up as h. `low/high = point × (1 ∓ z·σ_h)`, z = 1.645
//! (about 90 %), low never below 0. Customers likewise with their own σ.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::MetricsError;
use super::calendar::{SeriesInterval, add_months, date_of_day, day_of_date};
use super::dimensions::Filter;
use super::money::Mrr;
use super::series::{CurrencyMode, Point, SeriesQuery, Unconverted, mrr_series};

pub const FORECAST_MODEL: &str = "trailing_movement_rates_v1";
/// The band's z: about 90 % of a normal distribution lies within ±1.645 σ.
pub const BAND_Z: f64 = 1.645;

#[derive(Clone, Debug)]
pub struct ForecastQuery {
    /// The forecast starts with the month after the last month complete at the end of
    /// `as_of`.
    pub as_of: NaiveDate,
    pub months: u32,
    pub trailing: u32,
    pub currency: CurrencyMode,
    pub filters: Vec<Filter>,
    /// Only these customers (a segment's), besides the filters.
    pub customers: Option<super::slice::CustomerMask>,
}

/// One trailing month's figures, in minor units (floats: the model's arithmetic).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TrailingMonth {
    pub start_mrr: f64,
    pub mrr: f64,
    pub new: f64,
    pub reactivation: f64,
    pub expansion: f64,
    pub contraction: f64,
    pub churn: f64,
    pub plan_switch: f64,
    pub start_customers: f64,
    pub customers: f64,
    pub new_customers: f64,
    pub reactivated_customers: f64,
    pub churned_customers: f64,
}

impl From<&Point> for TrailingMonth {
    fn from(p: &Point) -> Self {
        TrailingMonth {
            start_mrr: p.start_mrr.as_minor_f64(),
            mrr: p.mrr.as_minor_f64(),
            new: p.new.as_minor_f64(),
            reactivation: p.reactivation.as_minor_f64(),
            expansion: p.expansion.as_minor_f64(),
            contraction: p.contraction.as_minor_f64(),
            churn: p.churn.as_minor_f64(),
            plan_switch: p.plan_switch.as_minor_f64(),
            start_customers: p.start_customers as f64,
            customers: p.customers as f64,
            new_customers: p.new_customers as f64,
            reactivated_customers: p.reactivated_customers as f64,
            churned_customers: p.churned_customers as f64,
        }
    }
}

/// The model's inputs, as the reply shows them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct ForecastRates {
    /// Minor units per month.
    pub new_mrr: f64,
    pub reactivation_mrr: f64,
    /// Fractions of the month's start MRR.
    pub expansion_rate: f64,
    pub contraction_rate: f64,
    pub churn_rate: f64,
    pub plan_switch_rate: f64,
    /// Customers per month.
    pub new_customers: f64,
    pub reactivated_customers: f64,
    /// Churned ÷ start customers.
    pub customer_churn_rate: f64,
    /// The spread (residual standard error) of the model's one-month errors on the
    /// trailing months, relative to each month's start: σ of the band.
    pub mrr_growth_sigma: f64,
    pub customer_growth_sigma: f64,
}

/// One projected month; money in minor units.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ForecastMonth {
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub mrr: i64,
    pub mrr_low: i64,
    pub mrr_high: i64,
    pub customers: i64,
    pub customers_low: i64,
    pub customers_high: i64,
}

/// One trailing month as the reply shows it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct HistoryMonth {
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub mrr: Mrr,
    pub customers: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Forecast {
    pub currency: String,
    pub rates: ForecastRates,
    pub history: Vec<HistoryMonth>,
    pub series: Vec<ForecastMonth>,
    pub unconverted: Vec<Unconverted>,
}

/// Rates from `history`, then `months` projected from its last month's end (`start`
/// is the first projected month's first day).
pub fn project(
    history: &[TrailingMonth],
    start: NaiveDate,
    months: u32,
) -> (ForecastRates, Vec<ForecastMonth>) {
    let rates = rates(history);
    let n = history.len().max(1) as f64;
    let last = history.last().copied().unwrap_or_default();
    let (mut mrr, mut customers) = (last.mrr, last.customers);
    let mut out = Vec::with_capacity(months as usize);
    let first = day_of_date(start);
    for h in 1..=months {
        mrr = next_mrr(&rates, mrr);
        customers = next_customers(&rates, customers);
        let h = f64::from(h);
        let spread = |sigma: f64| BAND_Z * sigma * (h * (1.0 + h / n)).sqrt();
        let band = |point: f64, sigma: f64| {
            let point = point.max(0.0);
            (
                whole(point * (1.0 - spread(sigma)).max(0.0)),
                whole(point),
                whole(point * (1.0 + spread(sigma))),
            )
        };
        let (mrr_low, mrr_point, mrr_high) = band(mrr, rates.mrr_growth_sigma);
        let (c_low, c_point, c_high) = band(customers, rates.customer_growth_sigma);
        let month_start = add_months(first, i64::from(h as u32) - 1);
        out.push(ForecastMonth {
            period_start: date_of_day(month_start),
            period_end: date_of_day(add_months(month_start, 1) - 1),
            mrr: mrr_point,
            mrr_low,
            mrr_high,
            customers: c_point,
            customers_low: c_low,
            customers_high: c_high,
        });
    }
    (rates, out)
}

fn whole(value: f64) -> i64 {
    // `as` saturates (and maps NaN to 0): never a panic on a degenerate history.
    value.round() as i64
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    if count == 0 { 0.0 } else { sum / count as f64 }
}

/// The residual standard error √(Σ e² / (n − 1)) — around 0, not around the errors'
/// mean, so a bias of the model widens the band too; 0 for fewer than two values.
fn residual_sd(errors: &[f64]) -> f64 {
    if errors.len() < 2 {
        return 0.0;
    }
    let squares: f64 = errors.iter().map(|e| e * e).sum();
    (squares / (errors.len() - 1) as f64).sqrt()
}

fn rates(history: &[TrailingMonth]) -> ForecastRates {
    let paying: Vec<&TrailingMonth> = history.iter().filter(|m| m.start_mrr > 0.0).collect();
    let rate =
        |field: fn(&TrailingMonth) -> f64| mean(paying.iter().map(|m| field(m) / m.start_mrr));
    let with_customers: Vec<&TrailingMonth> =
        history.iter().filter(|m| m.start_customers > 0.0).collect();
    let mut rates = ForecastRates {
        new_mrr: mean(history.iter().map(|m| m.new)),
        reactivation_mrr: mean(history.iter().map(|m| m.reactivation)),
        expansion_rate: rate(|m| m.expansion),
        contraction_rate: rate(|m| m.contraction),
        churn_rate: rate(|m| m.churn),
        plan_switch_rate: rate(|m| m.plan_switch),
        new_customers: mean(history.iter().map(|m| m.new_customers)),
        reactivated_customers: mean(history.iter().map(|m| m.reactivated_customers)),
        customer_churn_rate: mean(
            with_customers
                .iter()
                .map(|m| m.churned_customers / m.start_customers),
        ),
        ..ForecastRates::default()
    };
    // The model's own one-month errors on the trailing months, relative to each start.
    let mrr_errors: Vec<f64> = paying
        .iter()
        .map(|m| (m.mrr - next_mrr(&rates, m.start_mrr)) / m.start_mrr)
        .collect();
    let customer_errors: Vec<f64> = with_customers
        .iter()
        .map(|m| (m.customers - next_customers(&rates, m.start_customers)) / m.start_customers)
        .collect();
    rates.mrr_growth_sigma = residual_sd(&mrr_errors);
    rates.customer_growth_sigma = residual_sd(&customer_errors);
    rates
}

fn next_mrr(rates: &ForecastRates, mrr: f64) -> f64 {
    mrr * (1.0 + rates.expansion_rate - rates.contraction_rate - rates.churn_rate
        + rates.plan_switch_rate)
        + rates.new_mrr
        + rates.reactivation_mrr
}

fn next_customers(rates: &ForecastRates, customers: f64) -> f64 {
    customers * (1.0 - rates.customer_churn_rate)
        + rates.new_customers
        + rates.reactivated_customers
}

/// The first day of the month after the last month complete at the end of `as_of`.
pub fn forecast_start(as_of: NaiveDate) -> NaiveDate {
    let day = day_of_date(as_of);
    let next_month = add_months(day, 1);
    if day + 1 == next_month {
        date_of_day(next_month)
    } else {
        date_of_day(add_months(day, 0))
    }
}

/// The forecast of `query`: the trailing months' series, then [`project`].
pub fn forecast(
    facts: &super::facts::Facts,
    query: &ForecastQuery,
) -> Result<Forecast, MetricsError> {
    let start = forecast_start(query.as_of);
    // The trailing months start in 1970 at the earliest; the forecast ends by 9999.
    let month_index = i64::from(start.year()) * 12 + i64::from(start.month0());
    let trailing_from = month_index - i64::from(query.trailing);
    if trailing_from < 1970 * 12 || month_index + i64::from(query.months) > 10_000 * 12 {
        return Err(MetricsError::InvalidRange);
    }
    let start_day = day_of_date(start);
    let from = date_of_day(add_months(start_day, -i64::from(query.trailing)));
    let to = date_of_day(start_day.saturating_sub(1));
    let series = mrr_series(
        facts,
        &SeriesQuery {
            from,
            to,
            interval: SeriesInterval::Month,
            currency: query.currency.clone(),
            filters: query.filters.clone(),
            customers: query.customers.clone(),
            group_by: None,
        },
    )?;
    let trailing: Vec<TrailingMonth> = series.points.iter().map(TrailingMonth::from).collect();
    let (rates, months) = project(&trailing, start, query.months);
    Ok(Forecast {
        currency: series.currency,
        rates,
        history: series
            .points
            .iter()
            .map(|p| HistoryMonth {
                period_start: p.period_start,
                period_end: p.period_end,
                mrr: p.mrr,
                customers: p.customers,
            })
            .collect(),
        series: months,
        unconverted: series.unconverted,
    })
}
