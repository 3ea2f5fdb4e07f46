//! A full analytics rebuild in bounded memory (issue 15, item 5).
//!
//! A full rebuild needs every record of the tenant, but a customer's share needs only
//! its own records (`snapshot_parts`). So the records are read once, kind by kind, a
//! page at a time, and each is filed under the bucket of every customer it feeds
//! ([`OwnerIndex`]): a bucket is a range of customer keys, cut at part boundaries
//! ([`layout::is_boundary`]) about every `rebuild_bucket_customers` customers. A
//! filed record is kept as its compact encoding (postcard, LZ4 blocks of 64 KiB), not
//! as a decoded record with its heap strings. Then, bucket by bucket in key order, the
//! bucket's records are decoded, its customers' shares and profiles computed, its parts
//! cut and written, and its changed profiles written: what is held at once is one
//! bucket decoded, the compressed records of the others (about a fifth of their
//! decoded size) and the manifest being built.
//!
//! Since buckets end at part boundaries, the parts of consecutive buckets are exactly
//! the parts one pass over all shares cuts ([`layout::parts`]): the published snapshot
//! is byte for byte the one an all-in-memory build gives, which a test checks.
//! Records no customer owns are a bucket of their own, computed into the head's
//! unowned shares. Should a bucket's computation ever give what it cannot own (a
//! customer outside its range, or an unowned figure), the rebuild falls back to the
//! all-in-memory build rather than publish a wrong snapshot.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::billing::{BillingRecord, ObjectKind, RefundRecord};
use crate::domain::ids::{IntegrationId, TenantId};
use crate::domain::metrics::{BillingData, CustomerProfile, MrrPolicy, OwnerIndex, RecordSet};
use crate::repos::analytics::SnapshotPointer;
use crate::services::analytics::{Manifest, PartRef, Plan};
use crate::services::contexts::Analytics;
use crate::services::error::ServiceError;
use crate::services::integrations::IntegrationStatus;
use crate::services::snapshot_parts::{self as layout, Head, Share};

/// A customer's key: (integration id, customer id), the order of shares and parts.
type CustomerKey = (String, String);

/// Uncompressed bytes gathered before a block is compressed.
const BLOCK_BYTES: usize = 64 * 1024;
/// A block decompresses to at most this (a block holds one record past
/// [`BLOCK_BYTES`] at most).
const MAX_BLOCK_BYTES: usize = 64 * 1024 * 1024;

/// Why a bucketed rebuild gives way to the all-in-memory one.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Published (`false`: another pass published first, as [`Analytics::commit`]).
    Done(bool),
    /// A bucket's computation gave what it does not own.
    Fallback(&'static str),
}

/// Records filed in one bucket: encoded, in LZ4 blocks.
#[derive(Default)]
struct Frames {
    blocks: Vec<Vec<u8>>,
    pending: Vec<u8>,
}

impl Frames {
    fn push(&mut self, record: &BillingRecord) -> Result<(), ServiceError> {
        let tag = kind_tag(record.kind());
        self.pending.push(tag);
        let encoded = match record {
            BillingRecord::Customer(r) => append(&mut self.pending, r),
            BillingRecord::PaymentMethod(r) => append(&mut self.pending, r),
            BillingRecord::Subscription(r) => append(&mut self.pending, r),
            BillingRecord::Invoice(r) => append(&mut self.pending, r),
            BillingRecord::Charge(r) => append(&mut self.pending, r),
            BillingRecord::Refund(r) => append(&mut self.pending, r),
        };
        encoded.map_err(|_| ServiceError::internal("a record does not encode"))?;
        if self.pending.len() >= BLOCK_BYTES {
            self.flush();
        }
        Ok(())
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.blocks
                .push(lz4_flex::block::compress_prepend_size(&self.pending));
            self.pending.clear();
        }
    }

    /// The records, in the order filed, decoded into a record set.
    fn into_records(mut self) -> Result<RecordSet, ServiceError> {
        self.flush();
        let corrupt = || ServiceError::internal("a bucket of records does not decode");
        let mut set = RecordSet::default();
        for block in self.blocks {
            let size: [u8; 4] = block
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(corrupt)?;
            if u32::from_le_bytes(size) as usize > MAX_BLOCK_BYTES {
                return Err(corrupt());
            }
            let plain =
                lz4_flex::block::decompress_size_prepended(&block).map_err(|_| corrupt())?;
            let mut rest = plain.as_slice();
            while let Some((&tag, after)) = rest.split_first() {
                let (record, after) = decode(tag, after).ok_or_else(corrupt)?;
                set.push(record);
                rest = after;
            }
        }
        Ok(set)
    }

    fn bytes(&self) -> usize {
        self.pending.len() + self.blocks.iter().map(Vec::len).sum::<usize>()
    }
}

