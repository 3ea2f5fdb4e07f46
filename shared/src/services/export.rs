//! Tenant data export (DESIGN.md §4 "all of a tenant's data as JSON at any time").
//!
//! `POST /v1/exports` only records the request (`EXPORT#<id>`, plain status `pending`)
//! and publishes `ExportRequested`; the ingest worker then runs [`Services::build_export`].
//! Building is a job, not a request, because a 100,000-customer tenant takes minutes to
//! read; and the document is never served whole, because a Lambda response is capped at
//! 6 MB. The job streams the partition with paged queries and writes the document as
//! sealed pages `EXPORT#<id>#PAGE#<000000>`, each at most 1,000 records or 256 KiB of
//! JSON (a DynamoDB item is capped at 400 KB), so only one page is ever in memory
//! (`document`). Concatenating every page's sections gives the full
//! document: page 0 starts with `tenant`, `users`, `integrations`, `audit_log` and
//! `metrics_summary`, then come `customers`, `subscriptions`, `invoices`, `payments`,
//! `refunds` and `payment_methods` of every integration that is not disconnected; a
//! section that does not fit a page continues on the next.
//!
//! Nothing secret is exported: users and integrations go out as their API views (no
//! hashes, TOTP secrets, recovery codes; credentials are only in the SecretStore), and
//! billing records are already minimized. Exports and pages carry `expires_at` (7 days):
//! the table's TTL removes them, and reads refuse them from that moment on.

mod document;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::ids::{ExportId, TenantId, UserId};
use crate::ports::store::query_all;
use crate::ports::{Attr, Condition, Cursor, Event, Item, Key, Query, SortKeys, StoreError};
use crate::services::Services;
use crate::services::error::ServiceError;
use crate::services::sessions::TenantCtx;

/// The event that asks the worker to build an export.
pub const EXPORT_REQUESTED: &str = "ExportRequested";
/// How long an export can be downloaded.
pub const EXPORT_DAYS: i64 = 7;
/// The least time between two exports of one tenant.
const EXPORT_INTERVAL_SECS: i64 = 60;
const EXPORT_PREFIX: &str = "EXPORT#";
const EXPORT_RATE_SK: &str = "EXPORTRATE";
const PENDING: &str = "pending";
const READY: &str = "ready";

/// The sealed part of an export item.
#[derive(Serialize, Deserialize)]
struct ExportMeta {
    created_at: DateTime<Utc>,
    requested_by: UserId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum ExportStatus {
    Pending,
    Ready,
}

/// What `GET /v1/exports/{id}?page=N` answers; `document` is page N once ready.
#[derive(Debug, Serialize)]
pub struct ExportPage {
    pub id: ExportId,
    pub status: ExportStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub page: usize,
    pub pages: usize,
    pub next_page: Option<usize>,
    pub document: Option<Value>,
}

fn export_key(tenant: &TenantId, id: &ExportId) -> Key {
    Key::new(tenant.partition(), format!("{EXPORT_PREFIX}{id}"))
}

fn page_key(tenant: &TenantId, id: &ExportId, page: usize) -> Key {
    Key::new(
        tenant.partition(),
        format!("{EXPORT_PREFIX}{id}#PAGE#{page:06}"),
    )
}

/// An export that exists and has not expired.
struct LiveExport {
    meta: ExportMeta,
    item: Item,
    expires_at: i64,
}

impl Services {
    /// `POST /v1/exports`: records the request and hands the work to the worker.
    pub async fn request_export(&self, ctx: &TenantCtx) -> Result<ExportId, ServiceError> {
        let tenant = ctx.tenant();
        self.claim_export_slot(tenant).await?;
        let id = ExportId::generate();
        let now = self.now();
        let meta = ExportMeta {
            created_at: now,
            requested_by: ctx.user().clone(),
        };
        let expires_at = (now + Duration::days(EXPORT_DAYS)).timestamp();
        let item = self
            .seal(tenant, export_key(tenant, &id), &meta)
            .await?
            .with("status", Attr::S(PENDING.into()))
            .with("expires_at", Attr::N(expires_at));
        self.adapters.store.put(item, Condition::Absent).await?;
        let target = Some(format!("export:{id}"));
        self.audit(
            tenant,
            Some(ctx.user()),
            EXPORT_REQUESTED,
            target,
            Some(ctx.ip()),
        )
        .await?;
        let event = Event::new(EXPORT_REQUESTED, now)
            .tenant(tenant.as_str())
            .field("export_id", id.as_str());
        self.adapters.events.publish(&event).await?;
        Ok(id)
    }

