//! Tenant data export (docs/design.md §4 "all of a tenant's data as JSON at any time").
//!
//! `POST /v1/exports` only records the request (plain status `pending`)
//! and publishes `ExportRequested`; the ingest worker then runs [`Services::build_export`].
//! Building is a job, not a request, because a 100,000-customer tenant takes minutes to
//! read; and the document is never served whole, because a Lambda response is capped at
//! 6 MB. The job streams the partition with paged queries and writes the document as
//! sealed pages (`repos::exports`), each at most 1,000 records or 256 KiB of
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
use serde::Serialize;
use serde_json::Value;

use crate::domain::ids::{ExportId, TenantId};
use crate::repos::exports::{ExportMeta, ExportState, StoredExport};
use crate::services::contexts::Tenancy;
use crate::services::error::ServiceError;
use crate::services::jobs::ExportJob;
use crate::services::sessions::TenantCtx;

/// The event that asks the worker to build an export.
pub const EXPORT_REQUESTED: &str = "ExportRequested";
/// How long an export can be downloaded.
pub const EXPORT_DAYS: i64 = 7;
/// The least time between two exports of one tenant.
const EXPORT_INTERVAL_SECS: i64 = 60;

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

/// An export that exists and has not expired.
struct LiveExport {
    stored: StoredExport,
    expires_at: i64,
}

impl Tenancy {
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
        self.repos
            .exports
            .create(tenant, &id, &meta, expires_at)
            .await?;
        let target = Some(format!("export:{id}"));
        self.guard
            .audit(
                tenant,
                Some(ctx.user()),
                EXPORT_REQUESTED,
                target,
                Some(ctx.ip()),
            )
            .await?;
        let job = ExportJob {
            tenant_id: tenant.clone(),
            export_id: id.clone(),
        };
        let event = job.event(now);
        self.events.publish(&event).await?;
        Ok(id)
    }

    /// At most one export per tenant in any 60 s. A sliding window kept in one item of
    /// the tenant's partition, claimed by a conditional write, so it holds across Lambda
    /// instances; calendar-minute buckets would let two through a second apart.
    async fn claim_export_slot(&self, tenant: &TenantId) -> Result<(), ServiceError> {
        let now = self.now().timestamp();
        let exports = &self.repos.exports;
        let previous = exports.last_slot(tenant).await?;
        if let Some((last_at, _)) = previous {
            let wait = last_at + EXPORT_INTERVAL_SECS - now;
            if wait > 0 {
                let retry_after_secs = wait.min(EXPORT_INTERVAL_SECS) as u64;
                return Err(ServiceError::RateLimited { retry_after_secs });
            }
        }
        let version = previous.map(|(_, version)| version);
        let until = now + EXPORT_INTERVAL_SECS;
        if exports.claim_slot(tenant, now, until, version).await? {
            Ok(())
        } else {
            // Another request claimed the slot between our read and write.
            Err(ServiceError::RateLimited {
                retry_after_secs: EXPORT_INTERVAL_SECS as u64,
            })
        }
    }

    async fn live_export(
        &self,
        tenant: &TenantId,
        id: &ExportId,
    ) -> Result<LiveExport, ServiceError> {
        let stored = self
            .repos
            .exports
            .get(tenant, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        // The TTL deletes items some time after they expire; expiry counts at once.
        let now = self.now().timestamp();
        let expires_at = stored
            .expires_at
            .filter(|at| *at > now)
            .ok_or(ServiceError::NotFound)?;
        Ok(LiveExport { stored, expires_at })
    }

    /// The export job. Rewrites every page from the current data, so running it again
    /// (a redelivered event) is harmless.
    pub async fn build_export(&self, tenant: &TenantId, id: &ExportId) -> Result<(), ServiceError> {
        let export = self.live_export(tenant, id).await?;
        let record = self
            .repos
            .tenants
            .get(tenant)
            .await?
            .ok_or(ServiceError::NotFound)?
            .record;
        let pages = document::write(self, tenant, id, &record, export.expires_at).await?;
        self.repos
            .exports
            .drop_pages_from(tenant, id, pages)
            .await?;
        self.repos.exports.mark_ready(&export.stored, pages).await?;
        tracing::info!(tenant_id = %tenant, export_id = %id, pages, "export built");
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
            created_at: export.stored.meta.created_at,
            expires_at: DateTime::from_timestamp(export.expires_at, 0)
                .ok_or(ServiceError::NotFound)?,
            page,
            pages: 0,
            next_page: None,
            document: None,
        };
        if export.stored.state != Some(ExportState::Ready) {
            return Ok(view);
        }
        let pages = export.stored.pages.and_then(|n| usize::try_from(n).ok());
        let pages = pages.unwrap_or(0);
        if page >= pages {
            return Err(ServiceError::NotFound);
        }
        let document = self
            .repos
            .exports
            .page(tenant, id, page)
            .await?
            .ok_or(ServiceError::NotFound)?;
        view.status = ExportStatus::Ready;
        view.pages = pages;
        view.next_page = Some(page + 1).filter(|next| *next < pages);
        view.document = Some(document);
        Ok(view)
    }
}
