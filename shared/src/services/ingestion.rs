//! Ingestion: incremental, idempotent, resumable (DESIGN.md §5, issue 5).
//!
//! Records are upserted at `<KIND>#<integration>#<provider id>` in the tenant's
//! partition, sealed: a repeated or interrupted sync never duplicates. The sync state
//! (`SYNC#<integration>`, plain ids and positions only) records where a full listing
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
use crate::ports::{Attr, Condition, Connector, ConnectorError, Item, Key, WriteOp};
use crate::services::Services;
use crate::services::error::{Conflict, ErrorChain, ServiceError};
use crate::services::integrations::IntegrationStatus;

/// How long a sync may hold its lease before another may take over.
const SYNC_LEASE_MINUTES: i64 = 15;

/// The sort-key prefix of a kind's records.
pub fn record_prefix(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Customer => "CUST#",
        ObjectKind::PaymentMethod => "PM#",
        ObjectKind::Subscription => "SUB#",
        ObjectKind::Invoice => "INV#",
        ObjectKind::Charge => "CHG#",
        ObjectKind::Refund => "REF#",
    }
}

/// A processor id fit for a key: 1 to 255 of `[A-Za-z0-9_-]` (no `#`, no path).
fn valid_provider_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 255
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub fn record_key(
    tenant: &TenantId,
    integration: &IntegrationId,
    kind: ObjectKind,
    id: &str,
) -> Key {
    Key::new(
        tenant.partition(),
        format!("{}{integration}#{id}", record_prefix(kind)),
    )
}

fn state_key(tenant: &TenantId, integration: &IntegrationId) -> Key {
    Key::new(tenant.partition(), format!("SYNC#{integration}"))
}

/// Where a sync stands (plain: ids and positions, no business data).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct SyncState {
    /// The change cursor, current once a full sync has completed.
    cursor: Option<String>,
    /// A full sync in progress: the cursor it will install, and its position.
    full: Option<FullProgress>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct FullProgress {
    start_cursor: Option<String>,
    kind_index: usize,
    after: Option<String>,
}

impl SyncState {
    fn from_item(item: &Item) -> Self {
        // A number, as `to_item` writes it: a listing in progress resumes where it stood.
        let full = item.n("full_kind").map(|kind| FullProgress {
            start_cursor: item.s("full_start_cursor").map(str::to_owned),
            kind_index: kind.max(0) as usize,
            after: item.s("full_after").map(str::to_owned),
        });
        Self {
            cursor: item.s("cursor").map(str::to_owned),
            full,
        }
    }
    fn to_item(&self, key: Key) -> Item {
        let mut item = Item::new(key);
        if let Some(c) = &self.cursor {
            item = item.with("cursor", Attr::S(c.clone()));
        }
        if let Some(full) = &self.full {
            item = item.with("full_kind", Attr::N(full.kind_index as i64));
            if let Some(c) = &full.start_cursor {
                item = item.with("full_start_cursor", Attr::S(c.clone()));
            }
            if let Some(a) = &full.after {
                item = item.with("full_after", Attr::S(a.clone()));
            }
        }
        item
    }
}

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
impl From<crate::ports::StoreError> for SyncFailure {
    fn from(e: crate::ports::StoreError) -> Self {
        Self::Service(e.into())
    }
}

