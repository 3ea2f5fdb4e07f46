//! Rates and derived metrics of a period. Each function documents its definition; the
//! names reported with replies are in [`super::policy::DEFINITIONS`]. Ratios are
//! fractions (0.05 is 5 %) as `f64`, for presentation only: every sum behind them is
//! exact. A ratio over an empty base (no customers, no MRR at the start) is `None`.

use super::MetricsError;
use super::calendar::{Periods, SeriesInterval, add_months, day_of_date};
use super::money::Mrr;
use super::series::{Point, Series, SeriesQuery, mrr_series};

/// The months of churn history LTV averages over.
pub const LTV_TRAILING_MONTHS: usize = 6;
/// The longest lifetime LTV assumes (also when churn is 0).
pub const LTV_MAX_LIFETIME_MONTHS: f64 = 60.0;

fn ratio(numerator: i128, denominator: i128) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// `customer_churn_rate.lost_of_start_over_start`: customers paying at the period's
/// start who are not paying at its end ÷ customers paying at its start (a customer who
/// joins and leaves within the period does not count, so the rate never exceeds 100 %).
pub fn customer_churn_rate(point: &Point) -> Option<f64> {
    ratio(
        i128::from(point.churned_customers),
        i128::from(point.start_customers),
    )
}

/// `revenue_churn_rate.start_customers_churn_and_contraction_over_start_mrr`: the
/// churn and contraction of the customers paying at the period's start ÷ MRR at its
/// start (a customer who joins and leaves within the period does not count).
pub fn revenue_churn_rate(point: &Point) -> Option<f64> {
    ratio(point.start_cohort_loss.0, point.start_mrr.0)
}

/// `nrr.start_cohort_end_over_start`: (start MRR + expansion + reactivation −
/// contraction − churn of the units paying at the start) ÷ start MRR. New MRR never
/// counts (new units were not paying at the start).
pub fn nrr(point: &Point) -> Option<f64> {
    ratio(
        point.start_mrr.0 + point.start_cohort_net.0,
        point.start_mrr.0,
    )
}

/// `grr.start_cohort_losses_capped`: (start MRR − contraction − churn of the units
/// paying at the start) ÷ start MRR, at most 1.
pub fn grr(point: &Point) -> Option<f64> {
    ratio(
        point.start_mrr.0 - point.start_cohort_loss.0,
        point.start_mrr.0,
    )
    .map(|value| value.min(1.0))
}

/// `quick_ratio.gains_over_losses`: (new + expansion + reactivation) ÷ (contraction +
/// churn) of the period (the SaaS quick ratio, as ChartMogul's "Quick Ratio" chart
/// computes it); `None` when nothing was lost.
pub fn quick_ratio(point: &Point) -> Option<f64> {
    ratio(
        point.new.0 + point.expansion.0 + point.reactivation.0,
        point.contraction.0 + point.churn.0,
    )
}

/// `net_mrr_churn_rate.losses_net_of_expansion_and_reactivation_over_start_mrr`:
/// (churn + contraction − expansion − reactivation) ÷ MRR at the period's start
/// (ChartMogul's Net MRR Churn Rate, standard B2B formula); negative when expansion and
/// reactivation outweigh the losses.
pub fn net_mrr_churn_rate(point: &Point) -> Option<f64> {
    ratio(
        point.churn.0 + point.contraction.0 - point.expansion.0 - point.reactivation.0,
        point.start_mrr.0,
    )
}

/// `average_sale_price.new_mrr_over_new_customers`: new MRR ÷ new customers of the
/// period (ChartMogul's ASP: what a new customer starts paying); `None` without a new
/// customer.
pub fn average_sale_price(point: &Point) -> Option<Mrr> {
    point.new.per(point.new_customers)
}

/// `arpu.mrr_over_paying_customers`: end MRR ÷ paying units at the end.
pub fn arpu(point: &Point) -> Option<Mrr> {
    point.mrr.per(u64::try_from(point.customers).ok()?)
}

/// `arr.twelve_times_mrr`.
pub fn arr(point: &Point) -> Mrr {
    point.mrr.times(12)
}

/// LTV from ARPU and a mean monthly churn rate: ARPU × min(1 ÷ churn, 60) months,
/// rounded to minor units (a product with a float factor: presentation only).
pub fn ltv_minor(arpu: Mrr, mean_monthly_churn: Option<f64>) -> i64 {
    let lifetime = match mean_monthly_churn {
        Some(churn) if churn > 0.0 => (1.0 / churn).min(LTV_MAX_LIFETIME_MONTHS),
        _ => LTV_MAX_LIFETIME_MONTHS,
    };
    (arpu.as_minor_f64() * lifetime).round() as i64
}

/// The mean of the defined churn rates of up to six months ending with `last_month`
/// (an index into `monthly`); `None` when no month has customers at its start.
pub fn trailing_churn(monthly: &[Point], last_month: usize) -> Option<f64> {
    let first = (last_month + 1).saturating_sub(LTV_TRAILING_MONTHS);
    let rates: Vec<f64> = monthly
        .get(first..=last_month)?
        .iter()
        .filter_map(customer_churn_rate)
        .collect();
    (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64)
}

/// The monthly series LTV needs for `query`: same selection, from five months before the
/// first period's month, monthly.
pub fn monthly_history_for_ltv(
    query: &SeriesQuery,
) -> Result<(SeriesQuery, Periods), MetricsError> {
    let from_day = add_months(day_of_date(query.from), -(LTV_TRAILING_MONTHS as i64 - 1));
    let to_day = day_of_date(query.to);
    let periods = Periods::new(from_day, to_day, SeriesInterval::Month)?;
    let monthly = SeriesQuery {
        from: super::calendar::date_of_day(from_day),
        interval: SeriesInterval::Month,
        ..query.clone()
    };
    Ok((monthly, periods))
}

/// LTV per point of `series` (and per group, in the same order), in minor units.
pub fn ltv_values(
    facts: &super::facts::Facts,
    query: &SeriesQuery,
    series: &Series,
) -> Result<(Vec<i64>, Vec<Vec<i64>>), MetricsError> {
    let (monthly_query, months) = monthly_history_for_ltv(query)?;
    let monthly = mrr_series(facts, &monthly_query)?;
    let values = |points: &[Point], history: Option<&[Point]>| -> Vec<i64> {
        points
            .iter()
            .map(|point| {
                let month = months.index_of(day_of_date(point.period_end));
                let churn = history.zip(month).and_then(|(h, m)| trailing_churn(h, m));
                ltv_minor(arpu(point).unwrap_or_default(), churn)
            })
            .collect()
    };
    let total = values(&series.points, Some(&monthly.points));
    let groups = series
        .groups
        .iter()
        .flatten()
        .map(|group| {
            let history = monthly
                .groups
                .iter()
                .flatten()
                .find(|g| g.key == group.key)
                .map(|g| g.points.as_slice());
            values(&group.points, history)
        })
        .collect();
    Ok((total, groups))
}
