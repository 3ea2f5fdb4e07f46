//! Paddle Billing JSON into the minimized records of [`crate::domain::billing`], the
//! same ones Stripe's adapter produces, so the metrics engine reads both alike. The
//! private serde structs name only the fields Tally keeps: names, full addresses,
//! business details, custom data and card last4 are never even read.
//!
//! Paddle's conventions, as its API reference documents them: amounts are strings of
//! the currency's lowest denomination (`"2900"` is 29.00 USD, `"1000"` is 1,000 JPY),
//! currency codes are upper-case, times are RFC 3339 strings, and a billing cycle is an
//! `interval` (`day`, `week`, `month`, `year`) with a `frequency`.
//!
//! How entities map:
//! * customer → customer (its address's city and country when one is known);
//! * subscription → subscription: its recurring items with their prices, its discount
//!   (terms read from the discount entity), `scheduled_change` `cancel` → `cancel_at`,
//!   status `paused` with `paused_at`, `canceled_at`, trials from the items'
//!   `trial_dates`. Items have no id of their own: an item is `<subscription>_<price>`;
//! * transaction → invoice (lines with their billing period, totals and tax) and one
//!   charge per payment attempt: the captured attempt is the charge `<transaction id>`
//!   (what refunds point at), other attempts keep their `payment_attempt_id`;
//! * adjustment `refund` or `chargeback` → refund of the charge `<transaction id>`,
//!   counted once approved. Credits and chargeback warnings move no money and are not
//!   kept.

use std::collections::{BTreeMap, HashMap};

use chrono::DateTime;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::domain::billing::{
    CardFacts, ChargeRecord, CouponDuration, CustomerRecord, DiscountRecord, Interval,
    InvoiceLineRecord, InvoiceRecord, PriceTerms, RefundRecord, SubscriptionItemRecord,
    SubscriptionRecord, SubscriptionStatus, UsageType,
};

/// A response that does not have Paddle's documented shape.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

fn bad(what: impl Into<String>) -> ParseError {
    ParseError(what.into())
}

/// Decodes `value` as `T`, naming `what` (never a value) on failure.
pub(crate) fn decode<T: DeserializeOwned>(what: &str, value: &Value) -> Result<T, ParseError> {
    T::deserialize(value).map_err(|_| bad(format!("{what}: not the documented shape")))
}

/// An RFC 3339 time as Unix seconds.
pub fn seconds(text: &str) -> Result<i64, ParseError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .map_err(|_| bad("a time that is not RFC 3339"))
}

fn opt_seconds(text: Option<&str>) -> Result<Option<i64>, ParseError> {
    text.map(seconds).transpose()
}

/// An amount string in the currency's lowest denomination as an integer.
pub fn minor_units(text: &str) -> Result<i64, ParseError> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("an amount that is not a whole number of minor units"));
    }
    text.parse().map_err(|_| bad("an amount out of range"))
}

/// A percentage string (`"10"`, `"12.5"`, at most two decimals) in basis points.
pub fn percent_bp(text: &str) -> Result<u32, ParseError> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || whole.len() > 3
        || fraction.len() > 2
        || !digits(whole)
        || !digits(fraction)
    {
        return Err(bad(
            "a percentage that is not a number with at most two decimals",
        ));
    }
    let whole: u32 = whole
        .parse()
        .map_err(|_| bad("a percentage out of range"))?;
    let fraction: u32 = format!("{fraction:0<2}")
        .parse()
        .map_err(|_| bad("a percentage out of range"))?;
    let bp = whole * 100 + fraction;
    if bp > 10_000 {
        return Err(bad("a percentage over 100"));
    }
    Ok(bp)
}

fn currency(code: &str) -> Result<String, ParseError> {
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(code.to_ascii_lowercase())
    } else {
        Err(bad("a currency that is not an ISO 4217 code"))
    }
}

#[derive(Deserialize)]
pub(crate) struct Money {
    amount: String,
    currency_code: String,
}

