//! Security bookkeeping in the table: the sign-in attempts `LOGIN#<time>#<id>` and the
//! audit log `AUDIT#<time>#<id>` (sealed, time-ordered, each with a retention), the IP
//! allowlist `ALLOW#<entry>` (sealed), and the per-minute request counters
//! `(RATE#<bucket>#<address hmac>, <minute>)`.

use std::marker::PhantomData;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::domain::cidr::Cidr;
use crate::domain::ids::{EntryId, TenantId};
use crate::ports::{Condition, Cursor, Key, Query, SortKeys, Store, StoreError};
use crate::repos::{
    EXPIRES_AT, EntityKey, RepoError, SealedPage, Sealer, Stored, Write, all_under, sealed_len,
    sortable_time, tenant_of, with_n,
};
use crate::services::security::{AuditEntry, LoginAttempt};

const LOGIN_PREFIX: &str = "LOGIN#";
const AUDIT_PREFIX: &str = "AUDIT#";
const ALLOW_PREFIX: &str = "ALLOW#";
const RATE_PREFIX: &str = "RATE#";
const COUNT: &str = "count";

/// The key of an entry of a time-ordered log: `<prefix><time>#<id>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeKey<const AUDIT: bool> {
    pub tenant: TenantId,
    pub at: DateTime<Utc>,
    pub id: String,
}

/// A sign-in attempt's key.
pub type LoginAttemptKey = TimeKey<false>;
/// An audit entry's key.
pub type AuditKey = TimeKey<true>;

const fn log_prefix(audit: bool) -> &'static str {
    if audit { AUDIT_PREFIX } else { LOGIN_PREFIX }
}

impl<const AUDIT: bool> EntityKey for TimeKey<AUDIT> {
    fn key(&self) -> Key {
        Key::new(
            self.tenant.partition(),
            format!(
                "{}{}#{}",
                log_prefix(AUDIT),
                sortable_time(self.at),
                self.id
            ),
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        let (at, id) = key.sk.strip_prefix(log_prefix(AUDIT))?.split_once('#')?;
        let at = DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc);
        let parsed = Self {
            tenant: tenant_of(&key.pk)?,
            at,
            id: id.to_owned(),
        };
        // Only the canonical form: the time as `sortable_time` writes it, a plain id.
        (!id.is_empty() && !id.contains('#') && parsed.key() == *key).then_some(parsed)
    }
}

/// A sealed, time-ordered log in the tenant's partition.
pub struct TimeLog<T, const AUDIT: bool> {
    sealer: Sealer,
    record: PhantomData<fn() -> T>,
}

impl<T, const AUDIT: bool> Clone for TimeLog<T, AUDIT> {
    fn clone(&self) -> Self {
        Self {
            sealer: self.sealer.clone(),
            record: PhantomData,
        }
    }
}

pub type LoginAttempts = TimeLog<LoginAttempt, false>;
pub type AuditLog = TimeLog<AuditEntry, true>;

impl<T: Serialize + DeserializeOwned, const AUDIT: bool> TimeLog<T, AUDIT> {
    pub(crate) fn new(sealer: Sealer) -> Self {
        Self {
            sealer,
            record: PhantomData,
        }
    }

    /// `[from, to]`, both inclusive.
    fn range(from: DateTime<Utc>, to: DateTime<Utc>) -> SortKeys {
        let prefix = log_prefix(AUDIT);
        // `~` sorts after every character of the sort key's time and id.
        SortKeys::between(
            format!("{prefix}{}", sortable_time(from)),
            format!("{prefix}{}~", sortable_time(to)),
        )
    }

    /// Appends an entry (never changed afterwards), deleted after `expires_at`.
    pub async fn append(
        &self,
        tenant: &TenantId,
        at: DateTime<Utc>,
        id: &str,
        entry: &T,
        expires_at: i64,
    ) -> Result<(), RepoError> {
        let key = TimeKey::<AUDIT> {
            tenant: tenant.clone(),
            at,
            id: id.to_owned(),
        };
        let item = self.sealer.seal(tenant, key.key(), entry).await?;
        let item = with_n(item, EXPIRES_AT, expires_at);
        Ok(self.sealer.store.put(item, Condition::Absent).await?)
    }

    /// The write that appends an entry, for a transaction with the change it records.
    pub async fn append_write(
        &self,
        tenant: &TenantId,
        at: DateTime<Utc>,
        id: &str,
        entry: &T,
        expires_at: i64,
    ) -> Result<Write, RepoError> {
        let key = TimeKey::<AUDIT> {
            tenant: tenant.clone(),
            at,
            id: id.to_owned(),
        };
        let item = self.sealer.seal(tenant, key.key(), entry).await?;
        let item = with_n(item, EXPIRES_AT, expires_at);
        Ok(Write::put(item, Condition::Absent))
    }

    /// One page (up to 1,000) of the entries in `[from, to]`, oldest first.
    pub async fn scan(
        &self,
        tenant: &TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<T>, Option<Cursor>), RepoError> {
        let query = Query::new(tenant.partition(), Self::range(from, to))
            .limit(1000)
            .after(cursor);
        let page = self.sealer.store.query(query).await?;
        let entries = self.sealer.open_all(tenant, &page.items).await?;
        Ok((entries, page.next_cursor))
    }

