//! The one pass behind [`super::cohorts`]: each customer's changes in day order, its
//! MRR (and, by plan or currency, its MRR in each) converted as the series' walk does
//! ([`convert_day`]), and each unit's value recorded at the end of every period from its
//! cohort's on. Nothing loops over calendar days or over all customers per period.

use super::calendar::Periods;
use super::dimensions::Dimension;
use super::facts::MrrChange;
use super::series::Selection;
use super::walk::{Slice, convert_day};

/// Cohort sizes and, per cohort and absolute period, (paying units, MRR).
pub(super) struct Triangle {
    pub sizes: Vec<u64>,
    pub cells: Vec<Vec<(u64, i128)>>,
}

impl Triangle {
    fn new(periods: usize) -> Triangle {
        Triangle {
            sizes: vec![0; periods],
            cells: (0..periods).map(|c| vec![(0, 0); periods - c]).collect(),
        }
    }
}

/// Where a unit stands: never paid yet, first paid before the range (in no cohort of
/// it), or a member of `cohort` whose periods before `next` are recorded.
#[derive(Clone, Copy)]
enum Membership {
    NotYet,
    Earlier,
    Member { cohort: usize, next: usize },
}

/// A customer (or its MRR in one plan or currency) as the pass follows it.
#[derive(Clone, Copy)]
struct Unit {
    /// Counted in the total triangle (false for the parts of plan/currency grouping).
    total: bool,
    group: Option<u32>,
    value: i128,
    membership: Membership,
}

pub(super) struct Pass<'a> {
    periods: &'a Periods,
    selection: &'a Selection,
    /// Plan or currency grouping: units below the customer.
    by_part: Option<Dimension>,
    pub total: Triangle,
    pub groups: Vec<Triangle>,
    slices: Vec<Slice>,
    units: Vec<Unit>,
    converted: Vec<(usize, i128)>,
    raises: Vec<(usize, i128)>,
}

impl<'a> Pass<'a> {
    pub fn new(
        periods: &'a Periods,
        selection: &'a Selection,
        group_by: Option<Dimension>,
    ) -> Self {
        Pass {
            periods,
            selection,
            by_part: group_by.filter(|d| !d.is_customer_level()),
            total: Triangle::new(periods.len()),
            groups: (0..selection.group_keys.len())
                .map(|_| Triangle::new(periods.len()))
                .collect(),
            slices: Vec::new(),
            units: Vec::new(),
            converted: Vec::new(),
            raises: Vec::new(),
        }
    }

    pub fn customer(&mut self, run: &[MrrChange]) {
        let Some(head) = run.first() else { return };
        self.slices.clear();
        self.units.clear();
        let customer_group = match (self.by_part, &self.selection.group_index) {
            (None, Some(index)) => index.get(head.customer as usize).copied(),
            _ => None,
        };
        self.units.push(Unit {
            total: true,
            group: customer_group,
            value: 0,
            membership: Membership::NotYet,
        });
        for changes in run.chunk_by(|a, b| a.at_day == b.at_day) {
            let Some(day) = changes.first().map(|c| c.at_day) else {
                continue;
            };
            if day > self.periods.last_day {
                break;
            }
            for currency_changes in changes.chunk_by(|a, b| a.currency == b.currency) {
                let Some(currency) = currency_changes.first().map(|c| c.currency) else {
                    continue;
                };
                let Some(factor) = self.selection.conversion.factor(currency, day) else {
                    continue;
                };
                convert_day(
                    &mut self.slices,
                    currency_changes,
                    factor,
                    &mut self.converted,
                    &mut self.raises,
                    |_, _| {},
                );
            }
            self.settle_day(day);
        }
        for index in 0..self.units.len() {
            if let Some(unit) = self.units.get(index).copied() {
                self.flush(unit, self.periods.len());
            }
        }
    }

    /// Each unit's value after the day's changes, moved to its new value.
    fn settle_day(&mut self, day: u32) {
        let plan_ok = |plan: u32| {
            self.selection
                .plan_ok
                .as_ref()
                .is_none_or(|ok| ok.get(plan as usize) == Some(&true))
        };
        let mut total = 0;
        let mut parts: Vec<(u32, i128)> = Vec::new();
        for slice in self.slices.iter().filter(|s| plan_ok(s.plan)) {
            total += slice.value;
            let key = match (self.by_part, &self.selection.group_index) {
                (Some(Dimension::Plan), Some(index)) => index.get(slice.plan as usize),
                (Some(_), Some(index)) => index.get(usize::from(slice.currency)),
                _ => None,
            };
            if let Some(&key) = key {
                match parts.iter_mut().find(|(k, _)| *k == key) {
                    Some(part) => part.1 += slice.value,
                    None => parts.push((key, slice.value)),
                }
            }
        }
        self.settle(0, day, total);
        for (key, value) in parts {
            let slot = match self
                .units
                .iter()
                .position(|u| !u.total && u.group == Some(key))
            {
                Some(slot) => slot,
                None => {
                    self.units.push(Unit {
                        total: false,
                        group: Some(key),
                        value: 0,
                        membership: Membership::NotYet,
                    });
                    self.units.len() - 1
                }
            };
            self.settle(slot, day, value);
        }
    }

    /// Moves unit `slot` to `value` at the end of `day`.
    fn settle(&mut self, slot: usize, day: u32, value: i128) {
        let Some(mut unit) = self.units.get(slot).copied() else {
            return;
        };
        if value == unit.value {
            return;
        }
        match unit.membership {
            Membership::NotYet if value > 0 => {
                unit.membership = match self.periods.index_of(day) {
                    Some(cohort) if day >= self.periods.first_day() => {
                        self.size(unit, cohort);
                        Membership::Member {
                            cohort,
                            next: cohort,
                        }
                    }
                    _ => Membership::Earlier,
                };
            }
            Membership::Member { cohort, .. } => {
                let until = self.periods.index_of(day).unwrap_or(self.periods.len());
                unit.membership = Membership::Member {
                    cohort,
                    next: self.flush(unit, until),
                };
            }
            _ => {}
        }
        unit.value = value;
        if let Some(entry) = self.units.get_mut(slot) {
            *entry = unit;
        }
    }

    fn size(&mut self, unit: Unit, cohort: usize) {
        if unit.total
            && let Some(size) = self.total.sizes.get_mut(cohort)
        {
            *size += 1;
        }
        if let Some(size) = unit
            .group
            .and_then(|g| self.groups.get_mut(g as usize))
            .and_then(|t| t.sizes.get_mut(cohort))
        {
            *size += 1;
        }
    }

    /// Records the unit's current value as the end value of its periods before `until`
    /// not yet recorded; returns the next period to record.
    fn flush(&mut self, unit: Unit, until: usize) -> usize {
        let Membership::Member { cohort, next } = unit.membership else {
            return 0;
        };
        let paying = u64::from(unit.value > 0);
        for period in next..until {
            let offset = period - cohort;
            let add = |t: &mut Triangle| {
                if let Some(cell) = t.cells.get_mut(cohort).and_then(|r| r.get_mut(offset)) {
                    cell.0 += paying;
                    cell.1 += unit.value;
                }
            };
            if unit.total {
                add(&mut self.total);
            }
            if let Some(group) = unit.group.and_then(|g| self.groups.get_mut(g as usize)) {
                add(group);
            }
        }
        until.max(next)
    }
}
