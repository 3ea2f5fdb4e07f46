//! Invoices: one per billing period (or per mid-period change), lines after
//! discount, VAT as the invoice's tax.

use crate::domain::billing::{CouponDuration, InvoiceLineRecord, InvoiceRecord, UsageType};

use super::calendar::add_months;
use super::catalogue::{Currency, PLANS, PlanId};
use super::generate::{CustomerState, Generator, IdKind};
use super::lifecycle::Running;

/// A line before ids and discount.
pub(super) struct LineDraft {
    pub(super) item: String,
    pub(super) plan: PlanId,
    pub(super) quantity: u64,
    pub(super) period: (i64, i64),
    pub(super) proration: bool,
    /// Minor units, before discount.
    pub(super) amount: i64,
}

/// A coupon's effect on one invoice.
#[derive(Clone, Copy)]
pub(super) struct DiscountTerms {
    pub(super) percent_off_bp: Option<u32>,
    pub(super) amount_off: Option<i64>,
}

pub(super) struct InvoiceDraft<'a> {
    pub(super) subscription: &'a str,
    pub(super) created: i64,
    pub(super) period: (i64, i64),
    pub(super) billing_reason: &'static str,
    pub(super) lines: Vec<LineDraft>,
    pub(super) discount: Option<DiscountTerms>,
}

impl Generator {
    /// Records an invoice (status `open`, or `paid` when nothing is due) and returns
    /// its index in `out.invoices`.
    pub(super) fn push_invoice(&mut self, customer: &CustomerState, draft: InvoiceDraft) -> usize {
        let currency = customer.currency.code();
        let mut amounts: Vec<i64> = draft.lines.iter().map(|line| line.amount.max(0)).collect();
        if let Some(discount) = draft.discount {
            apply_discount(&mut amounts, discount);
        }
        let mut lines = Vec::with_capacity(draft.lines.len());
        for (line, amount) in draft.lines.into_iter().zip(&amounts) {
            lines.push(InvoiceLineRecord {
                id: self.new_id(IdKind::InvoiceLine),
                subscription: Some(draft.subscription.to_owned()),
                subscription_item: Some(line.item),
                price: PLANS
                    .get(line.plan)
                    .map(|plan| plan.terms(customer.currency)),
                quantity: Some(line.quantity),
                amount: *amount,
                currency: currency.to_owned(),
                period_start: Some(line.period.0),
                period_end: Some(line.period.1),
                proration: line.proration,
            });
        }
        let subtotal: i64 = amounts.iter().sum();
        // Rounded half up, as processors round tax per invoice.
        let tax = (subtotal * customer.vat_bp + 5_000) / 10_000;
        let total = subtotal + tax;
        let nothing_due = total == 0;
        let id = self.new_id(IdKind::Invoice);
        self.out.invoices.push(InvoiceRecord {
            id,
            customer: Some(customer.id.clone()),
            subscription: Some(draft.subscription.to_owned()),
            status: Some(if nothing_due { "paid" } else { "open" }.to_owned()),
            currency: currency.to_owned(),
            amount_due: total,
            amount_paid: 0,
            total,
            tax,
            created: draft.created,
            period_start: Some(draft.period.0),
            period_end: Some(draft.period.1),
            paid_at: nothing_due.then_some(draft.created),
            billing_reason: Some(draft.billing_reason.to_owned()),
            lines,
        });
        self.out.invoices.len() - 1
    }

    pub(super) fn set_invoice_status(&mut self, invoice: usize, status: &str) {
        if let Some(record) = self.out.invoices.get_mut(invoice) {
            record.status = Some(status.to_owned());
        }
    }
}

/// Applies a coupon to line amounts: a percentage to every line; an amount off taken
/// from the lines in order, never below zero.
fn apply_discount(amounts: &mut [i64], discount: DiscountTerms) {
    if let Some(percent_bp) = discount.percent_off_bp {
        for amount in amounts.iter_mut() {
            *amount -= (*amount * i64::from(percent_bp) + 5_000) / 10_000;
        }
    }
    if let Some(mut left) = discount.amount_off {
        for amount in amounts.iter_mut() {
            let taken = left.min(*amount);
            *amount -= taken;
            left -= taken;
        }
    }
}

impl Generator {
    /// One line per licensed item for the current period, before discount; all at 0
    /// when not `billed` (a trial's opening invoice).
    pub(super) fn licensed_lines(
        &self,
        sub: &Running,
        currency: Currency,
        billed: bool,
    ) -> Vec<LineDraft> {
        sub.items
            .iter()
            .filter_map(|item| {
                let plan = PLANS.get(item.plan)?;
                (plan.usage == UsageType::Licensed).then(|| LineDraft {
                    item: item.id.clone(),
                    plan: item.plan,
                    quantity: item.quantity,
                    period: sub.period,
                    proration: false,
                    amount: if billed {
                        plan.unit_amount(currency) * item.quantity as i64
                    } else {
                        0
                    },
                })
            })
            .collect()
    }

    /// The metered items' usage over `period` (the one just ended), billed in arrears.
    pub(super) fn usage_lines(
        &mut self,
        sub: &Running,
        currency: Currency,
        period: (i64, i64),
    ) -> Vec<LineDraft> {
        let mut lines = Vec::new();
        for item in &sub.items {
            let Some(plan) = PLANS.get(item.plan) else {
                continue;
            };
            if plan.usage != UsageType::Metered {
                continue;
            }
            // Usage wanders ±30 % around the customer's level.
            let usage = (sub.usage_level * self.dice.count(70, 130) / 100).max(1);
            lines.push(LineDraft {
                item: item.id.clone(),
                plan: item.plan,
                quantity: usage,
                period,
                proration: false,
                amount: plan.unit_amount(currency) * usage as i64,
            });
        }
        lines
    }

    /// The coupon's effect on an invoice created at `at`, if it still applies: forever
    /// always, once on the first billed invoice, repeating for its months.
    pub(super) fn discount_at(&self, sub: &mut Running, at: i64) -> Option<DiscountTerms> {
        let coupon = sub.coupon?;
        let applies = match coupon.duration {
            CouponDuration::Forever => true,
            CouponDuration::Once => !std::mem::replace(&mut sub.once_coupon_spent, true),
            CouponDuration::Repeating => {
                let months = i64::from(coupon.duration_in_months.unwrap_or(1));
                at < add_months(sub.created, months)
            }
        };
        applies.then_some(DiscountTerms {
            percent_off_bp: coupon.percent_off_bp,
            amount_off: coupon.amount_off,
        })
    }
}
