//! Movements: how one unit's day-to-day change of MRR is classified and counted.
//!
//! On each day with a change, a unit's MRR at the end of the day is compared with the
//! previous end of day: 0→x is new (never paid before) or reactivation, up is
//! expansion, down is contraction, x→0 is churn ([`classify`]). [`Presence`] follows a
//! paying slice (a unit, or one plan of a unit) for the customer counts and the
//! start-of-period cohort (NRR, GRR). By plan, a unit's movement of a day is split over
//! its plans ([`allocate`]) so every field of the grouped series sums exactly to the
//! ungrouped one.

/// What one change (or a whole period) adds to a series. Contraction and churn are
/// positive magnitudes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Effect {
    pub new: i128,
    pub expansion: i128,
    pub contraction: i128,
    pub churn: i128,
    pub reactivation: i128,
    pub plan_switch: i128,
    pub customers_delta: i64,
    pub new_customers: u64,
    pub reactivated_customers: u64,
    /// Customers paying at the period start who are not paying at its end: each such
    /// customer adds 1 when it stops paying and takes it back if it pays again within
    /// the period, so the period's sum is exact.
    pub churned_customers: i64,
    /// Movements counted as ChartMogul's data table counts activities: each day a unit
    /// (a customer, or one plan of it) goes up, down, or to 0 is one expansion,
    /// contraction or churn. With the new and reactivated counts, `start customers + new
    /// + reactivated − churns = end customers` holds exactly.
    pub expansions: u64,
    pub contractions: u64,
    pub churns: u64,
    /// Σ changes of units that were paying at the period start (for NRR).
    pub cohort_net: i128,
    /// Σ decreases of those units (for GRR).
    pub cohort_loss: i128,
}

impl Effect {
    pub fn add(&mut self, other: &Effect) {
        self.new += other.new;
        self.expansion += other.expansion;
        self.contraction += other.contraction;
        self.churn += other.churn;
        self.reactivation += other.reactivation;
        self.plan_switch += other.plan_switch;
        self.customers_delta += other.customers_delta;
        self.new_customers += other.new_customers;
        self.reactivated_customers += other.reactivated_customers;
        self.churned_customers += other.churned_customers;
        self.expansions += other.expansions;
        self.contractions += other.contractions;
        self.churns += other.churns;
        self.cohort_net += other.cohort_net;
        self.cohort_loss += other.cohort_loss;
    }
    pub fn net(&self) -> i128 {
        self.new + self.expansion + self.reactivation - self.contraction - self.churn
            + self.plan_switch
    }
}

/// One series (the total, or one group): MRR and paying units at the start of the first
/// period, then each period's effects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Accumulator {
    pub start_mrr: i128,
    pub start_customers: i64,
    pub periods: Vec<Effect>,
}

impl Accumulator {
    pub fn new(periods: usize) -> Accumulator {
        Accumulator {
            periods: vec![Effect::default(); periods],
            ..Accumulator::default()
        }
    }
    pub fn add(&mut self, period: usize, effect: &Effect) {
        if let Some(slot) = self.periods.get_mut(period) {
            slot.add(effect);
        }
    }
    pub fn add_start(&mut self, value: i128) {
        self.start_mrr += value;
        self.start_customers += i64::from(value > 0);
    }
    pub fn is_empty(&self) -> bool {
        self.start_mrr == 0
            && self.start_customers == 0
            && self.periods.iter().all(|p| *p == Effect::default())
    }
}

/// A paying slice (a unit, or one plan of a unit) as the walk follows it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Presence {
    pub value: i128,
    pub ever_paid: bool,
    cohort_period: usize,
    in_cohort: bool,
}

const NO_PERIOD: usize = usize::MAX;

impl Presence {
    pub const NEW: Presence = Presence {
        value: 0,
        ever_paid: false,
        cohort_period: NO_PERIOD,
        in_cohort: false,
    };

    /// Before the range: only the value and whether it ever paid matter.
    pub fn set_quietly(&mut self, value: i128) {
        self.ever_paid |= value > 0;
        self.value = value;
    }

    /// Moves to `value` on a day of `period`, adding the counts and cohort parts.
    pub fn step(&mut self, period: usize, value: i128, effect: &mut Effect) {
        if self.cohort_period != period {
            // The first change of the period: the value held since the period started.
            self.cohort_period = period;
            self.in_cohort = self.value > 0;
        }
        let old = self.value;
        if old <= 0 && value > 0 {
            effect.customers_delta += 1;
            if self.ever_paid {
                effect.reactivated_customers += 1;
            } else {
                effect.new_customers += 1;
            }
        } else if old > 0 && value <= 0 {
            effect.customers_delta -= 1;
            effect.churns += 1;
        } else if old > 0 && value > old {
            effect.expansions += 1;
        } else if old > 0 && value < old {
            effect.contractions += 1;
        }
        if self.in_cohort {
            if old > 0 && value <= 0 {
                effect.churned_customers += 1;
            } else if old <= 0 && value > 0 {
                effect.churned_customers -= 1;
            }
            effect.cohort_net += value - old;
            effect.cohort_loss += (old - value).max(0);
        }
        self.set_quietly(value);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    New,
    Expansion,
    Contraction,
    Churn,
    Reactivation,
}

pub(crate) fn classify(old: i128, new: i128, ever_paid: bool) -> Option<Kind> {
    match (old > 0, new > 0) {
        (false, true) if ever_paid => Some(Kind::Reactivation),
        (false, true) => Some(Kind::New),
        (true, false) => Some(Kind::Churn),
        (true, true) if new > old => Some(Kind::Expansion),
        (true, true) if new < old => Some(Kind::Contraction),
        _ => None,
    }
}

/// Adds a signed change as a movement of `kind` (or as a plan switch when none).
pub(crate) fn add_money(effect: &mut Effect, kind: Option<Kind>, change: i128) {
    match kind {
        Some(Kind::New) => effect.new += change,
        Some(Kind::Expansion) => effect.expansion += change,
        Some(Kind::Reactivation) => effect.reactivation += change,
        Some(Kind::Contraction) => effect.contraction -= change,
        Some(Kind::Churn) => effect.churn -= change,
        None => effect.plan_switch += change,
    }
}

/// Splits a unit's change `total` over its plans' changes of the same sign, in
/// proportion (the rounding remainder to the largest): `shares` sum to `total`.
pub(crate) fn allocate(total: i128, changes: &[(usize, i128, i128)], shares: &mut Vec<i128>) {
    shares.clear();
    shares.resize(changes.len(), 0);
    let same_sign = |change: i128| total != 0 && change.signum() == total.signum();
    let pool: i128 = changes
        .iter()
        .map(|(_, old, new)| new - old)
        .filter(|change| same_sign(*change))
        .sum();
    let mut given = 0;
    let mut largest: Option<(usize, i128)> = None;
    for (slot, (_, old, new)) in changes.iter().enumerate() {
        let change = new - old;
        if !same_sign(change) || pool == 0 {
            continue;
        }
        let share = total
            .checked_mul(change)
            .map_or(0, |product| product / pool);
        shares[slot] = share;
        given += share;
        if largest.is_none_or(|(_, size)| change.abs() > size) {
            largest = Some((slot, change.abs()));
        }
    }
    if let Some((slot, _)) = largest {
        shares[slot] += total - given;
    }
}
