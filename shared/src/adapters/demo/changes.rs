//! Changes of plan and seats. Most happen at a renewal, so the next period's invoice
//! simply shows the new terms; an upgrade may also happen mid-period (mostly on annual
//! plans), billed at once by a `subscription_update` invoice with a proration line.

use crate::domain::billing::Interval;

use super::calendar::{DAY, HOUR, period_days};
use super::catalogue::{GROWTH_MONTHLY, PLANS, PlanId, STARTER_MONTHLY, Tier, neighbour};
use super::collection::{Collection, Schedule};
use super::generate::{CustomerState, Generator};
use super::invoices::{InvoiceDraft, LineDraft};
use super::lifecycle::{Item, Running};

/// Monthly chances of a change at a renewal (scaled by the period's length).
const UPGRADE_PER_MONTH: f64 = 0.025;
const DOWNGRADE_PER_MONTH: f64 = 0.012;
const FREE_TO_PAID_PER_MONTH: f64 = 0.05;

impl Generator {
    /// Decides, at the renewal at `at`, whether the plan or seats change for the
    /// period that starts.
    pub(super) fn change_at_renewal(
        &mut self,
        customer: &mut CustomerState,
        sub: &mut Running,
        at: i64,
    ) {
        let Some(plan) = PLANS.get(sub.plan()) else {
            return;
        };
        if plan.legacy && !sub.price_migration_decided && at >= self.migration_from {
            // The merchant moves half of the grandfathered subscriptions to today's
            // price, announced a month ahead; the rest keep the old price.
            sub.price_migration_decided = true;
            if self.dice.chance(0.5) {
                self.set_main_item(sub, STARTER_MONTHLY, 1);
                self.out.events.price_increases += 1;
                return;
            }
        }
        if plan.tier == Tier::Free {
            if self.dice.chance(FREE_TO_PAID_PER_MONTH) {
                let entered = self.dice.between(sub.created.max(at - 2 * DAY), at - HOUR);
                self.ensure_method(customer, entered.max(sub.created));
                let paid = if self.dice.chance(0.7) {
                    STARTER_MONTHLY
                } else {
                    GROWTH_MONTHLY
                };
                let seats = self.seats(paid).min(3);
                self.set_main_item(sub, paid, seats);
                self.out.events.free_to_paid += 1;
            }
            return;
        }
        let months = (period_days(plan.interval, plan.interval_count) as f64 / 30.0).min(6.0);
        let factor = self.change_factor;
        if self
            .dice
            .chance((UPGRADE_PER_MONTH * months * factor).min(0.7))
        {
            if let Some((plan, seats)) = self.upgraded_terms(sub) {
                self.set_main_item(sub, plan, seats);
                self.out.events.upgrades_at_renewal += 1;
            }
        } else if self
            .dice
            .chance((DOWNGRADE_PER_MONTH * months * factor).min(0.35))
            && let Some((plan, seats)) = self.downgraded_terms(sub)
        {
            self.set_main_item(sub, plan, seats);
            self.out.events.downgrades += 1;
        }
    }

    /// The processor keeps the item (and its id) when its price or quantity changes.
    fn set_main_item(&mut self, sub: &mut Running, plan: PlanId, quantity: u64) {
        if let Some(item) = sub.items.first_mut() {
            item.plan = plan;
            item.quantity = quantity.max(1);
        }
    }

    /// More seats, or the next tier on the same cadence.
    fn upgraded_terms(&mut self, sub: &Running) -> Option<(PlanId, u64)> {
        let Item {
            plan: current,
            quantity,
            ..
        } = sub.items.first()?;
        let per_seat = PLANS.get(*current)?.per_seat;
        let next_tier = neighbour(*current, 1);
        if let Some(next) = next_tier
            && (!per_seat || self.dice.chance(0.4))
        {
            let seats = if PLANS.get(next)?.per_seat {
                quantity + if per_seat { 0 } else { self.dice.count(0, 2) }
            } else {
                1
            };
            return Some((next, seats));
        }
        per_seat.then(|| (*current, quantity + self.dice.count(1, 5)))
    }

    /// Fewer seats, or the tier below on the same cadence.
    fn downgraded_terms(&mut self, sub: &Running) -> Option<(PlanId, u64)> {
        let Item {
            plan: current,
            quantity,
            ..
        } = sub.items.first()?;
        if PLANS.get(*current)?.per_seat && *quantity > 1 && self.dice.chance(0.6) {
            let fewer = self.dice.count(1, (*quantity - 1).min(3));
            return Some((*current, quantity - fewer));
        }
        let lower = neighbour(*current, -1)?;
        let seats = if PLANS.get(lower)?.per_seat {
            *quantity
        } else {
            1
        };
        Some((lower, seats))
    }

    /// Sometimes an upgrade cannot wait for the renewal: the difference for the rest of
    /// the period is invoiced at once, as one net proration line. If that payment
    /// fails, the change is not made.
    pub(super) fn maybe_upgrade_mid_period(
        &mut self,
        customer: &mut CustomerState,
        sub: &mut Running,
    ) {
        let Some(plan) = PLANS.get(sub.plan()) else {
            return;
        };
        let chance = match (plan.interval, plan.interval_count, plan.tier) {
            (_, _, Tier::Free) => 0.0,
            (Interval::Year, _, _) => 0.12,
            (Interval::Month, 1, _) => 0.006,
            (Interval::Month, _, _) => 0.02,
            _ => 0.0,
        };
        if sub.cancel_at_period_end || !self.dice.chance(chance) {
            return;
        }
        let (start, end) = sub.period;
        let at = self.dice.between(start + DAY, end - DAY);
        if at > self.end {
            return;
        }
        let Some((new_plan, new_seats)) = self.upgraded_terms(sub) else {
            return;
        };
        let Some(item) = sub.items.first() else {
            return;
        };
        let currency = customer.currency;
        let value = |plan: PlanId, seats: u64| {
            PLANS.get(plan).map_or(0, |plan| plan.unit_amount(currency)) * seats as i64
        };
        let difference = value(new_plan, new_seats) - value(item.plan, item.quantity);
        if difference <= 0 || end <= start {
            return;
        }
        let amount = difference * (end - at) / (end - start);
        let line = LineDraft {
            item: item.id.clone(),
            plan: new_plan,
            quantity: new_seats,
            period: (at, end),
            proration: true,
            amount,
        };
        let discount = self.discount_at(sub, at);
        let draft = InvoiceDraft {
            subscription: &sub.id,
            created: at,
            period: (at, end),
            billing_reason: "subscription_update",
            lines: vec![line],
            discount,
        };
        let invoice = self.push_invoice(customer, draft);
        match self.collect(customer, invoice, Schedule::Upgrade) {
            Collection::Paid { charge } => {
                self.on_paid(customer, sub, charge);
                self.set_main_item(sub, new_plan, new_seats);
                self.out.events.upgrades_mid_period += 1;
            }
            Collection::NothingDue => {
                self.set_main_item(sub, new_plan, new_seats);
                self.out.events.upgrades_mid_period += 1;
            }
            _ => {}
        }
    }
}
