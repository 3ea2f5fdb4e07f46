//! What every Lambda function's `main` shares: configuration from the environment and
//! the AWS adapters, built once per cold start.

use std::sync::Arc;

use axum::Router;

use crate::adapters::{Adapters, aws};
use crate::config::{Config, ConfigError};
use crate::http::{self, AccountState, AdminState, AuthState, Function, OauthState, QueryState};
use crate::ports::SystemClock;
use crate::services::error::{ErrorChain, ServiceError};
use crate::services::jobs::{self, Job, JobError, JobFunction, JobReport, Workers};
use crate::services::{
    Analytics, Common, Guard, Identity, Ingestion, Integrations, SessionGate, Tenancy, TenantAdmin,
    tenant_keys,
};

/// The configuration and AWS adapters of the Lambda function `function` (its short
/// name: the `Function` dimension of its metrics, whose recorder is installed here). A
/// missing or bad variable fails the cold start with a message naming it.
pub async fn aws_adapters(function: &str) -> Result<(Adapters, Config), ConfigError> {
    let config = Config::from_env()?;
    install_metrics(&config, function);
    let resources = config.aws()?;
    let sdk = aws::sdk_config(None).await;
    let adapters = aws::adapters(
        &sdk,
        &resources.table,
        &resources.kms_key_id,
        &resources.event_bus,
        Arc::new(SystemClock),
    );
    Ok((adapters, config))
}

/// The metrics recorder, writing EMF to standard output (the function's log group). A
/// recorder that cannot be installed is logged: the function still serves.
fn install_metrics(config: &Config, function: &str) {
    if let Err(err) = crate::telemetry::init(
        &config.metrics_namespace,
        function,
        crate::telemetry::Sink::Stdout,
    ) {
        tracing::error!(error = %err, "metrics are off");
    }
}

/// The `web` function's telemetry: it reads no other configuration.
pub fn web_telemetry() -> Result<(), ConfigError> {
    install_metrics(&Config::from_env()?, "web");
    Ok(())
}

/// One HTTP function's app with only the contexts its routes use: the `query`
/// function, whose role may neither read secrets nor publish events, builds no
/// context that holds those ports.
pub fn http_app(function: Function, adapters: &Adapters, config: Config) -> Router {
    let keys = tenant_keys(adapters, config.data_key_cache_ttl);
    let common = Common::new(adapters, config, keys.clone());
    let gate = SessionGate::new(&common);
    let config = common.config.clone();
    let clock = common.clock.clone();
    let guard = || Guard::new(&common, adapters, keys.clone());
    match function {
        Function::Auth => http::auth_app(AuthState {
            identity: Identity::new(&common, adapters, keys.clone(), guard(), gate.clone()),
            config,
            clock,
            gate,
        }),
        Function::Admin => http::admin_app(AdminState {
            admin: TenantAdmin::new(&common, adapters, guard(), gate.clone()),
            config,
            clock,
            gate,
        }),
        Function::Oauth => http::oauth_app(OauthState {
            integrations: Integrations::new(&common, adapters, guard(), Analytics::new(&common)),
            config,
            clock,
            gate,
        }),
        Function::Account => http::account_app(AccountState {
            tenancy: Tenancy::new(
                &common,
                adapters,
                keys.clone(),
                guard(),
                Analytics::new(&common),
            ),
            config,
            clock,
            gate,
        }),
        Function::Query => http::query_app(QueryState {
            analytics: Analytics::new(&common),
            config,
            clock,
            gate,
        }),
    }
}

/// The `ingest` function's contexts: syncs and the pass, exports, the rates refresh.
pub fn ingest_workers(adapters: &Adapters, config: Config) -> Workers {
    let keys = tenant_keys(adapters, config.data_key_cache_ttl);
    let common = Common::new(adapters, config, keys.clone());
    let guard = Guard::new(&common, adapters, keys.clone());
    let analytics = Analytics::new(&common);
    let integrations = Integrations::new(&common, adapters, guard.clone(), analytics.clone());
    Workers {
        ingestion: Some(Ingestion::new(&common, integrations, analytics.clone())),
        tenancy: Some(Tenancy::new(
            &common,
            adapters,
            keys,
            guard,
            analytics.clone(),
        )),
        analytics: Some(analytics),
        ..Workers::none(&common.config)
    }
}

/// The `sweep` function's context.
pub fn sweep_workers(adapters: &Adapters, config: Config) -> Workers {
    let keys = tenant_keys(adapters, config.data_key_cache_ttl);
    let common = Common::new(adapters, config, keys.clone());
    let guard = Guard::new(&common, adapters, keys.clone());
    let analytics = Analytics::new(&common);
    Workers {
        tenancy: Some(Tenancy::new(&common, adapters, keys, guard, analytics)),
        ..Workers::none(&common.config)
    }
}

/// The `ingest` function's handler: decodes the payload into a [`Job`] (a requested
/// sync or export from the bus, the sync planner's 5-minute schedule, a sync the
/// planner published, the daily rates refresh) and runs it. The sweep's jobs are the
/// `sweep` function's, whose role alone may delete what they delete.
pub async fn handle_ingest_event(
    workers: &Workers,
    payload: serde_json::Value,
) -> Result<serde_json::Value, IngestError> {
    handle_job(workers, payload, JobFunction::Ingest).await
}

/// The `sweep` function's handler: its hourly planner, and each deletion the planner
/// published.
pub async fn handle_sweep_event(
    workers: &Workers,
    payload: serde_json::Value,
) -> Result<serde_json::Value, IngestError> {
    handle_job(workers, payload, JobFunction::Sweep).await
}

async fn handle_job(
    workers: &Workers,
    payload: serde_json::Value,
    function: JobFunction,
) -> Result<serde_json::Value, IngestError> {
    let job = Job::from_payload(payload).inspect_err(|err| {
        tracing::error!(error = %ErrorChain(err), "the function got no job it runs");
    })?;
    if job.function() != function {
        tracing::error!(job = job.name(), "the job runs on another function");
        return Err(IngestError::NotHere);
    }
    let report = jobs::run(workers, job).await;
    // The job's metrics leave with this invocation, whatever its outcome.
    crate::telemetry::flush();
    Ok(reply(report?)?)
}

/// Why an `ingest` or `sweep` invocation failed; reported to the Lambda runtime, so its
/// message lands in the dead-letter queue's record. Already logged with its causes.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    NotAJob(#[from] JobError),
    #[error("the job runs on the other function")]
    NotHere,
    #[error(transparent)]
    Failed(#[from] ServiceError),
}

/// The function's reply: what the job did, as JSON.
fn reply(report: JobReport) -> Result<serde_json::Value, ServiceError> {
    serde_json::to_value(report).map_err(|err| {
        tracing::error!(error = %err, "a job report does not serialize");
        ServiceError::internal(err)
    })
}