fn append<T: Serialize>(out: &mut Vec<u8>, value: &T) -> Result<(), postcard::Error> {
    let taken = std::mem::take(out);
    *out = postcard::to_extend(value, taken)?;
    Ok(())
}

fn kind_tag(kind: ObjectKind) -> u8 {
    ObjectKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or_default() as u8
}

fn decode(tag: u8, bytes: &[u8]) -> Option<(BillingRecord, &[u8])> {
    fn take<T: DeserializeOwned>(bytes: &[u8]) -> Option<(T, &[u8])> {
        postcard::take_from_bytes(bytes).ok()
    }
    let kind = ObjectKind::ALL.get(tag as usize)?;
    Some(match kind {
        ObjectKind::Customer => take(bytes).map(|(r, b)| (BillingRecord::Customer(r), b))?,
        ObjectKind::PaymentMethod => {
            take(bytes).map(|(r, b)| (BillingRecord::PaymentMethod(r), b))?
        }
        ObjectKind::Subscription => {
            take(bytes).map(|(r, b)| (BillingRecord::Subscription(r), b))?
        }
        ObjectKind::Invoice => take(bytes).map(|(r, b)| (BillingRecord::Invoice(r), b))?,
        ObjectKind::Charge => take(bytes).map(|(r, b)| (BillingRecord::Charge(r), b))?,
        ObjectKind::Refund => take(bytes).map(|(r, b)| (BillingRecord::Refund(r), b))?,
    })
}

/// The cuts between buckets: bucket `b` holds the keys in `(cuts[b - 1], cuts[b]]`,
/// the last one everything after the last cut. A cut is a part boundary reached after
/// at least `per_bucket` customers since the last.
fn cuts(sorted: &[CustomerKey], per_bucket: usize) -> Vec<CustomerKey> {
    let mut cuts = Vec::new();
    let mut since = 0usize;
    for key in sorted {
        since += 1;
        if since >= per_bucket && layout::is_boundary(&key.0, &key.1) {
            cuts.push(key.clone());
            since = 0;
        }
    }
    cuts
}

/// The bucket a customer's key falls in.
fn bucket_of(cuts: &[CustomerKey], integration: &str, id: &str) -> usize {
    cuts.partition_point(|(i, c)| (i.as_str(), c.as_str()) < (integration, id))
}

/// Every record of the tenant, filed by bucket (and integration), and those no
/// customer owns.
struct Buckets {
    integrations: Vec<String>,
    cuts: Vec<CustomerKey>,
    /// `[bucket][integration]`.
    filed: Vec<Vec<Frames>>,
    unowned: Vec<Frames>,
}

impl Buckets {
    fn new(integrations: Vec<String>, cuts: Vec<CustomerKey>) -> Self {
        let width = integrations.len();
        let filed = (0..=cuts.len())
            .map(|_| (0..width).map(|_| Frames::default()).collect())
            .collect();
        let unowned = (0..width).map(|_| Frames::default()).collect();
        Self {
            integrations,
            cuts,
            filed,
            unowned,
        }
    }

    fn count(&self) -> usize {
        self.filed.len()
    }

