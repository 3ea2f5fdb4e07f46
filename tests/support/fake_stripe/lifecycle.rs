//! Lifecycle shapes for the fake account (opt-in: [`super::Scenario::with_lifecycle`]),
//! all in euros and dated in 2024–2025 on month starts so that their months are
//! closed and their expected MRR is exact. Each customer has its own country, so a
//! test can read one shape alone with `filter[country]=`:
//!
//! * `cus_LUpgrade` (NL): €29 monthly from 2025-01-01, upgraded on 2025-06-10 to €59 —
//!   a `subscription_update` invoice with a credit line on the old price and a charge
//!   line on the new one, both from the change;
//! * `cus_LAnnual` (IE): €290 a year paid on 2024-08-01, paused on 2025-05-15
//!   (`status_details.paused.transitioned_at`);
//! * `cus_LPaused` (PT): €29 monthly from 2025-01-01, paid to 2025-05-01 and paused
//!   then;
//! * `cus_LCollect` (FI): €29 monthly from 2025-01-01, paid to 2025-04-01, then
//!   `pause_collection` (`mark_uncollectible`): April to June invoices uncollectible.
//!
//! [`advance`] bills the next period of every subscription that still bills (the
//! upgraded one, and the one whose collection is paused), as a renewal would.

use serde_json::{Value, json};

use super::FakeState;

const DAY: i64 = 86_400;
const PRODUCT: &str = "prod_TLife";
pub const UPGRADED: &str = "sub_LUpgrade";
pub const COLLECTION_PAUSED: &str = "sub_LCollect";

/// Midnight UTC on the first of a month (Howard Hinnant's days-from-civil).
fn month_start(year: i64, month: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * DAY
}

/// The first of the month after the month starting at `at`.
fn next_month(at: i64) -> i64 {
    // Any day of the next month, then back to its first.
    let later = at + 40 * DAY;
    let days = later.div_euclid(DAY) + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    month_start(year, month)
}

fn price(state: &mut FakeState, id: &str, nickname: &str, amount: i64, interval: &str) {
    let price = json!({"id": id, "object": "price", "active": true, "currency": "eur",
        "product": PRODUCT, "nickname": nickname, "unit_amount": amount,
        "unit_amount_decimal": amount.to_string(), "type": "recurring", "billing_scheme": "per_unit",
        "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed", "meter": null},
        "metadata": {}, "livemode": false, "created": month_start(2024, 1)});
    state.objects.insert(id.to_owned(), price);
}

/// A line of `sub`'s item (its id is set by [`invoice`]).
fn line(sub: &str, price: &Value, period: (i64, i64), amount: i64, proration: bool) -> Value {
    json!({"id": null, "object": "line_item", "amount": amount,
        "currency": "eur", "quantity": 1, "period": {"start": period.0, "end": period.1},
        "pricing": {"type": "price_details", "price_details": {"price": price["id"], "product": PRODUCT},
            "unit_amount_decimal": price["unit_amount"].as_i64().unwrap_or(0).to_string()},
        "parent": {"type": "subscription_item_details", "invoice_item_details": null,
            "subscription_item_details": {"subscription": sub, "subscription_item": format!("si_{}", &sub[4..]),
                "proration": proration, "invoice_item": null}},
        "subscription": sub, "metadata": {}, "taxes": [], "discounts": []})
}

