//! Tally's background jobs as one type. The API asks for a sync or an export by
//! publishing the job's event on the bus (`SyncRequested`, `ExportRequested`); the
//! schedules name theirs in their constant input (`{"job": "fx_refresh"}`). The `ingest`
//! Lambda and the local server's workers decode either form into a [`Job`] and run it
//! through [`run`], so both run the same code.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::ids::{ExportId, IntegrationId, TenantId};
use crate::ports::Event;
use std::sync::Arc;

use crate::services::Services;
use crate::services::connections::SYNC_REQUESTED;
use crate::services::contexts::{Analytics, Ingestion, Tenancy};
use crate::services::error::{ErrorChain, ServiceError};
use crate::services::export::EXPORT_REQUESTED;
use crate::services::fx_rates::EcbRefresh;
use crate::services::ingestion::SyncReport;
use crate::services::scheduled::IngestPass;
use crate::services::sweep::SweepReport;

/// The `detail-type` EventBridge gives a schedule's event when the schedule has no
/// `Input`. The `ingest` function reads it as the hourly pass.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";

/// The bus events that carry a job: the `detail-type`s the `ingest` function's rule
/// matches (infra/template.yaml, checked by a test).
pub const JOB_EVENTS: [&str; 2] = [SYNC_REQUESTED, EXPORT_REQUESTED];

/// One background job. As a schedule's input it is `{"job": "<name>", ...fields}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// Sync one integration (`POST /v1/integrations/{id}/sync`, a Stripe webhook).
    Sync(SyncJob),
    /// Build one export (`POST /v1/exports`).
    Export(ExportJob),
    /// Fetch the ECB's reference rates (the daily schedule).
    FxRefresh,
    /// Sync every due integration (the hourly schedule).
    IngestPass,
    /// Delete what is due (the `sweep` function's hourly schedule).
    Sweep,
}

/// Which integration to sync; the fields of a `SyncRequested` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncJob {
    pub tenant_id: TenantId,
    pub integration_id: IntegrationId,
}

/// Which export to build; the fields of an `ExportRequested` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportJob {
    pub tenant_id: TenantId,
    pub export_id: ExportId,
}

impl SyncJob {
    /// The event that asks the workers for this sync.
    pub fn event(&self, at: chrono::DateTime<chrono::Utc>) -> Event {
        Event::new(SYNC_REQUESTED, at)
            .tenant(self.tenant_id.as_str())
            .field("integration_id", self.integration_id.as_str())
    }
}

impl ExportJob {
    /// The event that asks the workers for this export.
    pub fn event(&self, at: chrono::DateTime<chrono::Utc>) -> Event {
        Event::new(EXPORT_REQUESTED, at)
            .tenant(self.tenant_id.as_str())
            .field("export_id", self.export_id.as_str())
    }
}

/// Why a payload is not a job. It names the shape that was expected, never a value
/// beyond an event type.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("events of type {0:?} carry no job")]
    NotAJob(String),
    #[error("a malformed job")]
    Malformed(#[source] serde_json::Error),
}

/// What EventBridge delivers: a rule's event from the bus, or a schedule's event when
/// the schedule has no `Input`. Its other fields (`id`, `source`, `time`...) are not
/// needed.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "detail-type")]
    detail_type: String,
    #[serde(default)]
    detail: Value,
}

impl Job {
    /// The job a Lambda payload asks for: an EventBridge envelope (it has a
    /// `detail-type`) or a schedule's constant input, the job itself.
    pub fn from_payload(payload: Value) -> Result<Self, JobError> {
        if payload.get("detail-type").is_some() {
            let envelope: Envelope =
                serde_json::from_value(payload).map_err(JobError::Malformed)?;
            if envelope.detail_type == SCHEDULED_EVENT {
                return Ok(Self::IngestPass);
            }
            Self::from_detail(&envelope.detail_type, envelope.detail)?
                .ok_or(JobError::NotAJob(envelope.detail_type))
        } else {
            serde_json::from_value(payload).map_err(JobError::Malformed)
        }
    }

    /// The job a published event carries; `None` for the events that carry none
    /// (e-mails to send, security events...).
    pub fn from_event(event: &Event) -> Result<Option<Self>, JobError> {
        Self::from_detail(&event.event_type, event.to_json())
    }

    /// The event that asks for this job, for the jobs the API requests.
    pub fn event(&self, at: chrono::DateTime<chrono::Utc>) -> Option<Event> {
        match self {
            Self::Sync(job) => Some(job.event(at)),
            Self::Export(job) => Some(job.event(at)),
            Self::FxRefresh | Self::IngestPass | Self::Sweep => None,
        }
    }

