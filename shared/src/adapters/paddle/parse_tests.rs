//! Parsing Paddle's entities, each test in the shape of the example of Paddle's API
//! reference it names.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::parse::{
    self, Discount, billing_cycle, decode, discount_terms, minor_units, percent_bp,
};
use crate::domain::billing::{CouponDuration, Interval, SubscriptionStatus};

#[test]
fn amounts_are_strings_of_the_lowest_denomination() {
    // "Work with money" (Paddle's API reference): "1000" USD is $10.00, JPY has no
    // minor unit so "1000" JPY is ¥1000.
    assert_eq!(minor_units("1000").unwrap(), 1000);
    assert_eq!(minor_units("0").unwrap(), 0);
    assert_eq!(minor_units("-250").unwrap(), -250);
    for bad in ["", "10.00", "1e3", " 10", "-", "9999999999999999999"] {
        assert!(minor_units(bad).is_err(), "{bad}");
    }
}

#[test]
fn percentage_discounts_are_basis_points() {
    // "Discount object": `amount` is "10" for 10 % on a `percentage` discount.
    assert_eq!(percent_bp("10").unwrap(), 1000);
    assert_eq!(percent_bp("12.5").unwrap(), 1250);
    assert_eq!(percent_bp("100").unwrap(), 10_000);
    for bad in ["", "101", "1.234", "ten", "-5"] {
        assert!(percent_bp(bad).is_err(), "{bad}");
    }
}

#[test]
fn billing_cycles_are_an_interval_and_a_frequency() {
    // "Price object": `billing_cycle: {"interval": "month", "frequency": 1}`, and the
    // annual plan `{"interval": "year", "frequency": 1}`.
    assert_eq!(billing_cycle("month", 1).unwrap(), (Interval::Month, 1));
    assert_eq!(billing_cycle("year", 1).unwrap(), (Interval::Year, 1));
    assert_eq!(billing_cycle("week", 2).unwrap(), (Interval::Week, 2));
    assert!(billing_cycle("month", 0).is_err());
    assert!(billing_cycle("quarter", 1).is_err());
}

fn discount(kind: &str, amount: &str, recur: bool, max: Option<u32>) -> Discount {
    // "Discount object" example: dsc_01gv5kpg05xp104ek2fmgjwttf.
    decode(
        "discount",
        &json!({"id": "dsc_01gv5kpg05xp104ek2fmgjwttf", "status": "active",
            "description": "Nonprofit discount", "enabled_for_checkout": true, "code": "ORGAID",
            "type": kind, "amount": amount, "currency_code": "USD", "recur": recur,
            "maximum_recurring_intervals": max, "usage_limit": 1000, "restrict_to": ["pro_01gsz4t5hdjse780zja8vvr7jg"],
            "expires_at": null, "times_used": 3, "created_at": "2023-03-13T08:20:41.125Z",
            "updated_at": "2023-03-13T08:20:41.125Z"}),
    )
    .unwrap()
}

#[test]
fn discount_types_map_to_percent_or_amount_terms() {
    let percent = discount_terms(
        &discount("percentage", "10", true, None),
        None,
        None,
        1,
        Some(1),
    )
    .unwrap();
    assert_eq!(percent.percent_off_bp, Some(1000));
    assert_eq!(percent.duration, CouponDuration::Forever);
    assert_eq!(
        percent.applies_to_products,
        vec!["pro_01gsz4t5hdjse780zja8vvr7jg"]
    );
    assert_eq!(percent.promotion_code.as_deref(), Some("ORGAID"));

    let flat = discount_terms(
        &discount("flat", "500", false, None),
        None,
        None,
        3,
        Some(1),
    )
    .unwrap();
    assert_eq!(
        (flat.amount_off, flat.currency.as_deref()),
        (Some(500), Some("usd"))
    );
    assert_eq!(flat.duration, CouponDuration::Once);

    // A flat amount per seat is that amount for each unit the items hold.
    let per_seat = discount_terms(
        &discount("flat_per_seat", "200", true, Some(3)),
        None,
        None,
        5,
        Some(12),
    )
    .unwrap();
    assert_eq!(per_seat.amount_off, Some(1000));
    assert_eq!(per_seat.duration, CouponDuration::Repeating);
    assert_eq!(
        per_seat.duration_in_months,
        Some(36),
        "three annual intervals"
    );
    assert!(discount_terms(&discount("bogus", "1", true, None), None, None, 1, None).is_err());
}

