//! What one billing period of a price costs for a quantity, exactly, per Stripe's
//! pricing models (Stripe docs "Recurring pricing models"): per unit × quantity,
//! package pricing (`transform_quantity`: divide, then round up or down), and tiers
//! (`tiers_mode` `volume` or `graduated`, each tier a unit amount and a flat amount).

use crate::domain::billing::{Interval, PriceTerms, PriceTier, QuantityRound, TiersMode};

use super::money::{MICROS_PER_MINOR, Mrr, div_round_half_even};

/// One period's amount in millionths of a minor unit; `None` when the terms do not
/// say (a price without a unit amount, or tiered without its tiers).
pub(crate) fn period_amount_micros(price: &PriceTerms, quantity: u64) -> Option<i128> {
    match price.tiers_mode {
        Some(mode) => tiered(mode, &price.tiers, quantity),
        None => {
            let unit = unit_micros(price)?;
            Some(unit.saturating_mul(i128::from(billed_units(price, quantity))))
        }
    }
}

/// `unit_amount_decimal` when it was kept (it may hold fractions of a minor unit),
/// else `unit_amount`.
fn unit_micros(price: &PriceTerms) -> Option<i128> {
    price.unit_amount_micros.map(i128::from).or_else(|| {
        price
            .unit_amount
            .map(|unit| i128::from(unit).saturating_mul(MICROS_PER_MINOR))
    })
}

/// The units a quantity bills: with `transform_quantity`, the quantity divided by
/// `divide_by`, rounded up (a started package is a whole package) or down.
pub(crate) fn billed_units(price: &PriceTerms, quantity: u64) -> u64 {
    match price.transform_quantity {
        Some(transform) if transform.divide_by > 0 => {
            let whole = quantity / transform.divide_by;
            let started = !quantity.is_multiple_of(transform.divide_by);
            if started && transform.round == QuantityRound::Up {
                whole.saturating_add(1)
            } else {
                whole
            }
        }
        _ => quantity,
    }
}

fn tier_amount(tier: &PriceTier, units: u64) -> i128 {
    i128::from(tier.unit_amount_micros)
        .saturating_mul(i128::from(units))
        .saturating_add(i128::from(tier.flat_amount_micros))
}

/// Volume: every unit at the tier the whole quantity falls in, plus that tier's flat
/// amount. Graduated: each tier's units at its own unit amount, plus the flat amount of
/// every tier that holds at least one unit.
fn tiered(mode: TiersMode, tiers: &[PriceTier], quantity: u64) -> Option<i128> {
    if tiers.is_empty() {
        return None;
    }
    match mode {
        TiersMode::Volume => {
            let tier = tiers
                .iter()
                .find(|tier| tier.up_to.is_none_or(|up_to| quantity <= up_to))
                .or(tiers.last())?;
            Some(tier_amount(tier, quantity))
        }
        TiersMode::Graduated => {
            let mut total = 0i128;
            let mut below = 0u64;
            for tier in tiers {
                if quantity <= below {
                    break;
                }
                let top = tier.up_to.map_or(quantity, |up_to| up_to.min(quantity));
                let units = top.saturating_sub(below);
                if units > 0 {
                    total = total.saturating_add(tier_amount(tier, units));
                }
                below = tier.up_to.unwrap_or(u64::MAX);
            }
            Some(total)
        }
    }
}

/// An amount in millionths of a minor unit billed every `count` intervals, per month
/// (the same normalization as [`super::money::monthly`], without rounding to a unit
/// first).
pub(crate) fn monthly_micros(amount_micros: i128, interval: Interval, count: u32) -> Mrr {
    let (per_month_num, per_month_den): (i128, i128) = match interval {
        Interval::Day => (365, 12),
        Interval::Week => (52, 12),
        Interval::Month => (1, 1),
        Interval::Year => (1, 12),
    };
    let count = i128::from(count.max(1));
    Mrr(div_round_half_even(
        amount_micros.saturating_mul(per_month_num),
        per_month_den * count,
    ))
}
