//! Prices: per-unit amounts (with `unit_amount_decimal`'s fractions of a minor unit),
//! package pricing (`transform_quantity`) and tiers (`tiers_mode`, `tiers[]`, sent by
//! Stripe only when expanded: `expand[]=tiers`).

use serde::Deserialize;

use super::parse::{IdOrObject, ParseError, decode, id_of, non_empty};
use crate::domain::billing::{
    Interval, PriceTerms, PriceTier, QuantityRound, TiersMode, TransformQuantity, UsageType,
};

/// Millionths of a minor unit per minor unit.
const MICROS: i64 = 1_000_000;

#[derive(Deserialize)]
pub(super) struct Price {
    id: String,
    product: Option<IdOrObject>,
    nickname: Option<String>,
    currency: String,
    unit_amount: Option<i64>,
    unit_amount_decimal: Option<String>,
    recurring: Option<Recurring>,
    transform_quantity: Option<Transform>,
    tiers_mode: Option<TiersMode>,
    tiers: Option<Vec<Tier>>,
}

#[derive(Deserialize)]
struct Recurring {
    interval: Interval,
    interval_count: Option<u32>,
    usage_type: Option<UsageType>,
}

#[derive(Deserialize)]
struct Transform {
    divide_by: u64,
    round: QuantityRound,
}

#[derive(Deserialize)]
struct Tier {
    up_to: Option<u64>,
    unit_amount: Option<i64>,
    unit_amount_decimal: Option<String>,
    flat_amount: Option<i64>,
    flat_amount_decimal: Option<String>,
}

/// A decimal amount of minor units (`"2000"`, `"0.125"`) in millionths, rounded half up
/// past the sixth decimal. `None` when it is not a plain non-negative decimal.
pub(super) fn decimal_micros(text: &str) -> Option<i64> {
    let (whole, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let mut micros = 0i64;
    for position in 0..6 {
        let digit = fraction.as_bytes().get(position).map_or(0, |b| b - b'0');
        micros = micros * 10 + i64::from(digit);
    }
    let round_up = fraction.as_bytes().get(6).is_some_and(|b| *b >= b'5');
    whole
        .checked_mul(MICROS)?
        .checked_add(micros + i64::from(round_up))
}

/// An amount given as an integer of minor units and/or a decimal string, in millionths.
fn amount_micros(amount: Option<i64>, decimal: Option<&str>) -> Option<i64> {
    decimal
        .and_then(decimal_micros)
        .or_else(|| amount.and_then(|a| a.checked_mul(MICROS)))
}

fn tier(t: Tier) -> PriceTier {
    PriceTier {
        up_to: t.up_to,
        unit_amount_micros: amount_micros(t.unit_amount, t.unit_amount_decimal.as_deref())
            .unwrap_or(0),
        flat_amount_micros: amount_micros(t.flat_amount, t.flat_amount_decimal.as_deref())
            .unwrap_or(0),
    }
}

pub(super) fn price_terms(p: Price) -> PriceTerms {
    let (interval, interval_count, usage_type) = match p.recurring {
        Some(r) => (
            Some(r.interval),
            r.interval_count.unwrap_or(1).max(1),
            r.usage_type.unwrap_or(UsageType::Licensed),
        ),
        None => (None, 1, UsageType::Licensed),
    };
    // Kept only when finer than a whole minor unit: records of whole prices stay as
    // they were.
    let unit_amount_micros = p
        .unit_amount_decimal
        .as_deref()
        .and_then(decimal_micros)
        .filter(|micros| micros % MICROS != 0);
    PriceTerms {
        id: p.id,
        product: id_of(p.product),
        nickname: non_empty(p.nickname),
        currency: p.currency.to_ascii_lowercase(),
        unit_amount: p.unit_amount,
        interval,
        interval_count,
        usage_type,
        unit_amount_micros,
        transform_quantity: p.transform_quantity.map(|t| TransformQuantity {
            divide_by: t.divide_by,
            round: t.round,
        }),
        tiers_mode: p.tiers_mode,
        tiers: p.tiers.unwrap_or_default().into_iter().map(tier).collect(),
    }
}

/// A price object (`GET /v1/prices/{id}`, or expanded inside another object).
pub fn price(value: &serde_json::Value) -> Result<PriceTerms, ParseError> {
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
