//! Discounts at every level and every pricing model, parsed from Stripe's own fixtures
//! (API 2026-07-29) completed the way the connector completes them.

use serde_json::json;

use super::parse;
use super::parse_price::decimal_micros;
use super::parse_tests::fixture;
use crate::domain::billing::{CouponDuration, PriceTier, QuantityRound, TiersMode};

/// The fixture's discount with the fixture's coupon inlined at `source.coupon`.
fn discount_with_coupon() -> serde_json::Value {
    let mut discount = fixture("discount");
    discount["source"]["coupon"] = fixture("coupon");
    discount
}

#[test]
fn a_customer_discount_is_read_with_its_coupon() {
    let mut customer = fixture("customer");
    customer["discount"]["source"]["coupon"] = fixture("coupon");
    let c = parse::customer(&customer).unwrap();
    let d = c.discount.unwrap();
    assert_eq!(d.coupon_id, "Z4OV52SU");
    assert_eq!(d.percent_off_bp, Some(2550));
    assert_eq!(d.duration, CouponDuration::Forever);
    assert_eq!((d.start, d.end), (Some(109757538), None));
}

#[test]
fn a_customer_discount_without_its_coupon_is_an_error() {
    let err = parse::customer(&fixture("customer")).unwrap_err();
    assert_eq!(err.object, "customer");
    assert!(err.path.contains("discount"), "{err}");
}

#[test]
fn item_discounts_are_read_in_order_and_unexpanded_ones_refused() {
    let mut sub = fixture("subscription");
    let mut second = discount_with_coupon();
    second["source"]["coupon"]["id"] = json!("co_second");
    sub["items"]["data"][0]["discounts"] = json!([discount_with_coupon(), second]);
    let s = parse::subscription(&sub).unwrap();
    let ids: Vec<&str> = s.items[0]
        .discounts
        .iter()
        .map(|d| d.coupon_id.as_str())
        .collect();
    assert_eq!(ids, ["Z4OV52SU", "co_second"]);

    sub["items"]["data"][0]["discounts"] = json!(["di_1Pgc6rB7WZ01zgkW7Al8Fal9"]);
    let err = parse::subscription(&sub).unwrap_err();
    assert!(err.path.contains("items.data[0].discounts[0]"), "{err}");
}

#[test]
fn coupon_restrictions_and_currency_options_are_kept() {
    let mut discount = discount_with_coupon();
    let coupon = &mut discount["source"]["coupon"];
    coupon["percent_off"] = json!(null);
    coupon["amount_off"] = json!(500);
    coupon["currency"] = json!("USD");
    coupon["applies_to"] = json!({"products": ["prod_QXg1hqf4jFNsqG"]});
    coupon["currency_options"] = json!({"eur": {"amount_off": 450}, "GBP": {"amount_off": 400}});
    let mut sub = fixture("subscription");
    sub["discounts"] = json!([discount]);
    let d = &parse::subscription(&sub).unwrap().discounts[0];
    assert_eq!(
        (d.amount_off, d.currency.as_deref()),
        (Some(500), Some("usd"))
    );
    assert_eq!(d.applies_to_products, ["prod_QXg1hqf4jFNsqG"]);
    assert_eq!(d.amount_off_by_currency.get("eur"), Some(&450));
    assert_eq!(d.amount_off_by_currency.get("gbp"), Some(&400));
}

#[test]
fn a_promotion_code_discount_resolves_to_the_codes_coupon() {
    let mut code = fixture("promotion_code");
    code["promotion"]["coupon"] = fixture("coupon");
    let mut discount = fixture("discount");
    discount["promotion_code"] = code;
    let mut sub = fixture("subscription");
    sub["discounts"] = json!([discount]);
    let d = &parse::subscription(&sub).unwrap().discounts[0];
    assert_eq!(d.coupon_id, "Z4OV52SU");
    assert_eq!(d.percent_off_bp, Some(2550));
    assert_eq!(
        d.promotion_code.as_deref(),
        Some("promo_1Pgc79B7WZ01zgkWNy4mn5NX")
    );
}

#[test]
fn the_price_fixture_keeps_its_package_transform() {
    let p = parse::price(&fixture("price")).unwrap();
    let transform = p.transform_quantity.unwrap();
    assert_eq!(transform.divide_by, 1592560163);
    assert_eq!(transform.round, QuantityRound::Down);
    assert_eq!(p.unit_amount, Some(2000));
    // "2000" is a whole number of cents: nothing finer to keep.
    assert_eq!(p.unit_amount_micros, None);
    assert_eq!(p.tiers_mode, None);
}

#[test]
fn tiered_prices_keep_their_tiers_with_decimal_amounts() {
    let mut price = fixture("price");
    price["billing_scheme"] = json!("tiered");
    price["tiers_mode"] = json!("graduated");
    price["unit_amount"] = json!(null);
    price["unit_amount_decimal"] = json!(null);
    price["transform_quantity"] = json!(null);
    price["tiers"] = json!([
        {"up_to": 10, "unit_amount": 1000, "unit_amount_decimal": "1000",
         "flat_amount": 5000, "flat_amount_decimal": "5000"},
        {"up_to": null, "unit_amount": null, "unit_amount_decimal": "812.5",
         "flat_amount": null, "flat_amount_decimal": null}
    ]);
    let p = parse::price(&price).unwrap();
    assert_eq!(p.tiers_mode, Some(TiersMode::Graduated));
    assert_eq!(
        p.tiers,
        [
            PriceTier {
                up_to: Some(10),
                unit_amount_micros: 1_000_000_000,
                flat_amount_micros: 5_000_000_000
            },
            PriceTier {
                up_to: None,
                unit_amount_micros: 812_500_000,
                flat_amount_micros: 0
            },
        ]
    );
    // Without `expand[]=tiers` Stripe sends no tiers: the price is tiered, tiers unknown.
    price.as_object_mut().unwrap().remove("tiers");
    let p = parse::price(&price).unwrap();
    assert_eq!(
        (p.tiers_mode, p.tiers.len()),
        (Some(TiersMode::Graduated), 0)
    );
}

#[test]
fn fractional_unit_amounts_are_kept_in_millionths_of_a_cent() {
    let mut price = fixture("price");
    price["unit_amount_decimal"] = json!("0.5");
    assert_eq!(
        parse::price(&price).unwrap().unit_amount_micros,
        Some(500_000)
    );
    assert_eq!(decimal_micros("12.3456785"), Some(12_345_679));
    assert_eq!(decimal_micros("7"), Some(7_000_000));
    for bad in ["", "-1", "1e3", "1.2.3", " "] {
        assert_eq!(decimal_micros(bad), None, "{bad:?}");
    }
}
