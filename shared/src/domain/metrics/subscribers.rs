//! Subscribers: customers with a subscription in a counted state at the end of a period,
//! whatever its MRR — Stripe Billing's "subscribers", where a customer on metered prices
//! only is a subscriber with no MRR. Each customer counts once, across its currencies;
//! by currency, once in each currency it is subscribed in.

use super::MetricsError;
use super::calendar::Periods;
use super::dimensions::Dimension;
use super::facts::{Facts, SubscriberSpan};
use super::series::{Selection, SeriesQuery};

/// Subscribers at the end of each period, in total and per group (indexed like the
/// selection's group keys).
pub(crate) struct SubscriberCounts {
    pub total: Vec<i64>,
    pub groups: Vec<Vec<i64>>,
}

/// Counts subscribers at each period's end. `plan` does not apply (a subscription's
/// counted state is not per plan).
pub(crate) fn subscriber_counts(
    facts: &Facts,
    query: &SeriesQuery,
    selection: &Selection,
    periods: &Periods,
    metric: &'static str,
) -> Result<SubscriberCounts, MetricsError> {
    let plan_used = query.group_by == Some(Dimension::Plan)
        || query.filters.iter().any(|f| f.dimension == Dimension::Plan);
    if plan_used {
        return Err(MetricsError::DimensionNotApplicable {
            metric,
            dimension: Dimension::Plan,
        });
    }
    let ends: Vec<u32> = (0..periods.len()).map(|k| periods.end_of(k)).collect();
    let mut total = vec![0i64; ends.len()];
    let mut groups = vec![vec![0i64; ends.len()]; selection.group_keys.len()];
    let by_currency = query.group_by == Some(Dimension::Currency);
    let covers = |span: &SubscriberSpan, day: u32| {
        span.from_day <= day && span.to_day.is_none_or(|to| day < to)
    };
    for run in facts.subscribers.chunk_by(|a, b| a.customer == b.customer) {
        let Some(customer) = run.first().map(|s| s.customer) else {
            continue;
        };
        if selection.customer_ok.get(customer as usize) != Some(&true) {
            continue;
        }
        let spans: Vec<&SubscriberSpan> = run
            .iter()
            .filter(|s| {
                selection
                    .conversion
                    .factor(s.currency, periods.last_day)
                    .is_some()
            })
            .collect();
        let customer_group = selection
            .group_index
            .as_deref()
            .filter(|_| !by_currency)
            .and_then(|index| index.get(customer as usize));
        for (k, day) in ends.iter().enumerate() {
            let covering = spans.iter().filter(|s| covers(s, *day));
            if by_currency {
                let mut seen: Vec<u16> = Vec::new();
                for span in covering {
                    if seen.contains(&span.currency) {
                        continue;
                    }
                    seen.push(span.currency);
                    let group = selection
                        .group_index
                        .as_deref()
                        .and_then(|index| index.get(usize::from(span.currency)));
                    let slot = group.and_then(|g| groups.get_mut(*g as usize));
                    if let Some(count) = slot.and_then(|slot| slot.get_mut(k)) {
                        *count += 1;
                    }
                }
                if let Some(count) = total.get_mut(k).filter(|_| !seen.is_empty()) {
                    *count += 1;
                }
            } else if covering.count() > 0 {
                if let Some(count) = total.get_mut(k) {
                    *count += 1;
                }
                let slot = customer_group.and_then(|g| groups.get_mut(*g as usize));
                if let Some(count) = slot.and_then(|slot| slot.get_mut(k)) {
                    *count += 1;
                }
            }
        }
    }
    Ok(SubscriberCounts { total, groups })
}
