//! Integrations: the item `(TENANT#<id>, INTEG#<integration>)` (sealed record, plain
//! `status`), mirrored in the global partition `INTEGRATIONS` (plain ids and status
//! only) so the scheduled ingest finds every integration with a Query, never a Scan;
//! the global pointer `(STRIPEACCT#<acct_…>, INTEGRATION)` from a Stripe account to its
//! integration, for webhooks (a Paddle integration's webhooks name the integration
//! only: its pointer is `STRIPEACCT#paddle_<integration>`, kept and removed the same
//! way); and the sync state `(TENANT#<id>, SYNC#<integration>)`
//! (plain ids and positions, no business data).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::adapters::demo::DemoShape;
use crate::domain::ids::{IntegrationId, TenantId};
use crate::ports::{Condition, Cursor, Item, Key, Query, SortKeys, Store, StoreError};
use crate::repos::{
    EntityKey, RepoError, SealedPage, Sealer, Transactions, Write, all_under, n, query_all, s,
    sealed_len, tenant_of, with_n, with_s,
};
use crate::services::integrations::{IntegrationStatus, Provider};

const INTEG_PREFIX: &str = "INTEG#";
/// The global partition listing every integration.
const INTEGRATIONS_PK: &str = "INTEGRATIONS";
const STRIPE_ACCOUNT_PREFIX: &str = "STRIPEACCT#";
const STRIPE_ACCOUNT_SK: &str = "INTEGRATION";
const SYNC_PREFIX: &str = "SYNC#";
const STATUS: &str = "status";
const TENANT_ID: &str = "tenant_id";
const INTEGRATION_ID: &str = "integration_id";
/// The schedule entry's plain facts for the planners' metrics (no personal data):
/// the provider, and when the integration connected, last synced and must be deleted by.
const PROVIDER: &str = "provider";
const CONNECTED_AT: &str = "connected_at";
const LAST_SYNC_AT: &str = "last_sync_at";
const DELETE_BY: &str = "delete_by";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntegrationKey {
    pub tenant: TenantId,
    pub integration: IntegrationId,
}

impl EntityKey for IntegrationKey {
    fn key(&self) -> Key {
        Key::new(
            self.tenant.partition(),
            format!("{INTEG_PREFIX}{}", self.integration),
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        Some(Self {
            tenant: tenant_of(&key.pk)?,
            integration: key
                .sk
                .strip_prefix(INTEG_PREFIX)
                .and_then(IntegrationId::parse)?,
        })
    }
}

/// An integration's entry in the global schedule partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntegrationIndexKey {
    pub tenant: TenantId,
    pub integration: IntegrationId,
}