/// A subscription in the shape of "Subscription object" (Paddle's example
/// sub_01hv8y5ehszzq0yv20ttx3166y), with what Tally must not keep (names, addresses).
fn subscription_value() -> Value {
    let items = json!([
        {"status": "active", "quantity": 10, "recurring": true,
         "created_at": "2024-04-12T10:38:00.761Z", "updated_at": "2024-04-12T10:38:00.761Z",
         "previously_billed_at": "2024-04-12T10:37:59.556997Z", "next_billed_at": "2024-05-12T10:37:59.556997Z",
         "trial_dates": null,
         "price": {"id": "pri_01gsz8x8sawmvhz1pv30nge1ke", "product_id": "pro_01gsz4t5hdjse780zja8vvr7jg",
            "type": "standard", "description": "Monthly (per seat)", "name": "Monthly (per seat)",
            "tax_mode": "account_setting", "billing_cycle": {"frequency": 1, "interval": "month"},
            "trial_period": null, "unit_price": {"amount": "3000", "currency_code": "USD"},
            "unit_price_overrides": [{"country_codes": ["GB"], "unit_price": {"amount": "2500", "currency_code": "GBP"}}],
            "quantity": {"minimum": 1, "maximum": 999}, "status": "active"}},
        {"status": "active", "quantity": 1, "recurring": false, "trial_dates": null,
         "price": {"id": "pri_01gsz98e27ak2tyhexptwc58yk", "product_id": "pro_01gsz97mq9pa4fkyy0wqenepkz",
            "name": "One-time setup", "billing_cycle": null,
            "unit_price": {"amount": "19900", "currency_code": "USD"}}}
    ]);
    json!({
        "id": "sub_01hv8y5ehszzq0yv20ttx3166y", "status": "active",
        "customer_id": "ctm_01hv8wt8nffez4p2t6typn4a5j", "address_id": "add_01hv8y4jk511j9g2n9a2mexjbx",
        "business_id": null, "currency_code": "USD",
        "created_at": "2024-04-12T10:38:00.761Z", "updated_at": "2024-04-12T10:38:00.761Z",
        "started_at": "2024-04-12T10:37:59.556997Z", "first_billed_at": "2024-04-12T10:37:59.556997Z",
        "next_billed_at": "2024-05-12T10:37:59.556997Z", "paused_at": null, "canceled_at": null,
        "collection_mode": "automatic", "billing_details": null,
        "current_billing_period": {"starts_at": "2024-04-12T10:37:59.556997Z", "ends_at": "2024-05-12T10:37:59.556997Z"},
        "billing_cycle": {"frequency": 1, "interval": "month"},
        "scheduled_change": {"action": "cancel", "effective_at": "2024-05-12T10:37:59.556997Z", "resume_at": null},
        "discount": {"id": "dsc_01gv5kpg05xp104ek2fmgjwttf", "starts_at": "2024-04-12T10:37:59.556997Z", "ends_at": null},
        "items": items,
        "custom_data": {"crm": "secret"}, "management_urls": {"update_payment_method": "https://x", "cancel": "https://y"}
    })
}

#[test]
fn a_subscription_keeps_recurring_items_its_discount_and_scheduled_cancel() {
    let terms = discount("percentage", "10", true, None);
    let discounts = HashMap::from([(terms.id.clone(), terms)]);
    let sub = parse::subscription(&subscription_value(), &discounts).unwrap();
    assert_eq!(sub.status, SubscriptionStatus::Active);
    assert_eq!(sub.currency, "usd");
    assert_eq!(
        sub.items.len(),
        1,
        "the one-time setup item is not recurring"
    );
    let item = &sub.items[0];
    assert_eq!(item.quantity, 10);
    assert_eq!(item.price.unit_amount, Some(3000));
    assert_eq!(
        (item.price.interval, item.price.interval_count),
        (Some(Interval::Month), 1)
    );
    assert_eq!(sub.discounts[0].percent_off_bp, Some(1000));
    assert!(sub.cancel_at_period_end);
    assert_eq!(
        sub.cancel_at,
        parse::seconds("2024-05-12T10:37:59.556997Z").ok()
    );
    assert!(sub.ended_at.is_none() && sub.paused_at.is_none());
    let stored = serde_json::to_string(&sub).unwrap();
    assert!(
        !stored.contains("secret") && !stored.contains("add_01"),
        "{stored}"
    );
}

