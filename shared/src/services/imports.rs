//! The Import API (docs/api.md "Import API"): a `custom` integration's data, posted by
//! the tenant for a billing system Tally has no connector for.
//!
//! A batch of rows of one kind goes through the same path a sync's pages do: rows
//! become billing records ([`crate::domain::import`]), which are upserted sealed
//! ([`crate::repos::billing`]), and the snapshot is then published from what the batch
//! touched (incrementally, as after a sync). Record ids derive from the caller's
//! external ids, and a row whose record is already stored as it would be written is
//! `unchanged` and written again nowhere: re-posting a batch changes nothing. A bad row
//! is reported with its index and field and refused alone.
//!
//! Subscription events are kept per subscription in a sealed log
//! ([`crate::repos::imports`]); the subscription's records are rebuilt from the whole
//! log each time it grows, so events may arrive over many batches, in any order.
//!
//! An import holds the integration's lease as a sync does (`syncing`, with a start
//! time): two imports into one integration never interleave their reads and writes of
//! a log, and an import stopped half-way leaves `syncing` behind, so the next one
//! rebuilds the snapshot in full.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::Duration;
use serde::Serialize;

use crate::domain::billing::{
    BillingRecord, CardFacts, ChargeRecord, CustomerRecord, ObjectKind, RefundRecord,
};
use crate::domain::ids::{ImportId, IntegrationId, TenantId};
use crate::domain::import::{
    CustomerRow, EventRow, FieldError, ImportKind, ImportRow, ImportRun, LoggedEvent,
    MAX_EVENTS_PER_SUBSCRIPTION, MAX_RESUMES, MAX_RUN_ERRORS, PaymentRow, PlanRow, RefundRow,
    RunError, RunStatus, StagedChunk, StagedRow, SubscriptionLog, check_sequence, record_id,
    subscription_records,
};
use crate::repos::imports::{CHUNK_DAYS, RUN_DAYS};
use crate::services::contexts::Integrations;
use crate::services::error::{Conflict, ErrorChain, ServiceError};
use crate::services::incremental::Touched;
use crate::services::integrations::{
    IntegrationRecord, IntegrationStatus, IntegrationView, Provider,
};
use crate::services::jobs::ImportJob;
use crate::services::sessions::TenantCtx;

/// The event that asks the ingest function to import a staged CSV upload.
pub const IMPORT_REQUESTED: &str = "ImportRequested";

/// How long an import may hold the integration's lease (as a sync).
const IMPORT_LEASE_MINUTES: i64 = 15;

/// Row errors listed in an outcome (the rest are counted in `failed`).
pub const MAX_LISTED_ERRORS: usize = 1_000;

/// A row refused, by its place in the batch (0-based, data rows only) and, for a CSV
/// upload, its line in the file (the header is line 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub index: usize,
    pub line: Option<u64>,
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

/// What one import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportOutcome {
    pub received: usize,
    /// Rows whose records were written.
    pub written: usize,
    /// Rows already stored as sent.
    pub unchanged: usize,
    /// Rows refused.
    pub failed: usize,
    /// The first [`MAX_LISTED_ERRORS`] refusals, by index.
    pub errors: Vec<RowError>,
}

/// Consecutive rows of an import as the HTTP layer read them: each checked, or why
/// not. An import is one chunk (a JSON batch) or many (a CSV upload, streamed).
#[derive(Debug, Default)]
pub struct Chunk {
    /// The index of the chunk's first row in the whole import.
    pub first_index: usize,
    pub rows: Vec<Result<ImportRow, FieldError>>,
    /// Each row's line in the file (CSV), else empty.
    pub lines: Vec<u64>,
}

/// What a batch writes, before it is written.
#[derive(Default)]
struct Changes {
    records: Vec<BillingRecord>,
    deleted: Vec<(ObjectKind, String)>,
    plans: Vec<PlanRow>,
    logs: Vec<SubscriptionLog>,
    touched_pairs: Vec<(Option<BillingRecord>, Option<BillingRecord>)>,
}

impl Changes {
    fn is_empty(&self) -> bool {
        self.records.is_empty()
            && self.deleted.is_empty()
            && self.plans.is_empty()
            && self.logs.is_empty()
    }
}

/// The outcome so far, and the external ids seen (a second row with an external id
/// already in the import is refused: which of two differing rows is meant is not for
/// Tally to guess).
#[derive(Default)]
struct Tally {
    outcome: ImportOutcome,
    seen: BTreeSet<String>,
    /// The current chunk's first index and lines.
    first_index: usize,
    lines: Vec<u64>,
}

