//! The compact facts every series is computed from, built once from billing records.
//!
//! Storage keeps these per tenant (sealed chunks), so a query never reads raw records:
//! * [`MrrChange`]: a (customer, currency, plan) slice of MRR taking a new value at the
//!   end of a UTC day — only days where the end-of-day value differs are kept, so
//!   changes within a day have already netted out. Values, not deltas: conversion to a
//!   reporting currency is then applied to values and movements stay exact;
//! * [`PaymentFact`]: succeeded and failed charges, refunds;
//! * [`TrialFact`]: ended trials and whether they converted;
//! * [`CustomerFacts`]: each customer's dimensions.
//!
//! `changes` are sorted by (customer, day, currency, plan): the engine walks each
//! customer's changes in one pass, across its currencies, never the calendar.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::MetricsError;
use super::dimensions::CustomerDims;
use super::money::Mrr;

/// The customer index of payments that name no customer.
pub const NO_CUSTOMER: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MrrChange {
    /// Index into [`Facts::customers`].
    pub customer: u32,
    /// UTC day (days since 1970-01-01) at whose end the value holds.
    pub at_day: u32,
    /// Index into [`Facts::plans`].
    pub plan: u32,
    /// Index into [`Facts::currencies`].
    pub currency: u16,
    /// The slice's MRR from the end of `at_day` on.
    pub value: Mrr,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerFacts {
    /// The processor's customer id.
    pub id: String,
    pub dims: CustomerDims,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentKind {
    Succeeded,
    Failed,
    Refund,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentFact {
    /// Index into [`Facts::customers`], or [`NO_CUSTOMER`].
    pub customer: u32,
    pub at_day: u32,
    pub currency: u16,
    pub kind: PaymentKind,
    /// Minor units.
    pub amount: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialFact {
    pub customer: u32,
    pub currency: u16,
    /// The day the trial ended (its end, or a cancellation during it).
    pub ended_day: u32,
    /// Whether the subscription had MRR after the trial.
    pub converted: bool,
}

/// A customer subscribed in one currency — a subscription in a counted state, whatever
/// its MRR (metered-only subscribers have none) — at the end of each UTC day from
/// `from_day` until the day before `to_day` (`None`: still subscribed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriberSpan {
    pub customer: u32,
    pub currency: u16,
    pub from_day: u32,
    pub to_day: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// Lower-case ISO 4217 codes.
    pub currencies: Vec<String>,
    pub plans: Vec<String>,
    pub customers: Vec<CustomerFacts>,
    pub changes: Vec<MrrChange>,
    pub payments: Vec<PaymentFact>,
    pub trials: Vec<TrialFact>,
    /// Sorted by customer.
    pub subscribers: Vec<SubscriberSpan>,
}

impl Facts {
    /// Sorts `changes` into the order the engine walks (after merging chunks).
    pub fn sort(&mut self) {
        self.subscribers
            .sort_unstable_by_key(|s| (s.customer, s.currency, s.from_day));
        self.changes
            .sort_unstable_by_key(|c| (c.customer, c.at_day, c.currency, c.plan));
    }

    /// Checks indices and order: facts read back from storage are checked once so the
    /// engine can rely on them (it still never indexes out of bounds).
    pub fn check(&self) -> Result<(), MetricsError> {
        let customers = self.customers.len();
        let currency_ok = |currency: u16| usize::from(currency) < self.currencies.len();
        let customer_ok =
            |customer: u32| customer == NO_CUSTOMER || (customer as usize) < customers;
        let changes_ok = self.changes.iter().all(|c| {
            (c.customer as usize) < customers
                && currency_ok(c.currency)
                && (c.plan as usize) < self.plans.len()
        });
        let sorted = self.changes.windows(2).all(|pair| {
            let key = |c: &MrrChange| (c.customer, c.at_day, c.currency, c.plan);
            key(&pair[0]) <= key(&pair[1])
        });
        let payments_ok = self
            .payments
            .iter()
            .all(|p| customer_ok(p.customer) && currency_ok(p.currency));
        let trials_ok = self
            .trials
            .iter()
            .all(|t| customer_ok(t.customer) && currency_ok(t.currency));
        let subscribers_ok = self
            .subscribers
            .iter()
            .all(|s| (s.customer as usize) < customers && currency_ok(s.currency));
        match (
            changes_ok && payments_ok && trials_ok && subscribers_ok,
            sorted,
        ) {
            (false, _) => Err(MetricsError::InvalidFacts("an index is out of range")),
            (_, false) => Err(MetricsError::InvalidFacts("changes are not sorted")),
            _ => Ok(()),
        }
    }

    /// Each currency's own MRR at the end of `day` (indexed like `currencies`), summed
    /// over the (customer, currency, plan) slices whose changes `keep` admits.
    pub fn native_mrr_by_currency(&self, day: u32, keep: impl Fn(&MrrChange) -> bool) -> Vec<Mrr> {
        // Changes are in day order per customer: the last one seen is the latest.
        let mut latest: HashMap<(u32, u16, u32), Mrr> = HashMap::new();
        for change in self.changes.iter().filter(|c| c.at_day <= day && keep(c)) {
            latest.insert(
                (change.customer, change.currency, change.plan),
                change.value,
            );
        }
        let mut out = vec![Mrr::ZERO; self.currencies.len()];
        for ((_, currency, _), value) in latest {
            if let Some(slot) = out.get_mut(usize::from(currency)) {
                *slot += value;
            }
        }
        out
    }

    pub fn currency_index(&self, code: &str) -> Option<u16> {
        let index = self
            .currencies
            .iter()
            .position(|c| c.eq_ignore_ascii_case(code))?;
        u16::try_from(index).ok()
    }
}