    /// One page, newest first, of the entries in `[from, to]` that pass `keep`. It reads
    /// on past the page until one more entry passes, so the cursor is `Some` exactly
    /// when another page has something in it.
    pub async fn newest_first(
        &self,
        tenant: &TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
        mut cursor: Option<Cursor>,
        keep: impl Fn(&T) -> bool,
    ) -> Result<(Vec<T>, Option<Cursor>), RepoError> {
        let sort = Self::range(from, to);
        let mut data = Vec::new();
        let mut last_sk = None;
        loop {
            let query = Query::new(tenant.partition(), sort.clone())
                .reverse()
                .limit(limit + 1)
                .after(cursor);
            let page = self.sealer.store.query(query).await?;
            for item in &page.items {
                let record: T = self.sealer.open(tenant, item).await?;
                if !keep(&record) {
                    continue;
                }
                if data.len() == limit {
                    return Ok((data, last_sk.map(Cursor::after_sort_key)));
                }
                data.push(record);
                last_sk = Some(item.key.sk.clone());
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok((data, None)),
            }
        }
    }

    /// One page (up to 1,000) of every entry, oldest first, with sealed sizes.
    pub async fn export_page(
        &self,
        tenant: &TenantId,
        cursor: Option<Cursor>,
    ) -> Result<SealedPage<T>, RepoError> {
        let query = Query::new(tenant.partition(), SortKeys::prefix(log_prefix(AUDIT)))
            .limit(1000)
            .after(cursor);
        let page = self.sealer.store.query(query).await?;
        let records = self.sealer.open_all(tenant, &page.items).await?;
        let sizes = page.items.iter().map(sealed_len);
        Ok(SealedPage {
            records: records.into_iter().zip(sizes).collect(),
            next: page.next_cursor,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowEntryKey {
    pub tenant: TenantId,
    pub entry: EntryId,
}

impl EntityKey for AllowEntryKey {
    fn key(&self) -> Key {
        Key::new(
            self.tenant.partition(),
            format!("{ALLOW_PREFIX}{}", self.entry),
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        Some(Self {
            tenant: tenant_of(&key.pk)?,
            entry: key.sk.strip_prefix(ALLOW_PREFIX).and_then(EntryId::parse)?,
        })
    }
}

/// One entry of a tenant's IP allowlist (sealed).
#[derive(Clone, Serialize, Deserialize)]
pub struct AllowEntry {
    pub cidr: Cidr,
    pub note: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct Allowlist {
    sealer: Sealer,
}

impl Allowlist {
    pub(crate) fn new(sealer: Sealer) -> Self {
        Self { sealer }
    }

    /// Every entry of the tenant's allowlist (at most a few hundred).
    pub async fn all(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(EntryId, Stored<AllowEntry>)>, RepoError> {
        let store = self.sealer.store.as_ref();
        let items = all_under(store, tenant, ALLOW_PREFIX.into(), 500).await?;
        let records: Vec<AllowEntry> = self.sealer.open_all(tenant, &items).await?;
        Ok(items
            .iter()
            .zip(records)
            .filter_map(|(item, record)| {
                let id = AllowEntryKey::parse(&item.key)?.entry;
                let version = item.version;
                Some((id, Stored { record, version }))
            })
            .collect())
    }

    pub async fn add(
        &self,
        tenant: &TenantId,
        id: &EntryId,
        entry: &AllowEntry,
    ) -> Result<(), RepoError> {
        let key = AllowEntryKey {
            tenant: tenant.clone(),
            entry: id.clone(),
        };
        let item = self.sealer.seal(tenant, key.key(), entry).await?;
        Ok(self.sealer.store.put(item, Condition::Absent).await?)
    }

    /// Removes the entry if it is still at `version` (a concurrent removal is fine).
    pub async fn remove(
        &self,
        tenant: &TenantId,
        id: &EntryId,
        version: u64,
    ) -> Result<(), RepoError> {
        let key = AllowEntryKey {
            tenant: tenant.clone(),
            entry: id.clone(),
        };
        match self
            .sealer
            .store
            .delete(&key.key(), Condition::VersionIs(version))
            .await
        {
            Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateCounterKey {
    pub bucket: String,
    pub ip_hash: String,
    pub minute: i64,
}

impl EntityKey for RateCounterKey {
    fn key(&self) -> Key {
        Key::new(
            format!("{RATE_PREFIX}{}#{}", self.bucket, self.ip_hash),
            self.minute.to_string(),
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        let (bucket, ip_hash) = key.pk.strip_prefix(RATE_PREFIX)?.split_once('#')?;
        let parsed = Self {
            bucket: bucket.to_owned(),
            ip_hash: ip_hash.to_owned(),
            minute: key.sk.parse().ok()?,
        };
        (!bucket.is_empty() && !ip_hash.is_empty() && parsed.key() == *key).then_some(parsed)
    }
}

/// Per-minute request counters per client address (keyed hash) and bucket.
#[derive(Clone)]
pub struct RateCounters {
    store: Arc<dyn Store>,
}

impl RateCounters {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Counts one request in the minute; returns the minute's count so far. The counter
    /// expires a minute after its own.
    pub async fn count(&self, bucket: &str, ip_hash: &str, minute: i64) -> Result<i64, RepoError> {
        let key = RateCounterKey {
            bucket: bucket.to_owned(),
            ip_hash: ip_hash.to_owned(),
            minute,
        };
        Ok(self
            .store
            .increment(&key.key(), COUNT, 1, Some((minute + 2) * 60))
            .await?)
    }
}
