//! The snapshot as it is stored: one share per customer, shares grouped into parts
//! whose boundaries depend only on the customers in them, and a head with what is
//! tenant-wide (docs/design.md §6).
//!
//! A share holds everything about one customer that depends on that customer's records
//! alone: its facts, its row, its payment-failure risks, the inputs of its RFM score,
//! the digest of its profile, and the ids of the records it was computed from. What
//! ranks or sums customers against each other (RFM quintiles, segments, the reporting
//! currency and each row's MRR in it) is computed when the snapshot is loaded, from
//! the shares: so a pass that changed k customers recomputes k shares, and never
//! another customer's.
//!
//! Parts are cut after each customer whose key hashes to a boundary (one in
//! [`CUSTOMERS_PER_PART`] on average), so a changed, added or removed customer changes
//! the bytes of its own part only (a *run*: the parts between two boundaries); every
//! other part encodes to the same bytes as before. Stored under an id derived from
//! their bytes, the unchanged parts are neither written nor deleted again.
//!
//! Everything here is pure: [`compute`] turns billing records into shares, [`parts`]
//! groups shares into parts, [`assemble`] turns them back into the facts and rows the
//! queries read. A snapshot assembled from parts of several passes is the one a single
//! full build would give, since a share is a function of its customer's records alone
//! and a part's bytes a function of its shares.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Range;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::billing::ObjectKind;
use crate::domain::metrics::{
    BillingData, ChurnRisk, CustomerDims, CustomerFacts, CustomerProfile, Facts, Mrr, MrrChange,
    MrrPolicy, NO_CUSTOMER, PaymentFact, PaymentFailureRisk, RecordGroups, SubscriberSpan,
    TrialFact, churn_risks, customer_profiles, facts_from_records, payment_failure_risks,
};
use crate::services::analytics::CustomerRow;

/// Customers per part on average: small parts keep what a changed customer rewrites
/// small (a part is ~10 KB at the demo's ~1.2 KB per customer).
pub const CUSTOMERS_PER_PART: u64 = 4;
/// A part is cut after this many encoded bytes whatever its boundaries (customers with
/// long histories); DynamoDB items are capped at 400 KB.
pub const MAX_PART_BYTES: usize = 128 * 1024;

/// What is tenant-wide: rewritten by every pass.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Head {
    pub built_at: DateTime<Utc>,
    /// Per integration (id `""`), what names no customer: payments and trials whose
    /// customer is [`NO_CUSTOMER`], and the records they come from.
    pub unowned: Vec<Share>,
}

/// What a customer's RFM score is ranked on (see `domain::metrics::rfm`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RfmInputs {
    pub first_payment_at: Option<i64>,
    pub last_payment_at: Option<i64>,
    pub successful_payments: u64,
    pub lifetime_revenue_by_currency: BTreeMap<String, i64>,
    pub mrr_by_currency: BTreeMap<String, Mrr>,
}

impl RfmInputs {
    fn of(profile: &CustomerProfile) -> Self {
        Self {
            first_payment_at: profile.first_payment_at,
            last_payment_at: profile.last_payment_at,
            successful_payments: profile.successful_payments,
            lifetime_revenue_by_currency: profile.lifetime_revenue_by_currency.clone(),
            mrr_by_currency: profile.mrr_by_currency.clone(),
        }
    }

    /// A profile with only what RFM reads, for `rfm_scores` and `segments`.
    pub fn profile(&self, id: &str) -> CustomerProfile {
        CustomerProfile {
            id: id.to_owned(),
            email: None,
            created: None,
            currency: None,
            mrr: Mrr::ZERO,
            lifetime_revenue: 0,
            mrr_by_currency: self.mrr_by_currency.clone(),
            lifetime_revenue_by_currency: self.lifetime_revenue_by_currency.clone(),
            successful_payments: self.successful_payments,
            first_payment_at: self.first_payment_at,
            last_payment_at: self.last_payment_at,
            plans: Vec::new(),
            dims: CustomerDims::default(),
            subscriptions: Vec::new(),
            payments: Vec::new(),
            churn_factors: Vec::new(),
        }
    }
}

