//! The `query` function's cohort and forecast routes (docs/api.md, "Cohorts" and
//! "Forecast"): static paths beside `/v1/metrics/{name}`. Every role may read them; as
//! on the other aggregate routes, viewers not `city`, and not the figures of a filter,
//! group or cohort of fewer customers than the tenant's k (`Analytics::suppression`).

use std::sync::Arc;

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::QueryState;
use super::analytics::{Sliced, sliced};
use super::analytics_params::{
    AsOf, CohortPeriod, DateRange, Filters, ForecastSpan, GroupBy, RequestedCurrency, Segment,
};
use super::download::Negotiated;
use super::dto::cohorts::CohortTriangle;
use super::dto::forecast::ForecastReply;
use super::error::ApiError;
use super::negotiate::ReplyFormat;
use super::responses::{
    AnalyticsForbidden, AnalyticsInvalid, NoDataYet, NotAcceptable, SegmentNotFound,
    Unauthenticated,
};
use super::session::{Aggregates, Authorized};
use crate::domain::metrics::{CohortQuery, ForecastQuery, cohorts, definition, forecast};
use crate::services::contexts::Analytics;

pub fn routes() -> OpenApiRouter<QueryState> {
    OpenApiRouter::new()
        .routes(routes!(metric_cohorts))
        .routes(routes!(metric_forecast))
}

/// Cohort retention triangles
///
/// Customers grouped by the month (or quarter) of their first payment (the first day
/// their MRR becomes positive); for each later period, the members still paying
/// (`logo_retention`) and their MRR against the cohort's first-period MRR
/// (`revenue_retention`, expansion included). `from`..`to` selects the cohorts (default
/// the last 12 months); offsets run up to `to`. With `group_by`, one triangle per value.
#[utoipa::path(
    get, path = "/v1/metrics/cohorts", tag = "analytics", operation_id = "getCohorts",
    params(DateRange, CohortPeriod, RequestedCurrency, GroupBy, Filters, Segment, ReplyFormat),
    responses(
        (status = 200, description = "The triangles (as CSV: one row per cohort and offset).",
            content((CohortTriangle = "application/json"), (String = "text/csv"))),
        (status = 400, response = AnalyticsInvalid),
        (status = 401, response = Unauthenticated),
        (status = 403, response = AnalyticsForbidden),
        (status = 404, response = SegmentNotFound),
        (status = 406, response = NotAcceptable),
        (status = 409, response = NoDataYet),
    )
)]
#[allow(clippy::too_many_arguments)] // One extractor per parameter: the signature is the contract.
async fn metric_cohorts(
    State(app): State<Arc<Analytics>>,
    who: Authorized<Aggregates>,
    Filters { filter: filters }: Filters,
    Segment { segment }: Segment,
    GroupBy { group_by }: GroupBy,
    CohortPeriod { interval }: CohortPeriod,
    range: DateRange,
    RequestedCurrency { currency }: RequestedCurrency,
    format: ReplyFormat,
) -> Result<Negotiated<CohortTriangle>, ApiError> {
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
    let query = CohortQuery {
        from,
        to,
        interval,
        currency,
        filters: slice.filters,
        customers: slice.customers,
        group_by,
    };
    let table = cohorts(&snapshot.facts, &query)?;
    let name = definition("cohorts").map_or("", |d| d.name);
    Ok(format.reply(CohortTriangle::new(
        table,
        name,
        snapshot.built_at,
        &suppression,
    )))
}

/// MRR and customers forecast
///
/// The model `trailing_movement_rates_v1`: the mean movements of the last `trailing`
/// complete months (new and reactivation MRR per month; expansion, contraction and
/// churn as rates of start MRR; new and reactivated customers; customer churn rate),
/// applied month by month from the last complete month at `as_of`. The band is
/// `point × (1 ∓ z·σ·√(h·(1 + h/n)))` at horizon h, σ the spread of the model's
/// one-month errors on the n trailing months, z = 1.645 (about 90 %).
#[utoipa::path(
    get, path = "/v1/metrics/forecast", tag = "analytics", operation_id = "getForecast",
    params(AsOf, ForecastSpan, RequestedCurrency, Filters, Segment, ReplyFormat),
    responses(
        (status = 200, description = "The forecast (as CSV: the trailing months, then the forecast months).",
            content((ForecastReply = "application/json"), (String = "text/csv"))),
        (status = 400, response = AnalyticsInvalid),
        (status = 401, response = Unauthenticated),
        (status = 403, response = AnalyticsForbidden),
        (status = 404, response = SegmentNotFound),
        (status = 406, response = NotAcceptable),
        (status = 409, response = NoDataYet),
    )
)]
#[allow(clippy::too_many_arguments)] // One extractor per parameter: the signature is the contract.
async fn metric_forecast(
    State(app): State<Arc<Analytics>>,
    who: Authorized<Aggregates>,
    Filters { filter: filters }: Filters,
    Segment { segment }: Segment,
    AsOf { as_of }: AsOf,
    ForecastSpan { months, trailing }: ForecastSpan,
    RequestedCurrency { currency }: RequestedCurrency,
    format: ReplyFormat,
) -> Result<Negotiated<ForecastReply>, ApiError> {
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
        None,
        currency.as_ref(),
    )
    .await?;
    let as_of = as_of.unwrap_or_else(|| app.now().date_naive());
    let query = ForecastQuery {
        as_of,
        months,
        trailing,
        currency,
        filters: slice.filters,
        customers: slice.customers,
    };
    let result = forecast(&snapshot.facts, &query)?;
    let description = definition("forecast").map_or("", |d| d.rule);
    Ok(format.reply(ForecastReply::new(
        result,
        trailing,
        description,
        snapshot.built_at,
        &suppression,
    )))
}
