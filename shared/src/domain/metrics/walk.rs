//! The single pass over MRR changes that yields movements per period and group.
//!
//! The unit of movements is the **customer**, across all its currencies (ChartMogul and
//! Stripe both count a customer once): a customer who drops its dollar subscription
//! while keeping its euro one contracts, it does not churn. Each customer's changes are
//! walked in day order; nothing loops over calendar days or over all customers per
//! period, so the work is proportional to the number of changes.
//!
//! **Conversion, once per movement.** A customer's MRR is made of slices (one per
//! currency and plan). The changes of one currency on one day are converted on that
//! day, never again later ([`convert_day`]):
//! * a decrease removes the same share of what the slice holds (its value as booked:
//!   dropping half the seats removes half of the converted MRR, churn removes all of it);
//! * an increase takes over, at its booked value, what the same currency gave up that
//!   day (a plan switch moves MRR, it does not re-price it), and adds only the rest —
//!   new money — at that day's rate.
//!
//! So exchange rates never create a movement, a churned customer leaves exactly 0, and
//! `start + Σ movements = end` holds exactly in the reporting currency
//! (`fx_conversion.converted_once_at_movement_day` in [`super::policy::DEFINITIONS`]).
//! In one currency (or at constant rates) this is the plain native arithmetic.
//!
//! Period-end MRR is not summed separately: it is the start MRR plus the movements, which
//! is the identity itself (tests check it against an independent evaluation).

use super::calendar::Periods;
use super::facts::{Facts, MrrChange};
use super::fx::ConversionFactor;
use super::money::{Mrr, div_round_half_even};
use super::movements::{Accumulator, Effect, Presence, add_money, allocate, classify};
use super::series::Conversions;

/// How contributions are grouped: a group index per customer, per currency or per plan.
#[derive(Clone, Copy, Debug)]
pub(crate) enum GroupBy<'a> {
    None,
    Customer(&'a [u32]),
    Currency(&'a [u32]),
    Plan(&'a [u32]),
}

pub(crate) struct WalkSpec<'a> {
    pub periods: &'a Periods,
    /// Per customer: passes the customer-level filters.
    pub customer_ok: &'a [bool],
    /// Per currency and day: its conversion, or none when the currency is not in the
    /// series (filtered out, or no rate).
    pub conversion: &'a Conversions,
    /// Per plan, when a plan filter is present.
    pub plan_ok: Option<&'a [bool]>,
    pub group_by: GroupBy<'a>,
    pub group_count: usize,
}

pub(crate) struct WalkResult {
    pub total: Accumulator,
    pub groups: Vec<Accumulator>,
}

/// Walks all changes once.
pub(crate) fn walk(facts: &Facts, spec: &WalkSpec<'_>) -> WalkResult {
    let periods = spec.periods.len();
    let mut walker = Walker {
        spec,
        part_mode: spec.plan_ok.is_some()
            || matches!(spec.group_by, GroupBy::Plan(_) | GroupBy::Currency(_)),
        result: WalkResult {
            total: Accumulator::new(periods),
            groups: (0..spec.group_count)
                .map(|_| Accumulator::new(periods))
                .collect(),
        },
        slices: Vec::new(),
        slice_parts: Vec::new(),
        parts: Vec::new(),
        converted: Vec::new(),
        raises: Vec::new(),
        new_slots: Vec::new(),
        day: Vec::new(),
        shares: Vec::new(),
    };
    for run in facts.changes.chunk_by(|a, b| a.customer == b.customer) {
        let Some(head) = run.first() else { continue };
        if spec.customer_ok.get(head.customer as usize).copied() == Some(true) {
            walker.customer(run);
        }
    }
    walker.result
}

/// One (currency, plan) slice of a customer: its native value and its value converted.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slice {
    pub currency: u16,
    pub plan: u32,
    pub native: i128,
    pub value: i128,
}

/// The slot of a slice, added (at 0) when new: (slot, added).
pub(crate) fn slice_slot(slices: &mut Vec<Slice>, currency: u16, plan: u32) -> (usize, bool) {
    match slices
        .iter()
        .position(|s| s.currency == currency && s.plan == plan)
    {
        Some(slot) => (slot, false),
        None => {
            slices.push(Slice {
                currency,
                plan,
                native: 0,
                value: 0,
            });
            (slices.len() - 1, true)
        }
    }
}

