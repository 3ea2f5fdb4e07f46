//! Event metrics per period: refunds, failed payments, trial conversion.
//!
//! Each event is dated by its UTC day and sliced by its customer's dimensions and its
//! own currency. Events carry no plan, so `plan` is not a dimension of these metrics.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::MetricsError;
use super::calendar::{Periods, date_of_day, day_of_date};
use super::dimensions::Dimension;
use super::facts::{Facts, NO_CUSTOMER, PaymentKind};
use super::money::Mrr;
use super::series::{Selection, SeriesQuery};

/// Count and amount of events in a period (amount in the series' currency, fixed point).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPoint {
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub count: u64,
    pub amount: Mrr,
    /// Trial conversion only: trials ended in the period that converted.
    pub converted: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSeries {
    pub points: Vec<EventPoint>,
    pub groups: Option<Vec<(String, Vec<EventPoint>)>>,
    /// Currencies left out for want of a rate, with their events' native amount.
    pub unconverted: Vec<(String, Mrr)>,
}

/// Which events to count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventMetric {
    Refunds,
    FailedPayments,
    /// `count` = trials ended, `converted` = of those, converted.
    TrialConversion,
}

/// One event: whose, in which currency, which day, how much, converted or not.
struct Event {
    customer: u32,
    currency: u16,
    day: u32,
    amount: i64,
    converted: bool,
}

fn events(facts: &Facts, metric: EventMetric) -> Vec<Event> {
    let kind = match metric {
        EventMetric::Refunds => PaymentKind::Refund,
        EventMetric::FailedPayments => PaymentKind::Failed,
        EventMetric::TrialConversion => {
            return facts
                .trials
                .iter()
                .map(|t| Event {
                    customer: t.customer,
                    currency: t.currency,
                    day: t.ended_day,
                    amount: 0,
                    converted: t.converted,
                })
                .collect();
        }
    };
    facts
        .payments
        .iter()
        .filter(|p| p.kind == kind)
        .map(|p| Event {
            customer: p.customer,
            currency: p.currency,
            day: p.at_day,
            amount: p.amount,
            converted: false,
        })
        .collect()
}

/// Events per period (and group) for the query's selection.
pub fn event_series(
    facts: &Facts,
    metric: EventMetric,
    query: &SeriesQuery,
) -> Result<EventSeries, MetricsError> {
    let plan_used = query.group_by == Some(Dimension::Plan)
        || query.filters.iter().any(|f| f.dimension == Dimension::Plan);
    if plan_used {
        return Err(MetricsError::DimensionNotApplicable {
            metric: metric_name(metric),
            dimension: Dimension::Plan,
        });
    }
    let periods = Periods::new(
        day_of_date(query.from),
        day_of_date(query.to),
        query.interval,
    )?;
    let selection = Selection::resolve(facts, query)?;
    let empty = empty_points(&periods);
    let mut total = empty.clone();
    let mut groups = vec![empty.clone(); selection.group_keys.len()];
    let mut used = vec![false; selection.group_keys.len()];
    let mut unconverted: Vec<(String, Mrr)> = selection
        .unconverted
        .iter()
        .map(|c| {
            let code = facts.currencies.get(usize::from(*c)).cloned();
            (code.unwrap_or_default(), Mrr::ZERO)
        })
        .collect();
    for event in events(facts, metric) {
        let Some(period) = periods.index_of(event.day) else {
            continue;
        };
        let (passes, group) = if event.customer == NO_CUSTOMER {
            (selection.anonymous_ok, selection.anonymous_group)
        } else {
            let passes = selection.customer_ok.get(event.customer as usize).copied();
            let group = match (query.group_by, selection.group_index.as_deref()) {
                (Some(Dimension::Currency), Some(index)) => index.get(usize::from(event.currency)),
                (Some(_), Some(index)) => index.get(event.customer as usize),
                _ => None,
            };
            (passes.unwrap_or(false), group.copied())
        };
        if !passes {
            continue;
        }
        let Some(factor) = selection.conversion.factor(event.currency, event.day) else {
            if let Some(slot) = selection
                .unconverted
                .iter()
                .position(|c| *c == event.currency)
                .and_then(|i| unconverted.get_mut(i))
            {
                slot.1 += Mrr::from_minor(event.amount);
            }
            continue;
        };
        let amount = factor.apply_minor(event.amount);
        let add = |points: &mut Vec<EventPoint>| {
            if let Some(point) = points.get_mut(period) {
                point.count += 1;
                point.amount += amount;
                point.converted += u64::from(event.converted);
            }
        };
        add(&mut total);
        if let Some(index) = group.map(|g| g as usize) {
            if let Some(points) = groups.get_mut(index) {
                add(points);
            }
            if let Some(flag) = used.get_mut(index) {
                *flag = true;
            }
        }
    }
    let groups = query.group_by.map(|_| {
        let mut grouped: Vec<(String, Vec<EventPoint>)> = selection
            .group_keys
            .into_iter()
            .zip(groups)
            .zip(used)
            .filter(|(_, used)| *used)
            .map(|(pair, _)| pair)
            .collect();
        grouped.sort_by(|a, b| a.0.cmp(&b.0));
        grouped
    });
    Ok(EventSeries {
        points: total,
        groups,
        unconverted,
    })
}

fn empty_points(periods: &Periods) -> Vec<EventPoint> {
    periods
        .starts
        .iter()
        .enumerate()
        .map(|(index, start)| EventPoint {
            period_start: date_of_day(*start),
            period_end: date_of_day(periods.end_of(index)),
            ..EventPoint::default()
        })
        .collect()
}

fn metric_name(metric: EventMetric) -> &'static str {
    match metric {
        EventMetric::Refunds => "refunds",
        EventMetric::FailedPayments => "failed_payments",
        EventMetric::TrialConversion => "trial_conversion",
    }
}
