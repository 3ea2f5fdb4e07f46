//! The forecast's backtest: on the demo tenant, the last six known months forecast from
//! the six before them each lie within the stated band (`trailing_movement_rates_v1`).

use chrono::NaiveDate;

use crate::domain::metrics::{
    CurrencyMode, Forecast, ForecastQuery, FxRates, MrrPolicy, SeriesInterval, SeriesQuery,
    facts_from_records, forecast, mrr_series,
};

use super::default_dataset;

#[test]
fn the_last_six_known_months_lie_within_the_band_forecast_from_the_six_before() {
    let data = default_dataset();
    let mut facts = facts_from_records(&[data.for_integration("int_demo")], &MrrPolicy::default());
    facts.sort();
    let rates = FxRates {
        base: "eur".to_owned(),
        rates: [("usd".to_owned(), 1.08), ("gbp".to_owned(), 0.86)]
            .into_iter()
            .collect(),
    };
    let currency = CurrencyMode::Converted {
        to: "eur".to_owned(),
        rates: rates.into(),
    };
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    // The dataset ends 2026-01-15: December 2025 is the last complete month.
    let Forecast { series, .. } = forecast(
        &facts,
        &ForecastQuery {
            as_of: date(2025, 6, 30),
            months: 6,
            trailing: 6,
            currency: currency.clone(),
            filters: Vec::new(),
            customers: None,
        },
    )
    .unwrap();
    let actual = mrr_series(
        &facts,
        &SeriesQuery {
            from: date(2025, 7, 1),
            to: date(2025, 12, 31),
            interval: SeriesInterval::Month,
            currency,
            filters: Vec::new(),
            customers: None,
            group_by: None,
        },
    )
    .unwrap();
    assert_eq!(series.len(), 6);
    for (forecast, actual) in series.iter().zip(&actual.points) {
        assert_eq!(forecast.period_start, actual.period_start);
        let (mrr, customers) = (actual.mrr.to_minor(), actual.customers);
        assert!(
            (forecast.mrr_low..=forecast.mrr_high).contains(&mrr),
            "{}: MRR {mrr} outside {forecast:?}",
            actual.period_start
        );
        assert!(
            (forecast.customers_low..=forecast.customers_high).contains(&customers),
            "{}: customers {customers} outside {forecast:?}",
            actual.period_start
        );
    }
}
