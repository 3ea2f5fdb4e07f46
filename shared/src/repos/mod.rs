//! The repository layer: every kind of item Tally stores, typed, over the unchanged
//! [`Store`] port.
//!
//! Each stored entity has one definition here: its key (a type that builds and parses
//! itself, see [`EntityKey`]), its plain attributes (ids, status, expiry, counters —
//! named only in its own file) and its sealed body (serialized and sealed under the
//! tenant's data key, see [`vault`]). Services call typed methods and never see an
//! `Item`, a `Key`, an `Attr` or an attribute name. Writes that must land together are
//! returned as opaque [`Write`]s and run with [`Transactions::run`].
//!
//! Where each item lives: a tenant's own items share its partition `TENANT#<id>`; a
//! large tenant's bulk items (records, profiles, snapshot parts) are spread over shard
//! partitions `TENANT#<id>#S<n>` ([`shards`]).
//! Lookups that must work before the tenant is known use keyed or plain hashes, never
//! the value itself: an e-mail is `EMAIL#<hmac>`, a bearer token `SESSION#<sha256>`. No
//! personal datum is in a key. [`registry`] lists every entity with its retention and
//! its place in the sweep, tenant closure and tenant export.
//!
//! Every repository is small and cheap to clone: an `Arc` of the store and, for sealed
//! entities, of the tenant keys.

pub mod analytics;
pub mod billing;
pub mod digests;
pub mod emails;
pub mod erasure;
pub mod exports;
pub mod fx;
pub mod imports;
pub mod integrations;
pub mod operators;
pub mod registry;
pub mod reseal;
pub mod security;
pub mod segments;
pub mod sessions;
pub mod shards;
pub mod support;
pub mod tenancy;
pub mod tenants;
pub mod tokens;
pub mod users;
pub mod vault;
pub mod webhooks;

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::crypto::DataKey;
use crate::domain::ids::TenantId;
use crate::ports::{
    Attr, Condition, Cursor, Item, Key, Query, SortKeys, Store, StoreError, WriteOp,
};

pub use vault::{KeyRing, TenantKeys, VaultError};

/// The error of every repository call: the store's, or the vault's (a record that does
/// not open, a tenant without a key).
pub type RepoError = VaultError;

/// A place in the table that builds and parses itself.
pub trait EntityKey: Sized {
    /// The item's key.
    fn key(&self) -> Key;
    /// The typed key of `key`, if `key` is one of this entity's.
    fn parse(key: &Key) -> Option<Self>;
}

/// The attribute every item with a time to live carries (Unix seconds); the store's
/// TTL, or the sweep, deletes the item after it.
pub(crate) const EXPIRES_AT: &str = "expires_at";

/// The partition prefix of a tenant's own items.
const TENANT_PREFIX: &str = "TENANT#";

/// The tenant whose partition `pk` is.
pub(crate) fn tenant_of(pk: &str) -> Option<TenantId> {
    pk.strip_prefix(TENANT_PREFIX).and_then(TenantId::parse)
}

/// A time as it sorts in a sort key: fixed width, so byte order is time order.
pub(crate) fn sortable_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One write of a transaction, built by a repository.
#[derive(Debug)]
pub struct Write(WriteOp);

impl Write {
    fn put(item: Item, condition: Condition) -> Self {
        Self(WriteOp::Put { item, condition })
    }
    fn delete(key: Key, condition: Condition) -> Self {
        Self(WriteOp::Delete { key, condition })
    }
    fn check(key: Key, condition: Condition) -> Self {
        Self(WriteOp::Check { key, condition })
    }
}

/// The port's form of a write, for code that talks to the store itself (tests of the
/// vault and the adapters).
impl From<Write> for WriteOp {
    fn from(write: Write) -> Self {
        write.0
    }
}

/// A record read with the version its conditional write must name.
#[derive(Clone)]
pub struct Stored<T> {
    pub record: T,
    pub version: u64,
}

/// Runs writes of several entities as one transaction.
#[derive(Clone)]
pub struct Transactions {
    store: Arc<dyn Store>,
}

impl Transactions {
    /// All the writes, or none of them. A failed condition is
    /// `VaultError::Store(StoreError::ConditionFailed)` (see [`VaultError::is_conflict`]).
    pub async fn run(&self, writes: Vec<Write>) -> Result<(), RepoError> {
        let ops = writes.into_iter().map(|w| w.0).collect();
        Ok(self.store.transact(ops).await?)
    }
}

/// Seals and opens records under tenants' data keys, bound to their item's place.
#[derive(Clone)]
pub(crate) struct Sealer {
    store: Arc<dyn Store>,
    keys: Arc<TenantKeys>,
}

impl Sealer {
    fn table(&self) -> &str {
        self.store.table_name()
    }

    /// An item at `key` holding `record` sealed under the tenant's current key.
    async fn seal<T: Serialize>(
        &self,
        tenant: &TenantId,
        key: Key,
        record: &T,
    ) -> Result<Item, RepoError> {
        let ring = self.keys.ring(tenant).await?;
        vault::seal_record_as(self.table(), (ring.generation, &ring.current), key, record)
    }

