//! The bodies of the metrics routes: the summary and one metric as a series.
//!
//! Money is integer minor units of the reply's `currency`; ratios are numbers, null
//! when their base is empty.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::billing::SubscriptionStatus;
use crate::domain::metrics::{
    Compare, Compared, Comparison, Metric, MetricGroup, MetricPoint as PointView,
    MetricSeries as SeriesView, MetricValue, MrrPolicy as PolicyView, PausedCollection,
    SeriesInterval, Summary, UnconvertedMinor, UnpaidChurnFrom,
};
use crate::services::analytics_query::Suppression;

/// A currency left out of converted figures for want of an exchange rate, with its own
/// amount in its minor units: `mrr` (MRR at the end of the range) or `amount` (the
/// events' amount). Revenue is never dropped silently.
#[derive(Serialize, ToSchema)]
pub struct Unconverted {
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub mrr: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub amount: Option<i64>,
}

impl From<UnconvertedMinor> for Unconverted {
    fn from(u: UnconvertedMinor) -> Self {
        Self {
            currency: u.currency,
            mrr: u.mrr,
            amount: u.amount,
        }
    }
}

fn unconverted(list: Vec<UnconvertedMinor>) -> Vec<Unconverted> {
    list.into_iter().map(Unconverted::from).collect()
}

/// One summary figure as it was on the compared day, and the change since.
#[derive(Serialize, ToSchema)]
pub struct FigureChange {
    /// The earlier figure (money in minor units, a count, or a ratio).
    #[schema(value_type = Option<f64>, required = true)]
    pub value: PointValue,
    /// Now − earlier; null when either ratio is.
    #[schema(value_type = Option<f64>, required = true)]
    pub change: PointValue,
    /// (now − earlier) ÷ |earlier|; null when the earlier figure is 0 or null.
    #[schema(required = true)]
    pub relative_change: Option<f64>,
}

impl FigureChange {
    fn of(now: MetricValue, earlier: MetricValue) -> Self {
        let (change, relative_change) = crate::domain::metrics::change(now, earlier);
        Self {
            value: earlier.into(),
            change: change.into(),
            relative_change,
        }
    }
}

/// The summary's figures on the compared day (`compare=`).
#[derive(Serialize, ToSchema)]
pub struct SummaryComparison {
    pub compare: Compare,
    /// A month (`previous`) or a year (`year`) before the summary's `as_of`.
    pub as_of: NaiveDate,
    pub rates_from: NaiveDate,
    pub rates_to: NaiveDate,
    pub mrr: FigureChange,
    pub arr: FigureChange,
    pub customers: FigureChange,
    pub arpu: FigureChange,
    pub ltv: FigureChange,
    pub customer_churn_rate: FigureChange,
    pub revenue_churn_rate: FigureChange,
    pub nrr: FigureChange,
    pub quick_ratio: FigureChange,
    pub net_mrr_churn_rate: FigureChange,
}

/// How MRR is measured.
#[derive(Serialize, ToSchema)]
pub struct MrrPolicy {
    pub name: String,
    /// Statuses whose current state counts.
    pub statuses: Vec<SubscriptionStatus>,
    pub exclude_trials: bool,
    pub exclude_metered: bool,
    pub forever_coupons_only: bool,
    /// false (Stripe Billing) churns a cancellation at period end when it was requested.
    pub count_until_period_end_when_cancel_at_period_end: bool,
    pub unpaid_churn_from: UnpaidChurnFrom,
    /// Whether a subscription whose collection is paused (`pause_collection`) is
    /// recurring revenue meanwhile.
    pub paused_collection: PausedCollection,
}

impl From<PolicyView> for MrrPolicy {
    fn from(p: PolicyView) -> Self {
        Self {
            name: p.name,
            statuses: p.statuses,
            exclude_trials: p.exclude_trials,
            exclude_metered: p.exclude_metered,
            forever_coupons_only: p.forever_coupons_only,
            count_until_period_end_when_cancel_at_period_end: p
                .count_until_period_end_when_cancel_at_period_end,
            unpaid_churn_from: p.unpaid_churn_from,
            paused_collection: p.paused_collection,
        }
    }
}

