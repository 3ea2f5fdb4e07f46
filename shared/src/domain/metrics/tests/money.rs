//! Normalization, rounding, coupons and conversion, to the cent (and the micro-cent).

use std::collections::BTreeMap;

use crate::domain::billing::{CouponDuration, Interval, SubscriptionStatus};
use crate::domain::metrics::money::{item_mrr, less_percent, reduce_proportionally};
use crate::domain::metrics::{FxRates, MetricsError, Mrr, MrrPolicy, subscription_timeline};

use super::fixtures::*;

#[test]
fn annual_price_normalizes_to_a_twelfth() {
    // $12,000.00 a year is $1,000.00 a month, exactly.
    let mrr = item_mrr(usd(12_000), 1, Interval::Year, 1);
    assert_eq!(mrr, Mrr(100_000 * 1_000_000));
    assert_eq!(mrr.to_minor(), usd(1_000));
}

#[test]
fn weekly_price_normalizes_with_52_over_12() {
    // $1,000.00 a week × 52 ÷ 12 = $4,333.333…: 433,333.333… cents, kept to the
    // micro-cent (433,333,333,333.33 rounds to …333), presented as $4,333.33.
    let mrr = item_mrr(usd(1_000), 1, Interval::Week, 1);
    assert_eq!(mrr, Mrr(433_333_333_333));
    assert_eq!(mrr.to_minor(), 433_333);
}

#[test]
fn quarterly_interval_count_divides() {
    // $300.00 every 3 months is $100.00 a month.
    assert_eq!(
        item_mrr(usd(300), 1, Interval::Month, 3).to_minor(),
        usd(100)
    );
    // Twice a year, $50.00: $8.333… → 833.333… cents → $8.33.
    let semiannual = item_mrr(usd(50), 1, Interval::Month, 6);
    assert_eq!(semiannual, Mrr(833_333_333));
}

#[test]
fn daily_price_uses_365_over_12() {
    // $10.00 a day × 365 ÷ 12 = $304.1666… → 30,416.666… cents → $304.17.
    let mrr = item_mrr(usd(10), 1, Interval::Day, 1);
    assert_eq!(mrr, Mrr(30_416_666_667));
    assert_eq!(mrr.to_minor(), 30_417);
}

#[test]
fn rounding_is_half_to_even_and_only_when_presenting() {
    assert_eq!(Mrr(2_500_000).to_minor(), 2);
    assert_eq!(Mrr(3_500_000).to_minor(), 4);
    assert_eq!(Mrr(2_500_001).to_minor(), 3);
    assert_eq!(Mrr(-2_500_000).to_minor(), -2);
    assert_eq!(Mrr(-2_500_001).to_minor(), -3);
    // Three weekly $1.00 items sum exactly in micro-cents before any rounding.
    let one = item_mrr(usd(1), 1, Interval::Week, 1);
    assert_eq!(one, Mrr(433_333_333));
    assert_eq!((one + one + one).to_minor(), 1_300);
}

#[test]
fn quantity_multiplies_and_items_add() {
    // 3 seats × $20.00 monthly + $120.00 yearly = $60.00 + $10.00.
    let sub = subscription(
        "sub_1",
        "cus_1",
        SubscriptionStatus::Active,
        ts(2024, 1, 1),
        vec![
            item("si_seats", monthly_price("seats", usd(20)), 3),
            item("si_addon", price("addon", usd(120), Interval::Year, 1), 1),
        ],
    );
    let timeline = subscription_timeline(&sub, &[], None, &MrrPolicy::default());
    assert_eq!(timeline.mrr_at(ts(2024, 2, 1)).to_minor(), usd(70));
    assert_eq!(
        timeline.plan_mrr_at(ts(2024, 2, 1), "seats").to_minor(),
        usd(60)
    );
    assert_eq!(
        timeline.plan_mrr_at(ts(2024, 2, 1), "addon").to_minor(),
        usd(10)
    );
    assert_eq!(timeline.mrr_at(ts(2023, 12, 31)), Mrr::ZERO);
}

