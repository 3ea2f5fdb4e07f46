//! The `query` function's aggregate routes (docs/api.md, "query function"): the
//! metrics summary and series, the dimensions' values and the segments. Every role may
//! read them; viewers not the `city` dimension, and not the figures of a filter, group
//! or segment of fewer customers than the tenant's k (`Analytics::suppression`).

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::QueryState;
use super::analytics::{Sliced, loaded, sliced};
use super::analytics_params::{
    AsOf, CompareTo, DateRange, Filters, GroupBy, Interval, MetricName, RequestedCurrency, Segment,
};
use super::download::Negotiated;
use super::dto::analytics::{DimensionValues, SegmentEntry, SegmentList};
use super::dto::metrics::{MetricSeries, MetricsSummary};
use super::error::ApiError;
use super::negotiate::ReplyFormat;
use super::responses::{
    AnalyticsForbidden, AnalyticsInvalid, InvalidRequest, NoDataYet, NotAcceptable,
    SegmentNotFound, SessionForbidden, Unauthenticated,
};
use super::session::{Aggregates, Authorized};
use crate::domain::metrics::{
    MrrPolicy, SeriesQuery, compared_day, compared_series, dimension_values, metric_series, summary,
};
use crate::services::analytics_query::dimension_visible;
use crate::services::contexts::Analytics;
use std::sync::Arc;

pub fn routes() -> OpenApiRouter<QueryState> {
    OpenApiRouter::new()
        .routes(routes!(metrics_summary))
        .routes(routes!(metric))
        .routes(routes!(dimensions))
        .routes(routes!(segments))
}

/// Headline metrics as of a day
///
/// MRR, ARR, customers and ARPU at the end of `as_of`; churn rates and NRR of the last
/// complete calendar month (`rates_from`..`rates_to`); LTV.
#[utoipa::path(
    get, path = "/v1/metrics/summary", tag = "analytics", operation_id = "getMetricsSummary",
    params(AsOf, RequestedCurrency, Filters, Segment, CompareTo, ReplyFormat),
    responses(
        (status = 200, description = "The summary (CSV: one row, and one per unconverted currency).",
            content((MetricsSummary = "application/json"), (String = "text/csv"))),
        (status = 400, response = AnalyticsInvalid),
        (status = 401, response = Unauthenticated),
        (status = 403, response = AnalyticsForbidden),
        (status = 404, response = SegmentNotFound),
        (status = 406, response = NotAcceptable),
        (status = 409, response = NoDataYet),
    )
)]
#[allow(clippy::too_many_arguments)] // One extractor per parameter: the signature is the contract.
async fn metrics_summary(
    State(app): State<Arc<Analytics>>,
    who: Authorized<Aggregates>,
    Filters { filter: filters }: Filters,
    Segment { segment }: Segment,
    AsOf { as_of }: AsOf,
    RequestedCurrency { currency }: RequestedCurrency,
    CompareTo { compare }: CompareTo,
    format: ReplyFormat,
) -> Result<Negotiated<MetricsSummary>, ApiError> {
    let Sliced {
        snapshot,
        slice,
        suppression,
        currency: mode,
    } = sliced(
        &app,
        &who.ctx,
        segment.as_ref(),
        filters,
        None,
        currency.as_ref(),
    )
    .await?;
    let as_of = as_of.unwrap_or_else(|| app.now().date_naive());
    let earlier = match compare {
        Some(compare) => {
            let day = compared_day(as_of, compare)?;
            let earlier = summary(&snapshot.facts, day, mode.clone(), slice.clone())?;
            Some((compare, earlier))
        }
        None => None,
    };
    let mut reply = MetricsSummary::new(
        summary(&snapshot.facts, as_of, mode, slice)?,
        MrrPolicy::default(),
        snapshot.built_at,
    );
    if let Some((compare, earlier)) = &earlier {
        reply = reply.compared(*compare, earlier);
    }
    Ok(format.reply(reply.suppressed(&suppression)))
}

