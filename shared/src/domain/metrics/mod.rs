//! The metrics engine: MRR, movements, rates, customer profiles, loyalty and risk.
//! Pure domain code: no I/O, no clock (callers pass `as_of`), exact money.
//!
//! The flow:
//! 1. [`facts_from_records`] turns an integration's billing records into compact
//!    [`Facts`] once (at ingestion): each subscription becomes an MRR timeline per plan
//!    ([`subscription_timeline`]), summed per customer into end-of-day
//!    [`MrrChange`]s; plus payments, refunds, ended trials and customer dimensions.
//! 2. Queries run on the facts: [`mrr_series`] walks the changes once and yields MRR and
//!    movements per period and group; [`metric_series`] presents each metric of the API
//!    (`mrr, arr, mrr_movements, customers, customer_churn_rate, revenue_churn_rate,
//!    nrr, grr, arpu, ltv, refunds, failed_payments, trial_conversion`); [`summary`].
//! 3. Per-customer views run on the records: [`customer_profiles`], [`rfm_scores`]
//!    and [`segments`], [`payment_failure_risks`], [`churn_risks`].
//!
//! Money is [`Mrr`]: millionths of a minor unit in an `i128`. Every choice is a named
//! value: [`MrrPolicy`] (configurable, default Stripe Billing's) and [`DEFINITIONS`].

mod calendar;
mod churn_risk;
mod cohort_walk;
mod cohorts;
mod compare;
mod coverage;
mod customer_mrr;
mod customers;
mod dimensions;
mod discounts;
mod ending;
mod facts;
mod forecast;
mod from_records;
mod fx;
mod history;
mod metric;
mod money;
mod movements;
mod payment_risk;
mod payments;
mod plan_flows;
mod policy;
mod pricing;
mod rates;
mod records;
mod rfm;
mod series;
mod slice;
mod spans;
mod subscribers;
mod summary;
mod timeline;
mod trials;
mod walk;

#[cfg(test)]
mod tests;

pub use calendar::{SeriesInterval, date_of_day, day_end, day_of, day_of_date};
pub use churn_risk::{CHURN_RISK_WINDOW_DAYS, ChurnRisk, ChurnRiskFactor, churn_risks};
pub use cohorts::{
    Cohort, CohortGroup, CohortInterval, CohortPeriod, CohortQuery, CohortTable, cohorts,
};
pub use compare::{
    Compare, Compared, Comparison, change, compared_day, compared_range, compared_series,
};
pub use coverage::{Coverage, coverage, slice_coverage};
pub use customer_mrr::customer_mrr;
pub use customers::{CustomerProfile, PaymentSummary, SubscriptionSummary, customer_profiles};
pub use dimensions::{
    CustomerDims, Dimension, Filter, UNKNOWN_KEY, customer_passes, dimension_values,
};
pub use facts::{
    CustomerFacts, Facts, MrrChange, NO_CUSTOMER, PaymentFact, PaymentKind, SubscriberSpan,
    TrialFact,
};
pub use forecast::{
    BAND_Z, FORECAST_MODEL, Forecast, ForecastMonth, ForecastQuery, ForecastRates, HistoryMonth,
    TrailingMonth, forecast, forecast_start, project,
};
pub use from_records::facts_from_records;
pub use fx::{ConversionFactor, DailyRates, FxRates, FxSource, RATE_SCALE};
pub use history::plan_name;
pub use metric::{
    CustomerMovements, Metric, MetricGroup, MetricPoint, MetricSeries, MetricValue, MovementsMinor,
    PlanFlowMinor, UnconvertedMinor, metric_series,
};
pub use money::{MICROS_PER_MINOR, Mrr, major_units, minor_unit_exponent};
pub use payment_risk::{CardExpiry, PaymentFailureRisk, payment_failure_risks};
pub use payments::{EventMetric, EventPoint, EventSeries, event_series};
pub use plan_flows::{PlanFlow, plan_flows_of};
pub use policy::{
    DEFINITIONS, Definition, MrrPolicy, PausedCollection, UnpaidChurnFrom, definition,
};
pub use rates::{
    LTV_MAX_LIFETIME_MONTHS, LTV_TRAILING_MONTHS, arpu, arr, average_sale_price,
    customer_churn_rate, grr, net_mrr_churn_rate, nrr, quick_ratio, revenue_churn_rate,
};
pub use records::{BillingData, OwnerIndex, RecordGroups, RecordSet};
pub use rfm::{Loyalty, RfmSegment, SegmentSummary, rfm_scores, segments};
pub use series::{CurrencyMode, GroupSeries, Point, Series, SeriesQuery, Unconverted, mrr_series};
pub use slice::{CustomerMask, Slice};
pub use spans::Span;
pub use summary::{Summary, summary};
pub use timeline::{Segment, SubscriptionTimeline, subscription_timeline};

/// What a metrics request can get wrong. Each maps to a 400 (`unknown_metric`,
/// `unknown_dimension`, otherwise `invalid_request`), except `InvalidFacts` (stored data
/// that fails its checks: an internal error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    #[error("unknown metric `{0}`")]
    UnknownMetric(String),
    #[error("unknown dimension `{0}`")]
    UnknownDimension(String),
    #[error("unknown interval `{0}`: use day, week, month, quarter or year")]
    UnknownInterval(String),
    #[error("the range must start on or before its end and span at most about 30 years")]
    InvalidRange,
    #[error("no exchange rate stored for `{0}`")]
    MissingFxRate(String),
    #[error("the exchange rate for `{0}` must be a positive number")]
    InvalidFxRate(String),
    #[error("`{dimension}` does not apply to the metric `{metric}`")]
    DimensionNotApplicable {
        metric: &'static str,
        dimension: Dimension,
    },
    #[error("stored metrics facts are inconsistent: {0}")]
    InvalidFacts(&'static str),
}