impl Tally {
    /// Refuses the chunk's row at `index`.
    fn refuse(&mut self, index: usize, error: FieldError) {
        self.outcome.failed += 1;
        if self.outcome.errors.len() < MAX_LISTED_ERRORS {
            self.outcome.errors.push(RowError {
                index: self.first_index + index,
                line: self.lines.get(index).copied(),
                field: error.field,
                code: error.code,
                message: error.message,
            });
        }
    }
}

impl Tally {
    /// A run's counts and listed errors so far.
    fn resuming(run: &ImportRun) -> Self {
        let errors = run
            .errors
            .iter()
            .map(|e| RowError {
                index: e.index,
                line: e.line,
                field: e.field.clone(),
                code: static_code(&e.code),
                message: e.message.clone(),
            })
            .collect();
        Self {
            outcome: ImportOutcome {
                // Counted again per chunk by `import_rows`; a run keeps `rows`.
                received: 0,
                written: run.written,
                unchanged: run.unchanged,
                failed: run.failed_rows,
                errors,
            },
            ..Self::default()
        }
    }

    /// Copies the counts and the first errors into the run.
    fn save_into(&mut self, run: &mut ImportRun) {
        self.outcome.errors.sort_by_key(|e| e.index);
        self.outcome.errors.truncate(MAX_RUN_ERRORS);
        run.written = self.outcome.written;
        run.unchanged = self.outcome.unchanged;
        run.failed_rows = self.outcome.failed;
        run.errors = self
            .outcome
            .errors
            .iter()
            .map(|e| RunError {
                index: e.index,
                line: e.line,
                field: e.field.clone(),
                code: e.code.to_owned(),
                message: e.message.clone(),
            })
            .collect();
    }
}

/// A saved error's code as the codes are kept (`&'static str`): one of the known
/// codes, else `invalid`.
fn static_code(code: &str) -> &'static str {
    const CODES: [&str; 11] = [
        "required",
        "invalid",
        "unknown_field",
        "duplicate_in_batch",
        "unknown_customer",
        "unknown_plan",
        "unknown_payment",
        "customer_mismatch",
        "out_of_sequence",
        "too_many_events",
        "unreadable",
    ];
    CODES.into_iter().find(|c| *c == code).unwrap_or("invalid")
}

/// The key under which a row counts as repeated within one import.
fn dedup_key(row: &ImportRow) -> String {
    match row {
        ImportRow::Event(e) => format!("{}#{}", e.subscription, e.external_id),
        other => other.external_id().to_owned(),
    }
}

/// How an import ends its lease.
struct Lease {
    /// Publish the snapshot in full.
    unfinished: bool,
    /// Publish at all (false: the job pauses, its continuation publishes).
    publish: bool,
}

fn unknown(field: &str, code: &'static str, what: &str) -> FieldError {
    FieldError::new(
        field,
        code,
        format!("No {what} with this external id was imported into this integration."),
    )
}

impl Integrations {
    /// `POST /v1/integrations/custom`: an integration fed by the Import API. It has no
    /// credentials and is never synced.
    pub async fn connect_custom(
        &self,
        ctx: &TenantCtx,
        name: Option<String>,
    ) -> Result<IntegrationView, ServiceError> {
        self.guard.require_verified_email(ctx.tenant()).await?;
        let id = IntegrationId::generate();
        let record = IntegrationRecord {
            name,
            ..IntegrationRecord::new(Provider::Custom, self.now())
        };
        self.create_integration(ctx.tenant(), &id, &record).await?;
        self.guard
            .audit(
                ctx.tenant(),
                Some(ctx.user()),
                "IntegrationConnected:custom",
                Some(format!("integration:{id}")),
                Some(ctx.ip()),
            )
            .await?;
        Ok(IntegrationView::of(
            id,
            IntegrationStatus::Connected,
            &record,
        ))
    }

    /// `POST /v1/integrations/{id}/import/{kind}` with a JSON batch: writes the good
    /// rows of each chunk as it arrives, reports the others, and publishes the snapshot
    /// once at the end when anything was written.
    pub async fn import(
        &self,
        ctx: &TenantCtx,
        id: &IntegrationId,
        kind: ImportKind,
        mut chunks: tokio::sync::mpsc::Receiver<Chunk>,
    ) -> Result<ImportOutcome, ServiceError> {
        let tenant = ctx.tenant();
        let unfinished = self.take_import_lease(tenant, id).await?;
        let mut tally = Tally::default();
        let mut touched = Touched::new(id.clone());
        let mut worked = Ok(());
        while let Some(chunk) = chunks.recv().await {
            worked = self
                .import_rows(tenant, id, kind, chunk, &mut tally, &mut touched)
                .await;
            if worked.is_err() {
                break;
            }
        }
        tally.outcome.errors.sort_by_key(|e| e.index);
        let lease = Lease {
            unfinished,
            publish: true,
        };
        self.end_import_lease(tenant, id, worked.map(|()| touched), lease)
            .await?;
        Ok(tally.outcome)
    }

