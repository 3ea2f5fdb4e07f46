//! Cohorts, checked against a triangle computed by hand.
//!
//! The definition (ChartMogul's and Baremetrics' cohort charts): a customer belongs to
//! the period of its first payment; each later period shows the share of the cohort
//! still paying (logo retention) and its MRR against the MRR it started with (revenue
//! retention, expansion included).
//!
//! The tenant, in usd (minor units):
//! * A (DE): 100 from 2025-01-10, expands to 150 on 2025-02-15;
//! * B (DE): 50 from 2025-01-20, churns 2025-02-05, comes back at 50 on 2025-04-03;
//! * C (FR): 200 on plan pro from 2025-02-01, switches to basic at 100 on 2025-03-10,
//!   churns 2025-04-20;
//! * D (FR): 80 since 2024-12-05, before the range: in no cohort of it;
//! * E (FR): a trial that never paid (a 0 value): in no cohort.

use chrono::NaiveDate;

use crate::domain::metrics::{
    CohortInterval, CohortQuery, CohortTable, CurrencyMode, CustomerDims, CustomerFacts, Dimension,
    Facts, Filter, Mrr, MrrChange, cohorts, day_of_date,
};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn tenant() -> Facts {
    let customer = |id: &str, country: &str| CustomerFacts {
        id: id.to_owned(),
        dims: CustomerDims {
            country: Some(country.to_owned()),
            ..CustomerDims::default()
        },
    };
    // (customer, day, plan, value): plan 0 is pro, 1 basic.
    let change = |customer: u32, (y, m, d): (i32, u32, u32), plan: u32, value: i64| MrrChange {
        customer,
        at_day: day_of_date(date(y, m, d)),
        plan,
        currency: 0,
        value: Mrr::from_minor(value),
    };
    let mut facts = Facts {
        currencies: vec!["usd".into()],
        plans: vec!["pro".into(), "basic".into()],
        customers: vec![
            customer("A", "DE"),
            customer("B", "DE"),
            customer("C", "FR"),
            customer("D", "FR"),
            customer("E", "FR"),
        ],
        changes: vec![
            change(0, (2025, 1, 10), 0, 100),
            change(0, (2025, 2, 15), 0, 150),
            change(1, (2025, 1, 20), 0, 50),
            change(1, (2025, 2, 5), 0, 0),
            change(1, (2025, 4, 3), 0, 50),
            change(2, (2025, 2, 1), 0, 200),
            change(2, (2025, 3, 10), 0, 0),
            change(2, (2025, 3, 10), 1, 100),
            change(2, (2025, 4, 20), 1, 0),
            change(3, (2024, 12, 5), 0, 80),
            change(4, (2025, 1, 3), 0, 0),
        ],
        ..Facts::default()
    };
    facts.sort();
    facts
}

fn query(interval: CohortInterval, to: NaiveDate) -> CohortQuery {
    CohortQuery {
        from: date(2025, 1, 1),
        to,
        interval,
        currency: CurrencyMode::Native("usd".into()),
        filters: Vec::new(),
        customers: None,
        group_by: None,
    }
}

/// Per cohort: (label, size, start MRR, [(paying, MRR) per offset]).
type Row = (String, u64, i64, Vec<(u64, i64)>);

fn rows(cohorts: &[crate::domain::metrics::Cohort]) -> Vec<Row> {
    cohorts
        .iter()
        .map(|c| {
            let cells = c
                .periods
                .iter()
                .map(|p| (p.customers, p.mrr.to_minor()))
                .collect();
            (c.cohort.clone(), c.customers, c.start_mrr.to_minor(), cells)
        })
        .collect()
}

fn row(label: &str, size: u64, start: i64, cells: &[(u64, i64)]) -> Row {
    (label.to_owned(), size, start, cells.to_vec())
}

fn monthly(extra: impl FnOnce(&mut CohortQuery)) -> CohortTable {
    let mut q = query(CohortInterval::Month, date(2025, 4, 30));
    extra(&mut q);
    cohorts(&tenant(), &q).unwrap()
}

