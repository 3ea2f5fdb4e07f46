//! The incremental pass: after a sync that changed k customers' records, only those
//! customers' shares are recomputed, from only their records, and only the runs of
//! parts they are in are rewritten (docs/design.md §6).
//!
//! 1. The changed records (as they were, and as they are) name the customers whose
//!    figures they feed ([`Owner`]); a refund is its charge's.
//! 2. The manifest lists each part's last customer: a binary search finds the part of
//!    each of them, widened to the whole run of parts it is in (a run ends after a
//!    boundary customer, see `snapshot_parts`).
//! 3. Those parts are read; the shares of the changed customers list the records they
//!    were computed from. Those records, and the changed ones, are read by key.
//! 4. The customers' shares are computed again from exactly those records, and the runs
//!    cut into parts again. A part is a function of its run's shares, so the result is
//!    byte for byte what a full build would publish for them.
//!
//! Whenever that cannot hold — no snapshot of this format built today, a record tying
//! a recomputed customer to one that is not, an invoice or charge whose owner is not
//! known — the pass rebuilds the tenant instead: slower, never different.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::domain::billing::{BillingRecord, ObjectKind};
use crate::domain::ids::{IntegrationId, TenantId};
use crate::domain::metrics::{CustomerProfile, RecordSet};
use crate::repos::analytics::SnapshotPointer;
use crate::services::analytics::{Manifest, PartRef, Plan};
use crate::services::contexts::Analytics;
use crate::services::error::ServiceError;
use crate::services::integrations::IntegrationStatus;
use crate::services::snapshot_parts::{self as layout, Head, Share};

/// Beyond this many changed objects in one sync, a full rebuild reads less than the
/// point reads of an incremental pass would.
const MAX_CHANGES: usize = 20_000;

/// What one sync changed of one integration: each changed object as it was stored
/// before the sync and as it is now (`None`: not stored before / deleted).
#[derive(Debug)]
pub struct Touched {
    pub integration: IntegrationId,
    changes: Vec<(Option<BillingRecord>, Option<BillingRecord>)>,
    overflow: bool,
}

impl Touched {
    pub fn new(integration: IntegrationId) -> Self {
        Self {
            integration,
            changes: Vec::new(),
            overflow: false,
        }
    }

    pub fn push(&mut self, before: Option<BillingRecord>, after: Option<BillingRecord>) {
        if self.changes.len() >= MAX_CHANGES {
            self.overflow = true;
            self.changes.clear();
        }
        if !self.overflow && (before.is_some() || after.is_some()) {
            self.changes.push((before, after));
        }
    }

    /// Too many changes to be worth an incremental pass.
    pub fn set_overflow(&mut self) {
        self.overflow = true;
        self.changes.clear();
    }

    pub fn is_empty(&self) -> bool {
        !self.overflow && self.changes.is_empty()
    }
}

/// A part as the manifest will name it, with its bytes.
type Encoded = (PartRef, Vec<u8>);

/// Whose figures a record feeds, as far as the record itself tells.
enum Owner {
    Customer(String),
    /// No customer: the integration's unowned share.
    Unowned,
    /// Not known without the whole tenant: rebuild.
    Unknown,
}

/// The customers a pass recomputes, and whether the unowned share is one of them.
struct Affected {
    customers: BTreeSet<String>,
    unowned: bool,
}

impl Analytics {
    /// Publishes what one sync of an integration changed onto the snapshot `published`
    /// (as read before the pass): incrementally when it can (see the module), else by a
    /// full rebuild.
    #[tracing::instrument(name = "engine.incremental", skip_all)]
    pub async fn apply_changes(
        &self,
        tenant: &TenantId,
        touched: &Touched,
        published: SnapshotPointer,
    ) -> Result<(), ServiceError> {
        let started = std::time::Instant::now();
        let mut force = HashSet::new();
        if !touched.overflow
            && let Some(plan) = self.incremental(tenant, touched, published).await?
        {
            force = plan
                .profiles
                .iter()
                .map(|(i, p)| (i.clone(), p.id.clone()))
                .collect();
            if self.commit(tenant, Some(published), plan, false).await? {
                crate::telemetry::record::snapshot_rebuilt(started.elapsed());
                return Ok(());
            }
        }
        tracing::info!(tenant_id = %tenant, "analytics: full rebuild instead of an incremental pass");
        self.rebuild_forcing(tenant, false, &force).await
    }