/// MRR, ARR, customers and ARPU at the end of `as_of`; churn rates and NRR of the last
/// complete calendar month (`rates_from`..`rates_to`); LTV.
#[derive(Serialize, ToSchema)]
pub struct MetricsSummary {
    pub as_of: NaiveDate,
    pub currency: String,
    /// Minor units of `currency`.
    pub mrr: i64,
    pub arr: i64,
    pub customers: i64,
    pub arpu: i64,
    #[schema(required = true)]
    pub customer_churn_rate: Option<f64>,
    #[schema(required = true)]
    pub revenue_churn_rate: Option<f64>,
    #[schema(required = true)]
    pub nrr: Option<f64>,
    /// (new + expansion + reactivation) ÷ (contraction + churn) of the rates' month;
    /// null when nothing was lost.
    #[schema(required = true)]
    pub quick_ratio: Option<f64>,
    /// (churn + contraction − expansion − reactivation) ÷ start MRR of the rates' month.
    #[schema(required = true)]
    pub net_mrr_churn_rate: Option<f64>,
    pub ltv: i64,
    /// First day of the month the rates are measured over.
    pub rates_from: NaiveDate,
    pub rates_to: NaiveDate,
    pub unconverted: Vec<Unconverted>,
    /// The name of the definition behind each figure, by concept.
    pub definitions: BTreeMap<String, String>,
    pub policy: MrrPolicy,
    /// With `compare=`: the same figures a month (`previous`) or a year (`year`) before
    /// `as_of`, and the change to each.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub comparison: Option<SummaryComparison>,
    /// When the snapshot the figures come from was built.
    pub data_as_of: DateTime<Utc>,
    /// Viewers only: the filters cover fewer customers than the tenant's
    /// `min_group_size`; every figure is 0 or null.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(required = false)]
    pub suppressed: bool,
}

impl MetricsSummary {
    /// Leaves out what `suppression` says a viewer may not see.
    pub fn suppressed(mut self, suppression: &Suppression) -> Self {
        if suppression.all {
            (self.mrr, self.arr, self.customers, self.arpu, self.ltv) = (0, 0, 0, 0, 0);
            self.customer_churn_rate = None;
            self.revenue_churn_rate = None;
            self.nrr = None;
            self.quick_ratio = None;
            self.net_mrr_churn_rate = None;
            self.unconverted.clear();
            self.comparison = None;
            self.suppressed = true;
        }
        self
    }

    /// Adds the figures of `earlier` (the summary as of the compared day) and the
    /// change to each.
    pub fn compared(mut self, compare: Compare, earlier: &Summary) -> Self {
        let whole = |now: i64, then: i64| {
            FigureChange::of(MetricValue::Money(now), MetricValue::Money(then))
        };
        // A count, not money (the CSV download writes money in major units).
        let count = |now: i64, then: i64| {
            FigureChange::of(MetricValue::Count(now), MetricValue::Count(then))
        };
        let ratio = |now: Option<f64>, then: Option<f64>| {
            FigureChange::of(MetricValue::Ratio(now), MetricValue::Ratio(then))
        };
        self.comparison = Some(SummaryComparison {
            compare,
            as_of: earlier.as_of,
            rates_from: earlier.rates_from,
            rates_to: earlier.rates_to,
            mrr: whole(self.mrr, earlier.mrr),
            arr: whole(self.arr, earlier.arr),
            customers: count(self.customers, earlier.customers),
            arpu: whole(self.arpu, earlier.arpu),
            ltv: whole(self.ltv, earlier.ltv),
            customer_churn_rate: ratio(self.customer_churn_rate, earlier.customer_churn_rate),
            revenue_churn_rate: ratio(self.revenue_churn_rate, earlier.revenue_churn_rate),
            nrr: ratio(self.nrr, earlier.nrr),
            quick_ratio: ratio(self.quick_ratio, earlier.quick_ratio),
            net_mrr_churn_rate: ratio(self.net_mrr_churn_rate, earlier.net_mrr_churn_rate),
        });
        self
    }