impl EntityKey for IntegrationIndexKey {
    fn key(&self) -> Key {
        Key::new(
            INTEGRATIONS_PK,
            format!("{}#{}", self.tenant, self.integration),
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        if key.pk != INTEGRATIONS_PK {
            return None;
        }
        let (tenant, integration) = key.sk.split_once('#')?;
        Some(Self {
            tenant: TenantId::parse(tenant)?,
            integration: IntegrationId::parse(integration)?,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StripeAccountKey {
    pub account: String,
}

impl EntityKey for StripeAccountKey {
    fn key(&self) -> Key {
        Key::new(
            format!("{STRIPE_ACCOUNT_PREFIX}{}", self.account),
            STRIPE_ACCOUNT_SK,
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        let account = key
            .pk
            .strip_prefix(STRIPE_ACCOUNT_PREFIX)
            .filter(|a| !a.is_empty() && !a.contains('#'))?;
        (key.sk == STRIPE_ACCOUNT_SK).then(|| Self {
            account: account.to_owned(),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncStateKey {
    pub tenant: TenantId,
    pub integration: IntegrationId,
}

impl EntityKey for SyncStateKey {
    fn key(&self) -> Key {
        Key::new(
            self.tenant.partition(),
            format!("{SYNC_PREFIX}{}", self.integration),
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        Some(Self {
            tenant: tenant_of(&key.pk)?,
            integration: key
                .sk
                .strip_prefix(SYNC_PREFIX)
                .and_then(IntegrationId::parse)?,
        })
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct IntegrationRecord {
    pub provider: Provider,
    pub connected_at: DateTime<Utc>,
    #[serde(default)]
    pub last_sync_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_error: Option<String>,
    /// The processor account (Stripe: `acct_…` of an OAuth install).
    #[serde(default)]
    pub account: Option<String>,
    /// The demo dataset's seed and end (Unix seconds): the same data on every sync.
    #[serde(default)]
    pub demo: Option<(u64, i64)>,
    /// The demo dataset's number of customers (`None`: the default 2,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demo_customers: Option<usize>,
    /// Whose ids the demo dataset carries (`None`: Stripe's, as before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demo_shape: Option<DemoShape>,
    #[serde(default)]
    pub data_deleted_by: Option<DateTime<Utc>>,
    /// When the running sync started (a lease: a sync older than this allows is stale).
    #[serde(default)]
    pub sync_started_at: Option<DateTime<Utc>>,
    /// When a sync last wrote or deleted a record (Unix microseconds): a snapshot built
    /// before it does not show that change yet.
    #[serde(default)]
    pub changed_at: Option<i64>,
    /// The admin's name for a custom integration (the billing system it imports from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl IntegrationRecord {
    /// A new integration of `provider`, connected at `at`, with nothing else known yet.
    pub fn new(provider: Provider, at: DateTime<Utc>) -> Self {
        Self {
            provider,
            connected_at: at,
            last_sync_at: None,
            last_error: None,
            account: None,
            demo: None,
            demo_customers: None,
            demo_shape: None,
            data_deleted_by: None,
            sync_started_at: None,
            changed_at: None,
            name: None,
        }
    }
}

/// An integration as read: record, status (an unreadable status counts as `error`) and
/// the version its next write must name.
pub struct StoredIntegration {
    pub id: IntegrationId,
    pub record: IntegrationRecord,
    pub status: IntegrationStatus,
    pub version: u64,
}

/// An entry of the global schedule partition. The times (Unix seconds) are absent on
/// entries written before they were kept, until the integration's next save.
pub struct IndexEntry {
    pub tenant: TenantId,
    pub integration: IntegrationId,
    pub status: Option<IntegrationStatus>,
    pub provider: Option<Provider>,
    pub connected_at: Option<i64>,
    pub last_sync_at: Option<i64>,
    /// A disconnected integration's deletion deadline.
    pub delete_by: Option<i64>,
}

fn status_of(item: &Item) -> IntegrationStatus {
    s(item, STATUS)
        .and_then(IntegrationStatus::parse)
        .unwrap_or(IntegrationStatus::Error)
}

fn key(tenant: &TenantId, id: &IntegrationId) -> Key {
    IntegrationKey {
        tenant: tenant.clone(),
        integration: id.clone(),
    }
    .key()
}

fn index_item(
    tenant: &TenantId,
    id: &IntegrationId,
    status: IntegrationStatus,
    record: &IntegrationRecord,
) -> Item {
    let key = IntegrationIndexKey {
        tenant: tenant.clone(),
        integration: id.clone(),
    };
    let item = with_s(Item::new(key.key()), TENANT_ID, tenant.to_string());
    let item = with_s(item, INTEGRATION_ID, id.to_string());
    let item = with_s(item, STATUS, status.as_str());
    let item = with_s(item, PROVIDER, record.provider.as_str());
    let mut item = with_n(item, CONNECTED_AT, record.connected_at.timestamp());
    if let Some(at) = record.last_sync_at {
        item = with_n(item, LAST_SYNC_AT, at.timestamp());
    }
    if let Some(by) = record.data_deleted_by {
        item = with_n(item, DELETE_BY, by.timestamp());
    }
    item
}

#[derive(Clone)]
pub struct Integrations {
    sealer: Sealer,
}

impl Integrations {
    pub(crate) fn new(sealer: Sealer) -> Self {
        Self { sealer }
    }

    fn stored(&self, item: &Item, record: IntegrationRecord) -> Option<StoredIntegration> {
        Some(StoredIntegration {
            id: IntegrationKey::parse(&item.key)?.integration,
            record,
            status: status_of(item),
            version: item.version,
        })
    }

    /// Every integration of the tenant, whatever its status.
    pub async fn all(&self, tenant: &TenantId) -> Result<Vec<StoredIntegration>, RepoError> {
        let store = self.sealer.store.as_ref();
        let items = all_under(store, tenant, INTEG_PREFIX.into(), 500).await?;
        let records = self.sealer.open_all(tenant, &items).await?;
        Ok(items
            .iter()
            .zip(records)
            .filter_map(|(item, record)| self.stored(item, record))
            .collect())
    }

    /// Every integration's id and status, without opening the records.
    pub async fn statuses(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(IntegrationId, IntegrationStatus)>, RepoError> {
        let store = self.sealer.store.as_ref();
        let items = all_under(store, tenant, INTEG_PREFIX.into(), 500).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                Some((
                    IntegrationKey::parse(&item.key)?.integration,
                    status_of(item),
                ))
            })
            .collect())
    }

    pub async fn get(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
    ) -> Result<Option<StoredIntegration>, RepoError> {
        let loaded = self.sealer.load(tenant, &key(tenant, id)).await?;
        Ok(loaded.and_then(|(record, item)| self.stored(&item, record)))
    }

    /// Creates a connected integration: record and schedule entry together.
    pub async fn create(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        record: &IntegrationRecord,
    ) -> Result<(), RepoError> {
        let status = IntegrationStatus::Connected;
        let item = self.sealer.seal(tenant, key(tenant, id), record).await?;
        let item = with_s(item, STATUS, status.as_str());
        let transactions = Transactions {
            store: self.sealer.store.clone(),
        };
        transactions
            .run(vec![
                Write::put(item, Condition::Absent),
                Write::put(index_item(tenant, id, status, record), Condition::Absent),
            ])
            .await
    }

    /// Writes the record and status (and the schedule entry's status) together, if the
    /// integration is still at `version` (else a conflict).
    pub async fn save(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        record: &IntegrationRecord,
        status: IntegrationStatus,
        version: u64,
    ) -> Result<(), RepoError> {
        let item = self
            .sealer
            .seal(tenant, key(tenant, id), record)
            .await?
            .with_version(version + 1);
        let item = with_s(item, STATUS, status.as_str());
        let transactions = Transactions {
            store: self.sealer.store.clone(),
        };
        transactions
            .run(vec![
                Write::put(item, Condition::VersionIs(version)),
                Write::put(index_item(tenant, id, status, record), Condition::None),
            ])
            .await
    }

    /// Every entry of the schedule partition (ids that do not parse are skipped).
    pub async fn schedule(&self) -> Result<Vec<IndexEntry>, RepoError> {
        let query = Query::new(INTEGRATIONS_PK, SortKeys::All).limit(1000);
        let items = query_all(self.sealer.store.as_ref(), query).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let ids = TenantId::parse(s(item, TENANT_ID).unwrap_or_default()).zip(
                    IntegrationId::parse(s(item, INTEGRATION_ID).unwrap_or_default()),
                );
                let (tenant, integration) = ids?;
                Some(IndexEntry {
                    tenant,
                    integration,
                    status: s(item, STATUS).and_then(IntegrationStatus::parse),
                    provider: s(item, PROVIDER).and_then(Provider::parse),
                    connected_at: n(item, CONNECTED_AT),
                    last_sync_at: n(item, LAST_SYNC_AT),
                    delete_by: n(item, DELETE_BY),
                })
            })
            .collect())
    }

    /// One page (up to 1,000) of the tenant's integrations, with sealed sizes.
    pub async fn export_page(
        &self,
        tenant: &TenantId,
        cursor: Option<Cursor>,
    ) -> Result<SealedPage<StoredIntegration>, RepoError> {
        let query = Query::new(tenant.partition(), SortKeys::prefix(INTEG_PREFIX))
            .limit(1000)
            .after(cursor);
        let page = self.sealer.store.query(query).await?;
        let records = self.sealer.open_all(tenant, &page.items).await?;
        Ok(SealedPage {
            records: page
                .items
                .iter()
                .zip(records)
                .filter_map(|(item, record)| Some((self.stored(item, record)?, sealed_len(item))))
                .collect(),
            next: page.next_cursor,
        })
    }
}

/// The global pointers from a Stripe account (or a Paddle integration's
/// `paddle_<integration>`) to its integration.
#[derive(Clone)]
pub struct StripeAccounts {
    store: Arc<dyn Store>,
}

fn account_key(account: &str) -> Key {
    StripeAccountKey {
        account: account.to_owned(),
    }
    .key()
}

impl StripeAccounts {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Points the account at the integration, only if it points nowhere yet or still
    /// exactly as `replacing` (the version read) says: `false` when another write came
    /// first. An account is linked to one integration, so webhooks and deauthorization
    /// reach one tenant.
    pub async fn claim(
        &self,
        account: &str,
        tenant: &TenantId,
        id: &IntegrationId,
        replacing: Option<u64>,
    ) -> Result<bool, RepoError> {
        let item = with_s(
            Item::new(account_key(account)),
            TENANT_ID,
            tenant.to_string(),
        );
        let item = with_s(item, INTEGRATION_ID, id.to_string());
        let (item, condition) = match replacing {
            None => (item, Condition::Absent),
            Some(version) => (
                item.with_version(version + 1),
                Condition::VersionIs(version),
            ),
        };
        match self.store.put(item, condition).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    /// The account's pointer with the version a [`Self::claim`] replacing it names.
    pub async fn owner(
        &self,
        account: &str,
    ) -> Result<Option<(Option<(TenantId, IntegrationId)>, u64)>, RepoError> {
        let Some(item) = self.store.get(&account_key(account)).await? else {
            return Ok(None);
        };
        let owner = TenantId::parse(s(&item, TENANT_ID).unwrap_or_default()).zip(
            IntegrationId::parse(s(&item, INTEGRATION_ID).unwrap_or_default()),
        );
        Ok(Some((owner, item.version)))
    }

    /// The integration of an account (`None` also for a pointer that does not parse).
    pub async fn get(&self, account: &str) -> Result<Option<(TenantId, IntegrationId)>, RepoError> {
        let Some(item) = self.store.get(&account_key(account)).await? else {
            return Ok(None);
        };
        Ok(
            TenantId::parse(s(&item, TENANT_ID).unwrap_or_default()).zip(IntegrationId::parse(
                s(&item, INTEGRATION_ID).unwrap_or_default(),
            )),
        )
    }

    /// Removes the pointer if it still names this integration (another tenant's link,
    /// or a later one of the same tenant, stays).
    pub async fn delete(
        &self,
        account: &str,
        tenant: &TenantId,
        id: &IntegrationId,
    ) -> Result<(), RepoError> {
        let Some((Some(owner), version)) = self.owner(account).await? else {
            return Ok(());
        };
        if (&owner.0, &owner.1) != (tenant, id) {
            return Ok(());
        }
        match self
            .store
            .delete(&account_key(account), Condition::VersionIs(version))
            .await
        {
            Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }
}

/// Where a sync stands (plain: ids and positions, no business data).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncState {
    /// The change cursor, current once a full sync has completed.
    pub cursor: Option<String>,
    /// A full sync in progress: the cursor it will install, and its position.
    pub full: Option<FullProgress>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FullProgress {
    pub start_cursor: Option<String>,
    pub kind_index: usize,
    pub after: Option<String>,
    /// Records listed so far of the current kind (what the tenant's shard count is
    /// chosen from once its customers are listed).
    pub listed: u64,
}

const CURSOR: &str = "cursor";
const FULL_KIND: &str = "full_kind";
const FULL_LISTED: &str = "full_listed";
const FULL_START_CURSOR: &str = "full_start_cursor";
const FULL_AFTER: &str = "full_after";

impl SyncState {
    fn from_item(item: &Item) -> Self {
        // A number, as `to_item` writes it: a listing in progress resumes where it stood.
        let full = n(item, FULL_KIND).map(|kind| FullProgress {
            start_cursor: s(item, FULL_START_CURSOR).map(str::to_owned),
            kind_index: kind.max(0) as usize,
            after: s(item, FULL_AFTER).map(str::to_owned),
            listed: n(item, FULL_LISTED).unwrap_or(0).max(0) as u64,
        });
        Self {
            cursor: s(item, CURSOR).map(str::to_owned),
            full,
        }
    }
    fn to_item(&self, key: Key) -> Item {
        let mut item = Item::new(key);
        if let Some(c) = &self.cursor {
            item = with_s(item, CURSOR, c.clone());
        }
        if let Some(full) = &self.full {
            item = with_n(item, FULL_KIND, full.kind_index as i64);
            item = with_n(
                item,
                FULL_LISTED,
                i64::try_from(full.listed).unwrap_or(i64::MAX),
            );
            if let Some(c) = &full.start_cursor {
                item = with_s(item, FULL_START_CURSOR, c.clone());
            }
            if let Some(a) = &full.after {
                item = with_s(item, FULL_AFTER, a.clone());
            }
        }
        item
    }
}

/// The sync states of integrations.
#[derive(Clone)]
pub struct SyncStates {
    store: Arc<dyn Store>,
}

fn state_key(tenant: &TenantId, id: &IntegrationId) -> Key {
    SyncStateKey {
        tenant: tenant.clone(),
        integration: id.clone(),
    }
    .key()
}

impl SyncStates {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// The integration's sync state (the default before its first sync).
    pub async fn get(&self, tenant: &TenantId, id: &IntegrationId) -> Result<SyncState, RepoError> {
        Ok(match self.store.get(&state_key(tenant, id)).await? {
            Some(item) => SyncState::from_item(&item),
            None => SyncState::default(),
        })
    }

    pub async fn save(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        state: &SyncState,
    ) -> Result<(), RepoError> {
        let item = state.to_item(state_key(tenant, id));
        Ok(self.store.put(item, Condition::None).await?)
    }
}