/// One customer of one integration: its row, its facts (currencies and plans by
/// code, in tables of its own sorted by code, so that a plan elsewhere does not change
/// this customer's bytes), its risks, RFM inputs, the digest of its stored profile,
/// and the ids of the records it is computed from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub integration: String,
    pub id: String,
    /// Without the figures computed when loaded (`reporting_mrr`, `loyalty_score`,
    /// `segment`).
    pub row: Option<CustomerRow>,
    /// Present when the customer is in the facts.
    pub dims: Option<CustomerDims>,
    pub currencies: Vec<String>,
    pub plans: Vec<String>,
    /// `customer` is 0 ([`NO_CUSTOMER`] in an unowned share); `currency` and `plan`
    /// index this share's tables.
    pub changes: Vec<MrrChange>,
    pub payments: Vec<PaymentFact>,
    pub trials: Vec<TrialFact>,
    pub subscribers: Vec<SubscriberSpan>,
    /// A digest of the customer's profile (`None`: it has none).
    pub profile: Option<u64>,
    pub rfm: Option<RfmInputs>,
    pub risks: Vec<PaymentFailureRisk>,
    /// The records this share is computed from, sorted.
    pub records: Vec<(ObjectKind, String)>,
}

impl Share {
    fn new(integration: &str, id: &str) -> Self {
        Share {
            integration: integration.to_owned(),
            id: id.to_owned(),
            row: None,
            dims: None,
            currencies: Vec::new(),
            plans: Vec::new(),
            changes: Vec::new(),
            payments: Vec::new(),
            trials: Vec::new(),
            subscribers: Vec::new(),
            profile: None,
            rfm: None,
            risks: Vec::new(),
            records: Vec::new(),
        }
    }

    pub fn key(&self) -> (&str, &str) {
        (&self.integration, &self.id)
    }

    /// Whether it holds anything at all.
    fn is_empty(&self) -> bool {
        self.row.is_none()
            && self.dims.is_none()
            && self.records.is_empty()
            && self.payments.is_empty()
            && self.trials.is_empty()
            && self.risks.is_empty()
    }

    /// Re-indexes its tables in code order and sorts its facts: the same customer's
    /// records give the same bytes whatever else was built with them.
    fn canonical(&mut self) -> Result<(), LayoutError> {
        let mut currencies = self.currencies.clone();
        currencies.sort();
        let mut plans = self.plans.clone();
        plans.sort();
        let new_currency: Vec<u16> = self
            .currencies
            .iter()
            .map(|c| index_of(&currencies, c).and_then(|i| u16::try_from(i).ok()))
            .collect::<Option<_>>()
            .ok_or(LayoutError::TooLarge)?;
        let new_plan: Vec<u32> = self
            .plans
            .iter()
            .map(|p| index_of(&plans, p).and_then(|i| u32::try_from(i).ok()))
            .collect::<Option<_>>()
            .ok_or(LayoutError::TooLarge)?;
        let currency = |c: u16| {
            new_currency
                .get(usize::from(c))
                .copied()
                .ok_or(LayoutError::UnknownCode)
        };
        for change in &mut self.changes {
            change.currency = currency(change.currency)?;
            change.plan = new_plan
                .get(change.plan as usize)
                .copied()
                .ok_or(LayoutError::UnknownCode)?;
        }
        for payment in &mut self.payments {
            payment.currency = currency(payment.currency)?;
        }
        for trial in &mut self.trials {
            trial.currency = currency(trial.currency)?;
        }
        for span in &mut self.subscribers {
            span.currency = currency(span.currency)?;
        }
        self.changes
            .sort_by_key(|c| (c.at_day, c.currency, c.plan, c.value));
        self.subscribers
            .sort_by_key(|s| (s.currency, s.from_day, s.to_day));
        self.records.sort();
        self.currencies = currencies;
        self.plans = plans;
        Ok(())
    }
}

