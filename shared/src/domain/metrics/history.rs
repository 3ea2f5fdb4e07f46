//! What a subscription was billed, period by period: the raw material of its timeline.
//!
//! A subscription record only shows its current state; the history of upgrades and
//! downgrades lives in its invoices. Each recurring line of a paid, open or
//! uncollectible invoice says "this item was on this price × quantity for
//! `[period_start, period_end)`". Proration lines date the changes made inside a
//! period: Stripe bills a change as a credit for the unused time on the old terms and a
//! charge for the remaining time on the new ones, both starting at the change. So a
//! charge line puts its terms in force from its start (outranking the period's regular
//! line, which was invoiced earlier), and a credit line ends the old terms there (a
//! piece worth 0, ranked just below a charge of the same invoice). Their amounts are
//! partial, so only price × quantity is read from them. Void and draft invoices are
//! ignored (they were never owed).

use crate::domain::billing::Interval;
use crate::domain::billing::{
    InvoiceRecord, PriceTerms, SubscriptionRecord, SubscriptionStatus, UsageType,
};

use super::money::{Mrr, item_mrr, monthly};
use super::policy::{MrrPolicy, UnpaidChurnFrom};

/// A stretch of time during which one item was billed at a monthly `value`.
#[derive(Clone, Debug)]
pub(crate) struct Piece<'a> {
    pub from: i64,
    /// `None`: open-ended (the current state with no end in sight).
    pub to: Option<i64>,
    /// The subscription item (or price) it bills: of overlapping pieces of one key, the
    /// highest `rank` wins (a re-issued invoice supersedes an older one).
    pub key: &'a str,
    /// Index into the timeline's plan names.
    pub plan: usize,
    pub value: Mrr,
    /// (invoice created, period start); the current state ranks above all history.
    pub rank: (i64, i64),
    /// The billing interval, for normalizing amount-off coupons.
    pub billing: (Interval, u32),
}

/// The plan a price belongs to: its nickname, else its product, else its id.
pub fn plan_name(price: &PriceTerms) -> &str {
    price
        .nickname
        .as_deref()
        .filter(|name| !name.is_empty())
        .or(price
            .product
            .as_deref()
            .filter(|product| !product.is_empty()))
        .unwrap_or(&price.id)
}

/// Plan names of one subscription, indexed in order of first appearance.
#[derive(Default)]
pub(crate) struct PlanNames {
    pub names: Vec<String>,
}

impl PlanNames {
    pub fn index(&mut self, name: &str) -> usize {
        match self.names.iter().position(|known| known == name) {
            Some(index) => index,
            None => {
                self.names.push(name.to_owned());
                self.names.len() - 1
            }
        }
    }
}

/// What a price contributes per month.
pub(crate) enum PriceValue {
    /// A one-off price: not part of MRR at all.
    NotRecurring,
    Monthly(Mrr),
    /// A recurring price without a unit amount (tiered, custom) and nothing billed to
    /// read the amount from.
    Unknown,
}

/// Unit amount × quantity normalized to a month. Metered prices are 0 under the default
/// policy; a price without a unit amount uses what was billed for the period, if known.
pub(crate) fn price_value(
    price: &PriceTerms,
    quantity: u64,
    billed_for_period: Option<i64>,
    policy: &MrrPolicy,
) -> PriceValue {
    let Some(interval) = price.interval else {
        return PriceValue::NotRecurring;
    };
    if policy.exclude_metered && price.usage_type == UsageType::Metered {
        return PriceValue::Monthly(Mrr::ZERO);
    }
    match (price.unit_amount, billed_for_period) {
        (Some(unit), _) => {
            PriceValue::Monthly(item_mrr(unit, quantity, interval, price.interval_count))
        }
        (None, Some(billed)) => {
            PriceValue::Monthly(monthly(i128::from(billed), interval, price.interval_count))
        }
        (None, None) => PriceValue::Unknown,
    }
}

fn counted_invoice(invoice: &InvoiceRecord) -> bool {
    matches!(
        invoice.status.as_deref(),
        Some("paid") | Some("open") | Some("uncollectible")
    )
}

/// The history pieces of a subscription, from its invoices' lines.
pub(crate) fn history_pieces<'a>(
    sub: &'a SubscriptionRecord,
    invoices: &[&'a InvoiceRecord],
    policy: &MrrPolicy,
    plans: &mut PlanNames,
) -> Vec<Piece<'a>> {
    let mut pieces = Vec::new();
    for invoice in invoices.iter().filter(|invoice| counted_invoice(invoice)) {
        for line in &invoice.lines {
            let owner = line
                .subscription
                .as_deref()
                .or(invoice.subscription.as_deref());
            if owner != Some(sub.id.as_str()) {
                continue;
            }
            let (Some(price), Some(from), Some(to)) =
                (line.price.as_ref(), line.period_start, line.period_end)
            else {
                continue;
            };
            let (Some(interval), true) = (price.interval, to > from) else {
                continue;
            };
            let quantity = line.quantity.unwrap_or(1);
            let credit = line.proration && line.amount < 0;
            // A proration's amount covers part of a period: not a period's price.
            let billed = (!line.proration).then_some(line.amount);
            let value = match price_value(price, quantity, billed, policy) {
                _ if credit => Mrr::ZERO,
                PriceValue::Monthly(value) => value,
                PriceValue::NotRecurring | PriceValue::Unknown => continue,
            };
            pieces.push(Piece {
                from,
                to: Some(to),
                key: line.subscription_item.as_deref().unwrap_or(&price.id),
                plan: plans.index(plan_name(price)),
                value,
                rank: (
                    invoice.created,
                    if credit { from.saturating_sub(1) } else { from },
                ),
                billing: (interval, price.interval_count),
            });
        }
    }
    pieces
}

