//! Discounts at every level Stripe has them (a customer's `discount`, a subscription's
//! `discounts[]`, an item's `discounts[]`) with their coupon's terms. Today's API keeps
//! the coupon at `source.coupon`, the older one at `coupon`; a discount redeemed with a
//! promotion code resolves to the code's coupon (`promotion.coupon`). The coupon must
//! be expanded: a bare id says nothing of the terms, and a silently dropped `forever`
//! coupon would overstate MRR, so an unexpanded one is a shape error.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::parse::{Expandable, ParseError, non_empty};
use crate::domain::billing::{CouponDuration, DiscountRecord};

#[derive(Deserialize)]
pub(super) struct Discount {
    source: Option<DiscountSource>,
    /// The older shape: the coupon object directly on the discount.
    coupon: Option<Coupon>,
    promotion_code: Option<Expandable<PromotionCode>>,
    start: Option<i64>,
    end: Option<i64>,
}

#[derive(Deserialize)]
struct DiscountSource {
    coupon: Option<Expandable<Coupon>>,
}

#[derive(Deserialize)]
struct PromotionCode {
    id: String,
    promotion: Option<DiscountSource>,
    /// The older shape.
    coupon: Option<Coupon>,
}

#[derive(Deserialize)]
struct Coupon {
    id: String,
    percent_off: Option<f64>,
    amount_off: Option<i64>,
    currency: Option<String>,
    duration: CouponDuration,
    duration_in_months: Option<u32>,
    /// Sent only when expanded (`expand[]=applies_to`).
    applies_to: Option<AppliesTo>,
    /// Sent only when expanded (`expand[]=currency_options`).
    currency_options: Option<HashMap<String, CurrencyOption>>,
}

#[derive(Deserialize)]
struct AppliesTo {
    #[serde(default)]
    products: Vec<String>,
}

#[derive(Deserialize)]
struct CurrencyOption {
    amount_off: Option<i64>,
}

fn coupon_of(d: Discount) -> (Option<Coupon>, Option<String>) {
    let (promotion_code, promoted) = match d.promotion_code {
        Some(Expandable::Object(code)) => {
            let coupon = match code.promotion.and_then(|p| p.coupon) {
                Some(Expandable::Object(coupon)) => Some(coupon),
                _ => code.coupon,
            };
            (Some(code.id), coupon)
        }
        Some(Expandable::Id(id)) => (Some(id), None),
        None => (None, None),
    };
    let coupon = match (d.source.and_then(|s| s.coupon), d.coupon) {
        (Some(Expandable::Object(coupon)), _) => Some(coupon),
        (_, Some(coupon)) => Some(coupon),
        _ => promoted,
    };
    (coupon, promotion_code)
}

/// One discount as a record; `object` and `path` name it in a shape error.
pub(super) fn discount_record(
    object: &'static str,
    path: &str,
    discount: Expandable<Discount>,
) -> Result<DiscountRecord, ParseError> {
    let unexpanded = || ParseError::at(object, format!("{path} (not expanded)"));
    let Expandable::Object(d) = discount else {
        return Err(unexpanded());
    };
    let (start, end) = (d.start, d.end);
    let (Some(coupon), promotion_code) = coupon_of(d) else {
        return Err(unexpanded());
    };
    let percent_off_bp = match coupon.percent_off {
        None => None,
        Some(p) if p.is_finite() && (0.0..=100.0).contains(&p) => Some((p * 100.0).round() as u32),
        Some(_) => return Err(ParseError::at(object, format!("{path}.coupon.percent_off"))),
    };
    let amount_off_by_currency: BTreeMap<String, i64> = coupon
        .currency_options
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(code, option)| Some((code.to_ascii_lowercase(), option.amount_off?)))
        .collect();
    Ok(DiscountRecord {
        coupon_id: coupon.id,
        percent_off_bp,
        amount_off: coupon.amount_off,
        currency: non_empty(coupon.currency).map(|c| c.to_ascii_lowercase()),
        duration: coupon.duration,
        duration_in_months: coupon.duration_in_months,
        start,
        end,
        applies_to_products: coupon.applies_to.map(|a| a.products).unwrap_or_default(),
        amount_off_by_currency,
        promotion_code,
    })
}

/// A list of discounts as records, in order.
pub(super) fn discount_records(
    object: &'static str,
    path: &str,
    discounts: Vec<Expandable<Discount>>,
) -> Result<Vec<DiscountRecord>, ParseError> {
    discounts
        .into_iter()
        .enumerate()
        .map(|(index, d)| discount_record(object, &format!("{path}[{index}]"), d))
        .collect()
}
