//! The rates, to the last published digit, against the ECB's own files: the shipped
//! `eurofxref-hist.csv` (Statistical Data Warehouse, "Euro foreign exchange reference
//! rates") and the daily XML in the shape the ECB documents at
//! https://www.ecb.europa.eu/stats/policy_and_exchange_rates/euro_reference_exchange_rates/html/index.en.html

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::*;

fn day(text: &str) -> u32 {
    day_number(NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()).unwrap()
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// Three rows in the ECB's layout: newest first, a Good Friday missing, N/A, trailing comma.
const SMALL_CSV: &str = "Date,USD,JPY,ISK,\n\
2024-04-02,1.0749,163.01,N/A,\n\
2024-03-28,1.0811,163.45,150.1,\n\
2024-03-27,1.0816,163.52,149.9,\n";

const DAILY_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
	<gesmes:subject>Reference rates</gesmes:subject>
	<gesmes:Sender>
		<gesmes:name>European Central Bank</gesmes:name>
	</gesmes:Sender>
	<Cube>
		<Cube time='2026-12-01'>
			<Cube currency='USD' rate='1.0834'/>
			<Cube currency='JPY' rate='157.45'/>
			<Cube currency='CZK' rate='24.875'/>
			<Cube currency='IDR' rate='17123.45'/>
		</Cube>
	</Cube>
</gesmes:Envelope>
"#;

#[test]
fn a_decimal_rate_becomes_an_exact_scaled_integer() {
    assert_eq!(text::scaled_rate("1.0834"), Ok(1_083_400_000));
    assert_eq!(text::scaled_rate("157.45"), Ok(157_450_000_000));
    assert_eq!(text::scaled_rate("136"), Ok(136_000_000_000));
    assert_eq!(text::scaled_rate("0.000000001"), Ok(1));
    // A value binary floating point cannot hold exactly stays exact.
    assert_eq!(text::scaled_rate("0.83578"), Ok(835_780_000));
}

#[test]
fn a_rate_that_is_not_a_plain_positive_decimal_is_refused() {
    for bad in [
        "",
        "N/A",
        "-1.2",
        "+1.2",
        "1e3",
        "1.",
        ".5",
        "1.2.3",
        " 1.2",
        "0",
        "0.000",
        "1.0000000001",
        "1234567890123",
    ] {
        assert_eq!(
            text::scaled_rate(bad),
            Err(FxHistoryError::BadRate),
            "{bad:?}"
        );
    }
}

/// ECB reference rate of 2024-03-28 (Maundy Thursday): USD 1.0811. TARGET was closed
/// on Good Friday and Easter Monday, and no rate is published on weekends.
#[test]
fn weekends_and_holidays_use_the_last_business_day_before_them() {
    let history = RateHistory::parse_ecb_csv(SMALL_CSV).unwrap();
    for d in [
        "2024-03-28",
        "2024-03-29",
        "2024-03-30",
        "2024-03-31",
        "2024-04-01",
    ] {
        assert_eq!(history.per_eur("usd", day(d)), Some(1_081_100_000), "{d}");
    }
    assert_eq!(
        history.per_eur("usd", day("2024-04-02")),
        Some(1_074_900_000)
    );
    assert_eq!(
        history.per_eur("jpy", day("2024-03-27")),
        Some(163_520_000_000)
    );
    assert_eq!(history.last_date(), Some(date("2024-04-02")));
}

#[test]
fn a_gap_uses_the_last_published_rate_and_says_which_day_that_was() {
    let history = RateHistory::parse_ecb_csv(SMALL_CSV).unwrap();
    assert_eq!(
        history.per_eur("isk", day("2024-04-02")),
        Some(150_100_000_000)
    );
    let isk = history.rates_of("isk").unwrap();
    assert_eq!(isk.published_day(day("2024-04-02")), day("2024-03-28"));
    assert_eq!(history.published_until("isk"), Some(date("2024-03-28")));
}

#[test]
fn days_outside_the_history_use_its_nearest_end() {
    let history = RateHistory::parse_ecb_csv(SMALL_CSV).unwrap();
    assert_eq!(history.per_eur("usd", 0), Some(1_081_600_000));
    assert_eq!(
        history.per_eur("usd", day("2030-01-01")),
        Some(1_074_900_000)
    );
}

#[test]
fn the_euro_is_always_one_and_unknown_currencies_have_no_rate() {
    let history = RateHistory::parse_ecb_csv(SMALL_CSV).unwrap();
    assert_eq!(history.per_eur("eur", day("2024-03-28")), Some(RATE_SCALE));
    assert_eq!(RateHistory::default().per_eur("eur", 0), Some(RATE_SCALE));
    assert_eq!(history.per_eur("xyz", day("2024-03-28")), None);
    assert_eq!(history.per_eur("", day("2024-03-28")), None);
    assert!(history.publishes("eur") && history.publishes("usd") && history.publishes("USD"));
    assert!(!history.publishes("gbp"));
}

#[test]
fn a_malformed_csv_is_an_error_that_does_not_echo_the_file() {
    let cases = [
        ("", FxHistoryError::Empty),
        ("Day,USD,\n2024-01-02,1.1,\n", FxHistoryError::BadHeader),
        ("Date,USD,USD,\n", FxHistoryError::BadHeader),
        ("Date,US$,\n", FxHistoryError::BadHeader),
        ("Date,USD,\n", FxHistoryError::Empty),
    ];
    for (csv, expected) in cases {
        assert_eq!(RateHistory::parse_ecb_csv(csv), Err(expected), "{csv:?}");
    }
    let secret = "Date,USD,\n2024-01-02,SECRET42,\n";
    let err = RateHistory::parse_ecb_csv(secret).unwrap_err();
    assert!(matches!(err, FxHistoryError::BadRow { line: 2, .. }));
    assert!(!err.to_string().contains("SECRET42"));
    for bad in [
        "Date,USD,\n2024-13-02,1.1,\n",
        "Date,USD,\n2024-01-02,1.1,2.2,\n",
        "Date,USD,\n2024-01-02,1.1,\n2024-01-02,1.2,\n",
    ] {
        assert!(matches!(
            RateHistory::parse_ecb_csv(bad),
            Err(FxHistoryError::BadRow { .. })
        ));
    }
}

#[test]
fn the_daily_xml_gives_its_date_and_exact_lower_case_rates() {
    let (date_, rates) = RateHistory::parse_ecb_daily_xml(DAILY_XML).unwrap();
    assert_eq!(date_, date("2026-12-01"));
    let expected: BTreeMap<String, i128> = [
        ("czk", 24_875_000_000),
        ("idr", 17_123_450_000_000),
        ("jpy", 157_450_000_000),
        ("usd", 1_083_400_000),
    ]
    .into_iter()
    .map(|(c, r)| (c.to_owned(), r))
    .collect();
    assert_eq!(rates, expected);
}

#[test]
fn the_ninety_day_file_gives_every_day_oldest_first() {
    let xml = "<gesmes:Envelope><Cube>\
        <Cube time=\"2026-12-01\"><Cube currency=\"USD\" rate=\"1.0834\"/></Cube>\
        <Cube time=\"2026-11-30\"><Cube currency=\"USD\" rate=\"1.08\"/></Cube>\
        </Cube></gesmes:Envelope>";
    let days = RateHistory::parse_ecb_xml_days(xml).unwrap();
    assert_eq!(days.len(), 2);
    assert_eq!(days[0].0, date("2026-11-30"));
    assert_eq!(days[1].1["usd"], 1_083_400_000);
    assert!(RateHistory::parse_ecb_daily_xml(xml).is_err());
}

#[test]
fn malformed_xml_is_an_error_that_does_not_echo_it() {
    let with = |inner: &str| format!("<gesmes:Envelope><Cube>{inner}</Cube></gesmes:Envelope>");
    let cases = [
        String::new(),
        "<html>SECRET42</html>".to_owned(),
        with(""),
        with("<Cube time='2026-12-01'></Cube>"),
        with("<Cube currency='USD' rate='1.1'/>"),
        with("<Cube time='2026-12-01'><Cube currency='USD' rate='SECRET42'/></Cube>"),
        with("<Cube time='2026-12-01'><Cube currency='SECRET42' rate='1.1'/></Cube>"),
        with("<Cube time='SECRET42'><Cube currency='USD' rate='1.1'/></Cube>"),
        with("<Cube time='2026-12-01'><Cube currency=USD rate='1.1'/></Cube>"),
        with("<Cube time='2026-12-01'><Cube currency='USD' rate='1.1"),
        with(
            "<Cube time='2026-12-01'><Cube currency='USD' rate='1.1'/><Cube currency='USD' rate='1.2'/></Cube>",
        ),
        with("<Cube time='2026-12-01' currency='USD' rate='1.1'/>"),
    ];
    for xml in cases {
        let err = RateHistory::parse_ecb_daily_xml(&xml).unwrap_err();
        assert!(!err.to_string().contains("SECRET42"), "{xml}");
    }
}

#[test]
fn an_inserted_day_extends_the_history_and_a_second_insert_replaces_it() {
    let mut history = RateHistory::parse_ecb_csv(SMALL_CSV).unwrap();
    let (d, rates) = RateHistory::parse_ecb_daily_xml(DAILY_XML).unwrap();
    history.insert_day(d, rates);
    assert_eq!(history.last_date(), Some(d));
    assert_eq!(
        history.per_eur("usd", day("2026-12-01")),
        Some(1_083_400_000)
    );
    // Between the two: the last rate before, 2024-04-02's.
    assert_eq!(
        history.per_eur("usd", day("2025-06-01")),
        Some(1_074_900_000)
    );
    // A currency first seen that day: its only rate, before it too.
    assert_eq!(
        history.per_eur("czk", day("2024-03-27")),
        Some(24_875_000_000)
    );
    history.insert_day(d, BTreeMap::from([("usd".to_owned(), 1_100_000_000)]));
    assert_eq!(
        history.per_eur("usd", day("2026-12-02")),
        Some(1_100_000_000)
    );
    assert!(!history.publishes("czk"));
}

/// The shipped file: the ECB's history from its first day, 1999-01-04 (USD 1.1789,
/// JPY 133.73, GBP 0.7111, CHF 1.6168), to 2026-10-30 (USD 1.1172, JPY 175.68,
/// GBP 0.8338, CHF 0.9194), read off the file itself.
#[test]
fn the_shipped_history_parses_and_covers_1999_to_its_last_date() {
    let history =
        RateHistory::parse_ecb_csv(&crate::domain::embedded::inflate(BUNDLED_CSV).unwrap())
            .unwrap();
    assert_eq!(&history, bundled());
    assert_eq!(history.first_date(), Some(date("1999-01-04")));
    assert!(history.last_date() >= Some(date("2026-10-30")));
    let first = day("1999-01-04");
    assert_eq!(history.per_eur("usd", first), Some(1_178_900_000));
    assert_eq!(history.per_eur("jpy", first), Some(133_730_000_000));
    assert_eq!(history.per_eur("gbp", first), Some(711_100_000));
    assert_eq!(history.per_eur("chf", first), Some(1_616_800_000));
    let last = day("2026-10-30");
    assert_eq!(history.per_eur("usd", last), Some(1_117_200_000));
    assert_eq!(history.per_eur("jpy", last), Some(175_680_000_000));
    assert_eq!(history.per_eur("gbp", last), Some(833_800_000));
    assert_eq!(history.per_eur("chf", last), Some(919_400_000));
    // Saturday 2026-10-31 uses Friday's rate.
    assert_eq!(history.per_eur("usd", last + 1), Some(1_117_200_000));
    // The ECB suspended the rouble after 2022-03-01 (117.201).
    assert_eq!(history.published_until("rub"), Some(date("2022-03-01")));
    assert_eq!(
        history.per_eur("rub", day("2024-01-02")),
        Some(117_201_000_000)
    );
    assert!(history.currencies().count() >= 30);
}

/// The dense O(1) columns agree, for every currency and every day of the shipped
/// history (and a few days either side), with a plain search of the published rates.
#[test]
fn every_day_of_the_shipped_history_gets_the_last_rate_published_on_or_before_it() {
    let history = bundled();
    let (first, last) = (history.first_day, history.last_day);
    for code in history.currencies() {
        let rates = history.rates_of(code).unwrap();
        let published = &rates.column.published;
        // Walk the days and the published rates together: the expected rate is the
        // last one published on or before the day, else the first one.
        let mut next = 0;
        for d in first.saturating_sub(3)..=last + 3 {
            while next < published.len() && published[next].0 <= d {
                next += 1;
            }
            let expected = published[next.saturating_sub(1)];
            assert_eq!(
                rates.per_eur(d),
                i128::from(expected.1),
                "{code} on day {d}"
            );
            assert_eq!(rates.published_day(d), expected.0, "{code} on day {d}");
        }
    }
}
