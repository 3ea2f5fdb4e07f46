//! The account behind the fake Paddle, generated around "now" so its subscriptions are
//! current: six customers in four countries, a monthly and an annual price, a 10 %
//! recurring discount, and one subscription each —
//!
//! | customer | subscription | MRR (USD cents) |
//! |---|---|---|
//! | 0, Berlin DE | [`MONTHLY_SUB`]: monthly 30.00 × 1 | 3,000 |
//! | 1, Paris FR | [`ANNUAL_SUB`]: annual 360.00 × 2 | 72,000 / 12 = 6,000 |
//! | 2, New York US | [`DISCOUNTED_SUB`]: monthly 30.00 × 3, 10 % off forever | 9,000 × 0.9 = 8,100 |
//! | 3, London GB | trialing monthly | 0 (a trial is not revenue) |
//! | 4, Berlin DE | canceled 30 days ago | 0 |
//! | 5, Paris FR | [`CANCELING_SUB`]: monthly 30.00 × 1, canceling at period end | 3,000 |
//!
//! [`MRR_CENTS`] = 3,000 + 6,000 + 8,100 + 3,000 = 20,100. Every billed subscription
//! has a completed transaction paid by card (whose last4 and cardholder name Tally must
//! not keep); customer 0's is [`REFUNDED_TXN`], customer 1's [`CHARGEBACK_TXN`].

use serde_json::{Value, json};

use super::{FakeState, SENSITIVE_LAST4, SENSITIVE_NAME, rfc3339};

const DAY: i64 = 86_400;

pub const MONTHLY_SUB: &str = "sub_01tscenario000000000000";
pub const ANNUAL_SUB: &str = "sub_01tscenario000000000001";
pub const DISCOUNTED_SUB: &str = "sub_01tscenario000000000002";
pub const CANCELING_SUB: &str = "sub_01tscenario000000000005";
pub const REFUNDED_TXN: &str = "txn_01tscenario000000000000";
pub const CHARGEBACK_TXN: &str = "txn_01tscenario000000000001";
/// The account's MRR, computed by hand (see the table above).
pub const MRR_CENTS: i64 = 20_100;
/// The same once [`MONTHLY_SUB`] is paused: 20,100 − 3,000.
pub const PAUSED_MRR_CENTS: i64 = 17_100;

const MONTHLY_PRICE: &str = "pri_01tscenariomonthly000000";
const ANNUAL_PRICE: &str = "pri_01tscenarioannual0000000";
const PRODUCT: &str = "pro_01tscenariotally0000000";
const DISCOUNT: &str = "dsc_01tscenario10percent000";

fn price(id: &str, amount: i64, interval: &str) -> Value {
    json!({"id": id, "product_id": PRODUCT, "type": "standard",
        "description": format!("Tally Pro, {interval}ly"), "name": format!("Pro {interval}ly"),
        "billing_cycle": {"interval": interval, "frequency": 1}, "trial_period": null,
        "tax_mode": "account_setting", "unit_price": {"amount": amount.to_string(), "currency_code": "USD"},
        "unit_price_overrides": [], "quantity": {"minimum": 1, "maximum": 100}, "status": "active",
        "custom_data": null, "import_meta": null,
        "created_at": "2024-01-01T00:00:00.000000Z", "updated_at": "2024-01-01T00:00:00.000000Z"})
}

