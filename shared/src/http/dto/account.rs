//! The bodies of the `account` function: exports and account closure.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::ids::ExportId;
use crate::http::error::ApiError;
use crate::http::query::ApiQuery;
use crate::services::export::{ExportPage as PageView, ExportStatus};

#[derive(Serialize, ToSchema)]
pub struct ExportAccepted {
    /// Poll `GET /v1/exports/{id}` with it.
    pub id: ExportId,
}

/// `?page=` of an export.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Zero-based page (default 0).
    #[param(value_type = Option<u32>, nullable = false, minimum = 0, maximum = 1000000)]
    pub page: Option<String>,
}

/// The checked `?page=` of an export: 0 to 1,000,000, default 0.
pub struct PageNumber(pub usize);

impl<S: Send + Sync> FromRequestParts<S> for PageNumber {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let ApiQuery(params) = ApiQuery::<PageParams>::from_request_parts(parts, state).await?;
        match params.page.as_deref() {
            None => Ok(Self(0)),
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|p| *p <= 1_000_000)
                .map(Self)
                .ok_or_else(|| ApiError::invalid_field("page", "`page` must be a whole number.")),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ExportPage {
    pub id: ExportId,
    pub status: ExportStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub page: usize,
    /// 0 while pending.
    pub pages: usize,
    #[schema(required = true)]
    pub next_page: Option<usize>,
    /// This page of the export once ready.
    #[schema(value_type = Option<Object>, required = true)]
    pub document: Option<serde_json::Value>,
}

impl From<PageView> for ExportPage {
    fn from(page: PageView) -> Self {
        Self {
            id: page.id,
            status: page.status,
            created_at: page.created_at,
            expires_at: page.expires_at,
            page: page.page,
            pages: page.pages,
            next_page: page.next_page,
            document: page.document,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct CloseAccountRequest {
    #[schema(value_type = String)]
    pub password: SecretString,
    /// The company name, exactly.
    pub confirm: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccountClosed {
    /// Everything is deleted by then (30 days).
    pub deleted_by: DateTime<Utc>,
}