#[test]
fn a_paused_subscription_keeps_when_it_paused() {
    let mut value = subscription_value();
    value["status"] = json!("paused");
    value["paused_at"] = json!("2024-04-20T00:00:00Z");
    value["scheduled_change"] = json!({"action": "resume", "effective_at": "2024-06-01T00:00:00Z", "resume_at": "2024-06-01T00:00:00Z"});
    value["discount"] = Value::Null;
    let sub = parse::subscription(&value, &HashMap::new()).unwrap();
    assert_eq!(sub.status, SubscriptionStatus::Paused);
    assert_eq!(sub.paused_at, parse::seconds("2024-04-20T00:00:00Z").ok());
    assert_eq!(sub.cancel_at, None);
}

/// A transaction in the shape of "Transaction object" (example
/// txn_01hv8wptq8987qeep44cyrewp9), completed with a captured card payment after a
/// declined one.
fn transaction_value() -> Value {
    let payments = json!([
        {"payment_attempt_id": "a4a1a6e8-8ab0-4b34-9a6c-1b0dca4e4b9a", "stored_payment_method_id": "b3b2",
         "payment_method_id": "paymtd_01hv8x1tpjfnttxddw73xnqx6s", "amount": "32400", "status": "captured",
         "error_code": null,
         "method_details": {"type": "card", "card": {"type": "visa", "last4": "4242",
            "expiry_month": 5, "expiry_year": 2025, "cardholder_name": "Sam Miller"}},
         "created_at": "2024-04-12T10:18:48.294633Z", "captured_at": "2024-04-12T10:18:49.621022Z"},
        {"payment_attempt_id": "0a8b2c1d-1111-4222-8333-944455556666", "stored_payment_method_id": "c4c3",
         "payment_method_id": "paymtd_01hv8x1tpjfnttxddw73xnqx6s", "amount": "32400", "status": "error",
         "error_code": "declined",
         "method_details": {"type": "card", "card": {"type": "mastercard", "last4": "0005",
            "expiry_month": 1, "expiry_year": 2024, "cardholder_name": "Sam Miller"}},
         "created_at": "2024-04-12T10:15:00Z", "captured_at": null}
    ]);
    let details = json!({
            "totals": {"subtotal": "30000", "discount": "3000", "tax": "5400", "total": "32400",
                "credit": "0", "balance": "0", "grand_total": "32400", "fee": "1650", "earnings": "25350",
                "currency_code": "USD"},
            "line_items": [{"id": "txnitm_01hv8wt98jahpbm1t1tzr06z6n", "price_id": "pri_01gsz8x8sawmvhz1pv30nge1ke",
                "quantity": 10, "proration": null, "tax_rate": "0.2",
                "unit_totals": {"subtotal": "3000", "discount": "300", "tax": "540", "total": "3240"},
                "totals": {"subtotal": "30000", "discount": "3000", "tax": "5400", "total": "32400"},
                "product": {"id": "pro_01gsz4t5hdjse780zja8vvr7jg", "name": "AeroEdit Student"}}]
    });
    json!({
        "id": "txn_01hv8wptq8987qeep44cyrewp9", "status": "completed",
        "customer_id": "ctm_01hv8wt8nffez4p2t6typn4a5j", "address_id": "add_01hv8wt8nffez4p2t6typn4a5j",
        "subscription_id": "sub_01hv8y5ehszzq0yv20ttx3166y", "currency_code": "USD",
        "origin": "subscription_recurring", "invoice_number": "325-10566",
        "created_at": "2024-04-12T10:12:33.2014Z", "billed_at": "2024-04-12T10:18:47.635628Z",
        "billing_period": {"starts_at": "2024-04-12T10:18:47.635628Z", "ends_at": "2024-05-12T10:18:47.635628Z"},
        "items": [{"price": {"id": "pri_01gsz8x8sawmvhz1pv30nge1ke", "product_id": "pro_01gsz4t5hdjse780zja8vvr7jg",
            "name": "Monthly (per seat)", "billing_cycle": {"frequency": 1, "interval": "month"},
            "unit_price": {"amount": "3000", "currency_code": "USD"}}, "quantity": 10, "proration": null}],
        "details": details,
        "payments": payments
    })
}

