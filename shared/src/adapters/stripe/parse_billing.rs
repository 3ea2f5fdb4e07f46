//! Customers, subscriptions, prices and discounts: the private shapes read from Stripe
//! and their minimized records. Today's API (2026-07-29) keeps the billing periods on
//! subscription items and the coupons behind `discounts[].source.coupon`; the older
//! shapes (periods on the subscription, `discount.coupon`) are read as a fallback.

use serde::Deserialize;
use serde_json::Value;

use super::parse::{
    Expandable, IdOrObject, List, ParseError, country_code, decode, id_of, non_empty,
};
use crate::domain::billing::{
    CouponDuration, CustomerRecord, DiscountRecord, Interval, PauseCollection, PriceTerms,
    SubscriptionItemRecord, SubscriptionRecord, SubscriptionStatus, UsageType,
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
    })
}

#[derive(Deserialize)]
struct Price {
    id: String,
    product: Option<IdOrObject>,
    nickname: Option<String>,
    currency: String,
    unit_amount: Option<i64>,
    recurring: Option<Recurring>,
}

#[derive(Deserialize)]
struct Recurring {
    interval: Interval,
    interval_count: Option<u32>,
    usage_type: Option<UsageType>,
}

fn price_terms(p: Price) -> PriceTerms {
    let (interval, interval_count, usage_type) = match p.recurring {
        Some(r) => (
            Some(r.interval),
            r.interval_count.unwrap_or(1).max(1),
            r.usage_type.unwrap_or(UsageType::Licensed),
        ),
        None => (None, 1, UsageType::Licensed),
    };
    PriceTerms {
        id: p.id,
        product: id_of(p.product),
        nickname: non_empty(p.nickname),
        currency: p.currency.to_ascii_lowercase(),
        unit_amount: p.unit_amount,
        interval,
        interval_count,
        usage_type,
    }
}

/// A price object (`GET /v1/prices/{id}`, or expanded inside another object).
pub fn price(value: &Value) -> Result<PriceTerms, ParseError> {
    decode::<Price>("price", value).map(price_terms)
}

/// Lets other shapes embed a price and turn it into terms.
#[derive(Deserialize)]
#[serde(transparent)]
pub(super) struct EmbeddedPrice(Price);

impl EmbeddedPrice {
    pub(super) fn into_terms(self) -> PriceTerms {
        price_terms(self.0)
    }
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
}

#[derive(Deserialize)]
struct Discount {
    source: Option<DiscountSource>,
    /// The older shape: the coupon object directly on the discount.
    coupon: Option<Coupon>,
    start: Option<i64>,
    end: Option<i64>,
}

#[derive(Deserialize)]
struct DiscountSource {
    coupon: Option<Expandable<Coupon>>,
}

#[derive(Deserialize)]
struct Coupon {
    id: String,
    percent_off: Option<f64>,
    amount_off: Option<i64>,
    currency: Option<String>,
    duration: CouponDuration,
    duration_in_months: Option<u32>,
}

/// A subscription with its items and discounts. The discounts must be expanded down
/// to their coupons (`expand[]=discounts.source.coupon`): a bare id says nothing of
/// the terms, and a silently dropped `forever` coupon would overstate MRR.
pub fn subscription(value: &Value) -> Result<SubscriptionRecord, ParseError> {
    let s: Subscription = decode("subscription", value)?;
    let items = s
        .items
        .data
        .into_iter()
        .map(|item| SubscriptionItemRecord {
            id: item.id,
            price: price_terms(item.price),
            quantity: item.quantity.unwrap_or(0),
            current_period_start: item.current_period_start.or(s.current_period_start),
            current_period_end: item.current_period_end.or(s.current_period_end),
        })
        .collect();
    let discounts = s
        .discounts
        .into_iter()
        .enumerate()
        .map(|(index, discount)| discount_record(index, discount))
        .collect::<Result<Vec<_>, _>>()?;
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

fn discount_record(
    index: usize,
    discount: Expandable<Discount>,
) -> Result<DiscountRecord, ParseError> {
    let unexpanded =
        || ParseError::at("subscription", format!("discounts[{index}] (not expanded)"));
    let Expandable::Object(d) = discount else {
        return Err(unexpanded());
    };
    let coupon = match (d.source.and_then(|s| s.coupon), d.coupon) {
        (Some(Expandable::Object(coupon)), _) | (None, Some(coupon)) => coupon,
        _ => return Err(unexpanded()),
    };
    let percent_off_bp = match coupon.percent_off {
        None => None,
        Some(p) if p.is_finite() && (0.0..=100.0).contains(&p) => Some((p * 100.0).round() as u32),
        Some(_) => {
            return Err(ParseError::at(
                "subscription",
                format!("discounts[{index}].coupon.percent_off"),
            ));
        }
    };
    Ok(DiscountRecord {
        coupon_id: coupon.id,
        percent_off_bp,
        amount_off: coupon.amount_off,
        currency: non_empty(coupon.currency).map(|c| c.to_ascii_lowercase()),
        duration: coupon.duration,
        duration_in_months: coupon.duration_in_months,
        start: d.start,
        end: d.end,
    })
}
