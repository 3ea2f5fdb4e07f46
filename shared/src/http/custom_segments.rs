//! The `query` function's custom segments (docs/api.md, "Custom segments"): a tenant's
//! named filter sets, used as `segment=<id>` on every metric and list. Every role reads
//! them; admins and analysts — who shape the analyses — save, replace and delete them.
//! A viewer may list a segment on `city` — without the city, which it may not see — but
//! using it is refused as `filter[city]` is.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::QueryState;
use super::download::Negotiated;
use super::dto::PathId;
use super::dto::error::ErrorBody;
use super::dto::segments::{CustomSegment, CustomSegmentList, CustomSegmentRequest};
use super::error::ApiError;
use super::json::ApiJson;
use super::negotiate::ReplyFormat;
use super::responses::{
    BodyRefused, InvalidRequest, NotAcceptable, NotFound, RoleForbidden, SessionForbidden,
    Unauthenticated,
};
use super::session::{Aggregates, Authorized, CustomerData};
use crate::domain::ids::SegmentId;
use crate::services::contexts::Analytics;
use std::sync::Arc;

pub fn routes() -> OpenApiRouter<QueryState> {
    OpenApiRouter::new()
        .routes(routes!(list_segments, create_segment))
        .routes(routes!(get_segment, replace_segment, delete_segment))
}

/// The tenant's custom segments
#[utoipa::path(
    get, path = "/v1/segments/custom", tag = "analytics", operation_id = "listCustomSegments",
    params(ReplyFormat),
    responses(
        (status = 200, description = "The segments, oldest first (as CSV: one row per segment).",
            content((CustomSegmentList = "application/json"), (String = "text/csv"))),
        (status = 400, response = InvalidRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = SessionForbidden),
        (status = 406, response = NotAcceptable),
    )
)]
async fn list_segments(
    State(app): State<Arc<Analytics>>,
    who: Authorized<Aggregates>,
    format: ReplyFormat,
) -> Result<Negotiated<CustomSegmentList>, ApiError> {
    let segments = app.custom_segments(who.ctx.tenant()).await?;
    let role = who.ctx.role();
    Ok(format.reply(CustomSegmentList {
        segments: segments
            .into_iter()
            .map(|s| CustomSegment::seen_by(s, role))
            .collect(),
    }))
}

/// Save a custom segment (admins and analysts)
#[utoipa::path(
    post, path = "/v1/segments/custom", tag = "analytics", operation_id = "createCustomSegment",
    request_body = CustomSegmentRequest,
    responses(
        (status = 201, description = "Saved.", body = CustomSegment,
            headers(("Location" = String, description = "The segment's URL."))),
        (status = 400, body = ErrorBody, description = "`invalid_request` (a name of 0 or over \
            64 characters or an RFM segment's, no filter, a value over 200 characters), \
            `unknown_dimension`."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 409, body = ErrorBody, description = "`segment_name_taken`, \
            `segment_limit_reached` (100 per tenant), `concurrent_update`."),
        BodyRefused,
    )
)]
async fn create_segment(
    State(app): State<Arc<Analytics>>,
    who: Authorized<CustomerData>,
    ApiJson(body): ApiJson<CustomSegmentRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let segment = app
        .create_custom_segment(&who.ctx, &body.name, &body.filters)
        .await?;
    let location = format!("/v1/segments/custom/{}", segment.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(CustomSegment::seen_by(segment, who.ctx.role())),
    ))
}

/// One custom segment
#[utoipa::path(
    get, path = "/v1/segments/custom/{id}", tag = "analytics", operation_id = "getCustomSegment",
    params(PathId<SegmentId>),
    responses(
        (status = 200, description = "The segment.", body = CustomSegment),
        (status = 401, response = Unauthenticated),
        (status = 403, response = SessionForbidden),
        (status = 404, response = NotFound),
    )
)]
async fn get_segment(
    State(app): State<Arc<Analytics>>,
    who: Authorized<Aggregates>,
    PathId(id): PathId<SegmentId>,
) -> Result<Json<CustomSegment>, ApiError> {
    let segment = app.custom_segment(who.ctx.tenant(), &id).await?;
    Ok(Json(CustomSegment::seen_by(segment, who.ctx.role())))
}

/// Replace a custom segment's name and filters (admins and analysts)
#[utoipa::path(
    put, path = "/v1/segments/custom/{id}", tag = "analytics",
    operation_id = "replaceCustomSegment",
    params(PathId<SegmentId>),
    request_body = CustomSegmentRequest,
    responses(
        (status = 200, description = "The segment as stored.", body = CustomSegment),
        (status = 400, body = ErrorBody, description = "`invalid_request`, `unknown_dimension` \
            (as for POST)."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 404, response = NotFound),
        (status = 409, body = ErrorBody, description = "`segment_name_taken`, \
            `concurrent_update`."),
        BodyRefused,
    )
)]
async fn replace_segment(
    State(app): State<Arc<Analytics>>,
    who: Authorized<CustomerData>,
    PathId(id): PathId<SegmentId>,
    ApiJson(body): ApiJson<CustomSegmentRequest>,
) -> Result<Json<CustomSegment>, ApiError> {
    let segment = app
        .replace_custom_segment(&who.ctx, &id, &body.name, &body.filters)
        .await?;
    Ok(Json(CustomSegment::seen_by(segment, who.ctx.role())))
}

/// Delete a custom segment (admins and analysts)
#[utoipa::path(
    delete, path = "/v1/segments/custom/{id}", tag = "analytics",
    operation_id = "deleteCustomSegment",
    params(PathId<SegmentId>),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 404, response = NotFound),
        (status = 409, body = ErrorBody, description = "`concurrent_update`."),
    )
)]
async fn delete_segment(
    State(app): State<Arc<Analytics>>,
    who: Authorized<CustomerData>,
    PathId(id): PathId<SegmentId>,
) -> Result<StatusCode, ApiError> {
    app.delete_custom_segment(&who.ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