/// Converts one customer's changes of ONE currency on one day (see the module's doc),
/// updating `slices` and pushing (slot, converted change) per slice changed. New slices
/// are appended to `slices`; `on_new` is told each new slot. `raises` is scratch space,
/// reused across calls so that the walk allocates nothing per change.
pub(crate) fn convert_day(
    slices: &mut Vec<Slice>,
    changes: &[MrrChange],
    factor: ConversionFactor,
    out: &mut Vec<(usize, i128)>,
    raises: &mut Vec<(usize, i128)>,
    mut on_new: impl FnMut(usize, &MrrChange),
) {
    out.clear();
    raises.clear();
    let (mut given_native, mut given_value) = (0i128, 0i128);
    for change in changes {
        let (slot, added) = slice_slot(slices, change.currency, change.plan);
        if added {
            on_new(slot, change);
        }
        let Some(slice) = slices.get_mut(slot) else {
            continue;
        };
        let new = change.value.0;
        if new < slice.native {
            let value = if new <= 0 || slice.native <= 0 {
                factor.apply(Mrr(new.min(0))).0
            } else {
                div_round_half_even(slice.value.saturating_mul(new), slice.native)
            };
            given_native += slice.native - new;
            given_value += slice.value - value;
            out.push((slot, value - slice.value));
            slice.value = value;
        } else if new > slice.native {
            raises.push((slot, new - slice.native));
        }
        slice.native = new;
    }
    let raised: i128 = raises.iter().map(|(_, n)| n).sum();
    if raised <= 0 {
        return;
    }
    let swapped = raised.min(given_native);
    let swapped_value = if given_native > 0 {
        div_round_half_even(given_value.saturating_mul(swapped), given_native)
    } else {
        0
    };
    let total = swapped_value + factor.apply(Mrr(raised - swapped)).0;
    let mut handed = 0;
    let mut largest: Option<(usize, i128)> = None;
    let first = out.len();
    for (slot, native) in raises.iter() {
        let share = total.saturating_mul(*native) / raised;
        handed += share;
        out.push((*slot, share));
        if largest.is_none_or(|(_, size)| *native > size) {
            largest = Some((out.len() - 1, *native));
        }
    }
    if let Some(entry) = largest.and_then(|(index, _)| out.get_mut(index)) {
        entry.1 += total - handed;
    }
    for (slot, delta) in out.iter().skip(first) {
        if let Some(slice) = slices.get_mut(*slot) {
            slice.value += delta;
        }
    }
}

/// What the walk follows below the customer, when grouping by plan or currency or
/// filtering by plan: the customer's MRR per group key (and plan, under a plan filter).
#[derive(Clone, Copy)]
struct Part {
    group: Option<u32>,
    plan: Option<u32>,
    presence: Presence,
}

struct Walker<'s, 'a> {
    spec: &'s WalkSpec<'a>,
    part_mode: bool,
    result: WalkResult,
    slices: Vec<Slice>,
    /// The part of each slice (part mode only).
    slice_parts: Vec<usize>,
    parts: Vec<Part>,
    /// The current day's converted changes per slice.
    converted: Vec<(usize, i128)>,
    /// Scratch of [`convert_day`].
    raises: Vec<(usize, i128)>,
    /// The slices a day added, with the change that added each.
    new_slots: Vec<(usize, MrrChange)>,
    /// The current day's changes per part: (part, old value, new value).
    day: Vec<(usize, i128, i128)>,
    shares: Vec<i128>,
}

impl Walker<'_, '_> {
    fn customer(&mut self, run: &[MrrChange]) {
        let (first_day, last_day) = (self.spec.periods.first_day(), self.spec.periods.last_day);
        let Some(head) = run.first().copied() else {
            return;
        };
        self.slices.clear();
        self.slice_parts.clear();
        self.parts.clear();
        let mut unit = Presence::NEW;
        let mut started = false;
        for changes in run.chunk_by(|a, b| a.at_day == b.at_day) {
            let Some(day) = changes.first().map(|c| c.at_day) else {
                continue;
            };
            if day > last_day {
                break;
            }
            if !started && day >= first_day {
                self.record_start(head, &unit);
                started = true;
            }
            let change = self.collect_day(changes, day);
            if change == 0 && self.day.is_empty() {
                continue;
            }
            let new_total = unit.value + change;
            match self.spec.periods.index_of(day).filter(|_| day >= first_day) {
                Some(period) => self.apply_day(head, period, &mut unit, new_total),
                None => {
                    unit.set_quietly(new_total);
                    for (slot, _, new) in &self.day {
                        if let Some(part) = self.parts.get_mut(*slot) {
                            part.presence.set_quietly(*new);
                        }
                    }
                }
            }
        }
        if !started {
            self.record_start(head, &unit);
        }
    }

