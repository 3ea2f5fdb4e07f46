//! The local stand-in for Lambda's invocations: each job is a tokio task of its own,
//! run through [`jobs::run`] (the same code and the same per-job timeout as in the
//! functions) once it has a place in its function's lane. The ingest lane has
//! `TALLY_JOB_WORKERS` places (the stand-in for the ingest function's reserved
//! concurrency), the sweep lane its own [`SWEEP_WORKERS`]: a slow or hanging sync holds
//! one place of its lane until its timeout, never a place of another job's, and never
//! a deletion's.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::services::error::ServiceError;
use crate::services::jobs::{self, Job, JobFunction, JobReport, Workers};
use crate::services::scheduled::{IngestPass, PlanScope};
use crate::services::sweep::SweepReport;

/// Deletions running at once: they are few, and two keep one long erasure from
/// holding up the others.
pub const SWEEP_WORKERS: usize = 2;

/// A job's outcome, as its task ends.
pub type JobOutcome = Result<JobReport, ServiceError>;

/// Bounded workers for the jobs of both functions.
pub struct JobPool {
    workers: Workers,
    ingest: Arc<Semaphore>,
    sweep: Arc<Semaphore>,
}

impl JobPool {
    /// A pool whose ingest lane runs `ingest_workers` jobs at once.
    pub fn new(workers: Workers, ingest_workers: usize) -> Arc<Self> {
        Arc::new(Self {
            workers,
            ingest: Arc::new(Semaphore::new(ingest_workers.max(1))),
            sweep: Arc::new(Semaphore::new(SWEEP_WORKERS)),
        })
    }

    /// Starts `job` as soon as its lane has a place; the handle gives its outcome (a
    /// failure was logged by `jobs::run`).
    pub fn spawn(self: &Arc<Self>, job: Job) -> JoinHandle<JobOutcome> {
        let pool = self.clone();
        tokio::spawn(async move {
            let lane = match job.function() {
                JobFunction::Ingest => pool.ingest.clone(),
                JobFunction::Sweep => pool.sweep.clone(),
            };
            let _place = lane
                .acquire_owned()
                .await
                .map_err(|_| ServiceError::internal("the worker pool is closed"))?;
            let outcome = jobs::run(&pool.workers, job).await;
            crate::telemetry::flush();
            outcome
        })
    }

    /// Runs every job on the pool and waits for all: their outcomes, in order.
    pub async fn run_all(self: &Arc<Self>, jobs: Vec<Job>) -> Vec<JobOutcome> {
        wait_all(jobs.into_iter().map(|job| self.spawn(job)).collect()).await
    }

    /// The planner of `scope`'s syncs, then each sync as a job of its own. `local
    /// ingest` runs it with [`PlanScope::All`] and waits.
    pub async fn plan_syncs(
        self: &Arc<Self>,
        scope: PlanScope,
    ) -> Result<Vec<JoinHandle<JobOutcome>>, ServiceError> {
        let ingestion = self
            .workers
            .ingestion
            .clone()
            .ok_or_else(|| ServiceError::internal("this pool runs no syncs"))?;
        let planned = ingestion.plan_syncs(scope).await?;
        Ok(planned
            .into_iter()
            .map(|job| self.spawn(Job::Sync(job)))
            .collect())
    }

    /// The sweep's planner, then each deletion as a job of its own.
    pub async fn plan_sweep(self: &Arc<Self>) -> Result<Vec<JoinHandle<JobOutcome>>, ServiceError> {
        let tenancy = self
            .workers
            .tenancy
            .clone()
            .ok_or_else(|| ServiceError::internal("this pool runs no deletions"))?;
        let planned = tenancy.plan_sweep().await?;
        Ok(planned.into_iter().map(|job| self.spawn(job)).collect())
    }

    /// The digest planner, then each tenant's digest as a job of its own.
    pub async fn plan_digests(
        self: &Arc<Self>,
    ) -> Result<Vec<JoinHandle<JobOutcome>>, ServiceError> {
        let tenancy = self
            .workers
            .tenancy
            .clone()
            .ok_or_else(|| ServiceError::internal("this pool runs no digests"))?;
        let planned = tenancy.plan_digests().await?;
        Ok(planned.into_iter().map(|job| self.spawn(job)).collect())
    }

    /// Every tenant's digest of the last complete week, waited for (`local digest`);
    /// the first failure is returned after all have run.
    pub async fn digest_pass(
        self: &Arc<Self>,
    ) -> Result<Vec<crate::services::digest::DigestReport>, ServiceError> {
        let mut reports = Vec::new();
        let mut failure = None;
        for outcome in wait_all(self.plan_digests().await?).await {
            match outcome {
                Ok(JobReport::Digest(report)) => reports.push(report),
                Ok(_) => {}
                Err(err) => {
                    failure.get_or_insert(err);
                }
            }
        }
        failure.map_or(Ok(reports), Err)
    }

    /// Every due sync on the pool, waited for and counted (`local ingest`).
    pub async fn ingest_pass(self: &Arc<Self>) -> Result<IngestPass, ServiceError> {
        let mut pass = IngestPass::default();
        for outcome in wait_all(self.plan_syncs(PlanScope::All).await?).await {
            pass.count(&outcome);
        }
        Ok(pass)
    }

    /// Every due deletion on the pool, waited for and added up (`local sweep`). One
    /// that fails does not stop the others; the first failure is returned after all
    /// have run.
    pub async fn sweep_pass(self: &Arc<Self>) -> Result<SweepReport, ServiceError> {
        let mut report = SweepReport::default();
        let mut failure = None;
        for outcome in wait_all(self.plan_sweep().await?).await {
            report.count(&outcome);
            if let Err(err) = outcome {
                failure.get_or_insert(err);
            }
        }
        failure.map_or(Ok(report), Err)
    }
}

/// The outcomes of started jobs, in order.
pub async fn wait_all(handles: Vec<JoinHandle<JobOutcome>>) -> Vec<JobOutcome> {
    let mut outcomes = Vec::with_capacity(handles.len());
    for handle in handles {
        outcomes.push(handle.await.unwrap_or_else(|_| {
            Err(ServiceError::internal(
                "a job's task ended without an outcome",
            ))
        }));
    }
    outcomes
}
