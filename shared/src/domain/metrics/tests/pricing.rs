//! Every Stripe pricing model, to the cent: per unit, package (`transform_quantity`),
//! volume and graduated tiers (with flat amounts), free, fractional and metered prices.

use crate::domain::billing::{
    Interval, PriceTerms, PriceTier, QuantityRound, SubscriptionStatus, TiersMode,
    TransformQuantity, UsageType,
};
use crate::domain::metrics::{MrrPolicy, subscription_timeline};

use super::fixtures::*;

/// MRR in cents of one active subscription holding `quantity` of `price`.
fn mrr_of(price: PriceTerms, quantity: u64) -> i64 {
    let sub = subscription(
        "sub_p",
        "cus_p",
        SubscriptionStatus::Active,
        ts(2024, 1, 1),
        vec![item("si_p", price, quantity)],
    );
    subscription_timeline(&sub, &[], None, &MrrPolicy::default())
        .mrr_at(ts(2024, 2, 1))
        .to_minor()
}

fn package(unit: i64, divide_by: u64, round: QuantityRound) -> PriceTerms {
    let mut price = monthly_price("package", unit);
    price.transform_quantity = Some(TransformQuantity { divide_by, round });
    price
}

fn tier(up_to: Option<u64>, unit: i64, flat: i64) -> PriceTier {
    PriceTier {
        up_to,
        unit_amount_micros: unit * 1_000_000,
        flat_amount_micros: flat * 1_000_000,
    }
}

fn tiered(mode: TiersMode, tiers: Vec<PriceTier>, interval: Interval) -> PriceTerms {
    let mut price = price("tiered", 0, interval, 1);
    price.unit_amount = None;
    price.tiers_mode = Some(mode);
    price.tiers = tiers;
    price
}

/// $7.00 for units 1–5, $6.50 for 6–10, $6.00 beyond.
fn seat_tiers() -> Vec<PriceTier> {
    vec![
        tier(Some(5), 700, 0),
        tier(Some(10), 650, 0),
        tier(None, 600, 0),
    ]
}

/// Stripe docs, "Per-seat pricing": unit amount × quantity. 3 seats × $15.00 = $45.00.
#[test]
fn per_unit_prices_multiply_by_the_quantity() {
    assert_eq!(mrr_of(monthly_price("seat", usd(15)), 3), usd(45));
}

/// Stripe docs, "Package pricing" (`transform_quantity`): $10.00 per package of 5
/// users; 12 users rounded up are 3 packages, $30.00.
#[test]
fn package_pricing_rounds_a_started_package_up() {
    assert_eq!(mrr_of(package(usd(10), 5, QuantityRound::Up), 12), usd(30));
    // A full last package is not rounded: 10 users are 2 packages.
    assert_eq!(mrr_of(package(usd(10), 5, QuantityRound::Up), 10), usd(20));
}

/// Stripe docs, "Package pricing" with `round: down`: 12 users are 2 whole packages of
/// 5, $20.00.
#[test]
fn package_pricing_rounded_down_bills_only_whole_packages() {
    assert_eq!(
        mrr_of(package(usd(10), 5, QuantityRound::Down), 12),
        usd(20)
    );
    assert_eq!(mrr_of(package(usd(10), 5, QuantityRound::Down), 4), 0);
}

/// Stripe docs, "Tiered pricing", volume-based: every unit at the tier the total
/// reaches. 8 seats all at $6.50 = $52.00; 12 seats at $6.00 = $72.00.
#[test]
fn volume_tiers_price_every_unit_at_the_reached_tier() {
    let price = tiered(TiersMode::Volume, seat_tiers(), Interval::Month);
    assert_eq!(mrr_of(price.clone(), 8), usd(52));
    assert_eq!(mrr_of(price.clone(), 12), usd(72));
    assert_eq!(mrr_of(price, 5), usd(35));
}

