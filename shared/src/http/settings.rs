//! The `query` function's settings routes: the tenant's exchange rates and reporting
//! currency (every role reads them; admins set them).

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::QueryState;
use super::dto::analytics::{FxRates, FxRatesStored, ReportingCurrency, ReportingCurrencyRequest};
use super::dto::error::ErrorBody;
use super::error::ApiError;
use super::json::ApiJson;
use super::responses::{BodyRefused, RoleForbidden, SessionForbidden, Unauthenticated};
use super::session::{AdminOnly, Aggregates, Authorized};
use crate::services::analytics_query::{RATES_SOURCE, normalized_rates};
use crate::services::contexts::Analytics;
use std::sync::Arc;

pub fn routes() -> OpenApiRouter<QueryState> {
    OpenApiRouter::new()
        .routes(routes!(get_fx_rates, put_fx_rates))
        .routes(routes!(get_reporting_currency, put_reporting_currency))
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
    State(app): State<Arc<Analytics>>,
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
    State(app): State<Arc<Analytics>>,
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
    State(app): State<Arc<Analytics>>,
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
    State(app): State<Arc<Analytics>>,
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