    pub fn new(s: Summary, policy: PolicyView, data_as_of: DateTime<Utc>) -> Self {
        Self {
            as_of: s.as_of,
            currency: s.currency,
            mrr: s.mrr,
            arr: s.arr,
            customers: s.customers,
            arpu: s.arpu,
            customer_churn_rate: s.customer_churn_rate,
            revenue_churn_rate: s.revenue_churn_rate,
            nrr: s.nrr,
            quick_ratio: s.quick_ratio,
            net_mrr_churn_rate: s.net_mrr_churn_rate,
            ltv: s.ltv,
            rates_from: s.rates_from,
            rates_to: s.rates_to,
            unconverted: unconverted(s.unconverted),
            definitions: s
                .definitions
                .into_iter()
                .map(|(concept, name)| (concept.to_owned(), name.to_owned()))
                .collect(),
            policy: policy.into(),
            comparison: None,
            data_as_of,
            suppressed: false,
        }
    }
}

/// A point's headline value: money in minor units, a count, or a ratio. Money and
/// counts are the same JSON integer; they stay apart here for the CSV download, which
/// writes money in major units.
#[derive(Serialize)]
#[serde(untagged)]
pub enum PointValue {
    Money(i64),
    Count(i64),
    Ratio(Option<f64>),
}

/// One period. `mrr_movements` points carry `start_mrr, mrr, new, expansion,
/// contraction, churn, reactivation, plan_switch, net` (money); `customer_movements`
/// points `start_customers, customers, new, expansion, contraction, churn, reactivation,
/// net` (counts); `refunds` and `failed_payments` points `count, amount`;
/// `trial_conversion` points `count, converted`.
#[derive(Serialize, ToSchema)]
pub struct MetricPoint {
    pub period_start: NaiveDate,
    /// Last day, inclusive (the query's `to` for a partial last period).
    pub period_end: NaiveDate,
    /// Money (integer minor units), a count (integer), or a ratio (null when its base is
    /// empty).
    #[schema(value_type = Option<f64>, required = true)]
    pub value: PointValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub start_mrr: Option<i64>,
    /// `customer_movements`: paying customers at the period's start.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub start_customers: Option<i64>,
    /// `customer_movements`: paying customers at the period's end.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub customers: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub mrr: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub new: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub expansion: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub contraction: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub churn: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reactivation: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub plan_switch: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub net: Option<i64>,
    /// Events (refunds, failed payments, ended trials) in the period.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub amount: Option<i64>,
    /// Trials ended in the period that converted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub converted: Option<u64>,
    /// `plan_flows`: the MRR that moved from one plan to another in the period,
    /// largest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub flows: Option<Vec<PlanFlow>>,
    /// With `compare=`: the point's counterpart in the earlier range.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub compared: Option<ComparedPoint>,
}

/// MRR that moved from one plan to another (`plan_flows`).
#[derive(Serialize, ToSchema)]
pub struct PlanFlow {
    pub from: String,
    pub to: String,
    /// Customer-days on which a customer's MRR moved from `from` to `to`.
    pub switches: u64,
    /// Minor units of the reply's currency.
    pub mrr: i64,
}

/// A point's counterpart in the compared range and the change to it.
#[derive(Serialize, ToSchema)]
pub struct ComparedPoint {
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// The earlier value, as `value`.
    #[schema(value_type = Option<f64>, required = true)]
    pub value: PointValue,
    /// value − the earlier value (money, a count, or a ratio's difference; null when
    /// either ratio is).
    #[schema(value_type = Option<f64>, required = true)]
    pub change: PointValue,
    /// (value − earlier) ÷ |earlier|; null when the earlier value is 0 or null.
    #[schema(required = true)]
    pub relative_change: Option<f64>,
}

impl From<Compared> for ComparedPoint {
    fn from(c: Compared) -> Self {
        Self {
            period_start: c.period_start,
            period_end: c.period_end,
            value: c.value.into(),
            change: c.change.into(),
            relative_change: c.relative_change,
        }
    }
}

impl From<MetricValue> for PointValue {
    fn from(value: MetricValue) -> Self {
        match value {
            MetricValue::Money(v) => PointValue::Money(v),
            MetricValue::Count(v) => PointValue::Count(v),
            MetricValue::Ratio(r) => PointValue::Ratio(r),
        }
    }
}

/// The range a reply was compared with (`compare=`).
#[derive(Serialize, ToSchema)]
pub struct SeriesComparison {
    pub compare: Compare,
    pub from: NaiveDate,
    /// Inclusive.
    pub to: NaiveDate,
}

