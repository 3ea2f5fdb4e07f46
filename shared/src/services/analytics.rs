//! The analytics snapshot: what every query reads, so that no request reads the raw
//! items (a 100,000-customer tenant with 1,000,000 subscription changes).
//!
//! A full rebuild (the first pass of each day, after a full sync, a disconnect, a change
//! of FX rates or reporting currency) computes every customer's share from the records
//! of the integrations that are not disconnected; a pass that changed k customers
//! recomputes those k (`services::incremental`). Shares are stored in parts and a
//! manifest (`services::snapshot_parts`), LZ4-compressed and sealed, and a version is
//! published by writing its `ANALYTICS` pointer last, on a condition on the version it
//! replaces: a reader sees the old snapshot or the new one, never half of one, and two
//! passes never publish over each other. Customer profiles (subscriptions and payments)
//! are sealed items of their own. When a process loads a version it assembles the facts
//! and rows and computes what ranks customers against each other (reporting currency
//! and MRR, RFM, segments); a warm process keeps the result per tenant and version, and
//! decodes only the parts a later version adds, so a query costs one read of the
//! pointer plus engine time.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::billing::ObjectKind;
use crate::domain::ids::TenantId;
use crate::domain::metrics::{
    BillingData, CustomerProfile, Facts, Mrr, MrrPolicy, PaymentFailureRisk, RecordSet,
    SegmentSummary, customer_mrr, day_of, rfm_scores, segments,
};
use crate::repos::analytics::SnapshotPointer;
use crate::services::contexts::Analytics;
use crate::services::customer_order::CustomerOrder;
use crate::services::error::ServiceError;
use crate::services::integrations::IntegrationStatus;
use crate::services::rebuild::Outcome;
use crate::services::snapshot_parts::{self as layout, Assembled, Computed, Head, Share};

/// The snapshot's encoding (postcard is not self-describing): a pointer of another
/// format is a snapshot this version cannot read, treated as absent until the next sync
/// rebuilds it. Format 2: movements per customer across currencies, daily FX. Format 3:
/// per-customer shares in content-addressed parts, and a manifest. Format 4: shares
/// that depend on their customer's records alone (tenant-wide rankings computed when
/// loaded), with their records' ids; the manifest names each part's last customer.
pub(crate) const SNAPSHOT_FORMAT: i64 = 4;
/// Chunk size before sealing (sealed as raw bytes: an item near 200 KB, well below
/// DynamoDB's 400 KB limit).
const CHUNK_BYTES: usize = 200 * 1024;

/// What a published version is: the tenant-wide head and its parts, in order.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub head: Head,
    pub parts: Vec<PartRef>,
}

/// A part as the manifest names it: its id and its last customer's key, which is where
/// a pass finds the part a customer is in (parts are in key order) and whether a run
/// of parts ends there ([`layout::is_boundary`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PartRef {
    pub id: String,
    pub integration: String,
    pub last: String,
}

impl PartRef {
    pub fn new(id: &str, shares: &[Share]) -> Self {
        let (integration, last) = shares
            .last()
            .map(|s| (s.integration.clone(), s.id.clone()))
            .unwrap_or_default();
        Self {
            id: id.to_owned(),
            integration,
            last,
        }
    }

    pub fn key(&self) -> (&str, &str) {
        (&self.integration, &self.last)
    }

    /// Whether the run of parts it is in ends with it.
    pub fn ends_run(&self) -> bool {
        layout::is_boundary(&self.integration, &self.last)
    }
}

/// What a pass publishes: the new manifest, the parts it adds and removes, the
/// profiles it writes and deletes.
pub(crate) struct Plan {
    pub manifest: Manifest,
    pub added: Vec<(String, Vec<u8>)>,
    pub removed: Vec<String>,
    pub profiles: Vec<(String, CustomerProfile)>,
    pub gone: Vec<(String, String)>,
}

/// One customer as lists show it (personal data: analysts and admins only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// The per-process cache of decoded snapshots: per tenant, the version last loaded, its
/// snapshot, and its decoded parts by id — a later version decodes only the parts it
/// does not share with it (after an hourly pass, the few that changed).
#[derive(Default)]
pub struct SnapshotCache(Mutex<HashMap<TenantId, Cached>>);

struct Cached {
    version: i64,
    snapshot: Arc<Snapshot>,
    parts: HashMap<String, Arc<Vec<layout::Share>>>,
}

impl Analytics {
    /// Rebuilds the tenant's snapshot and publishes what changed.
    pub async fn rebuild_analytics(&self, tenant: &TenantId) -> Result<(), ServiceError> {
        self.rebuild(tenant, false).await
    }

