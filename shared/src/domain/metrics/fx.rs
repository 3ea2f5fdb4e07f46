//! Currency conversion: where the rates come from, and how an amount is converted on a
//! given day.
//!
//! Two sources, in this order:
//! 1. **Daily reference rates** ([`DailyRates`]): the European Central Bank's euro
//!    reference rates, one set per business day (a day without publication uses the
//!    last one before it);
//! 2. **the tenant's stored rates** ([`FxRates`]): constant rates for currencies the
//!    ECB does not publish (and, without daily rates, for every currency).
//!
//! A rate is "units of a currency per one unit of the anchor" as an exact integer scaled
//! by [`RATE_SCALE`] (the anchor is the euro for daily rates, the stored base otherwise).
//! Decimals arriving as JSON (`{"usd": 1.08}`) are fixed to nine places once; everything
//! after that is integer arithmetic, deterministic to the unit.
//!
//! How a *series* uses these rates (each movement converted once, on its day, so that FX
//! never shows up as a movement) is the walk's business: see [`super::walk`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::MetricsError;
use super::money::{Mrr, div_round_half_even, minor_unit_exponent};

/// Rates are exact integers: units per anchor unit × 10⁹.
pub const RATE_SCALE: i128 = 1_000_000_000;
/// The largest rate accepted (a guard against absurd input overflowing the arithmetic).
const MAX_RATE: f64 = 1.0e9;

/// Daily rates against the euro (the ECB's reference rates).
pub trait DailyRates: Send + Sync {
    /// Units of `currency` (lower-case ISO 4217) per 1 EUR × [`RATE_SCALE`] on UTC day
    /// `day` (days since 1970-01-01): the latest rate published on or before that day.
    /// `None` when the source never published the currency.
    fn per_eur(&self, currency: &str, day: u32) -> Option<i128>;
}

/// The tenant's stored rates: units of each currency per unit of `base`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FxRates {
    pub base: String,
    pub rates: BTreeMap<String, f64>,
}

impl FxRates {
    /// Checks every rate is a finite positive number within range.
    pub fn validate(&self) -> Result<(), MetricsError> {
        for (currency, rate) in &self.rates {
            if !valid(*rate) {
                return Err(MetricsError::InvalidFxRate(currency.clone()));
            }
        }
        Ok(())
    }

    /// Units of `currency` per unit of the base, scaled; `None` when not stored.
    fn per_base(&self, currency: &str) -> Option<i128> {
        if currency.eq_ignore_ascii_case(&self.base) {
            return Some(RATE_SCALE);
        }
        self.rates
            .iter()
            .find(|(code, _)| code.eq_ignore_ascii_case(currency))
            .map(|(_, rate)| *rate)
            .filter(|rate| valid(*rate))
            .map(scaled)
    }
}

fn valid(rate: f64) -> bool {
    rate.is_finite() && rate > 0.0 && rate <= MAX_RATE && scaled(rate) >= 1
}

fn scaled(rate: f64) -> i128 {
    (rate * RATE_SCALE as f64).round() as i128
}

/// Where a conversion takes its rates: daily rates, the tenant's stored rates, or both.
#[derive(Clone, Default)]
pub struct FxSource {
    daily: Option<Arc<dyn DailyRates>>,
    stored: Option<FxRates>,
}

impl fmt::Debug for FxSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FxSource")
            .field("daily", &self.daily.is_some())
            .field("stored", &self.stored)
            .finish()
    }
}

impl From<FxRates> for FxSource {
    fn from(rates: FxRates) -> Self {
        FxSource::stored_only(rates)
    }
}

impl FxSource {
    /// Daily rates first, the tenant's stored rates for what they lack.
    pub fn daily(daily: Arc<dyn DailyRates>, stored: Option<FxRates>) -> FxSource {
        FxSource {
            daily: Some(daily),
            stored,
        }
    }

    /// Only constant stored rates (one rate per currency for every day).
    pub fn stored_only(rates: FxRates) -> FxSource {
        FxSource {
            daily: None,
            stored: Some(rates),
        }
    }

    pub fn stored(&self) -> Option<&FxRates> {
        self.stored.as_ref()
    }

    /// Checks the stored rates, if any.
    pub fn validate(&self) -> Result<(), MetricsError> {
        self.stored.as_ref().map_or(Ok(()), FxRates::validate)
    }

    /// Units of `currency` per anchor unit on `day`, scaled. The anchor is the euro
    /// when daily rates exist, else the stored base. A currency only the tenant stores
    /// goes through its base, which the daily rates must know.
    pub fn per_anchor(&self, currency: &str, day: u32) -> Option<i128> {
        let Some(daily) = &self.daily else {
            return self.stored.as_ref()?.per_base(currency);
        };
        if currency.eq_ignore_ascii_case("eur") {
            return Some(RATE_SCALE);
        }
        if let Some(rate) = daily.per_eur(&currency.to_ascii_lowercase(), day) {
            return Some(rate);
        }
        let stored = self.stored.as_ref()?;
        let per_base = stored.per_base(currency)?;
        let base_per_eur = if stored.base.eq_ignore_ascii_case("eur") {
            RATE_SCALE
        } else {
            daily.per_eur(&stored.base.to_ascii_lowercase(), day)?
        };
        Some(div_round_half_even(per_base * base_per_eur, RATE_SCALE)).filter(|r| *r > 0)
    }

    /// The factor turning minor units of `from` into minor units of `to` on `day`.
    pub fn factor_on(
        &self,
        from: &str,
        to: &str,
        day: u32,
    ) -> Result<ConversionFactor, MetricsError> {
        if from.eq_ignore_ascii_case(to) {
            return Ok(ConversionFactor::IDENTITY);
        }
        let to_rate = self
            .per_anchor(to, day)
            .ok_or_else(|| MetricsError::MissingFxRate(to.to_ascii_lowercase()))?;
        let from_rate = self
            .per_anchor(from, day)
            .ok_or_else(|| MetricsError::MissingFxRate(from.to_ascii_lowercase()))?;
        Ok(ConversionFactor::between(from, from_rate, to, to_rate))
    }
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

    /// From minor units of `from` (at `from_rate` per anchor) into minor units of `to`:
    /// amount_to = amount_from ÷ 10^exp_from ÷ rate_from × rate_to × 10^exp_to.
    pub fn between(from: &str, from_rate: i128, to: &str, to_rate: i128) -> ConversionFactor {
        if from.eq_ignore_ascii_case(to) {
            return ConversionFactor::IDENTITY;
        }
        ConversionFactor {
            numerator: to_rate * 10i128.pow(minor_unit_exponent(to)),
            denominator: from_rate * 10i128.pow(minor_unit_exponent(from)),
        }
    }

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

impl FxRates {
    /// The factor between two currencies at these constant rates.
    pub fn factor(&self, from: &str, to: &str) -> Result<ConversionFactor, MetricsError> {
        self.validate()?;
        FxSource::stored_only(self.clone()).factor_on(from, to, 0)
    }
}

impl DailyRates for crate::domain::fx_history::RateHistory {
    fn per_eur(&self, currency: &str, day: u32) -> Option<i128> {
        crate::domain::fx_history::RateHistory::per_eur(self, currency, day)
    }
}