/// When the subscription's service of an invoice starts: its lines' earliest period
/// start for this subscription (an invoice's own `period_start` is, at Stripe, the
/// previous period), else when it was created.
fn service_start(invoice: &InvoiceRecord, sub: &str) -> i64 {
    invoice
        .lines
        .iter()
        .filter(|line| !line.proration)
        .filter(|line| {
            line.subscription
                .as_deref()
                .or(invoice.subscription.as_deref())
                == Some(sub)
        })
        .filter_map(|line| line.period_start)
        .min()
        .unwrap_or(invoice.created)
}

/// When an `unpaid` (or uncounted `past_due`) subscription stopped counting, per policy.
pub(crate) fn unpaid_since(
    sub: &SubscriptionRecord,
    invoices: &[&InvoiceRecord],
    policy: &MrrPolicy,
) -> Option<i64> {
    let current_period_start = sub
        .items
        .iter()
        .filter_map(|item| item.current_period_start)
        .min();
    if policy.unpaid_churn_from == UnpaidChurnFrom::CurrentPeriodStart {
        return current_period_start;
    }
    let mut ordered: Vec<(i64, i64, &str)> = invoices
        .iter()
        .map(|invoice| {
            let status = invoice.status.as_deref().unwrap_or("");
            (service_start(invoice, &sub.id), invoice.created, status)
        })
        .collect();
    ordered.sort_unstable();
    let after_last_paid = ordered
        .iter()
        .rposition(|(_, _, status)| *status == "paid")
        .map_or(0, |index| index + 1);
    ordered
        .get(after_last_paid..)
        .unwrap_or_default()
        .iter()
        .find(|(_, _, status)| matches!(*status, "open" | "uncollectible"))
        .map(|(start, _, _)| *start)
        .or(current_period_start)
}

/// The end of the current billing period: the items' period end, else the last billed
/// period's end.
pub(crate) fn current_period_end(sub: &SubscriptionRecord, history: &[Piece<'_>]) -> Option<i64> {
    sub.items
        .iter()
        .filter_map(|item| item.current_period_end)
        .max()
        .or_else(|| history.iter().filter_map(|piece| piece.to).max())
}

/// The end of the last period of this subscription billed on a paid invoice (not a
/// proration: a change does not extend what was paid for).
pub(crate) fn last_paid_end(sub: &SubscriptionRecord, invoices: &[&InvoiceRecord]) -> Option<i64> {
    invoices
        .iter()
        .filter(|invoice| invoice.status.as_deref() == Some("paid"))
        .flat_map(|invoice| {
            invoice.lines.iter().filter(move |line| {
                !line.proration
                    && line
                        .subscription
                        .as_deref()
                        .or(invoice.subscription.as_deref())
                        == Some(sub.id.as_str())
            })
        })
        .filter_map(|line| line.period_end)
        .max()
}

/// When the subscription stops counting (`None`: it does not, as far as we know).
/// `start` is when it began (its earliest billed period, else its start date): a
/// status that never counted stops there, so nothing of it counts.
///
/// * `canceled`: at `canceled_at`, the request (Stripe Billing: a cancellation at
///   period end stops counting "after the time of the API call"), or at `ended_at`
///   when the policy counts until the period ends; until then it counted as it was,
///   since the status it had before is not kept;
/// * a counted status (active, past_due): at a scheduled cancellation, if any;
/// * `past_due` or `unpaid` when not counted: from when it stopped being paid (Stripe:
///   delinquent from the time it is marked unpaid; the first unpaid invoice dates it);
/// * `paused`: when it was paused (`paused_at`, Stripe's
///   `status_details.paused.transitioned_at`), and never after the end of its last
///   paid period — every paid period before the pause is kept; without a pause time,
///   at the end of the last paid period (a trial that ended without a payment method
///   paid nothing: it stops at its start, the trial counting 0 anyway);
/// * anything else (trialing, incomplete, incomplete_expired): it never counted.
pub(crate) fn stop_time(
    sub: &SubscriptionRecord,
    invoices: &[&InvoiceRecord],
    policy: &MrrPolicy,
    start: i64,
    history: &[Piece<'_>],
) -> Option<i64> {
    let until_period_end = policy.count_until_period_end_when_cancel_at_period_end;
    let paid_until = || last_paid_end(sub, invoices).unwrap_or(start).max(start);
    match sub.status {
        SubscriptionStatus::Canceled => {
            let end = if until_period_end {
                sub.ended_at.or(sub.canceled_at)
            } else {
                sub.canceled_at.or(sub.ended_at)
            };
            Some(end.or(sub.cancel_at).unwrap_or_else(paid_until))
        }
        status if policy.counts(status) => {
            if !sub.cancel_at_period_end && sub.cancel_at.is_none() {
                return None;
            }
            let period_end = current_period_end(sub, history);
            if until_period_end {
                sub.cancel_at.or(period_end)
            } else {
                sub.canceled_at.or(sub.cancel_at).or(period_end)
            }
        }
        SubscriptionStatus::PastDue | SubscriptionStatus::Unpaid => {
            Some(unpaid_since(sub, invoices, policy).unwrap_or_else(paid_until))
        }
        SubscriptionStatus::Paused => {
            let paid_until = paid_until();
            Some(
                sub.paused_at
                    .map_or(paid_until, |at| at.clamp(start, paid_until)),
            )
        }
        _ => Some(start),
    }
}