#[derive(Deserialize)]
pub(crate) struct BillingCycle {
    interval: String,
    frequency: u32,
}

/// A billing cycle as an interval and count.
pub fn billing_cycle(interval: &str, frequency: u32) -> Result<(Interval, u32), ParseError> {
    let interval = match interval {
        "day" => Interval::Day,
        "week" => Interval::Week,
        "month" => Interval::Month,
        "year" => Interval::Year,
        _ => return Err(bad("a billing cycle interval Paddle does not document")),
    };
    if frequency == 0 {
        return Err(bad("a billing cycle of frequency 0"));
    }
    Ok((interval, frequency))
}

// ---- customers ----

#[derive(Deserialize)]
pub(crate) struct Customer {
    pub id: String,
    email: Option<String>,
    created_at: String,
}

/// The part of an address Tally keeps.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub(crate) struct Place {
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub country_code: Option<String>,
}

pub(crate) fn customer(value: &Value, place: Option<&Place>) -> Result<CustomerRecord, ParseError> {
    let c: Customer = decode("customer", value)?;
    let country = place
        .and_then(|p| p.country_code.as_deref())
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(str::to_ascii_uppercase);
    Ok(CustomerRecord {
        id: c.id,
        created: seconds(&c.created_at)?,
        email: c.email,
        city: place.and_then(|p| p.city.clone()).filter(|c| !c.is_empty()),
        country,
        default_payment_method: None,
        deleted: false,
        discount: None,
    })
}

// ---- prices ----

#[derive(Deserialize)]
pub(crate) struct Price {
    id: String,
    product_id: Option<String>,
    name: Option<String>,
    billing_cycle: Option<BillingCycle>,
    unit_price: Money,
    #[serde(default)]
    unit_price_overrides: Vec<PriceOverride>,
}

#[derive(Deserialize)]
struct PriceOverride {
    unit_price: Money,
}

/// A price's terms in `in_currency` (an override in that currency when the base
/// price is in another).
fn price_terms(price: &Price, in_currency: Option<&str>) -> Result<PriceTerms, ParseError> {
    let base = &price.unit_price;
    let money = match in_currency {
        Some(wanted) if !base.currency_code.eq_ignore_ascii_case(wanted) => price
            .unit_price_overrides
            .iter()
            .map(|o| &o.unit_price)
            .find(|m| m.currency_code.eq_ignore_ascii_case(wanted))
            .unwrap_or(base),
        _ => base,
    };
    let (interval, interval_count) = match &price.billing_cycle {
        Some(cycle) => {
            let (interval, count) = billing_cycle(&cycle.interval, cycle.frequency)?;
            (Some(interval), count)
        }
        None => (None, 1),
    };
    Ok(PriceTerms {
        id: price.id.clone(),
        product: price.product_id.clone(),
        nickname: price.name.clone(),
        currency: currency(&money.currency_code)?,
        unit_amount: Some(minor_units(&money.amount)?),
        interval,
        interval_count,
        usage_type: UsageType::Licensed,
        unit_amount_micros: None,
        transform_quantity: None,
        tiers_mode: None,
        tiers: Vec::new(),
    })
}

// ---- discounts ----

/// The discount entity (`dsc_…`): the terms a subscription's discount points at.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Discount {
    pub id: String,
    #[serde(rename = "type")]
    kind: String,
    amount: String,
    currency_code: Option<String>,
    #[serde(default)]
    recur: bool,
    maximum_recurring_intervals: Option<u32>,
    #[serde(default)]
    restrict_to: Option<Vec<String>>,
    code: Option<String>,
}

