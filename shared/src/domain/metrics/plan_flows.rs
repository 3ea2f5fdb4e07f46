//! Plan changes as flows (`plan_flows`): which plan MRR left for which, per period.
//!
//! By plan, a customer's movement of a day is split over the plans that moved in its
//! direction and the rest of each plan's change is `plan_switch` (the `plan_switch`
//! definition). This pass says where that MRR went: on a day a customer's MRR left some
//! plans (each gave up `d_p`) and entered others (each took on `i_q`), the MRR moved is
//! `s = min(Σd, Σi)` and the flow from `p` to `q` is `s × d_p/Σd × i_q/Σi`. What plans
//! took on beyond `s` is new, expansion or reactivation; what they gave up beyond it,
//! contraction or churn. So the flows into a plan minus those out of it are its
//! `plan_switch` in `mrr_movements?group_by=plan`, and an upgrade from a $50 plan to a
//! $80 one is a $50 flow plus $30 of expansion.
//!
//! Amounts are converted like the series ([`convert_day`]: each change once, on its
//! day), so a flow is in the reply's currency at the rates of the day it happened.

use std::collections::HashMap;

use super::MetricsError;
use super::calendar::{Periods, day_of_date};
use super::dimensions::Dimension;
use super::facts::{Facts, MrrChange};
use super::money::Mrr;
use super::series::{Selection, SeriesQuery, Unconverted, unconverted_mrr};
use super::walk::{Slice, convert_day};

/// MRR that moved from one plan to another in a period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanFlow {
    pub from: String,
    pub to: String,
    /// Customer-days on which the customer's MRR moved from `from` to `to`.
    pub switches: u64,
    pub mrr: Mrr,
}

/// The flows of a query's periods.
pub(crate) struct Flows {
    pub periods: Periods,
    /// Per period, largest first.
    pub flows: Vec<Vec<PlanFlow>>,
    /// Currencies left out for want of a rate.
    pub unconverted: Vec<Unconverted>,
}

/// The flows of each period of the query, and the currencies left out.
pub(crate) fn plan_flows(facts: &Facts, query: &SeriesQuery) -> Result<Flows, MetricsError> {
    if let Some(dimension) = query.group_by {
        return Err(MetricsError::DimensionNotApplicable {
            metric: "plan_flows",
            dimension,
        });
    }
    let periods = Periods::new(
        day_of_date(query.from),
        day_of_date(query.to),
        query.interval,
    )?;
    let selection = Selection::resolve(facts, query)?;
    let plan_filter = query.filters.iter().any(|f| f.dimension == Dimension::Plan);
    let mut pass = Pass {
        periods: &periods,
        selection: &selection,
        plan_filter,
        totals: vec![HashMap::new(); periods.len()],
        slices: Vec::new(),
        converted: Vec::new(),
        raises: Vec::new(),
        by_plan: Vec::new(),
    };
    for run in facts.changes.chunk_by(|a, b| a.customer == b.customer) {
        let Some(head) = run.first() else { continue };
        if selection.customer_ok.get(head.customer as usize) == Some(&true) {
            pass.customer(run);
        }
    }
    let plan_name = |plan: u32| facts.plans.get(plan as usize).cloned().unwrap_or_default();
    let flows = pass
        .totals
        .into_iter()
        .map(|period| {
            let mut flows: Vec<PlanFlow> = period
                .into_iter()
                .map(|((from, to), (switches, mrr))| PlanFlow {
                    from: plan_name(from),
                    to: plan_name(to),
                    switches,
                    mrr: Mrr(mrr),
                })
                .collect();
            flows.sort_by(|a, b| {
                b.mrr
                    .cmp(&a.mrr)
                    .then_with(|| a.from.cmp(&b.from))
                    .then_with(|| a.to.cmp(&b.to))
            });
            flows
        })
        .collect();
    let unconverted = unconverted_mrr(facts, &selection, periods.last_day);
    Ok(Flows {
        periods,
        flows,
        unconverted,
    })
}

/// The flows of each period, exact (for tests and callers that present them).
pub fn plan_flows_of(
    facts: &Facts,
    query: &SeriesQuery,
) -> Result<Vec<Vec<PlanFlow>>, MetricsError> {
    plan_flows(facts, query).map(|f| f.flows)
}

struct Pass<'a> {
    periods: &'a Periods,
    selection: &'a Selection,
    plan_filter: bool,
    /// Per period: (from plan, to plan) → (switches, MRR).
    totals: Vec<HashMap<(u32, u32), (u64, i128)>>,
    slices: Vec<Slice>,
    converted: Vec<(usize, i128)>,
    raises: Vec<(usize, i128)>,
    /// The day's converted change per plan.
    by_plan: Vec<(u32, i128)>,
}

impl Pass<'_> {
    fn customer(&mut self, run: &[MrrChange]) {
        self.slices.clear();
        let first_day = self.periods.first_day();
        for changes in run.chunk_by(|a, b| a.at_day == b.at_day) {
            let Some(day) = changes.first().map(|c| c.at_day) else {
                continue;
            };
            if day > self.periods.last_day {
                break;
            }
            self.by_plan.clear();
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
                for &(slot, delta) in &self.converted {
                    let Some(plan) = self.slices.get(slot).map(|s| s.plan) else {
                        continue;
                    };
                    match self.by_plan.iter_mut().find(|(p, _)| *p == plan) {
                        Some(entry) => entry.1 += delta,
                        None => self.by_plan.push((plan, delta)),
                    }
                }
            }
            if day < first_day {
                continue;
            }
            if let Some(period) = self.periods.index_of(day) {
                self.record(period);
            }
        }
    }

    /// Splits the day's moved MRR over its (from, to) pairs.
    fn record(&mut self, period: usize) {
        let gave: i128 = self.by_plan.iter().map(|(_, d)| (-d).max(0)).sum();
        let took: i128 = self.by_plan.iter().map(|(_, d)| (*d).max(0)).sum();
        let moved = gave.min(took);
        if moved <= 0 {
            return;
        }
        let plan_ok = |plan: u32| {
            self.selection
                .plan_ok
                .as_ref()
                .is_none_or(|ok| ok.get(plan as usize) == Some(&true))
        };
        let Some(totals) = self.totals.get_mut(period) else {
            return;
        };
        for &(from, given) in self.by_plan.iter().filter(|(_, d)| *d < 0) {
            // s × d_p / Σd, then × i_q / Σi: each product stays far inside i128.
            let out = moved.saturating_mul(-given) / gave;
            for &(to, taken) in self.by_plan.iter().filter(|(_, d)| *d > 0) {
                if self.plan_filter && !plan_ok(from) && !plan_ok(to) {
                    continue;
                }
                let flow = out.saturating_mul(taken) / took;
                let entry = totals.entry((from, to)).or_insert((0, 0));
                entry.0 += 1;
                entry.1 += flow;
            }
        }
    }
}