    /// Takes the integration's lease for an import, as a sync does: `Ok(unfinished)`,
    /// true when an earlier import or sync stopped half-way (the snapshot is then
    /// published in full).
    async fn take_import_lease(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
    ) -> Result<bool, ServiceError> {
        let custom = (Provider::Custom, Conflict::NotCustomIntegration);
        let stored = self.load_live_integration(tenant, id, Some(custom)).await?;
        let now = self.now();
        let unfinished =
            stored.status == IntegrationStatus::Syncing || stored.record.last_error.is_some();
        let lease_held = stored.status == IntegrationStatus::Syncing
            && stored
                .record
                .sync_started_at
                .is_some_and(|at| at + Duration::minutes(IMPORT_LEASE_MINUTES) > now);
        if lease_held {
            return Err(ServiceError::Conflict(Conflict::ConcurrentUpdate));
        }
        let mut record = stored.record.clone();
        record.sync_started_at = Some(now);
        self.save_integration(tenant, id, &record, IntegrationStatus::Syncing, &stored)
            .await?;
        Ok(unfinished)
    }

    /// Releases the lease after an import's rows were written (`worked`, with what they
    /// touched) or not: publishes the snapshot when anything was written (in full when
    /// `lease.unfinished`) unless `lease.publish` is false (a job that pauses: its
    /// continuation publishes), or records the failure on the integration. A failure is
    /// returned as it was.
    async fn end_import_lease(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        worked: Result<Touched, ServiceError>,
        lease: Lease,
    ) -> Result<(), ServiceError> {
        let Some(stored) = self.load_integration(tenant, id).await? else {
            return Err(ServiceError::NotFound);
        };
        if stored.status == IntegrationStatus::Disconnected {
            // Disconnected meanwhile: it wins, and its data goes with the sweep.
            return worked.map(|_| ());
        }
        let mut record = stored.record.clone();
        let changed_before = record.changed_at;
        record.sync_started_at = None;
        match worked {
            Ok(touched) => {
                // Plans alone change no record: nothing to publish for them.
                let wrote = !touched.is_empty();
                if wrote {
                    record.changed_at = Some(self.analytics.change_mark(tenant).await?);
                }
                if lease.publish {
                    record.last_sync_at = Some(self.now());
                    record.last_error = None;
                    if wrote || lease.unfinished {
                        self.analytics
                            .publish_analytics(
                                tenant,
                                changed_before,
                                record.changed_at,
                                lease.unfinished,
                                &touched,
                            )
                            .await;
                    }
                }
                self.save_integration(tenant, id, &record, IntegrationStatus::Connected, &stored)
                    .await
            }
            Err(err) => {
                tracing::error!(tenant_id = %tenant, integration_id = %id, error = %ErrorChain(&err), "import failed");
                record.last_error = Some("internal_error".to_owned());
                self.save_integration(tenant, id, &record, IntegrationStatus::Connected, &stored)
                    .await?;
                Err(err)
            }
        }
    }

    /// `POST /v1/integrations/{id}/import/{kind}` with a CSV file: stages its chunks
    /// (sealed, expiring) as the HTTP layer reads them, then records the run and asks
    /// the ingest function for the job. Nothing is imported here: the request returns
    /// well inside API Gateway's 29 s whatever the file's size.
    pub async fn queue_import(
        &self,
        ctx: &TenantCtx,
        id: &IntegrationId,
        kind: ImportKind,
        header: Vec<String>,
        mut chunks: tokio::sync::mpsc::Receiver<StagedChunk>,
    ) -> Result<(ImportId, ImportRun), ServiceError> {
        let tenant = ctx.tenant();
        let custom = (Provider::Custom, Conflict::NotCustomIntegration);
        self.load_live_integration(tenant, id, Some(custom)).await?;
        let import = ImportId::generate();
        let now = self.now();
        let chunk_expiry = (now + Duration::days(CHUNK_DAYS)).timestamp();
        let imports = &self.repos.imports;
        let (mut staged, mut rows) = (0, 0);
        while let Some(chunk) = chunks.recv().await {
            rows += chunk.rows.len();
            imports
                .stage_chunk(tenant, id, &import, staged, &chunk, chunk_expiry)
                .await?;
            staged += 1;
        }
        let run = ImportRun {
            kind,
            header,
            status: RunStatus::Queued,
            chunks: staged,
            next_chunk: 0,
            rows,
            written: 0,
            unchanged: 0,
            failed_rows: 0,
            errors: Vec::new(),
            created_at: now,
            finished_at: None,
            failure: None,
            full_publish: false,
            resumes: 0,
        };
        // The run last: a run that exists has all its chunks (a request stopped before
        // it leaves only chunks, which expire).
        let run_expiry = (now + Duration::days(RUN_DAYS)).timestamp();
        imports
            .create_run(tenant, id, &import, &run, run_expiry)
            .await?;
        self.guard
            .audit(
                tenant,
                Some(ctx.user()),
                IMPORT_REQUESTED,
                Some(format!("integration:{id}")),
                Some(ctx.ip()),
            )
            .await?;
        self.publish_import(tenant, id, &import).await?;
        Ok((import, run))
    }

