//! The sweep (hourly in AWS; `local sweep [--at]` and a timer in `serve`): deletes what
//! is due. Disconnected integrations' data (the promise: within 24 hours), closed
//! tenants (within 30 days; their key is already shredded at closure), and expired
//! items (sessions, tokens, rate counters, old sign-in attempts and audit entries) where
//! the store has no TTL of its own.
//!
//! The sweep is planned (`plan_sweep`: one job per deletion due) and each deletion runs
//! as its own job: in AWS its own invocation of the sweep function, locally a task of
//! the worker pool's sweep lane, so neither a large deletion nor a slow sync delays
//! another deletion.
//!
//! What goes with an integration, and in which order, comes from the registry of stored
//! entities (`repos::registry`). Idempotent and resumable: data goes first, the entries
//! that lead to it (the integration and its schedule entry, the closed listing) last, so a run killed
//! half-way leaves its listing in place and the next run finishes. Nothing becomes
//! visible again meanwhile: a disconnected integration's data is hidden from the
//! moment of the disconnect, a closed tenant's from its closing write.

use serde::Serialize;

use crate::domain::ids::{IntegrationId, TenantId};
use crate::repos::registry::{self, Sweep};
use crate::services::contexts::Tenancy;
use crate::services::error::ServiceError;
use crate::services::integrations::IntegrationStatus;
use crate::services::jobs::{self, ErasureJob, Job, JobReport, PurgeJob};
use crate::services::lifecycle::DISCONNECTED_DATA_HOURS;

/// What a sweep deleted: one deletion job's, or a whole pass's added up.
#[derive(Debug, Default, Serialize)]
pub struct SweepReport {
    pub integrations_purged: u64,
    pub integration_items_deleted: u64,
    pub tenants_erased: u64,
    pub tenant_items_deleted: u64,
    pub expired_items_deleted: u64,
}

impl SweepReport {
    /// Adds one deletion job's report (other jobs add nothing).
    pub fn count(&mut self, outcome: &Result<JobReport, ServiceError>) {
        if let Ok(JobReport::Deleted(done)) = outcome {
            self.integrations_purged += done.integrations_purged;
            self.integration_items_deleted += done.integration_items_deleted;
            self.tenants_erased += done.tenants_erased;
            self.tenant_items_deleted += done.tenant_items_deleted;
            self.expired_items_deleted += done.expired_items_deleted;
        }
    }
}

impl Tenancy {
    /// The sweep's planner: one job per disconnected integration and per closed
    /// tenant, and one for the expired items. It deletes nothing itself.
    ///
    /// It also reports how close the deletion promises are to breaking: the age of the
    /// oldest disconnected integration not yet swept (24 hours promised) and of the
    /// oldest closed tenant not yet erased (30 days), the metrics the template's alarms
    /// watch (`telemetry::record::pending_deletions`).
    pub async fn plan_sweep(&self) -> Result<Vec<Job>, ServiceError> {
        let now = self.now().timestamp();
        let disconnected_for = chrono::Duration::hours(DISCONNECTED_DATA_HOURS).num_seconds();
        let mut jobs = Vec::new();
        let mut oldest_disconnect = 0;
        for entry in self.repos.integrations.schedule().await? {
            if entry.status == Some(IntegrationStatus::Disconnected) {
                // Disconnected at its deadline less the promised hours.
                if let Some(by) = entry.delete_by {
                    oldest_disconnect = oldest_disconnect.max(now - (by - disconnected_for));
                }
                jobs.push(Job::PurgeIntegration(PurgeJob {
                    tenant_id: entry.tenant,
                    integration_id: entry.integration,
                }));
            }
        }
        let mut oldest_closure = 0;
        for (tenant_id, closed_at) in self.repos.closures.listed_since().await? {
            if let Some(at) = closed_at {
                oldest_closure = oldest_closure.max(now - at);
            }
            jobs.push(Job::EraseTenant(ErasureJob { tenant_id }));
        }
        crate::telemetry::record::pending_deletions(oldest_disconnect, oldest_closure);
        jobs.push(Job::PurgeExpired);
        Ok(jobs)
    }

    /// Publishes the jobs of [`Tenancy::plan_sweep`], one invocation of the sweep
    /// function each ([`jobs::publish_each`]; a deletion delivered twice deletes
    /// nothing more).
    pub async fn publish_planned_sweep(&self) -> Result<u64, ServiceError> {
        let planned = self.plan_sweep().await?;
        jobs::publish_each(self.events.as_ref(), planned, self.now(), "deletions").await
    }

