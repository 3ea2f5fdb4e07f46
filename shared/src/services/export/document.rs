//! The export document, written page by page as the tenant's partition is read.
//!
//! Each section is read with paged queries (1,000 items at a time) and its records are
//! appended to the current page; a page is sealed and written as soon as it holds
//! [`PAGE_RECORDS`] records or [`PAGE_BYTES`] of JSON, so memory stays at one page
//! whatever the tenant's size. Records go out in their export form only: users and
//! integrations as their API views, billing records as ingested (already minimized),
//! tagged with their integration. Which sections there are comes from the registry of
//! stored entities (`repos::registry`).

use std::collections::BTreeMap;
use std::future::Future;

use serde_json::{Map, Value, json};

use crate::domain::billing::{BillingRecord, ObjectKind};
use crate::domain::ids::{ExportId, IntegrationId, TenantId};
use crate::ports::Cursor;
use crate::repos::registry::{Section, exported_sections};
use crate::repos::{RepoError, SealedPage};
use crate::services::contexts::Tenancy;
use crate::services::error::ServiceError;
use crate::services::integrations::{IntegrationStatus, IntegrationView};
use crate::services::records::TenantRecord;
use crate::services::users::user_view;

/// Records per page: what a client handles comfortably in one response.
const PAGE_RECORDS: usize = 1_000;
/// JSON bytes per page: a DynamoDB item is capped at 400 KB; the margin covers the
/// sealing overhead and a record that starts a page being larger than usual.
const PAGE_BYTES: usize = 256 * 1024;
/// Bytes added to a sealed record's length for its export form: the integration id and
/// the separators around the record.
const SIZE_MARGIN: usize = 64;

