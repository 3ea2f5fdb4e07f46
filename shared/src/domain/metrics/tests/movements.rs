//! Movements: one scenario with every kind, checked month by month; plans; same-day
//! netting; filters.

use crate::domain::billing::{Interval, SubscriptionStatus};
use crate::domain::metrics::{
    Dimension, Filter, Metric, MetricValue, MetricsError, customer_churn_rate, grr, metric_series,
    mrr_series, nrr, revenue_churn_rate,
};

use super::fixtures::*;

/// cus_1: basic $100 in January, pro $250 in February (upgrade), 2 × basic $200 in March
/// (downgrade), canceled April 1 (churn), back on basic $100 from June 10
/// (reactivation). cus_2 (France): $1,200 a year from February 15 (new, $100 a month).
pub fn scenario() -> Dataset {
    let basic = monthly_price("basic", usd(100));
    let pro = monthly_price("pro", usd(250));
    let mut data = Dataset::default();
    data.customers.push(customer("cus_1", Some("US")));
    data.customers.push(customer("cus_2", Some("FR")));
    let mut first = subscription(
        "sub_1",
        "cus_1",
        SubscriptionStatus::Canceled,
        ts(2024, 1, 1),
        vec![item("si_1", basic.clone(), 2)],
    );
    first.ended_at = Some(ts(2024, 4, 1));
    data.subscriptions.push(first);
    data.invoices.extend(monthly_invoices(
        "sub_1",
        "si_1",
        &basic,
        1,
        (2024, 1),
        1,
        "paid",
    ));
    data.invoices.extend(monthly_invoices(
        "sub_1",
        "si_1",
        &pro,
        1,
        (2024, 2),
        1,
        "paid",
    ));
    data.invoices.extend(monthly_invoices(
        "sub_1",
        "si_1",
        &basic,
        2,
        (2024, 3),
        1,
        "paid",
    ));
    let again = subscription(
        "sub_2",
        "cus_1",
        SubscriptionStatus::Active,
        ts(2024, 6, 10),
        vec![item("si_2", basic.clone(), 1)],
    );
    data.subscriptions.push(again);
    for (from, to) in [
        ((2024, 6, 10), (2024, 7, 10)),
        ((2024, 7, 10), (2024, 8, 10)),
    ] {
        let line = line(
            "sub_2",
            "si_2",
            &basic,
            1,
            ts(from.0, from.1, from.2),
            ts(to.0, to.1, to.2),
        );
        data.invoices.push(invoice("sub_2", "paid", vec![line]));
    }
    let yearly = price("annual", usd(1_200), Interval::Year, 1);
    data.subscriptions.push(subscription(
        "sub_3",
        "cus_2",
        SubscriptionStatus::Active,
        ts(2024, 2, 15),
        vec![item("si_3", yearly.clone(), 1)],
    ));
    data.invoices.push(invoice(
        "sub_3",
        "paid",
        vec![line(
            "sub_3",
            "si_3",
            &yearly,
            1,
            ts(2024, 2, 15),
            ts(2025, 2, 15),
        )],
    ));
    data
}