fn index_of(sorted: &[String], code: &str) -> Option<usize> {
    sorted.binary_search_by(|c| c.as_str().cmp(code)).ok()
}

/// Why records or stored parts do not make a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("a share names a currency or plan its tables do not list")]
    UnknownCode,
    #[error("too many customers, currencies or plans for the facts' indices")]
    TooLarge,
}

/// Local index of `code` in `table`, added if new.
fn local(table: &mut Vec<String>, code: &str) -> Result<u32, LayoutError> {
    let index = match table.iter().position(|c| c == code) {
        Some(index) => index,
        None => {
            table.push(code.to_owned());
            table.len() - 1
        }
    };
    u32::try_from(index).map_err(|_| LayoutError::TooLarge)
}

fn code(table: &[String], index: impl TryInto<usize>) -> Result<&str, LayoutError> {
    let index = index.try_into().map_err(|_| LayoutError::UnknownCode)?;
    table
        .get(index)
        .map(String::as_str)
        .ok_or(LayoutError::UnknownCode)
}

/// A stable 64-bit digest (FNV-1a): the same on every machine and in every release,
/// which `std`'s hasher does not promise.
pub fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.iter().chain(&[0xff]) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// The digest a share keeps of its customer's profile.
pub fn profile_digest(profile: &CustomerProfile) -> u64 {
    let bytes = postcard::to_stdvec(profile).unwrap_or_default();
    stable_hash(&[&bytes])
}

/// What records make: every customer's share (sorted by integration and customer),
/// each integration's unowned share, and the customers' profiles (by integration id).
#[derive(Debug, Default)]
pub struct Computed {
    pub shares: Vec<Share>,
    pub unowned: Vec<Share>,
    pub profiles: Vec<(String, CustomerProfile)>,
}