/// Stripe docs, "Tiered pricing", graduated: each unit at its own tier. 8 seats:
/// 5 × $7.00 + 3 × $6.50 = $54.50; 12 seats: $35.00 + $32.50 + 2 × $6.00 = $79.50.
#[test]
fn graduated_tiers_price_each_unit_at_its_own_tier() {
    let price = tiered(TiersMode::Graduated, seat_tiers(), Interval::Month);
    assert_eq!(mrr_of(price.clone(), 8), 5_450);
    assert_eq!(mrr_of(price, 12), 7_950);
}

/// Stripe docs, "Tiered pricing" with flat amounts ("flat fee and per-unit"):
/// graduated, a $20.00 flat fee covering the first 10 units, then $1.50 a unit:
/// 14 units = $20.00 + 4 × $1.50 = $26.00. Volume, $5.00/unit + $10.00 up to 10,
/// $4.00/unit + $20.00 beyond: 12 units = 12 × $4.00 + $20.00 = $68.00.
#[test]
fn flat_amounts_add_to_the_tiers_they_reach() {
    let graduated = tiered(
        TiersMode::Graduated,
        vec![tier(Some(10), 0, usd(20)), tier(None, 150, 0)],
        Interval::Month,
    );
    assert_eq!(mrr_of(graduated.clone(), 14), usd(26));
    assert_eq!(mrr_of(graduated, 3), usd(20));
    let volume = tiered(
        TiersMode::Volume,
        vec![tier(Some(10), 500, usd(10)), tier(None, 400, usd(20))],
        Interval::Month,
    );
    assert_eq!(mrr_of(volume, 12), usd(68));
}

/// Stripe docs, "Tiered pricing" on a yearly price: graduated 8 seats cost $545.00 a
/// year, $45.42 a month (545.00 / 12 = 45.4166…, rounded half to even at the end).
#[test]
fn tiered_yearly_prices_normalize_to_a_twelfth() {
    let yearly_tiers = vec![tier(Some(5), 7_000, 0), tier(None, 6_500, 0)];
    let price = tiered(TiersMode::Graduated, yearly_tiers, Interval::Year);
    assert_eq!(mrr_of(price, 8), 4_542);
}

/// Stripe docs, "Decimal amounts" (`unit_amount_decimal`): half a cent per API call,
/// 1,001 calls licensed = $5.005, kept exact until presented: $5.00 (half to even).
#[test]
fn fractional_unit_amounts_stay_exact_until_presented() {
    let mut price = monthly_price("calls", 0);
    price.unit_amount_micros = Some(500_000);
    assert_eq!(mrr_of(price.clone(), 1_001), 500);
    assert_eq!(mrr_of(price, 1_003), 502);
}

/// Stripe Billing analytics ("MRR"): free prices add nothing and metered (usage) prices
/// are left out of MRR (policy `exclude_metered`).
#[test]
fn free_and_metered_prices_add_nothing() {
    assert_eq!(mrr_of(monthly_price("free", 0), 1), 0);
    let mut metered = monthly_price("usage", 25);
    metered.usage_type = UsageType::Metered;
    assert_eq!(mrr_of(metered, 40), 0);
}

/// A tiered price whose tiers were not read (Stripe sends them only when expanded)
/// is valued at what its item's latest invoiced period billed.
#[test]
fn tiered_prices_without_their_tiers_fall_back_to_the_billed_amount() {
    let price = tiered(TiersMode::Volume, Vec::new(), Interval::Month);
    let sub = subscription(
        "sub_t",
        "cus_t",
        SubscriptionStatus::Active,
        ts(2024, 1, 1),
        vec![item("si_t", price.clone(), 8)],
    );
    let mut billed = line("sub_t", "si_t", &price, 8, ts(2024, 1, 1), ts(2024, 2, 1));
    billed.amount = 5_200;
    let paid = invoice("sub_t", "paid", vec![billed]);
    let timeline = subscription_timeline(&sub, &[&paid], None, &MrrPolicy::default());
    assert_eq!(timeline.mrr_at(ts(2024, 1, 15)).to_minor(), usd(52));
}