    fn from_detail(event_type: &str, detail: Value) -> Result<Option<Self>, JobError> {
        let job = match event_type {
            SYNC_REQUESTED => {
                Self::Sync(serde_json::from_value(detail).map_err(JobError::Malformed)?)
            }
            EXPORT_REQUESTED => {
                Self::Export(serde_json::from_value(detail).map_err(JobError::Malformed)?)
            }
            _ => return Ok(None),
        };
        Ok(Some(job))
    }

    /// The job's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sync(_) => "sync",
            Self::Export(_) => "export",
            Self::FxRefresh => "fx_refresh",
            Self::IngestPass => "ingest_pass",
            Self::Sweep => "sweep",
        }
    }
}

/// What a job did; the `ingest` function's reply.
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
    FxRefresh(EcbRefresh),
    IngestPass(IngestPass),
    Sweep(SweepReport),
}

/// The contexts jobs run on. A Lambda function builds only those its role may use;
/// a job whose context is absent is refused, not run half-way.
#[derive(Clone, Default)]
pub struct Workers {
    /// Syncs and the scheduled pass.
    pub ingestion: Option<Arc<Ingestion>>,
    /// Exports and the sweep.
    pub tenancy: Option<Arc<Tenancy>>,
    /// The ECB rates refresh.
    pub analytics: Option<Arc<Analytics>>,
}

impl Workers {
    /// Every context: the local server's workers.
    pub fn all(services: &Services) -> Self {
        Self {
            ingestion: Some(services.ingestion.clone()),
            tenancy: Some(services.tenancy.clone()),
            analytics: Some(services.analytics.clone()),
        }
    }
}

fn built<T>(context: &Option<Arc<T>>, job: &'static str) -> Result<Arc<T>, ServiceError> {
    context
        .clone()
        .ok_or_else(|| ServiceError::internal(format!("this function does not run the {job} job")))
}

/// Runs one job. A failure is logged here, once, with its chain of causes (a sync's
/// failure is logged by the sync itself, which records it on the integration), and
/// returned for the caller to report.
pub async fn run(workers: &Workers, job: Job) -> Result<JobReport, ServiceError> {
    let name = job.name();
    let is_sync = matches!(job, Job::Sync(_));
    let result = dispatch(workers, job).await;
    if let Err(err) = &result
        && !is_sync
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
        Job::FxRefresh => {
            JobReport::FxRefresh(built(&workers.analytics, name)?.refresh_ecb_rates().await?)
        }
        Job::IngestPass => {
            JobReport::IngestPass(built(&workers.ingestion, name)?.ingest_pass().await?)
        }
        Job::Sweep => JobReport::Sweep(built(&workers.tenancy, name)?.sweep().await?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sync_job() -> SyncJob {
        SyncJob {
            tenant_id: TenantId::generate(),
            integration_id: IntegrationId::generate(),
        }
    }

    #[test]
    fn a_published_event_decodes_to_its_job_directly_and_in_an_envelope() {
        let export = ExportJob {
            tenant_id: TenantId::generate(),
            export_id: ExportId::generate(),
        };
        for job in [Job::Sync(sync_job()), Job::Export(export)] {
            let event = job.event(chrono::Utc::now()).expect("an event");
            assert_eq!(Job::from_event(&event).expect("decodes"), Some(job.clone()));
            let envelope = json!({
                "version": "0", "source": "tally", "detail-type": event.event_type,
                "detail": event.to_json(),
            });
            assert_eq!(Job::from_payload(envelope).expect("decodes"), job);
        }
    }

    #[test]
    fn schedule_inputs_decode_and_bad_ones_are_errors() {
        assert_eq!(
            Job::from_payload(json!({"job": "fx_refresh"})).expect("decodes"),
            Job::FxRefresh
        );
        assert_eq!(
            Job::from_payload(json!({"detail-type": "Scheduled Event", "detail": {}}))
                .expect("decodes"),
            Job::IngestPass
        );
        let bad = [
            json!({"job": "mine_bitcoin"}),
            json!({"job": "sync", "tenant_id": "../x"}),
            json!({"detail-type": "SyncRequested", "detail": {"tenant_id": "../x"}}),
            json!({"detail-type": "PasswordResetRequested", "detail": {}}),
            json!({"detail-type": 7}),
            json!([]),
        ];
        for payload in bad {
            assert!(Job::from_payload(payload.clone()).is_err(), "{payload}");
        }
    }

    #[test]
    fn events_that_are_not_jobs_are_none() {
        let event = Event::new("PasswordResetRequested", chrono::Utc::now());
        assert_eq!(Job::from_event(&event).expect("not malformed"), None);
    }
}