    /// At most one export per tenant in any 60 s. A sliding window kept in one item of
    /// the tenant's partition, claimed by a conditional write, so it holds across Lambda
    /// instances; calendar-minute buckets would let two through a second apart.
    async fn claim_export_slot(&self, tenant: &TenantId) -> Result<(), ServiceError> {
        let key = Key::new(tenant.partition(), EXPORT_RATE_SK);
        let now = self.now().timestamp();
        let previous = self.adapters.store.get(&key).await?;
        let (condition, version) = match &previous {
            Some(item) => {
                let wait = item.n("last_at").unwrap_or(0) + EXPORT_INTERVAL_SECS - now;
                if wait > 0 {
                    let retry_after_secs = wait.min(EXPORT_INTERVAL_SECS) as u64;
                    return Err(ServiceError::RateLimited { retry_after_secs });
                }
                (Condition::VersionIs(item.version), item.version + 1)
            }
            None => (Condition::Absent, 1),
        };
        let claim = Item::new(key)
            .with_version(version)
            .with("last_at", Attr::N(now))
            .with("expires_at", Attr::N(now + EXPORT_INTERVAL_SECS));
        match self.adapters.store.put(claim, condition).await {
            Ok(()) => Ok(()),
            // Another request claimed the slot between our read and write.
            Err(StoreError::ConditionFailed) => Err(ServiceError::RateLimited {
                retry_after_secs: EXPORT_INTERVAL_SECS as u64,
            }),
            Err(other) => Err(other.into()),
        }
    }

    async fn live_export(
        &self,
        tenant: &TenantId,
        id: &ExportId,
    ) -> Result<LiveExport, ServiceError> {
        let loaded = self
            .load::<ExportMeta>(tenant, &export_key(tenant, id))
            .await?
            .ok_or(ServiceError::NotFound)?;
        // The TTL deletes items some time after they expire; expiry counts at once.
        let now = self.now().timestamp();
        let expires_at = loaded
            .item
            .n("expires_at")
            .filter(|at| *at > now)
            .ok_or(ServiceError::NotFound)?;
        Ok(LiveExport {
            meta: loaded.record,
            item: loaded.item,
            expires_at,
        })
    }

    /// The export job. Rewrites every page from the current data, so running it again
    /// (a redelivered event) is harmless.
    pub async fn build_export(&self, tenant: &TenantId, id: &ExportId) -> Result<(), ServiceError> {
        let export = self.live_export(tenant, id).await?;
        let record = self
            .load_tenant(tenant)
            .await?
            .ok_or(ServiceError::NotFound)?
            .record;
        let pages = document::write(self, tenant, id, &record, export.expires_at).await?;
        self.drop_pages_from(tenant, id, pages).await?;
        let version = export.item.version + 1;
        let ready = export
            .item
            .with_version(version)
            .with("status", Attr::S(READY.into()))
            .with("pages", Attr::N(pages as i64));
        self.adapters.store.put(ready, Condition::Exists).await?;
        tracing::info!(tenant_id = %tenant, export_id = %id, pages, "export built");
        Ok(())
    }

    /// Deletes pages at and after `first` that an earlier run left (the data shrank).
    async fn drop_pages_from(
        &self,
        tenant: &TenantId,
        id: &ExportId,
        first: usize,
    ) -> Result<(), ServiceError> {
        let prefix = SortKeys::prefix(format!("{EXPORT_PREFIX}{id}#PAGE#"));
        let mut query = Query::new(tenant.partition(), prefix).limit(1000);
        if let Some(last_kept) = first.checked_sub(1) {
            query = query.after(Some(Cursor::after_sort_key(
                page_key(tenant, id, last_kept).sk,
            )));
        }
        for item in query_all(self.adapters.store.as_ref(), query).await? {
            self.adapters
                .store
                .delete(&item.key, Condition::None)
                .await?;
        }
        Ok(())
    }

    /// `GET /v1/exports/{id}?page=N`. Unknown, expired and other tenants' exports are
    /// all simply not found (the key is built from the caller's tenant).
    pub async fn export_page(
        &self,
        ctx: &TenantCtx,
        id: &ExportId,
        page: usize,
    ) -> Result<ExportPage, ServiceError> {
        let tenant = ctx.tenant();
        let export = self.live_export(tenant, id).await?;
        let mut view = ExportPage {
            id: id.clone(),
            status: ExportStatus::Pending,
            created_at: export.meta.created_at,
            expires_at: DateTime::from_timestamp(export.expires_at, 0)
                .ok_or(ServiceError::NotFound)?,
            page,
            pages: 0,
            next_page: None,
            document: None,
        };
        if export.item.s("status") != Some(READY) {
            return Ok(view);
        }
        let pages = export.item.n("pages").and_then(|n| usize::try_from(n).ok());
        let pages = pages.unwrap_or(0);
        if page >= pages {
            return Err(ServiceError::NotFound);
        }
        let stored = self
            .load::<Value>(tenant, &page_key(tenant, id, page))
            .await?
            .ok_or(ServiceError::NotFound)?;
        view.status = ExportStatus::Ready;
        view.pages = pages;
        view.next_page = Some(page + 1).filter(|next| *next < pages);
        view.document = Some(stored.record);
        Ok(view)
    }
}
