//! Parsing against Stripe's own fixtures for API 2026-07-29 (today's shapes), and
//! against synthetic objects full of what must never be kept.

use serde_json::{Value, json};

use super::parse::{self, PriceBook};
use crate::domain::billing::{CouponDuration, Interval, SubscriptionStatus, UsageType};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/reference/stripe/fixtures3.json"
);

pub(super) fn fixture(resource: &str) -> Value {
    let text = std::fs::read_to_string(FIXTURES).expect("the Stripe fixtures are readable");
    let all: Value = serde_json::from_str(&text).expect("the fixtures are JSON");
    all["resources"][resource].clone()
}

fn assert_leaves_out(serialized: &str, values: &[&str]) {
    for value in values {
        assert!(
            !serialized.contains(value),
            "{value:?} leaked into {serialized}"
        );
    }
}

#[test]
fn a_customer_fixture_parses() {
    // The fixture's discount names no coupon; the connector inlines the coupon.
    let mut customer = fixture("customer");
    customer["discount"]["source"]["coupon"] = fixture("coupon");
    let c = parse::customer(&customer).unwrap();
    assert_eq!(c.id, "cus_QXg1o8vcGmoR32");
    assert_eq!(c.created, 1234567890);
    assert_eq!((c.email, c.city, c.country), (None, None, None));
    assert!(!c.deleted);
}

#[test]
fn a_deleted_customer_fixture_is_a_deleted_record() {
    let c = parse::customer(&fixture("deleted_customer")).unwrap();
    assert!(c.deleted);
    assert_eq!(c.id, "cus_QXg1o8vcGmoR32");
}

#[test]
fn a_subscription_fixture_parses_with_periods_from_its_items() {
    let s = parse::subscription(&fixture("subscription")).unwrap();
    assert_eq!(s.status, SubscriptionStatus::Active);
    assert_eq!(s.customer, "cus_QXg1o8vcGmoR32");
    assert!(s.cancel_at_period_end);
    assert_eq!(s.trial_start, Some(1234567890));
    let item = &s.items[0];
    assert_eq!(item.id, "si_QXhVnC2h0Jczwc");
    assert_eq!(item.quantity, 1);
    assert_eq!(item.current_period_start, Some(1896570518));
    assert_eq!(item.current_period_end, Some(976287773));
    assert_eq!(item.price.interval, Some(Interval::Month));
    assert_eq!(item.price.interval_count, 1);
    assert_eq!(item.price.unit_amount, Some(2000));
    assert_eq!(item.price.usage_type, UsageType::Licensed);
    assert_eq!(item.price.product.as_deref(), Some("prod_QXg1hqf4jFNsqG"));
}

#[test]
fn expanded_discounts_carry_their_coupon_terms_in_basis_points() {
    let mut sub = fixture("subscription");
    let mut discount = fixture("discount");
    discount["source"]["coupon"] = fixture("coupon");
    sub["discounts"] = json!([discount]);
    let s = parse::subscription(&sub).unwrap();
    let d = &s.discounts[0];
    assert_eq!(d.coupon_id, "Z4OV52SU");
    assert_eq!(d.percent_off_bp, Some(2550));
    assert_eq!(d.duration, CouponDuration::Forever);
    assert_eq!((d.start, d.end), (Some(1234567890), Some(1234567890)));
}

#[test]
fn an_unexpanded_discount_is_an_error_not_a_silent_drop() {
    let mut sub = fixture("subscription");
    sub["discounts"] = json!(["di_123"]);
    let err = parse::subscription(&sub).unwrap_err();
    assert!(err.to_string().contains("discounts[0]"));
    let mut discount = fixture("discount");
    discount["source"]["coupon"] = json!("Z4OV52SU");
    sub["discounts"] = json!([discount]);
    assert!(parse::subscription(&sub).is_err());
}

