//! The single pass over MRR changes that yields movements per period and group.
//!
//! Each (customer, currency) unit's changes are walked in day order; nothing loops over
//! calendar days or over all customers per period, so the work is proportional to the
//! number of changes. Period-end MRR is not summed separately: it is the start MRR plus
//! the movements, which is the identity itself (tests check it against an independent
//! day-by-day evaluation of the timelines).

use super::calendar::Periods;
use super::facts::{Facts, MrrChange};
use super::fx::ConversionFactor;
use super::movements::{Accumulator, Effect, Presence, add_money, allocate, classify};

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
    /// Per currency: its conversion, or `None` when filtered out.
    pub conversion: &'a [Option<ConversionFactor>],
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
        plan_mode: spec.plan_ok.is_some() || matches!(spec.group_by, GroupBy::Plan(_)),
        result: WalkResult {
            total: Accumulator::new(periods),
            groups: (0..spec.group_count)
                .map(|_| Accumulator::new(periods))
                .collect(),
        },
        plans: Vec::new(),
        day: Vec::new(),
        shares: Vec::new(),
    };
    for run in facts
        .changes
        .chunk_by(|a, b| a.customer == b.customer && a.currency == b.currency)
    {
        let Some(head) = run.first() else { continue };
        let customer_ok = spec.customer_ok.get(head.customer as usize).copied();
        let conversion = spec
            .conversion
            .get(usize::from(head.currency))
            .copied()
            .flatten();
        if let (Some(true), Some(factor)) = (customer_ok, conversion) {
            walker.unit(run, factor);
        }
    }
    walker.result
}

struct Walker<'s, 'a> {
    spec: &'s WalkSpec<'a>,
    plan_mode: bool,
    result: WalkResult,
    /// The current unit's plans: (plan index, presence).
    plans: Vec<(u32, Presence)>,
    /// The current day's changes: (slot in `plans`, old value, new value).
    day: Vec<(usize, i128, i128)>,
    shares: Vec<i128>,
}

impl Walker<'_, '_> {
    fn unit(&mut self, run: &[MrrChange], factor: ConversionFactor) {
        let (first_day, last_day) = (self.spec.periods.first_day(), self.spec.periods.last_day);
        let Some(head) = run.first().copied() else {
            return;
        };
        self.plans.clear();
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
            self.collect_day(changes, factor);
            let new_total =
                unit.value + self.day.iter().map(|(_, old, new)| new - old).sum::<i128>();
            match self.spec.periods.index_of(day).filter(|_| day >= first_day) {
                Some(period) => self.apply_day(head, period, &mut unit, new_total),
                None => {
                    unit.set_quietly(new_total);
                    for (slot, _, new) in &self.day {
                        if let Some((_, presence)) = self.plans.get_mut(*slot) {
                            presence.set_quietly(*new);
                        }
                    }
                }
            }
        }
        if !started {
            self.record_start(head, &unit);
        }
    }

    /// Fills `self.day` with (slot, old, new) per plan changed on the day.
    fn collect_day(&mut self, changes: &[MrrChange], factor: ConversionFactor) {
        self.day.clear();
        for change in changes {
            let value = factor.apply(change.value).0;
            let slot = match self.plans.iter().position(|(plan, _)| *plan == change.plan) {
                Some(slot) => slot,
                None => {
                    self.plans.push((change.plan, Presence::NEW));
                    self.plans.len() - 1
                }
            };
            match self.day.iter_mut().find(|(known, _, _)| *known == slot) {
                Some(entry) => entry.2 = value,
                None => {
                    let old = self.plans.get(slot).map_or(0, |(_, p)| p.value);
                    self.day.push((slot, old, value));
                }
            }
        }
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
        if !self.plan_mode {
            for (slot, _, new) in &self.day {
                if let Some((_, presence)) = self.plans.get_mut(*slot) {
                    presence.set_quietly(*new);
                }
            }
            return;
        }
        allocate(new_total - old_total, &self.day, &mut self.shares);
        for index in 0..self.day.len() {
            let (Some(&(slot, old, new)), Some(&share)) =
                (self.day.get(index), self.shares.get(index))
            else {
                continue;
            };
            let Some((plan, presence)) = self.plans.get_mut(slot) else {
                continue;
            };
            let plan = *plan;
            let mut effect = Effect::default();
            add_money(&mut effect, kind, share);
            effect.plan_switch += new - old - share;
            presence.step(period, new, &mut effect);
            if self.plan_passes(plan) {
                if plan_filter {
                    self.result.total.add(period, &effect);
                }
                if let Some(group) = self.plan_group(head, plan) {
                    group.add(period, &effect);
                }
            }
        }
    }

    /// Adds the unit's values at the start of the range (end of the day before).
    fn record_start(&mut self, head: MrrChange, unit: &Presence) {
        if self.spec.plan_ok.is_none() {
            self.result.total.add_start(unit.value);
            if let Some(group) = self.unit_group(head) {
                group.add_start(unit.value);
            }
        }
        if !self.plan_mode {
            return;
        }
        for index in 0..self.plans.len() {
            let Some(&(plan, presence)) = self.plans.get(index) else {
                continue;
            };
            if !self.plan_passes(plan) {
                continue;
            }
            if self.spec.plan_ok.is_some() {
                self.result.total.add_start(presence.value);
            }
            if let Some(group) = self.plan_group(head, plan) {
                group.add_start(presence.value);
            }
        }
    }

    fn plan_passes(&self, plan: u32) -> bool {
        self.spec
            .plan_ok
            .is_none_or(|ok| ok.get(plan as usize).copied().unwrap_or(false))
    }

    /// The group of a unit-level contribution (grouping by a customer dimension or
    /// currency; `None` when ungrouped or grouped by plan).
    fn unit_group(&mut self, head: MrrChange) -> Option<&mut Accumulator> {
        let index = match self.spec.group_by {
            GroupBy::Customer(keys) => keys.get(head.customer as usize),
            GroupBy::Currency(keys) => keys.get(usize::from(head.currency)),
            GroupBy::None | GroupBy::Plan(_) => None,
        }?;
        self.result.groups.get_mut(*index as usize)
    }

    /// The group of one plan's contribution: by plan, or (under a plan filter) the
    /// unit's group.
    fn plan_group(&mut self, head: MrrChange, plan: u32) -> Option<&mut Accumulator> {
        match self.spec.group_by {
            GroupBy::Plan(keys) => {
                let index = *keys.get(plan as usize)?;
                self.result.groups.get_mut(index as usize)
            }
            _ if self.spec.plan_ok.is_some() => self.unit_group(head),
            _ => None,
        }
    }
}
