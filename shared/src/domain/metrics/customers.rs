//! Customer profiles: MRR now, lifetime revenue, first and last payment, dimensions,
//! subscriptions and payments. Payments carry no card detail beyond brand, funding and
//! expiry (docs/design.md §4, data minimization).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::billing::{SubscriptionRecord, SubscriptionStatus};

use super::churn_risk::ChurnRiskFactor;
use super::dimensions::CustomerDims;
use super::history::current_period_end;
use super::money::Mrr;
use super::policy::MrrPolicy;
use super::records::{BillingData, RecordIndex, refunded_amount};
use super::timeline::{SubscriptionTimeline, subscription_timeline};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionSummary {
    pub id: String,
    pub status: SubscriptionStatus,
    pub currency: String,
    /// Plans with MRR now.
    pub plans: Vec<String>,
    pub mrr: Mrr,
    pub created: i64,
    pub current_period_end: Option<i64>,
    pub cancel_at_period_end: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSummary {
    pub id: String,
    pub amount: i64,
    pub amount_refunded: i64,
    pub currency: String,
    /// succeeded, pending, failed.
    pub status: String,
    pub at: i64,
    pub card_brand: Option<String>,
    pub card_funding: Option<String>,
    pub card_exp_month: Option<u32>,
    pub card_exp_year: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerProfile {
    pub id: String,
    pub email: Option<String>,
    pub created: Option<i64>,
    /// The currency with the most MRR (else the most revenue, else the latest
    /// subscription's); `mrr` and `lifetime_revenue` are in it.
    pub currency: Option<String>,
    pub mrr: Mrr,
    /// Succeeded charges minus their refunds, minor units.
    pub lifetime_revenue: i64,
    pub mrr_by_currency: BTreeMap<String, Mrr>,
    pub lifetime_revenue_by_currency: BTreeMap<String, i64>,
    pub successful_payments: u64,
    pub first_payment_at: Option<i64>,
    pub last_payment_at: Option<i64>,
    /// Plans with MRR now.
    pub plans: Vec<String>,
    pub dims: CustomerDims,
    pub subscriptions: Vec<SubscriptionSummary>,
    /// Newest first.
    pub payments: Vec<PaymentSummary>,
    /// The churn-risk score's factors, every one of the model (those adding 0 too), as
    /// of the same rebuild; empty for a customer with no subscription, and in profiles
    /// stored before they were kept (until the next full rebuild rewrites them).
    #[serde(default)]
    pub churn_factors: Vec<ChurnRiskFactor>,
}

/// A customer's subscriptions with their timelines.
pub(crate) fn timelines_of<'a>(
    index: &RecordIndex<'a>,
    customer: &str,
    policy: &MrrPolicy,
) -> Vec<(&'a SubscriptionRecord, SubscriptionTimeline)> {
    index
        .subscriptions_of(customer)
        .iter()
        .map(|sub| {
            (
                *sub,
                subscription_timeline(
                    sub,
                    index.invoices_of(&sub.id),
                    index.discount_of(customer),
                    policy,
                ),
            )
        })
        .collect()
}

/// Plans with MRR at `at`.
fn plans_at(timeline: &SubscriptionTimeline, at: i64) -> Vec<String> {
    let Some(segment) = timeline.segment_at(at) else {
        return Vec::new();
    };
    timeline
        .plans
        .iter()
        .zip(&segment.by_plan)
        .filter(|(_, mrr)| mrr.is_positive())
        .map(|(plan, _)| plan.clone())
        .collect()
}

/// The profile of every customer of an integration, as of `as_of` (Unix seconds), with
/// no churn factors (the snapshot build adds those of
/// [`churn_risks`](super::churn_risks), computed from the same records).
pub fn customer_profiles(
    data: &BillingData<'_>,
    policy: &MrrPolicy,
    as_of: i64,
) -> Vec<CustomerProfile> {
    let index = RecordIndex::new(*data);
    index
        .customer_ids
        .iter()
        .map(|customer| profile(&index, customer, policy, as_of))
        .collect()
}

fn profile(
    index: &RecordIndex<'_>,
    customer: &str,
    policy: &MrrPolicy,
    as_of: i64,
) -> CustomerProfile {
    let record = index.customers.get(customer);
    let mut mrr_by_currency: BTreeMap<String, Mrr> = BTreeMap::new();
    let mut plans: Vec<String> = Vec::new();
    let mut subscriptions = Vec::new();
    let timelines = timelines_of(index, customer, policy);
    for (sub, timeline) in &timelines {
        let mrr = timeline.mrr_at(as_of);
        *mrr_by_currency
            .entry(timeline.currency.clone())
            .or_default() += mrr;
        let sub_plans = plans_at(timeline, as_of);
        for plan in &sub_plans {
            if !plans.contains(plan) {
                plans.push(plan.clone());
            }
        }
        subscriptions.push(SubscriptionSummary {
            id: sub.id.clone(),
            status: sub.status,
            currency: timeline.currency.clone(),
            plans: sub_plans,
            mrr,
            created: sub.created,
            current_period_end: current_period_end(sub, &[]),
            cancel_at_period_end: sub.cancel_at_period_end,
        });
    }
    let mut revenue: BTreeMap<String, i64> = BTreeMap::new();
    let mut payments = Vec::new();
    let mut paid_at: Vec<i64> = Vec::new();
    for charge in index.charges_of(customer) {
        let refunded = refunded_amount(charge, index.refunds_of(&charge.id));
        if charge.status == "succeeded" {
            *revenue
                .entry(charge.currency.to_ascii_lowercase())
                .or_default() += charge.amount - refunded;
            paid_at.push(charge.created);
        }
        let card = charge.card.as_ref();
        payments.push(PaymentSummary {
            id: charge.id.clone(),
            amount: charge.amount,
            amount_refunded: refunded,
            currency: charge.currency.to_ascii_lowercase(),
            status: charge.status.clone(),
            at: charge.created,
            card_brand: card.and_then(|c| c.brand.clone()),
            card_funding: card.and_then(|c| c.funding.clone()),
            card_exp_month: card.and_then(|c| c.exp_month),
            card_exp_year: card.and_then(|c| c.exp_year),
        });
    }
    payments.reverse();
    let currency = primary_currency(&mrr_by_currency, &revenue, &timelines);
    CustomerProfile {
        id: customer.to_owned(),
        email: record.and_then(|r| r.email.clone()),
        created: record.map(|r| r.created),
        mrr: currency
            .as_ref()
            .and_then(|c| mrr_by_currency.get(c))
            .copied()
            .unwrap_or_default(),
        lifetime_revenue: currency
            .as_ref()
            .and_then(|c| revenue.get(c))
            .copied()
            .unwrap_or_default(),
        currency,
        mrr_by_currency,
        lifetime_revenue_by_currency: revenue,
        successful_payments: paid_at.len() as u64,
        first_payment_at: paid_at.iter().min().copied(),
        last_payment_at: paid_at.iter().max().copied(),
        plans,
        dims: index.dims_of(customer),
        subscriptions,
        payments,
        churn_factors: Vec::new(),
    }
}

fn primary_currency(
    mrr: &BTreeMap<String, Mrr>,
    revenue: &BTreeMap<String, i64>,
    timelines: &[(&SubscriptionRecord, SubscriptionTimeline)],
) -> Option<String> {
    let by_mrr = mrr
        .iter()
        .filter(|(_, value)| value.is_positive())
        .max_by_key(|(_, value)| **value)
        .map(|(code, _)| code.clone());
    let by_revenue = || {
        revenue
            .iter()
            .filter(|(_, value)| **value > 0)
            .max_by_key(|(_, value)| **value)
            .map(|(code, _)| code.clone())
    };
    let by_latest = || {
        timelines
            .iter()
            .max_by_key(|(sub, _)| sub.created)
            .map(|(_, timeline)| timeline.currency.clone())
    };
    by_mrr.or_else(by_revenue).or_else(by_latest)
}
