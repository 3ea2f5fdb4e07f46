//! Internal consistency: what a real processor guarantees, the demo must too.

use std::collections::{HashMap, HashSet};

use crate::domain::billing::SubscriptionStatus;

use super::super::{DemoDataset, DemoParams};
use super::default_dataset;

#[test]
fn every_reference_resolves() {
    check_that_every_reference_resolves(default_dataset());
}

pub(super) fn check_that_every_reference_resolves(data: &DemoDataset) {
    let customers: HashMap<&str, _> = data.customers.iter().map(|c| (c.id.as_str(), c)).collect();
    let methods: HashMap<&str, _> = data
        .payment_methods
        .iter()
        .map(|m| (m.id.as_str(), m))
        .collect();
    let subscriptions: HashMap<&str, _> = data
        .subscriptions
        .iter()
        .map(|s| (s.id.as_str(), s))
        .collect();
    let invoices: HashMap<&str, _> = data.invoices.iter().map(|i| (i.id.as_str(), i)).collect();
    let charges: HashMap<&str, _> = data.charges.iter().map(|c| (c.id.as_str(), c)).collect();
    let method_of = |id: &Option<String>| id.as_deref().map(|id| methods.get(id).copied());

    for customer in &data.customers {
        if let Some(method) = method_of(&customer.default_payment_method) {
            let method = method.expect("the customer's default payment method exists");
            assert_eq!(method.customer.as_deref(), Some(customer.id.as_str()));
        }
    }
    for method in &data.payment_methods {
        assert!(customers.contains_key(method.customer.as_deref().unwrap_or("")));
    }
    for sub in &data.subscriptions {
        let customer = customers
            .get(sub.customer.as_str())
            .expect("subscription.customer");
        if let Some(method) = method_of(&sub.default_payment_method) {
            assert_eq!(
                method.expect("subscription's method").customer.as_ref(),
                Some(&customer.id)
            );
        }
    }
    for invoice in &data.invoices {
        let customer = invoice.customer.as_deref().expect("invoice.customer");
        assert!(customers.contains_key(customer));
        let sub = subscriptions
            .get(invoice.subscription.as_deref().unwrap_or(""))
            .expect("invoice.subscription");
        assert_eq!(sub.customer, customer, "{}", invoice.id);
        let items: HashSet<&str> = sub.items.iter().map(|item| item.id.as_str()).collect();
        for line in &invoice.lines {
            assert_eq!(line.subscription, invoice.subscription);
            assert!(
                items.contains(line.subscription_item.as_deref().unwrap_or("")),
                "{}",
                line.id
            );
        }
    }
    for charge in &data.charges {
        let invoice = invoices
            .get(charge.invoice.as_deref().unwrap_or(""))
            .expect("charge.invoice");
        assert_eq!(charge.customer, invoice.customer);
        let method = method_of(&charge.payment_method).expect("a charge has a payment method");
        assert_eq!(
            method.expect("charge.payment_method").customer,
            charge.customer
        );
    }
    for refund in &data.refunds {
        assert!(
            charges.contains_key(refund.charge.as_deref().unwrap_or("")),
            "{}",
            refund.id
        );
    }
}

#[test]
fn amounts_add_up_and_currencies_agree() {
    check_that_amounts_add_up_and_currencies_agree(default_dataset());
}

pub(super) fn check_that_amounts_add_up_and_currencies_agree(data: &DemoDataset) {
    let currency_of: HashMap<&str, &str> = data
        .subscriptions
        .iter()
        .map(|s| (s.customer.as_str(), s.currency.as_str()))
        .collect();
    for sub in &data.subscriptions {
        assert_eq!(
            currency_of.get(sub.customer.as_str()),
            Some(&sub.currency.as_str()),
            "one currency per customer"
        );
        assert!(
            sub.items
                .iter()
                .all(|item| item.price.currency == sub.currency)
        );
    }
    let mut paid_by_charges: HashMap<&str, i64> = HashMap::new();
    for charge in &data.charges {
        assert!(charge.amount > 0 && (0..=charge.amount).contains(&charge.amount_refunded));
        if charge.status == "succeeded" {
            *paid_by_charges
                .entry(charge.invoice.as_deref().unwrap_or(""))
                .or_default() += charge.amount;
        } else {
            assert_eq!(charge.status, "failed");
            assert!(charge.failure_code.is_some() && charge.amount_refunded == 0);
        }
    }
    for invoice in &data.invoices {
        let lines: i64 = invoice.lines.iter().map(|line| line.amount).sum();
        assert!(
            invoice
                .lines
                .iter()
                .all(|line| line.amount >= 0 && line.currency == invoice.currency)
        );
        assert!(invoice.tax >= 0);
        assert_eq!(invoice.total, lines + invoice.tax, "{}", invoice.id);
        assert_eq!(invoice.amount_due, invoice.total);
        match invoice.status.as_deref() {
            Some("paid") => {
                assert_eq!(invoice.amount_paid, invoice.total);
                assert!(invoice.paid_at.is_some());
                let by_charge = paid_by_charges
                    .get(invoice.id.as_str())
                    .copied()
                    .unwrap_or(0);
                assert_eq!(by_charge, invoice.amount_paid, "{}", invoice.id);
            }
            Some("open" | "draft" | "uncollectible" | "void") => {
                assert_eq!(invoice.amount_paid, 0);
                assert!(
                    invoice.paid_at.is_none() && !paid_by_charges.contains_key(invoice.id.as_str())
                );
            }
            other => panic!("unexpected invoice status {other:?}"),
        }
    }
    let mut refunded: HashMap<&str, i64> = HashMap::new();
    for refund in &data.refunds {
        assert!(refund.amount > 0);
        *refunded
            .entry(refund.charge.as_deref().unwrap_or(""))
            .or_default() += refund.amount;
    }
    for charge in &data.charges {
        assert_eq!(
            refunded.get(charge.id.as_str()).copied().unwrap_or(0),
            charge.amount_refunded
        );
    }
}

