//! One reporting currency at daily rates, one customer across currencies, churn rates as
//! the anchors define them, and every interval. Amounts in cents of the reporting
//! currency: [start, new, expansion, contraction, churn, reactivation, end] per period.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::domain::billing::{Interval, SubscriptionStatus};
use crate::domain::metrics::{
    CurrencyMode, DailyRates, Filter, FxSource, Metric, MetricValue, RATE_SCALE, SeriesInterval,
    customer_churn_rate, customer_mrr, day_of_date, metric_series, mrr_series, revenue_churn_rate,
};

use super::fixtures::*;

/// Test rates against the euro, each from a day on: dollars per euro 1.25 until
/// 14 February 2024, 1.00 from the 15th, 0.80 from 10 April.
struct Steps(BTreeMap<&'static str, Vec<(u32, i128)>>);

impl DailyRates for Steps {
    fn per_eur(&self, currency: &str, day: u32) -> Option<i128> {
        let steps = self.0.get(currency)?;
        let after = steps.partition_point(|(from, _)| *from <= day);
        steps.get(after.saturating_sub(1)).map(|(_, rate)| *rate)
    }
}

fn dollar_steps() -> FxSource {
    let scaled = |rate: f64| (rate * RATE_SCALE as f64) as i128;
    let steps = Steps(BTreeMap::from([(
        "usd",
        vec![
            (0, scaled(1.25)),
            (day_of_date(date(2024, 2, 15)), scaled(1.00)),
            (day_of_date(date(2024, 4, 10)), scaled(0.80)),
        ],
    )]));
    FxSource::daily(Arc::new(steps), None)
}

fn in_euros(
    from: (i32, u32, u32),
    to: (i32, u32, u32),
    interval: SeriesInterval,
) -> crate::domain::metrics::SeriesQuery {
    let mut query = query(
        date(from.0, from.1, from.2),
        date(to.0, to.1, to.2),
        interval,
        "eur",
    );
    query.currency = CurrencyMode::Converted {
        to: "eur".to_owned(),
        rates: dollar_steps(),
    };
    query
}

/// A monthly subscription billed at `terms` (price, quantity, months) from January 2024,
/// invoiced every month, ending (canceled) where the terms end unless `active`.
fn billed(
    data: &mut Dataset,
    sub: &str,
    customer: &str,
    terms: &[(crate::domain::billing::PriceTerms, u64, u32)],
    active: bool,
) {
    let mut month = (2024, 1);
    for (price, quantity, months) in terms {
        data.invoices.extend(monthly_invoices(
            sub,
            &format!("si_{sub}"),
            price,
            *quantity,
            month,
            *months,
            "paid",
        ));
        month = add_month(month, *months);
    }
    let (last_price, last_quantity, _) =
        terms
            .last()
            .cloned()
            .unwrap_or((monthly_price("none", 0), 0, 0));
    let mut record = subscription(
        sub,
        customer,
        SubscriptionStatus::Active,
        ts(2024, 1, 1),
        vec![item(&format!("si_{sub}"), last_price, last_quantity)],
    );
    if !active {
        record.status = SubscriptionStatus::Canceled;
        record.canceled_at = Some(ts(month.0, month.1, 1));
        record.ended_at = Some(ts(month.0, month.1, 1));
    }
    data.subscriptions.push(record);
}

/// cus_x pays $100 from January, $150 from March, and leaves on 1 May; cus_y has 10
/// seats at $10 from January, 5 from March; cus_z pays €50 a month and $40 a month from
/// January, and drops the dollar subscription on 1 April.
fn three_customers() -> Dataset {
    let mut data = Dataset::default();
    for id in ["cus_x", "cus_y", "cus_z"] {
        data.customers.push(customer(id, Some("DE")));
    }
    let dollars = |id: &str, cents: i64| price_in(id, "usd", cents, Interval::Month, 1);
    let euros = |id: &str, cents: i64| price_in(id, "eur", cents, Interval::Month, 1);
    billed(
        &mut data,
        "sub_x",
        "cus_x",
        &[
            (dollars("basic", 10_000), 1, 2),
            (dollars("pro", 15_000), 1, 2),
        ],
        false,
    );
    billed(
        &mut data,
        "sub_y",
        "cus_y",
        &[
            (dollars("seat", 1_000), 10, 2),
            (dollars("seat", 1_000), 5, 4),
        ],
        true,
    );
    billed(
        &mut data,
        "sub_z1",
        "cus_z",
        &[(euros("euro", 5_000), 1, 6)],
        true,
    );
    billed(
        &mut data,
        "sub_z2",
        "cus_z",
        &[(dollars("addon", 4_000), 1, 3)],
        false,
    );
    data
}

/// ChartMogul, "How ChartMogul handles subscriptions billed in foreign currencies": a
/// movement is converted at the rate of its day and the MRR "remains the same until
/// there is a new MRR movement" — exchange rates never show up as expansion or
/// contraction. A decrease gives back the share of what was booked (half the seats,
/// half the converted MRR) and churn removes exactly what the customer brought.
#[test]
fn each_movement_is_converted_once_on_its_day() {
    let facts = three_customers().facts();
    let series = mrr_series(
        &facts,
        &in_euros((2024, 1, 1), (2024, 6, 30), SeriesInterval::Month),
    )
    .unwrap();
    assert_eq!(
        minors(&series),
        vec![
            // $100 + $100 + $40 at 1.25 = €80 + €80 + €32, and €50.
            [0, 24_200, 0, 0, 0, 0, 24_200],
            // The dollar falls to 1.00 on 15 February: no movement.
            [24_200, 0, 0, 0, 0, 0, 24_200],
            // +$50 at 1.00 = €50; 5 of 10 seats go: half of €80 booked.
            [24_200, 0, 5_000, 4_000, 0, 0, 25_200],
            // cus_z drops its dollars: €32 as booked, a contraction (it still pays €50).
            [25_200, 0, 0, 3_200, 0, 0, 22_000],
            // cus_x leaves: €80 + €50, exactly what it brought, at 0.80 or not.
            [22_000, 0, 0, 0, 13_000, 0, 9_000],
            [9_000, 0, 0, 0, 0, 0, 9_000],
        ]
    );
    let counts: Vec<i64> = series.points.iter().map(|p| p.customers).collect();
    assert_eq!(
        counts,
        vec![3, 3, 3, 3, 2, 2],
        "one customer is one customer"
    );
    assert!(series.unconverted.is_empty());
}

/// ChartMogul's MRR movements: a customer who reduces its MRR but keeps paying is a
/// contraction, not churn — also when what it drops is its only subscription in one
/// currency. Stripe's Billing analytics count a customer once in customer counts.
#[test]
fn dropping_one_currency_while_another_remains_is_contraction() {
    let facts = three_customers().facts();
    let april = in_euros((2024, 4, 1), (2024, 4, 30), SeriesInterval::Month);
    let point = &mrr_series(&facts, &april).unwrap().points[0];
    assert_eq!(
        (point.contraction.to_minor(), point.churn.to_minor()),
        (3_200, 0)
    );
    assert_eq!(
        (
            point.start_customers,
            point.customers,
            point.churned_customers
        ),
        (3, 3, 0)
    );
    // In dollars only (a currency filter), cus_z's dollars did churn.
    let mut dollars_only = april.clone();
    dollars_only.filters = vec![Filter::parse("currency", "usd").unwrap()];
    let point = &mrr_series(&facts, &dollars_only).unwrap().points[0];
    assert_eq!(
        (point.contraction.to_minor(), point.churn.to_minor()),
        (0, 3_200)
    );
}

/// The customer list's MRR is the series' MRR, customer by customer.
#[test]
fn each_customers_converted_mrr_sums_to_the_series() {
    let facts = three_customers().facts();
    let mode = in_euros((2024, 1, 1), (2024, 3, 31), SeriesInterval::Month).currency;
    let march = customer_mrr(&facts, &mode, day_of_date(date(2024, 3, 31))).unwrap();
    let cents: Vec<i64> = march.iter().map(|m| m.to_minor()).collect();
    assert_eq!(cents, vec![13_000, 4_000, 8_200]);
}

/// A currency no rate converts is never dropped silently: it is left out of the
/// converted figures and listed with its own MRR.
#[test]
fn a_currency_without_a_rate_is_listed_with_its_native_mrr() {
    let mut data = three_customers();
    data.customers.push(customer("cus_k", Some("KZ")));
    let tenge = price_in("tenge", "kzt", 500_000, Interval::Month, 1);
    billed(&mut data, "sub_k", "cus_k", &[(tenge, 1, 6)], true);
    let facts = data.facts();
    let series = mrr_series(
        &facts,
        &in_euros((2024, 1, 1), (2024, 6, 30), SeriesInterval::Month),
    )
    .unwrap();
    assert_eq!(
        series.points[5].mrr.to_minor(),
        9_000,
        "euros only from convertible MRR"
    );
    assert_eq!(series.unconverted.len(), 1);
    assert_eq!(series.unconverted[0].currency, "kzt");
    assert_eq!(series.unconverted[0].mrr.to_minor(), 500_000);
    let body = serde_json::to_value(
        metric_series(
            &facts,
            Metric::Mrr,
            &in_euros((2024, 1, 1), (2024, 6, 30), SeriesInterval::Month),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        body["unconverted"],
        serde_json::json!([{"currency": "kzt", "mrr": 500_000}])
    );
}

/// ChartMogul, "Customer Churn Rate": churned customers ÷ customers at the start of the
/// period, where customers who join and churn within the same period are not counted
/// (so the rate stays within 0–100 %); a customer who leaves and comes back within the
/// period is not lost either. Revenue churn likewise counts only the start's customers.
#[test]
fn churn_rates_count_only_the_customers_paying_at_the_start() {
    let mut data = Dataset::default();
    let plan = monthly_price("plan", usd(100));
    type Day = (i32, u32, u32);
    let spans: [(&str, Day, Option<Day>); 4] = [
        ("a", (2024, 1, 1), None),
        ("b", (2024, 1, 1), Some((2024, 2, 10))),
        // Joins and leaves within February.
        ("c", (2024, 2, 3), Some((2024, 2, 20))),
        ("d", (2024, 1, 1), Some((2024, 2, 5))),
        // d comes back on 25 February (below).
    ];
    for (id, start, end) in spans {
        let customer_id = format!("cus_{id}");
        data.customers.push(customer(&customer_id, Some("US")));
        let mut sub = subscription(
            &format!("sub_{id}"),
            &customer_id,
            SubscriptionStatus::Active,
            ts(start.0, start.1, start.2),
            vec![item("si", plan.clone(), 1)],
        );
        if let Some((y, m, d)) = end {
            sub.status = SubscriptionStatus::Canceled;
            sub.ended_at = Some(ts(y, m, d));
        }
        data.subscriptions.push(sub);
    }
    data.subscriptions.push(subscription(
        "sub_d2",
        "cus_d",
        SubscriptionStatus::Active,
        ts(2024, 2, 25),
        vec![item("si", plan, 1)],
    ));
    let facts = data.facts();
    let february = &mrr_series(&facts, &monthly_usd(date(2024, 2, 1), date(2024, 2, 29)))
        .unwrap()
        .points[0];
    assert_eq!(february.start_customers, 3, "a, b, d");
    assert_eq!(
        february.churned_customers, 1,
        "only b: c joined and left, d came back"
    );
    assert_eq!(customer_churn_rate(february), Some(1.0 / 3.0));
    // Churn movements count c and d too (€ of movements), the rate does not.
    assert_eq!(february.churn.to_minor(), usd(300));
    assert_eq!(
        revenue_churn_rate(february),
        Some(usd(200) as f64 / usd(300) as f64)
    );
    let rate = metric_series(
        &facts,
        Metric::CustomerChurnRate,
        &monthly_usd(date(2024, 2, 1), date(2024, 2, 29)),
    )
    .unwrap();
    assert_eq!(rate.series[0].value, MetricValue::Ratio(Some(1.0 / 3.0)));
    assert_eq!(rate.definition, "lost_of_start_over_start");
}

/// Quarters and years are calendar buckets like months (Stripe's and ChartMogul's
/// charts offer day, week, month, quarter and year); a partial last bucket ends at `to`.
#[test]
fn series_come_by_quarter_and_by_year() {
    let facts = three_customers().facts();
    let quarterly = mrr_series(
        &facts,
        &in_euros((2024, 2, 10), (2024, 11, 30), SeriesInterval::Quarter),
    )
    .unwrap();
    let bounds: Vec<_> = quarterly
        .points
        .iter()
        .map(|p| (p.period_start, p.period_end))
        .collect();
    assert_eq!(
        bounds,
        vec![
            (date(2024, 1, 1), date(2024, 3, 31)),
            (date(2024, 4, 1), date(2024, 6, 30)),
            (date(2024, 7, 1), date(2024, 9, 30)),
            (date(2024, 10, 1), date(2024, 11, 30)),
        ]
    );
    assert_eq!(
        minor(&quarterly.points[0]),
        [0, 24_200, 5_000, 4_000, 0, 0, 25_200]
    );
    assert_eq!(
        minor(&quarterly.points[1]),
        [25_200, 0, 0, 3_200, 13_000, 0, 9_000]
    );
    let yearly = mrr_series(
        &facts,
        &in_euros((2023, 6, 1), (2024, 12, 31), SeriesInterval::Year),
    )
    .unwrap();
    assert_eq!(yearly.points.len(), 2);
    assert_eq!(yearly.points[1].period_start, date(2024, 1, 1));
    assert_eq!(
        minor(&yearly.points[1]),
        [0, 24_200, 5_000, 7_200, 13_000, 0, 9_000]
    );
}