    /// The same with a key in hand (a tenant being created: its key is not stored yet).
    fn seal_with<T: Serialize>(
        &self,
        data_key: &DataKey,
        key: Key,
        record: &T,
    ) -> Result<Item, RepoError> {
        vault::seal_record(self.table(), data_key, key, record)
    }

    /// The tenant's keys, able to open every item given: read again when one names a
    /// generation the cached ring does not hold (another process rotated meanwhile).
    async fn ring_for(&self, tenant: &TenantId, items: &[Item]) -> Result<KeyRing, RepoError> {
        let ring = self.keys.ring(tenant).await?;
        let missing = items
            .iter()
            .filter_map(vault::sealed_generation)
            .any(|g| ring.of_generation(g).is_none());
        if missing {
            return self.keys.fresh_ring(tenant).await;
        }
        Ok(ring)
    }

    /// Opens a record already fetched.
    async fn open<T: DeserializeOwned>(
        &self,
        tenant: &TenantId,
        item: &Item,
    ) -> Result<T, RepoError> {
        let ring = self.ring_for(tenant, std::slice::from_ref(item)).await?;
        vault::parse_record(&vault::open_with_ring(self.table(), &ring, item)?)
    }

    /// Seals opaque bytes (no JSON around them) at `key`.
    async fn seal_bytes(
        &self,
        tenant: &TenantId,
        key: Key,
        bytes: &[u8],
    ) -> Result<Item, RepoError> {
        let ring = self.keys.ring(tenant).await?;
        Ok(vault::seal_bytes_as(
            self.table(),
            (ring.generation, &ring.current),
            key,
            bytes,
        ))
    }

    /// Opens the bytes sealed in each item by [`Self::seal_bytes`], with one look-up
    /// of the keys.
    async fn open_all_bytes(
        &self,
        tenant: &TenantId,
        items: &[Item],
    ) -> Result<Vec<Vec<u8>>, RepoError> {
        let ring = self.ring_for(tenant, items).await?;
        items
            .iter()
            .map(|item| Ok(vault::open_with_ring(self.table(), &ring, item)?.to_vec()))
            .collect()
    }

    /// Loads and opens the bytes sealed at `key`.
    async fn load_bytes(&self, tenant: &TenantId, key: &Key) -> Result<Option<Vec<u8>>, RepoError> {
        let Some(item) = self.store.get(key).await? else {
            return Ok(None);
        };
        Ok(self.open_all_bytes(tenant, &[item]).await?.pop())
    }

    /// Opens every item of a query page with one look-up of the keys.
    async fn open_all<T: DeserializeOwned>(
        &self,
        tenant: &TenantId,
        items: &[Item],
    ) -> Result<Vec<T>, RepoError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let ring = self.ring_for(tenant, items).await?;
        items
            .iter()
            .map(|item| vault::parse_record(&vault::open_with_ring(self.table(), &ring, item)?))
            .collect()
    }

    /// Loads and opens the record sealed at `key`, with its item.
    async fn load<T: DeserializeOwned>(
        &self,
        tenant: &TenantId,
        key: &Key,
    ) -> Result<Option<(T, Item)>, RepoError> {
        let Some(item) = self.store.get(key).await? else {
            return Ok(None);
        };
        let record = self.open(tenant, &item).await?;
        Ok(Some((record, item)))
    }
}

/// Runs `read` on each input, `in_flight` at a time (point reads spread over parallel
/// requests); what each found, in no particular order.
pub(crate) async fn read_concurrently<I, T, F, Fut>(
    inputs: Vec<I>,
    in_flight: usize,
    read: F,
) -> Result<Vec<T>, RepoError>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, RepoError>> + Send + 'static,
{
    let mut found = Vec::with_capacity(inputs.len());
    let mut inputs = inputs.into_iter().peekable();
    while inputs.peek().is_some() {
        let mut reads = tokio::task::JoinSet::new();
        for input in inputs.by_ref().take(in_flight.max(1)) {
            reads.spawn(read(input));
        }
        while let Some(done) = reads.join_next().await {
            let done = done
                .map_err(|e| RepoError::Store(crate::ports::StoreError::Backend(e.to_string())))?;
            found.extend(done?);
        }
    }
    Ok(found)
}

/// Every item a query selects, page after page (small selections only).
async fn query_all(store: &dyn Store, query: Query) -> Result<Vec<Item>, StoreError> {
    crate::ports::store::query_all(store, query).await
}

/// Every item of the tenant's partition under `prefix`.
async fn all_under(
    store: &dyn Store,
    tenant: &TenantId,
    prefix: String,
    page: usize,
) -> Result<Vec<Item>, StoreError> {
    query_all(
        store,
        Query::new(tenant.partition(), SortKeys::prefix(prefix)).limit(page),
    )
    .await
}