impl Services {
    /// Syncs one integration. `Ok(None)` when it is disconnected or another sync holds
    /// its lease. Connector failures are recorded on the integration (`error` status
    /// for refused credentials, which the schedule then leaves alone) and returned.
    pub async fn sync_integration(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
    ) -> Result<Option<SyncReport>, ServiceError> {
        let Some((mut record, status, item)) = self.load_integration(tenant, id).await? else {
            return Err(ServiceError::NotFound);
        };
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
            .save_integration(tenant, id, &record, IntegrationStatus::Syncing, &item)
            .await
        {
            Ok(()) => {}
            Err(ServiceError::Conflict(_)) => return Ok(None),
            Err(other) => return Err(other),
        }
        let outcome = match self.connector_for(tenant, id, &record).await {
            Ok(connector) => self.run_sync(tenant, id, connector.as_ref()).await,
            Err(ServiceError::Conflict(Conflict::CredentialsRefused)) => {
                Err(SyncFailure::Connector(ConnectorError::Unauthorized))
            }
            Err(other) => Err(SyncFailure::Service(other)),
        };
        // Re-read: a disconnect may have happened while syncing; it wins.
        let Some((mut record, status, item)) = self.load_integration(tenant, id).await? else {
            return Ok(None);
        };
        if status == IntegrationStatus::Disconnected {
            return Ok(None);
        }
        record.sync_started_at = None;
        let (status, result) = match outcome {
            Ok(report) => {
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
        self.save_integration(tenant, id, &record, status, &item)
            .await?;
        if result.as_ref().is_ok_and(Option::is_some)
            && let Err(err) = self.rebuild_analytics(tenant).await
        {
            // The data is stored; the next sync or rebuild publishes it.
            tracing::warn!(tenant_id = %tenant, error = %ErrorChain(&err), "analytics rebuild failed");
        }
        result
    }

    async fn run_sync(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        connector: &dyn Connector,
    ) -> Result<SyncReport, SyncFailure> {
        let key = state_key(tenant, id);
        let mut state = match self.adapters.store.get(&key).await? {
            Some(item) => SyncState::from_item(&item),
            None => SyncState::default(),
        };
        let mut report = SyncReport::default();
        if state.cursor.is_some() && state.full.is_none() {
            match self
                .incremental(tenant, id, connector, &mut state, &mut report)
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
        let key = state_key(tenant, id);
        if state.full.is_none() {
            let now = connector.changes_since(None).await?;
            state.full = Some(FullProgress {
                start_cursor: now.cursor,
                kind_index: 0,
                after: None,
            });
            self.save_state(&key, state).await?;
        }
        while let Some(progress) = state.full.clone() {
            let Some(kind) = ObjectKind::ALL.get(progress.kind_index).copied() else {
                state.cursor = progress.start_cursor;
                state.full = None;
                self.save_state(&key, state).await?;
                break;
            };
            let page = connector.list(kind, progress.after.as_deref()).await?;
            self.write_records(tenant, id, page.records, report).await?;
            state.full = Some(match page.next {
                Some(after) => FullProgress {
                    after: Some(after),
                    ..progress
                },
                None => FullProgress {
                    kind_index: progress.kind_index + 1,
                    after: None,
                    ..progress
                },
            });
            self.save_state(&key, state).await?;
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
    ) -> Result<(), SyncFailure> {
        let key = state_key(tenant, id);
        loop {
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
                match fresh {
                    Some(record) => records.push(record),
                    None => {
                        self.adapters
                            .store
                            .delete(&record_key(tenant, id, kind, &object_id), Condition::None)
                            .await?;
                        report.deleted += 1;
                    }
                }
            }
            self.write_records(tenant, id, records, report).await?;
            if page.cursor.is_some() {
                state.cursor = page.cursor;
            }
            self.save_state(&key, state).await?;
            if !page.has_more {
                return Ok(());
            }
        }
    }

    async fn save_state(&self, key: &Key, state: &SyncState) -> Result<(), SyncFailure> {
        self.adapters
            .store
            .put(state.to_item(key.clone()), Condition::None)
            .await?;
        Ok(())
    }

    /// Upserts records, sealed, up to 100 to a transaction.
    async fn write_records(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        records: Vec<BillingRecord>,
        report: &mut SyncReport,
    ) -> Result<(), SyncFailure> {
        let mut unique: BTreeMap<Key, BillingRecord> = BTreeMap::new();
        for record in records {
            if !valid_provider_id(record.id()) {
                report.skipped += 1;
                continue;
            }
            unique.insert(record_key(tenant, id, record.kind(), record.id()), record);
        }
        let mut ops = Vec::with_capacity(unique.len().min(100));
        for (key, record) in unique {
            let item = self.seal(tenant, key, &record).await?;
            ops.push(WriteOp::Put {
                item,
                condition: Condition::None,
            });
            if ops.len() == crate::ports::store::MAX_TRANSACTION_OPS {
                report.written += ops.len() as u64;
                self.adapters
                    .store
                    .transact(std::mem::take(&mut ops))
                    .await?;
            }
        }
        if !ops.is_empty() {
            report.written += ops.len() as u64;
            self.adapters.store.transact(ops).await?;
        }
        Ok(())
    }

    /// Reads back every record of one kind of an integration (tests, export, metrics).
    pub async fn integration_records(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        kind: ObjectKind,
    ) -> Result<Vec<BillingRecord>, ServiceError> {
        let prefix = format!("{}{id}#", record_prefix(kind));
        let query =
            crate::ports::Query::new(tenant.partition(), crate::ports::SortKeys::prefix(prefix))
                .limit(1000);
        let mut out = Vec::new();
        for item in crate::ports::store::query_all(self.adapters.store.as_ref(), query).await? {
            out.push(self.open(tenant, &item).await?);
        }
        Ok(out)
    }
}
