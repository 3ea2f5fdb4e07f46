//! The metrics of `GET /v1/metrics/{name}` and `/v1/metrics/summary`, presented in minor
//! units (rounded half to even, once, here).

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::Serialize;

use super::MetricsError;
use super::calendar::SeriesInterval;
use super::calendar::{Periods, day_of_date};
use super::facts::Facts;
use super::payments::{EventMetric, EventPoint, event_series};
use super::plan_flows::{PlanFlow, plan_flows};
use super::policy::definition;
use super::rates::{
    arpu, average_sale_price, customer_churn_rate, grr, ltv_values, net_mrr_churn_rate, nrr,
    quick_ratio, revenue_churn_rate,
};
use super::series::{Point, Selection, SeriesQuery, mrr_series};
use super::subscribers::subscriber_counts;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum Metric {
    Mrr,
    Arr,
    MrrMovements,
    Customers,
    CustomerChurnRate,
    RevenueChurnRate,
    Nrr,
    Grr,
    Arpu,
    Ltv,
    Refunds,
    FailedPayments,
    TrialConversion,
    Subscribers,
    Arps,
    QuickRatio,
    NetMrrChurnRate,
    AverageSalePrice,
    CustomerMovements,
    PlanFlows,
}

impl Metric {
    pub const ALL: [Metric; 20] = [
        Metric::Mrr,
        Metric::Arr,
        Metric::MrrMovements,
        Metric::Customers,
        Metric::CustomerChurnRate,
        Metric::RevenueChurnRate,
        Metric::Nrr,
        Metric::Grr,
        Metric::Arpu,
        Metric::Ltv,
        Metric::Refunds,
        Metric::FailedPayments,
        Metric::TrialConversion,
        Metric::Subscribers,
        Metric::Arps,
        Metric::QuickRatio,
        Metric::NetMrrChurnRate,
        Metric::AverageSalePrice,
        Metric::CustomerMovements,
        Metric::PlanFlows,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Mrr => "mrr",
            Metric::Arr => "arr",
            Metric::MrrMovements => "mrr_movements",
            Metric::Customers => "customers",
            Metric::CustomerChurnRate => "customer_churn_rate",
            Metric::RevenueChurnRate => "revenue_churn_rate",
            Metric::Nrr => "nrr",
            Metric::Grr => "grr",
            Metric::Arpu => "arpu",
            Metric::Ltv => "ltv",
            Metric::Refunds => "refunds",
            Metric::FailedPayments => "failed_payments",
            Metric::TrialConversion => "trial_conversion",
            Metric::Subscribers => "subscribers",
            Metric::Arps => "arps",
            Metric::QuickRatio => "quick_ratio",
            Metric::NetMrrChurnRate => "net_mrr_churn_rate",
            Metric::AverageSalePrice => "average_sale_price",
            Metric::CustomerMovements => "customer_movements",
            Metric::PlanFlows => "plan_flows",
        }
    }

    /// The name of the definition used (see [`super::policy::DEFINITIONS`]).
    pub fn definition_name(self) -> &'static str {
        let concept = match self {
            Metric::Mrr => "mrr_history",
            Metric::MrrMovements => "movements",
            other => other.as_str(),
        };
        definition(concept).map_or("", |d| d.name)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Metric {
    type Err = MetricsError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Metric::ALL
            .into_iter()
            .find(|metric| metric.as_str() == text)
            .ok_or_else(|| MetricsError::UnknownMetric(text.to_owned()))
    }
}

/// A point's headline value: money in minor units, a count, or a ratio (null when its
/// base is empty).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MetricValue {
    Money(i64),
    Count(i64),
    Ratio(Option<f64>),
}

/// The fields of a `customer_movements` point: paying customers at the period's start
/// and end, and the period's movements by count (see the `customer_movements`
/// definition): `start_customers + new + reactivation − churn == customers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CustomerMovements {
    pub start_customers: i64,
    pub customers: i64,
    pub new: u64,
    pub expansion: u64,
    pub contraction: u64,
    pub churn: u64,
    pub reactivation: u64,
    pub net: i64,
}

