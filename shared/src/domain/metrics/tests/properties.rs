//! Properties over many generated datasets:
//! * `start + Σ movements = end`, exactly, for every period of every series and group;
//! * grouped series sum exactly to the ungrouped one;
//! * the one-pass walk agrees with a brute-force, day-by-day evaluation of the
//!   subscription timelines (so the identity is not true merely by construction).

use std::collections::BTreeMap;

use crate::domain::metrics::calendar::Periods;
use crate::domain::metrics::{
    CurrencyMode, Dimension, Facts, FxRates, MrrPolicy, Point, SeriesInterval, SeriesQuery,
    day_end, day_of_date, mrr_series, subscription_timeline,
};

use super::fixtures::*;
use super::generator::generate;

const SEEDS: u64 = 40;

fn modes() -> Vec<CurrencyMode> {
    let rates = FxRates {
        base: "eur".to_owned(),
        rates: BTreeMap::from([("usd".to_owned(), 1.0837)]),
    };
    vec![
        CurrencyMode::Native("usd".to_owned()),
        CurrencyMode::Native("eur".to_owned()),
        CurrencyMode::Converted {
            to: "usd".to_owned(),
            rates: rates.into(),
        },
    ]
}

pub(super) fn assert_identity(points: &[Point], context: &str) {
    for (k, p) in points.iter().enumerate() {
        let movements = p.new.0 + p.expansion.0 + p.reactivation.0 - p.contraction.0 - p.churn.0
            + p.plan_switch.0;
        assert_eq!(p.net.0, movements, "{context}: net of period {k}");
        assert_eq!(
            p.start_mrr.0 + p.net.0,
            p.mrr.0,
            "{context}: identity in period {k}"
        );
        if let Some(next) = points.get(k + 1) {
            assert_eq!(next.start_mrr, p.mrr, "{context}: period {k} → {}", k + 1);
            assert_eq!(
                next.start_customers, p.customers,
                "{context}: customers {k}"
            );
        }
        assert!(
            p.mrr.0 >= 0 && p.customers >= 0,
            "{context}: negative in period {k}"
        );
    }
}

pub(super) fn assert_groups_sum(
    total: &[Point],
    groups: &[&[Point]],
    counts_sum: bool,
    context: &str,
) {
    for (k, t) in total.iter().enumerate() {
        let sum = |f: fn(&Point) -> i128| -> i128 { groups.iter().map(|g| f(&g[k])).sum() };
        assert_eq!(
            sum(|p| p.start_mrr.0),
            t.start_mrr.0,
            "{context}: start {k}"
        );
        assert_eq!(sum(|p| p.mrr.0), t.mrr.0, "{context}: mrr {k}");
        assert_eq!(sum(|p| p.new.0), t.new.0, "{context}: new {k}");
        assert_eq!(
            sum(|p| p.expansion.0),
            t.expansion.0,
            "{context}: expansion {k}"
        );
        assert_eq!(
            sum(|p| p.contraction.0),
            t.contraction.0,
            "{context}: contraction {k}"
        );
        assert_eq!(sum(|p| p.churn.0), t.churn.0, "{context}: churn {k}");
        assert_eq!(
            sum(|p| p.reactivation.0),
            t.reactivation.0,
            "{context}: reactivation {k}"
        );
        assert_eq!(
            sum(|p| p.plan_switch.0),
            t.plan_switch.0,
            "{context}: switch {k}"
        );
        if counts_sum {
            assert_eq!(
                sum(|p| p.customers as i128),
                t.customers as i128,
                "{context}: customers {k}"
            );
            assert_eq!(
                sum(|p| p.churned_customers as i128),
                t.churned_customers as i128,
                "{context}: churned {k}"
            );
            assert_eq!(
                sum(|p| p.new_customers as i128),
                t.new_customers as i128,
                "{context}: new customers {k}"
            );
        }
    }
}

#[test]
fn identity_and_group_sums_hold_for_generated_datasets() {
    for seed in 0..SEEDS {
        let facts: Facts = generate(seed).facts();
        for interval in [SeriesInterval::Month, SeriesInterval::Week] {
            for currency in modes() {
                for group_by in std::iter::once(None).chain(Dimension::ALL.map(Some)) {
                    let query = SeriesQuery {
                        from: date(2023, 3, 15),
                        to: date(2025, 6, 30),
                        interval,
                        currency: currency.clone(),
                        filters: Vec::new(),
                        customers: None,
                        group_by,
                    };
                    let series = mrr_series(&facts, &query).unwrap();
                    let context = format!("seed {seed}, {interval:?}, {currency:?}, {group_by:?}");
                    assert_identity(&series.points, &context);
                    let Some(groups) = series.groups else {
                        continue;
                    };
                    for group in &groups {
                        assert_identity(&group.points, &format!("{context}, group {}", group.key));
                    }
                    let slices: Vec<&[Point]> =
                        groups.iter().map(|g| g.points.as_slice()).collect();
                    // Below the customer (plan, currency), counts are memberships.
                    let counts_sum =
                        !matches!(group_by, Some(Dimension::Plan | Dimension::Currency));
                    assert_groups_sum(&series.points, &slices, counts_sum, &context);
                }
            }
        }
    }
}

