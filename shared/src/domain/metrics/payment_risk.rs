//! Payment-failure risk: a card that expires before the next renewal.

use serde::{Deserialize, Serialize};

use crate::domain::billing::{CardFacts, ChargeRecord, SubscriptionRecord};

use super::calendar::{day_of_civil, day_start};
use super::customers::timelines_of;
use super::history::current_period_end;
use super::money::Mrr;
use super::policy::MrrPolicy;
use super::records::{BillingData, RecordIndex};

/// A card's expiry: valid through the end of `month`/`year`; `expires_at` is the first
/// second after (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardExpiry {
    pub month: u32,
    pub year: u32,
    pub expires_at: i64,
}

fn expiry(card: &CardFacts) -> Option<CardExpiry> {
    let (month, year) = (card.exp_month?, card.exp_year?);
    if !(1..=12).contains(&month) {
        return None;
    }
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    Some(CardExpiry {
        month,
        year,
        expires_at: day_start(day_of_civil(i64::from(next_year), next_month, 1)),
    })
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentFailureRisk {
    pub customer: String,
    /// The subscriptions that renew after the card expires.
    pub subscriptions: Vec<String>,
    /// The earliest of their renewals.
    pub renews_at: i64,
    pub card_expires: CardExpiry,
    pub card_brand: Option<String>,
    pub currency: String,
    /// Their MRR now.
    pub mrr_at_risk: Mrr,
}

fn succeeded(charge: &ChargeRecord) -> bool {
    charge.status == "succeeded"
}

/// Customers whose card on file (default payment method, else the last succeeded
/// charge's card) expires before a counted subscription renews, unless a succeeded
/// charge later than the last one on that card used a card valid at the renewal.
pub fn payment_failure_risks(
    data: &BillingData<'_>,
    policy: &MrrPolicy,
    as_of: i64,
) -> Vec<PaymentFailureRisk> {
    let index = RecordIndex::new(*data);
    let mut risks = Vec::new();
    for customer in &index.customer_ids {
        let charges = index.charges_of(customer);
        let on_file = index.payment_method_on_file(customer);
        let (card, reference_time) = match on_file.and_then(|pm| pm.card.as_ref()) {
            Some(card) => (Some(card), on_file.map_or(i64::MIN, |pm| pm.created)),
            None => {
                let last = charges
                    .iter()
                    .rev()
                    .find(|c| succeeded(c) && c.card.is_some());
                (
                    last.and_then(|c| c.card.as_ref()),
                    last.map_or(i64::MIN, |c| c.created),
                )
            }
        };
        let Some((card, expires)) = card.and_then(|card| expiry(card).map(|e| (card, e))) else {
            continue;
        };
        let last_on_card = charges
            .iter()
            .filter(|c| succeeded(c) && c.card.as_ref().and_then(expiry) == Some(expires))
            .map(|c| c.created)
            .max()
            .unwrap_or(reference_time);
        let replaced_by = |charge: &&&ChargeRecord| {
            succeeded(charge)
                && charge.created > last_on_card
                && charge
                    .card
                    .as_ref()
                    .and_then(expiry)
                    .is_some_and(|e| e != expires)
        };
        let replacement_expiry = charges
            .iter()
            .filter(replaced_by)
            .filter_map(|c| c.card.as_ref().and_then(expiry))
            .map(|e| e.expires_at)
            .max();
        let mut at_risk: Vec<(&SubscriptionRecord, i64, Mrr, String)> = Vec::new();
        for (sub, timeline) in timelines_of(&index, customer, policy) {
            let renews =
                policy.counts(sub.status) && !sub.cancel_at_period_end && sub.cancel_at.is_none();
            let Some(renews_at) = current_period_end(sub, &[]).filter(|at| *at > as_of && renews)
            else {
                continue;
            };
            let replaced = replacement_expiry.is_some_and(|valid_until| valid_until > renews_at);
            let mrr = timeline.mrr_at(as_of);
            if renews_at >= expires.expires_at && !replaced && mrr.is_positive() {
                at_risk.push((sub, renews_at, mrr, timeline.currency.clone()));
            }
        }
        let Some(first) = at_risk.iter().map(|(_, at, _, _)| *at).min() else {
            continue;
        };
        risks.push(PaymentFailureRisk {
            customer: (*customer).to_owned(),
            subscriptions: at_risk.iter().map(|(sub, ..)| sub.id.clone()).collect(),
            renews_at: first,
            card_expires: expires,
            card_brand: card.brand.clone(),
            currency: at_risk.first().map(|(.., c)| c.clone()).unwrap_or_default(),
            mrr_at_risk: at_risk.iter().map(|(_, _, mrr, _)| *mrr).sum(),
        });
    }
    risks
}
