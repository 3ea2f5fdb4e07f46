//! Ingestion: incremental, idempotent, resumable (docs/design.md §5).
//!
//! Records are upserted by key in the tenant's partition, sealed
//! (`repos::billing`): a repeated or interrupted sync never duplicates. The sync state
//! (`repos::integrations::SyncState`, plain ids and positions only) records where a full listing
//! stands, page by page, and the change cursor. A full sync first takes the change
//! cursor of "now", then lists every kind; only when every page is written does the
//! cursor become current, so changes made during the listing are read next time. An
//! incremental sync reads the change feed after the cursor, re-fetches each changed
//! object (the API is the source of truth, not the event payload), and advances the
//! cursor only after the page's records are written. A cursor older than the
//! processor's event retention falls back to a full sync.

use std::collections::BTreeMap;

use chrono::Duration;
use serde::Serialize;

use crate::domain::billing::{BillingRecord, ObjectKind};
use crate::domain::ids::{IntegrationId, TenantId};
use crate::ports::{Connector, ConnectorError};
use crate::repos::billing::valid_provider_id;
use crate::repos::integrations::{FullProgress, IntegrationRecord, SyncState};
use crate::repos::shards::Shards;
use crate::services::contexts::{Analytics, Ingestion};
use crate::services::error::{Conflict, ErrorChain, ServiceError};
use crate::services::incremental::Touched;
use crate::services::integrations::{IntegrationStatus, Provider};

/// How long a sync may hold its lease before another may take over.
const SYNC_LEASE_MINUTES: i64 = 15;

/// What one sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub full: bool,
    pub written: u64,
    pub deleted: u64,
    pub skipped: u64,
}

/// Why a sync stopped.
enum SyncFailure {
    Connector(ConnectorError),
    Service(ServiceError),
}

impl From<ConnectorError> for SyncFailure {
    fn from(e: ConnectorError) -> Self {
        Self::Connector(e)
    }
}
impl From<ServiceError> for SyncFailure {
    fn from(e: ServiceError) -> Self {
        Self::Service(e)
    }
}
impl From<crate::repos::RepoError> for SyncFailure {
    fn from(e: crate::repos::RepoError) -> Self {
        Self::Service(e.into())
    }
}

impl Ingestion {
    /// Syncs one integration. `Ok(None)` when it is disconnected or another sync holds
    /// its lease. Connector failures are recorded on the integration (`error` status
    /// for refused credentials, which the schedule then leaves alone) and returned.
    pub async fn sync_integration(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
    ) -> Result<Option<SyncReport>, ServiceError> {
        let Some(stored) = self.integrations.load_integration(tenant, id).await? else {
            return Err(ServiceError::NotFound);
        };
        // A custom integration has nothing to pull: its data comes through imports
        // (`services::imports`), which publish their own changes.
        if stored.record.provider == Provider::Custom {
            return Ok(None);
        }
        let (mut record, status) = (stored.record.clone(), stored.status);
        // The last sync stopped before it finished (killed, or failed after writing some
        // pages): what it stored may not be published yet.
        let unfinished = status == IntegrationStatus::Syncing || record.last_error.is_some();
        let now = self.now();
        let lease_held = status == IntegrationStatus::Syncing
            && record
                .sync_started_at
                .is_some_and(|at| at + Duration::minutes(SYNC_LEASE_MINUTES) > now);
        if status == IntegrationStatus::Disconnected || lease_held {
            return Ok(None);
        }
        record.sync_started_at = Some(now);
        match self
            .integrations
            .save_integration(tenant, id, &record, IntegrationStatus::Syncing, &stored)
            .await
        {
            Ok(()) => {}
            Err(ServiceError::Conflict(_)) => return Ok(None),
            Err(other) => return Err(other),
        }
        let started = std::time::Instant::now();
        let provider = record.provider.as_str();
        let result = self.sync_leased(tenant, id, record, unfinished).await;
        if !matches!(result, Ok(None)) {
            let written = result
                .as_ref()
                .ok()
                .and_then(|r| r.as_ref().map(|r| r.written));
            crate::telemetry::record::sync(provider, id.as_str(), started.elapsed(), written);
        }
        result
    }

