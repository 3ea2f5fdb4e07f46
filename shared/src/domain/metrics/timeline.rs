//! A subscription's MRR over time, per plan: a step function of segments.
//!
//! Built from the subscription record and its invoices:
//! 1. history: each invoiced period at the price × quantity of its lines
//!    ([`super::history`]);
//! 2. the current state (items, discounts, status): each item from the end of its last
//!    invoiced period (from `start_date`, else `created`, when never invoiced), so a
//!    renewal appends what was already shown and never moves an earlier change;
//! 3. an end ([`super::ending::stop_time`]): cancellation, a scheduled cancellation at
//!    period end, the point an unpaid subscription stopped paying, a pause (never after
//!    the last paid period);
//! 4. trials (`trial_start..trial_end`) contribute 0, and so does a paused collection
//!    (per [`MrrPolicy::paused_collection`]) from the end of the last paid period until
//!    it resumes;
//! 5. discounts (forever only, by default) at item, subscription and customer level
//!    reduce each item's value ([`super::discounts`]); never below 0. The current
//!    discounts are applied to history too, from each discount's `start` (a record
//!    keeps no earlier discounts).
//!
//! Taxes never enter: amounts come from price terms, which exclude tax.

use serde::{Deserialize, Serialize};

use crate::domain::billing::{DiscountRecord, Interval, InvoiceRecord, SubscriptionRecord};

use super::discounts::{Discounts, Priced};
use super::ending::stop_time;
use super::history::{Piece, PlanNames, PriceValue, history_pieces, plan_name, price_value};
use super::money::Mrr;
use super::policy::MrrPolicy;
use super::spans::{Span, counted_spans, zero_windows};

/// From `from` (Unix seconds) until the next segment, the subscription's MRR per plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub from: i64,
    /// Indexed like [`SubscriptionTimeline::plans`].
    pub by_plan: Vec<Mrr>,
}

impl Segment {
    pub fn total(&self) -> Mrr {
        self.by_plan.iter().copied().sum()
    }
}

/// A subscription's MRR as a step function: 0 before the first segment, each segment
/// holding until the next, the last one for ever.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionTimeline {
    pub subscription: String,
    pub customer: String,
    pub currency: String,
    pub plans: Vec<String>,
    pub segments: Vec<Segment>,
    /// When the subscription is in a counted state whatever its MRR (after any trial,
    /// outside a paused collection, until it stops), sorted and disjoint: a subscriber
    /// on metered prices only counts here with an MRR of 0.
    #[serde(default)]
    pub counted: Vec<Span>,
}

impl SubscriptionTimeline {
    pub fn segment_at(&self, at: i64) -> Option<&Segment> {
        let after = self.segments.partition_point(|segment| segment.from <= at);
        after
            .checked_sub(1)
            .and_then(|index| self.segments.get(index))
    }
    pub fn mrr_at(&self, at: i64) -> Mrr {
        self.segment_at(at).map(Segment::total).unwrap_or_default()
    }
    pub fn plan_mrr_at(&self, at: i64, plan: &str) -> Mrr {
        let Some(index) = self.plans.iter().position(|name| name == plan) else {
            return Mrr::ZERO;
        };
        self.segment_at(at)
            .and_then(|segment| segment.by_plan.get(index).copied())
            .unwrap_or_default()
    }
}

/// Builds the timeline of one subscription from its record and its invoices (any order;
/// invoices of other subscriptions are ignored line by line). `customer_discount` is
/// the customer's own discount (`customer.discount`), if any.
pub fn subscription_timeline(
    sub: &SubscriptionRecord,
    invoices: &[&InvoiceRecord],
    customer_discount: Option<&DiscountRecord>,
    policy: &MrrPolicy,
) -> SubscriptionTimeline {
    let mut plans = PlanNames::default();
    let history = history_pieces(sub, invoices, policy, &mut plans);
    let started = sub.start_date.unwrap_or(sub.created);
    let start = history
        .iter()
        .map(|piece| piece.from)
        .fold(started, i64::min);
    // What the next invoice will bill: after the last invoiced period, per item (an
    // item on another cadence, or never billed, goes by the whole subscription's).
    let next_billed = history.iter().filter_map(|piece| piece.to).max();
    let billed_until = |key: &str| {
        history
            .iter()
            .filter(|piece| piece.key == key)
            .filter_map(|piece| piece.to)
            .max()
            .or(next_billed)
            .unwrap_or(started)
    };
    let current_from = sub
        .items
        .iter()
        .map(|item| billed_until(&item.id))
        .min()
        .unwrap_or(started);
    let stop_at = stop_time(sub, invoices, policy, start, &history);
    let mut pieces = current_pieces(sub, policy, current_from, stop_at, &history, &mut plans);
    for piece in &mut pieces {
        piece.from = billed_until(piece.key);
    }
    pieces.retain(|piece| piece.to.is_none_or(|to| to > piece.from));
    for mut piece in history {
        piece.to = [piece.to, stop_at].into_iter().flatten().min();
        if piece.to.is_none_or(|to| to > piece.from) {
            pieces.push(piece);
        }
    }
    let zero = zero_windows(sub, invoices, policy, start);
    let counted = counted_spans(&pieces, &zero);
    let discounts = Discounts::new(sub, customer_discount, policy);
    let segments = sweep(pieces, plans.names.len(), &discounts, &zero);
    SubscriptionTimeline {
        subscription: sub.id.clone(),
        customer: sub.customer.clone(),
        currency: sub.currency.to_ascii_lowercase(),
        plans: plans.names,
        segments,
        counted,
    }
}