#[test]
fn times_are_ordered_and_nothing_happens_after_the_end() {
    check_that_times_are_ordered_and_nothing_happens_after_the_end(
        default_dataset(),
        DemoParams::default().end,
    );
}

pub(super) fn check_that_times_are_ordered_and_nothing_happens_after_the_end(
    data: &DemoDataset,
    end: i64,
) {
    let happened = |t: i64| assert!(t <= end, "{t} is after the end");
    data.customers.iter().for_each(|c| happened(c.created));
    data.payment_methods
        .iter()
        .for_each(|m| happened(m.created));
    data.charges.iter().for_each(|c| happened(c.created));
    data.refunds.iter().for_each(|r| happened(r.created));
    for sub in &data.subscriptions {
        happened(sub.created);
        for t in [sub.canceled_at, sub.ended_at].into_iter().flatten() {
            happened(t);
            assert!(t >= sub.created);
        }
        if sub.status == SubscriptionStatus::Canceled {
            assert!(
                sub.ended_at.is_some() && sub.canceled_at.is_some(),
                "{}",
                sub.id
            );
        } else if sub.status != SubscriptionStatus::IncompleteExpired {
            assert!(sub.ended_at.is_none(), "{}", sub.id);
        }
        if let (Some(start), Some(trial_end)) = (sub.trial_start, sub.trial_end) {
            assert!(start < trial_end);
        }
        for item in &sub.items {
            let (Some(start), Some(period_end)) =
                (item.current_period_start, item.current_period_end)
            else {
                panic!("{} has no current period", item.id);
            };
            assert!(start < period_end && start <= end, "{}", sub.id);
        }
    }
    for invoice in &data.invoices {
        happened(invoice.created);
        invoice.paid_at.into_iter().for_each(|t| {
            happened(t);
            assert!(t >= invoice.created);
        });
        assert!(invoice.period_start < invoice.period_end);
        for line in &invoice.lines {
            assert!(line.period_start < line.period_end, "{}", line.id);
        }
    }
}

#[test]
fn ids_are_unique_and_prefixed_like_stripe() {
    check_that_ids_are_unique_and_prefixed_like_stripe(default_dataset());
}

pub(super) fn check_that_ids_are_unique_and_prefixed_like_stripe(data: &DemoDataset) {
    let check = |prefix: &str, ids: Vec<&str>| {
        let unique: HashSet<&str> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "{prefix} ids repeat");
        assert!(ids.iter().all(|id| id.starts_with(prefix)), "{prefix}");
    };
    check(
        "cus_",
        data.customers.iter().map(|r| r.id.as_str()).collect(),
    );
    check(
        "pm_",
        data.payment_methods.iter().map(|r| r.id.as_str()).collect(),
    );
    check(
        "sub_",
        data.subscriptions.iter().map(|r| r.id.as_str()).collect(),
    );
    check(
        "si_",
        data.subscriptions
            .iter()
            .flat_map(|s| &s.items)
            .map(|i| i.id.as_str())
            .collect(),
    );
    check("in_", data.invoices.iter().map(|r| r.id.as_str()).collect());
    check(
        "il_",
        data.invoices
            .iter()
            .flat_map(|i| &i.lines)
            .map(|l| l.id.as_str())
            .collect(),
    );
    check("ch_", data.charges.iter().map(|r| r.id.as_str()).collect());
    check("re_", data.refunds.iter().map(|r| r.id.as_str()).collect());
    let prices = data
        .subscriptions
        .iter()
        .flat_map(|s| &s.items)
        .map(|i| i.price.id.as_str());
    assert!(prices.clone().all(|id| id.starts_with("price_")));
}