/// Adds an invoice (newest first in its list) and returns it.
fn invoice(
    state: &mut FakeState,
    sub: &Value,
    created: i64,
    status: &str,
    reason: &str,
    lines: Vec<Value>,
) -> Value {
    let id = format!("in_{}_{created}", &sub["id"].as_str().unwrap_or("")[4..]);
    let lines: Vec<Value> = lines
        .into_iter()
        .enumerate()
        .map(|(k, mut line)| {
            line["id"] = json!(format!("il_{id}x{k:02}"));
            line
        })
        .collect();
    let total: i64 = lines
        .iter()
        .map(|l| l["amount"].as_i64().unwrap_or(0))
        .sum();
    let paid = status == "paid";
    let invoice = json!({"id": id, "object": "invoice", "customer": sub["customer"],
        "status": status, "currency": "eur", "amount_due": total, "amount_paid": if paid { total } else { 0 },
        "total": total, "subtotal": total, "total_taxes": [],
        "created": created, "period_start": created, "period_end": created,
        "status_transitions": {"paid_at": if paid { json!(created + 60) } else { Value::Null }, "finalized_at": created},
        "billing_reason": reason,
        "parent": {"type": "subscription_details", "subscription_details": {"subscription": sub["id"], "metadata": null}},
        "lines": {"object": "list", "url": format!("/v1/invoices/{id}/lines"), "has_more": false, "data": lines.clone()}});
    state.lines.insert(id.clone(), lines);
    state.objects.insert(id.clone(), invoice.clone());
    state.lists.entry("invoices").or_default().insert(0, id);
    invoice
}

fn customer(state: &mut FakeState, name: &str, country: &str, created: i64) -> String {
    let id = format!("cus_L{name}");
    state.add("customers", json!({"id": id, "object": "customer", "created": created,
        "email": format!("{}@example.com", name.to_lowercase()), "address": {"city": null, "country": country},
        "currency": "eur", "livemode": false, "metadata": {},
        "invoice_settings": {"default_payment_method": null, "custom_fields": null, "footer": null}}));
    id
}

fn subscription(
    state: &mut FakeState,
    name: &str,
    customer: &str,
    price: &str,
    period: (i64, i64),
    start: i64,
) -> Value {
    let id = format!("sub_L{name}");
    json!({"id": id, "object": "subscription", "customer": customer, "status": "active",
        "created": start, "start_date": start, "currency": "eur",
        "items": {"object": "list", "has_more": false, "url": format!("/v1/subscription_items?subscription={id}"),
            "data": [{"id": format!("si_L{name}"), "object": "subscription_item", "created": start, "quantity": 1,
                "price": state.objects[price].clone(), "subscription": id, "metadata": {}, "discounts": [],
                "current_period_start": period.0, "current_period_end": period.1}]},
        "discounts": [], "trial_start": null, "trial_end": null, "cancel_at_period_end": false,
        "cancel_at": null, "canceled_at": null, "ended_at": null, "default_payment_method": null,
        "pause_collection": null, "metadata": {}, "livemode": false, "collection_method": "charge_automatically"})
}

/// Monthly invoices of `sub` on its price from `from` (a month start), `months` of them.
fn bill_months(state: &mut FakeState, sub: &Value, from: i64, months: usize, status: &str) -> i64 {
    let price = sub["items"]["data"][0]["price"].clone();
    let amount = price["unit_amount"].as_i64().unwrap_or(0);
    let mut start = from;
    for k in 0..months {
        let end = next_month(start);
        let reason = if k == 0 && start == sub["start_date"].as_i64().unwrap_or(0) {
            "subscription_create"
        } else {
            "subscription_cycle"
        };
        let id = sub["id"].as_str().unwrap_or("");
        invoice(
            state,
            sub,
            start,
            status,
            reason,
            vec![line(id, &price, (start, end), amount, false)],
        );
        start = end;
    }
    start
}

/// Pauses a subscription at `at` (the pause endpoint's shape).
fn pause(sub: &mut Value, at: i64) {
    sub["status"] = json!("paused");
    sub["status_details"] = json!({"paused": {"type": "subscription", "transitioned_at": at}});
}

