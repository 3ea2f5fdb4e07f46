//! The customers of every Stripe discount level and pricing model, added
//! after the generated ones by [`Scenario::with_shapes`](super::Scenario::with_shapes).
//! Each is one customer with one active monthly subscription in EUR, and its MRR is
//! computed by hand in [`SHAPES`]. Prices' `tiers` and coupons' `applies_to` and
//! `currency_options` are served only when expanded, as Stripe does.

use serde_json::{Value, json};

use super::FakeState;
use super::shape_catalogue::prices_and_coupons;

/// One special customer and the MRR it must show, in euro cents.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub customer: &'static str,
    pub what: &'static str,
    pub mrr: i64,
}

pub const SHAPES: [Shape; 12] = [
    Shape {
        customer: "cus_SCustomerHalf",
        what: "customer-level forever 50 %: €29.00 / 2",
        mrr: 1_450,
    },
    Shape {
        customer: "cus_SItemCoupon",
        what: "item-level forever 25 % on 4 × €10.00 seats, €20.00 support undiscounted: €30.00 + €20.00",
        mrr: 5_000,
    },
    Shape {
        customer: "cus_SStacked",
        what: "10 % then €5.00 off, stacked on €100.00: €90.00 − €5.00",
        mrr: 8_500,
    },
    Shape {
        customer: "cus_SRestricted",
        what: "50 % off product prod_SAddon only: €29.00 + €10.00 / 2",
        mrr: 3_400,
    },
    Shape {
        customer: "cus_SOtherCurrency",
        what: "$10.00 off (usd coupon) on a eur subscription: nothing off",
        mrr: 2_900,
    },
    Shape {
        customer: "cus_SCurrencyOption",
        what: "$10.00 off with a eur option of €8.00: €29.00 − €8.00",
        mrr: 2_100,
    },
    Shape {
        customer: "cus_SPromotion",
        what: "promotion code WELCOME20 → its coupon, forever 20 %: €29.00 × 0.8",
        mrr: 2_320,
    },
    Shape {
        customer: "cus_SPackage",
        what: "€10.00 per package of 5 users, 12 users rounded up: 3 packages",
        mrr: 3_000,
    },
    Shape {
        customer: "cus_SVolume",
        what: "volume tiers (≤5 €7.00, ≤10 €6.50, then €6.00), 8 seats: 8 × €6.50",
        mrr: 5_200,
    },
    Shape {
        customer: "cus_SGraduated",
        what: "graduated (≤5 €5.00 + €10.00 flat, then €4.00 + €5.00 flat), 7 units: €35.00 + €13.00",
        mrr: 4_800,
    },
    Shape {
        customer: "cus_SFree",
        what: "a free price",
        mrr: 0,
    },
    Shape {
        customer: "cus_SMetered",
        what: "€29.00 licensed + a metered price (left out of MRR)",
        mrr: 2_900,
    },
];

/// A discount object (stored, listed by id) of `coupon` for `customer`.
fn discount(state: &mut FakeState, id: &str, coupon: &str, customer: &str, start: i64) -> String {
    let discount = json!({"id": id, "object": "discount",
        "source": {"type": "coupon", "coupon": coupon}, "customer": customer,
        "subscription": null, "subscription_item": null, "start": start, "end": null,
        "promotion_code": null, "invoice": null, "invoice_item": null});
    state.objects.insert(id.to_owned(), discount);
    id.to_owned()
}

/// One item: a price, its quantity (`None` for metered), its discounts' ids.
type Item<'a> = (&'a str, Option<u64>, Vec<String>);

fn customer(
    state: &mut FakeState,
    id: &str,
    at: i64,
    items: Vec<Item<'_>>,
    discounts: Vec<String>,
) {
    let email = format!("{}@example.com", id.to_ascii_lowercase());
    state.add(
        "customers",
        json!({"id": id, "object": "customer", "created": at,
        "email": email, "name": "Shape Customer", "address": null, "currency": "eur",
        "discount": null, "invoice_settings": {"default_payment_method": null},
        "metadata": {}, "livemode": false}),
    );
    let sub = id.replacen("cus_", "sub_", 1);
    let items: Vec<Value> = items
        .into_iter()
        .enumerate()
        .map(|(k, (price, quantity, discounts))| {
            json!({"id": format!("si_{}x{k}", &sub[4..]), "object": "subscription_item",
            "created": at, "quantity": quantity, "price": state.objects[price].clone(),
            "subscription": sub, "metadata": {}, "discounts": discounts,
            "current_period_start": at, "current_period_end": at + 30 * 86_400})
        })
        .collect();
    state.add(
        "subscriptions",
        json!({"id": sub, "object": "subscription", "customer": id,
        "status": "active", "created": at, "start_date": at, "currency": "eur",
        "items": {"object": "list", "has_more": false, "data": items,
            "url": format!("/v1/subscription_items?subscription={sub}")},
        "discounts": discounts, "trial_start": null, "trial_end": null,
        "cancel_at_period_end": false, "cancel_at": null, "canceled_at": null,
        "ended_at": null, "default_payment_method": null, "metadata": {}, "livemode": false,
        "collection_method": "charge_automatically"}),
    );
}

