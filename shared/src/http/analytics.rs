//! The `query` function's routes (API.md "query function"): metrics, dimensions, FX
//! rates, customers, segments and the payment-failure insight. Every route reads the
//! tenant's analytics snapshot, never raw items.
//!
//! Viewers get aggregates only: no per-customer rows, no e-mails, and not the `city`
//! dimension (a city with few customers points at people).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Datelike, Months, NaiveDate};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::json::ApiJson;
use super::query::{ApiQuery, ListParams, page_in_memory};
use super::session::{AdminOnly, Aggregates, Authorized, CustomerData};
use crate::domain::metrics::{
    Dimension, Filter, FxRates, Metric, MetricsError, MrrPolicy, SeriesInterval, SeriesQuery,
    dimension_values, metric_series, summary,
};
use crate::domain::roles::Role;
use crate::services::ServiceError;
use crate::services::analytics::{CustomerRow, Snapshot};
use crate::services::currency::iso_currency;
use crate::services::error::{BadRequest, Conflict};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/metrics/summary", get(metrics_summary))
        .route("/v1/metrics/{name}", get(metric))
        .route("/v1/dimensions", get(dimensions))
        .route("/v1/settings/fx-rates", get(get_fx_rates).put(put_fx_rates))
        .route(
            "/v1/settings/reporting-currency",
            get(get_reporting_currency).put(put_reporting_currency),
        )
        .route("/v1/customers", get(customers))
        .route("/v1/customers/{id}", get(customer))
        .route("/v1/segments", get(segments))
        .route(
            "/v1/insights/payment-failure-risk",
            get(payment_failure_risk),
        )
}

