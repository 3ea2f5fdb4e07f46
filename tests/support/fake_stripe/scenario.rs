//! The generated account behind the fake Stripe: customers with payment methods,
//! subscriptions (monthly and annual, one canceled, one trialing, one with a `forever`
//! coupon), invoices with lines, charges (one failed) and a refund — every object in
//! Stripe's shape, and stuffed with what Tally must not keep (addresses, names,
//! phones, metadata, card last4 and fingerprints, and on customer 0's card a full
//! number).

use serde_json::{Value, json};

use super::{FakeState, SENSITIVE_CARD_NUMBER, SENSITIVE_FINGERPRINT, SENSITIVE_LAST4};

const BASE_TIME: i64 = 1_700_000_000;
const DAY: i64 = 86_400;

/// Builds the account: objects appended oldest first, lists then turned newest first.
pub(super) fn generate(state: &mut FakeState, customers: usize, lifecycle: bool, shapes: bool) {
    let product = "prod_TPro";
    for (id, amount, interval) in [
        ("price_TMonthly", 2900, "month"),
        ("price_TAnnual", 29000, "year"),
    ] {
        let price = json!({"id": id, "object": "price", "active": true, "currency": "eur",
            "product": product, "nickname": format!("Pro {interval}ly"), "unit_amount": amount,
            "unit_amount_decimal": amount.to_string(), "type": "recurring", "billing_scheme": "per_unit",
            "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed", "meter": null},
            "metadata": {}, "livemode": false, "created": BASE_TIME - DAY});
        state.objects.insert(id.to_owned(), price);
    }
    state.objects.insert(
        "co_TForever20".into(),
        json!({"id": "co_TForever20", "object": "coupon",
        "percent_off": 20.0, "amount_off": null, "currency": null, "duration": "forever",
        "duration_in_months": null, "name": "Launch 20 %", "valid": true, "metadata": {}}),
    );
    let places = [
        ("Berlin", "DE"),
        ("Paris", "FR"),
        ("New York", "US"),
        ("London", "GB"),
    ];
    let brands = [
        ("visa", "credit"),
        ("mastercard", "debit"),
        ("amex", "credit"),
    ];
    for i in 0..customers {
        let created = BASE_TIME + i as i64 * 3600;
        let (cus, pm, sub, si, inv, ch) = (
            format!("cus_T{i:06}"),
            format!("pm_T{i:06}"),
            format!("sub_T{i:06}"),
            format!("si_T{i:06}"),
            format!("in_T{i:06}"),
            format!("ch_T{i:06}"),
        );
        let (city, country) = places[i % places.len()];
        let (brand, funding) = brands[i % brands.len()];
        let email = format!("customer{i}@example.com");
        let address = json!({"line1": format!("{i} Example Street"), "line2": "Rear building",
            "postal_code": "10115", "state": "Example State", "city": city, "country": country});
        let billing = json!({"address": address, "email": email, "name": format!("Customer Number{i}"), "phone": "+49 30 5550000"});
        let mut card = json!({"brand": brand, "display_brand": brand, "funding": funding,
            "exp_month": 1 + i % 12, "exp_year": 2026 + (i % 5) as i64, "country": country,
            "last4": "1881", "fingerprint": format!("fpT{i:06}"),
            "checks": {"address_line1_check": "pass", "address_postal_code_check": "pass", "cvc_check": "pass"},
            "networks": {"available": [brand], "preferred": null}, "wallet": null,
            "three_d_secure_usage": {"supported": true}});
        if i == 0 {
            card["last4"] = json!(SENSITIVE_LAST4);
            card["fingerprint"] = json!(SENSITIVE_FINGERPRINT);
            card["number"] = json!(SENSITIVE_CARD_NUMBER);
            card["cvc"] = json!("123");
        }
        state.add("customers", json!({"id": cus, "object": "customer", "created": created,
            "email": email, "name": format!("Customer Number{i}"), "phone": "+49 30 5550000",
            "address": address, "shipping": {"address": address, "name": "Shipping Name"},
            "metadata": {"crm_id": format!("crm{i}")}, "description": "VIP customer",
            "currency": "eur", "balance": 0, "delinquent": false, "livemode": false,
            "invoice_settings": {"default_payment_method": pm, "custom_fields": null, "footer": null}}));
        state.add(
            "payment_methods",
            json!({"id": pm, "object": "payment_method", "type": "card",
            "created": created, "customer": cus, "card": card, "billing_details": billing,
            "metadata": {"note": "internal"}, "livemode": false, "allow_redisplay": "unspecified"}),
        );
        let (price, period) = if i % 2 == 0 {
            ("price_TMonthly", 30 * DAY)
        } else {
            ("price_TAnnual", 365 * DAY)
        };
        let quantity = if i == 4 { 3 } else { 1 };
        let mut subscription = json!({"id": sub, "object": "subscription", "customer": cus,
            "status": "active", "created": created, "start_date": created, "currency": "eur",
            "items": {"object": "list", "has_more": false, "url": format!("/v1/subscription_items?subscription={sub}"),
                "data": [{"id": si, "object": "subscription_item", "created": created, "quantity": quantity,
                    "price": state.objects[price].clone(), "subscription": sub, "metadata": {}, "discounts": [],
                    "current_period_start": created, "current_period_end": created + period}]},
            "discounts": [], "trial_start": null, "trial_end": null, "cancel_at_period_end": false,
            "cancel_at": null, "canceled_at": null, "ended_at": null, "default_payment_method": pm,
            "metadata": {"sales_rep": "someone"}, "livemode": false, "collection_method": "charge_automatically"});
        match i {
            1 => {
                subscription["status"] = json!("canceled");
                subscription["canceled_at"] = json!(created + 10 * DAY);
                subscription["ended_at"] = json!(created + 10 * DAY);
            }
            2 => {
                subscription["status"] = json!("trialing");
                subscription["trial_start"] = json!(created);
                subscription["trial_end"] = json!(created + 14 * DAY);
            }
            3 => {
                let discount = format!("di_T{i:06}");
                state.objects.insert(
                    discount.clone(),
                    json!({"id": discount, "object": "discount",
                    "source": {"type": "coupon", "coupon": "co_TForever20"}, "customer": cus,
                    "subscription": sub, "start": created, "end": null, "promotion_code": null}),
                );
                subscription["discounts"] = json!([discount]);
            }
            _ => {}
        }
        state.add("subscriptions", subscription);
        let line_count = if i == 5 { 12 } else { 1 };
        let unit = state.objects[price]["unit_amount"].as_i64().unwrap_or(0);
        let lines: Vec<Value> = (0..line_count).map(|k| json!({"id": format!("il_T{i:06}x{k:02}"),
            "object": "line_item", "amount": unit * quantity, "currency": "eur", "quantity": quantity,
            "description": "Secret line description", "period": {"start": created, "end": created + period},
            "pricing": {"type": "price_details", "price_details": {"price": price, "product": product},
                "unit_amount_decimal": unit.to_string()},
            "parent": {"type": "subscription_item_details", "invoice_item_details": null,
                "subscription_item_details": {"subscription": sub, "subscription_item": si,
                    "proration": k > 0, "invoice_item": null}},
            "subscription": sub, "metadata": {}, "taxes": [], "discounts": []})).collect();
        let total = unit * quantity * line_count as i64;
        state.add("invoices", json!({"id": inv, "object": "invoice", "customer": cus,
            "customer_email": email, "customer_name": format!("Customer Number{i}"), "customer_address": address,
            "status": "paid", "currency": "eur", "amount_due": total, "amount_paid": total, "total": total,
            "subtotal": total, "total_taxes": [{"amount": 0, "tax_behavior": "exclusive"}],
            "created": created, "period_start": created, "period_end": created + period,
            "status_transitions": {"paid_at": created + 60, "finalized_at": created},
            "billing_reason": "subscription_create",
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": sub, "metadata": null}},
            "lines": {"object": "list", "url": format!("/v1/invoices/{inv}/lines"), "has_more": line_count > 10,
                "data": lines.iter().take(10).cloned().collect::<Vec<_>>()}}));
        state.lines.insert(inv.clone(), lines);
        let failed = i == 4;
        state.add("charges", json!({"id": ch, "object": "charge", "amount": total,
            "amount_refunded": if i == 0 { total } else { 0 }, "currency": "eur",
            "status": if failed { "failed" } else { "succeeded" }, "paid": !failed, "created": created + 60,
            "customer": cus, "failure_code": if failed { json!("card_declined") } else { Value::Null },
            "failure_message": if failed { json!("Your card was declined.") } else { Value::Null },
            "payment_method": pm, "billing_details": billing, "receipt_email": email, "metadata": {},
            "payment_method_details": {"type": "card", "card": card}}));
        if i == 0 {
            state.add(
                "refunds",
                json!({"id": "re_T000000", "object": "refund", "amount": total,
                "charge": ch, "currency": "eur", "status": "succeeded", "created": created + DAY,
                "reason": "requested_by_customer", "metadata": {}}),
            );
        }
    }
    if shapes {
        super::shapes::add(state, BASE_TIME + customers as i64 * 3600);
    }
    for ids in state.lists.values_mut() {
        ids.reverse();
    }
    if lifecycle {
        super::lifecycle::generate(state);
    }
}
