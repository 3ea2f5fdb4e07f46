//! Billing records: the minimized, typed form of a processor's data that Tally keeps
//! (docs/design.md §4 "data minimization"). Every connector (Stripe, demo) produces
//! these and nothing else; the metrics engine reads only these.
//!
//! What is deliberately absent: card numbers, last4, fingerprints, CVC checks, bank
//! details, names (on cards or customers), full addresses, phone numbers, metadata,
//! descriptions, and raw responses. What is kept is what the analysis needs: ids,
//! times, statuses, amounts and currencies, price terms, coupon terms, the customer's
//! e-mail, city and country, and the card's brand, funding, expiry and country.
//!
//! Times are Unix seconds (as processors send them: compact for millions of records);
//! amounts are integer minor units with an ISO 4217 lower-case currency.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod pricing;
pub use pricing::{PriceTier, QuantityRound, TiersMode, TransformQuantity};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRecord {
    pub id: String,
    pub created: i64,
    pub email: Option<String>,
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2, upper-case.
    pub country: Option<String>,
    /// The payment method used for invoices by default, if any.
    pub default_payment_method: Option<String>,
    pub deleted: bool,
    /// The customer's own discount (`customer.discount`): Stripe applies it to each of
    /// the customer's subscriptions that has no discount of its own.
    #[serde(default)]
    pub discount: Option<DiscountRecord>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum SubscriptionStatus {
    Incomplete,
    IncompleteExpired,
    Trialing,
    Active,
    PastDue,
    Canceled,
    Unpaid,
    Paused,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Day,
    Week,
    Month,
    Year,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageType {
    Licensed,
    Metered,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceTerms {
    pub id: String,
    pub product: Option<String>,
    /// The merchant's name for the price, if any (a plan name, not personal data).
    pub nickname: Option<String>,
    pub currency: String,
    /// Per unit, minor units; `None` for tiered or custom prices.
    pub unit_amount: Option<i64>,
    /// `None` for one-off prices.
    pub interval: Option<Interval>,
    pub interval_count: u32,
    pub usage_type: UsageType,
    /// `unit_amount_decimal` in millionths of a minor unit, when it is finer than
    /// `unit_amount` (e.g. 0.5 cent per unit).
    #[serde(default)]
    pub unit_amount_micros: Option<i64>,
    #[serde(default)]
    pub transform_quantity: Option<TransformQuantity>,
    /// Set for a tiered price (`billing_scheme: tiered`).
    #[serde(default)]
    pub tiers_mode: Option<TiersMode>,
    /// Empty for a tiered price whose tiers were not read (Stripe sends them only when
    /// expanded): its value is then what was billed.
    #[serde(default)]
    pub tiers: Vec<PriceTier>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionItemRecord {
    pub id: String,
    pub price: PriceTerms,
    pub quantity: u64,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
    /// Discounts on this item only (`items.data[].discounts`), in order.
    #[serde(default)]
    pub discounts: Vec<DiscountRecord>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponDuration {
    Forever,
    Once,
    Repeating,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountRecord {
    pub coupon_id: String,
    /// Percent off in basis points (25.5 % is 2550): exact arithmetic, no floats.
    pub percent_off_bp: Option<u32>,
    pub amount_off: Option<i64>,
    /// Currency of `amount_off`.
    pub currency: Option<String>,
    pub duration: CouponDuration,
    pub duration_in_months: Option<u32>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// `applies_to.products`: when not empty, only items of these products are
    /// discounted.
    #[serde(default)]
    pub applies_to_products: Vec<String>,
    /// `currency_options.<currency>.amount_off`: the amount off in other currencies.
    #[serde(default)]
    pub amount_off_by_currency: BTreeMap<String, i64>,
    /// The promotion code the discount was redeemed with, if any.
    #[serde(default)]
    pub promotion_code: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    pub id: String,
    pub customer: String,
    pub status: SubscriptionStatus,
    pub created: i64,
    pub start_date: Option<i64>,
    pub currency: String,
    pub items: Vec<SubscriptionItemRecord>,
    pub discounts: Vec<DiscountRecord>,
    pub trial_start: Option<i64>,
    pub trial_end: Option<i64>,
    pub cancel_at_period_end: bool,
    pub cancel_at: Option<i64>,
    pub canceled_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub default_payment_method: Option<String>,
    /// Stripe's `pause_collection`: invoices are still generated but not collected
    /// (the status stays `active`). `None` when collecting; absent from records stored
    /// before it was kept.
    #[serde(default)]
    pub pause_collection: Option<PauseCollection>,
    /// When the subscription entered `paused` (Stripe's
    /// `status_details.paused.transitioned_at`), if known.
    #[serde(default)]
    pub paused_at: Option<i64>,
}

/// What happens to the invoices of a subscription whose collection is paused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseBehavior {
    KeepAsDraft,
    MarkUncollectible,
    Void,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseCollection {
    pub behavior: PauseBehavior,
    /// When collection resumes by itself, if set.
    pub resumes_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceRecord {
    pub id: String,
    pub customer: Option<String>,
    pub subscription: Option<String>,
    /// draft, open, paid, uncollectible, void.
    pub status: Option<String>,
    pub currency: String,
    pub amount_due: i64,
    pub amount_paid: i64,
    pub total: i64,
    /// Total tax, minor units (excluded from revenue metrics).
    pub tax: i64,
    pub created: i64,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub paid_at: Option<i64>,
    pub billing_reason: Option<String>,
    /// The lines: what each period of each subscription item was billed. They carry
    /// the history (upgrades, downgrades) that a subscription's current state lacks.
    pub lines: Vec<InvoiceLineRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLineRecord {
    pub id: String,
    pub subscription: Option<String>,
    pub subscription_item: Option<String>,
    pub price: Option<PriceTerms>,
    pub quantity: Option<u64>,
    /// Minor units, before tax and after line-level discounts.
    pub amount: i64,
    pub currency: String,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub proration: bool,
}

/// The card facts kept: enough for dimensions and expiry risk, never identifying it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardFacts {
    /// Lower-case: visa, mastercard, amex...
    pub brand: Option<String>,
    /// credit, debit, prepaid, unknown.
    pub funding: Option<String>,
    pub exp_month: Option<u32>,
    pub exp_year: Option<u32>,
    pub country: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeRecord {
    pub id: String,
    pub customer: Option<String>,
    pub invoice: Option<String>,
    pub amount: i64,
    pub amount_refunded: i64,
    pub currency: String,
    /// succeeded, pending, failed.
    pub status: String,
    pub created: i64,
    pub failure_code: Option<String>,
    pub payment_method: Option<String>,
    /// card, sepa_debit, ...
    pub payment_method_type: Option<String>,
    pub card: Option<CardFacts>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRecord {
    pub id: String,
    pub charge: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub status: Option<String>,
    pub created: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMethodRecord {
    pub id: String,
    pub customer: Option<String>,
    /// card, sepa_debit, ...
    pub method_type: String,
    pub card: Option<CardFacts>,
    pub created: i64,
}

/// One record of any kind, as connectors hand them to ingestion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BillingRecord {
    Customer(CustomerRecord),
    Subscription(SubscriptionRecord),
    Invoice(InvoiceRecord),
    Charge(ChargeRecord),
    Refund(RefundRecord),
    PaymentMethod(PaymentMethodRecord),
}

/// The kinds of object a connector lists, in the order a full sync reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Customer,
    PaymentMethod,
    Subscription,
    Invoice,
    Charge,
    Refund,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 6] = [
        ObjectKind::Customer,
        ObjectKind::PaymentMethod,
        ObjectKind::Subscription,
        ObjectKind::Invoice,
        ObjectKind::Charge,
        ObjectKind::Refund,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Customer => "customer",
            ObjectKind::PaymentMethod => "payment_method",
            ObjectKind::Subscription => "subscription",
            ObjectKind::Invoice => "invoice",
            ObjectKind::Charge => "charge",
            ObjectKind::Refund => "refund",
        }
    }
}

impl BillingRecord {
    pub fn kind(&self) -> ObjectKind {
        match self {
            BillingRecord::Customer(_) => ObjectKind::Customer,
            BillingRecord::Subscription(_) => ObjectKind::Subscription,
            BillingRecord::Invoice(_) => ObjectKind::Invoice,
            BillingRecord::Charge(_) => ObjectKind::Charge,
            BillingRecord::Refund(_) => ObjectKind::Refund,
            BillingRecord::PaymentMethod(_) => ObjectKind::PaymentMethod,
        }
    }
    /// The processor's id: what upserts are keyed by.
    pub fn id(&self) -> &str {
        match self {
            BillingRecord::Customer(r) => &r.id,
            BillingRecord::Subscription(r) => &r.id,
            BillingRecord::Invoice(r) => &r.id,
            BillingRecord::Charge(r) => &r.id,
            BillingRecord::Refund(r) => &r.id,
            BillingRecord::PaymentMethod(r) => &r.id,
        }
    }
}