/// The movement fields of an `mrr_movements` point, minor units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MovementsMinor {
    pub start_mrr: i64,
    pub mrr: i64,
    pub new: i64,
    pub expansion: i64,
    pub contraction: i64,
    pub churn: i64,
    pub reactivation: i64,
    pub plan_switch: i64,
    pub net: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricPoint {
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub value: MetricValue,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub movements: Option<MovementsMinor>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub customer_movements: Option<CustomerMovements>,
    /// Events (refunds, failed payments, ended trials) in the period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub converted: Option<u64>,
    /// `plan_flows`: the MRR that moved from one plan to another, largest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flows: Option<Vec<PlanFlowMinor>>,
    /// With `compare=`: the point's counterpart in the earlier range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared: Option<super::compare::Compared>,
}

/// A plan flow of a `plan_flows` point, minor units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlanFlowMinor {
    pub from: String,
    pub to: String,
    pub switches: u64,
    pub mrr: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricGroup {
    pub key: String,
    pub series: Vec<MetricPoint>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricSeries {
    pub metric: Metric,
    pub definition: &'static str,
    pub interval: SeriesInterval,
    pub currency: String,
    pub series: Vec<MetricPoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<MetricGroup>>,
    /// Currencies left out for want of an exchange rate, with their own amounts.
    pub unconverted: Vec<UnconvertedMinor>,
}

/// A currency a converted reply could not include, in its own minor units: its MRR at
/// the end of the range (MRR metrics) or its events' amount (event metrics).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnconvertedMinor {
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mrr: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
}

impl UnconvertedMinor {
    pub fn of_mrr(list: &[super::series::Unconverted]) -> Vec<UnconvertedMinor> {
        list.iter()
            .map(|u| UnconvertedMinor {
                currency: u.currency.clone(),
                mrr: Some(u.mrr.to_minor()),
                amount: None,
            })
            .collect()
    }
}

/// One metric as a series (and per group).
pub fn metric_series(
    facts: &Facts,
    metric: Metric,
    query: &SeriesQuery,
) -> Result<MetricSeries, MetricsError> {
    let (series, groups, unconverted) = match metric {
        Metric::PlanFlows => {
            let result = plan_flows(facts, query)?;
            let points = result
                .flows
                .into_iter()
                .enumerate()
                .map(|(index, flows)| flow_point(&result.periods, index, flows))
                .collect();
            (points, None, UnconvertedMinor::of_mrr(&result.unconverted))
        }
        Metric::Refunds | Metric::FailedPayments | Metric::TrialConversion => {
            let kind = match metric {
                Metric::Refunds => EventMetric::Refunds,
                Metric::FailedPayments => EventMetric::FailedPayments,
                _ => EventMetric::TrialConversion,
            };
            let events = event_series(facts, kind, query)?;
            let present = |points: &[EventPoint]| -> Vec<MetricPoint> {
                points.iter().map(|p| event_point(kind, p)).collect()
            };
            let groups = events.groups.map(|groups| {
                groups
                    .iter()
                    .map(|(key, points)| MetricGroup {
                        key: key.clone(),
                        series: present(points),
                    })
                    .collect()
            });
            let unconverted = events
                .unconverted
                .iter()
                .map(|(currency, amount)| UnconvertedMinor {
                    currency: currency.clone(),
                    mrr: None,
                    amount: Some(amount.to_minor()),
                })
                .collect();
            (present(&events.points), groups, unconverted)
        }
        _ => {
            let series = mrr_series(facts, query)?;
            let (ltv_total, ltv_groups) = match metric {
                Metric::Ltv => ltv_values(facts, query, &series)?,
                Metric::Subscribers | Metric::Arps => {
                    per_subscriber(facts, query, &series, metric)?
                }
                _ => (Vec::new(), Vec::new()),
            };
            let present = |points: &[Point], ltv: Option<&Vec<i64>>| -> Vec<MetricPoint> {
                points
                    .iter()
                    .enumerate()
                    .map(|(i, p)| mrr_point(metric, p, ltv.and_then(|l| l.get(i)).copied()))
                    .collect()
            };
            let groups = series.groups.as_ref().map(|groups| {
                groups
                    .iter()
                    .enumerate()
                    .map(|(i, g)| MetricGroup {
                        key: g.key.clone(),
                        series: present(&g.points, ltv_groups.get(i)),
                    })
                    .collect()
            });
            let unconverted = UnconvertedMinor::of_mrr(&series.unconverted);
            (
                present(&series.points, Some(&ltv_total)),
                groups,
                unconverted,
            )
        }
    };
    Ok(MetricSeries {
        metric,
        definition: metric.definition_name(),
        interval: query.interval,
        currency: query.currency.code(),
        series,
        groups,
        unconverted,
    })
}

