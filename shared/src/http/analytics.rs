//! The `query` function's routes (docs/api.md, "query function"): metrics, dimensions,
//! FX rates, the reporting currency, customers, segments and the payment-failure
//! insight. Every route reads the tenant's analytics snapshot, never raw items.
//!
//! Viewers get aggregates only: no per-customer rows, no e-mails, and not the `city`
//! dimension (`services::analytics_query` says which dimension a role may see).

use axum::Json;
use axum::extract::{Path, State};
use chrono::{Datelike, Months};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::analytics_params::{
    AsOf, CustomerListQuery, DateRange, Filters, GroupBy, Interval, MetricName, RequestedCurrency,
};
use super::dto::analytics::{
    DimensionValues, FxRates, FxRatesStored, MetricSeries, MetricsSummary, ReportingCurrency,
    ReportingCurrencyRequest, SegmentEntry, SegmentList,
};
use super::dto::customers::{
    CustomerList, CustomerProfile, CustomerSummary, PaymentFailureRisk, PaymentFailureRiskList,
};
use super::dto::error::ErrorBody;
use super::error::ApiError;
use super::json::ApiJson;
use super::query::{PageRequest, page_in_memory};
use super::responses::{
    AnalyticsForbidden, AnalyticsInvalid, BodyRefused, InvalidRequest, NoDataYet, NotFound,
    RoleForbidden, SessionForbidden, Unauthenticated,
};
use super::session::{AdminOnly, Aggregates, Authorized, CustomerData};
use crate::domain::metrics::{
    MetricsError, MrrPolicy, SeriesQuery, dimension_values, metric_series, summary,
};
use crate::services::ServiceError;
use crate::services::analytics::Snapshot;
use crate::services::analytics_query::{
    RATES_SOURCE, check_dimensions, dimension_visible, normalized_rates,
};
use crate::services::customer_query::{find_customer, select_customers};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(metrics_summary))
        .routes(routes!(metric))
        .routes(routes!(dimensions))
        .routes(routes!(get_fx_rates, put_fx_rates))
        .routes(routes!(get_reporting_currency, put_reporting_currency))
        .routes(routes!(customers))
        .routes(routes!(customer))
        .routes(routes!(segments))
        .routes(routes!(payment_failure_risk))
}

impl From<MetricsError> for ApiError {
    fn from(err: MetricsError) -> Self {
        use axum::http::StatusCode as S;
        match err {
            MetricsError::UnknownMetric(_) => ApiError::rejected(
                S::BAD_REQUEST,
                "unknown_metric",
                "Unknown metric: see API.md for the metric names.",
            ),
            MetricsError::UnknownDimension(_) => ApiError::rejected(
                S::BAD_REQUEST,
                "unknown_dimension",
                "Unknown dimension: use country, city, card_brand, card_funding, payment_method, plan, currency or integration.",
            ),
            MetricsError::InvalidFacts(_) => ApiError::internal(err),
            // Named without the client's value: a message never echoes input.
            MetricsError::UnknownInterval(_) => ApiError::invalid_field(
                "interval",
                "`interval` must be day, week, month, quarter or year.",
            ),
            MetricsError::MissingFxRate(_) => ApiError::invalid_field(
                "currency",
                "No exchange rate is stored for this currency: PUT /v1/settings/fx-rates first.",
            ),
            MetricsError::InvalidFxRate(_) => {
                ApiError::invalid_field("rates", "Every rate must be a positive number.")
            }
            other => ApiError::invalid_request(other.to_string()),
        }
    }
}

/// The tenant's snapshot, or 409 `no_data_yet` before a first sync.
async fn loaded(
    app: &AppState,
    tenant: &crate::domain::ids::TenantId,
) -> Result<std::sync::Arc<Snapshot>, ApiError> {
    match app.snapshot(tenant).await? {
        Some(s) => Ok(s),
        None => Err(ApiError::rejected(
            axum::http::StatusCode::CONFLICT,
            "no_data_yet",
            "No data yet: connect an integration and let its first sync finish.",
        )),
    }
}

