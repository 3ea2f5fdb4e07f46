//! Where a subscription counts, as spans of time: the windows in which it contributes
//! 0 whatever it is billed (a trial, a paused collection), and the spans in which it
//! is in a counted state whatever its MRR (what "subscribers" count: Stripe Billing
//! counts a subscriber on metered prices only, with no MRR).

use crate::domain::billing::{InvoiceRecord, SubscriptionRecord};

use super::ending::last_paid_end;
use super::history::Piece;
use super::policy::{MrrPolicy, PausedCollection};

/// A stretch of time `[from, to)`; `to: None` is open-ended.
pub type Span = (i64, Option<i64>);

/// Windows in which the subscription contributes 0 whatever it is billed: its trial,
/// and a paused collection that the policy does not count (from the end of the last
/// paid period: whatever followed was not collected; until `resumes_at`, if set).
pub(crate) fn zero_windows(
    sub: &SubscriptionRecord,
    invoices: &[&InvoiceRecord],
    policy: &MrrPolicy,
    start: i64,
) -> Vec<Span> {
    let trial = (policy.exclude_trials)
        .then_some(sub.trial_end)
        .flatten()
        .map(|end| (sub.trial_start.unwrap_or(i64::MIN), Some(end)));
    let paused = sub
        .pause_collection
        .filter(|_| policy.paused_collection == PausedCollection::NotRecurring)
        .map(|pause| {
            let from = last_paid_end(sub, invoices).unwrap_or(start);
            (from, pause.resumes_at)
        });
    trial
        .into_iter()
        .chain(paused)
        .filter(|(from, to)| to.is_none_or(|to| to > *from))
        .collect()
}

/// The union of the pieces' spans, less the zero windows.
pub(crate) fn counted_spans(pieces: &[Piece<'_>], zero: &[Span]) -> Vec<Span> {
    let mut spans: Vec<Span> = pieces.iter().map(|piece| (piece.from, piece.to)).collect();
    spans.sort_unstable_by_key(|span| span.0);
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for (from, to) in spans {
        match merged.last_mut() {
            Some(last) if last.1.is_none_or(|end| from <= end) => {
                last.1 = last.1.zip(to).map(|(a, b)| a.max(b));
            }
            _ => merged.push((from, to)),
        }
    }
    for &(zero_from, zero_to) in zero {
        let mut kept = Vec::with_capacity(merged.len() + 1);
        for (from, to) in merged {
            if from < zero_from {
                kept.push((from, Some(to.map_or(zero_from, |to| to.min(zero_from)))));
            }
            if let Some(zero_to) = zero_to.filter(|zero_to| to.is_none_or(|to| to > *zero_to)) {
                kept.push((from.max(zero_to), to));
            }
        }
        merged = kept;
    }
    merged
}