/// Subscribers at each point's end, or ARPS (MRR ÷ subscribers, minor units), per point
/// of `series` and per group (in the series' group order).
fn per_subscriber(
    facts: &Facts,
    query: &SeriesQuery,
    series: &super::series::Series,
    metric: Metric,
) -> Result<(Vec<i64>, Vec<Vec<i64>>), MetricsError> {
    let periods = Periods::new(
        day_of_date(query.from),
        day_of_date(query.to),
        query.interval,
    )?;
    let selection = Selection::resolve(facts, query)?;
    let counts = subscriber_counts(facts, query, &selection, &periods, metric.as_str())?;
    let present = |points: &[Point], counts: Option<&Vec<i64>>| -> Vec<i64> {
        points
            .iter()
            .enumerate()
            .map(|(k, point)| {
                let count = counts.and_then(|c| c.get(k)).copied().unwrap_or(0);
                match metric {
                    Metric::Subscribers => count,
                    _ => u64::try_from(count)
                        .ok()
                        .and_then(|n| point.mrr.per(n))
                        .unwrap_or_default()
                        .to_minor(),
                }
            })
            .collect()
    };
    let total = present(&series.points, Some(&counts.total));
    let groups = series
        .groups
        .iter()
        .flatten()
        .map(|group| {
            let index = selection.group_keys.iter().position(|k| *k == group.key);
            present(&group.points, index.and_then(|i| counts.groups.get(i)))
        })
        .collect();
    Ok((total, groups))
}

fn bare(point: &Point, value: MetricValue) -> MetricPoint {
    MetricPoint {
        period_start: point.period_start,
        period_end: point.period_end,
        value,
        movements: None,
        customer_movements: None,
        count: None,
        amount: None,
        converted: None,
        flows: None,
        compared: None,
    }
}

fn mrr_point(metric: Metric, point: &Point, ltv: Option<i64>) -> MetricPoint {
    let money = |m: super::money::Mrr| MetricValue::Money(m.to_minor());
    let value = match metric {
        Metric::Mrr => money(point.mrr),
        // 12 × the served MRR: the two served numbers agree exactly.
        Metric::Arr => MetricValue::Money(point.mrr.to_minor() * 12),
        Metric::MrrMovements => money(point.net),
        Metric::Customers => MetricValue::Count(point.customers),
        Metric::CustomerChurnRate => MetricValue::Ratio(customer_churn_rate(point)),
        Metric::RevenueChurnRate => MetricValue::Ratio(revenue_churn_rate(point)),
        Metric::Nrr => MetricValue::Ratio(nrr(point)),
        Metric::Grr => MetricValue::Ratio(grr(point)),
        Metric::Arpu => money(arpu(point).unwrap_or_default()),
        Metric::QuickRatio => MetricValue::Ratio(quick_ratio(point)),
        Metric::NetMrrChurnRate => MetricValue::Ratio(net_mrr_churn_rate(point)),
        Metric::AverageSalePrice => money(average_sale_price(point).unwrap_or_default()),
        Metric::CustomerMovements => MetricValue::Count(point.customers - point.start_customers),
        // Computed beside the series (`per_subscriber`), like LTV.
        Metric::Subscribers => MetricValue::Count(ltv.unwrap_or_default()),
        _ => MetricValue::Money(ltv.unwrap_or_default()),
    };
    let mut presented = bare(point, value);
    if metric == Metric::MrrMovements {
        let movements = present_movements(point);
        presented.value = MetricValue::Money(movements.net);
        presented.movements = Some(movements);
    }
    if metric == Metric::CustomerMovements {
        presented.customer_movements = Some(CustomerMovements {
            start_customers: point.start_customers,
            customers: point.customers,
            new: point.new_customers,
            expansion: point.expansions,
            contraction: point.contractions,
            churn: point.churns,
            reactivation: point.reactivated_customers,
            net: point.customers - point.start_customers,
        });
    }
    presented
}

