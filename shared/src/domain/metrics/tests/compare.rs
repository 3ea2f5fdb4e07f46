//! Comparisons: the compared range of each interval, the change, and series paired
//! point by point (hand-computed on the movements scenario).

use crate::domain::metrics::{
    Compare, Metric, MetricValue, SeriesInterval, change, compared_day, compared_range,
    compared_series,
};

use super::fixtures::*;
use super::movements::scenario;

fn range(
    from: (i32, u32, u32),
    to: (i32, u32, u32),
    interval: SeriesInterval,
    compare: Compare,
) -> (String, String) {
    let mut query = monthly_usd(date(from.0, from.1, from.2), date(to.0, to.1, to.2));
    query.interval = interval;
    let (a, b) = compared_range(&query, compare).unwrap();
    (a.to_string(), b.to_string())
}

#[test]
fn the_compared_range_moves_both_ends_by_the_ranges_length_or_a_year() {
    use Compare::{Previous, Year};
    use SeriesInterval::*;
    let s = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    // Six months: the six before.
    assert_eq!(
        range((2026, 1, 1), (2026, 6, 30), Month, Previous),
        s("2025-07-01", "2025-12-30")
    );
    // A partial last month compares with the same part of its counterpart.
    assert_eq!(
        range((2026, 1, 1), (2026, 3, 15), Month, Previous),
        s("2025-10-01", "2025-12-15")
    );
    // Month ends clamp (chrono: the month's last day when shorter).
    assert_eq!(
        range((2026, 3, 1), (2026, 3, 31), Month, Previous),
        s("2026-02-01", "2026-02-28")
    );
    assert_eq!(
        range((2026, 1, 1), (2026, 6, 30), Quarter, Previous),
        s("2025-07-01", "2025-12-30")
    );
    assert_eq!(
        range((2026, 3, 1), (2026, 3, 14), Day, Previous),
        s("2026-02-15", "2026-02-28")
    );
    // Two weeks (Monday 2026-03-02 to Sunday 2026-03-15): the two before.
    assert_eq!(
        range((2026, 3, 2), (2026, 3, 15), Week, Previous),
        s("2026-02-16", "2026-03-01")
    );
    // A year: 12 months back; weeks 52 weeks back so they still start on Monday.
    assert_eq!(
        range((2026, 1, 1), (2026, 6, 30), Month, Year),
        s("2025-01-01", "2025-06-30")
    );
    assert_eq!(
        range((2026, 3, 2), (2026, 3, 15), Week, Year),
        s("2025-03-03", "2025-03-16")
    );
    assert_eq!(
        range((2024, 2, 29), (2024, 2, 29), Day, Year),
        s("2023-02-28", "2023-02-28")
    );
    // Before the engine's first day: refused, not wrapped.
    let mut early = monthly_usd(date(1970, 1, 1), date(1970, 3, 31));
    early.interval = Month;
    assert!(compared_range(&early, Previous).is_err());
    assert_eq!(
        compared_day(date(2026, 3, 31), Previous).unwrap(),
        date(2026, 2, 28)
    );
    assert_eq!(
        compared_day(date(2026, 3, 31), Year).unwrap(),
        date(2025, 3, 31)
    );
}

#[test]
fn the_change_is_absolute_and_relative_to_the_earlier_magnitude() {
    use MetricValue::{Count, Money, Ratio};
    assert_eq!(
        change(Money(15_000), Money(10_000)),
        (Money(5_000), Some(0.5))
    );
    assert_eq!(
        change(Money(5_000), Money(10_000)),
        (Money(-5_000), Some(-0.5))
    );
    assert_eq!(change(Count(3), Count(4)), (Count(-1), Some(-0.25)));
    // From nothing: no percentage.
    assert_eq!(change(Money(100), Money(0)), (Money(100), None));
    // A negative earlier value (net MRR churn): relative to its magnitude.
    assert_eq!(
        change(Ratio(Some(0.25)), Ratio(Some(-0.25))),
        (Ratio(Some(0.5)), Some(2.0))
    );
    assert_eq!(change(Ratio(Some(0.1)), Ratio(None)), (Ratio(None), None));
}

/// The movements scenario's MRR: $100, $350, $300, $100, $100, $200, $200 from January
/// to July 2024.
#[test]
fn each_point_carries_its_counterpart_and_the_change() {
    let facts = scenario().facts();
    let (series, comparison) = compared_series(
        &facts,
        Metric::Mrr,
        &monthly_usd(date(2024, 6, 1), date(2024, 7, 31)),
        Compare::Previous,
    )
    .unwrap();
    assert_eq!(
        (comparison.from, comparison.to),
        (date(2024, 4, 1), date(2024, 5, 31))
    );
    let rows: Vec<_> = series
        .series
        .iter()
        .map(|p| {
            let c = p.compared.clone().unwrap();
            (
                p.value,
                c.period_start,
                c.value,
                c.change,
                c.relative_change,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                MetricValue::Money(20_000),
                date(2024, 4, 1),
                MetricValue::Money(10_000),
                MetricValue::Money(10_000),
                Some(1.0)
            ),
            (
                MetricValue::Money(20_000),
                date(2024, 5, 1),
                MetricValue::Money(10_000),
                MetricValue::Money(10_000),
                Some(1.0)
            ),
        ]
    );
    // By country, each group pairs with its own key: FR (cus_2) had $100 in April and
    // May; US (cus_1) churned on April 1 and had nothing in April or May.
    let mut by_country = monthly_usd(date(2024, 6, 1), date(2024, 7, 31));
    by_country.group_by = Some(crate::domain::metrics::Dimension::Country);
    let (series, _) = compared_series(&facts, Metric::Mrr, &by_country, Compare::Previous).unwrap();
    let groups = series.groups.unwrap();
    let us = groups.iter().find(|g| g.key == "US").unwrap();
    let june = us.series[0].compared.clone().unwrap();
    assert_eq!(
        (us.series[0].value, june.value),
        (MetricValue::Money(10_000), MetricValue::Money(0))
    );
    assert_eq!(june.relative_change, None);
    let fr = groups.iter().find(|g| g.key == "FR").unwrap();
    assert_eq!(
        fr.series[1].compared.clone().unwrap().change,
        MetricValue::Money(0)
    );
}

#[test]
fn a_year_earlier_pairs_the_same_months() {
    let facts = scenario().facts();
    let (series, comparison) = compared_series(
        &facts,
        Metric::CustomerChurnRate,
        &monthly_usd(date(2025, 4, 1), date(2025, 4, 30)),
        Compare::Year,
    )
    .unwrap();
    assert_eq!(comparison.from, date(2024, 4, 1));
    let april = series.series[0].compared.clone().unwrap();
    // April 2024: one of two customers churned.
    assert_eq!(april.value, MetricValue::Ratio(Some(0.5)));
    assert_eq!(april.period_end, date(2024, 4, 30));
}
