//! Part 1: the metrics engine alone, on one thread, with no I/O — the figure the issue's
//! "under 1 s on one core" goal is about.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use tally::adapters::demo::{DemoDataset, DemoParams, generate};
use tally::domain::metrics::{
    BillingData, CohortInterval, CohortQuery, CurrencyMode, Facts, ForecastQuery, FxRates,
    FxSource, Metric, MrrPolicy, SeriesInterval, SeriesQuery, cohorts, facts_from_records,
    forecast, metric_series, mrr_series, summary,
};

use crate::merge::append;
use crate::report::{Report, count, duration, goal, percentile};

/// The integration id the generated records are attributed to (the `integration`
/// dimension and the customer rows' `integration`).
pub const INTEGRATION: &str = "int_bench";
/// The window the issue sizes the tenant by: 5 years.
pub const MONTHS: u32 = 60;
/// Each query is timed this many times and the median reported: the first run pays for
/// cold caches and page faults, later ones are what a warm query process sees.
const RUNS: usize = 5;
/// Runs of the cohort and forecast timings, for their p50 and p95.
const LATENCY_RUNS: usize = 20;
/// The engine goal of issue 6: monthly MRR + movements over the whole range.
const ENGINE_GOAL: Duration = Duration::from_secs(1);

/// Generates the demo dataset: `customers` signing up over the 60 months that end `end`.
pub fn dataset(customers: usize, seed: u64, end: DateTime<Utc>) -> DemoDataset {
    generate(DemoParams {
        seed,
        customers,
        months: MONTHS,
        end: end.timestamp(),
        ..DemoParams::default()
    })
}

/// Describes a dataset for the table.
pub fn describe(dataset: &DemoDataset, took: Duration) -> String {
    format!(
        "{} customers, {} subscriptions, {} invoices, {} charges in {}",
        count(dataset.customers.len()),
        count(dataset.subscriptions.len()),
        count(dataset.invoices.len()),
        count(dataset.charges.len()),
        duration(took)
    )
}

/// The first day of the month five years before `today`: the `from` of the 5-year
/// monthly series (the server part queries the same range).
pub fn five_years_before(today: NaiveDate) -> NaiveDate {
    today
        .checked_sub_months(Months::new(MONTHS))
        .and_then(|d| d.with_day(1))
        .unwrap_or(today)
}

/// Customers per generated batch: ~2.2 GB of records at a time.
const BATCH_CUSTOMERS: usize = 100_000;
/// However the ratio of changes to customers turns out, no more batches than this.
const MAX_BATCHES: usize = 50;

/// What the engine part measured, for the server part's headings.
pub struct EngineFacts {
    /// `MrrChange`s of the first dataset alone (the tenant the server part serves).
    pub first_changes: usize,
    /// `MrrChange`s the series were timed on.
    pub changes: usize,
    pub customers: usize,
}