    async fn incremental(
        &self,
        tenant: &TenantId,
        touched: &Touched,
        pointer: SnapshotPointer,
    ) -> Result<Option<Plan>, ServiceError> {
        if !self.shows(Some(&pointer), None) {
            return Ok(None);
        }
        // Every change of every integration before this sync is published: this pass
        // adds its own changes only.
        for stored in self.repos.integrations.all(tenant).await? {
            if stored.status != IntegrationStatus::Disconnected
                && !self.shows(Some(&pointer), stored.record.changed_at)
            {
                return Ok(None);
            }
        }
        let manifest = self.manifest(tenant, pointer).await?;
        if manifest.parts.is_empty() {
            return Ok(None);
        }
        let integration = touched.integration.to_string();
        let Some(affected) = self.affected(tenant, touched).await? else {
            return Ok(None);
        };
        let is_affected = |share: &Share| {
            share.integration == integration && affected.customers.contains(&share.id)
        };

        // The runs of parts the customers are in (a new customer: where it sorts).
        let last = manifest.parts.len() - 1;
        let home = |id: &str| -> usize {
            manifest
                .parts
                .partition_point(|p| p.key() < (integration.as_str(), id))
                .min(last)
        };
        let mut chosen: BTreeSet<usize> = affected
            .customers
            .iter()
            .flat_map(|c| run_of(&manifest.parts, home(c)))
            .collect();
        let mut decoded: HashMap<usize, Vec<Share>> = HashMap::new();
        self.read_parts(tenant, &manifest.parts, &chosen, &mut decoded)
            .await?;

        // Their records: as their shares list them, and as changed.
        let old_unowned = manifest
            .head
            .unowned
            .iter()
            .find(|u| u.integration == integration);
        let mut wanted: BTreeSet<(ObjectKind, String)> = BTreeSet::new();
        for share in decoded.values().flatten().filter(|s| is_affected(s)) {
            wanted.extend(share.records.iter().cloned());
        }
        if affected.unowned {
            wanted.extend(old_unowned.iter().flat_map(|u| u.records.iter().cloned()));
        }
        for record in touched
            .changes
            .iter()
            .filter_map(|(_, after)| after.as_ref())
        {
            wanted.insert((record.kind(), record.id().to_owned()));
        }
        let wanted: Vec<(ObjectKind, String)> = wanted.into_iter().collect();
        let records: RecordSet = self
            .repos
            .billing_records
            .get_many(tenant, &touched.integration, &wanted)
            .await?
            .into_iter()
            .collect();
        let computed = self.compute(&[records.for_integration(&integration)])?;
        drop(records);
        // Only the affected customers may come out of it: a record tying one of them
        // to another customer means that one must be recomputed too.
        if computed.shares.iter().any(|s| !is_affected(s))
            || (!affected.unowned && !computed.unowned.is_empty())
        {
            return Ok(None);
        }

        // Each run again, with the new shares in place of the old; a run whose last
        // customer is no longer a boundary (deleted) joins the next run.
        let mut new_by_part: HashMap<usize, Vec<&Share>> = HashMap::new();
        for share in &computed.shares {
            new_by_part.entry(home(&share.id)).or_default().push(share);
        }
        let regions = loop {
            let regions = regions_of(&chosen);
            let mut grow = Vec::new();
            let mut cut = Vec::new();
            for region in regions {
                let mut shares: Vec<&Share> = Vec::new();
                for index in region.clone() {
                    let old = decoded.get(&index).map(Vec::as_slice).unwrap_or_default();
                    shares.extend(old.iter().filter(|s| !is_affected(s)));
                    shares.extend(new_by_part.get(&index).into_iter().flatten());
                }
                shares.sort_by(|a, b| a.key().cmp(&b.key()));
                let ends = shares
                    .last()
                    .is_none_or(|s| layout::is_boundary(&s.integration, &s.id));
                if !ends && *region.end() < last {
                    grow.push(*region.end() + 1);
                }
                cut.push((region, shares));
            }
            if grow.is_empty() {
                break cut;
            }
            for index in grow {
                chosen.extend(run_of(&manifest.parts, index));
            }
            self.read_parts(tenant, &manifest.parts, &chosen, &mut decoded)
                .await?;
        };

        // The new parts of each run, and the manifest around them.
        let mut region_parts: Vec<(usize, Vec<Encoded>)> = Vec::new();
        for (region, shares) in &regions {
            let owned: Vec<Share> = shares.iter().map(|s| (*s).clone()).collect();
            let encoded = layout::parts(&owned);
            let ids = self
                .repos
                .snapshots
                .part_ids(tenant, encoded.iter().map(|(_, b)| b.as_slice()))
                .await?;
            let parts = encoded
                .into_iter()
                .zip(&ids)
                .map(|((range, bytes), id)| {
                    let held = owned.get(range).unwrap_or_default();
                    (PartRef::new(id, held), bytes)
                })
                .collect();
            region_parts.push((*region.start(), parts));
        }
        let old_ids: HashSet<&str> = manifest.parts.iter().map(|p| p.id.as_str()).collect();
        let mut refs = Vec::with_capacity(manifest.parts.len());
        let mut added = Vec::new();
        let mut kept: HashSet<String> = HashSet::new();
        let mut starts: HashMap<usize, Vec<Encoded>> = region_parts.into_iter().collect();
        for (index, part) in manifest.parts.iter().enumerate() {
            if let Some(parts) = starts.remove(&index) {
                for (part, bytes) in parts {
                    if !old_ids.contains(part.id.as_str()) {
                        added.push((part.id.clone(), bytes));
                    }
                    kept.insert(part.id.clone());
                    refs.push(part);
                }
            }
            if !chosen.contains(&index) {
                refs.push(part.clone());
            }
        }
        let removed: Vec<String> = chosen
            .iter()
            .filter_map(|i| manifest.parts.get(*i))
            .filter(|p| !kept.contains(&p.id))
            .map(|p| p.id.clone())
            .collect();

        // Profiles: the recomputed customers' whose digest changed, and those gone.
        let before: HashMap<&str, Option<u64>> = decoded
            .values()
            .flatten()
            .filter(|s| is_affected(s))
            .map(|s| (s.id.as_str(), s.profile))
            .collect();
        let now: HashMap<&str, Option<u64>> = computed
            .shares
            .iter()
            .map(|s| (s.id.as_str(), s.profile))
            .collect();
        let profiles: Vec<(String, CustomerProfile)> = computed
            .profiles
            .iter()
            .filter(|(_, p)| {
                before.get(p.id.as_str()).copied().flatten()
                    != now.get(p.id.as_str()).copied().flatten()
            })
            .cloned()
            .collect();
        let gone: Vec<(String, String)> = before
            .iter()
            .filter(|(id, profile)| profile.is_some() && now.get(*id).copied().flatten().is_none())
            .map(|(id, _)| (integration.clone(), (*id).to_owned()))
            .collect();

        let mut unowned: Vec<Share> = manifest
            .head
            .unowned
            .iter()
            .filter(|u| !affected.unowned || u.integration != integration)
            .cloned()
            .collect();
        if affected.unowned {
            unowned.extend(computed.unowned.iter().cloned());
            unowned.sort_by(|a, b| a.integration.cmp(&b.integration));
        }
        tracing::info!(
            tenant_id = %tenant,
            customers = affected.customers.len(),
            records = wanted.len(),
            parts_read = decoded.len(),
            "analytics: incremental pass"
        );
        let plan = Plan {
            manifest: Manifest {
                head: Head {
                    built_at: self.now(),
                    unowned,
                },
                parts: refs,
            },
            added,
            removed,
            profiles,
            gone,
        };
        Ok(Some(plan))
    }

