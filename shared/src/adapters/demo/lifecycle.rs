//! One subscription's life, period by period: a trial or not, an invoice at each
//! renewal (after any change of plan or seats), its collection, the odd refund, a
//! cancellation (now or at period end) and, rarely, an upgrade in mid-period.
//! The record pushed at the end is the subscription as the processor shows it at the
//! dataset's end (or when it ended); the invoices keep what came before.

use crate::domain::billing::{Interval, SubscriptionStatus};

use super::calendar::{DAY, HOUR, boundary};
use super::catalogue::{API_REQUESTS, COUPONS, Coupon, FREE, PLANS, PlanId, SCALE_MONTHLY, Tier};
use super::collection::{Collection, Schedule};
use super::generate::{CustomerState, Generator, IdKind};
use super::invoices::InvoiceDraft;

const TRIAL_DAYS: i64 = 14;

/// How a subscription begins.
#[derive(Clone, Copy)]
pub(super) enum Entry {
    Free,
    Trial { plan: PlanId, converts: bool },
    Paid { plan: PlanId },
}

/// Why a subscription ended (what makes a comeback more or less likely).
#[derive(Clone, Copy)]
pub(super) enum Ending {
    Canceled,
    DunningFailed,
    TrialExpired,
    Incomplete,
}

pub(super) struct Ended {
    pub(super) at: i64,
    pub(super) how: Ending,
}

pub(super) struct Item {
    pub(super) id: String,
    pub(super) plan: PlanId,
    pub(super) quantity: u64,
}

/// A subscription while it is being lived through.
pub(super) struct Running {
    pub(super) id: String,
    pub(super) created: i64,
    /// The plan first; a metered add-on second, if any.
    pub(super) items: Vec<Item>,
    pub(super) coupon: Option<&'static Coupon>,
    pub(super) once_coupon_spent: bool,
    /// Typical monthly usage of the metered add-on, in units of 1,000 requests.
    pub(super) usage_level: u64,
    /// Where billing periods are counted from (the start, or the trial's end).
    pub(super) anchor: i64,
    pub(super) period: (i64, i64),
    pub(super) trial: Option<(i64, i64)>,
    pub(super) status: SubscriptionStatus,
    pub(super) cancel_at_period_end: bool,
    pub(super) cancel_at: Option<i64>,
    pub(super) canceled_at: Option<i64>,
    pub(super) ended_at: Option<i64>,
    pub(super) has_paid: bool,
    /// Whether the move off a grandfathered price has been decided.
    pub(super) price_migration_decided: bool,
}

impl Running {
    pub(super) fn plan(&self) -> PlanId {
        self.items.first().map_or(FREE, |item| item.plan)
    }
}

impl Generator {
    /// Lives one subscription from `start`; `None` when it is still running at the end.
    pub(super) fn subscription(
        &mut self,
        customer: &mut CustomerState,
        start: i64,
        entry: Entry,
    ) -> Option<Ended> {
        let plan = match entry {
            Entry::Free => FREE,
            Entry::Trial { plan, .. } | Entry::Paid { plan } => plan,
        };
        let mut sub = self.open(start, plan);
        let ended = match entry {
            Entry::Trial { converts, .. } => self.trial(customer, &mut sub, converts),
            Entry::Free => {
                self.out.events.free_signups += 1;
                self.bill(customer, &mut sub, false)
            }
            Entry::Paid { .. } => {
                self.ensure_method(customer, start);
                self.bill(customer, &mut sub, true)
            }
        };
        self.close(customer, sub);
        ended
    }

    fn open(&mut self, start: i64, plan: PlanId) -> Running {
        let id = self.new_id(IdKind::Subscription);
        let quantity = self.seats(plan);
        let mut items = vec![Item {
            id: self.new_id(IdKind::SubscriptionItem),
            plan,
            quantity,
        }];
        if plan == SCALE_MONTHLY && self.dice.chance(0.5) {
            items.push(Item {
                id: self.new_id(IdKind::SubscriptionItem),
                plan: API_REQUESTS,
                quantity: 1,
            });
        }
        let coupon = if plan != FREE && self.dice.chance(0.14) {
            self.out.events.subscriptions_with_coupon += 1;
            self.dice.weighted(&COUPONS)
        } else {
            None
        };
        Running {
            id,
            created: start,
            items,
            coupon,
            once_coupon_spent: false,
            usage_level: self.dice.count(10, 400),
            anchor: start,
            period: (start, start),
            trial: None,
            status: SubscriptionStatus::Active,
            cancel_at_period_end: false,
            cancel_at: None,
            canceled_at: None,
            ended_at: None,
            has_paid: false,
            price_migration_decided: false,
        }
    }

