//! Charges, refunds and payment methods. Card facts are read through [`Card`], which
//! names five fields — brand, funding, expiry month and year, country — so last4,
//! fingerprints, checks, wallets, network tokens and 3-D Secure details are never
//! deserialized at all.

use serde::Deserialize;
use serde_json::Value;

use super::parse::{IdOrObject, ParseError, country_code, decode, id_of, non_empty};
use crate::domain::billing::{CardFacts, ChargeRecord, PaymentMethodRecord, RefundRecord};

/// The only card fields ever read.
#[derive(Deserialize)]
struct Card {
    brand: Option<String>,
    funding: Option<String>,
    exp_month: Option<u32>,
    exp_year: Option<u32>,
    country: Option<String>,
}

impl Card {
    fn facts(self) -> CardFacts {
        CardFacts {
            brand: non_empty(self.brand).map(|b| normalize_brand(&b)),
            funding: non_empty(self.funding).map(|f| f.to_ascii_lowercase()),
            exp_month: self.exp_month.filter(|m| (1..=12).contains(m)),
            exp_year: self.exp_year,
            country: country_code(self.country),
        }
    }
}

/// Payment methods say `amex`, `diners`, `visa`; legacy card objects said `American
/// Express`, `Diners Club`, `Visa`. One vocabulary for the brand dimension.
fn normalize_brand(brand: &str) -> String {
    let lower = brand.trim().to_ascii_lowercase();
    match lower.as_str() {
        "american express" => "amex".to_owned(),
        "diners club" => "diners".to_owned(),
        "eftpos australia" => "eftpos_au".to_owned(),
        "master card" => "mastercard".to_owned(),
        _ => lower.replace(' ', "_"),
    }
}

#[derive(Deserialize)]
struct Charge {
    id: String,
    customer: Option<IdOrObject>,
    /// Gone from charges since API 2025-03-31 (invoice payments link them now);
    /// read when an older shape still carries it.
    invoice: Option<IdOrObject>,
    amount: i64,
    #[serde(default)]
    amount_refunded: i64,
    currency: String,
    status: String,
    created: i64,
    failure_code: Option<String>,
    payment_method: Option<String>,
    payment_method_details: Option<PaymentMethodDetails>,
}

#[derive(Deserialize)]
struct PaymentMethodDetails {
    #[serde(rename = "type")]
    method_type: Option<String>,
    card: Option<Card>,
}

pub fn charge(value: &Value) -> Result<ChargeRecord, ParseError> {
    let c: Charge = decode("charge", value)?;
    let (payment_method_type, card) = match c.payment_method_details {
        Some(d) => (non_empty(d.method_type), d.card.map(Card::facts)),
        None => (None, None),
    };
    Ok(ChargeRecord {
        id: c.id,
        customer: id_of(c.customer),
        invoice: id_of(c.invoice),
        amount: c.amount,
        amount_refunded: c.amount_refunded,
        currency: c.currency.to_ascii_lowercase(),
        status: c.status,
        created: c.created,
        failure_code: non_empty(c.failure_code),
        payment_method: non_empty(c.payment_method),
        payment_method_type,
        card,
    })
}

#[derive(Deserialize)]
struct Refund {
    id: String,
    charge: Option<IdOrObject>,
    amount: i64,
    currency: String,
    status: Option<String>,
    created: i64,
}

pub fn refund(value: &Value) -> Result<RefundRecord, ParseError> {
    let r: Refund = decode("refund", value)?;
    Ok(RefundRecord {
        id: r.id,
        charge: id_of(r.charge),
        amount: r.amount,
        currency: r.currency.to_ascii_lowercase(),
        status: non_empty(r.status),
        created: r.created,
    })
}

#[derive(Deserialize)]
struct PaymentMethod {
    id: String,
    customer: Option<IdOrObject>,
    #[serde(rename = "type")]
    method_type: String,
    card: Option<Card>,
    created: i64,
}

pub fn payment_method(value: &Value) -> Result<PaymentMethodRecord, ParseError> {
    let p: PaymentMethod = decode("payment_method", value)?;
    Ok(PaymentMethodRecord {
        id: p.id,
        customer: id_of(p.customer),
        method_type: p.method_type,
        card: p.card.map(Card::facts),
        created: p.created,
    })
}
