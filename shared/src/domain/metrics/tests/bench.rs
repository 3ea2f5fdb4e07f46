//! The speed goal: monthly MRR + movements over 1,000,000 changes (100,000
//! customers × 10 over 5 years) in under 1 s on one core, release build. Ignored by
//! default; run it with
//! `cargo test --release -p tally metrics::tests::bench -- --ignored --nocapture`.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::domain::metrics::{
    BillingData, CurrencyMode, CustomerDims, CustomerFacts, Dimension, Facts, FxRates, Mrr,
    MrrChange, MrrPolicy, SeriesInterval, SeriesQuery, day_of_date, facts_from_records, mrr_series,
};

use super::fixtures::{Dataset, DatasetExt, date};
use super::generator::{Rng, generate};

/// Synthetic facts: each customer starts some day in 2020–2024 and changes MRR about
/// every four months — up, down, to zero and back — across up to three plans.
pub fn synthetic_facts(customers: u32, changes_per_customer: u32) -> Facts {
    let mut rng = Rng::new(7);
    let first_day = day_of_date(date(2020, 1, 1));
    let countries = ["US", "FR", "DE", "GB", "CA"];
    let mut facts = Facts {
        currencies: vec!["usd".to_owned(), "eur".to_owned()],
        plans: (0..12).map(|p| format!("plan_{p}")).collect(),
        ..Facts::default()
    };
    for customer in 0..customers {
        facts.customers.push(CustomerFacts {
            id: format!("cus_{customer}"),
            dims: CustomerDims {
                country: Some((*rng.pick(&countries)).to_owned()),
                ..CustomerDims::default()
            },
        });
        let currency = u16::from(rng.chance(10));
        let mut day = first_day + rng.below(365) as u32;
        let plans = [rng.below(12) as u32, rng.below(12) as u32];
        for _ in 0..changes_per_customer {
            let plan = plans[rng.below(2) as usize];
            let value = if rng.chance(15) {
                0
            } else {
                (1 + rng.below(500) as i128) * 1_000_000_000
            };
            facts.changes.push(MrrChange {
                customer,
                at_day: day,
                plan,
                currency,
                value: Mrr(value),
            });
            day += 1 + rng.below(240) as u32;
        }
    }
    facts.sort();
    facts
}

fn timed(label: &str, facts: &Facts, query: &SeriesQuery) -> f64 {
    let started = Instant::now();
    let series = mrr_series(facts, query).expect("series");
    let seconds = started.elapsed().as_secs_f64();
    let last = series
        .points
        .last()
        .map(|p| p.mrr.to_minor())
        .unwrap_or_default();
    println!(
        "{label}: {:.1} ms ({} periods, end MRR {last})",
        seconds * 1_000.0,
        series.points.len()
    );
    seconds
}

#[test]
#[ignore = "a benchmark: run in release with --ignored --nocapture"]
fn bench_monthly_mrr_and_movements_over_one_million_changes() {
    let started = Instant::now();
    let facts = synthetic_facts(100_000, 10);
    println!(
        "built {} changes in {:.0} ms",
        facts.changes.len(),
        started.elapsed().as_secs_f64() * 1_000.0
    );
    assert_eq!(facts.changes.len(), 1_000_000);
    let started = Instant::now();
    facts.check().expect("facts");
    println!(
        "checked in {:.1} ms",
        started.elapsed().as_secs_f64() * 1_000.0
    );
    let mut query = SeriesQuery {
        from: date(2020, 1, 1),
        to: date(2024, 12, 31),
        interval: SeriesInterval::Month,
        currency: CurrencyMode::Native("usd".to_owned()),
        filters: Vec::new(),
        customers: None,
        group_by: None,
    };
    let plain = timed("monthly, usd", &facts, &query);
    query.group_by = Some(Dimension::Country);
    timed("monthly, usd, by country", &facts, &query);
    query.group_by = Some(Dimension::Plan);
    timed("monthly, usd, by plan", &facts, &query);
    query.group_by = None;
    query.currency = CurrencyMode::Converted {
        to: "usd".to_owned(),
        rates: FxRates {
            base: "eur".to_owned(),
            rates: BTreeMap::from([("usd".to_owned(), 1.08)]),
        }
        .into(),
    };
    timed("monthly, converted to usd", &facts, &query);
    query.interval = SeriesInterval::Day;
    timed("daily, converted to usd", &facts, &query);
    assert!(
        plain < 1.0 || cfg!(debug_assertions),
        "monthly MRR + movements took {plain:.3} s"
    );
}

#[test]
#[ignore = "a benchmark: run in release with --ignored --nocapture"]
fn bench_building_facts_from_records() {
    let datasets: Vec<Dataset> = (0..2_000).map(generate).collect();
    let sources: Vec<BillingData<'_>> = datasets.iter().map(DatasetExt::data).collect();
    let subscriptions: usize = datasets.iter().map(|d| d.subscriptions.len()).sum();
    let invoices: usize = datasets.iter().map(|d| d.invoices.len()).sum();
    let started = Instant::now();
    let facts = facts_from_records(&sources, &MrrPolicy::default());
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "facts from {} customers, {subscriptions} subscriptions, {invoices} invoices: {} changes in {:.0} ms",
        facts.customers.len(),
        facts.changes.len(),
        seconds * 1_000.0
    );
    assert!(facts.check().is_ok());
}