/// One page of a sealed selection: each record with the length of its sealed form
/// (which bounds its JSON closely, for callers that cut output by size).
pub struct SealedPage<T> {
    pub records: Vec<(T, usize)>,
    pub next: Option<Cursor>,
}

fn sealed_len(item: &Item) -> usize {
    item.b(vault::SEALED_ATTR).map_or(0, <[u8]>::len)
}

fn n(item: &Item, name: &str) -> Option<i64> {
    item.attrs.get(name).and_then(Attr::as_n)
}

fn s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.attrs.get(name).and_then(Attr::as_s)
}

fn with_s(item: Item, name: &str, value: impl Into<String>) -> Item {
    item.with(name, Attr::S(value.into()))
}

/// A version for an item that is rewritten whole without a condition (billing records,
/// profiles): random, so that a conditional write made on what was read before — the
/// key rotation's re-seal — fails when such a rewrite came in between, instead of
/// putting the older copy back. (An unconditional writer never reads the version.)
pub(crate) fn rewrite_stamp() -> u64 {
    let bytes = crate::domain::crypto::random_bytes::<8>();
    // 1 ..= 2^53: exact in every number type the adapters store it as.
    (u64::from_le_bytes(bytes) >> 11).max(1)
}

fn with_n(item: Item, name: &str, value: i64) -> Item {
    item.with(name, Attr::N(value))
}

/// Every repository, for the services to hold (each is cheap to clone).
#[derive(Clone)]
pub struct Repos {
    pub tenants: tenants::Tenants,
    pub users: users::Users,
    pub email_lookups: emails::EmailLookups,
    pub failed_logins: emails::FailedLogins,
    pub sessions: sessions::Sessions,
    pub tokens: tokens::Tokens,
    pub login_attempts: security::LoginAttempts,
    pub audit_log: security::AuditLog,
    pub allowlist: security::Allowlist,
    pub rate_counters: security::RateCounters,
    pub integrations: integrations::Integrations,
    pub stripe_accounts: integrations::StripeAccounts,
    pub sync_states: integrations::SyncStates,
    pub billing_records: billing::BillingRecords,
    pub imports: imports::Imports,
    pub profiles: analytics::Profiles,
    pub snapshots: analytics::Snapshots,
    pub settings: fx::Settings,
    pub custom_segments: segments::CustomSegments,
    pub digests: digests::Digests,
    pub ecb_days: fx::EcbDays,
    pub exports: exports::Exports,
    pub closures: tenancy::Closures,
    pub webhook_events: webhooks::WebhookEvents,
    pub erasure: erasure::Erasure,
    pub reseal: reseal::Reseal,
    pub operators: operators::Operators,
    pub support_grants: support::SupportGrants,
    pub layouts: shards::Layouts,
    pub transactions: Transactions,
}

impl Repos {
    pub fn new(store: Arc<dyn Store>, keys: Arc<TenantKeys>) -> Self {
        let sealer = Sealer {
            store: store.clone(),
            keys,
        };
        let layouts = shards::Layouts::new(store.clone());
        Self {
            tenants: tenants::Tenants::new(sealer.clone()),
            users: users::Users::new(sealer.clone()),
            email_lookups: emails::EmailLookups::new(store.clone()),
            failed_logins: emails::FailedLogins::new(store.clone()),
            sessions: sessions::Sessions::new(sealer.clone()),
            tokens: tokens::Tokens::new(store.clone()),
            login_attempts: security::LoginAttempts::new(sealer.clone()),
            audit_log: security::AuditLog::new(sealer.clone()),
            allowlist: security::Allowlist::new(sealer.clone()),
            rate_counters: security::RateCounters::new(store.clone()),
            integrations: integrations::Integrations::new(sealer.clone()),
            stripe_accounts: integrations::StripeAccounts::new(store.clone()),
            sync_states: integrations::SyncStates::new(store.clone()),
            billing_records: billing::BillingRecords::new(sealer.clone(), layouts.clone()),
            imports: imports::Imports::new(sealer.clone()),
            profiles: analytics::Profiles::new(sealer.clone(), layouts.clone()),
            snapshots: analytics::Snapshots::new(sealer.clone(), layouts.clone()),
            settings: fx::Settings::new(sealer.clone()),
            custom_segments: segments::CustomSegments::new(sealer.clone()),
            digests: digests::Digests::new(sealer.clone()),
            ecb_days: fx::EcbDays::new(store.clone()),
            operators: operators::Operators::new(sealer.clone()),
            support_grants: support::SupportGrants::new(sealer.clone()),
            exports: exports::Exports::new(sealer.clone()),
            closures: tenancy::Closures::new(store.clone()),
            webhook_events: webhooks::WebhookEvents::new(store.clone()),
            erasure: erasure::Erasure::new(store.clone()),
            reseal: reseal::Reseal::new(sealer),
            layouts,
            transactions: Transactions { store },
        }
    }
}
