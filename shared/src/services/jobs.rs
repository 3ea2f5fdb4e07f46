//! Tally's background jobs as one type. The API asks for a sync, an export or a CSV
//! import by publishing the job's event on the bus (`SyncRequested`, `ExportRequested`,
//! `ImportRequested`); the
//! schedules name theirs in their constant input (`{"job": "plan_syncs"}`). The planners
//! (`plan_syncs` every 5 minutes, `plan_sweep` hourly, `plan_digests` on Mondays) only
//! list what is due and publish
//! one event per job: a sync per integration whose tenant's minute has come
//! (`domain::schedule`), a deletion per disconnected integration and closed tenant. Each
//! of those events is one invocation of the function that runs it, with its own 15
//! minutes. The Lambda functions and the local server's worker pool decode either form
//! into a [`Job`] and run it through [`run`], so both run the same code.
//!
//! Every job is idempotent when delivered twice: a sync takes its integration's lease
//! (a second copy finds it held, or finds nothing new), a deletion checks that what it
//! deletes is still due and deletes by key; a digest records its tenant's week before it
//! sends anything, and a second copy finds the week taken.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::ids::{ExportId, ImportId, IntegrationId, TenantId};
use crate::ports::{Event, EventBus};
use crate::services::connections::SYNC_REQUESTED;
use crate::services::error::{ErrorChain, ServiceError};
use crate::services::export::EXPORT_REQUESTED;
use crate::services::imports::IMPORT_REQUESTED;

mod run;
pub use run::{JobReport, Workers, run};

/// The `detail-type` EventBridge gives a schedule's event when the schedule has no
/// `Input`. The `ingest` function reads it as the sync planner.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";

/// A disconnected integration's data is due for deletion.
pub const INTEGRATION_PURGE_DUE: &str = "IntegrationPurgeDue";
/// A closed tenant is due for erasure.
pub const TENANT_ERASURE_DUE: &str = "TenantErasureDue";
/// Expired items are due for deletion (where the store has no TTL of its own).
pub const EXPIRED_PURGE_DUE: &str = "ExpiredPurgeDue";
/// A tenant's data key was rotated: its items are due to be sealed again under the new
/// key, and the old key destroyed.
pub const TENANT_RESEAL_DUE: &str = "TenantResealDue";

/// A tenant's weekly digest is due (`services::digest`).
pub const DIGEST_DUE: &str = "DigestDue";

/// The bus events that carry an `ingest` job: the `detail-type`s the ingest function's
/// rule matches (infra/template.yaml, checked by a test).
pub const JOB_EVENTS: [&str; 3] = [SYNC_REQUESTED, EXPORT_REQUESTED, IMPORT_REQUESTED];

/// The bus events that carry a `sweep` job: the sweep function's rule.
pub const SWEEP_JOB_EVENTS: [&str; 5] = [
    INTEGRATION_PURGE_DUE,
    TENANT_ERASURE_DUE,
    EXPIRED_PURGE_DUE,
    TENANT_RESEAL_DUE,
    DIGEST_DUE,
];

/// One background job. As a schedule's input it is `{"job": "<name>", ...fields}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// Sync one integration (`POST /v1/integrations/{id}/sync`, a Stripe webhook, the
    /// planner).
    Sync(SyncJob),
    /// Build one export (`POST /v1/exports`).
    Export(ExportJob),
    /// Import one staged CSV upload (`POST /v1/integrations/{id}/import/{kind}`).
    Import(ImportJob),
    /// Fetch the ECB's reference rates (the daily schedule).
    FxRefresh,
    /// Publish a sync for every due integration whose tenant's offset falls in this
    /// run's window (every 5 minutes). `ingest_pass` is its name before the fan-out.
    #[serde(alias = "ingest_pass")]
    PlanSyncs,
    /// Publish a deletion job for everything due (the `sweep` function, hourly).
    /// `sweep` is its name before the fan-out.
    #[serde(alias = "sweep")]
    PlanSweep,
    /// Delete a disconnected integration's data.
    PurgeIntegration(PurgeJob),
    /// Erase a closed tenant.
    EraseTenant(ErasureJob),
    /// Delete expired items.
    PurgeExpired,
    /// Seal a tenant's items again under its rotated key; destroy the old key.
    ResealTenant(ResealJob),
    /// Publish a digest job per active tenant (the `sweep` function, Mondays).
    PlanDigests,
    /// Send one tenant's weekly digest.
    SendDigest(DigestJob),
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