    /// The same after a pass that stopped before it finished: the publish also deletes
    /// the snapshot items no manifest names, which that pass may have left behind.
    pub async fn rebuild_after_stop(&self, tenant: &TenantId) -> Result<(), ServiceError> {
        self.rebuild(tenant, true).await
    }

    async fn rebuild(&self, tenant: &TenantId, after_stop: bool) -> Result<(), ServiceError> {
        self.rebuild_forcing(tenant, after_stop, &HashSet::new())
            .await
    }

    /// A full rebuild that also rewrites the profiles of `force` (those a pass that
    /// lost the race to publish may have written): bucket by bucket, in bounded memory
    /// (`services::rebuild`), or all at once should the buckets not add up.
    #[tracing::instrument(name = "engine.rebuild", skip_all)]
    pub(crate) async fn rebuild_forcing(
        &self,
        tenant: &TenantId,
        after_stop: bool,
        force: &HashSet<(String, String)>,
    ) -> Result<(), ServiceError> {
        let started = std::time::Instant::now();
        let rebuilt = self.rebuild_timed(tenant, after_stop, force).await;
        if rebuilt.is_ok() {
            crate::telemetry::record::snapshot_rebuilt(started.elapsed());
        }
        rebuilt
    }

    async fn rebuild_timed(
        &self,
        tenant: &TenantId,
        after_stop: bool,
        force: &HashSet<(String, String)>,
    ) -> Result<(), ServiceError> {
        // Read first: a pass that publishes after this one read its records must not
        // be overwritten by this one's older view (the publish is conditional on it).
        let previous = self.repos.snapshots.pointer(tenant).await?;
        let published = match self
            .rebuild_in_buckets(tenant, previous, after_stop, force)
            .await?
        {
            Outcome::Done(published) => published,
            Outcome::Fallback(why) => {
                tracing::warn!(tenant_id = %tenant, why, "analytics: rebuilding all at once");
                self.rebuild_at_once(tenant, previous, after_stop, force)
                    .await?
            }
        };
        if !published {
            // The next pass finds its integration changed after the published version,
            // and rebuilds.
            tracing::warn!(tenant_id = %tenant, "analytics: another pass published first; this rebuild is dropped");
        }
        Ok(())
    }

    /// The full rebuild with every record in memory at once.
    async fn rebuild_at_once(
        &self,
        tenant: &TenantId,
        previous: Option<SnapshotPointer>,
        after_stop: bool,
        force: &HashSet<(String, String)>,
    ) -> Result<bool, ServiceError> {
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
        let computed = {
            let data: Vec<BillingData<'_>> = sources
                .iter()
                .map(|(id, records)| records.for_integration(id))
                .collect();
            self.compute(&data)?
        };
        // The records are no longer needed: freed before the snapshot is laid out.
        drop(sources);
        self.publish(tenant, &computed, previous, after_stop, force)
            .await
    }