impl From<PointView> for MetricPoint {
    fn from(p: PointView) -> Self {
        let value = p.value.into();
        let m = p.movements;
        let c = p.customer_movements;
        // Counts fit an i64 (they are bounded by the facts' length).
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let either = |money: Option<i64>, counted: Option<u64>| money.or(counted.map(count));
        Self {
            period_start: p.period_start,
            period_end: p.period_end,
            value,
            start_mrr: m.map(|m| m.start_mrr),
            start_customers: c.map(|c| c.start_customers),
            customers: c.map(|c| c.customers),
            mrr: m.map(|m| m.mrr),
            new: either(m.map(|m| m.new), c.map(|c| c.new)),
            expansion: either(m.map(|m| m.expansion), c.map(|c| c.expansion)),
            contraction: either(m.map(|m| m.contraction), c.map(|c| c.contraction)),
            churn: either(m.map(|m| m.churn), c.map(|c| c.churn)),
            reactivation: either(m.map(|m| m.reactivation), c.map(|c| c.reactivation)),
            plan_switch: m.map(|m| m.plan_switch),
            net: m.map(|m| m.net).or(c.map(|c| c.net)),
            count: p.count,
            amount: p.amount,
            converted: p.converted,
            flows: p.flows.map(|flows| {
                flows
                    .into_iter()
                    .map(|f| PlanFlow {
                        from: f.from,
                        to: f.to,
                        switches: f.switches,
                        mrr: f.mrr,
                    })
                    .collect()
            }),
            compared: p.compared.map(ComparedPoint::from),
        }
    }
}

fn points(series: Vec<PointView>) -> Vec<MetricPoint> {
    series.into_iter().map(MetricPoint::from).collect()
}

#[derive(Serialize, ToSchema)]
pub struct MetricGroupSeries {
    pub key: String,
    pub series: Vec<MetricPoint>,
    /// Viewers only: the group covers fewer customers than the tenant's
    /// `min_group_size`; its series is left empty.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(required = false)]
    pub suppressed: bool,
}

/// One metric as a series; with `group_by`, also one series per value.
#[derive(Serialize, ToSchema)]
pub struct MetricSeries {
    pub metric: Metric,
    /// The name of the definition used.
    pub definition: String,
    pub interval: SeriesInterval,
    pub currency: String,
    pub series: Vec<MetricPoint>,
    /// With `group_by` only; sorted by key.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub groups: Option<Vec<MetricGroupSeries>>,
    pub unconverted: Vec<Unconverted>,
    /// With `compare=`: the range each point's `compared` comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub comparison: Option<SeriesComparison>,
    /// When the snapshot the figures come from was built.
    pub data_as_of: DateTime<Utc>,
    /// Viewers only: the filters cover fewer customers than the tenant's
    /// `min_group_size`; no figure is given.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(required = false)]
    pub suppressed: bool,
}

impl MetricSeries {
    /// Says which range the points' `compared` come from.
    pub fn compared(mut self, comparison: Comparison) -> Self {
        self.comparison = Some(SeriesComparison {
            compare: comparison.compare,
            from: comparison.from,
            to: comparison.to,
        });
        self
    }

    /// Leaves out what `suppression` says a viewer may not see.
    pub fn suppressed(mut self, suppression: &Suppression) -> Self {
        if suppression.all {
            self.series.clear();
            self.unconverted.clear();
            self.suppressed = true;
        }
        for group in self.groups.iter_mut().flatten() {
            if suppression.hides_group(&group.key) {
                group.series.clear();
                group.suppressed = true;
            }
        }
        self
    }

    pub fn new(s: SeriesView, data_as_of: DateTime<Utc>) -> Self {
        let group = |g: MetricGroup| MetricGroupSeries {
            key: g.key,
            series: points(g.series),
            suppressed: false,
        };
        Self {
            metric: s.metric,
            definition: s.definition.to_owned(),
            interval: s.interval,
            currency: s.currency,
            series: points(s.series),
            groups: s.groups.map(|g| g.into_iter().map(group).collect()),
            unconverted: unconverted(s.unconverted),
            comparison: None,
            data_as_of,
            suppressed: false,
        }
    }
}