/// Adds the shape customers, created a minute apart from `start` on.
pub(super) fn add(state: &mut FakeState, start: i64) {
    prices_and_coupons(state);
    let at = |k: i64| start + k * 60;
    let none = Vec::new;

    customer(
        state,
        "cus_SCustomerHalf",
        at(0),
        vec![("price_SPro", Some(1), none())],
        none(),
    );
    let half = json!({"id": "di_SCustomerHalf", "object": "discount",
        "source": {"type": "coupon", "coupon": "co_SHalf"}, "customer": "cus_SCustomerHalf",
        "subscription": null, "subscription_item": null, "start": at(0), "end": null,
        "promotion_code": null});
    if let Some(customer) = state.objects.get_mut("cus_SCustomerHalf") {
        customer["discount"] = half;
    }

    let quarter = discount(
        state,
        "di_SItemQuarter",
        "co_SQuarter",
        "cus_SItemCoupon",
        at(1),
    );
    customer(
        state,
        "cus_SItemCoupon",
        at(1),
        vec![
            ("price_SSeat", Some(4), vec![quarter]),
            ("price_SSupport", Some(1), none()),
        ],
        none(),
    );

    let ten = discount(state, "di_SStackedTen", "co_STen", "cus_SStacked", at(2));
    let five = discount(
        state,
        "di_SStackedFive",
        "co_SFiveOff",
        "cus_SStacked",
        at(2),
    );
    customer(
        state,
        "cus_SStacked",
        at(2),
        vec![("price_SBig", Some(1), none())],
        vec![ten, five],
    );

    let addon = discount(
        state,
        "di_SRestricted",
        "co_SAddonHalf",
        "cus_SRestricted",
        at(3),
    );
    customer(
        state,
        "cus_SRestricted",
        at(3),
        vec![
            ("price_SPro", Some(1), none()),
            ("price_SAddon", Some(1), none()),
        ],
        vec![addon],
    );

    let usd = discount(
        state,
        "di_SOtherCurrency",
        "co_SUsdTen",
        "cus_SOtherCurrency",
        at(4),
    );
    customer(
        state,
        "cus_SOtherCurrency",
        at(4),
        vec![("price_SPro", Some(1), none())],
        vec![usd],
    );

    let option = discount(
        state,
        "di_SCurrencyOption",
        "co_SUsdTenEur",
        "cus_SCurrencyOption",
        at(5),
    );
    customer(
        state,
        "cus_SCurrencyOption",
        at(5),
        vec![("price_SPro", Some(1), none())],
        vec![option],
    );

    let promo = discount(
        state,
        "di_SPromotion",
        "co_SWelcome",
        "cus_SPromotion",
        at(6),
    );
    if let Some(discount) = state.objects.get_mut(&promo) {
        discount["promotion_code"] = json!("promo_SWelcome");
    }
    customer(
        state,
        "cus_SPromotion",
        at(6),
        vec![("price_SPro", Some(1), none())],
        vec![promo],
    );

    customer(
        state,
        "cus_SPackage",
        at(7),
        vec![("price_SPackage", Some(12), none())],
        none(),
    );
    customer(
        state,
        "cus_SVolume",
        at(8),
        vec![("price_SVolume", Some(8), none())],
        none(),
    );
    customer(
        state,
        "cus_SGraduated",
        at(9),
        vec![("price_SGraduated", Some(7), none())],
        none(),
    );
    customer(
        state,
        "cus_SFree",
        at(10),
        vec![("price_SFree", Some(1), none())],
        none(),
    );
    customer(
        state,
        "cus_SMetered",
        at(11),
        vec![
            ("price_SPro", Some(1), none()),
            ("price_SMetered", None, none()),
        ],
        none(),
    );
}
