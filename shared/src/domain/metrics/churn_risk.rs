//! Churn risk: a transparent score from listed factors, returned with the score.

use serde::{Deserialize, Serialize};

use crate::domain::billing::{InvoiceRecord, SubscriptionRecord, UsageType};

use super::calendar::SECONDS_PER_DAY;
use super::customers::timelines_of;
use super::money::Mrr;
use super::policy::MrrPolicy;
use super::records::{BillingData, RecordIndex};
use super::timeline::SubscriptionTimeline;

/// The window of "recent" churn-risk signals.
pub const CHURN_RISK_WINDOW_DAYS: i64 = 90;

/// One factor of the churn-risk score: what was observed and the points it adds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChurnRiskFactor {
    pub name: String,
    pub observed: i64,
    pub points: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChurnRisk {
    pub customer: String,
    /// 0–100: the factors' points, capped.
    pub score: u32,
    /// Every factor of the model, including those that add 0.
    pub factors: Vec<ChurnRiskFactor>,
}

/// `churn_risk.weighted_factors_v1` for every customer with a subscription:
/// * `pending_cancellation` (40): a counted subscription set to cancel;
/// * `failed_payments_90d` (15 each, at most 30): failed charges in the last 90 days;
/// * `downgrade_90d` (20): MRR stepped down (staying above 0) in the last 90 days;
/// * `falling_seats` (10): fewer licensed seats now than invoiced 90 days ago.
pub fn churn_risks(data: &BillingData<'_>, policy: &MrrPolicy, as_of: i64) -> Vec<ChurnRisk> {
    let index = RecordIndex::new(*data);
    let window_start = as_of - CHURN_RISK_WINDOW_DAYS * SECONDS_PER_DAY;
    let mut risks = Vec::new();
    for customer in &index.customer_ids {
        let subscriptions = timelines_of(&index, customer, policy);
        if subscriptions.is_empty() {
            continue;
        }
        let pending = subscriptions.iter().any(|(sub, _)| {
            policy.counts(sub.status) && (sub.cancel_at_period_end || sub.cancel_at.is_some())
        });
        let failed = index
            .charges_of(customer)
            .iter()
            .filter(|c| c.status == "failed" && c.created > window_start && c.created <= as_of)
            .count() as i64;
        let downgraded = downgraded_between(&subscriptions, window_start, as_of);
        let seats_now: u64 = subscriptions
            .iter()
            .filter(|(sub, _)| policy.counts(sub.status))
            .flat_map(|(sub, _)| &sub.items)
            .filter(|item| {
                item.price.usage_type == UsageType::Licensed && item.price.interval.is_some()
            })
            .map(|item| item.quantity)
            .sum();
        let seats_then: u64 = subscriptions
            .iter()
            .map(|(sub, _)| invoiced_seats_at(sub, index.invoices_of(&sub.id), window_start))
            .sum();
        let falling = seats_then > 0 && seats_now < seats_then;
        let factors = vec![
            factor(
                "pending_cancellation",
                i64::from(pending),
                if pending { 40 } else { 0 },
            ),
            factor(
                "failed_payments_90d",
                failed,
                (failed.clamp(0, 2) * 15) as u32,
            ),
            factor(
                "downgrade_90d",
                i64::from(downgraded),
                if downgraded { 20 } else { 0 },
            ),
            factor(
                "falling_seats",
                seats_then as i64 - seats_now as i64,
                if falling { 10 } else { 0 },
            ),
        ];
        risks.push(ChurnRisk {
            customer: (*customer).to_owned(),
            score: factors.iter().map(|f| f.points).sum::<u32>().min(100),
            factors,
        });
    }
    risks
}

fn factor(name: &str, observed: i64, points: u32) -> ChurnRiskFactor {
    ChurnRiskFactor {
        name: name.to_owned(),
        observed,
        points,
    }
}

/// Whether the customer's MRR (per currency) stepped down to a positive value in
/// `(from, to]`.
fn downgraded_between(
    subscriptions: &[(&SubscriptionRecord, SubscriptionTimeline)],
    from: i64,
    to: i64,
) -> bool {
    let mut moments: Vec<(&str, i64)> = subscriptions
        .iter()
        .flat_map(|(_, t)| {
            t.segments
                .iter()
                .map(move |s| (t.currency.as_str(), s.from))
        })
        .filter(|(_, at)| *at > from && *at <= to)
        .collect();
    moments.sort_unstable();
    moments.dedup();
    moments.iter().any(|(currency, at)| {
        let total = |moment: i64| -> Mrr {
            subscriptions
                .iter()
                .filter(|(_, t)| t.currency == *currency)
                .map(|(_, t)| t.mrr_at(moment))
                .sum()
        };
        let (before, after) = (total(at - 1), total(*at));
        after.is_positive() && after < before
    })
}

/// Licensed seats invoiced for the period covering `at` (the latest invoice per item).
fn invoiced_seats_at(sub: &SubscriptionRecord, invoices: &[&InvoiceRecord], at: i64) -> u64 {
    let mut per_item: Vec<(&str, i64, u64)> = Vec::new();
    for invoice in invoices {
        if !matches!(
            invoice.status.as_deref(),
            Some("paid" | "open" | "uncollectible")
        ) {
            continue;
        }
        for line in &invoice.lines {
            let owner = line
                .subscription
                .as_deref()
                .or(invoice.subscription.as_deref());
            let covers = line.period_start.is_some_and(|s| s <= at)
                && line.period_end.is_some_and(|e| at < e);
            let licensed = line
                .price
                .as_ref()
                .is_some_and(|p| p.usage_type == UsageType::Licensed && p.interval.is_some());
            if owner != Some(sub.id.as_str()) || line.proration || !covers || !licensed {
                continue;
            }
            let key = line.subscription_item.as_deref().unwrap_or(&line.id);
            let quantity = line.quantity.unwrap_or(1);
            match per_item.iter_mut().find(|(k, _, _)| *k == key) {
                Some(entry) if invoice.created > entry.1 => {
                    *entry = (key, invoice.created, quantity)
                }
                Some(_) => {}
                None => per_item.push((key, invoice.created, quantity)),
            }
        }
    }
    per_item.iter().map(|(_, _, quantity)| quantity).sum()
}