/// Per period: [new, expansion, contraction, churn, reactivation] in micro-units, end
/// MRR, end customers, new, reactivated and churned customers.
type Expected = ([i128; 5], i128, i64, [u64; 3]);

/// The definitions applied literally: every unit's MRR at the end of every day.
fn brute_force(seed: u64, currency: &str, from: u32, to: u32) -> Vec<Expected> {
    let data = generate(seed);
    let policy = MrrPolicy::default();
    let mut units: BTreeMap<(String, String), Vec<_>> = BTreeMap::new();
    for sub in &data.subscriptions {
        let invoices: Vec<_> = data
            .invoices
            .iter()
            .filter(|i| i.subscription.as_deref() == Some(&sub.id))
            .collect();
        let timeline = subscription_timeline(sub, &invoices, None, &policy);
        units
            .entry((sub.customer.clone(), timeline.currency.clone()))
            .or_default()
            .push(timeline);
    }
    let periods = Periods::new(from, to, SeriesInterval::Month).unwrap();
    let mut out: Vec<Expected> = vec![([0; 5], 0, 0, [0; 3]); periods.len()];
    for ((_, unit_currency), timelines) in &units {
        if unit_currency != currency {
            continue;
        }
        let value = |day: u32| -> i128 { timelines.iter().map(|t| t.mrr_at(day_end(day)).0).sum() };
        let (mut previous, mut ever_paid) = (0i128, false);
        // Generated subscriptions start in 2023: earlier days are all zero.
        for day in day_of_date(date(2022, 12, 1))..=to {
            let now = value(day);
            if let Some(k) = periods.index_of(day).filter(|_| day >= periods.first_day()) {
                let slot = &mut out[k];
                match (previous > 0, now > 0) {
                    (false, true) if ever_paid => {
                        slot.0[4] += now;
                        slot.3[1] += 1
                    }
                    (false, true) => {
                        slot.0[0] += now;
                        slot.3[0] += 1
                    }
                    (true, false) => slot.0[3] += previous,
                    (true, true) if now > previous => slot.0[1] += now - previous,
                    (true, true) => slot.0[2] += previous - now,
                    _ => {}
                }
            }
            ever_paid |= now > 0;
            previous = now;
        }
        for (k, slot) in out.iter_mut().enumerate() {
            let end = value(periods.end_of(k));
            slot.1 += end;
            slot.2 += i64::from(end > 0);
            // Churned: paying at the period's start, not at its end.
            let start = periods.starts.get(k).map_or(0, |day| value(day - 1));
            slot.3[2] += u64::from(start > 0 && end <= 0);
        }
    }
    out
}

#[test]
fn the_walk_matches_a_day_by_day_evaluation() {
    let (from, to) = (date(2023, 3, 15), date(2025, 6, 30));
    // Each kind of movement must occur somewhere, or the comparison proves little.
    let mut seen = [0u64; 5];
    for seed in 0..SEEDS {
        let facts = generate(seed).facts();
        for currency in ["usd", "eur"] {
            let series =
                mrr_series(&facts, &query(from, to, SeriesInterval::Month, currency)).unwrap();
            let expected = brute_force(seed, currency, day_of_date(from), day_of_date(to));
            for (k, (p, e)) in series.points.iter().zip(&expected).enumerate() {
                let got: Expected = (
                    [
                        p.new.0,
                        p.expansion.0,
                        p.contraction.0,
                        p.churn.0,
                        p.reactivation.0,
                    ],
                    p.mrr.0,
                    p.customers,
                    [
                        p.new_customers,
                        p.reactivated_customers,
                        p.churned_customers,
                    ],
                );
                assert_eq!(&got, e, "seed {seed}, {currency}, period {k}");
                for (count, amount) in seen.iter_mut().zip(got.0) {
                    *count += u64::from(amount != 0);
                }
            }
        }
    }
    assert!(
        seen.iter().all(|n| *n >= 10),
        "movement kinds seen: {seen:?}"
    );
}

/// The rebuild's per-customer work runs on every core; the facts must not depend on how
/// many there are.
#[test]
fn facts_are_the_same_on_one_thread_and_on_many() {
    use crate::domain::metrics::facts_from_records;
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build();
    let four = rayon::ThreadPoolBuilder::new().num_threads(4).build();
    let (Ok(one), Ok(four)) = (one, four) else {
        panic!("thread pools for the test");
    };
    for seed in 0..SEEDS {
        let data = generate(seed);
        let policy = MrrPolicy::default();
        let single = one.install(|| facts_from_records(&[data.data()], &policy));
        let parallel = four.install(|| facts_from_records(&[data.data()], &policy));
        assert_eq!(single, parallel, "seed {seed}");
        assert!(
            !single.customers.is_empty(),
            "seed {seed} generates customers"
        );
    }
}
