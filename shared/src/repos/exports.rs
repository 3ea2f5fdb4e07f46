//! Tenant exports: the request `(TENANT#<id>, EXPORT#<export>)` (sealed meta, plain
//! status, page count and expiry), its sealed pages `EXPORT#<export>#PAGE#<000000>`
//! (each with the same expiry), and the per-tenant slot `EXPORTRATE` that spaces
//! exports out.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::ids::{ExportId, TenantId, UserId};
use crate::ports::{Condition, Cursor, Item, Key, Query, SortKeys, StoreError};
use crate::repos::{
    EXPIRES_AT, EntityKey, RepoError, Sealer, n, query_all, s, tenant_of, with_n, with_s,
};

const EXPORT_PREFIX: &str = "EXPORT#";
const PAGE_INFIX: &str = "#PAGE#";
const EXPORT_RATE_SK: &str = "EXPORTRATE";
const STATUS: &str = "status";
const PAGES: &str = "pages";
const LAST_AT: &str = "last_at";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportKey {
    pub tenant: TenantId,
    pub export: ExportId,
}

impl EntityKey for ExportKey {
    fn key(&self) -> Key {
        Key::new(
            self.tenant.partition(),
            format!("{EXPORT_PREFIX}{}", self.export),
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        Some(Self {
            tenant: tenant_of(&key.pk)?,
            export: key
                .sk
                .strip_prefix(EXPORT_PREFIX)
                .and_then(ExportId::parse)?,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportPageKey {
    pub tenant: TenantId,
    pub export: ExportId,
    pub page: usize,
}

fn pages_prefix(export: &ExportId) -> String {
    format!("{EXPORT_PREFIX}{export}{PAGE_INFIX}")
}

impl EntityKey for ExportPageKey {
    fn key(&self) -> Key {
        Key::new(
            self.tenant.partition(),
            format!("{}{:06}", pages_prefix(&self.export), self.page),
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        let (export, page) = key.sk.strip_prefix(EXPORT_PREFIX)?.split_once(PAGE_INFIX)?;
        let parsed = Self {
            tenant: tenant_of(&key.pk)?,
            export: ExportId::parse(export)?,
            page: page.parse().ok()?,
        };
        (parsed.key() == *key).then_some(parsed)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportRateKey {
    pub tenant: TenantId,
}

impl EntityKey for ExportRateKey {
    fn key(&self) -> Key {
        Key::new(self.tenant.partition(), EXPORT_RATE_SK)
    }
    fn parse(key: &Key) -> Option<Self> {
        let tenant = tenant_of(&key.pk)?;
        (key.sk == EXPORT_RATE_SK).then_some(Self { tenant })
    }
}

/// The sealed part of an export item.
#[derive(Serialize, Deserialize)]
pub struct ExportMeta {
    pub created_at: DateTime<Utc>,
    pub requested_by: UserId,
}

/// Where an export stands (plain).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportState {
    Pending,
    Ready,
}

impl ExportState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready => "ready",
        }
    }
    fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "ready" => Some(Self::Ready),
            _ => None,
        }
    }
}

/// An export as read.
pub struct StoredExport {
    pub meta: ExportMeta,
    pub state: Option<ExportState>,
    pub pages: Option<i64>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
    item: Item,
}

#[derive(Clone)]
pub struct Exports {
    sealer: Sealer,
}

fn export_key(tenant: &TenantId, id: &ExportId) -> Key {
    ExportKey {
        tenant: tenant.clone(),
        export: id.clone(),
    }
    .key()
}

fn page_key(tenant: &TenantId, id: &ExportId, page: usize) -> Key {
    ExportPageKey {
        tenant: tenant.clone(),
        export: id.clone(),
        page,
    }
    .key()
}

impl Exports {
    pub(crate) fn new(sealer: Sealer) -> Self {
        Self { sealer }
    }

    /// Records a pending export, downloadable until `expires_at`.
    pub async fn create(
        &self,
        tenant: &TenantId,
        id: &ExportId,
        meta: &ExportMeta,
        expires_at: i64,
    ) -> Result<(), RepoError> {
        let item = self
            .sealer
            .seal(tenant, export_key(tenant, id), meta)
            .await?;
        let item = with_s(item, STATUS, ExportState::Pending.as_str());
        let item = with_n(item, EXPIRES_AT, expires_at);
        Ok(self.sealer.store.put(item, Condition::Absent).await?)
    }

    pub async fn get(
        &self,
        tenant: &TenantId,
        id: &ExportId,
    ) -> Result<Option<StoredExport>, RepoError> {
        let loaded = self.sealer.load(tenant, &export_key(tenant, id)).await?;
        Ok(loaded.map(|(meta, item)| StoredExport {
            meta,
            state: s(&item, STATUS).and_then(ExportState::parse),
            pages: n(&item, PAGES),
            expires_at: n(&item, EXPIRES_AT),
            item,
        }))
    }

    /// Marks the export ready with its page count (it must still exist).
    pub async fn mark_ready(&self, export: &StoredExport, pages: usize) -> Result<(), RepoError> {
        let version = export.item.version + 1;
        let ready = export.item.clone().with_version(version);
        let ready = with_s(ready, STATUS, ExportState::Ready.as_str());
        let ready = with_n(ready, PAGES, pages as i64);
        Ok(self.sealer.store.put(ready, Condition::Exists).await?)
    }

    /// Writes page `page` (sealed), expiring with its export.
    pub async fn put_page(
        &self,
        tenant: &TenantId,
        id: &ExportId,
        page: usize,
        document: &Value,
        expires_at: i64,
    ) -> Result<(), RepoError> {
        let item = self
            .sealer
            .seal(tenant, page_key(tenant, id, page), document)
            .await?;
        let item = with_n(item, EXPIRES_AT, expires_at);
        Ok(self.sealer.store.put(item, Condition::None).await?)
    }

    pub async fn page(
        &self,
        tenant: &TenantId,
        id: &ExportId,
        page: usize,
    ) -> Result<Option<Value>, RepoError> {
        let loaded = self
            .sealer
            .load(tenant, &page_key(tenant, id, page))
            .await?;
        Ok(loaded.map(|(document, _)| document))
    }

    /// Deletes pages at and after `first` that an earlier run left (the data shrank).
    pub async fn drop_pages_from(
        &self,
        tenant: &TenantId,
        id: &ExportId,
        first: usize,
    ) -> Result<(), RepoError> {
        let mut query =
            Query::new(tenant.partition(), SortKeys::prefix(pages_prefix(id))).limit(1000);
        if let Some(last_kept) = first.checked_sub(1) {
            query = query.after(Some(Cursor::after_sort_key(
                page_key(tenant, id, last_kept).sk,
            )));
        }
        for item in query_all(self.sealer.store.as_ref(), query).await? {
            self.sealer.store.delete(&item.key, Condition::None).await?;
        }
        Ok(())
    }

    /// The time of the tenant's last claimed export slot and the claim's version.
    pub async fn last_slot(&self, tenant: &TenantId) -> Result<Option<(i64, u64)>, RepoError> {
        let key = ExportRateKey {
            tenant: tenant.clone(),
        };
        let item = self.sealer.store.get(&key.key()).await?;
        Ok(item.map(|i| (n(&i, LAST_AT).unwrap_or(0), i.version)))
    }

    /// Claims the slot at `now` until `until`, if no one claimed it since `previous` (the
    /// version read, `None` for never claimed); `false` when someone did.
    pub async fn claim_slot(
        &self,
        tenant: &TenantId,
        now: i64,
        until: i64,
        previous: Option<u64>,
    ) -> Result<bool, RepoError> {
        let key = ExportRateKey {
            tenant: tenant.clone(),
        };
        let (condition, version) = match previous {
            Some(version) => (Condition::VersionIs(version), version + 1),
            None => (Condition::Absent, 1),
        };
        let claim = Item::new(key.key()).with_version(version);
        let claim = with_n(with_n(claim, LAST_AT, now), EXPIRES_AT, until);
        match self.sealer.store.put(claim, condition).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }
}
