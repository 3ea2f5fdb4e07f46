//! The `query` function (docs/api.md, "query function"): metrics, dimensions, FX rates,
//! the reporting currency, customers, segments (RFM and custom) and the payment-failure
//! insight, in `metrics`, `custom_segments`, `settings` and `customers`. Every route
//! reads the tenant's analytics snapshot, never raw items.
//!
//! Viewers get aggregates only: no per-customer rows, no e-mails, and not the `city`
//! dimension (`services::analytics_query` says which dimension a role may see).

use utoipa_axum::router::OpenApiRouter;

use super::error::ApiError;
use super::{QueryState, cohorts, custom_segments, customers, metrics, settings};
use crate::domain::metrics::MetricsError;
use crate::services::analytics::Snapshot;
use crate::services::contexts::Analytics;
use crate::services::error::{BadRequest, Conflict};

pub fn routes() -> OpenApiRouter<QueryState> {
    metrics::routes()
        .merge(cohorts::routes())
        .merge(custom_segments::routes())
        .merge(settings::routes())
        .merge(customers::routes())
        .merge(super::digest::preview_routes())
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

/// The tenant's snapshot, or 409 `no_data_yet` before a first sync.
pub(super) async fn loaded(
    app: &Analytics,
    tenant: &crate::domain::ids::TenantId,
) -> Result<std::sync::Arc<Snapshot>, ApiError> {
    match app.snapshot(tenant).await? {
        Some(s) => Ok(s),
        None => Err(ApiError::rejected(Conflict::NoDataYet)),
    }
}