#[test]
fn upgrade_downgrade_churn_and_reactivation_month_by_month() {
    let facts = scenario().facts();
    let series = mrr_series(&facts, &monthly_usd(date(2024, 1, 1), date(2024, 7, 31))).unwrap();
    let expected = vec![
        // start, new, expansion, contraction, churn, reactivation, end
        [0, usd(100), 0, 0, 0, 0, usd(100)],
        [usd(100), usd(100), usd(150), 0, 0, 0, usd(350)],
        [usd(350), 0, 0, usd(50), 0, 0, usd(300)],
        [usd(300), 0, 0, 0, usd(200), 0, usd(100)],
        [usd(100), 0, 0, 0, 0, 0, usd(100)],
        [usd(100), 0, 0, 0, 0, usd(100), usd(200)],
        [usd(200), 0, 0, 0, 0, 0, usd(200)],
    ];
    assert_eq!(minors(&series), expected);
    let customers: Vec<i64> = series.points.iter().map(|p| p.customers).collect();
    assert_eq!(customers, vec![1, 2, 2, 1, 1, 2, 2]);
    let april = &series.points[3];
    assert_eq!((april.churned_customers, april.start_customers), (1, 2));
    assert_eq!(customer_churn_rate(april), Some(0.5));
    assert_eq!(revenue_churn_rate(april), Some(200.0 / 300.0));
    // NRR of March: the two customers present at the start went from $350 to $300.
    assert_eq!(nrr(&series.points[2]), Some(300.0 / 350.0));
    assert_eq!(grr(&series.points[2]), Some(300.0 / 350.0));
    // February's new customer does not lift NRR; the upgrade does (capped in GRR).
    assert_eq!(nrr(&series.points[1]), Some(2.5));
    assert_eq!(grr(&series.points[1]), Some(1.0));
    let june = &series.points[5];
    assert_eq!((june.reactivated_customers, june.new_customers), (1, 0));
    // The API view: movements in cents on each point.
    let api = metric_series(
        &facts,
        Metric::MrrMovements,
        &monthly_usd(date(2024, 2, 1), date(2024, 2, 29)),
    )
    .unwrap();
    let json = serde_json::to_value(&api.series[0]).unwrap();
    assert_eq!(json["new"], usd(100));
    assert_eq!(json["expansion"], usd(150));
    assert_eq!(json["net"], usd(250));
    assert_eq!(json["value"], usd(250));
    assert_eq!(json["period_start"], "2024-02-01");
}

#[test]
fn a_plan_switch_moves_mrr_between_plan_groups() {
    let facts = scenario().facts();
    let mut query = monthly_usd(date(2024, 1, 1), date(2024, 7, 31));
    query.group_by = Some(Dimension::Plan);
    let series = mrr_series(&facts, &query).unwrap();
    let groups = series.groups.as_ref().unwrap();
    let keys: Vec<&str> = groups.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(keys, vec!["annual", "basic", "pro"]);
    let (basic, pro) = (&groups[1].points, &groups[2].points);
    // February: basic → pro with an expansion of $150: pro gets the expansion and $100
    // switched in; basic $100 switched out.
    assert_eq!(pro[1].expansion.to_minor(), usd(150));
    assert_eq!(pro[1].plan_switch.to_minor(), usd(100));
    assert_eq!(basic[1].plan_switch.to_minor(), -usd(100));
    assert_eq!(basic[1].churn.to_minor(), 0);
    // March: pro $250 → 2 × basic $200, a $50 contraction, taken from pro.
    assert_eq!(pro[2].contraction.to_minor(), usd(50));
    assert_eq!(pro[2].plan_switch.to_minor(), -usd(200));
    assert_eq!(basic[2].plan_switch.to_minor(), usd(200));
    assert_eq!(pro[2].mrr.to_minor(), 0);
    assert_eq!(basic[2].mrr.to_minor(), usd(200));
    // Memberships: leaving pro counts as a churned pro customer.
    assert_eq!(pro[2].churned_customers, 1);
    // Every movement field sums to the ungrouped series.
    for (k, total) in series.points.iter().enumerate() {
        let sum = |field: fn(&crate::domain::metrics::Point) -> i128| -> i128 {
            groups.iter().map(|g| field(&g.points[k])).sum()
        };
        assert_eq!(sum(|p| p.new.0), total.new.0);
        assert_eq!(sum(|p| p.expansion.0), total.expansion.0);
        assert_eq!(sum(|p| p.contraction.0), total.contraction.0);
        assert_eq!(sum(|p| p.churn.0), total.churn.0);
        assert_eq!(sum(|p| p.reactivation.0), total.reactivation.0);
        assert_eq!(sum(|p| p.plan_switch.0), 0);
        assert_eq!(sum(|p| p.mrr.0), total.mrr.0);
    }
    // A plan filter equals that plan's group.
    query.group_by = None;
    query.filters = vec![Filter::parse("plan", "pro").unwrap()];
    let only_pro = mrr_series(&facts, &query).unwrap();
    assert_eq!(&only_pro.points, pro);
}

