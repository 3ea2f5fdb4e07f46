//! How subscriptions end or go on: payments that count as new or reactivated revenue,
//! goodwill refunds, cancellations (now, with a refund, or at period end), dunning
//! that fails (canceled, or `unpaid` until the merchant cancels), and the record that
//! shows the subscription as it stands at the end.

use crate::domain::billing::{
    CouponDuration, DiscountRecord, Interval, SubscriptionItemRecord, SubscriptionRecord,
    SubscriptionStatus,
};

use super::calendar::{DAY, HOUR, add_months, period_containing, period_days};
use super::catalogue::{PLANS, Tier};
use super::generate::{CustomerState, Generator};
use super::lifecycle::{Ended, Ending, Running};

impl Generator {
    /// Bookkeeping after a charge paid one of the subscription's invoices.
    pub(super) fn on_paid(
        &mut self,
        customer: &mut CustomerState,
        sub: &mut Running,
        charge: usize,
    ) {
        if !sub.has_paid {
            sub.has_paid = true;
            if customer.has_paid {
                self.out.events.reactivations += 1;
            } else {
                self.out.events.new_paying_customers += 1;
            }
            customer.has_paid = true;
        }
        let Some(paid_at) = self.out.charges.get(charge).map(|record| record.created) else {
            return;
        };
        let later = paid_at + self.dice.between(DAY, 20 * DAY);
        if self.dice.chance(0.004) {
            // A dispute settled by refunding everything.
            self.refund(charge, i64::MAX, later, customer.currency);
        } else if self.dice.chance(0.012) {
            // A service credit: 10 to 50 % back.
            let amount = self.charge_amount(charge) * self.dice.between(10, 50) / 100;
            self.refund(charge, amount, later, customer.currency);
        }
    }

    fn charge_amount(&self, charge: usize) -> i64 {
        self.out
            .charges
            .get(charge)
            .map_or(0, |record| record.amount)
    }

    /// Whether the customer cancels during the current period: `None` when not (or not
    /// before the dataset's end), else what the billing loop returns.
    pub(super) fn maybe_cancel(
        &mut self,
        customer: &mut CustomerState,
        sub: &mut Running,
        paid_charge: Option<usize>,
    ) -> Option<Option<Ended>> {
        let plan = PLANS.get(sub.plan())?;
        // Monthly churn by tier; annual customers are stickier.
        let monthly = match plan.tier {
            Tier::Free => 0.05,
            Tier::Starter => 0.04,
            Tier::Growth => 0.025,
            Tier::Scale | Tier::AddOn => 0.015,
        };
        let monthly = if plan.interval == Interval::Year {
            monthly * 0.5
        } else {
            monthly
        };
        let days = period_days(plan.interval, plan.interval_count) as f64;
        if !self.dice.chance((monthly * days / 30.0).min(0.9)) {
            return None;
        }
        let (start, end) = sub.period;
        let decided = self.dice.between(start + HOUR, end - HOUR);
        if decided > self.end {
            return None;
        }
        let paying = plan.tier != Tier::Free;
        sub.canceled_at = Some(decided);
        if paying && (plan.interval == Interval::Year || self.dice.chance(0.7)) {
            sub.cancel_at_period_end = true;
            sub.cancel_at = Some(end);
            if end > self.end {
                return Some(None);
            }
            sub.status = SubscriptionStatus::Canceled;
            sub.ended_at = Some(end);
            self.out.events.cancellations_at_period_end += 1;
            return Some(Some(Ended {
                at: end,
                how: Ending::Canceled,
            }));
        }
        sub.status = SubscriptionStatus::Canceled;
        sub.ended_at = Some(decided);
        if paying {
            self.out.events.cancellations_immediate += 1;
        }
        if let Some(charge) = paid_charge {
            let paid_at = self
                .out
                .charges
                .get(charge)
                .map_or(decided, |record| record.created);
            if decided - paid_at < 7 * DAY && self.dice.chance(0.5) {
                // Canceled within days of paying: everything back.
                self.refund(charge, i64::MAX, decided, customer.currency);
            } else if self.dice.chance(0.3) && end > start {
                // The unused part of the period back.
                let amount = self.charge_amount(charge) * (end - decided) / (end - start);
                self.refund(charge, amount, decided, customer.currency);
            }
        }
        Some(Some(Ended {
            at: decided,
            how: Ending::Canceled,
        }))
    }

