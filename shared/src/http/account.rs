//! The `account` function's routes (API.md "account function", role admin): exports and
//! account closure.
//!
//! Exports are built by a job (the `ExportRequested` event) into sealed pages and
//! served page by page (`?page=N`), so a tenant of any size stays within Lambda's
//! 6 MB response limit; each page is a JSON document, and concatenating the sections of
//! all pages gives the whole export.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::json::ApiJson;
use super::query::ApiQuery;
use super::session::{AdminOnly, Authorized};
use crate::domain::ids::ExportId;

type Admin = Authorized<AdminOnly>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/exports", post(request_export))
        .route("/v1/exports/{id}", get(export_page))
        .route("/v1/account", delete(close_account))
}

async fn request_export(State(app): State<AppState>, admin: Admin) -> Result<Response, ApiError> {
    let id = app.request_export(&admin.ctx).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "id": id }))).into_response())
}

#[derive(Deserialize)]
struct PageParams {
    page: Option<String>,
}

async fn export_page(
    State(app): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Response, ApiError> {
    let id = ExportId::parse(&id).ok_or(ApiError::NotFound)?;
    let page = match params.page.as_deref() {
        None => 0,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|p| *p <= 1_000_000)
            .ok_or_else(|| ApiError::invalid_field("page", "`page` must be a whole number."))?,
    };
    Ok(Json(app.export_page(&admin.ctx, &id, page).await?).into_response())
}

#[derive(Deserialize)]
struct CloseBody {
    password: SecretString,
    confirm: String,
}

async fn close_account(
    State(app): State<AppState>,
    admin: Admin,
    ApiJson(body): ApiJson<CloseBody>,
) -> Result<Response, ApiError> {
    let deleted_by = app
        .close_account(&admin.ctx, &body.password, &body.confirm)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "deleted_by": deleted_by })),
    )
        .into_response())
}