/// Builds the facts of `first` plus as many further demo datasets (other seeds, other
/// integrations) as it takes to reach `target_changes`, then times the engine on them.
pub fn run(
    first: BillingData<'_>,
    seed: u64,
    target_changes: usize,
    end: DateTime<Utc>,
    report: &mut Report,
) -> Result<EngineFacts> {
    // The series run on one thread; `facts_from_records` spreads its per-customer work
    // over every core (rayon), and its row says so.
    const SECTION: &str = "Engine (series on one thread)";
    let policy = MrrPolicy::default();
    let today = end.date_naive();
    let started = Instant::now();
    let mut facts = facts_from_records(&[first], &policy);
    let mut building = started.elapsed();
    let first_changes = facts.changes.len();
    let first_customers = first.customers.len().max(1);
    let mut batches = 1;
    let mut generating = Duration::ZERO;
    while facts.changes.len() < target_changes && batches < MAX_BATCHES {
        // Sized from the first dataset's ratio so the total lands near the target
        // instead of a whole batch past it.
        let missing = target_changes - facts.changes.len();
        let customers = (missing * first_customers)
            .div_ceil(first_changes.max(1))
            .clamp(1, BATCH_CUSTOMERS);
        let integration = format!("{INTEGRATION}_{batches}");
        let started = Instant::now();
        let more = dataset(customers, seed + batches as u64, end);
        generating += started.elapsed();
        let started = Instant::now();
        let more_facts = facts_from_records(&[more.for_integration(&integration)], &policy);
        building += started.elapsed();
        // Dropped before the next batch: only the facts stay.
        drop(more);
        let started = Instant::now();
        append(&mut facts, more_facts)?;
        building += started.elapsed();
        batches += 1;
    }
    // As the snapshot build does: sorted once, into the order the walk needs.
    let started = Instant::now();
    facts.sort();
    building += started.elapsed();
    facts.check().context("the facts fail their checks")?;
    let changes = facts.changes.len();
    if batches > 1 {
        report.row(
            "Dataset",
            &format!(
                "{} more demo dataset(s), seeds {}–{} (engine only)",
                batches - 1,
                seed + 1,
                seed + batches as u64 - 1
            ),
            format!(
                "{} customers in {}",
                count(facts.customers.len() - first.customers.len()),
                duration(generating)
            ),
            None,
        );
    }
    report.row(
        SECTION,
        &format!(
            "facts_from_records + sort ({batches} integration(s), once per rebuild, {} core(s))",
            rayon::current_num_threads()
        ),
        duration(building),
        None,
    );
    report.row(
        SECTION,
        "MrrChanges / customers in the facts",
        format!("{} / {}", count(changes), count(facts.customers.len())),
        None,
    );

    let native = CurrencyMode::Native(most_common_currency(&facts));
    let query = SeriesQuery {
        from: five_years_before(today),
        to: today,
        interval: SeriesInterval::Month,
        currency: native.clone(),
        filters: Vec::new(),
        customers: None,
        group_by: None,
    };
    let code = native.code();
    let (elapsed, series) = median(|| Ok(mrr_series(&facts, &query)?))?;
    let periods = series.points.len();
    report.row(
        SECTION,
        &format!("mrr_series, monthly, 5 y, {code} ({periods} periods, median of {RUNS})"),
        duration(elapsed),
        Some(goal(elapsed, ENGINE_GOAL)),
    );
    let (elapsed, _) = median(|| Ok(metric_series(&facts, Metric::MrrMovements, &query)?))?;
    report.row(
        SECTION,
        &format!("metric_series(mrr_movements), monthly, 5 y, {code} (median of {RUNS})"),
        duration(elapsed),
        Some(goal(elapsed, ENGINE_GOAL)),
    );
    // Every change, whatever its currency: the worst case of a monthly series.
    let converted = SeriesQuery {
        currency: CurrencyMode::Converted {
            to: "eur".to_owned(),
            rates: fixed_rates(&facts).into(),
        },
        ..query.clone()
    };
    let (elapsed, _) = median(|| Ok(mrr_series(&facts, &converted)?))?;
    report.row(
        SECTION,
        &format!("mrr_series, monthly, 5 y, all currencies → eur, fixed rates (median of {RUNS})"),
        duration(elapsed),
        Some(goal(elapsed, ENGINE_GOAL)),
    );
    // What the API does by default: every movement converted at the ECB rate of its day.
    let daily = CurrencyMode::Converted {
        to: "eur".to_owned(),
        rates: FxSource::daily(tally::domain::fx_history::bundled_shared(), None),
    };
    let at_daily_rates = SeriesQuery {
        currency: daily.clone(),
        ..query.clone()
    };
    let (elapsed, _) = median(|| Ok(mrr_series(&facts, &at_daily_rates)?))?;
    report.row(
        SECTION,
        &format!(
            "mrr_series, monthly, 5 y, all currencies → eur, ECB daily rates (median of {RUNS})"
        ),
        duration(elapsed),
        Some(goal(elapsed, ENGINE_GOAL)),
    );
    let (elapsed, _) = median(|| Ok(summary(&facts, today, native.clone(), Vec::new())?))?;
    report.row(
        SECTION,
        &format!("summary, {code} (median of {RUNS})"),
        duration(elapsed),
        Some(goal(elapsed, ENGINE_GOAL)),
    );
    let (elapsed, _) = median(|| Ok(summary(&facts, today, daily.clone(), Vec::new())?))?;
    report.row(
        SECTION,
        &format!("summary, all currencies → eur, ECB daily rates (median of {RUNS})"),
        duration(elapsed),
        Some(goal(elapsed, ENGINE_GOAL)),
    );
    // Issue 18: 5 years of monthly cohorts, and the 12-month forecast, at ECB rates.
    let cohort_query = CohortQuery {
        from: five_years_before(today),
        to: today,
        interval: CohortInterval::Month,
        currency: daily.clone(),
        filters: Vec::new(),
        customers: None,
        group_by: None,
    };
    let times = latencies(|| Ok(cohorts(&facts, &cohort_query)?))?;
    report.row(
        SECTION,
        &format!(
            "cohorts, monthly, 5 y, all currencies → eur, ECB daily rates ({LATENCY_RUNS} runs)"
        ),
        p50_p95(&times),
        None,
    );
    let forecast_query = ForecastQuery {
        as_of: today,
        months: 12,
        trailing: 6,
        currency: daily.clone(),
        filters: Vec::new(),
        customers: None,
    };
    let times = latencies(|| Ok(forecast(&facts, &forecast_query)?))?;
    report.row(
        SECTION,
        &format!("forecast, 12 months from 6, all currencies → eur, ECB daily rates ({LATENCY_RUNS} runs)"),
        p50_p95(&times),
        None,
    );
    Ok(EngineFacts {
        first_changes,
        changes,
        customers: facts.customers.len(),
    })
}

