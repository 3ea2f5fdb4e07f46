//! The snapshot as it is stored: one share per customer, shares grouped into parts
//! whose boundaries depend only on the customers in them, and a head with what is
//! tenant-wide (docs/design.md §6).
//!
//! A pass that changed k customers changes the shares of those k customers (and of
//! the few whose RFM score moved with them). Parts are cut after each customer whose
//! key hashes to a boundary (one in [`CUSTOMERS_PER_PART`] on average), so a changed,
//! added or removed customer changes the bytes of its own part only; every other part
//! encodes to the same bytes as before. Stored under an id derived from their bytes,
//! the unchanged parts are neither written nor deleted again: a pass writes O(k)
//! parts, the head and the manifest (the list of part ids), never the whole snapshot.
//!
//! Everything here is pure: [`split`] turns a built snapshot into its head and shares,
//! [`parts`] groups shares into parts, [`assemble`] turns them back into the snapshot
//! the queries read. A snapshot assembled from parts of several passes is the one a
//! single full build would give, since a part's bytes are a function of its
//! customers' shares alone.

use std::collections::HashMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::domain::metrics::{
    CustomerDims, CustomerFacts, CustomerProfile, Facts, MrrChange, NO_CUSTOMER, PaymentFact,
    PaymentFailureRisk, SegmentSummary, SubscriberSpan, TrialFact,
};
use crate::services::analytics::{CustomerRow, Snapshot};
use crate::services::customer_order::CustomerOrder;

/// Customers per part on average: small parts keep what a changed customer rewrites
/// small (a part is ~6 KB at the demo's ~700 bytes per customer).
pub const CUSTOMERS_PER_PART: u64 = 8;
/// A part is cut after this many encoded bytes whatever its boundaries (customers with
/// long histories); DynamoDB items are capped at 400 KB.
pub const MAX_PART_BYTES: usize = 128 * 1024;

/// What is tenant-wide: rewritten by every pass, with the list of parts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Head {
    pub built_at: chrono::DateTime<chrono::Utc>,
    pub reporting_currency: String,
    /// The facts' currency and plan tables, in the built snapshot's order.
    pub currencies: Vec<String>,
    pub plans: Vec<String>,
    pub segments: Vec<SegmentSummary>,
    pub payment_failure_risks: Vec<PaymentFailureRisk>,
    /// Payments and trials that name no customer (indices into `currencies`).
    pub unowned_payments: Vec<PaymentFact>,
    pub unowned_trials: Vec<TrialFact>,
}

/// One customer of one integration: its row, its facts (currencies and plans by
/// code, so that a new plan elsewhere does not change this customer's bytes) and the
/// digest of its stored profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub integration: String,
    pub id: String,
    pub row: Option<CustomerRow>,
    /// Present when the customer is in the facts.
    pub dims: Option<CustomerDims>,
    pub currencies: Vec<String>,
    pub plans: Vec<String>,
    /// `customer` is 0; `currency` and `plan` index this share's tables.
    pub changes: Vec<MrrChange>,
    pub payments: Vec<PaymentFact>,
    pub trials: Vec<TrialFact>,
    pub subscribers: Vec<SubscriberSpan>,
    /// A digest of the customer's profile (`None`: it has none).
    pub profile: Option<u64>,
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
        }
    }

    fn key(&self) -> (&str, &str) {
        (&self.integration, &self.id)
    }
}

/// Why stored parts do not make a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("a share names a currency or plan the head does not list")]
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

/// The built snapshot as its head and one share per customer, sorted by integration
/// and customer id. `profiles` are the customers' profiles by integration id.
pub fn split(
    snapshot: &Snapshot,
    profiles: &[(String, CustomerProfile)],
) -> Result<(Head, Vec<Share>), LayoutError> {
    let facts = &snapshot.facts;
    let mut shares: HashMap<(String, String), Share> = HashMap::new();
    // Facts customers by index, to their share's key.
    let mut keys: Vec<(String, String)> = Vec::with_capacity(facts.customers.len());
    for customer in &facts.customers {
        let integration = customer.dims.integration.as_deref().unwrap_or_default();
        let (key, share) = entry(&mut shares, integration, &customer.id);
        share.dims = Some(customer.dims.clone());
        keys.push(key);
    }
    for row in &snapshot.customers {
        entry(&mut shares, &row.integration, &row.id).1.row = Some(row.clone());
    }
    for (integration, profile) in profiles {
        entry(&mut shares, integration, &profile.id).1.profile = Some(profile_digest(profile));
    }
    // Changes, payments, trials and subscribers move to their customer's share, with
    // their codes re-indexed into the share's own tables.
    let mut unowned_payments = Vec::new();
    let mut unowned_trials = Vec::new();
    for change in &facts.changes {
        let share = owner(&mut shares, &keys, change.customer)?;
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
        if payment.customer == NO_CUSTOMER {
            unowned_payments.push(*payment);
            continue;
        }
        let share = owner(&mut shares, &keys, payment.customer)?;
        let currency = local_currency(share, &facts.currencies, payment.currency)?;
        share.payments.push(PaymentFact {
            customer: 0,
            currency,
            ..*payment
        });
    }
    for trial in &facts.trials {
        if trial.customer == NO_CUSTOMER {
            unowned_trials.push(*trial);
            continue;
        }
        let share = owner(&mut shares, &keys, trial.customer)?;
        let currency = local_currency(share, &facts.currencies, trial.currency)?;
        share.trials.push(TrialFact {
            customer: 0,
            currency,
            ..*trial
        });
    }
    for span in &facts.subscribers {
        let share = owner(&mut shares, &keys, span.customer)?;
        let currency = local_currency(share, &facts.currencies, span.currency)?;
        share.subscribers.push(SubscriberSpan {
            customer: 0,
            currency,
            ..*span
        });
    }
    let mut shares: Vec<Share> = shares.into_values().collect();
    shares.sort_by(|a, b| a.key().cmp(&b.key()));
    let head = Head {
        built_at: snapshot.built_at,
        reporting_currency: snapshot.reporting_currency.clone(),
        currencies: facts.currencies.clone(),
        plans: facts.plans.clone(),
        segments: snapshot.segments.clone(),
        payment_failure_risks: snapshot.payment_failure_risks.clone(),
        unowned_payments,
        unowned_trials,
    };
    Ok((head, shares))
}

