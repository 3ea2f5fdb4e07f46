//! The analytics snapshot: what every query reads, so that no request reads the raw
//! items (a 100,000-customer tenant with 1,000,000 subscription changes).
//!
//! After each sync, disconnect or change of FX rates, the tenant's snapshot is rebuilt
//! from the records of its integrations that are not disconnected: the engine's compact
//! facts (`MrrChange`s and payments), one row per customer (MRR, lifetime revenue, RFM,
//! risk), the segments and the payment-failure risks. It is encoded compactly
//! (postcard), cut into sealed chunks of at most 256 KiB (DynamoDB items are capped at
//! 400 KB), and published by writing its `ANALYTICS` pointer last: a reader sees the old
//! snapshot or the new one, never half of one. Customer profiles (subscriptions and
//! payments) are sealed items of their own. A warm process keeps the decoded snapshot
//! per tenant and version, so a query costs one read of the pointer plus engine time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::billing::ObjectKind;
use crate::domain::ids::TenantId;
use crate::domain::metrics::{
    BillingData, CustomerProfile, Facts, Mrr, MrrPolicy, PaymentFailureRisk, RecordSet,
    SegmentSummary, churn_risks, customer_mrr, customer_profiles, day_of, facts_from_records,
    payment_failure_risks, rfm_scores, segments,
};
use crate::repos::analytics::SnapshotPointer;
use crate::services::contexts::Analytics;
use crate::services::customer_order::CustomerOrder;
use crate::services::error::ServiceError;
use crate::services::integrations::IntegrationStatus;

/// The snapshot's encoding (postcard is not self-describing): a pointer of another
/// format is a snapshot this version cannot read, treated as absent until the next sync
/// rebuilds it. Format 2: movements per customer across currencies, daily FX.
const SNAPSHOT_FORMAT: i64 = 2;
/// Chunk size before sealing: base64 in the sealed record adds a third, which keeps an
/// item near 270 KB, well below DynamoDB's 400 KB limit.
const CHUNK_BYTES: usize = 200 * 1024;

/// One customer as lists show it (personal data: analysts and admins only).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CustomerRow {
    pub id: String,
    pub integration: String,
    pub email: Option<String>,
    pub currency: Option<String>,
    /// Minor units of `currency`.
    pub mrr: i64,
    /// All its currencies' MRR in the snapshot's reporting currency, minor units.
    pub reporting_mrr: i64,
    pub lifetime_revenue: i64,
    pub loyalty_score: Option<String>,
    pub segment: Option<String>,
    pub payment_failure_risk: bool,
    pub churn_risk: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Snapshot {
    pub built_at: DateTime<Utc>,
    /// The currency RFM and segments are measured in.
    pub reporting_currency: String,
    pub facts: Facts,
    pub customers: Vec<CustomerRow>,
    pub segments: Vec<SegmentSummary>,
    pub payment_failure_risks: Vec<PaymentFailureRisk>,
    /// The customer list's orders: derived, never stored (computed when decoded).
    #[serde(skip)]
    pub order: CustomerOrder,
}

/// The per-process cache of decoded snapshots.
#[derive(Default)]
pub struct SnapshotCache(Mutex<HashMap<TenantId, (i64, Arc<Snapshot>)>>);

impl Analytics {
    /// Rebuilds and publishes the tenant's snapshot.
    pub async fn rebuild_analytics(&self, tenant: &TenantId) -> Result<(), ServiceError> {
        let mut sources: Vec<(String, RecordSet)> = Vec::new();
        for (id, status) in self.repos.integrations.statuses(tenant).await? {
            if status == IntegrationStatus::Disconnected {
                continue;
            }
            let mut records = RecordSet::default();
            for kind in ObjectKind::ALL {
                records.extend(self.repos.billing_records.all(tenant, &id, kind).await?);
            }
            sources.push((id.to_string(), records));
        }
        let data: Vec<BillingData<'_>> = sources
            .iter()
            .map(|(id, records)| records.for_integration(id))
            .collect();
        let (snapshot, profiles) = self.build_snapshot(tenant, &data).await?;
        // Before the snapshot is published, so a published row always has its profile.
        self.store_profiles(tenant, &profiles).await?;
        self.publish_snapshot(tenant, &snapshot).await
    }