/// The shares of the customers in `data` as of `now` (Unix seconds).
pub fn compute(
    data: &[BillingData<'_>],
    policy: &MrrPolicy,
    now: i64,
) -> Result<Computed, LayoutError> {
    let mut out = Computed::default();
    for d in data {
        let mut facts = facts_from_records(std::slice::from_ref(d), policy);
        facts.sort();
        let mut profiles = customer_profiles(d, policy, now);
        let risks = payment_failure_risks(d, policy, now);
        let mut churn: HashMap<String, ChurnRisk> = churn_risks(d, policy, now)
            .into_iter()
            .map(|r| (r.customer.clone(), r))
            .collect();
        // Each profile keeps its score's factors (the row keeps the score).
        for profile in &mut profiles {
            if let Some(risk) = churn.get_mut(&profile.id) {
                profile.churn_factors = std::mem::take(&mut risk.factors);
            }
        }
        let churn: HashMap<String, u32> = churn.into_iter().map(|(c, r)| (c, r.score)).collect();
        let groups = RecordGroups::of(d);
        let (shares, unowned) = split(d.integration, &facts, &profiles, risks, &churn, &groups)?;
        out.shares.extend(shares);
        out.unowned.extend(unowned);
        out.profiles
            .extend(profiles.into_iter().map(|p| (d.integration.to_owned(), p)));
    }
    out.shares.sort_by(|a, b| a.key().cmp(&b.key()));
    out.unowned
        .sort_by(|a, b| a.integration.cmp(&b.integration));
    Ok(out)
}

/// One integration's facts, profiles, risks and record groups as one share per
/// customer, and its unowned share if it has anything.
fn split(
    integration: &str,
    facts: &Facts,
    profiles: &[CustomerProfile],
    risks: Vec<PaymentFailureRisk>,
    churn: &HashMap<String, u32>,
    groups: &RecordGroups<'_>,
) -> Result<(Vec<Share>, Option<Share>), LayoutError> {
    let mut shares: HashMap<String, Share> = HashMap::new();
    fn get<'s>(
        shares: &'s mut HashMap<String, Share>,
        integration: &str,
        id: &str,
    ) -> &'s mut Share {
        shares
            .entry(id.to_owned())
            .or_insert_with(|| Share::new(integration, id))
    }
    for customer in &facts.customers {
        get(&mut shares, integration, &customer.id).dims = Some(customer.dims.clone());
    }
    let at_risk: HashSet<&str> = risks.iter().map(|r| r.customer.as_str()).collect();
    for profile in profiles {
        let share = get(&mut shares, integration, &profile.id);
        share.row = Some(CustomerRow {
            id: profile.id.clone(),
            integration: integration.to_owned(),
            email: profile.email.clone(),
            currency: profile.currency.clone(),
            mrr: profile.mrr.to_minor(),
            reporting_mrr: 0,
            lifetime_revenue: profile.lifetime_revenue,
            loyalty_score: None,
            segment: None,
            payment_failure_risk: at_risk.contains(profile.id.as_str()),
            churn_risk: churn.get(&profile.id).copied().unwrap_or(0),
        });
        share.profile = Some(profile_digest(profile));
        share.rfm = Some(RfmInputs::of(profile));
    }
    for risk in risks {
        get(&mut shares, integration, &risk.customer.clone())
            .risks
            .push(risk);
    }
    for (customer, records) in &groups.by_customer {
        get(&mut shares, integration, customer).records = records
            .iter()
            .map(|(kind, id)| (*kind, (*id).to_owned()))
            .collect();
    }
    let mut unowned = Share::new(integration, "");
    unowned.records = groups
        .unowned
        .iter()
        .map(|(kind, id)| (*kind, (*id).to_owned()))
        .collect();
    // Facts customers by index, to their share's id.
    let ids: Vec<&str> = facts.customers.iter().map(|c| c.id.as_str()).collect();
    for change in &facts.changes {
        let share = owned(&mut shares, &ids, change.customer)?;
        let currency = local_currency(share, &facts.currencies, change.currency)?;
        let plan = local(&mut share.plans, code(&facts.plans, change.plan)?)?;
        share.changes.push(MrrChange {
            customer: 0,
            currency,
            plan,
            ..*change
        });
    }
    for payment in &facts.payments {
        let share = if payment.customer == NO_CUSTOMER {
            &mut unowned
        } else {
            owned(&mut shares, &ids, payment.customer)?
        };
        let currency = local_currency(share, &facts.currencies, payment.currency)?;
        share.payments.push(PaymentFact {
            customer: if payment.customer == NO_CUSTOMER {
                NO_CUSTOMER
            } else {
                0
            },
            currency,
            ..*payment
        });
    }
    for trial in &facts.trials {
        let share = if trial.customer == NO_CUSTOMER {
            &mut unowned
        } else {
            owned(&mut shares, &ids, trial.customer)?
        };
        let currency = local_currency(share, &facts.currencies, trial.currency)?;
        share.trials.push(TrialFact {
            customer: if trial.customer == NO_CUSTOMER {
                NO_CUSTOMER
            } else {
                0
            },
            currency,
            ..*trial
        });
    }
    for span in &facts.subscribers {
        let share = owned(&mut shares, &ids, span.customer)?;
        let currency = local_currency(share, &facts.currencies, span.currency)?;
        share.subscribers.push(SubscriberSpan {
            customer: 0,
            currency,
            ..*span
        });
    }
    let mut shares: Vec<Share> = shares.into_values().collect();
    for share in &mut shares {
        share.canonical()?;
    }
    unowned.canonical()?;
    shares.sort_by(|a, b| a.key().cmp(&b.key()));
    Ok((shares, Some(unowned).filter(|u| !u.is_empty())))
}

fn owned<'a>(
    shares: &'a mut HashMap<String, Share>,
    ids: &[&str],
    customer: u32,
) -> Result<&'a mut Share, LayoutError> {
    ids.get(customer as usize)
        .and_then(|id| shares.get_mut(*id))
        .ok_or(LayoutError::UnknownCode)
}

fn local_currency(share: &mut Share, table: &[String], currency: u16) -> Result<u16, LayoutError> {
    let index = local(&mut share.currencies, code(table, currency)?)?;
    u16::try_from(index).map_err(|_| LayoutError::TooLarge)
}

