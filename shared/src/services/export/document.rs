//! The export document, written page by page as the tenant's partition is read.
//!
//! Each section is read with paged queries (1,000 items at a time) and its records are
//! appended to the current page; a page is sealed and written as soon as it holds
//! [`PAGE_RECORDS`] records or [`PAGE_BYTES`] of JSON, so memory stays at one page
//! whatever the tenant's size. Records go out in their export form only: users and
//! integrations as their API views, billing records as ingested (already minimized),
//! tagged with their integration.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::domain::billing::{BillingRecord, ObjectKind};
use crate::domain::crypto::DataKey;
use crate::domain::ids::{ExportId, IntegrationId, TenantId, UserId};
use crate::ports::{Attr, Condition, Item, Query, SortKeys};
use crate::services::Services;
use crate::services::error::ServiceError;
use crate::services::ingestion::record_prefix;
use crate::services::integrations::{
    INTEG_PREFIX, IntegrationRecord, IntegrationStatus, IntegrationView,
};
use crate::services::layout::{AUDIT_PREFIX, USER_PREFIX};
use crate::services::records::{TenantRecord, UserRecord};
use crate::services::security::AuditEntry;
use crate::services::users::user_view;
use crate::services::vault::{SEALED_ATTR, open_record};

use super::page_key;

/// Records per page: what a client handles comfortably in one response.
const PAGE_RECORDS: usize = 1_000;
/// JSON bytes per page: a DynamoDB item is capped at 400 KB; the margin covers the
/// sealing overhead and a record that starts a page being larger than usual.
const PAGE_BYTES: usize = 256 * 1024;
/// Bytes added to a sealed record's length for its export form: the integration id and
/// the separators around the record.
const SIZE_MARGIN: usize = 64;
/// The billing sections, in document order, and the kind of record each holds.
const BILLING_SECTIONS: [(ObjectKind, &str); 6] = [
    (ObjectKind::Customer, "customers"),
    (ObjectKind::Subscription, "subscriptions"),
    (ObjectKind::Invoice, "invoices"),
    (ObjectKind::Charge, "payments"),
    (ObjectKind::Refund, "refunds"),
    (ObjectKind::PaymentMethod, "payment_methods"),
];

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, ServiceError> {
    serde_json::to_value(value).map_err(ServiceError::internal)
}

/// Writes the whole document of `tenant` as the pages of export `id`; returns how many.
pub(super) async fn write(
    services: &Services,
    tenant: &TenantId,
    id: &ExportId,
    about: &TenantRecord,
    expires_at: i64,
) -> Result<usize, ServiceError> {
    let mut head = Map::new();
    let tenant_json = json!({ "id": tenant, "company": about.company,
        "created_at": about.created_at, "policy": about.policy });
    head.insert("tenant".into(), tenant_json);
    head.insert(
        "metrics_summary".into(),
        metrics_summary(services, tenant).await?,
    );
    for section in ["users", "integrations", "audit_log"] {
        head.insert(section.into(), Value::Array(Vec::new()));
    }
    let mut out = PageWriter::new(services, tenant, id, expires_at, head);
    let table = services.table();

    out.stream("users", USER_PREFIX.into(), |item, key| {
        let Some(id) = item
            .key
            .sk
            .strip_prefix(USER_PREFIX)
            .and_then(UserId::parse)
        else {
            return Ok(None);
        };
        let user: UserRecord = open_record(table, key, item)?;
        to_json(&user_view(id, &user)).map(Some)
    })
    .await?;

    // Disconnected integrations are listed, but their records are not exported: they
    // are hidden from every query at once and deleted by the sweep.
    let mut live = Vec::new();
    out.stream("integrations", INTEG_PREFIX.into(), |item, key| {
        let Some(id) = item
            .key
            .sk
            .strip_prefix(INTEG_PREFIX)
            .and_then(IntegrationId::parse)
        else {
            return Ok(None);
        };
        let record: IntegrationRecord = open_record(table, key, item)?;
        let status = item.s("status").and_then(IntegrationStatus::parse);
        let status = status.unwrap_or(IntegrationStatus::Error);
        if status != IntegrationStatus::Disconnected {
            live.push(id.clone());
        }
        let view = IntegrationView {
            id,
            provider: record.provider,
            status,
            connected_at: record.connected_at,
            last_sync_at: record.last_sync_at,
            last_error: record.last_error,
        };
        to_json(&view).map(Some)
    })
    .await?;

    out.stream("audit_log", AUDIT_PREFIX.into(), |item, key| {
        to_json(&open_record::<AuditEntry>(table, key, item)?).map(Some)
    })
    .await?;

    for (kind, section) in BILLING_SECTIONS {
        for integration in &live {
            let prefix = format!("{}{integration}#", record_prefix(kind));
            out.stream(section, prefix, |item, key| {
                let record: BillingRecord = open_record(table, key, item)?;
                // The section names the kind; the integration tells equal ids apart.
                let mut value = to_json(&record)?;
                if let Value::Object(fields) = &mut value {
                    fields.remove("kind");
                    fields.insert("integration_id".into(), integration.as_str().into());
                }
                Ok(Some(value))
            })
            .await?;
        }
    }
    out.finish().await
}

/// Cuts the document into pages as records arrive, and writes each page sealed.
struct PageWriter<'a> {
    services: &'a Services,
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
        services: &'a Services,
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

    /// Streams every item under `prefix` of the tenant's partition into `section`, one
    /// query page at a time; `convert` gives an item's exported form, or skips it.
    async fn stream(
        &mut self,
        section: &'static str,
        prefix: String,
        mut convert: impl FnMut(&Item, &DataKey) -> Result<Option<Value>, ServiceError>,
    ) -> Result<(), ServiceError> {
        let mut cursor = None;
        loop {
            let query = Query::new(self.tenant.partition(), SortKeys::prefix(prefix.clone()))
                .limit(1000)
                .after(cursor);
            let page = self.services.adapters.store.query(query).await?;
            // Asked for per query page rather than held for the whole job (the cache
            // makes it cheap), like every other use case.
            let data_key = self.services.tenant_keys.data_key(self.tenant).await?;
            for item in &page.items {
                // The sealed record's length bounds its export form closely (same JSON,
                // plus an integration id), without serializing every record twice.
                let size = item.b(SEALED_ATTR).map_or(0, <[u8]>::len) + SIZE_MARGIN;
                if let Some(value) = convert(item, &data_key)? {
                    self.push(section, value, size).await?;
                }
            }
            match page.next_cursor {
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
        let key = page_key(self.tenant, self.id, self.pages);
        let item = self
            .services
            .seal(self.tenant, key, &Value::Object(document))
            .await?
            .with("expires_at", Attr::N(self.expires_at));
        self.services
            .adapters
            .store
            .put(item, Condition::None)
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
async fn metrics_summary(services: &Services, tenant: &TenantId) -> Result<Value, ServiceError> {
    use crate::domain::metrics::summary;
    let Some(snapshot) = services.snapshot(tenant).await? else {
        return Ok(Value::Null);
    };
    let mode = services
        .query_currency(tenant, None, &snapshot.reporting_currency)
        .await?;
    let today = services.adapters.clock.now().date_naive();
    let result =
        summary(&snapshot.facts, today, mode, Vec::new()).map_err(ServiceError::internal)?;
    to_json(&result)
}