/// The kind of record a billing section holds (`None` for the other sections).
fn billing_kind(section: Section) -> Option<ObjectKind> {
    match section {
        Section::Customers => Some(ObjectKind::Customer),
        Section::Subscriptions => Some(ObjectKind::Subscription),
        Section::Invoices => Some(ObjectKind::Invoice),
        Section::Payments => Some(ObjectKind::Charge),
        Section::Refunds => Some(ObjectKind::Refund),
        Section::PaymentMethods => Some(ObjectKind::PaymentMethod),
        Section::Tenant | Section::Users | Section::Integrations | Section::AuditLog => None,
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, ServiceError> {
    serde_json::to_value(value).map_err(ServiceError::internal)
}

/// Writes the whole document of `tenant` as the pages of export `id`; returns how many.
pub(super) async fn write(
    services: &Tenancy,
    tenant: &TenantId,
    id: &ExportId,
    about: &TenantRecord,
    expires_at: i64,
) -> Result<usize, ServiceError> {
    let sections = exported_sections();
    let mut head = Map::new();
    head.insert(
        "metrics_summary".into(),
        metrics_summary(services, tenant).await?,
    );
    for section in &sections {
        match section {
            Section::Tenant => {
                let tenant_json = json!({ "id": tenant, "company": about.company,
                    "created_at": about.created_at, "policy": about.policy });
                head.insert(section.name().into(), tenant_json);
            }
            // Listed even when empty; billing sections appear once they have records.
            Section::Users | Section::Integrations | Section::AuditLog => {
                head.insert(section.name().into(), Value::Array(Vec::new()));
            }
            _ => {}
        }
    }
    let mut out = PageWriter::new(services, tenant, id, expires_at, head);
    let repos = &services.repos;

    // Disconnected integrations are listed, but their records are not exported: they
    // are hidden from every query at once and deleted by the sweep.
    let mut live: Vec<IntegrationId> = Vec::new();
    for section in sections {
        let name = section.name();
        match section {
            Section::Tenant => {}
            Section::Users => {
                let read = move |cursor| repos.users.export_page(tenant, cursor);
                out.stream(name, read, |(id, user)| to_json(&user_view(id, &user)))
                    .await?;
            }
            Section::Integrations => {
                let read = move |cursor| repos.integrations.export_page(tenant, cursor);
                out.stream(name, read, |stored| {
                    if stored.status != IntegrationStatus::Disconnected {
                        live.push(stored.id.clone());
                    }
                    to_json(&IntegrationView::of(
                        stored.id,
                        stored.status,
                        &stored.record,
                    ))
                })
                .await?;
            }
            Section::AuditLog => {
                let read = move |cursor| repos.audit_log.export_page(tenant, cursor);
                out.stream(name, read, |entry| to_json(&entry)).await?;
            }
            Section::Customers
            | Section::Subscriptions
            | Section::Invoices
            | Section::Payments
            | Section::Refunds
            | Section::PaymentMethods => {
                let Some(kind) = billing_kind(section) else {
                    continue;
                };
                for integration in &live {
                    let read = move |cursor| {
                        repos
                            .billing_records
                            .export_page(tenant, integration, kind, cursor)
                    };
                    out.stream(name, read, |record: BillingRecord| {
                        // The section names the kind; the integration tells equal ids
                        // apart.
                        let mut value = to_json(&record)?;
                        if let Value::Object(fields) = &mut value {
                            fields.remove("kind");
                            fields.insert("integration_id".into(), integration.as_str().into());
                        }
                        Ok(value)
                    })
                    .await?;
                }
            }
        }
    }
    out.finish().await
}

/// Cuts the document into pages as records arrive, and writes each page sealed.
struct PageWriter<'a> {
    services: &'a Tenancy,
    tenant: &'a TenantId,
    id: &'a ExportId,
    expires_at: i64,
    /// The first page's fixed parts, until that page is written.
    head: Option<Map<String, Value>>,
    sections: BTreeMap<&'static str, Vec<Value>>,
    records: usize,
    bytes: usize,
    pages: usize,
}

impl<'a> PageWriter<'a> {
    fn new(
        services: &'a Tenancy,
        tenant: &'a TenantId,
        id: &'a ExportId,
        expires_at: i64,
        head: Map<String, Value>,
    ) -> Self {
        let bytes = Value::Object(head.clone()).to_string().len();
        Self {
            services,
            tenant,
            id,
            expires_at,
            head: Some(head),
            sections: BTreeMap::new(),
            records: 0,
            bytes,
            pages: 0,
        }
    }

    /// Streams every record `read` gives, one page at a time, into `section`;
    /// `convert` gives a record's exported form.
    async fn stream<T, F, Fut>(
        &mut self,
        section: &'static str,
        mut read: F,
        mut convert: impl FnMut(T) -> Result<Value, ServiceError>,
    ) -> Result<(), ServiceError>
    where
        F: FnMut(Option<Cursor>) -> Fut,
        Fut: Future<Output = Result<SealedPage<T>, RepoError>>,
    {
        let mut cursor = None;
        loop {
            let page = read(cursor).await?;
            for (record, sealed) in page.records {
                // The sealed record's length bounds its export form closely (same JSON,
                // plus an integration id), without serializing every record twice.
                let value = convert(record)?;
                self.push(section, value, sealed + SIZE_MARGIN).await?;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(()),
            }
        }
    }

    async fn push(
        &mut self,
        section: &'static str,
        value: Value,
        size: usize,
    ) -> Result<(), ServiceError> {
        if self.records > 0 && (self.records >= PAGE_RECORDS || self.bytes + size > PAGE_BYTES) {
            self.flush().await?;
        }
        self.records += 1;
        self.bytes += size;
        self.sections.entry(section).or_default().push(value);
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), ServiceError> {
        let mut document = self.head.take().unwrap_or_default();
        for (name, list) in std::mem::take(&mut self.sections) {
            document.insert(name.into(), Value::Array(list));
        }
        self.services
            .repos
            .exports
            .put_page(
                self.tenant,
                self.id,
                self.pages,
                &Value::Object(document),
                self.expires_at,
            )
            .await?;
        self.pages += 1;
        self.records = 0;
        self.bytes = 0;
        Ok(())
    }

    /// Writes the last page (the first, if the tenant has nothing) and counts them.
    async fn finish(mut self) -> Result<usize, ServiceError> {
        if self.records > 0 || self.pages == 0 {
            self.flush().await?;
        }
        Ok(self.pages)
    }
}

/// The metrics summary as of today from the tenant's analytics snapshot, in its
/// reporting currency (`null` before a first sync).
async fn metrics_summary(services: &Tenancy, tenant: &TenantId) -> Result<Value, ServiceError> {
    use crate::domain::metrics::summary;
    let Some(snapshot) = services.analytics.snapshot(tenant).await? else {
        return Ok(Value::Null);
    };
    let mode = services
        .analytics
        .query_currency(tenant, None, &snapshot.reporting_currency)
        .await?;
    let today = services.now().date_naive();
    let result =
        summary(&snapshot.facts, today, mode, Vec::new()).map_err(ServiceError::internal)?;
    to_json(&result)
}