    /// The sync itself, once its lease is taken: pull, record the outcome on the
    /// integration, publish the analytics.
    async fn sync_leased(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        record: IntegrationRecord,
        unfinished: bool,
    ) -> Result<Option<SyncReport>, ServiceError> {
        let mut touched = Touched::new(id.clone());
        let outcome = match self.integrations.connector_for(tenant, id, &record).await {
            Ok(connector) => {
                self.run_sync(tenant, id, connector.as_ref(), &mut touched)
                    .await
            }
            Err(ServiceError::Conflict(Conflict::CredentialsRefused)) => {
                Err(SyncFailure::Connector(ConnectorError::Unauthorized))
            }
            Err(other) => Err(SyncFailure::Service(other)),
        };
        // Re-read: a disconnect may have happened while syncing; it wins.
        let Some(stored) = self.integrations.load_integration(tenant, id).await? else {
            return Ok(None);
        };
        let mut record = stored.record.clone();
        let changed_before = record.changed_at;
        if stored.status == IntegrationStatus::Disconnected {
            return Ok(None);
        }
        record.sync_started_at = None;
        let (status, result) = match outcome {
            Ok(report) => {
                if report.full || report.written + report.deleted > 0 {
                    record.changed_at = Some(self.analytics.change_mark(tenant).await?);
                }
                record.last_sync_at = Some(self.now());
                record.last_error = None;
                (IntegrationStatus::Connected, Ok(Some(report)))
            }
            Err(SyncFailure::Connector(err)) => {
                let (status, code) = match err {
                    ConnectorError::Unauthorized => {
                        (IntegrationStatus::Error, Conflict::CredentialsRefused)
                    }
                    ConnectorError::Forbidden => {
                        (IntegrationStatus::Error, Conflict::PermissionMissing)
                    }
                    ConnectorError::CursorExpired | ConnectorError::Unavailable(_) => (
                        IntegrationStatus::Connected,
                        Conflict::SyncProviderUnavailable,
                    ),
                    ConnectorError::Malformed(_) => {
                        (IntegrationStatus::Connected, Conflict::UnexpectedResponse)
                    }
                };
                tracing::warn!(tenant_id = %tenant, integration_id = %id, code = code.as_str(), error = %err, "sync failed");
                record.last_error = Some(code.as_str().to_owned());
                (status, Err(ServiceError::Conflict(code)))
            }
            Err(SyncFailure::Service(err)) => {
                tracing::error!(tenant_id = %tenant, integration_id = %id, error = %ErrorChain(&err), "sync failed");
                record.last_error = Some("internal_error".to_owned());
                (IntegrationStatus::Connected, Err(err))
            }
        };
        // A sync that changed nothing since the published snapshot was built today
        // leaves it as it is: the pass then costs the sync state, not the tenant's size.
        // One that changed k customers recomputes those (`services::incremental`). The
        // first sync of each day rebuilds anyway, which refreshes what depends on the
        // date (RFM recency, card-expiry risk, figures as of today). The snapshot is
        // published while the lease is held: a pass stopped while publishing stays
        // `syncing`, and the next one rebuilds and deletes what it left behind.
        if result.as_ref().is_ok_and(Option::is_some) {
            self.analytics
                .publish_analytics(
                    tenant,
                    changed_before,
                    record.changed_at,
                    unfinished,
                    &touched,
                )
                .await;
        }
        self.integrations
            .save_integration(tenant, id, &record, status, &stored)
            .await?;
        result
    }

    async fn run_sync(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        connector: &dyn Connector,
        touched: &mut Touched,
    ) -> Result<SyncReport, SyncFailure> {
        let mut state = self.repos.sync_states.get(tenant, id).await?;
        let mut report = SyncReport::default();
        if state.cursor.is_some() && state.full.is_none() {
            // A full sync has completed, so the tenant's layout is decided: recorded by
            // it, or one shard for a tenant synced before sharding, which is recorded now
            // so that its reads stop looking the layout up (a recorded one is cached).
            self.repos.layouts.settle(tenant, Shards::ONE).await?;
            match self
                .incremental(tenant, id, connector, &mut state, &mut report, touched)
                .await
            {
                Err(SyncFailure::Connector(ConnectorError::CursorExpired)) => {
                    tracing::info!(tenant_id = %tenant, integration_id = %id, "change cursor expired: full sync");
                    state = SyncState::default();
                }
                other => return other.map(|()| report),
            }
        }
        report.full = true;
        touched.set_overflow();
        self.full_sync(tenant, id, connector, &mut state, &mut report)
            .await?;
        Ok(report)
    }

    async fn full_sync(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        connector: &dyn Connector,
        state: &mut SyncState,
        report: &mut SyncReport,
    ) -> Result<(), SyncFailure> {
        if state.full.is_none() {
            let now = connector.changes_since(None).await?;
            state.full = Some(FullProgress {
                start_cursor: now.cursor,
                kind_index: 0,
                after: None,
                listed: 0,
            });
            self.save_state(tenant, id, state).await?;
        }
        while let Some(progress) = state.full.clone() {
            let Some(kind) = ObjectKind::ALL.get(progress.kind_index).copied() else {
                state.cursor = progress.start_cursor;
                state.full = None;
                self.save_state(tenant, id, state).await?;
                break;
            };
            let page = connector.list(kind, progress.after.as_deref()).await?;
            let listed = progress.listed + page.records.len() as u64;
            self.write_records(tenant, id, page.records, report).await?;
            state.full = Some(match page.next {
                Some(after) => FullProgress {
                    after: Some(after),
                    listed,
                    ..progress
                },
                None => {
                    if kind == ObjectKind::Customer {
                        // Customers listed, nothing sharded written yet: the moment the
                        // tenant's shard count is chosen, once (`repos::shards`).
                        let per_shard = self.analytics.config.shard_customers;
                        let wanted = Shards::for_customers(listed, per_shard);
                        let shards = self.repos.layouts.settle(tenant, wanted).await?;
                        tracing::info!(tenant_id = %tenant, customers = listed, shards = shards.count(), "tenant shards");
                    }
                    FullProgress {
                        kind_index: progress.kind_index + 1,
                        after: None,
                        listed: 0,
                        ..progress
                    }
                }
            });
            self.save_state(tenant, id, state).await?;
        }
        Ok(())
    }