/// Whether a part ends after the customer with this key (a run ends there).
pub fn is_boundary(integration: &str, id: &str) -> bool {
    stable_hash(&[integration.as_bytes(), id.as_bytes()]).is_multiple_of(CUSTOMERS_PER_PART)
}

/// The shares (sorted) grouped into parts, each encoded with the range of `shares` it
/// holds: a part ends after a boundary customer, or before the share that would take
/// it past [`MAX_PART_BYTES`]. Cuts depend on nothing before the last boundary, so the
/// parts of a run of shares between two boundaries are the same whether the run is cut
/// alone or with the rest.
pub fn parts(shares: &[Share]) -> Vec<(Range<usize>, Vec<u8>)> {
    let mut parts = Vec::new();
    // Each share encoded once; a part is then postcard's encoding of a sequence: its
    // length as a varint, then its elements.
    let mut current: Vec<Vec<u8>> = Vec::new();
    let mut start = 0usize;
    let mut bytes = 0usize;
    let mut close = |current: &mut Vec<Vec<u8>>, start: &mut usize, bytes: &mut usize| {
        if !current.is_empty() {
            let mut part = Vec::with_capacity(*bytes + 5);
            let mut len = current.len();
            while len >= 0x80 {
                part.push((len as u8 & 0x7f) | 0x80);
                len >>= 7;
            }
            part.push(len as u8);
            let end = *start + current.len();
            for share in current.drain(..) {
                part.extend(share);
            }
            parts.push((*start..end, lz4_flex::block::compress_prepend_size(&part)));
            *start = end;
            *bytes = 0;
        }
    };
    for share in shares {
        let encoded = postcard::to_stdvec(share).unwrap_or_default();
        if bytes + encoded.len() > MAX_PART_BYTES {
            close(&mut current, &mut start, &mut bytes);
        }
        bytes += encoded.len();
        current.push(encoded);
        if is_boundary(&share.integration, &share.id) {
            close(&mut current, &mut start, &mut bytes);
        }
    }
    close(&mut current, &mut start, &mut bytes);
    parts
}

/// A part decompresses to at most this (a part holds one share past
/// [`MAX_PART_BYTES`] at most, and a share is one customer's).
const MAX_DECODED_PART: usize = 64 * 1024 * 1024;

/// The shares of one stored part (LZ4 block, its size first: ids, codes and dates
/// repeat, and a part compresses to about half; every written byte costs).
pub fn decode_part(bytes: &[u8]) -> Option<Vec<Share>> {
    let size: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    if u32::from_le_bytes(size) as usize > MAX_DECODED_PART {
        return None;
    }
    let plain = lz4_flex::block::decompress_size_prepended(bytes).ok()?;
    postcard::from_bytes(&plain).ok()
}

/// What the stored shares give back: the facts (tables sorted by code), the rows, the
/// risks and each row's RFM inputs, in share order. The loader adds what ranks
/// customers against each other.
#[derive(Debug)]
pub struct Assembled {
    pub built_at: DateTime<Utc>,
    pub facts: Facts,
    pub rows: Vec<CustomerRow>,
    pub risks: Vec<PaymentFailureRisk>,
    /// `rfm_scores`' input: one slim profile per share that has RFM inputs.
    pub rfm: Vec<CustomerProfile>,
}