    async fn publish_import(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        import: &ImportId,
    ) -> Result<(), ServiceError> {
        let job = ImportJob {
            tenant_id: tenant.clone(),
            integration_id: id.clone(),
            import_id: import.clone(),
        };
        Ok(self.events.publish(&job.event(self.now())).await?)
    }

    /// `GET /v1/integrations/{id}/imports/{import_id}`.
    pub async fn import_run(
        &self,
        ctx: &TenantCtx,
        id: &IntegrationId,
        import: &ImportId,
    ) -> Result<ImportRun, ServiceError> {
        let found = self.repos.imports.run(ctx.tenant(), id, import).await?;
        found
            .map(|(run, _)| run.record)
            .ok_or(ServiceError::NotFound)
    }

    /// The `import` job: imports a staged upload's chunks from the run's `next_chunk`,
    /// saving the run after each, under the integration's lease; publishes the snapshot
    /// once at the end, marks the run `done` and deletes its chunks. It stops taking
    /// chunks after `budget` (saved, the lease released, the job asked for again) so it
    /// ends inside Lambda's 15 minutes whatever the file. A copy delivered again finds
    /// the run done, or running under the lease; `None` when the run is gone (its
    /// integration was deleted).
    pub async fn run_import(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        import: &ImportId,
        budget: std::time::Duration,
    ) -> Result<Option<RunStatus>, ServiceError> {
        let imports = &self.repos.imports;
        let Some((stored, expires_at)) = imports.run(tenant, id, import).await? else {
            return Ok(None);
        };
        let (mut run, mut version) = (stored.record, stored.version);
        if run.status.is_finished() {
            return Ok(Some(run.status));
        }
        let unfinished = match self.take_import_lease(tenant, id).await {
            Ok(unfinished) => unfinished,
            // Another copy of this job holds it: nothing to do here.
            Err(ServiceError::Conflict(Conflict::ConcurrentUpdate))
                if run.status == RunStatus::Running =>
            {
                return Ok(Some(RunStatus::Running));
            }
            Err(
                ServiceError::NotFound | ServiceError::Conflict(Conflict::NotCustomIntegration),
            ) => {
                self.finish_run(
                    tenant,
                    id,
                    import,
                    &mut run,
                    version,
                    expires_at,
                    "integration_gone",
                )
                .await?;
                return Ok(Some(run.status));
            }
            Err(err) => return Err(err),
        };
        let full = unfinished || run.full_publish || run.next_chunk > 0;
        let mut touched = Touched::new(id.clone());
        let started = std::time::Instant::now();
        let chunks = self
            .import_chunks(
                tenant,
                id,
                import,
                &mut run,
                &mut version,
                expires_at,
                &mut touched,
                started,
                budget,
            )
            .await;
        let paused = matches!(chunks, Ok(false));
        let lease = Lease {
            unfinished: full,
            publish: !paused,
        };
        let ended = self
            .end_import_lease(tenant, id, chunks.map(|_| touched), lease)
            .await;
        match ended {
            Err(ServiceError::NotFound) => Ok(None),
            Err(err) => {
                self.finish_run(
                    tenant,
                    id,
                    import,
                    &mut run,
                    version,
                    expires_at,
                    "internal_error",
                )
                .await?;
                Err(err)
            }
            Ok(()) if paused => {
                self.resume_later(tenant, id, import, &mut run, version, expires_at)
                    .await?;
                Ok(Some(run.status))
            }
            Ok(()) => {
                run.status = RunStatus::Done;
                run.finished_at = Some(self.now());
                imports
                    .save_run(tenant, id, import, &run, version, expires_at)
                    .await?;
                imports.drop_chunks(tenant, id, import, run.chunks).await?;
                Ok(Some(RunStatus::Done))
            }
        }
    }