/// Headline metrics as of a day
///
/// MRR, ARR, customers and ARPU at the end of `as_of`; churn rates and NRR of the last
/// complete calendar month (`rates_from`..`rates_to`); LTV.
#[utoipa::path(
    get, path = "/v1/metrics/summary", tag = "analytics", operation_id = "getMetricsSummary",
    params(AsOf, RequestedCurrency, Filters),
    responses(
        (status = 200, description = "The summary.", body = MetricsSummary),
        (status = 400, response = AnalyticsInvalid),
        (status = 401, response = Unauthenticated),
        (status = 403, response = AnalyticsForbidden),
        (status = 409, response = NoDataYet),
    )
)]
async fn metrics_summary(
    State(app): State<AppState>,
    who: Authorized<Aggregates>,
    Filters { filter: filters }: Filters,
    AsOf { as_of }: AsOf,
    RequestedCurrency { currency }: RequestedCurrency,
) -> Result<Json<MetricsSummary>, ApiError> {
    check_dimensions(who.ctx.role(), &filters, None)?;
    let as_of = as_of.unwrap_or_else(|| app.adapters.clock.now().date_naive());
    let snapshot = loaded(&app, who.ctx.tenant()).await?;
    let mode = app
        .query_currency(
            who.ctx.tenant(),
            currency.as_ref(),
            &snapshot.reporting_currency,
        )
        .await?;
    let result = summary(&snapshot.facts, as_of, mode, filters)?;
    Ok(Json(MetricsSummary::new(
        result,
        MrrPolicy::default(),
        snapshot.built_at,
    )))
}

/// One metric as a series
///
/// `series: [{period_start, period_end, value, ...}]`; `value` is money in minor units,
/// a count, or a ratio (null when its base is empty). `mrr_movements` points carry
/// `start_mrr, mrr, new, expansion, contraction, churn, reactivation, plan_switch,
/// net`; `refunds` and `failed_payments` points `count, amount`; `trial_conversion`
/// points `count, converted`. With `group_by`, `groups: [{key, series}]`.
#[utoipa::path(
    get, path = "/v1/metrics/{name}", tag = "analytics", operation_id = "getMetric",
    params(MetricName, DateRange, Interval, RequestedCurrency, GroupBy, Filters),
    responses(
        (status = 200, description = "The series.", body = MetricSeries),
        (status = 400, response = AnalyticsInvalid),
        (status = 401, response = Unauthenticated),
        (status = 403, response = AnalyticsForbidden),
        (status = 409, response = NoDataYet),
    )
)]
#[allow(clippy::too_many_arguments)] // One extractor per parameter: the signature is the contract.
async fn metric(
    State(app): State<AppState>,
    who: Authorized<Aggregates>,
    MetricName { name: metric }: MetricName,
    Filters { filter: filters }: Filters,
    GroupBy { group_by }: GroupBy,
    Interval { interval }: Interval,
    DateRange { from, to }: DateRange,
    RequestedCurrency { currency }: RequestedCurrency,
) -> Result<Json<MetricSeries>, ApiError> {
    check_dimensions(who.ctx.role(), &filters, group_by)?;
    let today = app.adapters.clock.now().date_naive();
    let to = to.unwrap_or(today);
    let default_from = to
        .checked_sub_months(Months::new(11))
        .and_then(|d| d.with_day(1))
        .unwrap_or(to);
    let from = from.unwrap_or(default_from);
    let snapshot = loaded(&app, who.ctx.tenant()).await?;
    let query = SeriesQuery {
        from,
        to,
        interval,
        currency: app
            .query_currency(
                who.ctx.tenant(),
                currency.as_ref(),
                &snapshot.reporting_currency,
            )
            .await?,
        filters,
        group_by,
    };
    let series = metric_series(&snapshot.facts, metric, &query)?;
    Ok(Json(MetricSeries::new(series, snapshot.built_at)))
}