    /// Every attempt on `invoice` failed by `at`. A first payment at sign-up expires
    /// the subscription; a renewal either cancels it or leaves it `unpaid` until the
    /// merchant cancels it one to three months later.
    pub(super) fn after_failed_collection(
        &mut self,
        sub: &mut Running,
        invoice: usize,
        at: i64,
        at_sign_up: bool,
    ) -> Option<Ended> {
        if at_sign_up {
            self.set_invoice_status(invoice, "void");
            sub.status = SubscriptionStatus::IncompleteExpired;
            sub.ended_at = Some(at);
            self.out.events.incomplete_expired += 1;
            return Some(Ended {
                at,
                how: Ending::Incomplete,
            });
        }
        let canceled_at = if self.dice.chance(0.6) {
            at
        } else {
            self.out.events.became_unpaid += 1;
            let months = self.dice.between(1, 3);
            let canceled_at = add_months(at, months);
            if canceled_at > self.end {
                sub.status = SubscriptionStatus::Unpaid;
                sub.period = self.period_at(sub, self.end);
                return None;
            }
            canceled_at
        };
        self.set_invoice_status(invoice, "uncollectible");
        sub.status = SubscriptionStatus::Canceled;
        sub.canceled_at = Some(canceled_at);
        sub.ended_at = Some(canceled_at);
        sub.period = self.period_at(sub, canceled_at);
        self.out.events.involuntary_churn += 1;
        Some(Ended {
            at: canceled_at,
            how: Ending::DunningFailed,
        })
    }

    fn period_at(&self, sub: &Running, at: i64) -> (i64, i64) {
        PLANS.get(sub.plan()).map_or(sub.period, |plan| {
            period_containing(sub.anchor, plan.interval, plan.interval_count, at)
        })
    }

    /// Records the subscription as the processor shows it now (or when it ended).
    pub(super) fn close(&mut self, customer: &CustomerState, sub: Running) {
        let currency = customer.currency;
        let items = sub
            .items
            .into_iter()
            .filter_map(|item| {
                Some(SubscriptionItemRecord {
                    id: item.id,
                    price: PLANS.get(item.plan)?.terms(currency),
                    quantity: item.quantity,
                    current_period_start: Some(sub.period.0),
                    current_period_end: Some(sub.period.1),
                    discounts: Vec::new(),
                })
            })
            .collect();
        let discounts = sub
            .coupon
            .map(|coupon| DiscountRecord {
                coupon_id: coupon.id.to_owned(),
                percent_off_bp: coupon.percent_off_bp,
                amount_off: coupon.amount_off,
                currency: coupon.amount_off.map(|_| currency.code().to_owned()),
                duration: coupon.duration,
                duration_in_months: coupon.duration_in_months,
                start: Some(sub.created),
                end: match (coupon.duration, coupon.duration_in_months) {
                    (CouponDuration::Repeating, Some(months)) => {
                        Some(add_months(sub.created, i64::from(months)))
                    }
                    _ => None,
                },
                applies_to_products: Vec::new(),
                amount_off_by_currency: Default::default(),
                promotion_code: None,
            })
            .into_iter()
            .collect();
        let default_payment_method = customer
            .default_payment_method()
            .map(|method| method.id.clone());
        self.out.subscriptions.push(SubscriptionRecord {
            id: sub.id,
            customer: customer.id.clone(),
            status: sub.status,
            created: sub.created,
            start_date: Some(sub.created),
            currency: currency.code().to_owned(),
            items,
            discounts,
            trial_start: sub.trial.map(|trial| trial.0),
            trial_end: sub.trial.map(|trial| trial.1),
            cancel_at_period_end: sub.cancel_at_period_end,
            cancel_at: sub.cancel_at,
            canceled_at: sub.canceled_at,
            ended_at: sub.ended_at,
            default_payment_method,
            // The demo never pauses collection.
            pause_collection: None,
            paused_at: None,
        });
    }
}