/// The terms of a discount on a subscription, whose `quantity` (the units of the items
/// it applies to) prices a `flat_per_seat` discount and whose cycle in months turns a
/// number of recurring intervals into a duration.
pub(crate) fn discount_terms(
    discount: &Discount,
    starts_at: Option<i64>,
    ends_at: Option<i64>,
    seats: u64,
    cycle_months: Option<u32>,
) -> Result<DiscountRecord, ParseError> {
    let (percent_off_bp, amount_off, currency_code) = match discount.kind.as_str() {
        "percentage" => (Some(percent_bp(&discount.amount)?), None, None),
        "flat" => (
            None,
            Some(minor_units(&discount.amount)?),
            discount.currency_code.as_deref(),
        ),
        "flat_per_seat" => {
            let per_seat = minor_units(&discount.amount)?;
            let seats = i64::try_from(seats).map_err(|_| bad("a quantity out of range"))?;
            let total = per_seat
                .checked_mul(seats)
                .ok_or_else(|| bad("a discount out of range"))?;
            (None, Some(total), discount.currency_code.as_deref())
        }
        _ => return Err(bad("a discount type Paddle does not document")),
    };
    let (duration, duration_in_months) =
        match (discount.recur, discount.maximum_recurring_intervals) {
            (false, _) => (CouponDuration::Once, None),
            (true, None) => (CouponDuration::Forever, None),
            (true, Some(n)) => match cycle_months {
                Some(months) => (CouponDuration::Repeating, Some(n.saturating_mul(months))),
                // A daily or weekly cycle has no whole number of months: `end` bounds it.
                None => (CouponDuration::Repeating, None),
            },
        };
    Ok(DiscountRecord {
        coupon_id: discount.id.clone(),
        percent_off_bp,
        amount_off,
        currency: currency_code.map(currency).transpose()?,
        duration,
        duration_in_months,
        start: starts_at,
        end: ends_at,
        // `restrict_to` names products (`pro_…`) or prices (`pri_…`).
        applies_to_products: discount
            .restrict_to
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|id| id.starts_with("pro_"))
            .collect(),
        amount_off_by_currency: BTreeMap::new(),
        promotion_code: discount.code.clone(),
    })
}

// ---- subscriptions ----

#[derive(Deserialize)]
struct Subscription {
    id: String,
    status: String,
    customer_id: String,
    currency_code: String,
    created_at: String,
    started_at: Option<String>,
    paused_at: Option<String>,
    canceled_at: Option<String>,
    current_billing_period: Option<Period>,
    billing_cycle: Option<BillingCycle>,
    scheduled_change: Option<ScheduledChange>,
    discount: Option<SubscriptionDiscount>,
    items: Vec<SubscriptionItem>,
}

#[derive(Deserialize)]
struct Period {
    starts_at: String,
    ends_at: String,
}

#[derive(Deserialize)]
struct ScheduledChange {
    action: String,
    effective_at: String,
}

#[derive(Deserialize)]
pub(crate) struct SubscriptionDiscount {
    pub id: String,
    starts_at: Option<String>,
    ends_at: Option<String>,
}

#[derive(Deserialize)]
struct SubscriptionItem {
    #[serde(default)]
    recurring: bool,
    quantity: u64,
    trial_dates: Option<Period>,
    price: Price,
}

/// The discount id a subscription points at, if any.
pub(crate) fn subscription_discount_id(value: &Value) -> Option<String> {
    decode::<SubscriptionDiscount>("discount", value.get("discount")?)
        .ok()
        .map(|d| d.id)
}