    /// Converts the day's slice changes; fills `self.day` with (part, old, new) per part
    /// changed (in part mode) and returns the customer's total change.
    fn collect_day(&mut self, changes: &[MrrChange], day: u32) -> i128 {
        self.day.clear();
        let mut total = 0;
        for currency_changes in changes.chunk_by(|a, b| a.currency == b.currency) {
            let Some(currency) = currency_changes.first().map(|c| c.currency) else {
                continue;
            };
            let Some(factor) = self.spec.conversion.factor(currency, day) else {
                continue;
            };
            let mut new_slots = std::mem::take(&mut self.new_slots);
            new_slots.clear();
            convert_day(
                &mut self.slices,
                currency_changes,
                factor,
                &mut self.converted,
                &mut self.raises,
                |slot, change| new_slots.push((slot, *change)),
            );
            for &(slot, change) in &new_slots {
                let part = if self.part_mode {
                    self.part_slot(&change)
                } else {
                    0
                };
                if self.slice_parts.len() <= slot {
                    self.slice_parts.resize(slot + 1, 0);
                }
                if let Some(entry) = self.slice_parts.get_mut(slot) {
                    *entry = part;
                }
            }
            self.new_slots = new_slots;
            for index in 0..self.converted.len() {
                let Some(&(slot, delta)) = self.converted.get(index) else {
                    continue;
                };
                total += delta;
                if !self.part_mode || delta == 0 {
                    continue;
                }
                let part = self.slice_parts.get(slot).copied().unwrap_or(0);
                match self.day.iter_mut().find(|(known, _, _)| *known == part) {
                    Some(entry) => entry.2 += delta,
                    None => {
                        let old = self.parts.get(part).map_or(0, |p| p.presence.value);
                        self.day.push((part, old, old + delta));
                    }
                }
            }
        }
        total
    }

    fn part_slot(&mut self, change: &MrrChange) -> usize {
        let group = match self.spec.group_by {
            GroupBy::Plan(keys) => keys.get(change.plan as usize).copied(),
            GroupBy::Currency(keys) => keys.get(usize::from(change.currency)).copied(),
            GroupBy::None | GroupBy::Customer(_) => None,
        };
        let plan = self.spec.plan_ok.map(|_| change.plan);
        if let Some(slot) = self
            .parts
            .iter()
            .position(|p| p.group == group && p.plan == plan)
        {
            return slot;
        }
        self.parts.push(Part {
            group,
            plan,
            presence: Presence::NEW,
        });
        self.parts.len() - 1
    }

    fn apply_day(&mut self, head: MrrChange, period: usize, unit: &mut Presence, new_total: i128) {
        let old_total = unit.value;
        let kind = classify(old_total, new_total, unit.ever_paid);
        let mut effect = Effect::default();
        add_money(&mut effect, kind, new_total - old_total);
        unit.step(period, new_total, &mut effect);
        let plan_filter = self.spec.plan_ok.is_some();
        if !plan_filter {
            self.result.total.add(period, &effect);
            if let Some(group) = self.unit_group(head) {
                group.add(period, &effect);
            }
        }
        if !self.part_mode {
            return;
        }
        allocate(new_total - old_total, &self.day, &mut self.shares);
        for index in 0..self.day.len() {
            let (Some(&(slot, old, new)), Some(&share)) =
                (self.day.get(index), self.shares.get(index))
            else {
                continue;
            };
            let Some(part) = self.parts.get_mut(slot) else {
                continue;
            };
            let mut effect = Effect::default();
            add_money(&mut effect, kind, share);
            effect.plan_switch += new - old - share;
            part.presence.step(period, new, &mut effect);
            let part = *part;
            if self.part_passes(&part) {
                if plan_filter {
                    self.result.total.add(period, &effect);
                }
                if let Some(group) = self.part_group(head, &part) {
                    group.add(period, &effect);
                }
            }
        }
    }

    /// Adds the customer's values at the start of the range (end of the day before).
    fn record_start(&mut self, head: MrrChange, unit: &Presence) {
        if self.spec.plan_ok.is_none() {
            self.result.total.add_start(unit.value);
            if let Some(group) = self.unit_group(head) {
                group.add_start(unit.value);
            }
        }
        if !self.part_mode {
            return;
        }
        for index in 0..self.parts.len() {
            let Some(part) = self.parts.get(index).copied() else {
                continue;
            };
            if !self.part_passes(&part) {
                continue;
            }
            if self.spec.plan_ok.is_some() {
                self.result.total.add_start(part.presence.value);
            }
            if let Some(group) = self.part_group(head, &part) {
                group.add_start(part.presence.value);
            }
        }
    }

    fn part_passes(&self, part: &Part) -> bool {
        match (self.spec.plan_ok, part.plan) {
            (Some(ok), Some(plan)) => ok.get(plan as usize).copied().unwrap_or(false),
            _ => true,
        }
    }

    /// The group of a customer-level contribution (grouping by a customer dimension;
    /// `None` when ungrouped or grouped below the customer).
    fn unit_group(&mut self, head: MrrChange) -> Option<&mut Accumulator> {
        let index = match self.spec.group_by {
            GroupBy::Customer(keys) => keys.get(head.customer as usize),
            GroupBy::None | GroupBy::Plan(_) | GroupBy::Currency(_) => None,
        }?;
        self.result.groups.get_mut(*index as usize)
    }

    /// The group of one part's contribution: its own group (by plan or currency), or
    /// (under a plan filter) the customer's group.
    fn part_group(&mut self, head: MrrChange, part: &Part) -> Option<&mut Accumulator> {
        match part.group {
            Some(index) => self.result.groups.get_mut(index as usize),
            None if self.spec.plan_ok.is_some() => self.unit_group(head),
            None => None,
        }
    }
}