    /// The snapshot of `data` as of now, at the tenant's FX rates, and each customer's
    /// profile (by integration id).
    pub async fn build_snapshot(
        &self,
        tenant: &TenantId,
        data: &[BillingData<'_>],
    ) -> Result<(Snapshot, Vec<(String, CustomerProfile)>), ServiceError> {
        let policy = MrrPolicy::default();
        let now = self.now();
        let mut facts = facts_from_records(data, &policy);
        facts.sort();
        let mode = self.reporting_mode(tenant, &facts).await?;
        let reporting_mrr = customer_mrr(&facts, &mode, day_of(now.timestamp()))
            .map_err(|e| ServiceError::invalid("currency", e.to_string()))?;
        let reporting_by_id: HashMap<(&str, &str), Mrr> = facts
            .customers
            .iter()
            .zip(&reporting_mrr)
            .map(|(c, mrr)| {
                let integration = c.dims.integration.as_deref().unwrap_or_default();
                ((integration, c.id.as_str()), *mrr)
            })
            .collect();
        let mut profiles: Vec<(String, CustomerProfile)> = Vec::new();
        let mut risks = Vec::new();
        let mut churn = HashMap::new();
        for d in data {
            profiles.extend(
                customer_profiles(d, &policy, now.timestamp())
                    .into_iter()
                    .map(|p| (d.integration.to_owned(), p)),
            );
            risks.extend(payment_failure_risks(d, &policy, now.timestamp()));
            for r in churn_risks(d, &policy, now.timestamp()) {
                churn.insert(r.customer.clone(), r.score);
            }
        }
        let plain: Vec<CustomerProfile> = profiles.iter().map(|(_, p)| p.clone()).collect();
        let loyalties = rfm_scores(&plain, now.timestamp(), &mode)
            .map_err(|e| ServiceError::invalid("currency", e.to_string()))?;
        let segment_summary = segments(&plain, &loyalties, &mode, now.timestamp())
            .map_err(|e| ServiceError::invalid("currency", e.to_string()))?;
        let loyalty: HashMap<&str, _> =
            loyalties.iter().map(|l| (l.customer.as_str(), l)).collect();
        let at_risk: std::collections::HashSet<&str> =
            risks.iter().map(|r| r.customer.as_str()).collect();
        let rows = profiles
            .iter()
            .map(|(integration, p)| CustomerRow {
                id: p.id.clone(),
                integration: integration.clone(),
                email: p.email.clone(),
                currency: p.currency.clone(),
                mrr: p.mrr.to_minor(),
                reporting_mrr: reporting_by_id
                    .get(&(integration.as_str(), p.id.as_str()))
                    .copied()
                    .unwrap_or_default()
                    .to_minor(),
                lifetime_revenue: p.lifetime_revenue,
                loyalty_score: loyalty.get(p.id.as_str()).map(|l| l.score.clone()),
                segment: loyalty
                    .get(p.id.as_str())
                    .and_then(|l| serde_json::to_value(l.segment).ok())
                    .and_then(|v| v.as_str().map(str::to_owned)),
                payment_failure_risk: at_risk.contains(p.id.as_str()),
                churn_risk: churn.get(&p.id).copied().unwrap_or(0),
            })
            .collect();
        let snapshot = Snapshot {
            built_at: now,
            reporting_currency: mode.code(),
            facts,
            customers: rows,
            segments: segment_summary,
            payment_failure_risks: risks,
            order: CustomerOrder::default(),
        };
        Ok((snapshot, profiles))
    }

    /// Stores customer profiles (by integration id), for `GET /v1/customers/{id}`:
    /// batch writes, since each profile stands alone (see `Profiles::put_all`).
    pub async fn store_profiles(
        &self,
        tenant: &TenantId,
        profiles: &[(String, CustomerProfile)],
    ) -> Result<(), ServiceError> {
        Ok(self.repos.profiles.put_all(tenant, profiles).await?)
    }

    /// Stores the snapshot's chunks, then publishes it by moving its pointer, then
    /// deletes the chunks of the one it replaced.
    pub async fn publish_snapshot(
        &self,
        tenant: &TenantId,
        snapshot: &Snapshot,
    ) -> Result<(), ServiceError> {
        let bytes = postcard::to_stdvec(snapshot).map_err(ServiceError::internal)?;
        let version = self.now().timestamp_micros();
        let chunks: Vec<&[u8]> = bytes.chunks(CHUNK_BYTES).collect();
        let snapshots = &self.repos.snapshots;
        // The chunks in one batch write (invisible until published); the pointer is
        // then moved by a single put, which is what makes the switch atomic.
        snapshots.put_chunks(tenant, version, &chunks).await?;
        let previous = snapshots.pointer(tenant).await?;
        let pointer = SnapshotPointer {
            version,
            chunks: chunks.len(),
            format: Some(SNAPSHOT_FORMAT),
        };
        snapshots.publish(tenant, pointer).await?;
        if let Some(old) = previous.map(|p| p.version).filter(|v| *v != version) {
            snapshots.delete_version(tenant, old).await?;
        }
        Ok(())
    }

    /// Whether the published snapshot is current for a sync whose integration last
    /// changed at `changed_at` (Unix microseconds): of this format, built today (UTC),
    /// and built after that change. One read, the pointer: a snapshot's version is the
    /// time it was built.
    pub async fn snapshot_shows(
        &self,
        tenant: &TenantId,
        changed_at: Option<i64>,
    ) -> Result<bool, ServiceError> {
        let Some(pointer) = self.repos.snapshots.pointer(tenant).await? else {
            return Ok(false);
        };
        let built_today = DateTime::from_timestamp_micros(pointer.version)
            .is_some_and(|built| built.date_naive() == self.now().date_naive());
        Ok(pointer.format == Some(SNAPSHOT_FORMAT)
            && built_today
            && changed_at.is_none_or(|changed| changed < pointer.version))
    }

    /// The tenant's current snapshot (`None` before its first sync).
    pub async fn snapshot(&self, tenant: &TenantId) -> Result<Option<Arc<Snapshot>>, ServiceError> {
        let Some(pointer) = self.repos.snapshots.pointer(tenant).await? else {
            return Ok(None);
        };
        if pointer.format != Some(SNAPSHOT_FORMAT) {
            return Ok(None);
        }
        let version = pointer.version;
        if let Ok(cache) = self.snapshots.0.lock()
            && let Some((cached, snapshot)) = cache.get(tenant)
            && *cached == version
        {
            return Ok(Some(snapshot.clone()));
        }
        let mut bytes = Vec::new();
        for index in 0..pointer.chunks {
            let chunk = self
                .repos
                .snapshots
                .chunk(tenant, version, index)
                .await?
                .ok_or_else(|| ServiceError::internal("a snapshot chunk is missing"))?;
            bytes.extend(chunk);
        }
        let mut snapshot: Snapshot = postcard::from_bytes(&bytes)
            .map_err(|_| ServiceError::internal("the snapshot does not decode"))?;
        snapshot.facts.check().map_err(ServiceError::internal)?;
        snapshot.order = CustomerOrder::of(&snapshot.customers, &snapshot.facts);
        let snapshot = Arc::new(snapshot);
        if let Ok(mut cache) = self.snapshots.0.lock() {
            cache.insert(tenant.clone(), (version, snapshot.clone()));
        }
        Ok(Some(snapshot))
    }

    /// One customer's profile (subscriptions, payments) as of the last rebuild.
    pub async fn customer_profile(
        &self,
        tenant: &TenantId,
        integration: &str,
        customer: &str,
    ) -> Result<Option<CustomerProfile>, ServiceError> {
        Ok(self
            .repos
            .profiles
            .get(tenant, integration, customer)
            .await?)
    }
}
