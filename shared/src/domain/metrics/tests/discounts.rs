//! Discounts at every Stripe level, to the cent: customer, subscription (stacked in
//! order), item; coupons restricted to products; amounts off in the coupon's currency.

use crate::domain::billing::{
    CouponDuration, DiscountRecord, SubscriptionRecord, SubscriptionStatus,
};
use crate::domain::metrics::{MrrPolicy, subscription_timeline};

use super::fixtures::*;

fn forever_percent(percent_bp: u32) -> DiscountRecord {
    coupon(CouponDuration::Forever, Some(percent_bp), None)
}

fn forever_off(amount: i64, currency: &str) -> DiscountRecord {
    let mut discount = coupon(CouponDuration::Forever, None, Some(amount));
    discount.currency = Some(currency.to_owned());
    discount
}

/// Seats ($60.00: 3 × $20.00, product `prod_seats`) and support ($40.00, product
/// `prod_support`), monthly, in usd.
fn two_items() -> SubscriptionRecord {
    let mut seats = monthly_price("seats", usd(20));
    seats.product = Some("prod_seats".to_owned());
    let mut support = monthly_price("support", usd(40));
    support.product = Some("prod_support".to_owned());
    subscription(
        "sub_d",
        "cus_d",
        SubscriptionStatus::Active,
        ts(2024, 1, 1),
        vec![item("si_seats", seats, 3), item("si_support", support, 1)],
    )
}

fn mrr(sub: &SubscriptionRecord, customer: Option<&DiscountRecord>) -> i64 {
    subscription_timeline(sub, &[], customer, &MrrPolicy::default())
        .mrr_at(ts(2024, 3, 1))
        .to_minor()
}

/// Stripe docs, "Coupons and promotion codes" ("Apply coupons to customers"): a
/// customer's coupon applies to all of its subscriptions. 50 % off $100.00 = $50.00.
#[test]
fn a_customer_discount_applies_to_a_subscription_without_its_own() {
    let sub = two_items();
    assert_eq!(mrr(&sub, Some(&forever_percent(5_000))), usd(50));
}

/// Stripe API reference, customer `discount` and subscription `discounts`: a
/// subscription's own discount takes the place of the customer's. 10 % of its own on
/// $100.00 = $90.00, the customer's 50 % not applied.
#[test]
fn a_subscription_discount_replaces_the_customers() {
    let mut sub = two_items();
    sub.discounts.push(forever_percent(1_000));
    assert_eq!(mrr(&sub, Some(&forever_percent(5_000))), usd(90));
    // Even a discount that does not count for MRR (once) keeps the customer's away.
    let mut sub = two_items();
    sub.discounts
        .push(coupon(CouponDuration::Once, Some(1_000), None));
    assert_eq!(mrr(&sub, Some(&forever_percent(5_000))), usd(100));
}

/// Stripe docs, "Stacking discounts" (coupons): several discounts apply in order,
/// each to the amount left by the previous. $100.00 − 10 % = $90.00, − 10 % = $81.00,
/// − $5.00 = $76.00 (not $75.00: percentages compound).
#[test]
fn stacked_subscription_discounts_apply_in_order() {
    let mut sub = two_items();
    sub.discounts.push(forever_percent(1_000));
    sub.discounts.push(forever_percent(1_000));
    sub.discounts.push(forever_off(usd(5), "usd"));
    assert_eq!(mrr(&sub, None), usd(76));
    // The amount first: ($100.00 − $5.00) × 0.9 × 0.9 = $76.95.
    let mut sub = two_items();
    sub.discounts.push(forever_off(usd(5), "usd"));
    sub.discounts.push(forever_percent(1_000));
    sub.discounts.push(forever_percent(1_000));
    assert_eq!(mrr(&sub, None), 7_695);
}

/// Stripe docs, "Coupons and promotion codes" (subscription item discounts): an
/// item's coupon reduces that item only, before the subscription's. Seats 25 % off:
/// $45.00 + $40.00 = $85.00; then 10 % on the subscription: $76.50.
#[test]
fn an_item_discount_reduces_its_item_first() {
    let mut sub = two_items();
    sub.items[0].discounts.push(forever_percent(2_500));
    assert_eq!(mrr(&sub, None), usd(85));
    sub.discounts.push(forever_percent(1_000));
    assert_eq!(mrr(&sub, None), 7_650);
}

/// Stripe API reference, coupon `applies_to.products`: only items of those products
/// are discounted. 50 % off support only: $60.00 + $20.00 = $80.00; $50.00 off support
/// only stops at its $40.00: $60.00.
#[test]
fn a_coupon_restricted_to_products_reduces_only_their_items() {
    let mut restricted = forever_percent(5_000);
    restricted.applies_to_products = vec!["prod_support".to_owned()];
    let mut sub = two_items();
    sub.discounts.push(restricted);
    assert_eq!(mrr(&sub, None), usd(80));
    let mut capped = forever_off(usd(50), "usd");
    capped.applies_to_products = vec!["prod_support".to_owned()];
    let mut sub = two_items();
    sub.discounts.push(capped);
    assert_eq!(mrr(&sub, None), usd(60));
}

/// Stripe API reference, coupon `amount_off` / `currency` / `currency_options`: an
/// amount off applies in its own currency only, or in the subscription's currency when
/// the coupon has an option for it. €10.00 off a usd subscription: nothing off,
/// $100.00; with a usd option of $8.00: $92.00.
#[test]
fn an_amount_off_in_another_currency_does_not_apply() {
    let mut sub = two_items();
    sub.discounts.push(forever_off(usd(10), "eur"));
    assert_eq!(mrr(&sub, None), usd(100));
    sub.discounts[0]
        .amount_off_by_currency
        .insert("usd".to_owned(), usd(8));
    assert_eq!(mrr(&sub, None), usd(92));
}

/// Stripe Billing analytics ("MRR": discounts): forever coupons reduce MRR; `once`
/// never; `repeating` only when the policy counts them, and only while they last.
/// A repeating 20 % for Jan–Feb on the customer: $80.00 in February, $100.00 in March.
#[test]
fn customer_coupon_durations_follow_the_policy() {
    let sub = two_items();
    let mut repeating = coupon(CouponDuration::Repeating, Some(2_000), None);
    repeating.start = Some(ts(2024, 1, 1));
    repeating.end = Some(ts(2024, 3, 1));
    assert_eq!(mrr(&sub, Some(&repeating)), usd(100));
    let counting = MrrPolicy {
        forever_coupons_only: false,
        ..MrrPolicy::default()
    };
    let timeline = subscription_timeline(&sub, &[], Some(&repeating), &counting);
    assert_eq!(timeline.mrr_at(ts(2024, 2, 15)).to_minor(), usd(80));
    assert_eq!(timeline.mrr_at(ts(2024, 3, 1)).to_minor(), usd(100));
    let once = coupon(CouponDuration::Once, Some(5_000), None);
    assert_eq!(mrr(&sub, Some(&once)), usd(100));
}
