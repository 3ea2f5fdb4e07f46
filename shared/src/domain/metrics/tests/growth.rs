//! Growth metrics: quick ratio, net MRR churn rate, average sale price and movements by
//! count, on ChartMogul's worked examples and on the movements scenario.

use chrono::NaiveDate;

use crate::domain::metrics::{
    Metric, MetricValue, Mrr, Point, average_sale_price, metric_series, mrr_series,
    net_mrr_churn_rate, quick_ratio,
};

use super::fixtures::*;
use super::movements::scenario;

/// A month with the given movements, in dollars.
fn month(start: i64, [new, expansion, contraction, churn, reactivation]: [i64; 5]) -> Point {
    let dollars = |d: i64| Mrr::from_minor(d * 100);
    let net = new + expansion + reactivation - contraction - churn;
    Point {
        period_start: date(2024, 1, 1),
        period_end: date(2024, 1, 31),
        start_mrr: dollars(start),
        mrr: dollars(start + net),
        new: dollars(new),
        expansion: dollars(expansion),
        contraction: dollars(contraction),
        churn: dollars(churn),
        reactivation: dollars(reactivation),
        plan_switch: Mrr::ZERO,
        net: dollars(net),
        start_customers: 0,
        customers: 0,
        new_customers: 0,
        reactivated_customers: 0,
        churned_customers: 0,
        expansions: 0,
        contractions: 0,
        churns: 0,
        start_cohort_net: Mrr::ZERO,
        start_cohort_loss: Mrr::ZERO,
    }
}

/// ChartMogul, "Net MRR Churn Rate" (standard formula): $100 MRR at the start of the
/// month, $10 lost to churn and $10 to contraction, one customer up by $10: 10 %.
#[test]
fn net_mrr_churn_rate_follows_chartmoguls_example() {
    let point = month(100, [0, 10, 10, 10, 0]);
    assert_eq!(net_mrr_churn_rate(&point), Some(0.1));
    // Gains larger than losses: negative (ChartMogul: "ideal for this metric to be
    // negative"). Reactivation offsets losses like expansion.
    assert_eq!(
        net_mrr_churn_rate(&month(100, [0, 20, 5, 0, 5])),
        Some(-0.2)
    );
    assert_eq!(net_mrr_churn_rate(&month(0, [50, 0, 0, 0, 0])), None);
}

/// The SaaS quick ratio (ChartMogul's Quick Ratio chart): (new + expansion +
/// reactivation) ÷ (contraction + churn). The same month as above: $10 gained over $20
/// lost is 0.5; $300 new + $100 expansion + $50 reactivation over $100 contraction +
/// $50 churn is 3.
#[test]
fn quick_ratio_is_gains_over_losses() {
    assert_eq!(quick_ratio(&month(100, [0, 10, 10, 10, 0])), Some(0.5));
    assert_eq!(
        quick_ratio(&month(1_000, [300, 100, 100, 50, 50])),
        Some(3.0)
    );
    // Nothing lost: no ratio (not infinity).
    assert_eq!(quick_ratio(&month(1_000, [300, 0, 0, 0, 0])), None);
}

/// ChartMogul's average sale price: new business MRR ÷ new customers.
#[test]
fn average_sale_price_is_new_mrr_per_new_customer() {
    let mut point = month(0, [250, 0, 0, 0, 0]);
    point.new_customers = 2;
    assert_eq!(average_sale_price(&point), Some(Mrr::from_minor(12_500)));
    point.new_customers = 0;
    assert_eq!(average_sale_price(&point), None);
}

fn values(metric: Metric, from: NaiveDate, to: NaiveDate) -> Vec<MetricValue> {
    let facts = scenario().facts();
    metric_series(&facts, metric, &monthly_usd(from, to))
        .unwrap()
        .series
        .into_iter()
        .map(|p| p.value)
        .collect()
}

/// The movements scenario (tests/movements.rs), January to July 2024: cus_1 new $100
/// (Jan), up to $250 (Feb), down to $200 (Mar), churned (Apr), back at $100 (Jun);
/// cus_2 new at $100 a month (Feb).
#[test]
fn the_growth_metrics_of_the_movements_scenario_month_by_month() {
    let (from, to) = (date(2024, 1, 1), date(2024, 7, 31));
    let ratio = MetricValue::Ratio;
    assert_eq!(
        values(Metric::QuickRatio, from, to),
        // Jan, Feb: nothing lost; Mar: 0 / $50; Apr: 0 / $200; May: nothing; Jun: only
        // a reactivation; Jul: nothing.
        vec![
            ratio(None),
            ratio(None),
            ratio(Some(0.0)),
            ratio(Some(0.0)),
            ratio(None),
            ratio(None),
            ratio(None)
        ]
    );
    assert_eq!(
        values(Metric::NetMrrChurnRate, from, to),
        vec![
            ratio(None),                 // no MRR at the start
            ratio(Some(-150.0 / 100.0)), // the $150 upgrade over $100
            ratio(Some(50.0 / 350.0)),   // the $50 downgrade
            ratio(Some(200.0 / 300.0)),  // the churn
            ratio(Some(0.0)),            // no movement
            ratio(Some(-100.0 / 100.0)), // the reactivation
            ratio(Some(0.0)),
        ]
    );
    let money = MetricValue::Money;
    assert_eq!(
        values(Metric::AverageSalePrice, from, to),
        // One new customer at $100 in January and one in February; none after.
        vec![
            money(10_000),
            money(10_000),
            money(0),
            money(0),
            money(0),
            money(0),
            money(0)
        ]
    );
}

#[test]
fn customer_movements_count_each_kind_and_add_up() {
    let facts = scenario().facts();
    let series = metric_series(
        &facts,
        Metric::CustomerMovements,
        &monthly_usd(date(2024, 1, 1), date(2024, 7, 31)),
    )
    .unwrap();
    let rows: Vec<[i64; 7]> = series
        .series
        .iter()
        .map(|p| {
            let m = p.customer_movements.unwrap();
            let n = |v: u64| v as i64;
            [
                m.start_customers,
                n(m.new),
                n(m.expansion),
                n(m.contraction),
                n(m.churn),
                n(m.reactivation),
                m.customers,
            ]
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            // start, new, expansion, contraction, churn, reactivation, end
            [0, 1, 0, 0, 0, 0, 1],
            [1, 1, 1, 0, 0, 0, 2],
            [2, 0, 0, 1, 0, 0, 2],
            [2, 0, 0, 0, 1, 0, 1],
            [1, 0, 0, 0, 0, 0, 1],
            [1, 0, 0, 0, 0, 1, 2],
            [2, 0, 0, 0, 0, 0, 2],
        ]
    );
    for point in &series.series {
        let m = point.customer_movements.unwrap();
        assert_eq!(point.value, MetricValue::Count(m.net));
        assert_eq!(
            m.start_customers + m.new as i64 + m.reactivation as i64 - m.churn as i64,
            m.customers
        );
    }
}

/// Counting holds on generated data too: start + new + reactivated − churns = end, for
/// every period of every generated tenant the property tests use.
#[test]
fn movement_counts_add_up_on_generated_data() {
    for seed in 0..20 {
        let facts = super::generator::generate(seed).facts();
        let series = mrr_series(&facts, &monthly_usd(date(2023, 1, 1), date(2025, 6, 30))).unwrap();
        for p in &series.points {
            assert_eq!(
                p.start_customers + p.new_customers as i64 + p.reactivated_customers as i64
                    - p.churns as i64,
                p.customers,
                "seed {seed}, {}",
                p.period_start
            );
        }
    }
}
