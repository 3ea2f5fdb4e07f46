//! Subscribers and ARPS as Stripe's Billing analytics define them: customers with a
//! subscription in a counted state, whatever its MRR; MRR ÷ subscribers.

use crate::domain::billing::{Interval, SubscriptionStatus, UsageType};
use crate::domain::metrics::{Dimension, Metric, MetricValue, MetricsError, metric_series};

use super::fixtures::*;

/// cus_paid pays $50 a month; cus_metered is on a metered price only (no MRR); cus_trial
/// trials until 15 March; cus_gone paid $30 and canceled on 10 February.
fn four_customers() -> Dataset {
    let mut data = Dataset::default();
    for id in ["cus_paid", "cus_metered", "cus_trial", "cus_gone"] {
        data.customers.push(customer(id, Some("US")));
    }
    let mut metered = price_in("api_calls", "usd", 2, Interval::Month, 1);
    metered.usage_type = UsageType::Metered;
    let start = ts(2024, 1, 1);
    let active = SubscriptionStatus::Active;
    data.subscriptions.push(subscription(
        "sub_paid",
        "cus_paid",
        active,
        start,
        vec![item("si_p", monthly_price("basic", usd(50)), 1)],
    ));
    data.subscriptions.push(subscription(
        "sub_metered",
        "cus_metered",
        active,
        start,
        vec![item("si_m", metered, 0)],
    ));
    let mut trial = subscription(
        "sub_trial",
        "cus_trial",
        active,
        start,
        vec![item("si_t", monthly_price("basic", usd(50)), 1)],
    );
    trial.trial_start = Some(start);
    trial.trial_end = Some(ts(2024, 3, 15));
    data.subscriptions.push(trial);
    let mut gone = subscription(
        "sub_gone",
        "cus_gone",
        SubscriptionStatus::Canceled,
        start,
        vec![item("si_g", monthly_price("small", usd(30)), 1)],
    );
    gone.canceled_at = Some(ts(2024, 2, 10));
    gone.ended_at = Some(ts(2024, 2, 10));
    data.subscriptions.push(gone);
    data
}

fn values(metric: Metric) -> Vec<MetricValue> {
    let facts = four_customers().facts();
    let query = monthly_usd(date(2024, 1, 1), date(2024, 4, 30));
    let series = metric_series(&facts, metric, &query).unwrap();
    series.series.iter().map(|p| p.value).collect()
}

/// Stripe Billing analytics, "Subscribers": customers with an active subscription,
/// counted whatever its MRR — a customer on metered prices only is a subscriber but adds
/// no MRR; a trialing customer is not yet one; a canceled one no longer is.
#[test]
fn metered_only_customers_are_subscribers_without_mrr() {
    assert_eq!(
        values(Metric::Subscribers),
        vec![
            MetricValue::Count(3),
            MetricValue::Count(2),
            MetricValue::Count(3),
            MetricValue::Count(3),
        ]
    );
    assert_eq!(
        values(Metric::Customers),
        vec![
            MetricValue::Count(2),
            MetricValue::Count(1),
            MetricValue::Count(2),
            MetricValue::Count(2),
        ]
    );
}

/// Stripe Billing analytics, "Average revenue per subscriber": MRR ÷ subscribers. In
/// April, $100 of MRR over 3 subscribers is $33.33 (half to even on the cent).
#[test]
fn arps_divides_mrr_by_subscribers() {
    assert_eq!(
        values(Metric::Arps),
        vec![
            MetricValue::Money(2_667),
            MetricValue::Money(2_500),
            MetricValue::Money(3_333),
            MetricValue::Money(3_333),
        ]
    );
    let facts = four_customers().facts();
    let mut by_plan = monthly_usd(date(2024, 1, 1), date(2024, 4, 30));
    by_plan.group_by = Some(Dimension::Plan);
    assert!(matches!(
        metric_series(&facts, Metric::Subscribers, &by_plan),
        Err(MetricsError::DimensionNotApplicable { .. })
    ));
}