/// A `plan_flows` point: its value is the sum of its flows as served, so the served
/// integers add up.
fn flow_point(periods: &Periods, index: usize, flows: Vec<PlanFlow>) -> MetricPoint {
    let flows: Vec<PlanFlowMinor> = flows
        .into_iter()
        .map(|f| PlanFlowMinor {
            from: f.from,
            to: f.to,
            switches: f.switches,
            mrr: f.mrr.to_minor(),
        })
        .collect();
    let start = periods
        .starts
        .get(index)
        .copied()
        .unwrap_or(periods.last_day);
    MetricPoint {
        period_start: super::calendar::date_of_day(start),
        period_end: super::calendar::date_of_day(periods.end_of(index)),
        value: MetricValue::Money(flows.iter().map(|f| f.mrr).sum()),
        movements: None,
        customer_movements: None,
        count: None,
        amount: None,
        converted: None,
        flows: Some(flows),
        compared: None,
    }
}

fn event_point(kind: EventMetric, point: &EventPoint) -> MetricPoint {
    let ratio = (point.count > 0).then(|| point.converted as f64 / point.count as f64);
    let (value, amount, converted) = match kind {
        EventMetric::TrialConversion => (MetricValue::Ratio(ratio), None, Some(point.converted)),
        _ => {
            let amount = point.amount.to_minor();
            (MetricValue::Money(amount), Some(amount), None)
        }
    };
    MetricPoint {
        period_start: point.period_start,
        period_end: point.period_end,
        value,
        movements: None,
        customer_movements: None,
        count: Some(point.count),
        amount,
        converted,
        flows: None,
        compared: None,
    }
}

/// A period's movements in minor units such that the served integers add up exactly:
/// `start_mrr + net == mrr` and `start_mrr + new + expansion + reactivation −
/// contraction − churn + plan_switch == mrr`. Start and end are rounded once (so a
/// period's start is the previous period's end); each movement is rounded, and what
/// the roundings leave over (a few minor units at most) goes to the largest movement.
pub(crate) fn present_movements(point: &Point) -> MovementsMinor {
    let start = point.start_mrr.to_minor();
    let end = point.mrr.to_minor();
    let net = end - start;
    let parts = [
        (1i64, point.new),
        (1, point.expansion),
        (1, point.reactivation),
        (-1, point.contraction),
        (-1, point.churn),
        (1, point.plan_switch),
    ];
    let rounded: Vec<i64> = parts.iter().map(|(_, m)| m.to_minor()).collect();
    let sum: i64 = parts
        .iter()
        .zip(&rounded)
        .map(|((sign, _), r)| sign * r)
        .sum();
    let residue = net - sum;
    let mut values = rounded;
    if residue != 0 {
        // Non-zero here means some movement is: start and end of a period without
        // movement are the same exact value, rounded alike.
        let largest = (0..parts.len())
            .max_by_key(|i| parts[*i].1.micros().abs())
            .unwrap_or(0);
        values[largest] += parts[largest].0 * residue;
    }
    MovementsMinor {
        start_mrr: start,
        mrr: end,
        new: values[0],
        expansion: values[1],
        reactivation: values[2],
        contraction: values[3],
        churn: values[4],
        plan_switch: values[5],
        net,
    }
}
