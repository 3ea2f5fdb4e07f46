//! The API-facing functions: summary, metric names and definitions, dimension values,
//! the JSON shape of a grouped metric.

use crate::domain::metrics::{
    CurrencyMode, DEFINITIONS, Dimension, Metric, MetricValue, dimension_values, metric_series,
    summary,
};

use super::fixtures::*;
use super::movements::scenario;

#[test]
fn summary_reports_now_and_the_last_complete_month() {
    let facts = scenario().facts();
    let usd_only = CurrencyMode::Native("usd".to_owned());
    let headline = summary(&facts, date(2024, 7, 15), usd_only, Vec::new()).unwrap();
    assert_eq!(
        (headline.mrr, headline.arr, headline.customers),
        (usd(200), usd(2_400), 2)
    );
    assert_eq!(headline.arpu, usd(100));
    // June: one customer at its start (cus_2), nobody churned, cus_1 reactivated.
    assert_eq!(
        (headline.rates_from, headline.rates_to),
        (date(2024, 6, 1), date(2024, 6, 30))
    );
    assert_eq!(headline.customer_churn_rate, Some(0.0));
    assert_eq!(headline.revenue_churn_rate, Some(0.0));
    assert_eq!(headline.nrr, Some(1.0));
    // Churn of January–June: none defined in January, then 0, 0, ½, 0, 0 → 0.1 a month:
    // a 10-month lifetime at $100.
    assert_eq!(headline.ltv, usd(1_000));
}

#[test]
fn every_metric_parses_and_names_its_definition() {
    for metric in Metric::ALL {
        assert_eq!(metric.as_str().parse::<Metric>(), Ok(metric));
        assert!(!metric.definition_name().is_empty(), "{metric}");
    }
    for dimension in Dimension::ALL {
        assert_eq!(dimension.as_str().parse::<Dimension>(), Ok(dimension));
    }
    let mut names: Vec<&str> = DEFINITIONS.iter().map(|d| d.concept).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), DEFINITIONS.len(), "one definition per concept");
}

#[test]
fn dimension_values_list_what_the_facts_hold() {
    let facts = scenario().facts();
    let values = dimension_values(&facts);
    assert_eq!(
        values[&Dimension::Country],
        vec!["FR".to_owned(), "US".to_owned()]
    );
    assert_eq!(
        values[&Dimension::Plan],
        vec!["annual".to_owned(), "basic".to_owned(), "pro".to_owned()]
    );
    assert_eq!(values[&Dimension::Currency], vec!["usd".to_owned()]);
    assert_eq!(values[&Dimension::Integration], vec!["int_1".to_owned()]);
    let json = serde_json::to_value(&values).unwrap();
    assert!(json.get("card_brand").is_none() && json.get("country").is_some());
}

#[test]
fn a_grouped_metric_serializes_as_the_api_describes() {
    let facts = scenario().facts();
    let mut query = monthly_usd(date(2024, 3, 1), date(2024, 4, 30));
    query.group_by = Some(Dimension::Country);
    let churn = metric_series(&facts, Metric::CustomerChurnRate, &query).unwrap();
    assert_eq!(churn.series[1].value, MetricValue::Ratio(Some(0.5)));
    let json = serde_json::to_value(&churn).unwrap();
    assert_eq!(json["metric"], "customer_churn_rate");
    assert_eq!(json["definition"], "lost_of_start_over_start");
    assert_eq!(json["interval"], "month");
    assert_eq!(json["currency"], "usd");
    assert_eq!(json["series"][1]["value"], 0.5);
    assert_eq!(json["groups"][1]["key"], "US");
    assert_eq!(json["groups"][1]["series"][1]["value"], 1.0);
    assert!(
        json["groups"][0]["series"][1]["new"].is_null(),
        "movements only on mrr_movements"
    );
}

#[test]
fn facts_round_trip_through_json_for_storage() {
    let facts = scenario().facts();
    let text = serde_json::to_string(&facts).unwrap();
    let back: crate::domain::metrics::Facts = serde_json::from_str(&text).unwrap();
    assert_eq!(back, facts);
    assert!(back.check().is_ok());
    let mut unsorted = facts.clone();
    unsorted.changes.reverse();
    assert!(unsorted.check().is_err());
    unsorted.sort();
    assert_eq!(unsorted.changes, facts.changes);
}