/// Which staged upload to import; the fields of an `ImportRequested` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportJob {
    pub tenant_id: TenantId,
    pub integration_id: IntegrationId,
    pub import_id: ImportId,
}

/// Which disconnected integration to purge; the fields of `IntegrationPurgeDue`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeJob {
    pub tenant_id: TenantId,
    pub integration_id: IntegrationId,
}

/// Which tenant to re-seal; the fields of `TenantResealDue`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResealJob {
    pub tenant_id: TenantId,
}

/// Whose digest to send, of which week; the fields of `DigestDue`. Without
/// `week_start`, the last complete ISO week at the time it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestJob {
    pub tenant_id: TenantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub week_start: Option<chrono::NaiveDate>,
}

/// Which closed tenant to erase; the fields of `TenantErasureDue`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureJob {
    pub tenant_id: TenantId,
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

impl ImportJob {
    /// The event that asks the workers for this import.
    pub fn event(&self, at: chrono::DateTime<chrono::Utc>) -> Event {
        Event::new(IMPORT_REQUESTED, at)
            .tenant(self.tenant_id.as_str())
            .field("integration_id", self.integration_id.as_str())
            .field("import_id", self.import_id.as_str())
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

/// The Lambda function that runs a job, each with its own role and concurrency; locally,
/// the worker pool's lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobFunction {
    Ingest,
    Sweep,
}

impl Job {
    /// The job a Lambda payload asks for: an EventBridge envelope (it has a
    /// `detail-type`) or a schedule's constant input, the job itself.
    pub fn from_payload(payload: Value) -> Result<Self, JobError> {
        if payload.get("detail-type").is_some() {
            let envelope: Envelope =
                serde_json::from_value(payload).map_err(JobError::Malformed)?;
            if envelope.detail_type == SCHEDULED_EVENT {
                return Ok(Self::PlanSyncs);
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

    /// The event that asks for this job: the jobs the API and the planners request.
    pub fn event(&self, at: chrono::DateTime<chrono::Utc>) -> Option<Event> {
        match self {
            Self::Sync(job) => Some(job.event(at)),
            Self::Export(job) => Some(job.event(at)),
            Self::Import(job) => Some(job.event(at)),
            Self::PurgeIntegration(job) => Some(
                Event::new(INTEGRATION_PURGE_DUE, at)
                    .tenant(job.tenant_id.as_str())
                    .field("integration_id", job.integration_id.as_str()),
            ),
            Self::EraseTenant(job) => {
                Some(Event::new(TENANT_ERASURE_DUE, at).tenant(job.tenant_id.as_str()))
            }
            Self::PurgeExpired => Some(Event::new(EXPIRED_PURGE_DUE, at)),
            Self::ResealTenant(job) => {
                Some(Event::new(TENANT_RESEAL_DUE, at).tenant(job.tenant_id.as_str()))
            }
            Self::SendDigest(job) => {
                let event = Event::new(DIGEST_DUE, at).tenant(job.tenant_id.as_str());
                Some(match job.week_start {
                    Some(week) => event.field("week_start", week.to_string()),
                    None => event,
                })
            }
            Self::FxRefresh | Self::PlanSyncs | Self::PlanSweep | Self::PlanDigests => None,
        }
    }

    fn from_detail(event_type: &str, detail: Value) -> Result<Option<Self>, JobError> {
        fn fields<T: serde::de::DeserializeOwned>(detail: Value) -> Result<T, JobError> {
            serde_json::from_value(detail).map_err(JobError::Malformed)
        }
        Ok(Some(match event_type {
            SYNC_REQUESTED => Self::Sync(fields(detail)?),
            EXPORT_REQUESTED => Self::Export(fields(detail)?),
            IMPORT_REQUESTED => Self::Import(fields(detail)?),
            INTEGRATION_PURGE_DUE => Self::PurgeIntegration(fields(detail)?),
            TENANT_ERASURE_DUE => Self::EraseTenant(fields(detail)?),
            EXPIRED_PURGE_DUE => Self::PurgeExpired,
            TENANT_RESEAL_DUE => Self::ResealTenant(fields(detail)?),
            DIGEST_DUE => Self::SendDigest(fields(detail)?),
            _ => return Ok(None),
        }))
    }

    /// The job's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sync(_) => "sync",
            Self::Export(_) => "export",
            Self::Import(_) => "import",
            Self::FxRefresh => "fx_refresh",
            Self::PlanSyncs => "plan_syncs",
            Self::PlanSweep => "plan_sweep",
            Self::PurgeIntegration(_) => "purge_integration",
            Self::EraseTenant(_) => "erase_tenant",
            Self::PurgeExpired => "purge_expired",
            Self::ResealTenant(_) => "reseal_tenant",
            Self::PlanDigests => "plan_digests",
            Self::SendDigest(_) => "send_digest",
        }
    }

    /// The function that runs it: the sweep's jobs delete, which only its role may; the
    /// digest runs there too, whose role may read the tenant's Slack webhook.
    pub fn function(&self) -> JobFunction {
        match self {
            Self::Sync(_)
            | Self::Export(_)
            | Self::Import(_)
            | Self::FxRefresh
            | Self::PlanSyncs => JobFunction::Ingest,
            Self::PlanSweep
            | Self::PurgeIntegration(_)
            | Self::EraseTenant(_)
            | Self::PurgeExpired
            | Self::ResealTenant(_)
            | Self::PlanDigests
            | Self::SendDigest(_) => JobFunction::Sweep,
        }
    }
}

/// A planner's publishing: each job's event on the bus, one invocation each. One that
/// cannot be published does not stop the others; the first failure is returned once
/// all were tried (the planner's run is then retried: a job delivered twice is
/// harmless). Logs and returns how many were published (`what`: "syncs", "deletions").
pub(crate) async fn publish_each(
    events: &dyn EventBus,
    jobs: Vec<Job>,
    at: chrono::DateTime<chrono::Utc>,
    what: &str,
) -> Result<u64, ServiceError> {
    let mut published = 0;
    let mut failure = None;
    for job in jobs {
        let Some(event) = job.event(at) else {
            continue;
        };
        match events.publish(&event).await {
            Ok(()) => published += 1,
            Err(err) => {
                let err = ServiceError::from(err);
                tracing::warn!(job = ?job, error = %ErrorChain(&err), "a planned job was not published");
                failure.get_or_insert(err);
            }
        }
    }
    tracing::info!(published, "{what} planned");
    failure.map_or(Ok(published), Err)
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
        let tenant_id = TenantId::generate();
        let jobs = [
            Job::Sync(sync_job()),
            Job::Export(export),
            Job::Import(ImportJob {
                tenant_id: TenantId::generate(),
                integration_id: IntegrationId::generate(),
                import_id: ImportId::generate(),
            }),
            Job::PurgeIntegration(PurgeJob {
                tenant_id: tenant_id.clone(),
                integration_id: IntegrationId::generate(),
            }),
            Job::EraseTenant(ErasureJob {
                tenant_id: tenant_id.clone(),
            }),
            Job::PurgeExpired,
            Job::ResealTenant(ResealJob {
                tenant_id: tenant_id.clone(),
            }),
            Job::SendDigest(DigestJob {
                tenant_id: tenant_id.clone(),
                week_start: chrono::NaiveDate::from_ymd_opt(2026, 11, 23),
            }),
            Job::SendDigest(DigestJob {
                tenant_id,
                week_start: None,
            }),
        ];
        for job in jobs {
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
            Job::PlanSyncs
        );
        // The names before the fan-out still decode (events in flight at a deploy).
        assert_eq!(
            Job::from_payload(json!({"job": "ingest_pass"})).expect("decodes"),
            Job::PlanSyncs
        );
        assert_eq!(
            Job::from_payload(json!({"job": "sweep"})).expect("decodes"),
            Job::PlanSweep
        );
        assert_eq!(
            Job::from_payload(json!({"job": "plan_digests"})).expect("decodes"),
            Job::PlanDigests
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