/// One metric as a series
///
/// `series: [{period_start, period_end, value, ...}]`; `value` is money in minor units,
/// a count, or a ratio (null when its base is empty). `mrr_movements` points carry
/// `start_mrr, mrr, new, expansion, contraction, churn, reactivation, plan_switch,
/// net`; `customer_movements` points `start_customers, customers` and the movements by
/// count; `refunds` and `failed_payments` points `count, amount`; `trial_conversion`
/// points `count, converted`. With `group_by`, `groups: [{key, series}]`. With
/// `compare=`, each point carries `compared: {period_start, period_end, value, change,
/// relative_change}`.
#[utoipa::path(
    get, path = "/v1/metrics/{name}", tag = "analytics", operation_id = "getMetric",
    params(MetricName, DateRange, Interval, RequestedCurrency, GroupBy, Filters, Segment, CompareTo, ReplyFormat),
    responses(
        (status = 200, description = "The series (CSV: one row per period, per group and period with `group_by`).",
            content((MetricSeries = "application/json"), (String = "text/csv"))),
        (status = 400, response = AnalyticsInvalid),
        (status = 401, response = Unauthenticated),
        (status = 403, response = AnalyticsForbidden),
        (status = 404, response = SegmentNotFound),
        (status = 406, response = NotAcceptable),
        (status = 409, response = NoDataYet),
    )
)]
#[allow(clippy::too_many_arguments)] // One extractor per parameter: the signature is the contract.
async fn metric(
    State(app): State<Arc<Analytics>>,
    who: Authorized<Aggregates>,
    MetricName { name: metric }: MetricName,
    Filters { filter: filters }: Filters,
    Segment { segment }: Segment,
    GroupBy { group_by }: GroupBy,
    Interval { interval }: Interval,
    range: DateRange,
    RequestedCurrency { currency }: RequestedCurrency,
    CompareTo { compare }: CompareTo,
    format: ReplyFormat,
) -> Result<Negotiated<MetricSeries>, ApiError> {
    let Sliced {
        snapshot,
        slice,
        suppression,
        currency,
    } = sliced(
        &app,
        &who.ctx,
        segment.as_ref(),
        filters,
        group_by,
        currency.as_ref(),
    )
    .await?;
    let (from, to) = range.or_default(app.now().date_naive());
    let query = SeriesQuery {
        from,
        to,
        interval,
        currency,
        filters: slice.filters,
        customers: slice.customers,
        group_by,
    };
    let reply = match compare {
        Some(compare) => {
            let (series, comparison) = compared_series(&snapshot.facts, metric, &query, compare)?;
            MetricSeries::new(series, snapshot.built_at).compared(comparison)
        }
        None => MetricSeries::new(
            metric_series(&snapshot.facts, metric, &query)?,
            snapshot.built_at,
        ),
    };
    Ok(format.reply(reply.suppressed(&suppression)))
}

/// Every value of every dimension in the data
///
/// Viewers do not get `city`.
#[utoipa::path(
    get, path = "/v1/dimensions", tag = "analytics", operation_id = "getDimensions",
    params(ReplyFormat),
    responses(
        (status = 200, description = "Values per dimension, sorted (CSV: one row per dimension and value).",
            content((DimensionValues = "application/json"), (String = "text/csv"))),
        (status = 400, response = InvalidRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = SessionForbidden),
        (status = 406, response = NotAcceptable),
        (status = 409, response = NoDataYet),
    )
)]
async fn dimensions(
    State(app): State<Arc<Analytics>>,
    who: Authorized<Aggregates>,
    format: ReplyFormat,
) -> Result<Negotiated<DimensionValues>, ApiError> {
    let snapshot = loaded(&app, who.ctx.tenant()).await?;
    let role = who.ctx.role();
    Ok(format.reply(
        dimension_values(&snapshot.facts)
            .into_iter()
            .filter(|(dimension, _)| dimension_visible(role, *dimension))
            .collect(),
    ))
}

/// RFM segments with their customers and MRR
#[utoipa::path(
    get, path = "/v1/segments", tag = "analytics", operation_id = "getSegments",
    params(ReplyFormat),
    responses(
        (status = 200, description = "The segments (CSV: one row per segment).",
            content((SegmentList = "application/json"), (String = "text/csv"))),
        (status = 400, response = InvalidRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = SessionForbidden),
        (status = 406, response = NotAcceptable),
        (status = 409, response = NoDataYet),
    )
)]
async fn segments(
    State(app): State<Arc<Analytics>>,
    who: Authorized<Aggregates>,
    format: ReplyFormat,
) -> Result<Negotiated<SegmentList>, ApiError> {
    let snapshot = loaded(&app, who.ctx.tenant()).await?;
    let suppression = app
        .suppression(who.ctx.tenant(), who.ctx.role(), &snapshot.facts, &[], None)
        .await?;
    Ok(format.reply(SegmentList {
        segments: snapshot
            .segments
            .iter()
            .map(|s| SegmentEntry::from(s).suppressed(&suppression))
            .collect(),
        currency: snapshot.reporting_currency.clone(),
    }))
}