#[test]
fn older_shapes_still_parse() {
    let mut sub = fixture("subscription");
    let item = &mut sub["items"]["data"][0];
    item.as_object_mut().unwrap().remove("current_period_start");
    item.as_object_mut().unwrap().remove("current_period_end");
    sub["current_period_start"] = json!(100);
    sub["current_period_end"] = json!(200);
    let mut discount = fixture("discount");
    discount.as_object_mut().unwrap().remove("source");
    discount["coupon"] = fixture("coupon");
    sub["discounts"] = json!([discount]);
    let s = parse::subscription(&sub).unwrap();
    assert_eq!(s.items[0].current_period_start, Some(100));
    assert_eq!(s.discounts[0].percent_off_bp, Some(2550));
}

#[test]
fn an_invoice_fixture_parses_with_its_lines() {
    let i = parse::invoice(&fixture("invoice"), &PriceBook::new()).unwrap();
    assert_eq!(i.id, "in_1Pgc6tB7WZ01zgkWu9fdqL6I");
    assert_eq!(
        (i.amount_due, i.amount_paid, i.total, i.tax),
        (1000, 0, 1000, 0)
    );
    assert_eq!(i.status.as_deref(), Some("draft"));
    assert_eq!(i.billing_reason.as_deref(), Some("manual"));
    let line = &i.lines[0];
    assert_eq!(line.id, "il_1Pgc6sB7WZ01zgkWFnxLrLCq");
    assert_eq!((line.amount, line.quantity), (1000, Some(1)));
    assert_eq!(
        (line.period_start, line.period_end),
        (Some(1721954054), Some(1721954054))
    );
    assert!(line.proration, "from parent.invoice_item_details");
    assert_eq!(line.price, None, "the fixture's pricing names no price");
}

#[test]
fn invoice_lines_get_price_terms_by_id_and_taxes_are_summed() {
    let mut invoice = fixture("invoice");
    invoice["total_taxes"] = json!([{"amount": 150}, {"amount": 40}]);
    invoice["lines"]["data"][0]["pricing"]["price_details"] =
        json!({"price": "price_1PgafmB7WZ01zgkW6dKueIc5", "product": "prod_QXg1hqf4jFNsqG"});
    assert_eq!(
        parse::invoice_price_ids(&invoice).unwrap(),
        vec!["price_1PgafmB7WZ01zgkW6dKueIc5".to_owned()]
    );
    let terms = parse::price(&fixture("price")).unwrap();
    let book: PriceBook = [(terms.id.clone(), terms)].into_iter().collect();
    let i = parse::invoice(&invoice, &book).unwrap();
    assert_eq!(i.tax, 190);
    assert_eq!(
        i.lines[0].price.as_ref().unwrap().interval,
        Some(Interval::Month)
    );
    invoice["lines"]["data"][0]["pricing"]["price_details"]["price"] = fixture("price");
    assert!(parse::invoice_price_ids(&invoice).unwrap().is_empty());
    let i = parse::invoice(&invoice, &PriceBook::new()).unwrap();
    assert_eq!(i.lines[0].price.as_ref().unwrap().unit_amount, Some(2000));
}

#[test]
fn a_charge_fixture_keeps_only_the_card_facts() {
    let c = parse::charge(&fixture("charge")).unwrap();
    assert_eq!(c.id, "ch_1PgafuB7WZ01zgkWXYmPNZs8");
    assert_eq!(c.payment_method_type.as_deref(), Some("card"));
    let card = c.card.clone().unwrap();
    assert_eq!(card.brand.as_deref(), Some("visa"));
    assert_eq!(card.funding.as_deref(), Some("credit"));
    assert_eq!((card.exp_month, card.exp_year), (Some(8), Some(2030)));
    assert_eq!(card.country.as_deref(), Some("US"));
    let serialized = serde_json::to_string(&c).unwrap();
    assert_leaves_out(
        &serialized,
        &["4242", "AOB934RVNwzk6xtn", "Jenny Rosen", "receipts"],
    );
}