    /// The shares of the customers in `data`, as of now.
    pub fn compute(&self, data: &[BillingData<'_>]) -> Result<Computed, ServiceError> {
        let _phase = tracing::info_span!("engine.compute").entered();
        layout::compute(data, &MrrPolicy::default(), self.now().timestamp())
            .map_err(ServiceError::internal)
    }

    /// Publishes a computed snapshot (every customer of the tenant) and its customers'
    /// profiles, writing only what differs from the published one (see
    /// `snapshot_parts` and [`Self::commit`]).
    pub async fn publish_snapshot(
        &self,
        tenant: &TenantId,
        computed: &Computed,
    ) -> Result<(), ServiceError> {
        let previous = self.repos.snapshots.pointer(tenant).await?;
        if !self
            .publish(tenant, computed, previous, false, &HashSet::new())
            .await?
        {
            tracing::warn!(tenant_id = %tenant, "analytics: another pass published first; this snapshot is dropped");
        }
        Ok(())
    }

    /// [`Self::publish_snapshot`] in place of `previous`; `after_stop` also deletes
    /// unreferenced items.
    #[tracing::instrument(name = "engine.publish", skip_all)]
    async fn publish(
        &self,
        tenant: &TenantId,
        computed: &Computed,
        previous: Option<SnapshotPointer>,
        after_stop: bool,
        force: &HashSet<(String, String)>,
    ) -> Result<bool, ServiceError> {
        let shares = &computed.shares;
        let encoded = layout::parts(shares);
        crate::telemetry::record::snapshot_published(
            encoded.iter().map(|(_, bytes)| bytes.len() as u64).sum(),
        );
        let snapshots = &self.repos.snapshots;
        let ids = snapshots
            .part_ids(tenant, encoded.iter().map(|(_, bytes)| bytes.as_slice()))
            .await?;
        let old = match previous.filter(|p| p.format == Some(SNAPSHOT_FORMAT)) {
            Some(pointer) => self.manifest(tenant, pointer).await.ok(),
            None => None,
        };
        let old_ids: HashSet<&str> = old
            .iter()
            .flat_map(|m| m.parts.iter().map(|p| p.id.as_str()))
            .collect();
        let new_ids: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let removed: Vec<String> = old_ids
            .iter()
            .filter(|id| !new_ids.contains(**id))
            .map(|id| (*id).to_owned())
            .collect();
        // The customers of parts that change, as the old snapshot had them.
        let mut before: HashMap<(String, String), Option<u64>> = HashMap::new();
        for (_, bytes) in snapshots.parts(tenant, &removed).await? {
            for share in layout::decode_part(&bytes).unwrap_or_default() {
                before.insert((share.integration, share.id), share.profile);
            }
        }
        let mut added = Vec::new();
        let mut written: HashSet<(&str, &str)> = HashSet::new();
        let mut refs = Vec::with_capacity(ids.len());
        for ((range, bytes), id) in encoded.iter().zip(&ids) {
            let part = shares.get(range.clone()).unwrap_or_default();
            refs.push(PartRef::new(id, part));
            if old_ids.contains(id.as_str()) {
                continue;
            }
            added.push((id.clone(), bytes.clone()));
            for share in part {
                let key = (share.integration.clone(), share.id.clone());
                let same = old.is_some() && before.get(&key) == Some(&share.profile);
                if !same && share.profile.is_some() {
                    written.insert((share.integration.as_str(), share.id.as_str()));
                }
                before.remove(&key);
            }
        }
        let profiles: Vec<(String, CustomerProfile)> = computed
            .profiles
            .iter()
            .filter(|(integration, p)| {
                written.contains(&(integration.as_str(), p.id.as_str()))
                    || force.contains(&(integration.clone(), p.id.clone()))
            })
            .cloned()
            .collect();
        let gone: Vec<(String, String)> = before
            .into_iter()
            .filter(|(_, profile)| profile.is_some())
            .map(|(key, _)| key)
            .collect();
        let head = Head {
            built_at: self.now(),
            unowned: computed.unowned.clone(),
        };
        let plan = Plan {
            manifest: Manifest { head, parts: refs },
            added,
            removed,
            profiles,
            gone,
        };
        self.commit(tenant, previous, plan, after_stop).await
    }

    /// Publishes a planned version:
    ///
    /// 1. the parts not already stored, and the profiles whose digest changed — a
    ///    published row always has its profile;
    /// 2. the profiles of customers no longer in the snapshot are deleted (their rows
    ///    may show until step 4: a customer the processor deleted);
    /// 3. the manifest of this version (head and part ids), in chunks;
    /// 4. the pointer, one put: the switch from the old snapshot to the new is atomic;
    /// 5. the parts and manifest of the old snapshot that this one does not use.
    ///
    /// A pass stopped anywhere leaves the published snapshot whole; what it wrote
    /// before stopping is either reused by the next pass (same bytes, same part id) or
    /// found by the next pass (after a stop) or the first of the next day, which delete
    /// every snapshot item the manifest does not name.
    ///
    /// `Ok(false)` when another pass published since `previous` was read: this version
    /// is not published (what it wrote is unreferenced, and collected).
    pub(crate) async fn commit(
        &self,
        tenant: &TenantId,
        previous: Option<SnapshotPointer>,
        plan: Plan,
        after_stop: bool,
    ) -> Result<bool, ServiceError> {
        let snapshots = &self.repos.snapshots;
        snapshots.put_parts(tenant, &plan.added).await?;
        self.repos.profiles.put_all(tenant, &plan.profiles).await?;
        self.repos.profiles.delete_all(tenant, &plan.gone).await?;
        let manifest = plan.manifest;
        let bytes = postcard::to_stdvec(&manifest).map_err(ServiceError::internal)?;
        let version = self.next_version(previous.as_ref());
        let chunks: Vec<&[u8]> = bytes.chunks(CHUNK_BYTES).collect();
        // The manifest's chunks in one batch write (invisible until published); the
        // pointer is then moved by a single put, which is what makes the switch atomic.
        snapshots.put_chunks(tenant, version, &chunks).await?;
        let pointer = SnapshotPointer {
            version,
            chunks: chunks.len(),
            format: Some(SNAPSHOT_FORMAT),
            stored: 0,
        };
        if !snapshots
            .publish(tenant, pointer, previous.as_ref())
            .await?
        {
            return Ok(false);
        }
        tracing::info!(
            tenant_id = %tenant,
            parts = manifest.parts.len(),
            parts_written = plan.added.len(),
            parts_deleted = plan.removed.len(),
            profiles_written = plan.profiles.len(),
            profiles_deleted = plan.gone.len(),
            "analytics published"
        );
        snapshots.delete_parts(tenant, &plan.removed).await?;
        if let Some(old) = previous.map(|p| p.version).filter(|v| *v != version) {
            snapshots.delete_version(tenant, old).await?;
        }
        // After a stopped pass, and once a day: what stopped passes left behind (the
        // snapshot items this manifest does not name; read once, keys kept).
        let first_today = previous
            .and_then(|p| DateTime::from_timestamp_micros(p.version))
            .is_none_or(|built| built.date_naive() != self.now().date_naive());
        if after_stop || first_today {
            let keep: HashSet<String> = manifest.parts.into_iter().map(|p| p.id).collect();
            let stale = snapshots.unreferenced(tenant, version, &keep).await?;
            if !stale.is_empty() {
                tracing::info!(tenant_id = %tenant, items = stale.len(), "unreferenced snapshot items deleted");
                snapshots.delete_keys(stale).await?;
            }
        }
        Ok(true)
    }

    /// The ids of the published snapshot's parts (none before the first).
    pub async fn published_parts(&self, tenant: &TenantId) -> Result<Vec<String>, ServiceError> {
        match self.repos.snapshots.pointer(tenant).await? {
            Some(pointer) if pointer.format == Some(SNAPSHOT_FORMAT) => {
                let parts = self.manifest(tenant, pointer).await?.parts;
                Ok(parts.into_iter().map(|p| p.id).collect())
            }
            _ => Ok(Vec::new()),
        }
    }

    /// The manifest a pointer publishes.
    pub(crate) async fn manifest(
        &self,
        tenant: &TenantId,
        pointer: SnapshotPointer,
    ) -> Result<Manifest, ServiceError> {
        let mut bytes = Vec::new();
        for index in 0..pointer.chunks {
            let chunk = self
                .repos
                .snapshots
                .chunk(tenant, pointer.version, index)
                .await?
                .ok_or_else(|| ServiceError::internal("a snapshot chunk is missing"))?;
            bytes.extend(chunk);
        }
        postcard::from_bytes(&bytes)
            .map_err(|_| ServiceError::internal("the snapshot manifest does not decode"))
    }

    /// The published snapshot's pointer (one read; `None` before the first).
    pub async fn published(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<SnapshotPointer>, ServiceError> {
        Ok(self.repos.snapshots.pointer(tenant).await?)
    }

    /// Whether the snapshot `published` shows a change made at `changed_at` (see
    /// [`Self::change_mark`]): of this format, built today (UTC), and built at or after
    /// that change. A snapshot's version is the time it was built.
    pub fn shows(&self, published: Option<&SnapshotPointer>, changed_at: Option<i64>) -> bool {
        published.is_some_and(|pointer| {
            let built_today = DateTime::from_timestamp_micros(pointer.version)
                .is_some_and(|built| built.date_naive() == self.now().date_naive());
            pointer.format == Some(SNAPSHOT_FORMAT)
                && built_today
                && changed_at.is_none_or(|changed| changed <= pointer.version)
        })
    }

    /// The version a snapshot published after `published` takes: now (Unix
    /// microseconds), and later than `published` — versions only grow, even within one
    /// microsecond (a frozen clock).
    fn next_version(&self, published: Option<&SnapshotPointer>) -> i64 {
        self.now()
            .timestamp_micros()
            .max(published.map_or(0, |p| p.version.saturating_add(1)))
    }

    /// What a sync that changed records records as its integration's `changed_at`: the
    /// version the next snapshot will have at least — any snapshot published after it
    /// shows the change, any published before it does not.
    pub async fn change_mark(&self, tenant: &TenantId) -> Result<i64, ServiceError> {
        let published = self.published(tenant).await?;
        Ok(self.next_version(published.as_ref()))
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
        let mut known: HashMap<String, Arc<Vec<layout::Share>>> = HashMap::new();
        if let Ok(cache) = self.snapshots.0.lock()
            && let Some(cached) = cache.get(tenant)
        {
            if cached.version == version {
                return Ok(Some(cached.snapshot.clone()));
            }
            known = cached.parts.clone();
        }
        let started = std::time::Instant::now();
        let manifest = self.manifest(tenant, pointer).await?;
        let missing: Vec<String> = manifest
            .parts
            .iter()
            .filter(|p| !known.contains_key(&p.id))
            .map(|p| p.id.clone())
            .collect();
        let mut fetched: Vec<(String, Vec<u8>)> = Vec::new();
        if missing.len() * 4 <= manifest.parts.len() {
            // A few new parts: read by id.
            fetched = self.repos.snapshots.parts(tenant, &missing).await?;
        } else {
            // Most of them: one pass over every stored part.
            let wanted: HashSet<&str> = missing.iter().map(String::as_str).collect();
            self.repos
                .snapshots
                .each_part(tenant, |page| {
                    fetched.extend(
                        page.into_iter()
                            .filter(|(id, _)| wanted.contains(id.as_str())),
                    );
                    Ok(())
                })
                .await?;
        }
        let decoded = fetched.len();
        for (id, bytes) in fetched {
            if let Some(shares) = layout::decode_part(&bytes) {
                known.insert(id, Arc::new(shares));
            }
        }
        let mut parts = HashMap::with_capacity(manifest.parts.len());
        for part in &manifest.parts {
            let shares = known.get(&part.id).cloned().ok_or_else(|| {
                ServiceError::internal("a snapshot part is missing or does not decode")
            })?;
            parts.insert(part.id.clone(), shares);
        }
        let read = started.elapsed();
        let shares = manifest
            .parts
            .iter()
            .filter_map(|p| parts.get(&p.id))
            .flat_map(|part| part.iter());
        let assembled = layout::assemble(manifest.head, shares).map_err(ServiceError::internal)?;
        assembled.facts.check().map_err(ServiceError::internal)?;
        let snapshot = self.finish(tenant, assembled).await?;
        tracing::info!(
            tenant_id = %tenant,
            parts = manifest.parts.len(),
            decoded,
            read_ms = read.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "snapshot loaded"
        );
        let snapshot = Arc::new(snapshot);
        if let Ok(mut cache) = self.snapshots.0.lock() {
            cache.insert(
                tenant.clone(),
                Cached {
                    version,
                    snapshot: snapshot.clone(),
                    parts,
                },
            );
        }
        Ok(Some(snapshot))
    }

    /// The snapshot the queries read from its assembled shares, with what ranks or sums
    /// customers against each other computed as of the snapshot's build: the reporting
    /// currency (chosen, else the one with the most MRR), each row's MRR in it, RFM
    /// scores and segments.
    async fn finish(&self, tenant: &TenantId, a: Assembled) -> Result<Snapshot, ServiceError> {
        let at = a.built_at.timestamp();
        let day = day_of(at);
        let currency_error = |e: crate::domain::metrics::MetricsError| {
            ServiceError::invalid("currency", e.to_string())
        };
        let mode = self.reporting_mode(tenant, &a.facts, day).await?;
        let reporting_mrr = customer_mrr(&a.facts, &mode, day).map_err(currency_error)?;
        let reporting_by_id: HashMap<(&str, &str), Mrr> = a
            .facts
            .customers
            .iter()
            .zip(&reporting_mrr)
            .map(|(c, mrr)| {
                let integration = c.dims.integration.as_deref().unwrap_or_default();
                ((integration, c.id.as_str()), *mrr)
            })
            .collect();
        let loyalties = rfm_scores(&a.rfm, at, &mode).map_err(currency_error)?;
        let segment_summary = segments(&a.rfm, &loyalties, &mode, at).map_err(currency_error)?;
        let loyalty: HashMap<&str, _> =
            loyalties.iter().map(|l| (l.customer.as_str(), l)).collect();
        let mut rows = a.rows;
        for row in &mut rows {
            row.reporting_mrr = reporting_by_id
                .get(&(row.integration.as_str(), row.id.as_str()))
                .copied()
                .unwrap_or_default()
                .to_minor();
            let scored = loyalty.get(row.id.as_str());
            row.loyalty_score = scored.map(|l| l.score.clone());
            row.segment = scored
                .and_then(|l| serde_json::to_value(l.segment).ok())
                .and_then(|v| v.as_str().map(str::to_owned));
        }
        let order = CustomerOrder::of(&rows, &a.facts);
        Ok(Snapshot {
            built_at: a.built_at,
            reporting_currency: mode.code(),
            facts: a.facts,
            customers: rows,
            segments: segment_summary,
            payment_failure_risks: a.risks,
            order,
        })
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
