//! What every Lambda function's `main` shares: configuration from the environment and
//! the AWS adapters, built once per cold start.

use std::sync::Arc;

use crate::adapters::aws;
use crate::config::{Config, ConfigError};
use crate::ports::SystemClock;
use crate::services::Services;

/// The services of a Lambda function, on the AWS adapters. A missing or bad variable
/// fails the cold start with a message naming it.
pub async fn aws_services() -> Result<Arc<Services>, ConfigError> {
    let config = Config::from_env()?;
    let resources = config.aws()?;
    let sdk = aws::sdk_config(None).await;
    let adapters = aws::adapters(
        &sdk,
        &resources.table,
        &resources.kms_key_id,
        &resources.event_bus,
        Arc::new(SystemClock),
    );
    Ok(Services::new(adapters, config))
}

/// The `ingest` function's handler — Tally's background jobs: a `SyncRequested` event
/// (from `POST /v1/integrations/{id}/sync`) syncs that integration, an `ExportRequested`
/// event (from `POST /v1/exports`) builds that export, the daily schedule's
/// `{"job": "fx_refresh"}` fetches the ECB's reference rates; anything else (the hourly
/// EventBridge schedule) runs a pass over every due integration.
pub async fn handle_ingest_event(
    services: &Services,
    event: serde_json::Value,
) -> Result<serde_json::Value, crate::services::ServiceError> {
    use crate::domain::ids::{IntegrationId, TenantId};
    use crate::services::connections::SYNC_REQUESTED;

    if event.get("detail-type").and_then(|v| v.as_str())
        == Some(crate::services::export::EXPORT_REQUESTED)
    {
        let detail = event.get("detail").cloned().unwrap_or_default();
        let tenant = detail
            .get("tenant_id")
            .and_then(|v| v.as_str())
            .and_then(TenantId::parse);
        let export = detail
            .get("export_id")
            .and_then(|v| v.as_str())
            .and_then(crate::domain::ids::ExportId::parse);
        let (Some(tenant), Some(export)) = (tenant, export) else {
            return Err(crate::services::ServiceError::invalid(
                "detail",
                "not an ExportRequested event",
            ));
        };
        services.build_export(&tenant, &export).await?;
        return Ok(serde_json::json!({ "exported": export }));
    }
    if event.get("detail-type").and_then(|v| v.as_str()) == Some(SYNC_REQUESTED) {
        let detail = event.get("detail").cloned().unwrap_or_default();
        let tenant = detail
            .get("tenant_id")
            .and_then(|v| v.as_str())
            .and_then(TenantId::parse);
        let integration = detail
            .get("integration_id")
            .and_then(|v| v.as_str())
            .and_then(IntegrationId::parse);
        let (Some(tenant), Some(integration)) = (tenant, integration) else {
            return Err(crate::services::ServiceError::invalid(
                "detail",
                "not a SyncRequested event",
            ));
        };
        let report = services.sync_integration(&tenant, &integration).await?;
        return Ok(serde_json::json!({ "synced": report.is_some(), "report": report }));
    }
    if event.get("job").and_then(|v| v.as_str()) == Some(crate::services::fx_rates::FX_REFRESH_JOB)
    {
        let refresh = services.refresh_ecb_rates().await?;
        return Ok(serde_json::to_value(refresh).unwrap_or_default());
    }
    let pass = services.ingest_pass().await?;
    Ok(serde_json::to_value(pass).unwrap_or_default())
}

/// The `sweep` function's handler (hourly schedule).
pub async fn handle_sweep_event(
    services: &Services,
) -> Result<serde_json::Value, crate::services::ServiceError> {
    let report = services.sweep().await?;
    Ok(serde_json::to_value(report).unwrap_or_default())
}
