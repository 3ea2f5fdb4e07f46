//! The `query` function's per-customer routes (personal data: admins and analysts):
//! the customer list, a customer's profile, the payment-failure insight.

use axum::Json;
use axum::extract::{Path, State};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::QueryState;
use super::analytics::loaded;
use super::analytics_params::{CustomerListQuery, Filters, Segment};
use super::download::Negotiated;
use super::dto::customers::{
    CustomerList, CustomerProfile, CustomerSummary, PaymentFailureRisk, PaymentFailureRiskList,
};
use super::error::ApiError;
use super::negotiate::ReplyFormat;
use super::query::{PageRequest, page_in_memory};
use super::responses::{
    AnalyticsInvalid, NoDataYet, NotAcceptable, NotFound, RoleForbidden, SegmentNotFound,
    Unauthenticated,
};
use super::session::{Authorized, CustomerData};
use crate::domain::metrics::PaymentFailureRisk as PaymentFailureRiskRecord;
use crate::services::ServiceError;
use crate::services::analytics::Snapshot;
use crate::services::contexts::Analytics;
use crate::services::custom_segments::SegmentSlice;
use crate::services::customer_query::{
    CustomerSelection, find_customer_index, mrr_history, select_customers,
};
use std::collections::HashSet;
use std::sync::Arc;

pub fn routes() -> OpenApiRouter<QueryState> {
    OpenApiRouter::new()
        .routes(routes!(customers))
        .routes(routes!(customer))
        .routes(routes!(payment_failure_risk))
}

/// Customers with MRR, revenue, loyalty and risk (admins and analysts)
#[utoipa::path(
    get, path = "/v1/customers", tag = "analytics", operation_id = "listCustomers",
    params(CustomerListQuery, Filters, Segment, PageRequest, ReplyFormat),
    responses(
        (status = 200, description = "One page of customers (CSV: one row per customer; the next page in `Link: <...>; rel=\"next\"`).",
            content((CustomerList = "application/json"), (String = "text/csv"))),
        (status = 400, response = AnalyticsInvalid),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 404, response = SegmentNotFound),
        (status = 406, response = NotAcceptable),
        (status = 409, response = NoDataYet),
    )
)]
async fn customers(
    State(app): State<Arc<Analytics>>,
    who: Authorized<CustomerData>,
    query: CustomerListQuery,
    Segment { segment }: Segment,
    format: ReplyFormat,
) -> Result<Negotiated<CustomerList>, ApiError> {
    let filters = query.filters.clone();
    let slice = app.slice(&who.ctx, segment.as_ref(), filters, None).await?;
    let (page, selection) = query.selection(slice);
    let snapshot = loaded(&app, who.ctx.tenant()).await?;
    let rows = select_customers(&snapshot, &selection);
    let (rows, next_cursor) =
        page_in_memory(rows, &page, |r| format!("{}/{}", r.integration, r.id))?;
    Ok(format.reply(CustomerList {
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
    State(app): State<Arc<Analytics>>,
    who: Authorized<CustomerData>,
    Path(id): Path<String>,
) -> Result<Json<CustomerProfile>, ApiError> {
    let snapshot = loaded(&app, who.ctx.tenant()).await?;
    let index = find_customer_index(&snapshot, &id).ok_or(ApiError::NotFound)?;
    let row = snapshot.customers.get(index).ok_or(ApiError::NotFound)?;
    let profile = app
        .customer_profile(who.ctx.tenant(), &row.integration, &row.id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let history = mrr_history(&snapshot, index);
    Ok(Json(CustomerProfile::new(profile, row, &history)))
}

/// Customers whose card expires before their next renewal (admins and analysts)
///
/// The customers at risk, a page at a time; with `segment` or `filter[...]`, those of
/// the customers the list would give.
#[utoipa::path(
    get, path = "/v1/insights/payment-failure-risk", tag = "analytics",
    operation_id = "getPaymentFailureRisk",
    params(Filters, Segment, PageRequest, ReplyFormat),
    responses(
        (status = 200, description = "The customers at risk (CSV: one row per customer and currency; the next page in `Link`).",
            content((PaymentFailureRiskList = "application/json"), (String = "text/csv"))),
        (status = 400, response = AnalyticsInvalid),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 404, response = SegmentNotFound),
        (status = 406, response = NotAcceptable),
        (status = 409, response = NoDataYet),
    )
)]
async fn payment_failure_risk(
    State(app): State<Arc<Analytics>>,
    who: Authorized<CustomerData>,
    Filters { filter: filters }: Filters,
    Segment { segment }: Segment,
    page: PageRequest,
    format: ReplyFormat,
) -> Result<Negotiated<PaymentFailureRiskList>, ApiError> {
    let slice = app.slice(&who.ctx, segment.as_ref(), filters, None).await?;
    let snapshot = loaded(&app, who.ctx.tenant()).await?;
    let risks = risks_in(&snapshot, slice);
    let (risks, next_cursor) =
        page_in_memory(risks, &page, |r| format!("{}/{}", r.customer, r.currency))?;
    Ok(format.reply(PaymentFailureRiskList {
        data: risks.into_iter().map(PaymentFailureRisk::from).collect(),
        next_cursor,
    }))
}

/// The payment-failure risks of the customers in the slice (all of them without one).
fn risks_in(snapshot: &Snapshot, slice: SegmentSlice) -> Vec<&PaymentFailureRiskRecord> {
    let risks = snapshot.payment_failure_risks.iter();
    if slice.filters.is_empty() && slice.rfm.is_none() {
        return risks.collect();
    }
    let selection = CustomerSelection {
        segment: slice.rfm,
        filters: slice.filters,
        ..CustomerSelection::default()
    };
    let held: HashSet<&str> = select_customers(snapshot, &selection)
        .into_iter()
        .map(|row| row.id.as_str())
        .collect();
    risks
        .filter(|r| held.contains(r.customer.as_str()))
        .collect()
}