    /// The import job ran past its time (stopped by [`crate::services::jobs::run`]
    /// before Lambda would stop it; the snapshot it publishes at the end, most likely):
    /// releases the integration's lease, marks the run to publish in full, and asks for
    /// the job again, which resumes at the run's `next_chunk` (a chunk cut off half-way
    /// is imported again: its rows written already count as `unchanged`).
    pub async fn import_timed_out(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        import: &ImportId,
    ) -> Result<Option<RunStatus>, ServiceError> {
        let imports = &self.repos.imports;
        let Some((stored, expires_at)) = imports.run(tenant, id, import).await? else {
            return Ok(None);
        };
        let mut run = stored.record;
        if run.status.is_finished() {
            return Ok(Some(run.status));
        }
        if let Some(integration) = self
            .load_integration(tenant, id)
            .await?
            .filter(|s| s.status == IntegrationStatus::Syncing)
        {
            let mut record = integration.record.clone();
            record.sync_started_at = None;
            self.save_integration(
                tenant,
                id,
                &record,
                IntegrationStatus::Connected,
                &integration,
            )
            .await?;
        }
        self.resume_later(tenant, id, import, &mut run, stored.version, expires_at)
            .await?;
        Ok(Some(run.status))
    }

    /// Saves the run to go on in another invocation, publishing the snapshot in full at
    /// its end, and asks for it; or fails it (`timed_out`) after [`MAX_RESUMES`].
    async fn resume_later(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        import: &ImportId,
        run: &mut ImportRun,
        version: u64,
        expires_at: i64,
    ) -> Result<(), ServiceError> {
        if run.resumes >= MAX_RESUMES {
            return self
                .finish_run(tenant, id, import, run, version, expires_at, "timed_out")
                .await;
        }
        run.resumes += 1;
        run.status = RunStatus::Queued;
        run.full_publish = true;
        self.repos
            .imports
            .save_run(tenant, id, import, run, version, expires_at)
            .await?;
        self.publish_import(tenant, id, import).await
    }

    /// Imports the run's chunks from `next_chunk`, saving it after each: `Ok(true)` when
    /// every chunk is in, `Ok(false)` when `budget` ran out first (after one chunk at
    /// least).
    #[allow(clippy::too_many_arguments)]
    async fn import_chunks(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        import: &ImportId,
        run: &mut ImportRun,
        version: &mut u64,
        expires_at: i64,
        touched: &mut Touched,
        started: std::time::Instant,
        budget: std::time::Duration,
    ) -> Result<bool, ServiceError> {
        let imports = &self.repos.imports;
        run.status = RunStatus::Running;
        *version = imports
            .save_run(tenant, id, import, run, *version, expires_at)
            .await?;
        let first = run.next_chunk;
        let mut tally = Tally::resuming(run);
        // The external ids of the chunks already imported, so that a repeated one is
        // refused after a resume as it would have been in one go.
        for n in 0..run.next_chunk {
            let staged = imports
                .chunk(tenant, id, import, n)
                .await?
                .ok_or_else(|| ServiceError::internal("a staged chunk expired"))?;
            for row in &staged.rows {
                if let Ok(row) = row.parse(run.kind, &run.header) {
                    tally.seen.insert(dedup_key(&row));
                }
            }
        }
        while run.next_chunk < run.chunks {
            // At least one chunk per invocation: every invocation moves the run on.
            if run.next_chunk > first && started.elapsed() > budget {
                return Ok(false);
            }
            let staged = imports
                .chunk(tenant, id, import, run.next_chunk)
                .await?
                .ok_or_else(|| ServiceError::internal("a staged chunk expired"))?;
            let chunk = Chunk {
                first_index: staged.first_index,
                lines: staged.rows.iter().map(StagedRow::line).collect(),
                rows: staged
                    .rows
                    .iter()
                    .map(|row| row.parse(run.kind, &run.header))
                    .collect(),
            };
            self.import_rows(tenant, id, run.kind, chunk, &mut tally, touched)
                .await?;
            run.next_chunk += 1;
            tally.save_into(run);
            *version = imports
                .save_run(tenant, id, import, run, *version, expires_at)
                .await?;
        }
        Ok(true)
    }

    /// Marks a run failed with `code` (a code, never a message holding data) and deletes
    /// its chunks.
    #[allow(clippy::too_many_arguments)]
    async fn finish_run(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        import: &ImportId,
        run: &mut ImportRun,
        version: u64,
        expires_at: i64,
        code: &str,
    ) -> Result<(), ServiceError> {
        let imports = &self.repos.imports;
        // The saved run, whatever this copy has in memory: its counts are the truth.
        let version = match imports.run(tenant, id, import).await? {
            Some((stored, _)) => {
                *run = stored.record;
                stored.version
            }
            None => version,
        };
        run.status = RunStatus::Failed;
        run.failure = Some(code.to_owned());
        run.finished_at = Some(self.now());
        imports
            .save_run(tenant, id, import, run, version, expires_at)
            .await?;
        imports.drop_chunks(tenant, id, import, run.chunks).await?;
        Ok(())
    }

