//! Invoices and their lines. Today's line shape (API 2025-03-31 onwards): the price
//! sits at `pricing.price_details.price` (an id unless expanded), and the
//! subscription, item and proration flag under `parent.subscription_item_details` or
//! `parent.invoice_item_details`; the invoice's subscription under
//! `parent.subscription_details`, its taxes in `total_taxes[]`. The older flat fields
//! (`line.price`, `line.proration`, `invoice.subscription`, `invoice.tax`) are read as
//! a fallback.

use serde::Deserialize;
use serde_json::Value;

use super::parse::{Expandable, IdOrObject, List, ParseError, PriceBook, decode, id_of, non_empty};
use super::parse_price::EmbeddedPrice;
use crate::domain::billing::{InvoiceLineRecord, InvoiceRecord, PriceTerms};

#[derive(Deserialize)]
struct Invoice {
    id: String,
    customer: Option<IdOrObject>,
    /// Before API 2025-03-31; today under `parent.subscription_details`.
    subscription: Option<IdOrObject>,
    parent: Option<InvoiceParent>,
    status: Option<String>,
    currency: String,
    amount_due: i64,
    amount_paid: i64,
    total: i64,
    total_taxes: Option<Vec<TaxAmount>>,
    /// Before API 2025-03-31.
    tax: Option<i64>,
    created: i64,
    period_start: Option<i64>,
    period_end: Option<i64>,
    status_transitions: Option<StatusTransitions>,
    billing_reason: Option<String>,
    lines: Option<List<Line>>,
}

#[derive(Deserialize)]
struct InvoiceParent {
    subscription_details: Option<ParentDetails>,
}

#[derive(Deserialize)]
struct TaxAmount {
    amount: i64,
}

#[derive(Deserialize)]
struct StatusTransitions {
    paid_at: Option<i64>,
}

#[derive(Deserialize)]
struct Line {
    id: String,
    amount: i64,
    currency: String,
    period: Option<Period>,
    quantity: Option<u64>,
    subscription: Option<IdOrObject>,
    pricing: Option<Pricing>,
    parent: Option<LineParent>,
    /// Before API 2025-03-31: the price object, item and proration flag on the line.
    price: Option<EmbeddedPrice>,
    subscription_item: Option<IdOrObject>,
    proration: Option<bool>,
}

#[derive(Deserialize)]
struct Period {
    start: Option<i64>,
    end: Option<i64>,
}

#[derive(Deserialize)]
struct Pricing {
    price_details: Option<PriceDetails>,
}

#[derive(Deserialize)]
struct PriceDetails {
    price: Option<Expandable<EmbeddedPrice>>,
}

#[derive(Deserialize)]
struct LineParent {
    #[serde(rename = "type")]
    parent_type: Option<String>,
    subscription_item_details: Option<ParentDetails>,
    invoice_item_details: Option<ParentDetails>,
}

#[derive(Deserialize)]
struct ParentDetails {
    subscription: Option<IdOrObject>,
    subscription_item: Option<IdOrObject>,
    proration: Option<bool>,
}

impl LineParent {
    /// The details block `type` names (Stripe sends one; be lenient if it sends both).
    fn details(self) -> Option<ParentDetails> {
        match self.parent_type.as_deref() {
            Some("invoice_item_details") => self.invoice_item_details,
            Some("subscription_item_details") => self.subscription_item_details,
            _ => self.subscription_item_details.or(self.invoice_item_details),
        }
    }
}

/// The ids of prices that the invoice's lines name without the object: the ones to
/// look up before [`invoice`] can give those lines their terms.
pub fn invoice_price_ids(value: &Value) -> Result<Vec<String>, ParseError> {
    let invoice: Invoice = decode("invoice", value)?;
    let mut ids: Vec<String> = invoice
        .lines
        .map(|l| l.data)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|line| match line.pricing?.price_details?.price? {
            Expandable::Id(id) => Some(id),
            Expandable::Object(_) => None,
        })
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// An invoice and its lines; a line naming a price missing from `prices` gets no
/// terms (`price: None`) rather than invented ones.
pub fn invoice(value: &Value, prices: &PriceBook) -> Result<InvoiceRecord, ParseError> {
    let i: Invoice = decode("invoice", value)?;
    let tax = match (i.total_taxes, i.tax) {
        (Some(taxes), _) => taxes.iter().map(|t| t.amount).sum(),
        (None, Some(tax)) => tax,
        (None, None) => 0,
    };
    let subscription = id_of(i.subscription).or_else(|| {
        i.parent
            .and_then(|p| p.subscription_details)
            .and_then(|d| id_of(d.subscription))
    });
    let lines = i
        .lines
        .map(|l| l.data)
        .unwrap_or_default()
        .into_iter()
        .map(|line| line_record(line, prices))
        .collect();
    Ok(InvoiceRecord {
        id: i.id,
        customer: id_of(i.customer),
        subscription,
        status: non_empty(i.status),
        currency: i.currency.to_ascii_lowercase(),
        amount_due: i.amount_due,
        amount_paid: i.amount_paid,
        total: i.total,
        tax,
        created: i.created,
        period_start: i.period_start,
        period_end: i.period_end,
        paid_at: i.status_transitions.and_then(|t| t.paid_at),
        billing_reason: non_empty(i.billing_reason),
        lines,
    })
}

fn line_record(line: Line, prices: &PriceBook) -> InvoiceLineRecord {
    let details = line.parent.and_then(LineParent::details);
    let (parent_subscription, parent_item, parent_proration) = match details {
        Some(d) => (
            id_of(d.subscription),
            id_of(d.subscription_item),
            d.proration,
        ),
        None => (None, None, None),
    };
    let price: Option<PriceTerms> = match line.pricing.and_then(|p| p.price_details?.price) {
        Some(Expandable::Object(p)) => Some(p.into_terms()),
        Some(Expandable::Id(id)) => prices.get(&id).cloned(),
        None => line.price.map(EmbeddedPrice::into_terms),
    };
    let (period_start, period_end) = match line.period {
        Some(p) => (p.start, p.end),
        None => (None, None),
    };
    InvoiceLineRecord {
        id: line.id,
        subscription: id_of(line.subscription).or(parent_subscription),
        subscription_item: parent_item.or_else(|| id_of(line.subscription_item)),
        price,
        quantity: line.quantity,
        amount: line.amount,
        currency: line.currency.to_ascii_lowercase(),
        period_start,
        period_end,
        proration: parent_proration.or(line.proration).unwrap_or(false),
    }
}
