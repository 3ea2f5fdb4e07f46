//! The forecast model `trailing_movement_rates_v1`, checked by hand on three months.
//!
//! The months (minor units):
//! | month | start | new | react. | exp. | contr. | churn | end  | customers start → end (new, react., churned) |
//! | 1     | 1000  | 100 | 0      | 50   | 20     | 30    | 1100 | 10 → 12 (3, 0, 1) |
//! | 2     | 1100  | 110 | 0      | 55   | 11     | 44    | 1210 | 12 → 12 (3, 0, 3) |
//! | 3     | 1210  | 90  | 30     | 0    | 0      | 121   | 1209 | 12 → 14 (1, 1, 0) |
//!
//! Rates: new 100 and reactivation 10 per month; expansion (5 % + 5 % + 0) / 3,
//! contraction (2 % + 1 % + 0) / 3, churn (3 % + 4 % + 10 %) / 3; customers: 7/3 new,
//! 1/3 reactivated, churn (10 % + 25 % + 0) / 3. Month 1: 1209 × (1 + 1/30 − 1/100 −
//! 17/300) + 110 = 1278.7; customers 14 × (1 − 7/60) + 8/3 = 15.03.
//! The model's one-month errors on the three months, relative to each start: month 1
//! predicted 1000 × 29/30 + 110 = 1076.67 for 1100 (+2.333 %), month 2 1173.33 for 1210
//! (+3.333 %), month 3 1279.67 for 1209 (−5.840 %): σ = √(Σ e² / 2) = 0.0503308; at
//! h = 1 the band is ±1.645 × σ × √(1 × (1 + 1/3)): 1156.45 .. 1400.95. Customers:
//! errors +5 %, −10.556 %, +6.111 %, σ = 0.0932109; 15.03 within 12.37 .. 17.70.

use chrono::NaiveDate;

use crate::domain::metrics::{BAND_Z, TrailingMonth, project};

fn month(
    (start_mrr, new, reactivation, expansion, contraction, churn): (f64, f64, f64, f64, f64, f64),
    (start_customers, new_customers, reactivated_customers, churned_customers, customers): (
        f64,
        f64,
        f64,
        f64,
        f64,
    ),
) -> TrailingMonth {
    TrailingMonth {
        start_mrr,
        mrr: start_mrr + new + reactivation + expansion - contraction - churn,
        new,
        reactivation,
        expansion,
        contraction,
        churn,
        plan_switch: 0.0,
        start_customers,
        customers,
        new_customers,
        reactivated_customers,
        churned_customers,
    }
}

fn history() -> Vec<TrailingMonth> {
    vec![
        month(
            (1000.0, 100.0, 0.0, 50.0, 20.0, 30.0),
            (10.0, 3.0, 0.0, 1.0, 12.0),
        ),
        month(
            (1100.0, 110.0, 0.0, 55.0, 11.0, 44.0),
            (12.0, 3.0, 0.0, 3.0, 12.0),
        ),
        month(
            (1210.0, 90.0, 30.0, 0.0, 0.0, 121.0),
            (12.0, 1.0, 1.0, 0.0, 14.0),
        ),
    ]
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() < 1e-6
}

#[test]
fn the_rates_are_the_trailing_months_means() {
    let (rates, _) = project(&history(), NaiveDate::from_ymd_opt(2025, 4, 1).unwrap(), 1);
    assert!(close(rates.new_mrr, 100.0));
    assert!(close(rates.reactivation_mrr, 10.0));
    assert!(close(rates.expansion_rate, 0.1 / 3.0));
    assert!(close(rates.contraction_rate, 0.01));
    assert!(close(rates.churn_rate, 0.17 / 3.0));
    assert!(close(rates.new_customers, 7.0 / 3.0));
    assert!(close(rates.reactivated_customers, 1.0 / 3.0));
    assert!(close(rates.customer_churn_rate, 0.35 / 3.0));
    assert!((rates.mrr_growth_sigma - 0.050_330_77).abs() < 1e-7);
    assert!((rates.customer_growth_sigma - 0.093_210_90).abs() < 1e-7);
    assert!(close(BAND_Z, 1.645));
}

#[test]
fn each_month_follows_from_the_last_with_a_band_widening_with_the_horizon() {
    let start = NaiveDate::from_ymd_opt(2025, 4, 1).unwrap();
    let (_, months) = project(&history(), start, 2);
    let first = months[0];
    assert_eq!(first.period_start, start);
    assert_eq!(
        first.period_end,
        NaiveDate::from_ymd_opt(2025, 4, 30).unwrap()
    );
    // 1278.7, band 1156.45 .. 1400.95 (see the module's doc).
    assert_eq!(
        (first.mrr_low, first.mrr, first.mrr_high),
        (1156, 1279, 1401)
    );
    // 15.03, band 12.37 .. 17.70.
    assert_eq!(
        (first.customers_low, first.customers, first.customers_high),
        (12, 15, 18)
    );
    // Month 2: 1278.7 × (1 + 1/30 − 1/100 − 17/300) + 110 = 1346.08; the band at h = 2
    // is ±1.645 σ √(2 × (1 + 2/3)): 1142.60 .. 1549.55.
    let second = months[1];
    assert_eq!(
        second.period_start,
        NaiveDate::from_ymd_opt(2025, 5, 1).unwrap()
    );
    assert_eq!(
        (second.mrr_low, second.mrr, second.mrr_high),
        (1143, 1346, 1550)
    );
}

#[test]
fn a_history_without_revenue_forecasts_nothing_and_never_panics() {
    let start = NaiveDate::from_ymd_opt(2025, 4, 1).unwrap();
    let (rates, months) = project(&[TrailingMonth::default(); 3], start, 12);
    assert_eq!(rates.mrr_growth_sigma, 0.0);
    assert_eq!(months.len(), 12);
    assert!(
        months
            .iter()
            .all(|m| m.mrr == 0 && m.mrr_high == 0 && m.customers == 0)
    );
    let (_, none) = project(&[], start, 2);
    assert_eq!(none[0].mrr, 0);
}