pub(crate) fn subscription(
    value: &Value,
    discounts: &HashMap<String, Discount>,
) -> Result<SubscriptionRecord, ParseError> {
    let s: Subscription = decode("subscription", value)?;
    let status = match s.status.as_str() {
        "active" => SubscriptionStatus::Active,
        "trialing" => SubscriptionStatus::Trialing,
        "past_due" => SubscriptionStatus::PastDue,
        "paused" => SubscriptionStatus::Paused,
        "canceled" => SubscriptionStatus::Canceled,
        _ => return Err(bad("a subscription status Paddle does not document")),
    };
    let currency_code = currency(&s.currency_code)?;
    let (period_start, period_end) = match &s.current_billing_period {
        Some(p) => (Some(seconds(&p.starts_at)?), Some(seconds(&p.ends_at)?)),
        None => (None, None),
    };
    let mut items = Vec::new();
    let mut trial = None;
    let mut seats = 0u64;
    for item in s.items.iter().filter(|i| i.recurring) {
        let price = price_terms(&item.price, Some(&s.currency_code))?;
        seats = seats.saturating_add(item.quantity);
        if trial.is_none()
            && let Some(dates) = &item.trial_dates
        {
            trial = Some((seconds(&dates.starts_at)?, seconds(&dates.ends_at)?));
        }
        items.push(SubscriptionItemRecord {
            id: format!("{}_{}", s.id, price.id),
            price,
            quantity: item.quantity,
            current_period_start: period_start,
            current_period_end: period_end,
            discounts: Vec::new(),
        });
    }
    let cycle_months = match &s.billing_cycle {
        Some(cycle) => match billing_cycle(&cycle.interval, cycle.frequency)? {
            (Interval::Month, n) => Some(n),
            (Interval::Year, n) => Some(n.saturating_mul(12)),
            _ => None,
        },
        None => None,
    };
    let mut subscription_discounts = Vec::new();
    if let Some(applied) = &s.discount {
        let terms = discounts
            .get(&applied.id)
            .ok_or_else(|| bad("a subscription discount whose terms were not read"))?;
        subscription_discounts.push(discount_terms(
            terms,
            opt_seconds(applied.starts_at.as_deref())?,
            opt_seconds(applied.ends_at.as_deref())?,
            seats,
            cycle_months,
        )?);
    }
    let cancel_at = match &s.scheduled_change {
        Some(change) if change.action == "cancel" => Some(seconds(&change.effective_at)?),
        _ => None,
    };
    let canceled_at = opt_seconds(s.canceled_at.as_deref())?;
    Ok(SubscriptionRecord {
        id: s.id,
        customer: s.customer_id,
        status,
        created: seconds(&s.created_at)?,
        start_date: opt_seconds(s.started_at.as_deref())?,
        currency: currency_code,
        items,
        discounts: subscription_discounts,
        trial_start: trial.map(|t| t.0),
        trial_end: trial.map(|t| t.1),
        // Paddle cancels at the end of the billing period when asked to.
        cancel_at_period_end: cancel_at.is_some() && cancel_at == period_end,
        cancel_at,
        canceled_at,
        // A canceled Paddle subscription has ended: it cancels when the change takes
        // effect, never before.
        ended_at: if status == SubscriptionStatus::Canceled {
            canceled_at
        } else {
            None
        },
        default_payment_method: None,
        pause_collection: None,
        paused_at: if status == SubscriptionStatus::Paused {
            opt_seconds(s.paused_at.as_deref())?
        } else {
            None
        },
    })
}

// ---- transactions ----

#[derive(Deserialize)]
struct Transaction {
    id: String,
    status: String,
    customer_id: Option<String>,
    subscription_id: Option<String>,
    currency_code: String,
    origin: Option<String>,
    created_at: String,
    billed_at: Option<String>,
    billing_period: Option<Period>,
    #[serde(default)]
    items: Vec<TransactionItem>,
    details: Option<Details>,
    #[serde(default)]
    payments: Vec<Payment>,
}

#[derive(Deserialize)]
struct TransactionItem {
    price: Option<Price>,
}

#[derive(Deserialize)]
struct Details {
    totals: Option<Totals>,
    #[serde(default)]
    line_items: Vec<LineItem>,
}

#[derive(Deserialize)]
struct Totals {
    subtotal: String,
    #[serde(default)]
    discount: Option<String>,
    tax: String,
    total: String,
    grand_total: Option<String>,
}

#[derive(Deserialize)]
struct LineItem {
    id: String,
    price_id: String,
    quantity: u64,
    proration: Option<Proration>,
    totals: LineTotals,
}

#[derive(Deserialize)]
struct Proration {
    billing_period: Option<Period>,
}

#[derive(Deserialize)]
struct LineTotals {
    subtotal: String,
    #[serde(default)]
    discount: Option<String>,
}