    async fn incremental(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        connector: &dyn Connector,
        state: &mut SyncState,
        report: &mut SyncReport,
        touched: &mut Touched,
    ) -> Result<(), SyncFailure> {
        loop {
            let before = state.clone();
            let page = connector.changes_since(state.cursor.as_deref()).await?;
            // One re-fetch per object, whatever number of events it had.
            let mut latest: BTreeMap<(ObjectKind, String), bool> = BTreeMap::new();
            for change in &page.changes {
                let deleted = latest
                    .get(&(change.kind, change.id.clone()))
                    .copied()
                    .unwrap_or(false)
                    || change.deleted;
                latest.insert((change.kind, change.id.clone()), deleted);
            }
            let mut records = Vec::new();
            for ((kind, object_id), deleted) in latest {
                if !valid_provider_id(&object_id) {
                    report.skipped += 1;
                    continue;
                }
                let fresh = if deleted {
                    None
                } else {
                    connector.fetch(kind, &object_id).await?
                };
                // As stored before: whose figures it fed (one read per changed object).
                let before = self
                    .repos
                    .billing_records
                    .get(tenant, id, kind, &object_id)
                    .await?;
                touched.push(before, fresh.clone());
                match fresh {
                    Some(record) => records.push(record),
                    None => {
                        self.repos
                            .billing_records
                            .delete(tenant, id, kind, &object_id)
                            .await?;
                        report.deleted += 1;
                    }
                }
            }
            self.write_records(tenant, id, records, report).await?;
            if page.cursor.is_some() {
                state.cursor = page.cursor;
            }
            // A page that moved nothing (no change, the same cursor) writes nothing.
            if *state != before {
                self.save_state(tenant, id, state).await?;
            }
            if !page.has_more {
                return Ok(());
            }
        }
    }

    async fn save_state(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        state: &SyncState,
    ) -> Result<(), SyncFailure> {
        self.repos.sync_states.save(tenant, id, state).await?;
        Ok(())
    }

    /// Upserts records, sealed, as batch writes (whole, unconditional, idempotent copies).
    async fn write_records(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        records: Vec<BillingRecord>,
        report: &mut SyncReport,
    ) -> Result<(), SyncFailure> {
        let mut valid = Vec::with_capacity(records.len());
        for record in records {
            if !valid_provider_id(record.id()) {
                report.skipped += 1;
                continue;
            }
            valid.push(record);
        }
        report.written += self.repos.billing_records.upsert(tenant, id, valid).await?;
        Ok(())
    }

    /// Reads back every record of one kind of an integration (tests, export, metrics).
    pub async fn integration_records(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        kind: ObjectKind,
    ) -> Result<Vec<BillingRecord>, ServiceError> {
        Ok(self.repos.billing_records.all(tenant, id, kind).await?)
    }
}

impl Analytics {
    /// Publishes the tenant's snapshot unless the published one already shows a change
    /// made at `changed_at`: what this pass (a sync, an import) `touched` when the snapshot showed
    /// everything before it (`changed_before`), else a full rebuild; after a stopped
    /// pass (`unfinished`), always a full rebuild, deleting the snapshot items no
    /// manifest names. A failure is logged, not returned: the records are stored and
    /// `changed_at` says so, so the next pass publishes them.
    pub(crate) async fn publish_analytics(
        &self,
        tenant: &TenantId,
        changed_before: Option<i64>,
        changed_at: Option<i64>,
        unfinished: bool,
        touched: &Touched,
    ) {
        // One read of the pointer: what is published, and what the pass builds on.
        let published = self.published(tenant).await.map_err(|err| {
            tracing::warn!(tenant_id = %tenant, error = %ErrorChain(&err), "snapshot pointer unreadable: rebuilding");
        });
        let rebuild = match &published {
            Ok(pointer) => unfinished || !self.shows(pointer.as_ref(), changed_at),
            Err(()) => true,
        };
        if !rebuild {
            return;
        }
        // Incremental only onto a snapshot that showed everything before this sync.
        let base = match published {
            Ok(Some(pointer))
                if !unfinished
                    && !touched.is_empty()
                    && self.shows(Some(&pointer), changed_before) =>
            {
                Some(pointer)
            }
            _ => None,
        };
        let rebuilt = if unfinished {
            self.rebuild_after_stop(tenant).await
        } else if let Some(pointer) = base {
            self.apply_changes(tenant, touched, pointer).await
        } else {
            self.rebuild_analytics(tenant).await
        };
        if let Err(err) = rebuilt {
            tracing::warn!(tenant_id = %tenant, error = %ErrorChain(&err), "analytics rebuild failed");
        }
    }
}
