//! Currency conversion at one stored set of rates.
//!
//! A series in a reporting currency converts every value at the SAME rates for the whole
//! series, so exchange-rate changes never appear as movements. Conversion is applied to
//! each customer's MRR values (not to movements) before movements are computed, so the
//! identity `start + Σ movements = end` stays exact in the converted units too.
//!
//! Rates arrive as decimals (`{"base": "eur", "rates": {"usd": 1.08}}`: one euro buys
//! 1.08 dollars). Each is fixed to nine decimal places once, so the conversion itself
//! is integer arithmetic and deterministic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::MetricsError;
use super::money::{Mrr, div_round_half_even, minor_unit_exponent};

/// Rates are kept to this many parts per unit (nine decimal places).
const RATE_SCALE: f64 = 1_000_000_000.0;
/// The largest rate accepted (a guard against absurd input overflowing the arithmetic).
const MAX_RATE: f64 = 1.0e9;

/// The tenant's stored rates: units of each currency per one unit of `base`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FxRates {
    pub base: String,
    pub rates: BTreeMap<String, f64>,
}

impl FxRates {
    /// Checks every rate is a finite positive number within range.
    pub fn validate(&self) -> Result<(), MetricsError> {
        for (currency, rate) in &self.rates {
            if !rate.is_finite() || *rate <= 0.0 || *rate > MAX_RATE || scaled(*rate) < 1 {
                return Err(MetricsError::InvalidFxRate(currency.clone()));
            }
        }
        Ok(())
    }

    /// Units of `currency` per unit of the base, scaled by 10⁹.
    fn scaled_rate(&self, currency: &str) -> Result<i128, MetricsError> {
        if currency.eq_ignore_ascii_case(&self.base) {
            return Ok(scaled(1.0));
        }
        let rate = self
            .rates
            .iter()
            .find(|(code, _)| code.eq_ignore_ascii_case(currency))
            .map(|(_, rate)| *rate)
            .ok_or_else(|| MetricsError::MissingFxRate(currency.to_ascii_lowercase()))?;
        if !rate.is_finite() || rate <= 0.0 || rate > MAX_RATE || scaled(rate) < 1 {
            return Err(MetricsError::InvalidFxRate(currency.to_ascii_lowercase()));
        }
        Ok(scaled(rate))
    }

    /// The factor turning amounts in `from` into amounts in `to`, minor units of each.
    pub fn factor(&self, from: &str, to: &str) -> Result<ConversionFactor, MetricsError> {
        if from.eq_ignore_ascii_case(to) {
            return Ok(ConversionFactor::IDENTITY);
        }
        let from_rate = self.scaled_rate(from)?;
        let to_rate = self.scaled_rate(to)?;
        // amount_to = amount_from / 10^exp_from / rate_from × rate_to × 10^exp_to
        let numerator = to_rate * 10i128.pow(minor_unit_exponent(to));
        let denominator = from_rate * 10i128.pow(minor_unit_exponent(from));
        Ok(ConversionFactor {
            numerator,
            denominator,
        })
    }
}

fn scaled(rate: f64) -> i128 {
    (rate * RATE_SCALE).round() as i128
}

/// An exact rational conversion factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConversionFactor {
    numerator: i128,
    denominator: i128,
}

impl ConversionFactor {
    pub const IDENTITY: ConversionFactor = ConversionFactor {
        numerator: 1,
        denominator: 1,
    };

    pub fn is_identity(self) -> bool {
        self.numerator == self.denominator
    }

    /// Converts one fixed-point value, rounding half to even to the fixed-point unit.
    pub fn apply(self, value: Mrr) -> Mrr {
        if self.is_identity() {
            return value;
        }
        Mrr(div_round_half_even(
            value.0.saturating_mul(self.numerator),
            self.denominator,
        ))
    }

    /// Converts whole minor units (payments, refunds) into fixed point.
    pub fn apply_minor(self, minor: i64) -> Mrr {
        self.apply(Mrr::from_minor(minor))
    }
}