    /// Files a record of integration `at` under its owners' buckets (once each).
    fn file(
        &mut self,
        at: usize,
        owners: &[String],
        record: &BillingRecord,
    ) -> Result<(), ServiceError> {
        let name = self.integrations.get(at).map(String::as_str).unwrap_or("");
        if owners.is_empty() {
            if let Some(frames) = self.unowned.get_mut(at) {
                frames.push(record)?;
            }
            return Ok(());
        }
        let mut seen: Vec<usize> = owners
            .iter()
            .map(|owner| bucket_of(&self.cuts, name, owner))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        for bucket in seen {
            if let Some(frames) = self.filed.get_mut(bucket).and_then(|b| b.get_mut(at)) {
                frames.push(record)?;
            }
        }
        Ok(())
    }

    /// Bucket `b`'s records, one set per integration (taken: freed from here).
    fn take(&mut self, b: usize) -> Result<Vec<RecordSet>, ServiceError> {
        let frames = self
            .filed
            .get_mut(b)
            .map(std::mem::take)
            .unwrap_or_default();
        frames.into_iter().map(Frames::into_records).collect()
    }

    fn take_unowned(&mut self) -> Result<Vec<RecordSet>, ServiceError> {
        std::mem::take(&mut self.unowned)
            .into_iter()
            .map(Frames::into_records)
            .collect()
    }

    fn in_bucket(&self, b: usize, integration: &str, id: &str) -> bool {
        bucket_of(&self.cuts, integration, id) == b
    }

    /// Bytes held, compressed.
    fn bytes(&self) -> usize {
        self.filed
            .iter()
            .flatten()
            .chain(&self.unowned)
            .map(Frames::bytes)
            .sum()
    }
}

/// What every bucket is published against: the manifest it replaces (if of this
/// format), that manifest's part ids, the buckets' cuts, and the profiles to rewrite
/// whatever their digest.
struct Against<'a> {
    old: Option<&'a Manifest>,
    old_ids: &'a HashSet<String>,
    buckets: &'a Buckets,
    force: &'a HashSet<(String, String)>,
    /// The encoded size of every part cut so far (the snapshot's size, for its metric).
    bytes: &'a std::sync::atomic::AtomicU64,
}

/// The owners of a record, read in [`OwnerIndex`]'s order.
fn owners_of(index: &mut OwnerIndex, record: &BillingRecord) -> Vec<String> {
    match record {
        BillingRecord::Customer(r) => index.customer(r),
        BillingRecord::Subscription(r) => index.subscription(r),
        BillingRecord::PaymentMethod(r) => index.payment_method(r),
        BillingRecord::Invoice(r) => index.invoice(r),
        BillingRecord::Charge(r) => index.charge(r),
        BillingRecord::Refund(r) => index.refund(r),
    }
}

impl Analytics {
    /// Every record of one kind of an integration, a round of pages at a time (one
    /// page from each of the tenant's shards).
    async fn each_record(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        kind: ObjectKind,
        mut each: impl FnMut(BillingRecord) -> Result<(), ServiceError>,
    ) -> Result<(), ServiceError> {
        self.repos
            .billing_records
            .each(tenant, integration, kind, |page| {
                page.into_iter().try_for_each(&mut each)
            })
            .await
    }

