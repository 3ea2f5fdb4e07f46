//! Statuses that agree with the money, and the same promises on other seeds, sizes
//! and windows.

use std::collections::HashMap;

use crate::domain::billing::{InvoiceRecord, SubscriptionStatus};

use super::super::{DemoDataset, DemoParams, generate};
use super::consistency::{
    check_that_amounts_add_up_and_currencies_agree, check_that_every_reference_resolves,
    check_that_ids_are_unique_and_prefixed_like_stripe,
    check_that_times_are_ordered_and_nothing_happens_after_the_end,
};
use super::default_dataset;

#[test]
fn statuses_agree_with_the_invoices_and_charges() {
    check_that_statuses_agree_with_the_invoices_and_charges(
        default_dataset(),
        DemoParams::default().end,
    );
}

fn check_that_statuses_agree_with_the_invoices_and_charges(data: &DemoDataset, end: i64) {
    let mut failed_attempts: HashMap<&str, usize> = HashMap::new();
    for charge in data.charges.iter().filter(|c| c.status == "failed") {
        *failed_attempts
            .entry(charge.invoice.as_deref().unwrap_or(""))
            .or_default() += 1;
    }
    let mut last_invoice: HashMap<&str, &InvoiceRecord> = HashMap::new();
    for invoice in data
        .invoices
        .iter()
        .filter(|i| i.billing_reason.as_deref() != Some("subscription_update"))
    {
        last_invoice.insert(invoice.subscription.as_deref().unwrap_or(""), invoice);
    }
    for sub in &data.subscriptions {
        let last = last_invoice.get(sub.id.as_str());
        let last_status = last.and_then(|i| i.status.as_deref());
        let last_failures = last.map_or(0, |i| {
            failed_attempts.get(i.id.as_str()).copied().unwrap_or(0)
        });
        match sub.status {
            SubscriptionStatus::PastDue
            | SubscriptionStatus::Unpaid
            | SubscriptionStatus::Incomplete => {
                assert_eq!(last_status, Some("open"), "{}", sub.id);
                assert!(last_failures > 0, "{} has no failed charge", sub.id);
            }
            SubscriptionStatus::IncompleteExpired => {
                assert_eq!(last_status, Some("void"), "{}", sub.id)
            }
            SubscriptionStatus::Trialing => {
                assert!(
                    sub.trial_end.is_some_and(|trial_end| trial_end > end),
                    "{}",
                    sub.id
                );
                assert!(last.is_some_and(|i| i.total == 0));
            }
            SubscriptionStatus::Active => {
                assert!(
                    matches!(last_status, Some("paid" | "draft")),
                    "{} ends on {last_status:?}",
                    sub.id
                );
                assert!(
                    sub.items
                        .iter()
                        .all(|i| i.current_period_end.is_some_and(|t| t > end)),
                    "{}",
                    sub.id
                );
            }
            SubscriptionStatus::Canceled | SubscriptionStatus::Paused => {}
        }
    }
}

/// Other seeds, sizes and windows keep every promise too (edge cases the default
/// dataset might happen to miss), and so do customers who change plan or seats at
/// most renewals (the rebuild bench's `change_factor`).
#[test]
fn other_seeds_and_windows_are_consistent_too() {
    for (seed, customers, months, end, change_factor) in [
        (1, 400, 24, 1_767_225_600, 1),
        (2, 300, 6, 1_709_251_199, 1),
        (3, 300, 60, 1_800_000_000, 1),
        (4, 50, 1, 1_768_435_200, 1),
        (5, 300, 60, 1_768_435_200, 25),
    ] {
        let data = generate(DemoParams {
            seed,
            customers,
            months,
            end,
            change_factor,
            shape: Default::default(),
        });
        assert_eq!(data.customers.len(), customers);
        check_that_every_reference_resolves(&data);
        check_that_amounts_add_up_and_currencies_agree(&data);
        check_that_times_are_ordered_and_nothing_happens_after_the_end(&data, end);
        check_that_ids_are_unique_and_prefixed_like_stripe(&data);
        check_that_statuses_agree_with_the_invoices_and_charges(&data, end);
    }
}
