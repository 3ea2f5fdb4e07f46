//! The dataset tells every story the metrics must handle, visibly in the records (not
//! only in the generator's own counts).

use std::collections::{BTreeSet, HashMap};

use crate::domain::billing::{
    CouponDuration, Interval, InvoiceRecord, SubscriptionRecord, SubscriptionStatus, UsageType,
};

use super::default_dataset;

/// The list value of an invoice's regular licensed lines (unit amount × quantity),
/// which is what changes on an upgrade or downgrade at a renewal.
fn list_value(invoice: &InvoiceRecord) -> i64 {
    invoice
        .lines
        .iter()
        .filter(|line| !line.proration)
        .filter_map(|line| {
            let price = line.price.as_ref()?;
            (price.usage_type == UsageType::Licensed)
                .then(|| price.unit_amount.unwrap_or(0) * line.quantity.unwrap_or(0) as i64)
        })
        .sum()
}

fn paid(invoice: &InvoiceRecord) -> bool {
    invoice.status.as_deref() == Some("paid") && invoice.amount_paid > 0
}

#[test]
fn the_dataset_has_each_kind_of_movement() {
    let data = default_dataset();
    let mut invoices_of: HashMap<&str, Vec<&InvoiceRecord>> = HashMap::new();
    for invoice in &data.invoices {
        invoices_of
            .entry(invoice.subscription.as_deref().unwrap_or(""))
            .or_default()
            .push(invoice);
    }
    let history = |sub: &SubscriptionRecord| {
        invoices_of
            .get(sub.id.as_str())
            .cloned()
            .unwrap_or_default()
    };
    let has_paid = |sub: &SubscriptionRecord| history(sub).into_iter().any(paid);

    let (mut upgrades, mut downgrades, mut prorations) = (0, 0, 0);
    for sub in &data.subscriptions {
        let cycle: Vec<i64> = history(sub)
            .into_iter()
            .filter(|i| i.billing_reason.as_deref() == Some("subscription_cycle"))
            .map(list_value)
            .collect();
        for pair in cycle.windows(2) {
            if pair[0] > 0 && pair[1] > pair[0] {
                upgrades += 1;
            } else if pair[1] > 0 && pair[1] < pair[0] {
                downgrades += 1;
            }
        }
        prorations += history(sub)
            .iter()
            .flat_map(|i| &i.lines)
            .filter(|l| l.proration)
            .count();
    }
    let with_status = |status| {
        data.subscriptions
            .iter()
            .filter(|s| s.status == status)
            .count()
    };
    let churned = data
        .subscriptions
        .iter()
        .filter(|s| s.status == SubscriptionStatus::Canceled && has_paid(s))
        .count();
    let trials_converted = data
        .subscriptions
        .iter()
        .filter(|s| {
            s.trial_end.is_some_and(|trial_end| {
                history(s)
                    .into_iter()
                    .any(|i| paid(i) && i.created >= trial_end)
            })
        })
        .count();
    let trials_expired = data
        .subscriptions
        .iter()
        .filter(|s| {
            s.trial_end.is_some()
                && s.status == SubscriptionStatus::Canceled
                && s.ended_at == s.trial_end
        })
        .count();
    let mut subscriptions_of: HashMap<&str, Vec<&SubscriptionRecord>> = HashMap::new();
    for sub in &data.subscriptions {
        subscriptions_of
            .entry(sub.customer.as_str())
            .or_default()
            .push(sub);
    }
    let reactivations = subscriptions_of
        .values()
        .filter(|subs| {
            subs.iter().any(|earlier| {
                earlier.ended_at.is_some_and(|ended| {
                    has_paid(earlier)
                        && subs
                            .iter()
                            .any(|later| later.created > ended && has_paid(later))
                })
            })
        })
        .count();
    let failure_codes: BTreeSet<&str> = data
        .charges
        .iter()
        .filter_map(|c| c.failure_code.as_deref())
        .collect();
    let amount_of: HashMap<&str, i64> = data
        .charges
        .iter()
        .map(|c| (c.id.as_str(), c.amount))
        .collect();
    let refund_share = |full: bool| {
        data.refunds
            .iter()
            .filter(|r| {
                (amount_of.get(r.charge.as_deref().unwrap_or("")) == Some(&r.amount)) == full
            })
            .count()
    };
    let coupons = |duration| {
        data.subscriptions
            .iter()
            .filter(|s| s.discounts.iter().any(|d| d.duration == duration))
            .count()
    };
    let currencies: BTreeSet<&str> = data
        .subscriptions
        .iter()
        .map(|s| s.currency.as_str())
        .collect();
    let pending_cancellations = data
        .subscriptions
        .iter()
        .filter(|s| s.status == SubscriptionStatus::Active && s.cancel_at_period_end)
        .count();
    let prices: Vec<_> = data
        .subscriptions
        .iter()
        .flat_map(|s| &s.items)
        .map(|i| &i.price)
        .collect();
    let cadence = |interval, count| {
        prices
            .iter()
            .filter(|p| p.interval == Some(interval) && p.interval_count == count)
            .count()
    };

    let found = [
        ("upgrade", upgrades),
        ("mid-period upgrade (proration)", prorations),
        ("downgrade", downgrades),
        ("churn", churned),
        ("reactivation", reactivations),
        ("trial conversion", trials_converted),
        ("expired trial", trials_expired),
        (
            "failed payment",
            data.charges.iter().filter(|c| c.status == "failed").count(),
        ),
        ("full refund", refund_share(true)),
        ("partial refund", refund_share(false)),
        ("forever coupon", coupons(CouponDuration::Forever)),
        ("once coupon", coupons(CouponDuration::Once)),
        ("repeating coupon", coupons(CouponDuration::Repeating)),
        ("past_due", with_status(SubscriptionStatus::PastDue)),
        ("unpaid", with_status(SubscriptionStatus::Unpaid)),
        ("trialing", with_status(SubscriptionStatus::Trialing)),
        ("cancel_at_period_end", pending_cancellations),
        ("annual price", cadence(Interval::Year, 1)),
        ("weekly price", cadence(Interval::Week, 1)),
        ("quarterly price", cadence(Interval::Month, 3)),
        (
            "metered price",
            prices
                .iter()
                .filter(|p| p.usage_type == UsageType::Metered)
                .count(),
        ),
        (
            "free plan",
            prices.iter().filter(|p| p.unit_amount == Some(0)).count(),
        ),
        (
            "several seats",
            data.subscriptions
                .iter()
                .filter(|s| s.items.iter().any(|i| i.quantity > 1))
                .count(),
        ),
        (
            "sepa debit",
            data.payment_methods
                .iter()
                .filter(|m| m.method_type == "sepa_debit")
                .count(),
        ),
        ("vat", data.invoices.iter().filter(|i| i.tax > 0).count()),
    ];
    println!("movements found in the records: {found:?}");
    let missing: Vec<_> = found.iter().filter(|(_, count)| *count == 0).collect();
    assert!(missing.is_empty(), "missing: {missing:?}; all: {found:?}");
    for code in ["card_declined", "expired_card", "insufficient_funds"] {
        assert!(
            failure_codes.contains(code),
            "no {code} among {failure_codes:?}"
        );
    }
    assert_eq!(currencies, BTreeSet::from(["eur", "gbp", "usd"]));
}