    /// Checks the rows against what is stored, then writes what changed.
    async fn import_rows(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        kind: ImportKind,
        chunk: Chunk,
        tally: &mut Tally,
        touched: &mut Touched,
    ) -> Result<(), ServiceError> {
        tally.outcome.received += chunk.rows.len();
        tally.first_index = chunk.first_index;
        tally.lines = chunk.lines;
        let mut good: Vec<(usize, ImportRow)> = Vec::with_capacity(chunk.rows.len());
        for (index, row) in chunk.rows.into_iter().enumerate() {
            match row {
                Err(error) => tally.refuse(index, error),
                Ok(row) => {
                    if tally.seen.insert(dedup_key(&row)) {
                        good.push((index, row));
                    } else {
                        tally.refuse(
                            index,
                            FieldError::new(
                                "external_id",
                                "duplicate_in_batch",
                                "An earlier row of this batch has the same external id.",
                            ),
                        );
                    }
                }
            }
        }
        let changes = match kind {
            ImportKind::Customers => self.customers(tenant, id, good, tally).await?,
            ImportKind::Plans => self.plans(tenant, id, good, tally).await?,
            ImportKind::SubscriptionEvents => self.events(tenant, id, good, tally).await?,
            ImportKind::Payments => self.payments(tenant, id, good, tally).await?,
            ImportKind::Refunds => self.refunds(tenant, id, good, tally).await?,
        };
        if !changes.is_empty() {
            let billing = &self.repos.billing_records;
            // Records first, the logs that explain them last: a batch stopped between
            // the two is re-posted onto the old logs and rewrites the same records.
            billing.upsert(tenant, id, changes.records).await?;
            for (kind, record) in &changes.deleted {
                billing.delete(tenant, id, *kind, record).await?;
            }
            self.repos
                .imports
                .put(tenant, id, &changes.plans, &changes.logs)
                .await?;
            for (before, after) in changes.touched_pairs {
                touched.push(before, after);
            }
        }
        Ok(())
    }

    /// The stored records of `kind` among `ids` (record ids), by id.
    async fn stored(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        kind: ObjectKind,
        ids: impl IntoIterator<Item = String>,
    ) -> Result<HashMap<String, BillingRecord>, ServiceError> {
        let keys: BTreeSet<String> = ids.into_iter().collect();
        let keys: Vec<(ObjectKind, String)> = keys.into_iter().map(|i| (kind, i)).collect();
        let found = self
            .repos
            .billing_records
            .get_many(tenant, id, &keys)
            .await?;
        Ok(found.into_iter().map(|r| (r.id().to_owned(), r)).collect())
    }

    /// Records built from rows (one each): written unless stored as they are.
    fn upsert_records(
        tally: &mut Tally,
        changes: &mut Changes,
        stored: &HashMap<String, BillingRecord>,
        records: Vec<BillingRecord>,
    ) {
        for record in records {
            let before = stored.get(record.id());
            if before == Some(&record) {
                tally.outcome.unchanged += 1;
                continue;
            }
            tally.outcome.written += 1;
            changes
                .touched_pairs
                .push((before.cloned(), Some(record.clone())));
            changes.records.push(record);
        }
    }

    async fn customers(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        rows: Vec<(usize, ImportRow)>,
        tally: &mut Tally,
    ) -> Result<Changes, ServiceError> {
        let rows: Vec<CustomerRow> = rows
            .into_iter()
            .filter_map(|(_, row)| match row {
                ImportRow::Customer(row) => Some(row),
                _ => None,
            })
            .collect();
        let records: Vec<BillingRecord> = rows
            .into_iter()
            .map(|row| {
                BillingRecord::Customer(CustomerRecord {
                    id: record_id(&row.external_id),
                    created: row.created_at,
                    email: row.email,
                    city: row.city,
                    country: row.country,
                    default_payment_method: None,
                    deleted: false,
                    discount: None,
                })
            })
            .collect();
        let stored = self
            .stored(
                tenant,
                id,
                ObjectKind::Customer,
                records.iter().map(|r| r.id().to_owned()),
            )
            .await?;
        let mut changes = Changes::default();
        Self::upsert_records(tally, &mut changes, &stored, records);
        Ok(changes)
    }

