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
//! 5. coupons (forever only, by default) reduce each plan's share: percent coupons
//!    first, then amount-off coupons in the subscription's currency normalized by its
//!    billing interval and spread in proportion over the plans; never below 0. The
//!    current coupons are applied to history too, from each coupon's `start` (a
//!    record keeps no earlier coupons).
//!
//! Taxes never enter: amounts come from price terms, which exclude tax.

use serde::{Deserialize, Serialize};

use crate::domain::billing::{
    CouponDuration, DiscountRecord, Interval, InvoiceRecord, SubscriptionRecord,
};

use super::ending::stop_time;
use super::history::{Piece, PlanNames, PriceValue, history_pieces, plan_name, price_value};
use super::money::{Mrr, less_percent, monthly, reduce_proportionally};
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

/// A coupon that reduces MRR while it applies.
struct Coupon {
    from: i64,
    to: Option<i64>,
    percent_off_bp: Option<u32>,
    amount_off: Option<i64>,
}

impl Coupon {
    fn applies_at(&self, at: i64) -> bool {
        self.from <= at && self.to.is_none_or(|to| at < to)
    }
}

fn coupons(sub: &SubscriptionRecord, policy: &MrrPolicy) -> Vec<Coupon> {
    let counted = |discount: &DiscountRecord| match discount.duration {
        CouponDuration::Forever => true,
        CouponDuration::Repeating => !policy.forever_coupons_only,
        CouponDuration::Once => false,
    };
    sub.discounts
        .iter()
        .filter(|discount| counted(discount))
        .map(|discount| Coupon {
            from: discount.start.unwrap_or(i64::MIN),
            to: discount.end,
            percent_off_bp: discount.percent_off_bp,
            // An amount off in another currency cannot apply to this subscription.
            amount_off: discount.amount_off.filter(|_| {
                discount
                    .currency
                    .as_deref()
                    .is_none_or(|currency| currency.eq_ignore_ascii_case(&sub.currency))
            }),
        })
        .collect()
}

/// Builds the timeline of one subscription from its record and its invoices (any order;
/// invoices of other subscriptions are ignored line by line).
pub fn subscription_timeline(
    sub: &SubscriptionRecord,
    invoices: &[&InvoiceRecord],
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
    let coupons = coupons(sub, policy);
    let segments = sweep(pieces, plans.names.len(), &coupons, &zero);
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
    coupons: &[Coupon],
    zero: &[Span],
) -> Vec<Segment> {
    let mut breaks: Vec<i64> = pieces
        .iter()
        .flat_map(|piece| [Some(piece.from), piece.to])
        .chain(coupons.iter().flat_map(|c| [Some(c.from), c.to]))
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
            value_at(at, &active, plan_count, coupons)
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

/// Per-plan MRR at `at` from the pieces covering it, coupons applied.
fn value_at(at: i64, active: &[&Piece<'_>], plan_count: usize, coupons: &[Coupon]) -> Vec<Mrr> {
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
    for piece in &chosen {
        if let Some(slot) = by_plan.get_mut(piece.plan) {
            *slot += piece.value;
        }
    }
    let applying: Vec<&Coupon> = coupons.iter().filter(|c| c.applies_at(at)).collect();
    for percent in applying.iter().filter_map(|coupon| coupon.percent_off_bp) {
        for value in by_plan.iter_mut() {
            *value = less_percent(*value, percent);
        }
    }
    let (interval, count) = chosen
        .first()
        .map(|piece| piece.billing)
        .unwrap_or((Interval::Month, 1));
    let amount_off: Mrr = applying
        .iter()
        .filter_map(|coupon| coupon.amount_off)
        .map(|off| monthly(i128::from(off), interval, count))
        .sum();
    reduce_proportionally(&mut by_plan, amount_off);
    by_plan
}
