//! Running one job: on the context it needs, within the configured timeout.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::{ExportJob, ImportJob, Job, SyncJob};
use crate::domain::ids::{ExportId, ImportId};
use crate::domain::import::RunStatus;
use crate::services::Services;
use crate::services::contexts::{Analytics, Ingestion, Tenancy};
use crate::services::error::{Conflict, ErrorChain, ServiceError};
use crate::services::fx_rates::EcbRefresh;
use crate::services::ingestion::SyncReport;
use crate::services::scheduled::PlanScope;
use crate::services::sweep::SweepReport;

/// What a job did; the function's reply.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum JobReport {
    Sync {
        /// False when the integration is disconnected or another sync holds it.
        synced: bool,
        report: Option<SyncReport>,
    },
    Export {
        exported: ExportId,
    },
    /// A CSV import: where its run stands (`None`: the run is gone with its
    /// integration).
    Import {
        import_id: ImportId,
        status: Option<&'static str>,
    },
    FxRefresh(EcbRefresh),
    /// A planner's run: how many jobs it published.
    Planned {
        planned: u64,
    },
    /// A deletion: what it deleted.
    Deleted(SweepReport),
    /// A re-seal after a key rotation.
    Resealed(crate::services::key_rotation::ResealReport),
    /// A tenant's weekly digest.
    Digest(crate::services::digest::DigestReport),
}

/// The contexts jobs run on, and how long one job may run. A Lambda function builds
/// only those its role may use; a job whose context is absent is refused, not run
/// half-way.
#[derive(Clone)]
pub struct Workers {
    /// Syncs and the sync planner.
    pub ingestion: Option<Arc<Ingestion>>,
    /// Exports, the sweep's planner and deletions.
    pub tenancy: Option<Arc<Tenancy>>,
    /// The ECB rates refresh.
    pub analytics: Option<Arc<Analytics>>,
    /// A job still running after this is stopped ([`run`]).
    pub timeout: Duration,
}

impl Workers {
    /// No context, the configured timeout: what a function adds its contexts to.
    pub fn none(config: &crate::config::Config) -> Self {
        Self {
            ingestion: None,
            tenancy: None,
            analytics: None,
            timeout: config.job_timeout,
        }
    }

    /// Every context: the local server's workers.
    pub fn all(services: &Services) -> Self {
        Self {
            ingestion: Some(services.ingestion.clone()),
            tenancy: Some(services.tenancy.clone()),
            analytics: Some(services.analytics.clone()),
            timeout: services.config.job_timeout,
        }
    }
}

fn built<T>(context: &Option<Arc<T>>, job: &'static str) -> Result<Arc<T>, ServiceError> {
    context
        .clone()
        .ok_or_else(|| ServiceError::internal(format!("this function does not run the {job} job")))
}

/// Runs one job, stopped after `workers.timeout` (under Lambda's 900 s, so that an
/// overrunning sync is recorded on its integration as `sync_timed_out` and its lease
/// released before Lambda would stop the process; the next run resumes it). A failure
/// is logged here, once, with its chain of causes (a sync's failure is logged by the
/// sync itself, which records it on the integration), and returned for the caller to
/// report.
pub async fn run(workers: &Workers, job: Job) -> Result<JobReport, ServiceError> {
    use tracing::Instrument;
    let name = job.name();
    let started = std::time::Instant::now();
    let result = run_job(workers, job)
        .instrument(tracing::info_span!("job", job = name))
        .await;
    crate::telemetry::record::job(name, started.elapsed(), result.is_err());
    if let Ok(JobReport::Deleted(deleted)) = &result {
        use crate::telemetry::record::sweep_deleted;
        sweep_deleted("integration", deleted.integration_items_deleted);
        sweep_deleted("tenant", deleted.tenant_items_deleted);
        sweep_deleted("expired", deleted.expired_items_deleted);
    }
    result
}