    /// The full rebuild, bucket by bucket (see the module), published in place of
    /// `previous`; profiles of `force` are rewritten whatever their digest.
    #[tracing::instrument(name = "engine.buckets", skip_all)]
    pub(crate) async fn rebuild_in_buckets(
        &self,
        tenant: &TenantId,
        previous: Option<SnapshotPointer>,
        after_stop: bool,
        force: &HashSet<(String, String)>,
    ) -> Result<Outcome, ServiceError> {
        let now = self.now();
        let mut integrations: Vec<IntegrationId> = self
            .repos
            .integrations
            .statuses(tenant)
            .await?
            .into_iter()
            .filter(|(_, status)| *status != IntegrationStatus::Disconnected)
            .map(|(id, _)| id)
            .collect();
        integrations.sort_by_key(|id| id.to_string());
        let names: Vec<String> = integrations.iter().map(|id| id.to_string()).collect();

        // The customers first: their keys place the cuts.
        let mut customers: Vec<Vec<BillingRecord>> = Vec::with_capacity(integrations.len());
        let mut keys: Vec<CustomerKey> = Vec::new();
        for (id, name) in integrations.iter().zip(&names) {
            let mut of_this = Vec::new();
            self.each_record(tenant, id, ObjectKind::Customer, |record| {
                keys.push((name.clone(), record.id().to_owned()));
                of_this.push(record);
                Ok(())
            })
            .await?;
            customers.push(of_this);
        }
        keys.sort_unstable();
        let cuts = cuts(&keys, self.config.rebuild_bucket_customers.max(1));
        drop(keys);
        let mut buckets = Buckets::new(names.clone(), cuts);

        // Every record filed by owner, in the order the owner index reads them.
        for (at, (id, customers)) in integrations.iter().zip(customers).enumerate() {
            let mut index = OwnerIndex::default();
            for record in customers {
                let owners = owners_of(&mut index, &record);
                buckets.file(at, &owners, &record)?;
            }
            for kind in [
                ObjectKind::Subscription,
                ObjectKind::PaymentMethod,
                ObjectKind::Invoice,
            ] {
                self.each_record(tenant, id, kind, |record| {
                    let owners = owners_of(&mut index, &record);
                    buckets.file(at, &owners, &record)
                })
                .await?;
            }
            // A refund's owner is its charge's customer: the refunds (few) are held
            // while the charges are read.
            let mut refunds: Vec<RefundRecord> = Vec::new();
            self.each_record(tenant, id, ObjectKind::Refund, |record| {
                if let BillingRecord::Refund(refund) = record {
                    refunds.push(refund);
                }
                Ok(())
            })
            .await?;
            index.expect_refunds(&refunds);
            self.each_record(tenant, id, ObjectKind::Charge, |record| {
                let owners = owners_of(&mut index, &record);
                buckets.file(at, &owners, &record)
            })
            .await?;
            for refund in refunds {
                let record = BillingRecord::Refund(refund);
                let owners = owners_of(&mut index, &record);
                buckets.file(at, &owners, &record)?;
            }
        }
        tracing::info!(
            tenant_id = %tenant,
            buckets = buckets.count(),
            held_bytes = buckets.bytes() as u64,
            "analytics: records filed by bucket"
        );

        let old = match previous.filter(|p| p.format == Some(super::analytics::SNAPSHOT_FORMAT)) {
            Some(pointer) => self.manifest(tenant, pointer).await.ok(),
            None => None,
        };
        let old_ids: HashSet<String> = old
            .iter()
            .flat_map(|m| m.parts.iter().map(|p| p.id.clone()))
            .collect();
        let policy = MrrPolicy::default();
        let mut refs: Vec<PartRef> = Vec::new();
        let bytes = std::sync::atomic::AtomicU64::new(0);
        for b in 0..buckets.count() {
            let sets = buckets.take(b)?;
            let computed = {
                let data: Vec<BillingData<'_>> = sets
                    .iter()
                    .zip(&names)
                    .map(|(set, name)| set.for_integration(name))
                    .collect();
                let _phase = tracing::info_span!("engine.compute").entered();
                layout::compute(&data, &policy, now.timestamp()).map_err(ServiceError::internal)?
            };
            drop(sets);
            if !computed.unowned.is_empty() {
                return Ok(Outcome::Fallback("a bucket computed an unowned figure"));
            }
            let mut shares = computed.shares;
            shares.retain(|s| buckets.in_bucket(b, &s.integration, &s.id));
            let mut profiles = computed.profiles;
            profiles.retain(|(integration, p)| buckets.in_bucket(b, integration, &p.id));
            let against = Against {
                old: old.as_ref(),
                old_ids: &old_ids,
                buckets: &buckets,
                force,
                bytes: &bytes,
            };
            refs.extend(
                self.write_bucket(tenant, &against, b, &shares, &profiles)
                    .await?,
            );
        }

        // What no customer owns: the head's unowned shares.
        let mut unowned: Vec<Share> = Vec::new();
        for (set, name) in buckets.take_unowned()?.iter().zip(&names) {
            let computed = layout::compute(&[set.for_integration(name)], &policy, now.timestamp())
                .map_err(ServiceError::internal)?;
            if !computed.shares.is_empty() {
                return Ok(Outcome::Fallback(
                    "unowned records computed a customer's share",
                ));
            }
            unowned.extend(computed.unowned);
        }
        unowned.sort_by(|a, b| a.integration.cmp(&b.integration));

        let new_ids: HashSet<&str> = refs.iter().map(|r| r.id.as_str()).collect();
        let removed: Vec<String> = old_ids
            .iter()
            .filter(|id| !new_ids.contains(id.as_str()))
            .cloned()
            .collect();
        let plan = Plan {
            manifest: Manifest {
                head: Head {
                    built_at: now,
                    unowned,
                },
                parts: refs,
            },
            added: Vec::new(),
            removed,
            profiles: Vec::new(),
            gone: Vec::new(),
        };
        let published = self.commit(tenant, previous, plan, after_stop).await?;
        if published {
            crate::telemetry::record::snapshot_published(bytes.into_inner());
        }
        Ok(Outcome::Done(published))
    }

