//! Comparisons (`compare=previous|year`): a metric's series beside the same series over
//! an earlier range, point by point, with the absolute and relative change.
//!
//! * `previous`: the range just before, of as many periods of the interval (January to
//!   June by month compares with July to December of the year before; 14 days by day
//!   with the 14 days before);
//! * `year`: the same periods a year earlier: 12 months back for months, quarters and
//!   years, the same calendar day for days, 52 weeks for weeks (so weeks still start on
//!   Monday).
//!
//! Both ends of the range move by the same amount, so a partial last period compares
//! with the same part of its counterpart. Points pair by position; a group pairs with
//! the group of the same key (a group absent from the earlier range has no comparison).
//! The relative change is (value − earlier) ÷ |earlier|, null when the earlier value is
//! 0 or null, so a growth from nothing is never an infinite percentage.

use std::str::FromStr;

use chrono::{Days, Months, NaiveDate};
use serde::Serialize;

use super::MetricsError;
use super::calendar::{Periods, SeriesInterval, day_of_date};
use super::metric::{Metric, MetricPoint, MetricSeries, MetricValue, metric_series};
use super::series::SeriesQuery;

/// What a reply is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum Compare {
    /// The range just before, of as many periods.
    Previous,
    /// The same range a year earlier.
    Year,
}

impl FromStr for Compare {
    type Err = ();
    fn from_str(text: &str) -> Result<Self, ()> {
        match text {
            "previous" => Ok(Compare::Previous),
            "year" => Ok(Compare::Year),
            _ => Err(()),
        }
    }
}

/// How far back a comparison moves both ends of a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shift {
    Days(u64),
    Months(u32),
}

impl Shift {
    fn back(self, date: NaiveDate) -> Result<NaiveDate, MetricsError> {
        let moved = match self {
            Shift::Days(days) => date.checked_sub_days(Days::new(days)),
            // chrono keeps the day of the month, or the month's last day when shorter.
            Shift::Months(months) => date.checked_sub_months(Months::new(months)),
        };
        // The engine's days start at 1970-01-01.
        moved
            .filter(|d| *d >= NaiveDate::default())
            .ok_or(MetricsError::InvalidRange)
    }
}

fn shift(compare: Compare, interval: SeriesInterval, periods: usize) -> Shift {
    let n = u32::try_from(periods).unwrap_or(u32::MAX);
    match (compare, interval) {
        (Compare::Previous, SeriesInterval::Day) => Shift::Days(u64::from(n)),
        (Compare::Previous, SeriesInterval::Week) => Shift::Days(7 * u64::from(n)),
        (Compare::Previous, SeriesInterval::Month) => Shift::Months(n),
        (Compare::Previous, SeriesInterval::Quarter) => Shift::Months(n.saturating_mul(3)),
        (Compare::Previous, SeriesInterval::Year) => Shift::Months(n.saturating_mul(12)),
        (Compare::Year, SeriesInterval::Week) => Shift::Days(52 * 7),
        (Compare::Year, _) => Shift::Months(12),
    }
}

/// The range `query` is compared with: (from, to).
pub fn compared_range(
    query: &SeriesQuery,
    compare: Compare,
) -> Result<(NaiveDate, NaiveDate), MetricsError> {
    let periods = Periods::new(
        day_of_date(query.from),
        day_of_date(query.to),
        query.interval,
    )?;
    let by = shift(compare, query.interval, periods.len());
    Ok((by.back(query.from)?, by.back(query.to)?))
}

/// The day a point-in-time figure (the summary's) is compared with: a month earlier, or
/// a year.
pub fn compared_day(as_of: NaiveDate, compare: Compare) -> Result<NaiveDate, MetricsError> {
    let months = match compare {
        Compare::Previous => 1,
        Compare::Year => 12,
    };
    Shift::Months(months).back(as_of)
}

/// A point's counterpart in the earlier range and the change to it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Compared {
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub value: MetricValue,
    /// value − earlier: money, a count, or a ratio's difference (null when either ratio
    /// is).
    pub change: MetricValue,
    /// (value − earlier) ÷ |earlier|; null when the earlier value is 0 or null.
    pub relative_change: Option<f64>,
}

/// The change from `earlier` to `now`.
pub fn change(now: MetricValue, earlier: MetricValue) -> (MetricValue, Option<f64>) {
    let relative =
        |now: f64, earlier: f64| (earlier != 0.0).then(|| (now - earlier) / earlier.abs());
    match (now, earlier) {
        (MetricValue::Money(a), MetricValue::Money(b)) => (
            MetricValue::Money(a.saturating_sub(b)),
            relative(a as f64, b as f64),
        ),
        (MetricValue::Count(a), MetricValue::Count(b)) => (
            MetricValue::Count(a.saturating_sub(b)),
            relative(a as f64, b as f64),
        ),
        (MetricValue::Ratio(Some(a)), MetricValue::Ratio(Some(b))) => {
            (MetricValue::Ratio(Some(a - b)), relative(a, b))
        }
        _ => (MetricValue::Ratio(None), None),
    }
}

fn pair(points: &mut [MetricPoint], earlier: &[MetricPoint]) {
    for (point, before) in points.iter_mut().zip(earlier) {
        let (change, relative_change) = change(point.value, before.value);
        point.compared = Some(Compared {
            period_start: before.period_start,
            period_end: before.period_end,
            value: before.value,
            change,
            relative_change,
        });
    }
}

/// The range a series was compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Comparison {
    pub compare: Compare,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// One metric as a series, each point (and each group's point) carrying its counterpart
/// in the compared range.
pub fn compared_series(
    facts: &super::facts::Facts,
    metric: Metric,
    query: &SeriesQuery,
    compare: Compare,
) -> Result<(MetricSeries, Comparison), MetricsError> {
    let mut series = metric_series(facts, metric, query)?;
    let (from, to) = compared_range(query, compare)?;
    let earlier_query = SeriesQuery {
        from,
        to,
        ..query.clone()
    };
    let earlier = metric_series(facts, metric, &earlier_query)?;
    pair(&mut series.series, &earlier.series);
    if let (Some(groups), Some(earlier_groups)) = (series.groups.as_mut(), earlier.groups.as_ref())
    {
        for group in groups {
            if let Some(before) = earlier_groups.iter().find(|g| g.key == group.key) {
                pair(&mut group.series, &before.series);
            }
        }
    }
    Ok((series, Comparison { compare, from, to }))
}
