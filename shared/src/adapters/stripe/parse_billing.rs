//! Customers, subscriptions, prices and discounts: the private shapes read from Stripe
//! and their minimized records. Today's API (2026-07-29) keeps the billing periods on
//! subscription items and the coupons behind `discounts[].source.coupon`; the older
//! shapes (periods on the subscription, `discount.coupon`) are read as a fallback.

use serde::Deserialize;
use serde_json::Value;

use super::parse::{
    Expandable, IdOrObject, List, ParseError, country_code, decode, id_of, non_empty,
};
use super::parse_discounts::{Discount, discount_record, discount_records};
use super::parse_price::{Price, price_terms};
use crate::domain::billing::{
    CustomerRecord, PauseCollection, SubscriptionItemRecord, SubscriptionRecord, SubscriptionStatus,
};

#[derive(Deserialize)]
struct Customer {
    id: String,
    created: Option<i64>,
    email: Option<String>,
    address: Option<Address>,
    invoice_settings: Option<InvoiceSettings>,
    #[serde(default)]
    deleted: bool,
    /// The customer-level discount, its coupon expanded (the connector inlines it).
    discount: Option<Discount>,
}

/// City and country only: the street, postal code and state are never read.
#[derive(Deserialize)]
struct Address {
    city: Option<String>,
    country: Option<String>,
}

#[derive(Deserialize)]
struct InvoiceSettings {
    default_payment_method: Option<IdOrObject>,
}

/// A customer. A deleted one (`{"id": …, "deleted": true}`) becomes a record with
/// `deleted: true`, `created: 0` and nothing else: Stripe keeps nothing more of it.
pub fn customer(value: &Value) -> Result<CustomerRecord, ParseError> {
    let c: Customer = decode("customer", value)?;
    let discount = c
        .discount
        .map(|d| discount_record("customer", "discount", Expandable::Object(d)))
        .transpose()?;
    let (city, country) = match c.address {
        Some(a) => (non_empty(a.city), country_code(a.country)),
        None => (None, None),
    };
    Ok(CustomerRecord {
        id: c.id,
        created: c.created.unwrap_or(0),
        email: non_empty(c.email),
        city,
        country,
        default_payment_method: c
            .invoice_settings
            .and_then(|s| id_of(s.default_payment_method)),
        deleted: c.deleted,
        discount,
    })
}

#[derive(Deserialize)]
struct Subscription {
    id: String,
    customer: IdOrObject,
    status: SubscriptionStatus,
    created: i64,
    start_date: Option<i64>,
    currency: String,
    items: List<Item>,
    #[serde(default)]
    discounts: Vec<Expandable<Discount>>,
    trial_start: Option<i64>,
    trial_end: Option<i64>,
    #[serde(default)]
    cancel_at_period_end: bool,
    cancel_at: Option<i64>,
    canceled_at: Option<i64>,
    ended_at: Option<i64>,
    default_payment_method: Option<IdOrObject>,
    /// `{behavior, resumes_at}` while collection is paused, else null: the shape is
    /// the record's own.
    pause_collection: Option<PauseCollection>,
    status_details: Option<StatusDetails>,
    /// Before API 2025-03-31 the periods lived here, not on the items.
    current_period_start: Option<i64>,
    current_period_end: Option<i64>,
}

/// Why and when the subscription entered its status; only the pause time is read.
#[derive(Deserialize)]
struct StatusDetails {
    paused: Option<Paused>,
}

#[derive(Deserialize)]
struct Paused {
    transitioned_at: Option<i64>,
}

#[derive(Deserialize)]
struct Item {
    id: String,
    price: Price,
    /// Absent for metered prices, which bill usage rather than units.
    quantity: Option<u64>,
    current_period_start: Option<i64>,
    current_period_end: Option<i64>,
    /// Expanded by the listing (`data.items.data.discounts`), coupons inlined.
    #[serde(default)]
    discounts: Vec<Expandable<Discount>>,
}

/// A subscription with its items and discounts, at both levels expanded down to their
/// coupons ([`super::parse_discounts`]).
pub fn subscription(value: &Value) -> Result<SubscriptionRecord, ParseError> {
    let s: Subscription = decode("subscription", value)?;
    let items = s
        .items
        .data
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let path = format!("items.data[{index}].discounts");
            Ok(SubscriptionItemRecord {
                id: item.id,
                price: price_terms(item.price),
                quantity: item.quantity.unwrap_or(0),
                current_period_start: item.current_period_start.or(s.current_period_start),
                current_period_end: item.current_period_end.or(s.current_period_end),
                discounts: discount_records("subscription", &path, item.discounts)?,
            })
        })
        .collect::<Result<Vec<_>, ParseError>>()?;
    let discounts = discount_records("subscription", "discounts", s.discounts)?;
    Ok(SubscriptionRecord {
        id: s.id,
        customer: s.customer.into_id(),
        status: s.status,
        created: s.created,
        start_date: s.start_date,
        currency: s.currency.to_ascii_lowercase(),
        items,
        discounts,
        trial_start: s.trial_start,
        trial_end: s.trial_end,
        cancel_at_period_end: s.cancel_at_period_end,
        cancel_at: s.cancel_at,
        canceled_at: s.canceled_at,
        ended_at: s.ended_at,
        default_payment_method: id_of(s.default_payment_method),
        pause_collection: s.pause_collection,
        paused_at: s
            .status_details
            .and_then(|details| details.paused?.transitioned_at),
    })
}
