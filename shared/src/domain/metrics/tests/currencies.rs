//! Two currencies: separate native series, one converted series at stored rates, and
//! exchange rates never showing up as movements.

use std::collections::BTreeMap;

use crate::domain::billing::{Interval, SubscriptionStatus};
use crate::domain::metrics::{
    CurrencyMode, Dimension, FxRates, MetricsError, SeriesInterval, mrr_series,
};

use super::fixtures::*;

/// cus_us pays $100.00 a month from January; cus_eu pays €90.00 a month from February.
fn two_currencies() -> Dataset {
    let mut data = Dataset::default();
    data.customers.push(customer("cus_us", Some("US")));
    data.customers.push(customer("cus_eu", Some("DE")));
    let dollars = price_in("usd_plan", "usd", usd(100), Interval::Month, 1);
    let euros = price_in("eur_plan", "eur", 9_000, Interval::Month, 1);
    data.subscriptions.push(subscription(
        "sub_us",
        "cus_us",
        SubscriptionStatus::Active,
        ts(2024, 1, 1),
        vec![item("si_us", dollars, 1)],
    ));
    data.subscriptions.push(subscription(
        "sub_eu",
        "cus_eu",
        SubscriptionStatus::Active,
        ts(2024, 2, 1),
        vec![item("si_eu", euros, 1)],
    ));
    data
}

fn rates(usd_per_eur: f64) -> FxRates {
    FxRates {
        base: "eur".to_owned(),
        rates: BTreeMap::from([("usd".to_owned(), usd_per_eur)]),
    }
}

#[test]
fn each_currency_has_its_own_series() {
    let facts = two_currencies().facts();
    let dollars = mrr_series(&facts, &monthly_usd(date(2024, 1, 1), date(2024, 3, 31))).unwrap();
    assert_eq!(
        minors(&dollars),
        vec![
            [0, usd(100), 0, 0, 0, 0, usd(100)],
            [usd(100), 0, 0, 0, 0, 0, usd(100)],
            [usd(100), 0, 0, 0, 0, 0, usd(100)],
        ]
    );
    let euros = mrr_series(
        &facts,
        &query(
            date(2024, 1, 1),
            date(2024, 3, 31),
            SeriesInterval::Month,
            "eur",
        ),
    )
    .unwrap();
    assert_eq!(euros.currency, "eur");
    assert_eq!(
        minors(&euros),
        vec![
            [0, 0, 0, 0, 0, 0, 0],
            [0, 9_000, 0, 0, 0, 0, 9_000],
            [9_000, 0, 0, 0, 0, 0, 9_000],
        ]
    );
}

#[test]
fn a_reporting_currency_converts_at_one_set_of_rates() {
    let facts = two_currencies().facts();
    let mut converted = monthly_usd(date(2024, 1, 1), date(2024, 3, 31));
    converted.currency = CurrencyMode::Converted {
        to: "usd".to_owned(),
        rates: rates(1.1).into(),
    };
    let series = mrr_series(&facts, &converted).unwrap();
    // €90.00 × 1.1 = $99.00, new in February; nothing moves in March.
    assert_eq!(
        minors(&series),
        vec![
            [0, usd(100), 0, 0, 0, 0, usd(100)],
            [usd(100), usd(99), 0, 0, 0, 0, usd(199)],
            [usd(199), 0, 0, 0, 0, 0, usd(199)],
        ]
    );
    // Other rates change the values, never the movements: still nothing in March.
    converted.currency = CurrencyMode::Converted {
        to: "usd".to_owned(),
        rates: rates(1.25).into(),
    };
    let other = mrr_series(&facts, &converted).unwrap();
    assert_eq!(other.points[1].new.to_minor(), 11_250);
    assert_eq!(other.points[2].net.0, 0);
    // Grouped by currency, the converted groups sum to the total, exactly.
    converted.group_by = Some(Dimension::Currency);
    let grouped = mrr_series(&facts, &converted).unwrap();
    let groups = grouped.groups.unwrap();
    assert_eq!(
        groups.iter().map(|g| g.key.as_str()).collect::<Vec<_>>(),
        vec!["eur", "usd"]
    );
    for (k, total) in grouped.points.iter().enumerate() {
        assert_eq!(groups[0].points[k].mrr + groups[1].points[k].mrr, total.mrr);
        assert_eq!(groups[0].points[k].new + groups[1].points[k].new, total.new);
    }
    // A currency filter keeps only that currency's customers, converted.
    converted.group_by = None;
    converted.filters = vec![crate::domain::metrics::Filter::parse("currency", "eur").unwrap()];
    let eur_only = mrr_series(&facts, &converted).unwrap();
    assert_eq!(eur_only.points[2].mrr.to_minor(), 11_250);
}

#[test]
fn a_missing_rate_is_an_error_not_a_guess() {
    let facts = two_currencies().facts();
    let mut converted = monthly_usd(date(2024, 1, 1), date(2024, 3, 31));
    converted.currency = CurrencyMode::Converted {
        to: "gbp".to_owned(),
        rates: rates(1.1).into(),
    };
    assert_eq!(
        mrr_series(&facts, &converted),
        Err(MetricsError::MissingFxRate("gbp".to_owned()))
    );
}