/// The share of (integration, id), created empty if new, with its key.
fn entry<'a>(
    shares: &'a mut HashMap<(String, String), Share>,
    integration: &str,
    id: &str,
) -> ((String, String), &'a mut Share) {
    let key = (integration.to_owned(), id.to_owned());
    let share = shares
        .entry(key.clone())
        .or_insert_with(|| Share::new(integration, id));
    (key, share)
}

fn owner<'a>(
    shares: &'a mut HashMap<(String, String), Share>,
    keys: &[(String, String)],
    customer: u32,
) -> Result<&'a mut Share, LayoutError> {
    keys.get(customer as usize)
        .and_then(|key| shares.get_mut(key))
        .ok_or(LayoutError::UnknownCode)
}

fn local_currency(share: &mut Share, table: &[String], currency: u16) -> Result<u16, LayoutError> {
    let index = local(&mut share.currencies, code(table, currency)?)?;
    u16::try_from(index).map_err(|_| LayoutError::TooLarge)
}

/// Whether a part ends after the customer with this share.
fn is_boundary(share: &Share) -> bool {
    stable_hash(&[share.integration.as_bytes(), share.id.as_bytes()])
        .is_multiple_of(CUSTOMERS_PER_PART)
}

/// The shares (sorted) grouped into parts, each encoded with the range of `shares` it
/// holds: a part ends after a boundary customer, or before the share that would take
/// it past [`MAX_PART_BYTES`].
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
            parts.push((*start..end, part));
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
        if is_boundary(share) {
            close(&mut current, &mut start, &mut bytes);
        }
    }
    close(&mut current, &mut start, &mut bytes);
    parts
}

/// The shares of one stored part.
pub fn decode_part(bytes: &[u8]) -> Option<Vec<Share>> {
    postcard::from_bytes(bytes).ok()
}

