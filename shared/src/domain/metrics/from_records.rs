//! Building [`Facts`] from billing records: once per sync, not per query.
//!
//! Each subscription becomes a per-plan MRR timeline; a customer's timelines are summed
//! per currency (events at the same instant combined) and read at the end of each UTC
//! day, keeping only days whose end value differs from the previous one.

use std::collections::{BTreeMap, HashMap};

use crate::domain::billing::{ChargeRecord, SubscriptionRecord};

use super::calendar::day_of;
use super::facts::{
    CustomerFacts, Facts, MrrChange, NO_CUSTOMER, PaymentFact, PaymentKind, SubscriberSpan,
    TrialFact,
};
use super::money::Mrr;
use super::policy::MrrPolicy;
use super::records::{BillingData, RecordIndex, refund_counts};
use super::timeline::{SubscriptionTimeline, subscription_timeline};
use super::trials::trial_outcome;

/// Builds the facts of a tenant from the records of each of its integrations.
///
/// Two phases: each customer's dimensions and subscription timelines (the costly,
/// independent part) on every core, then their facts appended in customer order on
/// one thread, which interns currencies and plans. The result does not depend on the
/// number of threads.
pub fn facts_from_records(sources: &[BillingData<'_>], policy: &MrrPolicy) -> Facts {
    use rayon::prelude::*;

    let mut builder = Builder::default();
    for data in sources {
        let index = RecordIndex::new(*data);
        let customers: Vec<(CustomerFacts, Vec<SubscriptionTimeline>)> = index
            .customer_ids
            .par_iter()
            .map(|customer_id| {
                let timelines = index
                    .subscriptions_of(customer_id)
                    .iter()
                    .map(|sub| {
                        let invoices = index.invoices_of(&sub.id);
                        subscription_timeline(sub, invoices, index.discount_of(customer_id), policy)
                    })
                    .collect();
                let facts = CustomerFacts {
                    id: (*customer_id).to_owned(),
                    dims: index.dims_of(customer_id),
                };
                (facts, timelines)
            })
            .collect();
        for (facts, timelines) in customers {
            let Ok(customer) = u32::try_from(builder.facts.customers.len()) else {
                break;
            };
            let customer_id = facts.id.clone();
            builder.facts.customers.push(facts);
            builder.add_changes(customer, &timelines);
            builder.add_subscribers(customer, &timelines);
            builder.add_trials(
                customer,
                index.subscriptions_of(&customer_id),
                &timelines,
                &index,
            );
            builder.add_payments(customer, index.charges_of(&customer_id), &index);
        }
        builder.add_payments(NO_CUSTOMER, &index.charges_without_customer, &index);
    }
    builder.facts.sort();
    builder.facts
}

#[derive(Default)]
struct Builder {
    facts: Facts,
    currency_index: HashMap<String, u16>,
    plan_index: HashMap<String, u32>,
}

impl Builder {
    fn currency(&mut self, code: &str) -> Option<u16> {
        let code = code.to_ascii_lowercase();
        if let Some(index) = self.currency_index.get(&code) {
            return Some(*index);
        }
        let index = u16::try_from(self.facts.currencies.len()).ok()?;
        self.facts.currencies.push(code.clone());
        self.currency_index.insert(code, index);
        Some(index)
    }

    fn plan(&mut self, name: &str) -> Option<u32> {
        if let Some(index) = self.plan_index.get(name) {
            return Some(*index);
        }
        let index = u32::try_from(self.facts.plans.len()).ok()?;
        self.facts.plans.push(name.to_owned());
        self.plan_index.insert(name.to_owned(), index);
        Some(index)
    }

    /// The customer's end-of-day MRR per (currency, plan), summed over subscriptions.
    fn add_changes(&mut self, customer: u32, timelines: &[SubscriptionTimeline]) {
        let mut by_currency: BTreeMap<&str, Vec<&SubscriptionTimeline>> = BTreeMap::new();
        for timeline in timelines {
            by_currency
                .entry(&timeline.currency)
                .or_default()
                .push(timeline);
        }
        for (code, members) in by_currency {
            let Some(currency) = self.currency(code) else {
                continue;
            };
            let plan_ids: Vec<Vec<Option<u32>>> = members
                .iter()
                .map(|t| t.plans.iter().map(|name| self.plan(name)).collect())
                .collect();
            let mut events: Vec<(i64, usize, usize)> = members
                .iter()
                .enumerate()
                .flat_map(|(m, t)| {
                    t.segments
                        .iter()
                        .enumerate()
                        .map(move |(s, seg)| (seg.from, m, s))
                })
                .collect();
            events.sort_unstable();
            let mut current: Vec<Vec<Mrr>> = members
                .iter()
                .map(|t| vec![Mrr::ZERO; t.plans.len()])
                .collect();
            let mut totals: BTreeMap<u32, Mrr> = BTreeMap::new();
            let mut emitted: BTreeMap<u32, Mrr> = BTreeMap::new();
            let mut next = 0;
            while let Some(&(first_at, _, _)) = events.get(next) {
                let day = day_of(first_at);
                while let Some(&(at, member, segment)) = events.get(next) {
                    if day_of(at) != day {
                        break;
                    }
                    next += 1;
                    let (Some(values), Some(state), Some(ids)) = (
                        members.get(member).and_then(|t| t.segments.get(segment)),
                        current.get_mut(member),
                        plan_ids.get(member),
                    ) else {
                        continue;
                    };
                    for ((value, old), id) in values.by_plan.iter().zip(state.iter_mut()).zip(ids) {
                        if let Some(plan) = id {
                            let total = totals.entry(*plan).or_default();
                            *total = *total + *value - *old;
                        }
                        *old = *value;
                    }
                }
                for (plan, total) in &totals {
                    if emitted.get(plan).copied().unwrap_or_default() != *total {
                        emitted.insert(*plan, *total);
                        self.facts.changes.push(MrrChange {
                            customer,
                            at_day: day,
                            plan: *plan,
                            currency,
                            value: *total,
                        });
                    }
                }
            }
        }
    }

    /// The days the customer is subscribed, per currency: the union of its
    /// subscriptions' counted spans, read at the end of each day.
    fn add_subscribers(&mut self, customer: u32, timelines: &[SubscriptionTimeline]) {
        let mut by_currency: BTreeMap<&str, Vec<(u32, Option<u32>)>> = BTreeMap::new();
        for timeline in timelines {
            let days = by_currency.entry(&timeline.currency).or_default();
            for (from, to) in &timeline.counted {
                let from_day = day_of(*from);
                let to_day = to.map(day_of);
                if to_day.is_none_or(|to| to > from_day) {
                    days.push((from_day, to_day));
                }
            }
        }
        for (code, mut days) in by_currency {
            let Some(currency) = self.currency(code) else {
                continue;
            };
            days.sort_unstable_by_key(|(from, _)| *from);
            let mut merged: Vec<(u32, Option<u32>)> = Vec::with_capacity(days.len());
            for (from, to) in days {
                match merged.last_mut() {
                    Some(last) if last.1.is_none_or(|end| from <= end) => {
                        last.1 = last.1.zip(to).map(|(a, b)| a.max(b));
                    }
                    _ => merged.push((from, to)),
                }
            }
            self.facts
                .subscribers
                .extend(merged.into_iter().map(|(from_day, to_day)| SubscriberSpan {
                    customer,
                    currency,
                    from_day,
                    to_day,
                }));
        }
    }

    /// Ended trials, converted once the first invoice after the trial is paid
    /// ([`trial_outcome`]); undecided ones wait.
    fn add_trials(
        &mut self,
        customer: u32,
        subscriptions: &[&SubscriptionRecord],
        timelines: &[SubscriptionTimeline],
        index: &RecordIndex<'_>,
    ) {
        for (sub, timeline) in subscriptions.iter().zip(timelines) {
            let invoices = index.invoices_of(&sub.id);
            let had_trial = sub
                .trial_end
                .is_some_and(|end| sub.trial_start.is_none_or(|start| start < end));
            let Some(outcome) = had_trial.then(|| trial_outcome(sub, invoices)).flatten() else {
                continue;
            };
            let Some(currency) = self.currency(&timeline.currency) else {
                continue;
            };
            self.facts.trials.push(TrialFact {
                customer,
                currency,
                ended_day: day_of(outcome.at),
                converted: outcome.converted,
            });
        }
    }

    /// Succeeded and failed charges, and refunds (by their records; by the charge's
    /// `amount_refunded`, dated at the charge, when no records were synced).
    fn add_payments(&mut self, customer: u32, charges: &[&ChargeRecord], index: &RecordIndex<'_>) {
        for charge in charges {
            let Some(currency) = self.currency(&charge.currency) else {
                continue;
            };
            let kind = match charge.status.as_str() {
                "succeeded" => PaymentKind::Succeeded,
                "failed" => PaymentKind::Failed,
                _ => continue,
            };
            let fact = |at: i64, currency: u16, kind: PaymentKind, amount: i64| PaymentFact {
                customer,
                at_day: day_of(at),
                currency,
                kind,
                amount,
            };
            self.facts
                .payments
                .push(fact(charge.created, currency, kind, charge.amount));
            if kind != PaymentKind::Succeeded {
                continue;
            }
            let refunds: Vec<_> = index
                .refunds_of(&charge.id)
                .iter()
                .filter(|refund| refund_counts(refund))
                .collect();
            if refunds.is_empty() && charge.amount_refunded > 0 {
                let refund = fact(
                    charge.created,
                    currency,
                    PaymentKind::Refund,
                    charge.amount_refunded,
                );
                self.facts.payments.push(refund);
            }
            for refund in refunds {
                let Some(refund_currency) = self.currency(&refund.currency) else {
                    continue;
                };
                let refund = fact(
                    refund.created,
                    refund_currency,
                    PaymentKind::Refund,
                    refund.amount,
                );
                self.facts.payments.push(refund);
            }
        }
    }
}
