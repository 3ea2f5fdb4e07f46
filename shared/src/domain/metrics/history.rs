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
use crate::domain::billing::{InvoiceRecord, PriceTerms, SubscriptionRecord, UsageType};

use super::money::{Mrr, monthly};
use super::policy::MrrPolicy;
use super::pricing::{monthly_micros, period_amount_micros};

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
    /// The price's product: what `applies_to.products` coupons match.
    pub product: Option<&'a str>,
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

/// What the price bills per period for the quantity ([`super::pricing`]), normalized to
/// a month. Metered prices are 0 under the default policy; a price whose terms do not
/// give the amount (no unit amount, tiers not read) uses what was billed for the
/// period, if known.
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
    match (period_amount_micros(price, quantity), billed_for_period) {
        (Some(amount), _) => {
            PriceValue::Monthly(monthly_micros(amount, interval, price.interval_count))
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
                product: price.product.as_deref(),
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

/// The end of the current billing period: the items' period end, else the last billed
/// period's end.
pub(crate) fn current_period_end(sub: &SubscriptionRecord, history: &[Piece<'_>]) -> Option<i64> {
    sub.items
        .iter()
        .filter_map(|item| item.current_period_end)
        .max()
        .or_else(|| history.iter().filter_map(|piece| piece.to).max())
}
