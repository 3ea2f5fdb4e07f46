//! When a subscription stops counting: cancellation, a scheduled cancellation, the
//! point an unpaid one stopped paying, a pause; by Stripe Billing's rules and the
//! policy's choices (see the `lifecycle` definition).

use crate::domain::billing::{InvoiceRecord, SubscriptionRecord, SubscriptionStatus};

use super::history::{Piece, current_period_end};
use super::policy::{MrrPolicy, UnpaidChurnFrom};

/// The period starts of an invoice's non-proration lines that bill subscription `sub`.
pub(crate) fn line_starts<'a>(
    invoice: &'a InvoiceRecord,
    sub: &'a str,
) -> impl Iterator<Item = i64> + 'a {
    invoice
        .lines
        .iter()
        .filter(|line| !line.proration)
        .filter(move |line| {
            line.subscription
                .as_deref()
                .or(invoice.subscription.as_deref())
                == Some(sub)
        })
        .filter_map(|line| line.period_start)
}

/// When the subscription's service of an invoice starts: its lines' earliest period
/// start for this subscription (an invoice's own `period_start` is, at Stripe, the
/// previous period), else when it was created.
fn service_start(invoice: &InvoiceRecord, sub: &str) -> i64 {
    line_starts(invoice, sub).min().unwrap_or(invoice.created)
}

/// When an `unpaid` (or uncounted `past_due`) subscription stopped counting, per policy.
pub(crate) fn unpaid_since(
    sub: &SubscriptionRecord,
    invoices: &[&InvoiceRecord],
    policy: &MrrPolicy,
) -> Option<i64> {
    let current_period_start = sub
        .items
        .iter()
        .filter_map(|item| item.current_period_start)
        .min();
    if policy.unpaid_churn_from == UnpaidChurnFrom::CurrentPeriodStart {
        return current_period_start;
    }
    let mut ordered: Vec<(i64, i64, &str)> = invoices
        .iter()
        .map(|invoice| {
            let status = invoice.status.as_deref().unwrap_or("");
            (service_start(invoice, &sub.id), invoice.created, status)
        })
        .collect();
    ordered.sort_unstable();
    let after_last_paid = ordered
        .iter()
        .rposition(|(_, _, status)| *status == "paid")
        .map_or(0, |index| index + 1);
    ordered
        .get(after_last_paid..)
        .unwrap_or_default()
        .iter()
        .find(|(_, _, status)| matches!(*status, "open" | "uncollectible"))
        .map(|(start, _, _)| *start)
        .or(current_period_start)
}

/// The end of the last period of this subscription billed on a paid invoice (not a
/// proration: a change does not extend what was paid for).
pub(crate) fn last_paid_end(sub: &SubscriptionRecord, invoices: &[&InvoiceRecord]) -> Option<i64> {
    invoices
        .iter()
        .filter(|invoice| invoice.status.as_deref() == Some("paid"))
        .flat_map(|invoice| {
            invoice.lines.iter().filter(move |line| {
                !line.proration
                    && line
                        .subscription
                        .as_deref()
                        .or(invoice.subscription.as_deref())
                        == Some(sub.id.as_str())
            })
        })
        .filter_map(|line| line.period_end)
        .max()
}

/// When the subscription stops counting (`None`: it does not, as far as we know).
/// `start` is when it began (its earliest billed period, else its start date): a
/// status that never counted stops there, so nothing of it counts.
///
/// * `canceled`: at `canceled_at`, the request (Stripe Billing: a cancellation at
///   period end stops counting "after the time of the API call"), or at `ended_at`
///   when the policy counts until the period ends; until then it counted as it was,
///   since the status it had before is not kept;
/// * a counted status (active, past_due): at a scheduled cancellation, if any;
/// * `past_due` or `unpaid` when not counted: from when it stopped being paid (Stripe:
///   delinquent from the time it is marked unpaid; the first unpaid invoice dates it);
/// * `paused`: when it was paused (`paused_at`, Stripe's
///   `status_details.paused.transitioned_at`), and never after the end of its last
///   paid period — every paid period before the pause is kept; without a pause time,
///   at the end of the last paid period (a trial that ended without a payment method
///   paid nothing: it stops at its start, the trial counting 0 anyway);
/// * anything else (trialing, incomplete, incomplete_expired): it never counted.
pub(crate) fn stop_time(
    sub: &SubscriptionRecord,
    invoices: &[&InvoiceRecord],
    policy: &MrrPolicy,
    start: i64,
    history: &[Piece<'_>],
) -> Option<i64> {
    let until_period_end = policy.count_until_period_end_when_cancel_at_period_end;
    let paid_until = || last_paid_end(sub, invoices).unwrap_or(start).max(start);
    match sub.status {
        SubscriptionStatus::Canceled => {
            let end = if until_period_end {
                sub.ended_at.or(sub.canceled_at)
            } else {
                sub.canceled_at.or(sub.ended_at)
            };
            Some(end.or(sub.cancel_at).unwrap_or_else(paid_until))
        }
        status if policy.counts(status) => {
            if !sub.cancel_at_period_end && sub.cancel_at.is_none() {
                return None;
            }
            let period_end = current_period_end(sub, history);
            if until_period_end {
                sub.cancel_at.or(period_end)
            } else {
                sub.canceled_at.or(sub.cancel_at).or(period_end)
            }
        }
        SubscriptionStatus::PastDue | SubscriptionStatus::Unpaid => {
            Some(unpaid_since(sub, invoices, policy).unwrap_or_else(paid_until))
        }
        SubscriptionStatus::Paused => {
            let paid_until = paid_until();
            Some(
                sub.paused_at
                    .map_or(paid_until, |at| at.clamp(start, paid_until)),
            )
        }
        _ => Some(start),
    }
}