    /// Seats bought with a plan: one for flat plans; a few to dozens on per-seat plans.
    pub(super) fn seats(&mut self, plan: PlanId) -> u64 {
        let Some(terms) = PLANS.get(plan) else {
            return 1;
        };
        let choices: &[(u64, u32)] = match (terms.per_seat, terms.tier) {
            (false, _) => &[(1, 1)],
            (true, Tier::Scale) => &[(3, 25), (5, 30), (10, 25), (20, 12), (40, 8)],
            (true, _) => &[(1, 30), (2, 20), (3, 15), (5, 15), (8, 10), (10, 10)],
        };
        self.dice.weighted(choices).copied().unwrap_or(1)
    }

    /// A 14-day trial opened by a 0-amount invoice; converting trialists enter a card
    /// during the trial and are billed from its end.
    fn trial(
        &mut self,
        customer: &mut CustomerState,
        sub: &mut Running,
        converts: bool,
    ) -> Option<Ended> {
        let trial_end = sub.created + TRIAL_DAYS * DAY;
        sub.trial = Some((sub.created, trial_end));
        sub.period = (sub.created, trial_end);
        self.out.events.trials_started += 1;
        let lines = self.licensed_lines(sub, customer.currency, false);
        let invoice = self.push_invoice(
            customer,
            InvoiceDraft {
                subscription: &sub.id,
                created: sub.created,
                period: sub.period,
                billing_reason: "subscription_create",
                lines,
                discount: None,
            },
        );
        self.collect(customer, invoice, Schedule::SignUp);
        if converts {
            let entered = self.dice.between(sub.created + HOUR, trial_end - HOUR);
            if entered <= self.end {
                self.ensure_method(customer, entered);
            }
        }
        if trial_end > self.end {
            sub.status = SubscriptionStatus::Trialing;
            return None;
        }
        if !converts {
            // No payment method at the trial's end: the processor cancels.
            sub.status = SubscriptionStatus::Canceled;
            sub.canceled_at = Some(trial_end);
            sub.ended_at = Some(trial_end);
            self.out.events.trials_expired += 1;
            return Some(Ended {
                at: trial_end,
                how: Ending::TrialExpired,
            });
        }
        self.out.events.trials_converted += 1;
        sub.anchor = trial_end;
        self.bill(customer, sub, false)
    }

    /// Bills period after period until the subscription ends or the dataset does.
    /// `sign_up` makes the first invoice an on-session payment (an `incomplete` start
    /// when it fails), as when a customer subscribes at checkout.
    fn bill(
        &mut self,
        customer: &mut CustomerState,
        sub: &mut Running,
        sign_up: bool,
    ) -> Option<Ended> {
        for index in 0..u32::MAX {
            let plan = PLANS.get(sub.plan())?;
            let (interval, count) = (plan.interval, plan.interval_count);
            let start = boundary(sub.anchor, interval, count, index);
            let end = boundary(sub.anchor, interval, count, index + 1);
            if start > self.end {
                return None;
            }
            let previous_period = sub.period;
            sub.period = (start, end);
            if index > 0 {
                self.change_at_renewal(customer, sub, start);
            }
            let mut lines = self.licensed_lines(sub, customer.currency, true);
            if index > 0 {
                lines.extend(self.usage_lines(sub, customer.currency, previous_period));
            }
            let discount = self.discount_at(sub, start);
            // After a trial, the first paid invoice is a renewal of the trial period.
            let reason = if index == 0 && sub.trial.is_none() {
                "subscription_create"
            } else {
                "subscription_cycle"
            };
            let draft = InvoiceDraft {
                subscription: &sub.id,
                created: start,
                period: sub.period,
                billing_reason: reason,
                lines,
                discount,
            };
            let invoice = self.push_invoice(customer, draft);
            let on_session = index == 0 && sign_up;
            let schedule = if on_session {
                Schedule::SignUp
            } else {
                Schedule::Renewal {
                    weekly: interval == Interval::Week,
                }
            };
            let paid_charge = match self.collect(customer, invoice, schedule) {
                Collection::NothingDue => None,
                Collection::Paid { charge } => {
                    self.on_paid(customer, sub, charge);
                    Some(charge)
                }
                Collection::NotYetAttempted => return None,
                Collection::Retrying => {
                    sub.status = if on_session {
                        SubscriptionStatus::Incomplete
                    } else {
                        SubscriptionStatus::PastDue
                    };
                    return None;
                }
                Collection::Failed { at } => {
                    return self.after_failed_collection(sub, invoice, at, on_session);
                }
            };
            if let Some(outcome) = self.maybe_cancel(customer, sub, paid_charge) {
                return outcome;
            }
            self.maybe_upgrade_mid_period(customer, sub);
            if end > self.end {
                return None;
            }
        }
        None
    }
}
