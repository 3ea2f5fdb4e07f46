//! The prices (per unit, package, volume and graduated tiers, free, metered) and the
//! coupons (percent, amount, product-restricted, other currency, currency options,
//! behind a promotion code) of the shape customers ([`super::shapes`]).

use serde_json::{Value, json};

use super::FakeState;

fn price(state: &mut FakeState, id: &str, product: &str, unit: Option<i64>, extra: Value) {
    let mut price = json!({"id": id, "object": "price", "active": true, "currency": "eur",
        "product": product, "nickname": null, "unit_amount": unit,
        "unit_amount_decimal": unit.map(|u| u.to_string()), "type": "recurring",
        "billing_scheme": "per_unit", "tiers_mode": null, "transform_quantity": null,
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed", "meter": null},
        "metadata": {}, "livemode": false, "created": 1_699_000_000});
    if let (Value::Object(price), Value::Object(extra)) = (&mut price, extra) {
        price.extend(extra);
    }
    state.objects.insert(id.to_owned(), price);
}

fn tier(up_to: Option<u64>, unit: i64, flat: i64) -> Value {
    json!({"up_to": up_to, "unit_amount": unit, "unit_amount_decimal": unit.to_string(),
        "flat_amount": flat, "flat_amount_decimal": flat.to_string()})
}

fn coupon(state: &mut FakeState, id: &str, terms: Value) {
    let mut coupon = json!({"id": id, "object": "coupon", "percent_off": null,
        "amount_off": null, "currency": null, "duration": "forever", "duration_in_months": null,
        "name": "A coupon", "valid": true, "metadata": {}, "livemode": false,
        "applies_to": {"products": []}, "currency_options": {}});
    if let (Value::Object(coupon), Value::Object(terms)) = (&mut coupon, terms) {
        coupon.extend(terms);
    }
    state.objects.insert(id.to_owned(), coupon);
}

/// The prices and coupons the shape customers use.
pub(super) fn prices_and_coupons(state: &mut FakeState) {
    for (id, product, unit) in [
        ("price_SPro", "prod_SPro", 2_900),
        ("price_SSeat", "prod_SSeat", 1_000),
        ("price_SSupport", "prod_SSupport", 2_000),
        ("price_SBig", "prod_SBig", 10_000),
        ("price_SAddon", "prod_SAddon", 1_000),
        ("price_SFree", "prod_SFree", 0),
    ] {
        price(state, id, product, Some(unit), json!({}));
    }
    price(
        state,
        "price_SPackage",
        "prod_SPackage",
        Some(1_000),
        json!({"transform_quantity": {"divide_by": 5, "round": "up"}}),
    );
    price(
        state,
        "price_SVolume",
        "prod_SVolume",
        None,
        json!({"billing_scheme": "tiered",
        "tiers_mode": "volume", "unit_amount_decimal": null,
        "tiers": [tier(Some(5), 700, 0), tier(Some(10), 650, 0), tier(None, 600, 0)]}),
    );
    price(
        state,
        "price_SGraduated",
        "prod_SGraduated",
        None,
        json!({"billing_scheme": "tiered",
        "tiers_mode": "graduated", "unit_amount_decimal": null,
        "tiers": [tier(Some(5), 500, 1_000), tier(None, 400, 500)]}),
    );
    price(
        state,
        "price_SMetered",
        "prod_SMetered",
        Some(10),
        json!({"recurring":
        {"interval": "month", "interval_count": 1, "usage_type": "metered", "meter": "mtr_S"}}),
    );
    coupon(state, "co_SHalf", json!({"percent_off": 50.0}));
    coupon(state, "co_SQuarter", json!({"percent_off": 25.0}));
    coupon(state, "co_STen", json!({"percent_off": 10.0}));
    coupon(
        state,
        "co_SFiveOff",
        json!({"amount_off": 500, "currency": "eur"}),
    );
    coupon(
        state,
        "co_SAddonHalf",
        json!({"percent_off": 50.0,
        "applies_to": {"products": ["prod_SAddon"]}}),
    );
    coupon(
        state,
        "co_SUsdTen",
        json!({"amount_off": 1_000, "currency": "usd"}),
    );
    coupon(
        state,
        "co_SUsdTenEur",
        json!({"amount_off": 1_000, "currency": "usd",
        "currency_options": {"eur": {"amount_off": 800}}}),
    );
    coupon(state, "co_SWelcome", json!({"percent_off": 20.0}));
    state.objects.insert(
        "promo_SWelcome".into(),
        json!({"id": "promo_SWelcome",
        "object": "promotion_code", "code": "WELCOME20", "active": true, "customer": null,
        "promotion": {"type": "coupon", "coupon": "co_SWelcome"}, "metadata": {}}),
    );
}