#[derive(Deserialize)]
struct Payment {
    payment_attempt_id: String,
    payment_method_id: Option<String>,
    amount: String,
    status: String,
    error_code: Option<String>,
    method_details: Option<MethodDetails>,
    created_at: String,
    captured_at: Option<String>,
}

#[derive(Deserialize)]
struct MethodDetails {
    #[serde(rename = "type")]
    kind: String,
    card: Option<Card>,
}

/// The card facts Paddle gives: `type` is the brand; last4 and the cardholder's name
/// are not read.
#[derive(Deserialize)]
struct Card {
    #[serde(rename = "type")]
    brand: Option<String>,
    expiry_month: Option<u32>,
    expiry_year: Option<u32>,
}

/// The invoice status a transaction's status stands for.
fn invoice_status(status: &str) -> Result<&'static str, ParseError> {
    Ok(match status {
        "draft" | "ready" => "draft",
        "billed" | "past_due" => "open",
        "paid" | "completed" => "paid",
        "canceled" => "void",
        _ => return Err(bad("a transaction status Paddle does not document")),
    })
}

/// Stripe's `billing_reason` for a transaction's `origin`.
fn billing_reason(origin: Option<&str>, subscription: bool) -> Option<String> {
    let reason = match origin? {
        "subscription_recurring" => "subscription_cycle",
        "subscription_update" | "subscription_charge" | "subscription_payment_method_change" => {
            "subscription_update"
        }
        "web" | "api" if subscription => "subscription_create",
        _ => "manual",
    };
    Some(reason.to_owned())
}

pub(crate) fn invoice(value: &Value) -> Result<InvoiceRecord, ParseError> {
    let t: Transaction = decode("transaction", value)?;
    let currency_code = currency(&t.currency_code)?;
    let (period_start, period_end) = match &t.billing_period {
        Some(p) => (Some(seconds(&p.starts_at)?), Some(seconds(&p.ends_at)?)),
        None => (None, None),
    };
    let prices: HashMap<&str, &Price> = t
        .items
        .iter()
        .filter_map(|i| i.price.as_ref())
        .map(|p| (p.id.as_str(), p))
        .collect();
    let details = t.details.as_ref();
    let mut lines = Vec::new();
    for line in details.map(|d| d.line_items.as_slice()).unwrap_or_default() {
        let price = prices
            .get(line.price_id.as_str())
            .map(|p| price_terms(p, Some(&t.currency_code)))
            .transpose()?;
        let discount = line
            .totals
            .discount
            .as_deref()
            .map(minor_units)
            .transpose()?;
        let (start, end) = match line
            .proration
            .as_ref()
            .and_then(|p| p.billing_period.as_ref())
        {
            Some(p) => (Some(seconds(&p.starts_at)?), Some(seconds(&p.ends_at)?)),
            None => (period_start, period_end),
        };
        lines.push(InvoiceLineRecord {
            id: line.id.clone(),
            subscription: t.subscription_id.clone(),
            subscription_item: t
                .subscription_id
                .as_ref()
                .map(|s| format!("{s}_{}", line.price_id)),
            price,
            quantity: Some(line.quantity),
            amount: minor_units(&line.totals.subtotal)? - discount.unwrap_or(0),
            currency: currency_code.clone(),
            period_start: start,
            period_end: end,
            proration: line.proration.is_some(),
        });
    }
    let totals = details.and_then(|d| d.totals.as_ref());
    let (total, tax, due) = match totals {
        Some(t) => {
            let total = minor_units(&t.total)?;
            let due = t.grand_total.as_deref().map(minor_units).transpose()?;
            (total, minor_units(&t.tax)?, due.unwrap_or(total))
        }
        None => (0, 0, 0),
    };
    // The transaction's subtotal check: lines are what the totals say before tax.
    if let Some(t) = totals {
        minor_units(&t.subtotal)?;
        t.discount.as_deref().map(minor_units).transpose()?;
    }
    let status = invoice_status(&t.status)?;
    let captured = t.payments.iter().find(|p| p.status == "captured");
    let paid_at = match captured {
        Some(p) => opt_seconds(p.captured_at.as_deref().or(Some(p.created_at.as_str())))?,
        None if status == "paid" => opt_seconds(t.billed_at.as_deref())?,
        None => None,
    };
    Ok(InvoiceRecord {
        id: t.id,
        customer: t.customer_id,
        subscription: t.subscription_id.clone(),
        status: Some(status.to_owned()),
        currency: currency_code,
        amount_due: due,
        amount_paid: if status == "paid" { due } else { 0 },
        total,
        tax,
        created: seconds(&t.created_at)?,
        period_start,
        period_end,
        paid_at,
        billing_reason: billing_reason(t.origin.as_deref(), t.subscription_id.is_some()),
        lines,
    })
}