/// The current items as pieces from `from` until `to`.
fn current_pieces<'a>(
    sub: &'a SubscriptionRecord,
    policy: &MrrPolicy,
    from: i64,
    to: Option<i64>,
    history: &[Piece<'a>],
    plans: &mut PlanNames,
) -> Vec<Piece<'a>> {
    if to.is_some_and(|to| to <= from) {
        return Vec::new();
    }
    let mut pieces = Vec::new();
    for item in &sub.items {
        let value = match price_value(&item.price, item.quantity, None, policy) {
            PriceValue::NotRecurring => continue,
            PriceValue::Monthly(value) => value,
            // A tiered price: what the item's latest invoiced period cost.
            PriceValue::Unknown => history
                .iter()
                .filter(|piece| piece.key == item.id)
                .max_by_key(|piece| piece.rank)
                .map(|piece| piece.value)
                .unwrap_or_default(),
        };
        pieces.push(Piece {
            from,
            to,
            key: &item.id,
            plan: plans.index(plan_name(&item.price)),
            product: item.price.product.as_deref(),
            value,
            rank: (i64::MAX, i64::MAX),
            billing: (
                item.price.interval.unwrap_or(Interval::Month),
                item.price.interval_count,
            ),
        });
    }
    pieces
}

/// Evaluates the pieces at every point where something may change and keeps the points
/// where the per-plan MRR does.
fn sweep(
    mut pieces: Vec<Piece<'_>>,
    plan_count: usize,
    discounts: &Discounts<'_>,
    zero: &[Span],
) -> Vec<Segment> {
    let mut breaks: Vec<i64> = pieces
        .iter()
        .flat_map(|piece| [Some(piece.from), piece.to])
        .chain(discounts.breaks().map(Some))
        .chain(zero.iter().flat_map(|(start, end)| [Some(*start), *end]))
        .flatten()
        .filter(|at| *at != i64::MIN)
        .collect();
    breaks.sort_unstable();
    breaks.dedup();
    pieces.sort_by_key(|piece| piece.from);

    let mut segments = Vec::new();
    let mut previous = vec![Mrr::ZERO; plan_count];
    let mut next = 0;
    let mut active: Vec<&Piece<'_>> = Vec::new();
    for at in breaks {
        while let Some(piece) = pieces.get(next).filter(|piece| piece.from <= at) {
            active.push(piece);
            next += 1;
        }
        active.retain(|piece| piece.to.is_none_or(|to| to > at));
        let zeroed = zero
            .iter()
            .any(|(start, end)| *start <= at && end.is_none_or(|end| at < end));
        let value = if zeroed {
            vec![Mrr::ZERO; plan_count]
        } else {
            value_at(at, &active, plan_count, discounts)
        };
        if value != previous {
            segments.push(Segment {
                from: at,
                by_plan: value.clone(),
            });
            previous = value;
        }
    }
    segments
}

/// Per-plan MRR at `at` from the pieces covering it, discounts applied.
fn value_at(
    at: i64,
    active: &[&Piece<'_>],
    plan_count: usize,
    discounts: &Discounts<'_>,
) -> Vec<Mrr> {
    // One piece per item: the highest-ranked (latest invoice, or the current state).
    let mut chosen: Vec<&Piece<'_>> = Vec::with_capacity(active.len());
    for &piece in active {
        match chosen.iter_mut().find(|kept| kept.key == piece.key) {
            Some(kept) if piece.rank > kept.rank => *kept = piece,
            Some(_) => {}
            None => chosen.push(piece),
        }
    }
    let mut by_plan = vec![Mrr::ZERO; plan_count];
    if discounts.is_empty() {
        for piece in &chosen {
            if let Some(slot) = by_plan.get_mut(piece.plan) {
                *slot += piece.value;
            }
        }
        return by_plan;
    }
    let mut priced: Vec<Priced<'_>> = chosen
        .iter()
        .map(|piece| Priced {
            key: piece.key,
            product: piece.product,
            billing: piece.billing,
            value: piece.value,
        })
        .collect();
    discounts.apply(at, &mut priced);
    for (piece, item) in chosen.iter().zip(&priced) {
        if let Some(slot) = by_plan.get_mut(piece.plan) {
            *slot += item.value;
        }
    }
    by_plan
}
