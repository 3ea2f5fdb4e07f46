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

/// The movements scenario's plan changes: cus_1 moves from basic ($100) to pro ($250)
/// in February — $100 flows basic → pro and $150 is expansion — and from pro to 2 ×
/// basic ($200) in March — $200 flows pro → basic and $50 is contraction.
#[test]
fn plan_flows_say_which_plan_mrr_left_for_which() {
    let facts = scenario().facts();
    let query = monthly_usd(date(2024, 1, 1), date(2024, 4, 30));
    let series = metric_series(&facts, Metric::PlanFlows, &query).unwrap();
    let flows: Vec<Vec<(String, String, u64, i64)>> = series
        .series
        .iter()
        .map(|p| {
            p.flows
                .clone()
                .unwrap()
                .into_iter()
                .map(|f| (f.from, f.to, f.switches, f.mrr))
                .collect()
        })
        .collect();
    let flow = |from: &str, to: &str, mrr: i64| (from.to_owned(), to.to_owned(), 1, mrr);
    assert_eq!(
        flows,
        vec![
            vec![],
            vec![flow("basic", "pro", usd(100))],
            vec![flow("pro", "basic", usd(200))],
            vec![],
        ]
    );
    let values: Vec<MetricValue> = series.series.iter().map(|p| p.value).collect();
    assert_eq!(
        values,
        [0, usd(100), usd(200), 0].map(MetricValue::Money).to_vec()
    );
    // By plan, each plan's plan_switch is what flowed in minus what flowed out.
    let mut by_plan = query.clone();
    by_plan.group_by = Some(crate::domain::metrics::Dimension::Plan);
    let grouped = mrr_series(&facts, &by_plan).unwrap();
    let switch = |key: &str, month: usize| {
        grouped
            .groups
            .as_ref()
            .unwrap()
            .iter()
            .find(|g| g.key == key)
            .unwrap()
            .points[month]
            .plan_switch
            .to_minor()
    };
    assert_eq!(
        (switch("basic", 1), switch("pro", 1)),
        (-usd(100), usd(100))
    );
    assert_eq!(
        (switch("basic", 2), switch("pro", 2)),
        (usd(200), -usd(200))
    );
    // A plan filter keeps the flows touching the plan; grouping does not apply.
    let mut pro = query.clone();
    pro.filters = vec![crate::domain::metrics::Filter::parse("plan", "pro").unwrap()];
    let filtered = metric_series(&facts, Metric::PlanFlows, &pro).unwrap();
    assert_eq!(filtered.series[1].value, MetricValue::Money(usd(100)));
    assert!(matches!(
        metric_series(&facts, Metric::PlanFlows, &by_plan),
        Err(crate::domain::metrics::MetricsError::DimensionNotApplicable { .. })
    ));
}

/// On generated data, in every currency mode: a plan's flows in minus out are its
/// plan_switch by plan (exact fixed point, up to a micro-unit per flow of truncation).
#[test]
fn plan_flows_decompose_plan_switch_on_generated_data() {
    use crate::domain::metrics::{Dimension, SeriesQuery};
    let mut flows_seen = 0;
    for seed in 0..20 {
        let facts = super::generator::generate(seed).facts();
        let query = monthly_usd(date(2023, 1, 1), date(2025, 6, 30));
        let flows = crate::domain::metrics::plan_flows_of(&facts, &query).unwrap();
        flows_seen += flows.iter().map(Vec::len).sum::<usize>();
        let grouped = mrr_series(
            &facts,
            &SeriesQuery {
                group_by: Some(Dimension::Plan),
                ..query.clone()
            },
        )
        .unwrap();
        for group in grouped.groups.unwrap() {
            for (month, point) in group.points.iter().enumerate() {
                let period = &flows[month];
                let into: i128 = period
                    .iter()
                    .filter(|f| f.to == group.key)
                    .map(|f| f.mrr.micros())
                    .sum();
                let out: i128 = period
                    .iter()
                    .filter(|f| f.from == group.key)
                    .map(|f| f.mrr.micros())
                    .sum();
                let count = period.len() as i128 + 2;
                assert!(
                    (into - out - point.plan_switch.micros()).abs() <= count,
                    "seed {seed}, {} {}: {} in, {} out, plan_switch {}",
                    group.key,
                    point.period_start,
                    into,
                    out,
                    point.plan_switch.micros()
                );
            }
        }
    }
    assert!(
        flows_seen > 10,
        "the generator switches plans ({flows_seen} flows)"
    );
}
