//! Properties of daily conversion over many generated datasets, with rates that move
//! every day: the identity holds in the reporting currency, groups sum to the total,
//! and each currency's series converted on its own sums to the reporting series.

use std::sync::Arc;

use crate::domain::metrics::{
    CurrencyMode, DailyRates, Dimension, Filter, FxSource, RATE_SCALE, SeriesInterval, SeriesQuery,
    mrr_series,
};

use super::fixtures::{DatasetExt, date};
use super::generator::generate;
use super::properties::{assert_groups_sum, assert_identity};

/// Dollars and pounds per euro that change every single day (and never repeat within
/// a quarter), so any re-conversion of old MRR would show.
struct Wobbly;

impl DailyRates for Wobbly {
    fn per_eur(&self, currency: &str, day: u32) -> Option<i128> {
        let wobble = |period: u32, step: i128| i128::from(day % period) * step;
        match currency {
            "usd" => Some(RATE_SCALE + wobble(97, 3_000_000)),
            "gbp" => Some(850_000_000 + wobble(53, 1_000_000)),
            _ => None,
        }
    }
}

fn reporting(to: &str) -> CurrencyMode {
    CurrencyMode::Converted {
        to: to.to_owned(),
        rates: FxSource::daily(Arc::new(Wobbly), None),
    }
}

fn query(currency: CurrencyMode, interval: SeriesInterval) -> SeriesQuery {
    SeriesQuery {
        from: date(2023, 3, 15),
        to: date(2025, 6, 30),
        interval,
        currency,
        filters: Vec::new(),
        customers: None,
        group_by: None,
    }
}

#[test]
fn daily_rates_keep_the_identity_and_the_group_sums() {
    for seed in 0..20 {
        let facts = generate(seed).facts();
        for to in ["eur", "usd", "gbp"] {
            for group_by in [
                None,
                Some(Dimension::Currency),
                Some(Dimension::Plan),
                Some(Dimension::Country),
            ] {
                let mut q = query(reporting(to), SeriesInterval::Month);
                q.group_by = group_by;
                let series = mrr_series(&facts, &q).unwrap();
                let context = format!("seed {seed}, into {to}, {group_by:?}");
                assert_identity(&series.points, &context);
                if let Some(groups) = &series.groups {
                    for group in groups {
                        assert_identity(&group.points, &format!("{context}, {}", group.key));
                    }
                    let slices: Vec<_> = groups.iter().map(|g| g.points.as_slice()).collect();
                    let counts_sum = group_by == Some(Dimension::Country);
                    assert_groups_sum(&series.points, &slices, counts_sum, &context);
                }
            }
        }
    }
}

/// Each currency's series (a currency filter), converted, sums to the reporting series:
/// MRR at every period's end and the net movement of every period, to the unit.
#[test]
fn per_currency_series_converted_then_summed_equal_the_reporting_series() {
    for seed in 0..20 {
        let facts = generate(seed).facts();
        for interval in [SeriesInterval::Month, SeriesInterval::Week] {
            let total = mrr_series(&facts, &query(reporting("eur"), interval)).unwrap();
            let mut mrr = vec![0i128; total.points.len()];
            let mut net = vec![0i128; total.points.len()];
            for currency in &facts.currencies {
                let mut q = query(reporting("eur"), interval);
                q.filters = vec![Filter::parse("currency", currency).unwrap()];
                let part = mrr_series(&facts, &q).unwrap();
                for (k, point) in part.points.iter().enumerate() {
                    mrr[k] += point.mrr.0;
                    net[k] += point.net.0;
                }
            }
            for (k, point) in total.points.iter().enumerate() {
                assert_eq!(mrr[k], point.mrr.0, "seed {seed}, {interval:?}, mrr {k}");
                assert_eq!(net[k], point.net.0, "seed {seed}, {interval:?}, net {k}");
            }
            assert!(
                total.points.last().is_some_and(|p| p.mrr.0 > 0),
                "seed {seed}"
            );
        }
    }
}

/// Without any rate movement (one currency), daily conversion is the native series.
#[test]
fn into_its_own_currency_a_series_is_the_native_one() {
    for seed in 0..10 {
        let facts = generate(seed).facts();
        let mut converted = query(reporting("usd"), SeriesInterval::Month);
        converted.filters = vec![Filter::parse("currency", "usd").unwrap()];
        let native = query(
            CurrencyMode::Native("usd".to_owned()),
            SeriesInterval::Month,
        );
        assert_eq!(
            mrr_series(&facts, &converted).unwrap().points,
            mrr_series(&facts, &native).unwrap().points,
            "seed {seed}"
        );
    }
}