    /// Cuts one bucket's shares into parts and writes what the published snapshot does
    /// not have: its new parts, the profiles whose digest changed (or forced), and the
    /// deletion of profiles of customers of its range no longer in the snapshot.
    /// Returns the bucket's parts as the manifest names them.
    #[tracing::instrument(name = "engine.write_bucket", skip_all)]
    async fn write_bucket(
        &self,
        tenant: &TenantId,
        against: &Against<'_>,
        b: usize,
        shares: &[Share],
        profiles: &[(String, CustomerProfile)],
    ) -> Result<Vec<PartRef>, ServiceError> {
        let Against {
            old,
            old_ids,
            buckets,
            force,
            bytes,
        } = *against;
        let snapshots = &self.repos.snapshots;
        let encoded = layout::parts(shares);
        bytes.fetch_add(
            encoded.iter().map(|(_, part)| part.len() as u64).sum(),
            std::sync::atomic::Ordering::Relaxed,
        );
        let ids = snapshots
            .part_ids(tenant, encoded.iter().map(|(_, bytes)| bytes.as_slice()))
            .await?;
        let mine: HashSet<&str> = ids.iter().map(String::as_str).collect();
        // The old parts this bucket's range overlaps and does not keep: its customers
        // as the published snapshot had them.
        let mut before: HashMap<CustomerKey, Option<u64>> = HashMap::new();
        if let Some(old) = old {
            let lo = b.checked_sub(1).and_then(|i| buckets.cuts.get(i));
            let hi = buckets.cuts.get(b);
            let start = lo.map_or(0, |lo| {
                old.parts
                    .partition_point(|p| p.key() <= (lo.0.as_str(), lo.1.as_str()))
            });
            let end = hi.map_or(old.parts.len(), |hi| {
                old.parts
                    .partition_point(|p| p.key() < (hi.0.as_str(), hi.1.as_str()))
                    .saturating_add(1)
                    .min(old.parts.len())
            });
            let read: Vec<String> = old
                .parts
                .get(start..end)
                .unwrap_or_default()
                .iter()
                .filter(|p| !mine.contains(p.id.as_str()))
                .map(|p| p.id.clone())
                .collect();
            for (_, bytes) in snapshots.parts(tenant, &read).await? {
                for share in layout::decode_part(&bytes).unwrap_or_default() {
                    if buckets.in_bucket(b, &share.integration, &share.id) {
                        before.insert((share.integration, share.id), share.profile);
                    }
                }
            }
        }
        let mut added: Vec<(String, Vec<u8>)> = Vec::new();
        let mut write: HashSet<(&str, &str)> = HashSet::new();
        let mut refs = Vec::with_capacity(ids.len());
        for ((range, bytes), id) in encoded.into_iter().zip(&ids) {
            let part = shares.get(range).unwrap_or_default();
            refs.push(PartRef::new(id, part));
            if old_ids.contains(id) {
                continue;
            }
            added.push((id.clone(), bytes));
            for share in part {
                let key = (share.integration.clone(), share.id.clone());
                let same = old.is_some() && before.get(&key) == Some(&share.profile);
                if !same && share.profile.is_some() {
                    write.insert((share.integration.as_str(), share.id.as_str()));
                }
                before.remove(&key);
            }
        }
        let changed: Vec<(String, CustomerProfile)> = profiles
            .iter()
            .filter(|(integration, p)| {
                write.contains(&(integration.as_str(), p.id.as_str()))
                    || force.contains(&(integration.clone(), p.id.clone()))
            })
            .cloned()
            .collect();
        let gone: Vec<CustomerKey> = before
            .into_iter()
            .filter(|(_, profile)| profile.is_some())
            .map(|(key, _)| key)
            .collect();
        snapshots.put_parts(tenant, &added).await?;
        self.repos.profiles.put_all(tenant, &changed).await?;
        self.repos.profiles.delete_all(tenant, &gone).await?;
        Ok(refs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::demo::{DemoParams, generate};

    fn demo(customers: usize) -> RecordSet {
        generate(DemoParams {
            customers,
            ..DemoParams::default()
        })
        .records
    }

    #[test]
    fn records_come_back_from_their_bucket_as_filed() {
        let set = demo(60);
        let mut frames = Frames::default();
        let mut all: Vec<BillingRecord> = Vec::new();
        all.extend(set.customers.iter().cloned().map(BillingRecord::Customer));
        all.extend(
            set.subscriptions
                .iter()
                .cloned()
                .map(BillingRecord::Subscription),
        );
        all.extend(set.invoices.iter().cloned().map(BillingRecord::Invoice));
        all.extend(set.charges.iter().cloned().map(BillingRecord::Charge));
        all.extend(set.refunds.iter().cloned().map(BillingRecord::Refund));
        all.extend(
            set.payment_methods
                .iter()
                .cloned()
                .map(BillingRecord::PaymentMethod),
        );
        for record in &all {
            frames.push(record).expect("encodes");
        }
        assert!(
            frames.blocks.len() > 1,
            "the demo's records span several blocks"
        );
        assert!(frames.bytes() < serde_json::to_vec(&all).expect("json").len() / 3);
        assert_eq!(frames.into_records().expect("decodes"), set);
    }

    #[test]
    fn a_corrupt_block_is_an_error_not_a_panic() {
        let mut frames = Frames::default();
        frames.blocks.push(vec![9, 0, 0, 0, 1, 2, 3]);
        assert!(frames.into_records().is_err());
        let mut frames = Frames::default();
        frames
            .blocks
            .push(lz4_flex::block::compress_prepend_size(&[0, 255, 255]));
        assert!(frames.into_records().is_err());
    }

    #[test]
    fn cuts_fall_on_part_boundaries_and_place_every_key() {
        let keys: Vec<CustomerKey> = (0..500)
            .map(|i| ("int_a".to_owned(), format!("cus_{i:04}")))
            .collect();
        let cuts = cuts(&keys, 40);
        assert!(cuts.len() >= 8, "about one cut per 40 customers");
        assert!(cuts.iter().all(|(i, c)| layout::is_boundary(i, c)));
        // Each cut is the last key of its bucket; keys between cuts go to the next.
        for (b, cut) in cuts.iter().enumerate() {
            assert_eq!(bucket_of(&cuts, &cut.0, &cut.1), b);
        }
        assert_eq!(bucket_of(&cuts, "int_a", "cus_9999"), cuts.len());
        assert_eq!(bucket_of(&cuts, "int_0", "zzz"), 0);
        // Buckets of consecutive keys are consecutive.
        let placed: Vec<usize> = keys.iter().map(|(i, c)| bucket_of(&cuts, i, c)).collect();
        assert!(placed.windows(2).all(|w| w[0] <= w[1]));
    }
}