#[test]
fn a_monthly_triangle_counts_first_payments_expansion_churn_and_returns() {
    let table = monthly(|_| {});
    assert_eq!(
        rows(&table.cohorts),
        vec![
            row("2025-01", 2, 150, &[(2, 150), (1, 150), (1, 150), (2, 200)]),
            row("2025-02", 1, 200, &[(1, 200), (1, 100), (0, 0)]),
            row("2025-03", 0, 0, &[(0, 0), (0, 0)]),
            row("2025-04", 0, 0, &[(0, 0)]),
        ]
    );
    let january = &table.cohorts[0].periods;
    let logo: Vec<_> = january.iter().map(|p| p.logo_retention).collect();
    assert_eq!(logo, vec![Some(1.0), Some(0.5), Some(0.5), Some(1.0)]);
    let revenue: Vec<_> = january.iter().map(|p| p.revenue_retention).collect();
    assert_eq!(
        revenue,
        vec![Some(1.0), Some(1.0), Some(1.0), Some(200.0 / 150.0)]
    );
    let february = &table.cohorts[1].periods;
    assert_eq!(february[1].revenue_retention, Some(0.5));
    assert_eq!(february[2].logo_retention, Some(0.0));
    assert_eq!(table.cohorts[2].periods[0].logo_retention, None);
    assert_eq!(table.cohorts[2].periods[0].revenue_retention, None);
    assert_eq!(january[3].period_start, date(2025, 4, 1));
    assert_eq!(january[3].period_end, date(2025, 4, 30));
    assert_eq!(january[3].offset, 3);
    assert!(table.groups.is_none());
}

#[test]
fn a_quarterly_triangle_measures_at_quarter_ends() {
    let table = cohorts(
        &tenant(),
        &query(CohortInterval::Quarter, date(2025, 6, 30)),
    )
    .unwrap();
    assert_eq!(
        rows(&table.cohorts),
        vec![
            row("2025-Q1", 3, 250, &[(2, 250), (2, 200)]),
            row("2025-Q2", 0, 0, &[(0, 0)]),
        ]
    );
    let q1 = &table.cohorts[0].periods;
    assert_eq!(q1[1].logo_retention, Some(2.0 / 3.0));
    assert_eq!(q1[1].revenue_retention, Some(0.8));
    assert_eq!(q1[1].period_end, date(2025, 6, 30));
}

#[test]
fn the_last_period_ends_at_the_range_end() {
    let table = monthly(|q| q.to = date(2025, 4, 10));
    let january = &table.cohorts[0].periods;
    assert_eq!(january[3].period_end, date(2025, 4, 10));
    // B is back on 04-03, C still pays until 04-20.
    assert_eq!((january[3].customers, january[3].mrr.to_minor()), (2, 200));
    assert_eq!(table.cohorts[1].periods[2].customers, 1);
}

#[test]
fn grouping_by_a_customer_dimension_gives_a_triangle_per_value() {
    let table = monthly(|q| q.group_by = Some(Dimension::Country));
    let groups = table.groups.unwrap();
    let keys: Vec<_> = groups.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(keys, vec!["DE", "FR"]);
    assert_eq!(rows(&groups[0].cohorts)[0], rows(&table.cohorts)[0]);
    assert_eq!(groups[0].cohorts[1].customers, 0);
    assert_eq!(rows(&groups[1].cohorts)[1], rows(&table.cohorts)[1]);
    assert_eq!(groups[1].cohorts[0].customers, 0);
}

#[test]
fn by_plan_a_customer_joins_a_plan_cohort_when_it_first_pays_in_that_plan() {
    let table = monthly(|q| q.group_by = Some(Dimension::Plan));
    let groups = table.groups.unwrap();
    let basic = &groups[0];
    assert_eq!(basic.key, "basic");
    assert_eq!(
        rows(&basic.cohorts)[2],
        row("2025-03", 1, 100, &[(1, 100), (0, 0)])
    );
    let pro = &groups[1];
    assert_eq!(
        rows(&pro.cohorts)[1],
        row("2025-02", 1, 200, &[(1, 200), (0, 0), (0, 0)])
    );
    // The total is by customer: C's switch is a contraction, not a churn.
    assert_eq!(table.cohorts[1].periods[1].customers, 1);
}

#[test]
fn filters_select_customers_and_plans() {
    let de = monthly(|q| q.filters = vec![Filter::parse("country", "de").unwrap()]);
    assert_eq!(de.cohorts[0].customers, 2);
    assert_eq!(de.cohorts[1].customers, 0);
    let pro = monthly(|q| q.filters = vec![Filter::parse("plan", "pro").unwrap()]);
    assert_eq!(
        rows(&pro.cohorts)[1],
        row("2025-02", 1, 200, &[(1, 200), (0, 0), (0, 0)])
    );
    assert_eq!(rows(&pro.cohorts)[0], rows(&monthly(|_| {}).cohorts)[0]);
}

#[test]
fn another_currency_is_not_in_a_native_triangle() {
    let table = monthly(|q| q.currency = CurrencyMode::Native("eur".into()));
    assert!(table.cohorts.iter().all(|c| c.customers == 0));
}