    /// The customers whose figures the changes feed (`None`: not known without the
    /// whole tenant).
    async fn affected(
        &self,
        tenant: &TenantId,
        touched: &Touched,
    ) -> Result<Option<Affected>, ServiceError> {
        let mut affected = Affected {
            customers: BTreeSet::new(),
            unowned: false,
        };
        let changed_charges: HashMap<&str, Option<&str>> = touched
            .changes
            .iter()
            .filter_map(|(_, after)| match after {
                Some(BillingRecord::Charge(charge)) => {
                    Some((charge.id.as_str(), charge.customer.as_deref()))
                }
                _ => None,
            })
            .collect();
        for (before, after) in &touched.changes {
            for record in [before, after].into_iter().flatten() {
                let owner = match record {
                    BillingRecord::Refund(refund) => match refund.charge.as_deref() {
                        None => Owner::Unowned,
                        Some(charge) => {
                            let customer = match changed_charges.get(charge) {
                                Some(customer) => customer.map(str::to_owned),
                                None => self
                                    .repos
                                    .billing_records
                                    .get(tenant, &touched.integration, ObjectKind::Charge, charge)
                                    .await?
                                    .and_then(|r| match r {
                                        BillingRecord::Charge(c) => c.customer,
                                        _ => None,
                                    }),
                            };
                            customer.map_or(Owner::Unowned, Owner::Customer)
                        }
                    },
                    other => owner_of(other),
                };
                match owner {
                    Owner::Customer(customer) => {
                        affected.customers.insert(customer);
                    }
                    Owner::Unowned => affected.unowned = true,
                    Owner::Unknown => return Ok(None),
                }
            }
        }
        Ok(Some(affected))
    }

