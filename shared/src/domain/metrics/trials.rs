//! How a trial ended, by Stripe Billing's definition of trial conversion ("A trial
//! converts when the full trial period has ended, the subscription has not been
//! canceled, and the first invoice has been paid. Even if a customer cancels shortly
//! after paying their first invoice, we will still consider their trial converted" —
//! Stripe support, "Calculating trial conversion rate in Billing").

use crate::domain::billing::{InvoiceRecord, SubscriptionRecord, SubscriptionStatus};

use super::ending::line_starts;

/// How a trial ended: when, and whether it converted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TrialOutcome {
    pub at: i64,
    pub converted: bool,
}

/// The outcome of a subscription's trial, or `None` while it is undecided (still
/// trialing, or its first invoice after the trial is neither paid nor given up on).
pub(crate) fn trial_outcome(
    sub: &SubscriptionRecord,
    invoices: &[&InvoiceRecord],
) -> Option<TrialOutcome> {
    let trial_end = sub.trial_end?;
    let lost = |at: i64| {
        Some(TrialOutcome {
            at,
            converted: false,
        })
    };
    // Canceled while trialing: a trial cancellation, dated when it ended.
    if let Some(ended) = sub.ended_at.filter(|ended| *ended < trial_end) {
        return lost(ended);
    }
    if sub.status == SubscriptionStatus::Trialing {
        return None;
    }
    let first = first_invoices_after(sub, invoices, trial_end);
    if let Some(paid) = first
        .iter()
        .find(|invoice| invoice.status.as_deref() == Some("paid"))
    {
        let at = paid.paid_at.unwrap_or(paid.created).max(trial_end);
        return Some(TrialOutcome {
            at,
            converted: true,
        });
    }
    let given_up = first.iter().any(|invoice| {
        matches!(
            invoice.status.as_deref(),
            Some("void") | Some("uncollectible")
        )
    });
    let gone = matches!(
        sub.status,
        SubscriptionStatus::Canceled
            | SubscriptionStatus::Unpaid
            | SubscriptionStatus::IncompleteExpired
            | SubscriptionStatus::Paused
    );
    if given_up || gone {
        return lost(trial_end);
    }
    None
}

/// The invoices (drafts aside) billing the first period after the trial: those whose
/// earliest regular line of this subscription starts at the earliest such start.
fn first_invoices_after<'a>(
    sub: &SubscriptionRecord,
    invoices: &[&'a InvoiceRecord],
    trial_end: i64,
) -> Vec<&'a InvoiceRecord> {
    let start_of = |invoice: &InvoiceRecord| {
        line_starts(invoice, &sub.id)
            .filter(|start| *start >= trial_end)
            .min()
    };
    let dated: Vec<(i64, &InvoiceRecord)> = invoices
        .iter()
        .filter(|invoice| invoice.status.as_deref() != Some("draft"))
        .filter_map(|invoice| start_of(invoice).map(|start| (start, *invoice)))
        .collect();
    let Some(first) = dated.iter().map(|(start, _)| *start).min() else {
        return Vec::new();
    };
    dated
        .into_iter()
        .filter(|(start, _)| *start == first)
        .map(|(_, invoice)| invoice)
        .collect()
}