/// The facts and rows of a head and every share (in part order).
pub fn assemble<'a>(
    head: Head,
    shares: impl IntoIterator<Item = &'a Share> + Clone,
) -> Result<Assembled, LayoutError> {
    let mut currencies: BTreeSet<&str> = BTreeSet::new();
    let mut plans: BTreeSet<&str> = BTreeSet::new();
    for share in shares.clone() {
        currencies.extend(share.currencies.iter().map(String::as_str));
        plans.extend(share.plans.iter().map(String::as_str));
    }
    for share in &head.unowned {
        currencies.extend(share.currencies.iter().map(String::as_str));
    }
    let currencies: Vec<String> = currencies.into_iter().map(str::to_owned).collect();
    let plans: Vec<String> = plans.into_iter().map(str::to_owned).collect();
    let global_currency = |share: &Share, local: u16| -> Result<u16, LayoutError> {
        index_of(&currencies, code(&share.currencies, local)?)
            .and_then(|i| u16::try_from(i).ok())
            .ok_or(LayoutError::UnknownCode)
    };
    let global_plan = |share: &Share, local: u32| -> Result<u32, LayoutError> {
        index_of(&plans, code(&share.plans, local)?)
            .and_then(|i| u32::try_from(i).ok())
            .ok_or(LayoutError::UnknownCode)
    };
    let mut facts = Facts::default();
    let mut rows = Vec::new();
    let mut risks = Vec::new();
    let mut rfm = Vec::new();
    for share in shares {
        if let Some(dims) = &share.dims {
            let customer =
                u32::try_from(facts.customers.len()).map_err(|_| LayoutError::TooLarge)?;
            for change in &share.changes {
                facts.changes.push(MrrChange {
                    customer,
                    currency: global_currency(share, change.currency)?,
                    plan: global_plan(share, change.plan)?,
                    ..*change
                });
            }
            for payment in &share.payments {
                facts.payments.push(PaymentFact {
                    customer,
                    currency: global_currency(share, payment.currency)?,
                    ..*payment
                });
            }
            for trial in &share.trials {
                facts.trials.push(TrialFact {
                    customer,
                    currency: global_currency(share, trial.currency)?,
                    ..*trial
                });
            }
            for span in &share.subscribers {
                facts.subscribers.push(SubscriberSpan {
                    customer,
                    currency: global_currency(share, span.currency)?,
                    ..*span
                });
            }
            facts.customers.push(CustomerFacts {
                id: share.id.clone(),
                dims: dims.clone(),
            });
        }
        if let Some(row) = &share.row {
            rows.push(row.clone());
        }
        if let Some(inputs) = &share.rfm {
            rfm.push(inputs.profile(&share.id));
        }
        risks.extend(share.risks.iter().cloned());
    }
    for share in &head.unowned {
        for payment in &share.payments {
            facts.payments.push(PaymentFact {
                customer: NO_CUSTOMER,
                currency: global_currency(share, payment.currency)?,
                ..*payment
            });
        }
        for trial in &share.trials {
            facts.trials.push(TrialFact {
                customer: NO_CUSTOMER,
                currency: global_currency(share, trial.currency)?,
                ..*trial
            });
        }
    }
    facts.currencies = currencies;
    facts.plans = plans;
    facts.sort();
    Ok(Assembled {
        built_at: head.built_at,
        facts,
        rows,
        risks,
        rfm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::demo::{DemoParams, generate};
    use crate::domain::billing::BillingRecord;
    use crate::domain::metrics::RecordSet;

    const NOW: i64 = 1_767_225_600;

    fn demo(customers: usize) -> RecordSet {
        generate(DemoParams {
            customers,
            end: NOW,
            ..DemoParams::default()
        })
        .records
    }

    fn all_shares(records: &RecordSet) -> Computed {
        compute(
            &[records.for_integration("int_1")],
            &MrrPolicy::default(),
            NOW,
        )
        .unwrap()
    }

    fn owned(records: &RecordSet) -> Vec<BillingRecord> {
        let r = records.clone();
        r.customers
            .into_iter()
            .map(BillingRecord::Customer)
            .chain(
                r.payment_methods
                    .into_iter()
                    .map(BillingRecord::PaymentMethod),
            )
            .chain(r.subscriptions.into_iter().map(BillingRecord::Subscription))
            .chain(r.invoices.into_iter().map(BillingRecord::Invoice))
            .chain(r.charges.into_iter().map(BillingRecord::Charge))
            .chain(r.refunds.into_iter().map(BillingRecord::Refund))
            .collect()
    }

    /// The rule the incremental pass stands on: a customer's share computed from only
    /// the records its share lists is the share a build of the whole tenant gives.
    #[test]
    fn a_share_computed_from_its_own_records_is_the_one_a_full_build_gives() {
        let records = demo(60);
        let full = all_shares(&records);
        assert!(full.shares.len() >= 60);
        let by_key: HashMap<(ObjectKind, String), BillingRecord> = owned(&records)
            .into_iter()
            .map(|r| ((r.kind(), r.id().to_owned()), r))
            .collect();
        for share in &full.shares {
            let alone: RecordSet = share
                .records
                .iter()
                .filter_map(|key| by_key.get(key).cloned())
                .collect();
            let again = all_shares(&alone);
            assert_eq!(
                again.shares.len(),
                1,
                "{}: one customer, one share",
                share.id
            );
            assert_eq!(&again.shares[0], share, "{}", share.id);
            assert!(again.unowned.is_empty());
        }
    }

    #[test]
    fn shares_in_parts_assemble_to_the_tenants_facts_and_rows() {
        let records = demo(80);
        let full = all_shares(&records);
        let mut decoded = Vec::new();
        let cut = parts(&full.shares);
        assert!(
            cut.len() > 3,
            "about one part per {CUSTOMERS_PER_PART} customers"
        );
        for (_, bytes) in &cut {
            decoded.extend(decode_part(bytes).unwrap());
        }
        assert_eq!(decoded, full.shares, "parts decode to the shares they hold");
        let head = Head {
            built_at: DateTime::from_timestamp(NOW, 0).unwrap(),
            unowned: full.unowned.clone(),
        };
        let assembled = assemble(head, &decoded).unwrap();
        assembled.facts.check().unwrap();
        let mut facts =
            facts_from_records(&[records.for_integration("int_1")], &MrrPolicy::default());
        facts.sort();
        assert_eq!(assembled.facts.customers.len(), facts.customers.len());
        assert_eq!(assembled.facts.changes.len(), facts.changes.len());
        assert_eq!(assembled.facts.payments.len(), facts.payments.len());
        assert_eq!(assembled.facts.subscribers.len(), facts.subscribers.len());
        let mut codes = facts.currencies.clone();
        codes.sort();
        assert_eq!(assembled.facts.currencies, codes, "tables in code order");
        assert_eq!(assembled.rows.len(), full.profiles.len());
        assert_eq!(assembled.rfm.len(), full.profiles.len());
    }

    #[test]
    fn changing_one_customer_changes_only_its_own_run_of_parts() {
        let full = all_shares(&demo(200)).shares;
        let before = parts(&full);
        let old: HashSet<&Vec<u8>> = before.iter().map(|(_, b)| b).collect();

        let mut changed = full.clone();
        let target = changed.len() / 2;
        if let Some(row) = changed[target].row.as_mut() {
            row.mrr += 1;
        }
        let after = parts(&changed);
        let new_parts: Vec<_> = after.iter().filter(|(_, b)| !old.contains(b)).collect();
        assert_eq!(new_parts.len(), 1, "one part differs");
        let holds = decode_part(&new_parts[0].1).unwrap();
        assert!(holds.iter().any(|s| s.id == changed[target].id));

        // A customer fewer also changes one run only.
        let mut fewer = full.clone();
        fewer.remove(target);
        let differing = parts(&fewer)
            .iter()
            .filter(|(_, b)| !old.contains(b))
            .count();
        assert!(differing <= 1, "{differing} parts differ");
    }

    #[test]
    fn a_share_naming_a_code_it_does_not_list_is_an_error_not_a_panic() {
        let mut shares = all_shares(&demo(5)).shares;
        let with_changes = shares.iter_mut().find(|s| !s.changes.is_empty()).unwrap();
        with_changes.plans.clear();
        let head = Head {
            built_at: DateTime::from_timestamp(NOW, 0).unwrap(),
            unowned: Vec::new(),
        };
        assert!(matches!(
            assemble(head, &shares),
            Err(LayoutError::UnknownCode)
        ));
    }
}
