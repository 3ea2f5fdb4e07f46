//! Collecting invoices: charge attempts carrying the card's facts, declines and
//! expired cards, dunning retries, cards replaced along the way, and refunds.

use crate::domain::billing::{ChargeRecord, RefundRecord};

use super::calendar::{DAY, HOUR};
use super::catalogue::{Currency, DECLINES};
use super::generate::{CustomerState, Generator, IdKind};

/// How an invoice is collected.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Schedule {
    /// Off-session, an hour after the invoice, with smart retries: 3, 8 and 15 days
    /// later (1, 3 and 5 days for weekly prices, to finish within the period).
    Renewal { weekly: bool },
    /// On-session at sign-up: a failed first payment leaves the subscription
    /// `incomplete`; the customer may try another card, and it expires after 23 hours.
    SignUp,
    /// A mid-period upgrade: one immediate attempt; if it fails the change is not made
    /// and the invoice is voided.
    Upgrade,
}

pub(super) enum Collection {
    /// A 0-amount invoice: paid at once, no charge.
    NothingDue,
    Paid {
        charge: usize,
    },
    /// The first attempt would come after the dataset's end (the invoice is a draft).
    NotYetAttempted,
    /// Attempts failed and the next one would come after the dataset's end.
    Retrying,
    /// Every attempt failed; the merchant's rules apply from `at`.
    Failed {
        at: i64,
    },
}

impl Generator {
    /// Collects an invoice per `schedule`, making a charge per attempt.
    pub(super) fn collect(
        &mut self,
        customer: &mut CustomerState,
        invoice: usize,
        schedule: Schedule,
    ) -> Collection {
        let Some((created, amount)) = self
            .out
            .invoices
            .get(invoice)
            .map(|record| (record.created, record.amount_due))
        else {
            return Collection::NothingDue;
        };
        if amount == 0 {
            return Collection::NothingDue;
        }
        let (attempts, gives_up_after): (&[i64], i64) = match schedule {
            Schedule::Renewal { weekly: false } => (&[HOUR, 3 * DAY, 8 * DAY, 15 * DAY], 16 * DAY),
            Schedule::Renewal { weekly: true } => (&[HOUR, DAY, 3 * DAY, 5 * DAY], 6 * DAY),
            Schedule::SignUp => (&[0], 23 * HOUR),
            Schedule::Upgrade => (&[0], 0),
        };
        let mut failures = 0;
        let mut last_attempt = created;
        for (number, offset) in attempts.iter().enumerate() {
            let at = created + offset;
            if at > self.end {
                return self.unfinished(invoice, failures);
            }
            let replaced = number > 0 && self.dice.chance(0.35);
            if replaced {
                // Asked by the dunning e-mail, the customer entered another card.
                let entered = self.dice.between(last_attempt + HOUR, at - 1);
                self.replace_card(customer, entered);
            }
            let charge = self.attempt(customer, invoice, at, number > 0 && !replaced);
            if self.charge_succeeded(charge) {
                self.mark_paid(invoice, at, failures > 0);
                return Collection::Paid { charge };
            }
            failures += 1;
            last_attempt = at;
        }
        if schedule == Schedule::SignUp && self.dice.chance(0.5) {
            // Still on the checkout page: another card, within the day.
            let at = created + self.dice.between(10 * 60, 20 * HOUR);
            if at > self.end {
                return self.unfinished(invoice, failures);
            }
            self.replace_card(customer, at);
            let charge = self.attempt(customer, invoice, at, false);
            if self.charge_succeeded(charge) {
                self.mark_paid(invoice, at, true);
                return Collection::Paid { charge };
            }
        }
        let gave_up = created + gives_up_after;
        if gave_up > self.end {
            return self.unfinished(invoice, failures);
        }
        if schedule == Schedule::Upgrade {
            self.set_invoice_status(invoice, "void");
        }
        Collection::Failed { at: gave_up }
    }

    fn unfinished(&mut self, invoice: usize, failures: u32) -> Collection {
        if failures == 0 {
            self.set_invoice_status(invoice, "draft");
            Collection::NotYetAttempted
        } else {
            Collection::Retrying
        }
    }

    fn replace_card(&mut self, customer: &mut CustomerState, at: i64) {
        self.add_method(customer, at);
        self.out.events.cards_replaced_by_customer += 1;
    }