/// Every value of every dimension in the data
///
/// Viewers do not get `city`.
#[utoipa::path(
    get, path = "/v1/dimensions", tag = "analytics", operation_id = "getDimensions",
    responses(
        (status = 200, description = "Values per dimension, sorted.", body = DimensionValues),
        (status = 401, response = Unauthenticated),
        (status = 403, response = SessionForbidden),
        (status = 409, response = NoDataYet),
    )
)]
async fn dimensions(
    State(app): State<AppState>,
    who: Authorized<Aggregates>,
) -> Result<Json<DimensionValues>, ApiError> {
    let snapshot = loaded(&app, who.ctx.tenant()).await?;
    let role = who.ctx.role();
    Ok(Json(
        dimension_values(&snapshot.facts)
            .into_iter()
            .filter(|(dimension, _)| dimension_visible(role, *dimension))
            .collect(),
    ))
}

/// The tenant's exchange rates
///
/// `{"base": null, "rates": {}}` until rates are set.
#[utoipa::path(
    get, path = "/v1/settings/fx-rates", tag = "analytics", operation_id = "getFxRates",
    responses(
        (status = 200, description = "The rates.", body = FxRatesStored),
        (status = 401, response = Unauthenticated),
        (status = 403, response = SessionForbidden),
    )
)]
async fn get_fx_rates(
    State(app): State<AppState>,
    who: Authorized<Aggregates>,
) -> Result<Json<FxRatesStored>, ApiError> {
    Ok(Json(app.fx_rates(who.ctx.tenant()).await?.into()))
}

/// Set the tenant's exchange rates (admin)
///
/// Units of each currency per one unit of `base`; codes are stored lower-case.
#[utoipa::path(
    put, path = "/v1/settings/fx-rates", tag = "analytics", operation_id = "putFxRates",
    request_body = FxRates,
    responses(
        (status = 200, description = "The rates as stored.", body = FxRates),
        (status = 400, body = ErrorBody, description = "`invalid_request` (a missing or wrongly \
            typed field, a rate that is not a positive number up to 10⁹)."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        BodyRefused,
    )
)]
async fn put_fx_rates(
    State(app): State<AppState>,
    who: Authorized<AdminOnly>,
    ApiJson(rates): ApiJson<FxRates>,
) -> Result<Json<FxRates>, ApiError> {
    let rates = normalized_rates(rates.into());
    Ok(Json(
        app.set_fx_rates(who.ctx.tenant(), rates).await?.into(),
    ))
}

/// The tenant's reporting currency
///
/// The currency every figure is reported in when a request names none: an admin's
/// choice, else the currency with the largest MRR (compared in euros at the latest ECB
/// rates).
#[utoipa::path(
    get, path = "/v1/settings/reporting-currency", tag = "analytics",
    operation_id = "getReportingCurrency",
    responses(
        (status = 200, description = "The reporting currency.", body = ReportingCurrency),
        (status = 401, response = Unauthenticated),
        (status = 403, response = SessionForbidden),
    )
)]
async fn get_reporting_currency(
    State(app): State<AppState>,
    who: Authorized<Aggregates>,
) -> Result<Json<ReportingCurrency>, ApiError> {
    let view = app.reporting_currency(who.ctx.tenant()).await?;
    Ok(Json(ReportingCurrency {
        currency: view.currency,
        chosen: view.chosen,
        rates: RATES_SOURCE.to_owned(),
    }))
}

/// Choose the reporting currency (admin)
#[utoipa::path(
    put, path = "/v1/settings/reporting-currency", tag = "analytics",
    operation_id = "putReportingCurrency",
    request_body = ReportingCurrencyRequest,
    responses(
        (status = 200, description = "The reporting currency as stored.", body = ReportingCurrency),
        (status = 400, body = ErrorBody, description = "`invalid_request`: not an ISO 4217 code, or a currency no rate converts."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        BodyRefused,
    )
)]
async fn put_reporting_currency(
    State(app): State<AppState>,
    who: Authorized<AdminOnly>,
    ApiJson(body): ApiJson<ReportingCurrencyRequest>,
) -> Result<Json<ReportingCurrency>, ApiError> {
    let code = app
        .set_reporting_currency(who.ctx.tenant(), &body.currency)
        .await?;
    Ok(Json(ReportingCurrency {
        currency: Some(code),
        chosen: true,
        rates: RATES_SOURCE.to_owned(),
    }))
}