    /// Every deletion due, one after another, in this process (tests; the local
    /// binary runs them on its worker pool). One that fails does not stop the others;
    /// the first failure is returned after all have run.
    pub async fn sweep(&self) -> Result<SweepReport, ServiceError> {
        let mut report = SweepReport::default();
        let mut failure = None;
        for job in self.plan_sweep().await? {
            let outcome = self.delete_due(&job).await.map(JobReport::Deleted);
            report.count(&outcome);
            if let Err(err) = outcome {
                failure.get_or_insert(err);
            }
        }
        tracing::info!(
            integrations = report.integrations_purged,
            integration_items = report.integration_items_deleted,
            tenants = report.tenants_erased,
            tenant_items = report.tenant_items_deleted,
            expired = report.expired_items_deleted,
            "sweep done"
        );
        failure.map_or(Ok(report), Err)
    }

    /// Runs one deletion job (the sweep function's jobs, and [`Tenancy::sweep`] in one
    /// process); any other job is refused.
    pub async fn delete_due(&self, job: &Job) -> Result<SweepReport, ServiceError> {
        match job {
            Job::PurgeIntegration(PurgeJob {
                tenant_id,
                integration_id,
            }) => self.purge_due_integration(tenant_id, integration_id).await,
            Job::EraseTenant(ErasureJob { tenant_id }) => self.erase_closed_tenant(tenant_id).await,
            Job::PurgeExpired => self.purge_expired().await,
            other => Err(ServiceError::internal(format!(
                "the {} job is not a deletion",
                other.name()
            ))),
        }
    }

    /// One disconnected integration's deletion. Checks that it is still due: a job
    /// delivered twice, or after the integration is gone, deletes only what is left of
    /// its entries; one for an integration that is not disconnected deletes nothing.
    pub async fn purge_due_integration(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
    ) -> Result<SweepReport, ServiceError> {
        let status = self
            .repos
            .integrations
            .statuses(tenant)
            .await?
            .into_iter()
            .find_map(|(listed, status)| (&listed == id).then_some(status));
        let mut report = SweepReport::default();
        match status {
            Some(IntegrationStatus::Disconnected) => {
                report.integration_items_deleted = self.purge_integration(tenant, id).await?;
                report.integrations_purged = 1;
            }
            Some(_) => {
                tracing::warn!(tenant_id = %tenant, integration_id = %id, "a purge for an integration that is not disconnected: nothing deleted");
            }
            None => {
                let entry = registry::of_integration(Sweep::IntegrationEntry, tenant, id);
                self.repos.erasure.delete(entry).await?;
            }
        }
        Ok(report)
    }

    /// One closed tenant's erasure; nothing when it is not listed as closed (erased
    /// already, or never closed).
    pub async fn erase_closed_tenant(
        &self,
        tenant: &TenantId,
    ) -> Result<SweepReport, ServiceError> {
        let mut report = SweepReport::default();
        if !self.repos.closures.listed().await?.contains(tenant) {
            return Ok(report);
        }
        self.finish_closure(tenant).await?;
        report.tenant_items_deleted = self.repos.erasure.erase_partition(tenant).await?;
        self.repos.closures.unlist(tenant).await?;
        report.tenants_erased = 1;
        Ok(report)
    }

    /// Expired items, where the store has no TTL of its own.
    pub async fn purge_expired(&self) -> Result<SweepReport, ServiceError> {
        let now = self.now().timestamp();
        Ok(SweepReport {
            expired_items_deleted: self.repos.erasure.purge_expired(now).await?,
            ..SweepReport::default()
        })
    }

    /// Deletes a disconnected integration's data (its records, the customer profiles
    /// the snapshot wrote for it, its sync state), audits the count (not the contents),
    /// and deletes its item and schedule entry last.
    async fn purge_integration(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
    ) -> Result<u64, ServiceError> {
        let data = registry::of_integration(Sweep::IntegrationData, tenant, id);
        let deleted = self.repos.erasure.delete(data).await?;
        // Still readable: the tenant's key exists unless the tenant is closing too.
        if self.tenant_keys.data_key(tenant).await.is_ok() {
            self.guard
                .audit(
                    tenant,
                    None,
                    &format!("IntegrationDataDeleted:items={deleted}"),
                    Some(format!("integration:{id}")),
                    None,
                )
                .await?;
        }
        let entry = registry::of_integration(Sweep::IntegrationEntry, tenant, id);
        self.repos.erasure.delete(entry).await?;
        Ok(deleted)
    }
}
