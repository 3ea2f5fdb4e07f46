//! The sync planner: it lists the integrations due for the schedule (connected ones,
//! found through the global `INTEGRATIONS` partition: a Query, never a Scan) and makes
//! one sync job of each; it syncs nothing itself. Integrations in `error` (refused
//! credentials) are left alone until an admin acts.
//!
//! In AWS it runs every 5 minutes and publishes the syncs whose tenant's offset in the
//! hour fell in the 5 minutes before that run (`domain::schedule`): each sync is then its own
//! invocation of the ingest function. Locally, `serve` runs it on the same timer and
//! hands the jobs to its worker pool; `ingest` plans every due sync at once.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::schedule::{PlanWindow, sync_offset};
use crate::services::contexts::Ingestion;
use crate::services::error::{Conflict, ServiceError};
use crate::services::integrations::{IntegrationStatus, Provider};
use crate::services::jobs::{self, Job, JobReport, SyncJob};

/// Which due integrations a planner run asks to sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanScope {
    /// Every one (`local ingest`, tests).
    All,
    /// Those whose tenant's offset is in the window (the 5-minute schedule: the window
    /// that has just passed).
    Window(PlanWindow),
}

impl PlanScope {
    /// The window a run at `at` covers.
    pub fn window_at(at: DateTime<Utc>) -> Self {
        Self::Window(PlanWindow::at(at))
    }
}

/// What one ingest pass did: the syncs' outcomes, counted.
#[derive(Debug, Default, Serialize)]
pub struct IngestPass {
    pub synced: u64,
    pub failed: u64,
    pub skipped: u64,
    pub records_written: u64,
}

impl IngestPass {
    /// Counts one sync job's outcome (other jobs are not counted).
    pub fn count(&mut self, outcome: &Result<JobReport, ServiceError>) {
        match outcome {
            Ok(JobReport::Sync {
                report: Some(report),
                ..
            }) => {
                self.synced += 1;
                self.records_written += report.written;
            }
            Ok(JobReport::Sync { report: None, .. }) => self.skipped += 1,
            Ok(_) => {}
            // Logged by the sync (or the timeout), which records it on the integration.
            Err(_) => self.failed += 1,
        }
    }
}

impl Ingestion {
    /// The sync jobs due in `scope`.
    ///
    /// It also reports every syncing integration's seconds since its last successful
    /// sync (since its connection if it never synced), whatever the window: the sync
    /// lag the template's alarm watches (`telemetry::record::sync_ages`). Left out:
    /// import-only integrations (nothing to sync) and those in `error`, whose
    /// credentials the processor refused: the merchant's to fix (the dashboard says so),
    /// not a stalled machinery. A processor that is down keeps its integration
    /// `connected`, so its lag counts.
    pub async fn plan_syncs(&self, scope: PlanScope) -> Result<Vec<SyncJob>, ServiceError> {
        let now_secs = self.now().timestamp();
        let mut ages = Vec::new();
        let mut out = Vec::new();
        for entry in self.repos.integrations.schedule().await? {
            let due = matches!(
                entry.status,
                Some(IntegrationStatus::Connected | IntegrationStatus::Syncing)
            );
            if due
                && entry.provider != Some(Provider::Custom)
                && let Some(since) = entry.last_sync_at.or(entry.connected_at)
            {
                ages.push((entry.integration.to_string(), now_secs - since));
            }
            let now = match scope {
                PlanScope::All => true,
                PlanScope::Window(window) => window.contains(sync_offset(&entry.tenant)),
            };
            if due && now {
                out.push(SyncJob {
                    tenant_id: entry.tenant,
                    integration_id: entry.integration,
                });
            }
        }
        crate::telemetry::record::sync_ages(&ages);
        Ok(out)
    }

    /// Publishes the jobs of [`Ingestion::plan_syncs`] as `SyncRequested` events, one
    /// invocation each ([`jobs::publish_each`]).
    pub async fn publish_planned_syncs(&self, scope: PlanScope) -> Result<u64, ServiceError> {
        let planned = self
            .plan_syncs(scope)
            .await?
            .into_iter()
            .map(Job::Sync)
            .collect();
        let events = self.integrations.events.as_ref();
        jobs::publish_each(events, planned, self.now(), "syncs").await
    }

    /// Every due sync, one after another, in this process (tests; the local binary runs
    /// them on its worker pool instead).
    pub async fn ingest_pass(&self) -> Result<IngestPass, ServiceError> {
        let mut pass = IngestPass::default();
        for job in self.plan_syncs(PlanScope::All).await? {
            let outcome = self
                .sync_integration(&job.tenant_id, &job.integration_id)
                .await
                .map(|report| JobReport::Sync {
                    synced: report.is_some(),
                    report,
                });
            pass.count(&outcome);
        }
        Ok(pass)
    }

    /// A sync stopped by the job timeout: records `sync_timed_out` on the integration
    /// and releases its lease, so the next pass resumes it at once (rebuilding the
    /// snapshot, since it stopped unfinished). Nothing when it is no longer syncing.
    pub async fn record_sync_timeout(
        &self,
        tenant: &crate::domain::ids::TenantId,
        id: &crate::domain::ids::IntegrationId,
    ) -> Result<(), ServiceError> {
        let Some(stored) = self.integrations.load_integration(tenant, id).await? else {
            return Ok(());
        };
        if stored.status != IntegrationStatus::Syncing {
            return Ok(());
        }
        let mut record = stored.record.clone();
        record.sync_started_at = None;
        record.last_error = Some(Conflict::SyncTimedOut.as_str().to_owned());
        match self
            .integrations
            .save_integration(tenant, id, &record, IntegrationStatus::Connected, &stored)
            .await
        {
            // Changed meanwhile (a disconnect): that write wins.
            Ok(()) | Err(ServiceError::Conflict(_)) => Ok(()),
            Err(other) => Err(other),
        }
    }
}
