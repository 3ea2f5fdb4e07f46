//! What every Lambda function's `main` shares: configuration from the environment and
//! the AWS adapters, built once per cold start.

use std::sync::Arc;

use crate::adapters::aws;
use crate::config::{Config, ConfigError};
use crate::ports::SystemClock;
use crate::services::Services;
use crate::services::error::{ErrorChain, ServiceError};
use crate::services::jobs::{self, Job, JobError, JobReport};

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

/// The `ingest` function's handler: decodes the payload into a [`Job`] (a requested
/// sync or export from the bus, or a schedule's job) and runs it. The sweep is the
/// `sweep` function's, whose role alone may delete what it deletes.
pub async fn handle_ingest_event(
    services: &Services,
    payload: serde_json::Value,
) -> Result<serde_json::Value, IngestError> {
    let job = Job::from_payload(payload).inspect_err(|err| {
        tracing::error!(error = %ErrorChain(err), "the ingest function got no job it runs");
    })?;
    if job == Job::Sweep {
        tracing::error!("the ingest function got the sweep job");
        return Err(IngestError::NotHere);
    }
    let report = jobs::run(services, job).await?;
    Ok(reply(report)?)
}

/// Why an `ingest` invocation failed; reported to the Lambda runtime, so its message
/// lands in the dead-letter queue's record. Already logged with its causes.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    NotAJob(#[from] JobError),
    #[error("the sweep runs on the sweep function")]
    NotHere,
    #[error(transparent)]
    Failed(#[from] ServiceError),
}

/// The `sweep` function's handler (hourly schedule): the sweep is all it runs, so its
/// payload is not read.
pub async fn handle_sweep_event(services: &Services) -> Result<serde_json::Value, ServiceError> {
    let report = jobs::run(services, Job::Sweep).await?;
    reply(report)
}

/// The function's reply: what the job did, as JSON.
fn reply(report: JobReport) -> Result<serde_json::Value, ServiceError> {
    serde_json::to_value(report).map_err(|err| {
        tracing::error!(error = %err, "a job report does not serialize");
        ServiceError::internal(err)
    })
}