    /// Decodes the chosen parts not decoded yet.
    async fn read_parts(
        &self,
        tenant: &TenantId,
        parts: &[PartRef],
        chosen: &BTreeSet<usize>,
        decoded: &mut HashMap<usize, Vec<Share>>,
    ) -> Result<(), ServiceError> {
        let wanted: Vec<usize> = chosen
            .iter()
            .copied()
            .filter(|i| !decoded.contains_key(i))
            .collect();
        let ids: Vec<String> = wanted
            .iter()
            .filter_map(|i| parts.get(*i))
            .map(|p| p.id.clone())
            .collect();
        let mut bytes: HashMap<String, Vec<u8>> = self
            .repos
            .snapshots
            .parts(tenant, &ids)
            .await?
            .into_iter()
            .collect();
        for index in wanted {
            let shares = parts
                .get(index)
                .and_then(|p| bytes.remove(&p.id))
                .and_then(|b| layout::decode_part(&b))
                .ok_or_else(|| {
                    ServiceError::internal("a snapshot part is missing or does not decode")
                })?;
            decoded.insert(index, shares);
        }
        Ok(())
    }
}

/// The owner of a record other than a refund.
fn owner_of(record: &BillingRecord) -> Owner {
    let customer = |c: Option<&String>, otherwise: Owner| match c {
        Some(c) => Owner::Customer(c.clone()),
        None => otherwise,
    };
    match record {
        BillingRecord::Customer(c) => Owner::Customer(c.id.clone()),
        BillingRecord::Subscription(s) => Owner::Customer(s.customer.clone()),
        BillingRecord::Invoice(i) => customer(i.customer.as_ref(), Owner::Unknown),
        BillingRecord::Charge(c) => customer(c.customer.as_ref(), Owner::Unowned),
        BillingRecord::PaymentMethod(pm) => customer(pm.customer.as_ref(), Owner::Unowned),
        BillingRecord::Refund(_) => Owner::Unknown,
    }
}

/// The parts of the run part `seed` is in: back while the part before does not end a
/// run, forward until one does.
fn run_of(parts: &[PartRef], seed: usize) -> std::ops::RangeInclusive<usize> {
    let mut start = seed;
    while start > 0 && parts.get(start - 1).is_some_and(|p| !p.ends_run()) {
        start -= 1;
    }
    let mut end = seed;
    while end + 1 < parts.len() && parts.get(end).is_some_and(|p| !p.ends_run()) {
        end += 1;
    }
    start..=end
}

/// The maximal ranges of consecutive indices.
fn regions_of(chosen: &BTreeSet<usize>) -> Vec<std::ops::RangeInclusive<usize>> {
    let mut regions: Vec<std::ops::RangeInclusive<usize>> = Vec::new();
    for &index in chosen {
        match regions.last_mut() {
            Some(region) if *region.end() + 1 == index => *region = *region.start()..=index,
            _ => regions.push(index..=index),
        }
    }
    regions
}