#[test]
fn refund_and_payment_method_fixtures_parse() {
    let r = parse::refund(&fixture("refund")).unwrap();
    assert_eq!(r.charge.as_deref(), Some("ch_1PgafuB7WZ01zgkWXYmPNZs8"));
    assert_eq!((r.amount, r.status.as_deref()), (100, Some("succeeded")));
    let p = parse::payment_method(&fixture("payment_method")).unwrap();
    assert_eq!(p.method_type, "card");
    assert_eq!(p.card.as_ref().unwrap().brand.as_deref(), Some("visa"));
    let serialized = serde_json::to_string(&p).unwrap();
    assert_leaves_out(
        &serialized,
        &[
            "4242",
            "AOB934RVNwzk6xtn",
            "Fake Street",
            "94102",
            "jenny@",
            "5555",
        ],
    );
}

#[test]
fn synthetic_sensitive_objects_leave_nothing_sensitive_behind() {
    let card = json!({
        "brand": "American Express", "funding": "credit", "exp_month": 12, "exp_year": 2031,
        "country": "de", "last4": "4242", "fingerprint": "fp_SENSITIVE",
        "number": "4242424242424242", "cvc": "123",
        "checks": {"cvc_check": "pass_SENSITIVE"},
        "wallet": {"dynamic_last4": "9999"}, "network_token": {"used": true}
    });
    let address = json!({"line1": "1 Secret Road", "line2": "Flat 9", "postal_code": "10115",
        "state": "Berlin-State", "city": "Berlin", "country": "de"});
    let customer = json!({"id": "cus_1", "object": "customer", "created": 1, "email": "a@example.com",
        "name": "Erika Mustermann", "phone": "+4930123", "address": address,
        "shipping": {"address": address, "name": "Erika Mustermann"},
        "metadata": {"note": "meta_SENSITIVE"}, "description": "desc_SENSITIVE",
        "invoice_settings": {"default_payment_method": {"id": "pm_1", "card": card}}});
    let charge = json!({"id": "ch_1", "object": "charge", "amount": 100, "currency": "EUR",
        "status": "failed", "created": 1, "failure_code": "card_declined",
        "billing_details": {"address": address, "name": "Erika Mustermann"},
        "metadata": {"note": "meta_SENSITIVE"}, "payment_method": "pm_1",
        "payment_method_details": {"type": "card", "card": card}});
    let payment_method = json!({"id": "pm_1", "object": "payment_method", "type": "card",
        "created": 1, "customer": {"id": "cus_1", "email": "a@example.com"}, "card": card,
        "billing_details": {"address": address}, "metadata": {"note": "meta_SENSITIVE"}});
    let c = parse::customer(&customer).unwrap();
    assert_eq!(
        (c.city.as_deref(), c.country.as_deref()),
        (Some("Berlin"), Some("DE"))
    );
    assert_eq!(c.default_payment_method.as_deref(), Some("pm_1"));
    let ch = parse::charge(&charge).unwrap();
    assert_eq!(ch.card.as_ref().unwrap().brand.as_deref(), Some("amex"));
    assert_eq!(ch.currency, "eur");
    let pm = parse::payment_method(&payment_method).unwrap();
    assert_eq!(pm.customer.as_deref(), Some("cus_1"));
    let serialized = [
        serde_json::to_string(&c).unwrap(),
        serde_json::to_string(&ch).unwrap(),
        serde_json::to_string(&pm).unwrap(),
    ]
    .concat();
    assert_leaves_out(
        &serialized,
        &[
            "4242",
            "fp_SENSITIVE",
            "SENSITIVE",
            "Secret Road",
            "Flat 9",
            "10115",
            "Berlin-State",
            "Mustermann",
            "+4930123",
            "9999",
            "last4",
            "fingerprint",
            "number",
            "cvc",
        ],
    );
}

#[test]
fn shape_errors_name_the_path_never_the_value() {
    let mut charge = fixture("charge");
    charge["payment_method_details"]["card"]["exp_month"] = json!("4242-SENSITIVE");
    let err = parse::charge(&charge).unwrap_err().to_string();
    assert!(
        err.contains("payment_method_details.card.exp_month"),
        "{err}"
    );
    assert!(!err.contains("SENSITIVE"), "{err}");
}