/// Runs `work` [`RUNS`] times; the median time and the last result.
fn median<T>(mut work: impl FnMut() -> Result<T>) -> Result<(Duration, T)> {
    let mut times = Vec::with_capacity(RUNS);
    let mut last = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        let out = work()?;
        times.push(started.elapsed());
        // The previous result is freed here, outside the timed span (a reply would be
        // serialized, then freed: not the engine's cost).
        last = Some(out);
    }
    times.sort();
    let out = last.context("no run")?;
    Ok((times[RUNS / 2], out))
}

/// Runs `work` [`LATENCY_RUNS`] times; the sorted times.
fn latencies<T>(mut work: impl FnMut() -> Result<T>) -> Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(LATENCY_RUNS);
    for _ in 0..LATENCY_RUNS {
        let started = Instant::now();
        let out = work()?;
        times.push(started.elapsed());
        drop(out);
    }
    times.sort();
    Ok(times)
}

fn p50_p95(times: &[Duration]) -> String {
    format!(
        "p50 {}, p95 {}",
        duration(percentile(times, 50)),
        duration(percentile(times, 95))
    )
}

/// The currency with the most changes: what the API reports in when the tenant stored
/// no FX rates (as the snapshot's `reporting_currency` is chosen).
fn most_common_currency(facts: &Facts) -> String {
    let mut counts = vec![0usize; facts.currencies.len()];
    for change in &facts.changes {
        if let Some(c) = counts.get_mut(usize::from(change.currency)) {
            *c += 1;
        }
    }
    counts
        .iter()
        .enumerate()
        .max_by_key(|(_, c)| **c)
        .and_then(|(i, _)| facts.currencies.get(i).cloned())
        .unwrap_or_else(|| "usd".to_owned())
}

/// Plausible fixed rates for every currency of the facts (the values do not matter for
/// timing, only that every currency has one).
fn fixed_rates(facts: &Facts) -> FxRates {
    let known = BTreeMap::from([("usd", 1.08), ("gbp", 0.86)]);
    FxRates {
        base: "eur".to_owned(),
        rates: facts
            .currencies
            .iter()
            .filter(|c| c.as_str() != "eur")
            .map(|c| (c.clone(), known.get(c.as_str()).copied().unwrap_or(1.0)))
            .collect(),
    }
}
