//! Exact money for metrics: fixed point in millionths of a minor unit.
//!
//! Normalizing a price to a month divides by 12 (or multiplies by 52/12, 365/12) and by
//! an interval count, so minor units alone would round on every item. One millionth of a
//! minor unit keeps that rounding far below anything presented, and because every value
//! is an integer, sums and differences are exact: `start + Σ movements = end` holds to
//! the unit. Rounding to minor units (half to even) happens only in [`Mrr::to_minor`].

use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

use serde::{Deserialize, Serialize};

use crate::domain::billing::Interval;

/// Fixed-point units per minor unit (cent, yen...).
pub const MICROS_PER_MINOR: i128 = 1_000_000;

/// Basis points in 100 %.
const FULL_BP: i128 = 10_000;

/// An amount of money in millionths of a minor unit of one currency. Used for MRR and
/// for every amount converted between currencies. Arithmetic saturates instead of
/// wrapping (no real amount comes near `i128::MAX`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Mrr(pub i128);

impl Mrr {
    pub const ZERO: Mrr = Mrr(0);

    pub fn from_minor(minor: i64) -> Mrr {
        Mrr(i128::from(minor).saturating_mul(MICROS_PER_MINOR))
    }
    pub fn micros(self) -> i128 {
        self.0
    }
    /// Whole minor units, rounded half to even: the only place where money rounds.
    pub fn to_minor(self) -> i64 {
        let rounded = div_round_half_even(self.0, MICROS_PER_MINOR);
        i64::try_from(rounded).unwrap_or(if rounded < 0 { i64::MIN } else { i64::MAX })
    }
    pub fn is_positive(self) -> bool {
        self.0 > 0
    }
    pub fn times(self, factor: i128) -> Mrr {
        Mrr(self.0.saturating_mul(factor))
    }
    /// Divided by a count, rounded half to even (ARPU); `None` for a zero count.
    pub fn per(self, count: u64) -> Option<Mrr> {
        (count > 0).then(|| Mrr(div_round_half_even(self.0, i128::from(count))))
    }
    /// As a float of minor units: for ratios only, never for sums.
    pub fn as_minor_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_MINOR as f64
    }
}

impl Add for Mrr {
    type Output = Mrr;
    fn add(self, other: Mrr) -> Mrr {
        Mrr(self.0.saturating_add(other.0))
    }
}
impl Sub for Mrr {
    type Output = Mrr;
    fn sub(self, other: Mrr) -> Mrr {
        Mrr(self.0.saturating_sub(other.0))
    }
}
impl AddAssign for Mrr {
    fn add_assign(&mut self, other: Mrr) {
        *self = *self + other;
    }
}
impl SubAssign for Mrr {
    fn sub_assign(&mut self, other: Mrr) {
        *self = *self - other;
    }
}
impl Neg for Mrr {
    type Output = Mrr;
    fn neg(self) -> Mrr {
        Mrr(self.0.saturating_neg())
    }
}
impl Sum for Mrr {
    fn sum<I: Iterator<Item = Mrr>>(iter: I) -> Mrr {
        iter.fold(Mrr::ZERO, Add::add)
    }
}

/// `numerator / denominator` rounded half to even. A zero denominator gives 0 (callers
/// never divide by zero; this keeps the function total instead of panicking).
pub fn div_round_half_even(numerator: i128, denominator: i128) -> i128 {
    if denominator == 0 {
        return 0;
    }
    let (num, den) = if denominator < 0 {
        (numerator.saturating_neg(), denominator.saturating_neg())
    } else {
        (numerator, denominator)
    };
    let quotient = num.div_euclid(den);
    let remainder = num.rem_euclid(den);
    let above_half = remainder > den - remainder;
    let exactly_half = remainder == den - remainder;
    if above_half || (exactly_half && quotient % 2 != 0) {
        quotient.saturating_add(1)
    } else {
        quotient
    }
}

/// An amount billed every `interval_count` intervals, as a monthly amount: month ÷ count,
/// year ÷ 12, week × 52 ÷ 12, day × 365 ÷ 12 (Stripe Billing's normalization). A zero
/// interval count is read as 1.
pub fn monthly(amount_minor: i128, interval: Interval, interval_count: u32) -> Mrr {
    let (per_month_num, per_month_den): (i128, i128) = match interval {
        Interval::Day => (365, 12),
        Interval::Week => (52, 12),
        Interval::Month => (1, 1),
        Interval::Year => (1, 12),
    };
    let count = i128::from(interval_count.max(1));
    let scaled = amount_minor
        .saturating_mul(MICROS_PER_MINOR)
        .saturating_mul(per_month_num);
    Mrr(div_round_half_even(scaled, per_month_den * count))
}