#[test]
fn a_transaction_is_an_invoice_with_lines_and_a_charge_per_payment_attempt() {
    let invoice = parse::invoice(&transaction_value()).unwrap();
    assert_eq!(invoice.status.as_deref(), Some("paid"));
    assert_eq!(
        (invoice.total, invoice.tax, invoice.amount_paid),
        (32400, 5400, 32400)
    );
    assert_eq!(
        invoice.billing_reason.as_deref(),
        Some("subscription_cycle")
    );
    let line = &invoice.lines[0];
    assert_eq!(line.amount, 27000, "before tax, after the line's discount");
    assert_eq!(line.quantity, Some(10));
    assert_eq!(line.price.as_ref().and_then(|p| p.unit_amount), Some(3000));
    assert_eq!(line.period_start, invoice.period_start);
    assert_eq!(
        line.subscription_item.as_deref(),
        Some("sub_01hv8y5ehszzq0yv20ttx3166y_pri_01gsz8x8sawmvhz1pv30nge1ke")
    );

    let charges = parse::charges(&transaction_value()).unwrap();
    assert_eq!(charges.len(), 2);
    let captured = &charges[0];
    assert_eq!(
        captured.id, "txn_01hv8wptq8987qeep44cyrewp9",
        "refunds name it"
    );
    assert_eq!(captured.status, "succeeded");
    let card = captured.card.as_ref().unwrap();
    assert_eq!(
        (card.brand.as_deref(), card.exp_month, card.exp_year),
        (Some("visa"), Some(5), Some(2025))
    );
    assert_eq!(charges[1].status, "failed");
    assert_eq!(charges[1].failure_code.as_deref(), Some("declined"));
    let stored = serde_json::to_string(&charges).unwrap();
    assert!(
        !stored.contains("4242") && !stored.contains("Sam Miller"),
        "{stored}"
    );
}

#[test]
fn refunds_and_chargebacks_are_refunds_of_the_transaction_and_credits_are_not() {
    // "Adjustment object" example adj_01hvgf2s84dr6reszzg29zbvcm.
    let adjustment = |action: &str, status: &str| {
        json!({"id": "adj_01hvgf2s84dr6reszzg29zbvcm", "action": action, "type": "partial",
            "transaction_id": "txn_01hv8wptq8987qeep44cyrewp9", "subscription_id": "sub_01hv8y5ehszzq0yv20ttx3166y",
            "customer_id": "ctm_01hv8wt8nffez4p2t6typn4a5j", "reason": "error", "credit_applied_to_balance": null,
            "currency_code": "USD", "status": status,
            "items": [], "totals": {"subtotal": "3000", "tax": "540", "total": "3540", "fee": "177",
                "earnings": "3363", "currency_code": "USD"},
            "created_at": "2024-04-15T08:48:20.239695Z", "updated_at": "2024-04-15T08:48:20.239695Z"})
    };
    let refund = parse::refund(&adjustment("refund", "approved"))
        .unwrap()
        .unwrap();
    assert_eq!(
        refund.charge.as_deref(),
        Some("txn_01hv8wptq8987qeep44cyrewp9")
    );
    assert_eq!((refund.amount, refund.currency.as_str()), (3540, "usd"));
    assert_eq!(refund.status.as_deref(), Some("succeeded"));
    let pending = parse::refund(&adjustment("refund", "pending_approval"))
        .unwrap()
        .unwrap();
    assert_eq!(pending.status.as_deref(), Some("pending_approval"));
    let chargeback = parse::refund(&adjustment("chargeback", "approved")).unwrap();
    assert!(chargeback.is_some());
    assert!(
        parse::refund(&adjustment("credit", "approved"))
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_customer_keeps_email_city_and_country_only() {
    // "Customer object" example ctm_01hv6y1jedq4p1n0yqn5ba3ky4.
    let value = json!({"id": "ctm_01hv6y1jedq4p1n0yqn5ba3ky4", "name": "Jo Brown",
        "email": "jo@example.com", "marketing_consent": false, "status": "active",
        "custom_data": null, "locale": "en", "created_at": "2024-04-11T15:57:24.813Z",
        "updated_at": "2024-04-11T15:57:24.813Z", "import_meta": null});
    let place: parse::Place = decode(
        "address",
        &json!({"id": "add_1", "first_line": "4050 Jefferson Plaza",
        "city": "Astoria", "postal_code": "11105-1803", "region": "NY", "country_code": "us"}),
    )
    .unwrap();
    let customer = parse::customer(&value, Some(&place)).unwrap();
    assert_eq!(customer.email.as_deref(), Some("jo@example.com"));
    assert_eq!(customer.city.as_deref(), Some("Astoria"));
    assert_eq!(customer.country.as_deref(), Some("US"));
    let stored = serde_json::to_string(&customer).unwrap();
    assert!(!stored.contains("Jefferson") && !stored.contains("Jo Brown"));
}
