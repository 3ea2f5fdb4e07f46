//! The terms of non-flat prices: package pricing and tiers, as Stripe defines them
//! (Stripe docs "Package pricing" / "Tiered pricing").

use serde::{Deserialize, Serialize};

/// Package pricing (Stripe `transform_quantity`): the quantity is divided by
/// `divide_by` and rounded before it multiplies the unit amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransformQuantity {
    pub divide_by: u64,
    pub round: QuantityRound,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuantityRound {
    Up,
    Down,
}

/// Stripe `tiers_mode`: `volume` prices every unit at the tier the total quantity
/// reaches; `graduated` prices each unit at the tier it falls in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TiersMode {
    Volume,
    Graduated,
}

/// One tier of a tiered price. Amounts are in millionths of a minor unit (Stripe's
/// `*_decimal` amounts carry fractions of a cent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceTier {
    /// The tier's last unit; `None` is Stripe's `inf`.
    pub up_to: Option<u64>,
    pub unit_amount_micros: i64,
    pub flat_amount_micros: i64,
}