    async fn plans(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        rows: Vec<(usize, ImportRow)>,
        tally: &mut Tally,
    ) -> Result<Changes, ServiceError> {
        let rows: Vec<PlanRow> = rows
            .into_iter()
            .filter_map(|(_, row)| match row {
                ImportRow::Plan(row) => Some(row),
                _ => None,
            })
            .collect();
        let ids = rows.iter().map(|p| p.external_id.clone()).collect();
        let stored = self.repos.imports.plans(tenant, id, ids).await?;
        let mut changes = Changes::default();
        for plan in rows {
            if stored.get(&plan.external_id) == Some(&plan) {
                tally.outcome.unchanged += 1;
            } else {
                tally.outcome.written += 1;
                changes.plans.push(plan);
            }
        }
        Ok(changes)
    }

    async fn payments(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        rows: Vec<(usize, ImportRow)>,
        tally: &mut Tally,
    ) -> Result<Changes, ServiceError> {
        let rows: Vec<(usize, PaymentRow)> = rows
            .into_iter()
            .filter_map(|(index, row)| match row {
                ImportRow::Payment(row) => Some((index, row)),
                _ => None,
            })
            .collect();
        let customers = self
            .stored(
                tenant,
                id,
                ObjectKind::Customer,
                rows.iter().map(|(_, r)| record_id(&r.customer)),
            )
            .await?;
        let stored = self
            .stored(
                tenant,
                id,
                ObjectKind::Charge,
                rows.iter().map(|(_, r)| record_id(&r.external_id)),
            )
            .await?;
        let mut records = Vec::with_capacity(rows.len());
        for (index, row) in rows {
            let customer = record_id(&row.customer);
            if !customers.contains_key(&customer) {
                tally.refuse(index, unknown("customer", "unknown_customer", "customer"));
                continue;
            }
            let charge_id = record_id(&row.external_id);
            // Refunds imported since are kept: a re-posted payment does not undo them.
            let refunded = match stored.get(&charge_id) {
                Some(BillingRecord::Charge(charge)) => charge.amount_refunded,
                _ => 0,
            };
            records.push(BillingRecord::Charge(ChargeRecord {
                id: charge_id,
                customer: Some(customer),
                invoice: None,
                amount: row.amount,
                amount_refunded: refunded.min(row.amount),
                currency: row.currency,
                status: row.status,
                created: row.at,
                failure_code: None,
                payment_method: None,
                payment_method_type: row.payment_method_type,
                card: row.card_brand.map(|brand| CardFacts {
                    brand: Some(brand),
                    funding: None,
                    exp_month: None,
                    exp_year: None,
                    country: None,
                }),
            }));
        }
        let mut changes = Changes::default();
        Self::upsert_records(tally, &mut changes, &stored, records);
        Ok(changes)
    }

    async fn refunds(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        rows: Vec<(usize, ImportRow)>,
        tally: &mut Tally,
    ) -> Result<Changes, ServiceError> {
        let rows: Vec<(usize, RefundRow)> = rows
            .into_iter()
            .filter_map(|(index, row)| match row {
                ImportRow::Refund(row) => Some((index, row)),
                _ => None,
            })
            .collect();
        let charges = self
            .stored(
                tenant,
                id,
                ObjectKind::Charge,
                rows.iter().map(|(_, r)| record_id(&r.payment)),
            )
            .await?;
        let stored = self
            .stored(
                tenant,
                id,
                ObjectKind::Refund,
                rows.iter().map(|(_, r)| record_id(&r.external_id)),
            )
            .await?;
        let mut records = Vec::with_capacity(rows.len());
        for (index, row) in rows {
            let Some(BillingRecord::Charge(charge)) = charges.get(&record_id(&row.payment)) else {
                tally.refuse(index, unknown("payment", "unknown_payment", "payment"));
                continue;
            };
            if row.amount > charge.amount {
                tally.refuse(
                    index,
                    FieldError::new(
                        "amount",
                        "invalid",
                        "`amount` must not exceed the payment's amount.",
                    ),
                );
                continue;
            }
            records.push(BillingRecord::Refund(RefundRecord {
                id: record_id(&row.external_id),
                charge: Some(charge.id.clone()),
                amount: row.amount,
                currency: charge.currency.clone(),
                status: Some("succeeded".to_owned()),
                created: row.at,
            }));
        }
        let mut changes = Changes::default();
        Self::upsert_records(tally, &mut changes, &stored, records);
        Ok(changes)
    }