async fn run_job(workers: &Workers, job: Job) -> Result<JobReport, ServiceError> {
    let name = job.name();
    let sync = match &job {
        Job::Sync(sync) => Some(sync.clone()),
        _ => None,
    };
    let import = match &job {
        Job::Import(import) => Some(import.clone()),
        _ => None,
    };
    let result = match tokio::time::timeout(workers.timeout, dispatch(workers, job)).await {
        Ok(result) => result,
        Err(_elapsed) => match (&sync, &import, &workers.ingestion) {
            (None, Some(import), Some(ingestion)) => {
                tracing::warn!(tenant_id = %import.tenant_id, integration_id = %import.integration_id, import_id = %import.import_id, "import timed out; asked for again");
                ingestion
                    .integrations
                    .import_timed_out(&import.tenant_id, &import.integration_id, &import.import_id)
                    .await
                    .map(|status| JobReport::Import {
                        import_id: import.import_id.clone(),
                        status: status.map(RunStatus::as_str),
                    })
            }
            (Some(sync), _, Some(ingestion)) => {
                tracing::warn!(tenant_id = %sync.tenant_id, integration_id = %sync.integration_id, "sync timed out");
                if let Err(err) = ingestion
                    .record_sync_timeout(&sync.tenant_id, &sync.integration_id)
                    .await
                {
                    tracing::error!(error = %ErrorChain(&err), "a timed-out sync could not be recorded");
                }
                Err(ServiceError::Conflict(Conflict::SyncTimedOut))
            }
            _ => Err(ServiceError::internal(format!(
                "the {name} job ran past its {} ms",
                workers.timeout.as_millis()
            ))),
        },
    };
    if let Err(err) = &result
        && sync.is_none()
    {
        tracing::error!(job = name, error = %ErrorChain(err), "job failed");
    }
    result
}

/// Runs `job` on the context it needs.
async fn dispatch(workers: &Workers, job: Job) -> Result<JobReport, ServiceError> {
    let name = job.name();
    Ok(match job {
        Job::Sync(SyncJob {
            tenant_id,
            integration_id,
        }) => {
            let report = built(&workers.ingestion, name)?
                .sync_integration(&tenant_id, &integration_id)
                .await?;
            JobReport::Sync {
                synced: report.is_some(),
                report,
            }
        }
        Job::Export(ExportJob {
            tenant_id,
            export_id,
        }) => {
            built(&workers.tenancy, name)?
                .build_export(&tenant_id, &export_id)
                .await?;
            JobReport::Export {
                exported: export_id,
            }
        }
        Job::Import(ImportJob {
            tenant_id,
            integration_id,
            import_id,
        }) => {
            // Two thirds of the job's time for the chunks, the rest for the snapshot it
            // publishes at the end; a longer import goes on in the next invocation.
            let budget = workers.timeout * 2 / 3;
            let status = built(&workers.ingestion, name)?
                .integrations
                .run_import(&tenant_id, &integration_id, &import_id, budget)
                .await?;
            JobReport::Import {
                import_id,
                status: status.map(|s| s.as_str()),
            }
        }
        Job::FxRefresh => {
            JobReport::FxRefresh(built(&workers.analytics, name)?.refresh_ecb_rates().await?)
        }
        Job::PlanSyncs => {
            let ingestion = built(&workers.ingestion, name)?;
            let scope = PlanScope::window_at(ingestion.now());
            JobReport::Planned {
                planned: ingestion.publish_planned_syncs(scope).await?,
            }
        }
        Job::PlanSweep => JobReport::Planned {
            planned: built(&workers.tenancy, name)?
                .publish_planned_sweep()
                .await?,
        },
        Job::ResealTenant(job) => JobReport::Resealed(
            built(&workers.tenancy, name)?
                .reseal_tenant(&job.tenant_id)
                .await?,
        ),
        Job::PlanDigests => JobReport::Planned {
            planned: built(&workers.tenancy, name)?
                .publish_planned_digests()
                .await?,
        },
        Job::SendDigest(job) => {
            JobReport::Digest(built(&workers.tenancy, name)?.send_digest(&job).await?)
        }
        job @ (Job::PurgeIntegration(_) | Job::EraseTenant(_) | Job::PurgeExpired) => {
            JobReport::Deleted(built(&workers.tenancy, name)?.delete_due(&job).await?)
        }
    })
}