/// Adds the four shapes (see the module's documentation).
pub(super) fn generate(state: &mut FakeState) {
    price(state, "price_TLifeMonthly", "Life monthly", 2900, "month");
    price(state, "price_TLifePlus", "Life plus", 5900, "month");
    price(state, "price_TLifeAnnual", "Life annual", 29000, "year");
    let (jan, jun) = (month_start(2025, 1), month_start(2025, 6));

    let cus = customer(state, "Upgrade", "NL", jan);
    let mut sub = subscription(
        state,
        "Upgrade",
        &cus,
        "price_TLifeMonthly",
        (jun, next_month(jun)),
        jan,
    );
    bill_months(state, &sub, jan, 6, "paid");
    let change = jun + 9 * DAY;
    let (old, new) = (
        state.objects["price_TLifeMonthly"].clone(),
        state.objects["price_TLifePlus"].clone(),
    );
    let left = (next_month(jun) - change) as f64 / (next_month(jun) - jun) as f64;
    let credit = line(
        UPGRADED,
        &old,
        (change, next_month(jun)),
        -(2900.0 * left).round() as i64,
        true,
    );
    let charge = line(
        UPGRADED,
        &new,
        (change, next_month(jun)),
        (5900.0 * left).round() as i64,
        true,
    );
    invoice(
        state,
        &sub,
        change,
        "paid",
        "subscription_update",
        vec![credit, charge],
    );
    sub["items"]["data"][0]["price"] = new;
    state.add("subscriptions", sub);

    let (aug, year_on) = (month_start(2024, 8), month_start(2025, 8));
    let cus = customer(state, "Annual", "IE", aug);
    let mut sub = subscription(
        state,
        "Annual",
        &cus,
        "price_TLifeAnnual",
        (aug, year_on),
        aug,
    );
    let annual = state.objects["price_TLifeAnnual"].clone();
    invoice(
        state,
        &sub,
        aug,
        "paid",
        "subscription_create",
        vec![line("sub_LAnnual", &annual, (aug, year_on), 29000, false)],
    );
    pause(&mut sub, month_start(2025, 5) + 14 * DAY);
    state.add("subscriptions", sub);

    let cus = customer(state, "Paused", "PT", jan);
    let may = month_start(2025, 5);
    let mut sub = subscription(
        state,
        "Paused",
        &cus,
        "price_TLifeMonthly",
        (month_start(2025, 4), may),
        jan,
    );
    bill_months(state, &sub, jan, 4, "paid");
    pause(&mut sub, may);
    state.add("subscriptions", sub);

    let cus = customer(state, "Collect", "FI", jan);
    let mut sub = subscription(
        state,
        "Collect",
        &cus,
        "price_TLifeMonthly",
        (jun, next_month(jun)),
        jan,
    );
    let april = bill_months(state, &sub, jan, 3, "paid");
    bill_months(state, &sub, april, 3, "uncollectible");
    sub["pause_collection"] = json!({"behavior": "mark_uncollectible", "resumes_at": null});
    state.add("subscriptions", sub);
}

/// Bills the next period of the subscriptions that still bill and moves their items'
/// period on, emitting the events Stripe would (`invoice.created`, then
/// `invoice.paid` or `invoice.marked_uncollectible`, and
/// `customer.subscription.updated`).
pub(super) fn advance(state: &mut FakeState) {
    for (id, status, event) in [
        (UPGRADED, "paid", "invoice.paid"),
        (
            COLLECTION_PAUSED,
            "uncollectible",
            "invoice.marked_uncollectible",
        ),
    ] {
        let Some(sub) = state.objects.get(id).cloned() else {
            continue;
        };
        let start = sub["items"]["data"][0]["current_period_end"]
            .as_i64()
            .unwrap_or(0);
        let end = next_month(start);
        bill_months(state, &sub, start, 1, status);
        let invoice = state.objects[&format!("in_{}_{start}", &id[4..])].clone();
        state.emit("invoice.created", invoice.clone());
        state.emit(event, invoice);
        let mut moved = sub;
        moved["items"]["data"][0]["current_period_start"] = json!(start);
        moved["items"]["data"][0]["current_period_end"] = json!(end);
        state.objects.insert(id.to_owned(), moved.clone());
        state.emit("customer.subscription.updated", moved);
    }
}