    async fn events(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        rows: Vec<(usize, ImportRow)>,
        tally: &mut Tally,
    ) -> Result<Changes, ServiceError> {
        let mut rows: Vec<(usize, EventRow)> = rows
            .into_iter()
            .filter_map(|(index, row)| match row {
                ImportRow::Event(row) => Some((index, row)),
                _ => None,
            })
            .collect();
        // In the order they happened: a batch may list a cancel before its start.
        rows.sort_by(|(ia, a), (ib, b)| (a.at, a.kind, ia).cmp(&(b.at, b.kind, ib)));
        let plan_ids: BTreeSet<String> = rows.iter().filter_map(|(_, r)| r.plan.clone()).collect();
        let plans = self
            .repos
            .imports
            .plans(tenant, id, plan_ids.into_iter().collect())
            .await?;
        let customers = self
            .stored(
                tenant,
                id,
                ObjectKind::Customer,
                rows.iter().map(|(_, r)| record_id(&r.customer)),
            )
            .await?;
        let subscriptions: BTreeSet<String> =
            rows.iter().map(|(_, r)| r.subscription.clone()).collect();
        let before = self
            .repos
            .imports
            .logs(tenant, id, subscriptions.into_iter().collect())
            .await?;
        let mut logs: BTreeMap<String, SubscriptionLog> = BTreeMap::new();
        for (index, row) in rows {
            let plan = match &row.plan {
                Some(plan_id) => match plans.get(plan_id) {
                    Some(plan) => Some(plan.clone()),
                    None => {
                        tally.refuse(index, unknown("plan", "unknown_plan", "plan"));
                        continue;
                    }
                },
                None => None,
            };
            if !customers.contains_key(&record_id(&row.customer)) {
                tally.refuse(index, unknown("customer", "unknown_customer", "customer"));
                continue;
            }
            let log = logs.entry(row.subscription.clone()).or_insert_with(|| {
                before
                    .get(&row.subscription)
                    .cloned()
                    .unwrap_or(SubscriptionLog {
                        subscription: row.subscription.clone(),
                        customer: row.customer.clone(),
                        events: Vec::new(),
                    })
            });
            if log.customer != row.customer {
                tally.refuse(
                    index,
                    FieldError::new(
                        "customer",
                        "customer_mismatch",
                        "The subscription belongs to another customer.",
                    ),
                );
                continue;
            }
            let event = LoggedEvent {
                external_id: row.external_id.clone(),
                kind: row.kind,
                at: row.at,
                // A cancel names no plan: it ends the one in force.
                plan: plan.filter(|_| row.kind.sets_plan()),
                quantity: row.quantity.filter(|_| row.kind.sets_plan()),
            };
            let existing = log
                .events
                .iter()
                .position(|e| e.external_id == event.external_id);
            match existing {
                Some(at) if log.events[at] == event => {
                    tally.outcome.unchanged += 1;
                    continue;
                }
                Some(_) => {}
                None if log.events.len() >= MAX_EVENTS_PER_SUBSCRIPTION => {
                    tally.refuse(
                        index,
                        FieldError::new(
                            "subscription",
                            "too_many_events",
                            format!(
                                "A subscription keeps at most {MAX_EVENTS_PER_SUBSCRIPTION} events."
                            ),
                        ),
                    );
                    continue;
                }
                None => {}
            }
            let mut tried = log.clone();
            match existing {
                Some(at) => tried.events[at] = event,
                None => tried.events.push(event),
            }
            match check_sequence(&tried) {
                Ok(()) => {
                    *log = tried;
                    tally.outcome.written += 1;
                }
                Err(sequence) => tally.refuse(
                    index,
                    FieldError::new("type", "out_of_sequence", sequence.message),
                ),
            }
        }
        let mut changes = Changes::default();
        for (subscription, log) in logs {
            let old = before.get(&subscription);
            if old == Some(&log) || (old.is_none() && log.events.is_empty()) {
                continue;
            }
            let old_records = match old {
                Some(old) => subscription_records(old).unwrap_or_default(),
                None => Vec::new(),
            };
            let new_records = subscription_records(&log).map_err(|_| {
                ServiceError::internal("a checked subscription log did not translate")
            })?;
            let mut old_by_key: BTreeMap<(ObjectKind, String), BillingRecord> = old_records
                .into_iter()
                .map(|r| ((r.kind(), r.id().to_owned()), r))
                .collect();
            for record in new_records {
                let previous = old_by_key.remove(&(record.kind(), record.id().to_owned()));
                if previous.as_ref() == Some(&record) {
                    continue;
                }
                changes.touched_pairs.push((previous, Some(record.clone())));
                changes.records.push(record);
            }
            // Records of the old log the new one no longer has (a period split by a
            // change imported late is numbered anew).
            for ((kind, record_id), previous) in old_by_key {
                changes.touched_pairs.push((Some(previous), None));
                changes.deleted.push((kind, record_id));
            }
            changes.logs.push(log);
        }
        Ok(changes)
    }
}