pub(super) fn generate(state: &mut FakeState, now: i64) {
    let monthly = price(MONTHLY_PRICE, 3000, "month");
    let annual = price(ANNUAL_PRICE, 36000, "year");
    state.add(
        "discounts",
        json!({"id": DISCOUNT, "status": "active", "description": "Launch offer",
            "enabled_for_checkout": true, "code": "LAUNCH10", "type": "percentage", "amount": "10",
            "currency_code": null, "recur": true, "maximum_recurring_intervals": null,
            "usage_limit": null, "restrict_to": null, "expires_at": null, "times_used": 1,
            "custom_data": null, "import_meta": null,
            "created_at": rfc3339(now - 200 * DAY), "updated_at": rfc3339(now - 200 * DAY)}),
    );
    let places = [
        ("Berlin", "DE"),
        ("Paris", "FR"),
        ("New York", "US"),
        ("London", "GB"),
        ("Berlin", "DE"),
        ("Paris", "FR"),
    ];
    let brands = ["visa", "mastercard", "amex"];
    for (i, (city, country)) in places.iter().enumerate() {
        let created = now - 120 * DAY + i as i64 * 3600;
        let customer = format!("ctm_01tscenario00000000000{i}");
        let address = format!("add_01tscenario00000000000{i}");
        let subscription = format!("sub_01tscenario00000000000{i}");
        let transaction = format!("txn_01tscenario00000000000{i}");
        state.add(
            "customers",
            json!({"id": customer, "name": format!("Customer Secretname{i}"),
                "email": format!("customer{i}@example.com"), "marketing_consent": false,
                "status": "active", "custom_data": {"crm": "internal"}, "locale": "en",
                "created_at": rfc3339(created), "updated_at": rfc3339(created), "import_meta": null}),
        );
        state
            .addresses
            .entry(customer.clone())
            .or_default()
            .push(json!({
            "id": address, "customer_id": customer, "description": "Head office",
            "first_line": format!("{i} Secret Street"), "second_line": null, "city": city,
            "postal_code": "10115", "region": "Somewhere", "country_code": country,
            "custom_data": null, "status": "active",
            "created_at": rfc3339(created), "updated_at": rfc3339(created), "import_meta": null}));

        let (price, quantity, period) = match i {
            1 => (&annual, 2, (now - 100 * DAY, now + 265 * DAY)),
            2 => (&monthly, 3, (now - 20 * DAY, now + 10 * DAY)),
            4 => (&monthly, 1, (now - 60 * DAY, now - 30 * DAY)),
            _ => (&monthly, 1, (now - 20 * DAY, now + 10 * DAY)),
        };
        let (status, trial) = match i {
            3 => ("trialing", Some((now - 5 * DAY, now + 9 * DAY))),
            4 => ("canceled", None),
            _ => ("active", None),
        };
        let cycle = price["billing_cycle"].clone();
        let item = json!({"status": if status == "trialing" { "trialing" } else { "active" },
            "quantity": quantity, "recurring": true,
            "created_at": rfc3339(created), "updated_at": rfc3339(created),
            "previously_billed_at": rfc3339(period.0), "next_billed_at": rfc3339(period.1),
            "trial_dates": trial.map(|(s, e)| json!({"starts_at": rfc3339(s), "ends_at": rfc3339(e)})),
            "price": price, "product": {"id": PRODUCT, "name": "Tally Pro", "status": "active"}});
        let mut sub = json!({"id": subscription, "status": status, "customer_id": customer,
            "address_id": address, "business_id": null, "currency_code": "USD",
            "created_at": rfc3339(created), "updated_at": rfc3339(created),
            "started_at": rfc3339(created), "first_billed_at": rfc3339(created),
            "next_billed_at": rfc3339(period.1), "paused_at": null, "canceled_at": null,
            "collection_mode": "automatic", "billing_details": null,
            "current_billing_period": {"starts_at": rfc3339(period.0), "ends_at": rfc3339(period.1)},
            "billing_cycle": cycle, "scheduled_change": null, "discount": null,
            "items": [item], "custom_data": {"note": "internal"},
            "management_urls": {"update_payment_method": "https://example.com/secret", "cancel": "https://example.com/secret"},
            "import_meta": null});
        match i {
            2 => {
                sub["discount"] =
                    json!({"id": DISCOUNT, "starts_at": rfc3339(created), "ends_at": null});
            }
            3 => {
                sub["first_billed_at"] = Value::Null;
                sub["current_billing_period"] =
                    json!({"starts_at": rfc3339(now - 5 * DAY), "ends_at": rfc3339(now + 9 * DAY)});
            }
            4 => {
                sub["canceled_at"] = json!(rfc3339(now - 30 * DAY));
                sub["current_billing_period"] = Value::Null;
                sub["next_billed_at"] = Value::Null;
            }
            5 => {
                sub["scheduled_change"] = json!({"action": "cancel",
                    "effective_at": rfc3339(period.1), "resume_at": null});
            }
            _ => {}
        }
        state.add("subscriptions", sub);
        if i == 3 {
            continue;
        }
        let unit = price["unit_price"]["amount"]
            .as_str()
            .unwrap_or("0")
            .parse::<i64>()
            .unwrap_or(0);
        let subtotal = unit * quantity;
        let discount = if i == 2 { subtotal / 10 } else { 0 };
        let total = subtotal - discount;
        let billed = period.0 + 60;
        let card = json!({"type": brands[i % brands.len()], "last4": SENSITIVE_LAST4,
            "expiry_month": 1 + i as u32, "expiry_year": 2030, "cardholder_name": SENSITIVE_NAME});
        state.add(
            "transactions",
            json!({"id": transaction, "status": "completed", "customer_id": customer,
                "address_id": address, "business_id": null, "custom_data": null,
                "currency_code": "USD", "origin": "web", "subscription_id": subscription,
                "invoice_id": format!("inv_01tscenario00000000000{i}"), "invoice_number": format!("INV-{i}"),
                "collection_mode": "automatic", "discount_id": if i == 2 { json!(DISCOUNT) } else { Value::Null },
                "billing_details": null,
                "billing_period": {"starts_at": rfc3339(period.0), "ends_at": rfc3339(period.1)},
                "items": [{"price_id": price["id"], "price": price, "quantity": quantity, "proration": null}],
                "details": {
                    "tax_rates_used": [{"tax_rate": "0", "totals": {"subtotal": subtotal.to_string(), "discount": discount.to_string(), "tax": "0", "total": total.to_string()}}],
                    "totals": {"subtotal": subtotal.to_string(), "tax": "0", "discount": discount.to_string(),
                        "total": total.to_string(), "grand_total": total.to_string(), "fee": "0",
                        "credit": "0", "credit_to_balance": "0", "balance": "0", "earnings": total.to_string(),
                        "currency_code": "USD"},
                    "line_items": [{"id": format!("txnitm_01tscenario0000000000{i}"), "price_id": price["id"],
                        "quantity": quantity, "proration": null, "tax_rate": "0",
                        "unit_totals": {"subtotal": unit.to_string(), "discount": "0", "tax": "0", "total": unit.to_string()},
                        "totals": {"subtotal": subtotal.to_string(), "discount": discount.to_string(), "tax": "0", "total": total.to_string()},
                        "product": {"id": PRODUCT, "name": "Tally Pro"}}]},
                "payments": [{"payment_attempt_id": format!("0b5e1c3a-0000-4000-8000-00000000000{i}"),
                    "stored_payment_method_id": format!("3f8d2e1a-0000-4000-8000-00000000000{i}"),
                    "payment_method_id": format!("paymtd_01tscenario0000000000{i}"),
                    "amount": total.to_string(), "status": "captured", "error_code": null,
                    "method_details": {"type": "card", "card": card},
                    "created_at": rfc3339(billed), "captured_at": rfc3339(billed + 2)}],
                "checkout": {"url": "https://example.com/pay?_ptxn=secret"},
                "created_at": rfc3339(period.0), "updated_at": rfc3339(billed), "billed_at": rfc3339(billed)}),
        );
    }
    let first = state.objects["ctm_01tscenario000000000000"].clone();
    state.emit("customer.created", first);
}
