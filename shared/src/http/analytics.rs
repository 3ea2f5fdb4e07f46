//! The `query` function (docs/api.md, "query function"): metrics, dimensions, FX rates,
//! the reporting currency, customers, segments (RFM and custom) and the payment-failure
//! insight, in `metrics`, `custom_segments`, `settings` and `customers`. Every route
//! reads the tenant's analytics snapshot, never raw items.
//!
//! Viewers get aggregates only: no per-customer rows, no e-mails, and not the `city`
//! dimension (`services::analytics_query` says which dimension a role may see).

use utoipa_axum::router::OpenApiRouter;

use std::sync::Arc;

use super::error::ApiError;
use super::{QueryState, cohorts, custom_segments, customers, metrics, settings};
use crate::domain::metrics::{CurrencyMode, Dimension, Filter, MetricsError, Slice};
use crate::services::analytics::Snapshot;
use crate::services::analytics_query::{Currency, Suppression};
use crate::services::contexts::Analytics;
use crate::services::custom_segments::SegmentRef;
use crate::services::error::{BadRequest, Conflict};
use crate::services::sessions::TenantCtx;

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

/// What an aggregate route (summary, series, cohorts, forecast) works on once its
/// parameters are checked: the snapshot, the request's slice of it (the filters ANDed
/// with the segment's), what a viewer's reply leaves out, and the reply's currency.
pub(super) struct Sliced {
    pub snapshot: Arc<Snapshot>,
    pub slice: Slice,
    pub suppression: Suppression,
    pub currency: CurrencyMode,
}

/// Reads what [`Sliced`] holds, in the order the routes answer errors: a refused
/// dimension, an unknown segment (403, 404, 400) before `no_data_yet` (409).
pub(super) async fn sliced(
    app: &Analytics,
    ctx: &TenantCtx,
    segment: Option<&SegmentRef>,
    filters: Vec<Filter>,
    group_by: Option<Dimension>,
    currency: Option<&Currency>,
) -> Result<Sliced, ApiError> {
    let slice = app.slice(ctx, segment, filters, group_by).await?;
    let snapshot = loaded(app, ctx.tenant()).await?;
    let currency = app
        .query_currency(ctx.tenant(), currency, &snapshot.reporting_currency)
        .await?;
    let slice = slice.on(&snapshot);
    let suppression = app
        .slice_suppression(ctx.tenant(), ctx.role(), &snapshot.facts, &slice, group_by)
        .await?;
    Ok(Sliced {
        snapshot,
        slice,
        suppression,
        currency,
    })
}