/// Unit amount × quantity, normalized to a month: the simplest of the pricing models
/// (`super::pricing` has them all), kept for the tests that pin the normalization.
#[cfg(test)]
pub fn item_mrr(unit_amount: i64, quantity: u64, interval: Interval, interval_count: u32) -> Mrr {
    let amount = i128::from(unit_amount).saturating_mul(i128::from(quantity));
    monthly(amount, interval, interval_count)
}

/// `value` less a percentage given in basis points (capped at 100 %).
pub fn less_percent(value: Mrr, percent_off_bp: u32) -> Mrr {
    let kept = FULL_BP - i128::from(percent_off_bp).min(FULL_BP);
    Mrr(div_round_half_even(value.0.saturating_mul(kept), FULL_BP))
}

/// Takes `reduction` off `parts` in proportion to each part, never below zero, so that
/// the parts still sum to exactly `max(0, Σ parts − reduction)`. Used to spread an
/// amount-off coupon over the plans of one subscription.
pub fn reduce_proportionally(parts: &mut [Mrr], reduction: Mrr) {
    let total: i128 = parts.iter().map(|part| part.0.max(0)).sum();
    if total <= 0 || reduction.0 <= 0 {
        return;
    }
    let reduction = reduction.0.min(total);
    let mut taken = 0i128;
    for part in parts.iter_mut().filter(|part| part.0 > 0) {
        let share = reduction.saturating_mul(part.0) / total;
        part.0 -= share;
        taken += share;
    }
    // Truncation leaves less than one unit per part: take it from the largest parts.
    let mut left = reduction - taken;
    while left > 0 {
        let Some(largest) = parts
            .iter_mut()
            .filter(|part| part.0 > 0)
            .max_by_key(|p| p.0)
        else {
            break;
        };
        let take = left.min(largest.0);
        largest.0 -= take;
        left -= take;
    }
}

/// Decimal places of a currency's minor unit (ISO 4217, as Stripe uses them): needed to
/// convert between currencies whose minor units differ (yen have none).
pub fn minor_unit_exponent(currency: &str) -> u32 {
    const ZERO_DECIMAL: [&str; 16] = [
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
        "xaf", "xof", "xpf",
    ];
    const THREE_DECIMAL: [&str; 5] = ["bhd", "jod", "kwd", "omr", "tnd"];
    let code = currency.to_ascii_lowercase();
    if ZERO_DECIMAL.contains(&code.as_str()) {
        0
    } else if THREE_DECIMAL.contains(&code.as_str()) {
        3
    } else {
        2
    }
}

/// An amount in minor units written in major units as an exact decimal: the minor units
/// divided by 10^[`minor_unit_exponent`], with exactly that many decimal places and no
/// rounding (integer arithmetic, never a float): `1999 eur` → `19.99`, `500 jpy` →
/// `500`, `-1234 bhd` → `-1.234`. What a spreadsheet reads as the amount itself.
pub fn major_units(minor: i64, currency: &str) -> String {
    let exponent = minor_unit_exponent(currency);
    let sign = if minor < 0 { "-" } else { "" };
    // `unsigned_abs`: `i64::MIN` has no positive counterpart in i64.
    let magnitude = minor.unsigned_abs();
    if exponent == 0 {
        return format!("{sign}{magnitude}");
    }
    let scale = 10u64.pow(exponent);
    let width = exponent as usize;
    format!("{sign}{}.{:0width$}", magnitude / scale, magnitude % scale)
}

#[cfg(test)]
mod major_unit_tests {
    use super::major_units;

    /// ISO 4217's minor units (as Stripe's "zero-decimal" and "three-decimal" currency
    /// lists use them): EUR 2 decimals, JPY none, BHD 3. Hand-computed values.
    #[test]
    fn minor_units_are_written_as_exact_major_units_per_iso_4217() {
        assert_eq!(major_units(1999, "eur"), "19.99");
        assert_eq!(major_units(5, "eur"), "0.05");
        assert_eq!(major_units(0, "usd"), "0.00");
        assert_eq!(major_units(-1999, "EUR"), "-19.99");
        assert_eq!(major_units(-5, "eur"), "-0.05");
        assert_eq!(major_units(500, "jpy"), "500");
        assert_eq!(major_units(-500, "jpy"), "-500");
        assert_eq!(major_units(1234, "bhd"), "1.234");
        assert_eq!(major_units(-7, "kwd"), "-0.007");
        // Beyond f64's 2^53: exact all the same.
        assert_eq!(
            major_units(9_007_199_254_740_993, "eur"),
            "90071992547409.93"
        );
        assert_eq!(major_units(i64::MIN, "eur"), "-92233720368547758.08");
    }
}
