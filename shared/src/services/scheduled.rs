//! The scheduled ingest pass: every connected integration of every tenant, found
//! through the global `INTEGRATIONS` partition (a Query, never a Scan). Integrations
//! in `error` (refused credentials) are left alone until an admin acts.

use serde::Serialize;

use crate::domain::ids::{IntegrationId, TenantId};
use crate::services::contexts::Ingestion;
use crate::services::error::ServiceError;
use crate::services::integrations::IntegrationStatus;

/// What one ingest pass did.
#[derive(Debug, Default, Serialize)]
pub struct IngestPass {
    pub synced: u64,
    pub failed: u64,
    pub skipped: u64,
    pub records_written: u64,
}

impl Ingestion {
    /// Every integration due for the schedule: connected ones.
    pub async fn due_integrations(&self) -> Result<Vec<(TenantId, IntegrationId)>, ServiceError> {
        let mut out = Vec::new();
        for entry in self.repos.integrations.schedule().await? {
            if let Some(IntegrationStatus::Connected | IntegrationStatus::Syncing) = entry.status {
                out.push((entry.tenant, entry.integration));
            }
        }
        Ok(out)
    }

    /// One pass over every due integration; a failure of one does not stop the others.
    pub async fn ingest_pass(&self) -> Result<IngestPass, ServiceError> {
        let mut pass = IngestPass::default();
        for (tenant, integration) in self.due_integrations().await? {
            match self.sync_integration(&tenant, &integration).await {
                Ok(Some(report)) => {
                    pass.synced += 1;
                    pass.records_written += report.written;
                }
                Ok(None) => pass.skipped += 1,
                // Logged by the sync, which records it on the integration.
                Err(_) => pass.failed += 1,
            }
        }
        Ok(pass)
    }
}