    fn charge_succeeded(&self, charge: usize) -> bool {
        self.out
            .charges
            .get(charge)
            .is_some_and(|record| record.status == "succeeded")
    }

    fn mark_paid(&mut self, invoice: usize, at: i64, after_failures: bool) {
        if let Some(record) = self.out.invoices.get_mut(invoice) {
            record.status = Some("paid".to_owned());
            record.amount_paid = record.amount_due;
            record.paid_at = Some(at);
        }
        if after_failures {
            self.out.events.recovered_invoices += 1;
        }
    }

    /// One charge attempt at `at` on the customer's default payment method; returns the
    /// charge's index. Declines are likelier on prepaid and debit cards, and when the
    /// card that was declined before is tried again (`retry`).
    fn attempt(
        &mut self,
        customer: &mut CustomerState,
        invoice: usize,
        at: i64,
        retry: bool,
    ) -> usize {
        self.ensure_method_exists(customer, at);
        let expired = customer
            .default_payment_method()
            .and_then(|method| method.expires_at)
            .is_some_and(|expiry| expiry <= at);
        if expired && !retry && self.dice.chance(0.45) {
            self.update_card_in_place(customer);
        }
        let method = customer.default_payment_method();
        let still_expired = method
            .and_then(|method| method.expires_at)
            .is_some_and(|expiry| expiry <= at);
        let funding = method
            .and_then(|method| method.card.as_ref())
            .and_then(|card| card.funding.as_deref());
        let decline_chance = match (retry, funding) {
            (true, _) => 0.6,
            (false, Some("prepaid")) => 0.15,
            (false, Some("debit")) => 0.07,
            (false, Some(_)) => 0.05,
            (false, None) => 0.03,
        };
        let failure_code = if still_expired {
            Some("expired_card")
        } else if self.dice.chance(decline_chance) {
            Some(
                self.dice
                    .weighted(&DECLINES)
                    .copied()
                    .unwrap_or("card_declined"),
            )
        } else {
            None
        };
        let (amount, invoice_id) = self.out.invoices.get(invoice).map_or((0, None), |record| {
            (record.amount_due, Some(record.id.clone()))
        });
        let id = self.new_id(IdKind::Charge);
        let method = customer.default_payment_method();
        self.out.charges.push(ChargeRecord {
            id,
            customer: Some(customer.id.clone()),
            invoice: invoice_id,
            amount,
            amount_refunded: 0,
            currency: customer.currency.code().to_owned(),
            status: if failure_code.is_some() {
                "failed"
            } else {
                "succeeded"
            }
            .to_owned(),
            created: at,
            failure_code: failure_code.map(str::to_owned),
            payment_method: method.map(|method| method.id.clone()),
            payment_method_type: Some(
                if method.is_some_and(|method| method.card.is_none()) {
                    "sepa_debit"
                } else {
                    "card"
                }
                .to_owned(),
            ),
            card: method.and_then(|method| method.card.clone()),
        });
        if failure_code.is_some() {
            self.out.events.failed_charges += 1;
        }
        self.out.charges.len() - 1
    }

    fn ensure_method_exists(&mut self, customer: &mut CustomerState, at: i64) {
        if customer.default_payment_method().is_none() {
            self.add_method(customer, at);
        }
    }

    /// Refunds `amount` of a charge at `at` (nothing after the dataset's end, nothing
    /// beyond what is left to refund).
    pub(super) fn refund(&mut self, charge: usize, amount: i64, at: i64, currency: Currency) {
        let Some(record) = self.out.charges.get_mut(charge) else {
            return;
        };
        let refundable = record.amount - record.amount_refunded;
        let amount = amount.min(refundable);
        if at > self.end || amount <= 0 || at < record.created {
            return;
        }
        record.amount_refunded += amount;
        let full = record.amount_refunded == record.amount && amount == record.amount;
        let charge_id = record.id.clone();
        let id = self.new_id(IdKind::Refund);
        self.out.refunds.push(RefundRecord {
            id,
            charge: Some(charge_id),
            amount,
            currency: currency.code().to_owned(),
            status: Some("succeeded".to_owned()),
            created: at,
        });
        if full {
            self.out.events.full_refunds += 1;
        } else {
            self.out.events.partial_refunds += 1;
        }
    }
}