/// Customers with MRR, revenue, loyalty and risk (admins and analysts)
#[utoipa::path(
    get, path = "/v1/customers", tag = "analytics", operation_id = "listCustomers",
    params(CustomerListQuery, Filters, PageRequest),
    responses(
        (status = 200, description = "One page of customers.", body = CustomerList),
        (status = 400, response = AnalyticsInvalid),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 409, response = NoDataYet),
    )
)]
async fn customers(
    State(app): State<AppState>,
    who: Authorized<CustomerData>,
    query: CustomerListQuery,
) -> Result<Json<CustomerList>, ApiError> {
    let (page, selection) = query.selection();
    check_dimensions(who.ctx.role(), &selection.filters, None)?;
    let snapshot = loaded(&app, who.ctx.tenant()).await?;
    let rows = select_customers(&snapshot, &selection);
    let (rows, next_cursor) =
        page_in_memory(rows, &page, |r| format!("{}/{}", r.integration, r.id))?;
    Ok(Json(CustomerList {
        data: rows
            .into_iter()
            .map(|row| CustomerSummary::new(row, &snapshot.reporting_currency))
            .collect(),
        next_cursor,
    }))
}

/// One customer's profile (admins and analysts)
#[utoipa::path(
    get, path = "/v1/customers/{id}", tag = "analytics", operation_id = "getCustomer",
    params(("id" = String, Path, description = "The payment processor's customer id (e.g. `cus_…`).")),
    responses(
        (status = 200, description = "The profile.", body = CustomerProfile),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 404, response = NotFound),
        (status = 409, response = NoDataYet),
    )
)]
async fn customer(
    State(app): State<AppState>,
    who: Authorized<CustomerData>,
    Path(id): Path<String>,
) -> Result<Json<CustomerProfile>, ApiError> {
    let snapshot = loaded(&app, who.ctx.tenant()).await?;
    let row = find_customer(&snapshot, &id).ok_or(ApiError::NotFound)?;
    let profile = app
        .customer_profile(who.ctx.tenant(), &row.integration, &row.id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    Ok(Json(CustomerProfile::new(profile, row)))
}

/// RFM segments with their customers and MRR
#[utoipa::path(
    get, path = "/v1/segments", tag = "analytics", operation_id = "getSegments",
    responses(
        (status = 200, description = "The segments.", body = SegmentList),
        (status = 401, response = Unauthenticated),
        (status = 403, response = SessionForbidden),
        (status = 409, response = NoDataYet),
    )
)]
async fn segments(
    State(app): State<AppState>,
    who: Authorized<Aggregates>,
) -> Result<Json<SegmentList>, ApiError> {
    let snapshot = loaded(&app, who.ctx.tenant()).await?;
    Ok(Json(SegmentList {
        segments: snapshot.segments.iter().map(SegmentEntry::from).collect(),
        currency: snapshot.reporting_currency.clone(),
    }))
}

/// Customers whose card expires before their next renewal (admins and analysts)
///
/// The customers at risk, a page at a time.
#[utoipa::path(
    get, path = "/v1/insights/payment-failure-risk", tag = "analytics",
    operation_id = "getPaymentFailureRisk",
    params(PageRequest),
    responses(
        (status = 200, description = "The customers at risk.", body = PaymentFailureRiskList),
        (status = 400, response = InvalidRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 409, response = NoDataYet),
    )
)]
async fn payment_failure_risk(
    State(app): State<AppState>,
    who: Authorized<CustomerData>,
    page: PageRequest,
) -> Result<Json<PaymentFailureRiskList>, ApiError> {
    let snapshot = loaded(&app, who.ctx.tenant()).await?;
    let risks: Vec<_> = snapshot.payment_failure_risks.iter().collect();
    let (risks, next_cursor) =
        page_in_memory(risks, &page, |r| format!("{}/{}", r.customer, r.currency))?;
    Ok(Json(PaymentFailureRiskList {
        data: risks.into_iter().map(PaymentFailureRisk::from).collect(),
        next_cursor,
    }))
}