impl From<MetricsError> for ApiError {
    fn from(err: MetricsError) -> Self {
        match err {
            MetricsError::UnknownMetric(_) => ApiError::rejected(BadRequest::UnknownMetric),
            MetricsError::UnknownDimension(_) => ApiError::rejected(BadRequest::UnknownDimension),
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

/// The common query of API.md: `from`, `to`, `interval`, `currency`,
/// `filter[<dimension>]=<value>` (repeatable), `group_by`.
struct AnalyticsQuery {
    pairs: Vec<(String, String)>,
}

impl AnalyticsQuery {
    fn from_parts(parts: &Parts) -> Self {
        let raw = parts.uri.query().unwrap_or_default();
        Self {
            pairs: form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
        }
    }
    fn one(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn date(&self, name: &str) -> Result<Option<NaiveDate>, ApiError> {
        self.one(name)
            .map(|t| {
                // A date, or a whole RFC 3339 time standing for its UTC date; nothing
                // else (a date followed by garbage is refused, not truncated).
                NaiveDate::parse_from_str(t, "%Y-%m-%d")
                    .ok()
                    .or_else(|| {
                        chrono::DateTime::parse_from_rfc3339(t)
                            .ok()
                            .map(|at| at.with_timezone(&chrono::Utc).date_naive())
                    })
                    .ok_or_else(|| {
                        ApiError::invalid_field(
                            name,
                            format!("`{name}` must be a date (YYYY-MM-DD)."),
                        )
                    })
            })
            .transpose()
    }
    fn filters(&self, role: Role) -> Result<Vec<Filter>, ApiError> {
        let mut filters = Vec::new();
        for (key, value) in &self.pairs {
            if let Some(dimension) = key
                .strip_prefix("filter[")
                .and_then(|k| k.strip_suffix(']'))
            {
                let filter = Filter::parse(dimension, value)?;
                guard_dimension(role, filter.dimension)?;
                filters.push(filter);
            }
        }
        Ok(filters)
    }
    fn group_by(&self, role: Role) -> Result<Option<Dimension>, ApiError> {
        let Some(text) = self.one("group_by") else {
            return Ok(None);
        };
        let dimension: Dimension = text.parse()?;
        guard_dimension(role, dimension)?;
        Ok(Some(dimension))
    }
}

fn guard_dimension(role: Role, dimension: Dimension) -> Result<(), ApiError> {
    if dimension == Dimension::City && !role.allows(crate::domain::roles::Access::CustomerData) {
        return Err(ApiError::Forbidden);
    }
    Ok(())
}

/// `currency=` checked before anything is loaded: a bad code is a 400 even before a sync.
fn requested_currency(q: &AnalyticsQuery) -> Result<Option<String>, ApiError> {
    q.one("currency")
        .map(|text| {
            iso_currency(text).ok_or_else(|| {
                ApiError::invalid_field(
                    "currency",
                    "`currency` must be an ISO 4217 code such as eur.",
                )
            })
        })
        .transpose()
}

async fn loaded(
    app: &AppState,
    tenant: &crate::domain::ids::TenantId,
) -> Result<std::sync::Arc<Snapshot>, ApiError> {
    match app.snapshot(tenant).await? {
        Some(s) => Ok(s),
        None => Err(ApiError::rejected(Conflict::NoDataYet)),
    }
}

/// Extracts the analytics query from the request.
struct Params(AnalyticsQuery);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Params {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(Params(AnalyticsQuery::from_parts(parts)))
    }
}

async fn metrics_summary(
    State(app): State<AppState>,
    who: Authorized<Aggregates>,
    Params(q): Params,
) -> Result<Response, ApiError> {
    let filters = q.filters(who.ctx.role())?;
    let as_of = q
        .date("as_of")?
        .unwrap_or_else(|| app.adapters.clock.now().date_naive());
    let requested = requested_currency(&q)?;
    let snapshot = loaded(&app, who.ctx.tenant()).await?;
    let mode = app
        .query_currency(
            who.ctx.tenant(),
            requested.as_deref(),
            &snapshot.reporting_currency,
        )
        .await?;
    let result = summary(&snapshot.facts, as_of, mode, filters)?;
    let mut body = serde_json::to_value(&result).map_err(ApiError::internal)?;
    if let Some(obj) = body.as_object_mut() {
        obj.insert("policy".into(), json!(MrrPolicy::default()));
        obj.insert("data_as_of".into(), json!(snapshot.built_at));
    }
    Ok(Json(body).into_response())
}

async fn metric(
    State(app): State<AppState>,
    who: Authorized<Aggregates>,
    Path(name): Path<String>,
    Params(q): Params,
) -> Result<Response, ApiError> {
    let metric: Metric = name.parse()?;
    let filters = q.filters(who.ctx.role())?;
    let group_by = q.group_by(who.ctx.role())?;
    let interval = q
        .one("interval")
        .map(str::parse::<SeriesInterval>)
        .transpose()?
        .unwrap_or(SeriesInterval::Month);
    let today = app.adapters.clock.now().date_naive();
    let to = q.date("to")?.unwrap_or(today);
    let default_from = to
        .checked_sub_months(Months::new(11))
        .and_then(|d| d.with_day(1))
        .unwrap_or(to);
    let from = q.date("from")?.unwrap_or(default_from);
    let requested = requested_currency(&q)?;
    // Every parameter is checked before the snapshot: bad input is a 400 before a sync.
    let snapshot = loaded(&app, who.ctx.tenant()).await?;
    let query = SeriesQuery {
        from,
        to,
        interval,
        currency: app
            .query_currency(
                who.ctx.tenant(),
                requested.as_deref(),
                &snapshot.reporting_currency,
            )
            .await?,
        filters,
        group_by,
    };
    let series = metric_series(&snapshot.facts, metric, &query)?;
    let mut body = serde_json::to_value(&series).map_err(ApiError::internal)?;
    if let Some(obj) = body.as_object_mut() {
        obj.insert("data_as_of".into(), json!(snapshot.built_at));
    }
    Ok(Json(body).into_response())
}

async fn dimensions(
    State(app): State<AppState>,
    who: Authorized<Aggregates>,
) -> Result<Response, ApiError> {
    let snapshot = loaded(&app, who.ctx.tenant()).await?;
    let mut out = BTreeMap::new();
    for (dimension, values) in dimension_values(&snapshot.facts) {
        if guard_dimension(who.ctx.role(), dimension).is_ok() {
            out.insert(dimension.as_str().to_owned(), values);
        }
    }
    Ok(Json(out).into_response())
}

async fn get_fx_rates(
    State(app): State<AppState>,
    who: Authorized<Aggregates>,
) -> Result<Response, ApiError> {
    match app.fx_rates(who.ctx.tenant()).await? {
        Some(rates) => Ok(Json(rates).into_response()),
        None => Ok(Json(json!({ "base": null, "rates": {} })).into_response()),
    }
}

async fn put_fx_rates(
    State(app): State<AppState>,
    who: Authorized<AdminOnly>,
    ApiJson(rates): ApiJson<FxRates>,
) -> Result<Response, ApiError> {
    let mut rates = rates;
    rates.base = rates.base.to_ascii_lowercase();
    rates.rates = rates
        .rates
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    Ok(Json(app.set_fx_rates(who.ctx.tenant(), rates).await?).into_response())
}

/// The reporting currency: the admin's choice, or (`"chosen": false`) the currency
/// with the largest MRR; where rates come from.
async fn get_reporting_currency(
    State(app): State<AppState>,
    who: Authorized<Aggregates>,
) -> Result<Response, ApiError> {
    let tenant = who.ctx.tenant();
    let chosen = app.chosen_reporting_currency(tenant).await?;
    let effective = match (&chosen, app.snapshot(tenant).await?) {
        (Some(code), _) => Some(code.clone()),
        (None, Some(snapshot)) => Some(snapshot.reporting_currency.clone()),
        (None, None) => None,
    };
    Ok(Json(json!({
        "currency": effective,
        "chosen": chosen.is_some(),
        "rates": RATES_SOURCE,
    }))
    .into_response())
}

/// Where converted figures take their rates, as the replies say it.
const RATES_SOURCE: &str = "ECB euro reference rates of each movement's day; the tenant's stored rates (/v1/settings/fx-rates) for currencies the ECB does not publish";

#[derive(Deserialize)]
struct ReportingCurrencyBody {
    currency: String,
}

async fn put_reporting_currency(
    State(app): State<AppState>,
    who: Authorized<AdminOnly>,
    ApiJson(body): ApiJson<ReportingCurrencyBody>,
) -> Result<Response, ApiError> {
    let code = app
        .set_reporting_currency(who.ctx.tenant(), &body.currency)
        .await?;
    Ok(Json(json!({ "currency": code, "chosen": true, "rates": RATES_SOURCE })).into_response())
}

enum CustomerSort {
    Mrr,
    Ltv,
    Loyalty,
}

#[derive(Deserialize)]
struct CustomerList {
    segment: Option<String>,
    sort: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

async fn customers(
    State(app): State<AppState>,
    who: Authorized<CustomerData>,
    Params(q): Params,
) -> Result<Response, ApiError> {
    let list = CustomerList {
        segment: q.one("segment").map(str::to_owned),
        sort: q.one("sort").map(str::to_owned),
        limit: q.one("limit").map(str::to_owned),
        cursor: q.one("cursor").map(str::to_owned),
    };
    let paging = ListParams {
        limit: list.limit.clone(),
        cursor: list.cursor.clone(),
    };
    // Checked before the snapshot is loaded: bad input is a 400 even before a sync.
    paging.limit()?;
    paging.cursor()?;
    let filters = q.filters(who.ctx.role())?;
    let sort = match list.sort.as_deref() {
        None | Some("mrr") => CustomerSort::Mrr,
        Some("ltv") => CustomerSort::Ltv,
        Some("loyalty") => CustomerSort::Loyalty,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "sort",
                "`sort` must be mrr, ltv or loyalty.",
            ));
        }
    };
    let snapshot = loaded(&app, who.ctx.tenant()).await?;
    // Compared in the reporting currency for MRR: every currency converted.
    let order = match sort {
        CustomerSort::Mrr => &snapshot.order.by_mrr,
        CustomerSort::Ltv => &snapshot.order.by_ltv,
        CustomerSort::Loyalty => &snapshot.order.by_loyalty,
    };
    // The orders were computed once, when the snapshot was decoded.
    let facts = &snapshot.facts;
    let rows: Vec<&CustomerRow> = order
        .iter()
        .filter_map(|index| {
            let row = snapshot.customers.get(*index as usize)?;
            let segment_ok = list
                .segment
                .as_deref()
                .is_none_or(|s| row.segment.as_deref() == Some(s));
            let dims = || {
                let customer = snapshot
                    .order
                    .dims
                    .get(*index as usize)
                    .copied()
                    .flatten()?;
                facts.customers.get(customer as usize).map(|c| &c.dims)
            };
            let filters_ok = filters.is_empty()
                || dims().is_some_and(|d| crate::domain::metrics::customer_passes(d, &filters));
            (segment_ok && filters_ok).then_some(row)
        })
        .collect();
    let (rows, next) = page_in_memory(rows, &paging, |r| format!("{}/{}", r.integration, r.id))?;
    let page: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.id, "integration": r.integration, "email": r.email, "currency": r.currency,
                "mrr": r.mrr, "reporting_mrr": {"amount": r.reporting_mrr, "currency": snapshot.reporting_currency},
                "lifetime_revenue": r.lifetime_revenue, "loyalty_score": r.loyalty_score,
                "segment": r.segment,
                "risk": { "payment_failure": r.payment_failure_risk, "churn": r.churn_risk },
            })
        })
        .collect();
    Ok(Json(json!({ "data": page, "next_cursor": next })).into_response())
}