/// The charge status a payment attempt's status stands for.
fn charge_status(status: &str) -> &'static str {
    match status {
        "captured" => "succeeded",
        "authorized" | "authorized_flagged" | "created" | "pending" | "action_required" => {
            "pending"
        }
        // error, declined, declined_flagged, canceled, and anything newer.
        _ => "failed",
    }
}

pub(crate) fn charges(value: &Value) -> Result<Vec<ChargeRecord>, ParseError> {
    let t: Transaction = decode("transaction", value)?;
    let currency_code = currency(&t.currency_code)?;
    let mut out = Vec::new();
    let mut captured_seen = false;
    for p in &t.payments {
        let status = charge_status(&p.status);
        // The captured attempt is the transaction's charge: refunds name it.
        let id = if status == "succeeded" && !captured_seen {
            captured_seen = true;
            t.id.clone()
        } else {
            p.payment_attempt_id.clone()
        };
        let card = p
            .method_details
            .as_ref()
            .and_then(|m| m.card.as_ref())
            .map(|c| CardFacts {
                brand: c.brand.as_ref().map(|b| b.to_ascii_lowercase()),
                funding: None,
                exp_month: c.expiry_month,
                exp_year: c.expiry_year,
                country: None,
            });
        out.push(ChargeRecord {
            id,
            customer: t.customer_id.clone(),
            invoice: Some(t.id.clone()),
            amount: minor_units(&p.amount)?,
            amount_refunded: 0,
            currency: currency_code.clone(),
            status: status.to_owned(),
            created: seconds(&p.created_at)?,
            failure_code: if status == "failed" {
                p.error_code.clone()
            } else {
                None
            },
            payment_method: p.payment_method_id.clone(),
            payment_method_type: p.method_details.as_ref().map(|m| m.kind.clone()),
            card,
        });
    }
    Ok(out)
}

// ---- adjustments ----

#[derive(Deserialize)]
struct Adjustment {
    id: String,
    action: String,
    transaction_id: String,
    currency_code: String,
    status: String,
    totals: AdjustmentTotals,
    created_at: String,
}

#[derive(Deserialize)]
struct AdjustmentTotals {
    total: String,
}

/// A refund or chargeback as a refund of the transaction's charge; `None` for the
/// adjustments that move no money out (credits, chargeback warnings and reversals).
pub(crate) fn refund(value: &Value) -> Result<Option<RefundRecord>, ParseError> {
    let a: Adjustment = decode("adjustment", value)?;
    if !matches!(a.action.as_str(), "refund" | "chargeback") {
        return Ok(None);
    }
    let status = match a.status.as_str() {
        "approved" => "succeeded",
        "pending_approval" => "pending_approval",
        "rejected" => "failed",
        "reversed" => "canceled",
        _ => return Err(bad("an adjustment status Paddle does not document")),
    };
    Ok(Some(RefundRecord {
        id: a.id,
        charge: Some(a.transaction_id),
        amount: minor_units(&a.totals.total)?,
        currency: currency(&a.currency_code)?,
        status: Some(status.to_owned()),
        created: seconds(&a.created_at)?,
    }))
}