/// The snapshot the queries read, from its head and every share (in part order).
pub fn assemble<'a>(
    head: Head,
    shares: impl IntoIterator<Item = &'a Share>,
) -> Result<Snapshot, LayoutError> {
    let global_currency: HashMap<&str, u16> = head
        .currencies
        .iter()
        .enumerate()
        .filter_map(|(i, c)| u16::try_from(i).ok().map(|i| (c.as_str(), i)))
        .collect();
    let global_plan: HashMap<&str, u32> = head
        .plans
        .iter()
        .enumerate()
        .filter_map(|(i, p)| u32::try_from(i).ok().map(|i| (p.as_str(), i)))
        .collect();
    let currency_of = |share: &Share, local: u16| -> Result<u16, LayoutError> {
        global_currency
            .get(code(&share.currencies, local)?)
            .copied()
            .ok_or(LayoutError::UnknownCode)
    };
    let mut facts = Facts {
        currencies: head.currencies.clone(),
        plans: head.plans.clone(),
        ..Facts::default()
    };
    let mut rows = Vec::new();
    for share in shares {
        if let Some(dims) = &share.dims {
            let customer =
                u32::try_from(facts.customers.len()).map_err(|_| LayoutError::TooLarge)?;
            for change in &share.changes {
                let plan = global_plan
                    .get(code(&share.plans, change.plan)?)
                    .copied()
                    .ok_or(LayoutError::UnknownCode)?;
                facts.changes.push(MrrChange {
                    customer,
                    currency: currency_of(share, change.currency)?,
                    plan,
                    ..*change
                });
            }
            for payment in &share.payments {
                let currency = currency_of(share, payment.currency)?;
                facts.payments.push(PaymentFact {
                    customer,
                    currency,
                    ..*payment
                });
            }
            for trial in &share.trials {
                let currency = currency_of(share, trial.currency)?;
                facts.trials.push(TrialFact {
                    customer,
                    currency,
                    ..*trial
                });
            }
            for span in &share.subscribers {
                let currency = currency_of(share, span.currency)?;
                facts.subscribers.push(SubscriberSpan {
                    customer,
                    currency,
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
    }
    facts.payments.extend(head.unowned_payments);
    facts.trials.extend(head.unowned_trials);
    facts.sort();
    Ok(Snapshot {
        built_at: head.built_at,
        reporting_currency: head.reporting_currency,
        facts,
        customers: rows,
        segments: head.segments,
        payment_failure_risks: head.payment_failure_risks,
        order: CustomerOrder::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::metrics::{Mrr, PaymentKind};

    fn row(id: &str) -> CustomerRow {
        CustomerRow {
            id: id.to_owned(),
            integration: "int_1".to_owned(),
            email: None,
            currency: Some("usd".to_owned()),
            mrr: 1000,
            reporting_mrr: 1000,
            lifetime_revenue: 5000,
            loyalty_score: Some("444".to_owned()),
            segment: None,
            payment_failure_risk: false,
            churn_risk: 0,
        }
    }

    /// `n` customers in share order, each with changes in its own plan and currency
    /// `usd` or `eur`, one payment, and one unowned payment.
    fn snapshot(n: u32) -> Snapshot {
        let mut facts = Facts {
            currencies: vec!["eur".to_owned(), "usd".to_owned()],
            ..Facts::default()
        };
        let mut customers = Vec::new();
        for c in 0..n {
            let id = format!("cus_{c:04}");
            facts.plans.push(format!("price_{c}"));
            facts.customers.push(CustomerFacts {
                id: id.clone(),
                dims: CustomerDims {
                    integration: Some("int_1".to_owned()),
                    ..CustomerDims::default()
                },
            });
            for day in [100, 130] {
                facts.changes.push(MrrChange {
                    customer: c,
                    at_day: day + c,
                    plan: c,
                    currency: (c % 2) as u16,
                    value: Mrr::from_minor(i64::from(day + c)),
                });
            }
            facts.payments.push(PaymentFact {
                customer: c,
                at_day: 101,
                currency: (c % 2) as u16,
                kind: PaymentKind::Succeeded,
                amount: 900,
            });
            facts.subscribers.push(SubscriberSpan {
                customer: c,
                currency: (c % 2) as u16,
                from_day: 100,
                to_day: None,
            });
            customers.push(row(&id));
        }
        facts.payments.push(PaymentFact {
            customer: NO_CUSTOMER,
            at_day: 102,
            currency: 1,
            kind: PaymentKind::Succeeded,
            amount: 77,
        });
        facts.sort();
        Snapshot {
            built_at: chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(),
            reporting_currency: "usd".to_owned(),
            facts,
            customers,
            segments: Vec::new(),
            payment_failure_risks: Vec::new(),
            order: CustomerOrder::default(),
        }
    }

    fn round_trip(snapshot: &Snapshot) -> Snapshot {
        let (head, shares) = split(snapshot, &[]).unwrap();
        let mut decoded = Vec::new();
        for (_, bytes) in parts(&shares) {
            decoded.extend(decode_part(&bytes).unwrap());
        }
        assert_eq!(decoded, shares, "parts decode to the shares they hold");
        assemble(head, &decoded).unwrap()
    }

    #[test]
    fn a_snapshot_split_into_parts_assembles_to_the_same_facts_and_rows() {
        let original = snapshot(40);
        let back = round_trip(&original);
        assert_eq!(back.facts, original.facts);
        assert_eq!(back.customers, original.customers);
        assert_eq!(back.built_at, original.built_at);
        back.facts.check().unwrap();
    }

    #[test]
    fn changing_one_customer_changes_only_its_own_part() {
        let shares = |s: &Snapshot| split(s, &[]).unwrap().1;
        let before = parts(&shares(&snapshot(200)));
        assert!(
            before.len() > 10,
            "about one part per {CUSTOMERS_PER_PART} customers"
        );

        let mut changed = snapshot(200);
        if let Some(row) = changed.customers.iter_mut().find(|r| r.id == "cus_0117") {
            row.mrr += 1;
        }
        let after = parts(&shares(&changed));
        let old: std::collections::HashSet<&Vec<u8>> = before.iter().map(|(_, b)| b).collect();
        let new_parts: Vec<_> = after.iter().filter(|(_, b)| !old.contains(b)).collect();
        assert_eq!(new_parts.len(), 1, "one part differs");
        let holds = decode_part(&new_parts[0].1).unwrap();
        assert!(holds.iter().any(|s| s.id == "cus_0117"));

        // A customer more (here: the last one) also changes one part only.
        let grown = parts(&shares(&snapshot(201)));
        let differing = grown.iter().filter(|(_, b)| !old.contains(b)).count();
        assert_eq!(differing, 1);
    }

    #[test]
    fn a_share_unknown_to_the_head_is_an_error_not_a_panic() {
        let (mut head, shares) = split(&snapshot(3), &[]).unwrap();
        head.plans.clear();
        assert!(matches!(
            assemble(head, &shares),
            Err(LayoutError::UnknownCode)
        ));
    }
}