fn with_coupon(
    amount: i64,
    interval: Interval,
    coupon: crate::domain::billing::DiscountRecord,
) -> i64 {
    let mut sub = subscription(
        "sub_c",
        "cus_c",
        SubscriptionStatus::Active,
        ts(2024, 1, 1),
        vec![item("si", price("p", amount, interval, 1), 1)],
    );
    sub.discounts.push(coupon);
    subscription_timeline(&sub, &[], None, &MrrPolicy::default())
        .mrr_at(ts(2024, 3, 1))
        .to_minor()
}

#[test]
fn forever_coupons_reduce_mrr_once_and_repeating_do_not() {
    let month = Interval::Month;
    // 25.5 % off $100.00 forever: $74.50.
    assert_eq!(
        with_coupon(
            usd(100),
            month,
            coupon(CouponDuration::Forever, Some(2550), None)
        ),
        7_450
    );
    // $30.00 off forever: $70.00; $150.00 off: never below 0.
    assert_eq!(
        with_coupon(
            usd(100),
            month,
            coupon(CouponDuration::Forever, None, Some(usd(30)))
        ),
        usd(70)
    );
    assert_eq!(
        with_coupon(
            usd(100),
            month,
            coupon(CouponDuration::Forever, None, Some(usd(150)))
        ),
        0
    );
    // An amount off a yearly invoice is a twelfth a month: ($1,200 − $120) ÷ 12 = $90.
    assert_eq!(
        with_coupon(
            usd(1_200),
            Interval::Year,
            coupon(CouponDuration::Forever, None, Some(usd(120)))
        ),
        usd(90)
    );
    // Once and repeating coupons leave MRR alone under the default policy.
    assert_eq!(
        with_coupon(
            usd(100),
            month,
            coupon(CouponDuration::Once, Some(5_000), None)
        ),
        usd(100)
    );
    assert_eq!(
        with_coupon(
            usd(100),
            month,
            coupon(CouponDuration::Repeating, None, Some(usd(40)))
        ),
        usd(100)
    );
}

#[test]
fn amount_off_is_spread_over_plans_in_proportion() {
    let mut parts = [Mrr::from_minor(3_000), Mrr::from_minor(1_000)];
    reduce_proportionally(&mut parts, Mrr::from_minor(2_000));
    assert_eq!(parts, [Mrr::from_minor(1_500), Mrr::from_minor(500)]);
    let mut thirds = [Mrr(1), Mrr(1), Mrr(1)];
    reduce_proportionally(&mut thirds, Mrr(2));
    assert_eq!(thirds.iter().copied().sum::<Mrr>(), Mrr(1));
    let mut all = [Mrr::from_minor(3_000), Mrr::from_minor(1_000)];
    reduce_proportionally(&mut all, Mrr::from_minor(9_000));
    assert_eq!(all, [Mrr::ZERO, Mrr::ZERO]);
    assert_eq!(less_percent(Mrr::from_minor(1_000), 10_000), Mrr::ZERO);
}

#[test]
fn conversion_uses_rates_and_minor_unit_exponents() {
    let rates = FxRates {
        base: "eur".to_owned(),
        rates: BTreeMap::from([("usd".to_owned(), 1.08), ("jpy".to_owned(), 160.0)]),
    };
    // $108.00 is €100.00.
    assert_eq!(
        rates
            .factor("usd", "eur")
            .unwrap()
            .apply_minor(10_800)
            .to_minor(),
        10_000
    );
    // €100.00 is ¥16,000 (yen have no minor unit).
    assert_eq!(
        rates
            .factor("eur", "jpy")
            .unwrap()
            .apply_minor(10_000)
            .to_minor(),
        16_000
    );
    // ¥16,000 is $108.00.
    assert_eq!(
        rates
            .factor("jpy", "usd")
            .unwrap()
            .apply_minor(16_000)
            .to_minor(),
        10_800
    );
    assert_eq!(
        rates.factor("USD", "usd").unwrap().apply_minor(5),
        Mrr::from_minor(5)
    );
    assert_eq!(
        rates.factor("gbp", "eur"),
        Err(MetricsError::MissingFxRate("gbp".to_owned()))
    );
    let bad = FxRates {
        base: "eur".to_owned(),
        rates: BTreeMap::from([("usd".to_owned(), f64::NAN)]),
    };
    assert_eq!(
        bad.validate(),
        Err(MetricsError::InvalidFxRate("usd".to_owned()))
    );
}