#[test]
fn filters_and_groups_by_customer_dimension() {
    let facts = scenario().facts();
    let mut query = monthly_usd(date(2024, 1, 1), date(2024, 7, 31));
    query.filters = vec![Filter::parse("country", "fr").unwrap()];
    let france = mrr_series(&facts, &query).unwrap();
    assert_eq!(france.points[1].new.to_minor(), usd(100));
    assert_eq!(france.points[6].mrr.to_minor(), usd(100));
    query.filters.clear();
    query.group_by = Some(Dimension::Country);
    let grouped = mrr_series(&facts, &query).unwrap();
    let groups = grouped.groups.unwrap();
    assert_eq!(
        groups.iter().map(|g| g.key.as_str()).collect::<Vec<_>>(),
        vec!["FR", "US"]
    );
    assert_eq!(groups[0].points, france.points);
    for (k, total) in grouped.points.iter().enumerate() {
        assert_eq!(
            groups[0].points[k].customers + groups[1].points[k].customers,
            total.customers
        );
        assert_eq!(
            groups[0].points[k].net.0 + groups[1].points[k].net.0,
            total.net.0
        );
    }
    assert_eq!(
        "colour".parse::<Dimension>(),
        Err(MetricsError::UnknownDimension("colour".into()))
    );
    assert_eq!(
        "profit".parse::<Metric>(),
        Err(MetricsError::UnknownMetric("profit".into()))
    );
    query.group_by = Some(Dimension::Plan);
    assert!(matches!(
        metric_series(&facts, Metric::Refunds, &query),
        Err(MetricsError::DimensionNotApplicable { .. })
    ));
}

#[test]
fn changes_within_one_day_net_out() {
    let basic = monthly_price("basic", usd(100));
    let pro = monthly_price("pro", usd(150));
    let mut data = Dataset::default();
    data.customers.push(customer("cus_d", None));
    // One subscription ends at noon on March 10; another, dearer, starts that evening.
    let mut old = subscription(
        "sub_old",
        "cus_d",
        SubscriptionStatus::Canceled,
        ts(2024, 1, 1),
        vec![item("si_o", basic, 1)],
    );
    old.ended_at = Some(ts(2024, 3, 10) + 12 * 3_600);
    data.subscriptions.push(old);
    let new = subscription(
        "sub_new",
        "cus_d",
        SubscriptionStatus::Active,
        ts(2024, 3, 10) + 18 * 3_600,
        vec![item("si_n", pro, 1)],
    );
    data.subscriptions.push(new);
    let series = mrr_series(
        &data.facts(),
        &monthly_usd(date(2024, 3, 1), date(2024, 3, 31)),
    )
    .unwrap();
    // Not a churn and a new customer: a $50 expansion.
    assert_eq!(
        minors(&series),
        vec![[usd(100), 0, usd(50), 0, 0, 0, usd(150)]]
    );
    assert_eq!(series.points[0].churned_customers, 0);
    // Daily: March 10 carries it all.
    let mut daily = query(
        date(2024, 3, 9),
        date(2024, 3, 11),
        crate::domain::metrics::SeriesInterval::Day,
        "usd",
    );
    daily.group_by = None;
    let days = mrr_series(&data.facts(), &daily).unwrap();
    assert_eq!(
        days.points
            .iter()
            .map(|p| p.expansion.to_minor())
            .collect::<Vec<_>>(),
        vec![0, usd(50), 0]
    );
}

#[test]
fn arpu_arr_and_ltv_from_the_same_points() {
    let facts = scenario().facts();
    let query = monthly_usd(date(2024, 1, 1), date(2024, 7, 31));
    let arpu = metric_series(&facts, Metric::Arpu, &query).unwrap();
    assert_eq!(arpu.series[2].value, MetricValue::Money(usd(150)));
    let arr = metric_series(&facts, Metric::Arr, &query).unwrap();
    assert_eq!(arr.series[2].value, MetricValue::Money(usd(3_600)));
    let ltv = metric_series(&facts, Metric::Ltv, &query).unwrap();
    // January–March: no churn yet, so the 60-month cap: $100 × 60.
    assert_eq!(ltv.series[0].value, MetricValue::Money(usd(6_000)));
    // July: ARPU $100; churn rates of Feb–Jul: 0, 0, 0.5, 0, 0, 0 → mean 1/12 → 12 months.
    assert_eq!(ltv.series[6].value, MetricValue::Money(usd(1_200)));
    assert_eq!(ltv.definition, "arpu_over_trailing_6_month_churn");
}