async fn customer(
    State(app): State<AppState>,
    who: Authorized<CustomerData>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let snapshot = loaded(&app, who.ctx.tenant()).await?;
    let row = snapshot
        .customers
        .iter()
        .find(|r| r.id == id)
        .ok_or(ApiError::NotFound)?;
    let p = app
        .customer_profile(who.ctx.tenant(), &row.integration, &row.id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    // API conventions: money in minor units, times as RFC 3339 UTC strings.
    let minor = |m: &BTreeMap<String, crate::domain::metrics::Mrr>| -> BTreeMap<String, i64> {
        m.iter().map(|(k, v)| (k.clone(), v.to_minor())).collect()
    };
    let subscriptions: Vec<Value> = p
        .subscriptions
        .iter()
        .map(|s| {
            json!({
                "id": s.id, "status": s.status, "currency": s.currency, "plans": s.plans,
                "mrr": s.mrr.to_minor(), "created": rfc3339(s.created),
                "current_period_end": s.current_period_end.map(rfc3339),
                "cancel_at_period_end": s.cancel_at_period_end,
            })
        })
        .collect();
    let payments: Vec<Value> = p
        .payments
        .iter()
        .map(|pay| {
            json!({
                "id": pay.id, "amount": pay.amount, "amount_refunded": pay.amount_refunded,
                "currency": pay.currency, "status": pay.status, "at": rfc3339(pay.at),
                "card_brand": pay.card_brand, "card_funding": pay.card_funding,
                "card_exp_month": pay.card_exp_month, "card_exp_year": pay.card_exp_year,
            })
        })
        .collect();
    Ok(Json(json!({
        "id": p.id, "integration": row.integration, "email": p.email,
        "created": p.created.map(rfc3339), "currency": p.currency,
        "mrr": row.mrr, "mrr_by_currency": minor(&p.mrr_by_currency),
        "lifetime_revenue": p.lifetime_revenue, "lifetime_revenue_by_currency": p.lifetime_revenue_by_currency,
        "successful_payments": p.successful_payments,
        "first_payment_at": p.first_payment_at.map(rfc3339), "last_payment_at": p.last_payment_at.map(rfc3339),
        "plans": p.plans, "dimensions": p.dims,
        "loyalty_score": row.loyalty_score, "segment": row.segment,
        "risk": { "payment_failure": row.payment_failure_risk, "churn": row.churn_risk },
        "subscriptions": subscriptions, "payments": payments,
    }))
    .into_response())
}

/// Unix seconds as an RFC 3339 UTC string (`null` if out of range).
fn rfc3339(at: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(at, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

async fn segments(
    State(app): State<AppState>,
    who: Authorized<Aggregates>,
) -> Result<Response, ApiError> {
    let snapshot = loaded(&app, who.ctx.tenant()).await?;
    let segments: Vec<Value> = snapshot
        .segments
        .iter()
        .map(|s| json!({ "name": s.name, "customers": s.customers, "mrr": s.mrr.to_minor() }))
        .collect();
    Ok(
        Json(json!({ "segments": segments, "currency": snapshot.reporting_currency }))
            .into_response(),
    )
}

async fn payment_failure_risk(
    State(app): State<AppState>,
    who: Authorized<CustomerData>,
    ApiQuery(paging): ApiQuery<ListParams>,
) -> Result<Response, ApiError> {
    paging.limit()?;
    paging.cursor()?;
    let snapshot = loaded(&app, who.ctx.tenant()).await?;
    let risks: Vec<_> = snapshot.payment_failure_risks.iter().collect();
    let (risks, next) =
        page_in_memory(risks, &paging, |r| format!("{}/{}", r.customer, r.currency))?;
    let data: Vec<Value> = risks
        .into_iter()
        .map(|r| {
            json!({
                "customer": r.customer, "subscriptions": r.subscriptions,
                "renews_at": rfc3339(r.renews_at),
                "card_expires": { "month": r.card_expires.month, "year": r.card_expires.year,
                                  "expires_at": rfc3339(r.card_expires.expires_at) },
                "card_brand": r.card_brand,
                "currency": r.currency, "mrr_at_risk": r.mrr_at_risk.to_minor(),
            })
        })
        .collect();
    Ok(Json(json!({ "data": data, "next_cursor": next })).into_response())
}
