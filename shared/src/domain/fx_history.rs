//! The European Central Bank's euro reference rates, day by day since 1999: what the
//! engine converts each movement with ("one reporting currency").
//!
//! Pure: the files are parsed from text handed in (the history shipped in the crate,
//! the ECB's daily XML fetched by `services::fx_rates`). A rate is held as an exact
//! integer, units of the currency per 1 EUR × [`RATE_SCALE`], read from the decimal
//! text without floating point.
//!
//! Which rate a day gets, and why:
//! * the latest rate published on or before it: the ECB publishes on TARGET business
//!   days only, so a Saturday uses Friday's rate, a holiday the day before's, and a gap
//!   ("N/A") the last rate before it;
//! * before a currency's first publication (a day before 1999, or before the ECB
//!   started publishing that currency), its earliest rate: an old subscription converts
//!   at the nearest rate there is rather than not at all;
//! * after its last publication (the currency was replaced by the euro, or the ECB
//!   suspended it), its last rate, indefinitely. For a euro adopter that is close to the
//!   irrevocable conversion rate; for a suspended currency (RUB since March 2022) it
//!   goes stale, so [`CurrencyRates::published_day`] says which day's rate applied and
//!   [`RateHistory::published_until`] when a currency stopped: the caller may prefer a
//!   tenant's own rate past it.
//!
//! Lookups are O(1) and allocation-free: each currency keeps a dense column with one
//! value per calendar day from the history's first day to its last (about 10,000 days
//! × 41 currencies × 8 bytes ≈ 3.3 MB for the shipped file), derived from the sparse
//! list of published rates whenever days are added.

mod column;
mod ecb_csv;
mod ecb_xml;
#[cfg(test)]
mod tests;
mod text;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use chrono::NaiveDate;

use column::Column;
pub use column::CurrencyRates;
pub use text::{date_of, day_number};

/// Rates are units of a currency per 1 EUR × 10^9, exact integers.
pub const RATE_SCALE: i128 = 1_000_000_000;

/// The ECB's history since 1999-01-04 as shipped (refreshed by scripts/refresh-ecb-history),
/// deflated (`crate::domain::embedded`).
const BUNDLED_CSV: &[u8] = crate::domain::embedded::deflated!("eurofxref-hist.csv");

/// One published day: its date and its rates (lower-case code → scaled rate).
pub type DayRates = (NaiveDate, BTreeMap<String, i128>);

/// Why a rates file was refused. Messages name the problem and where (a line number),
/// never a value from the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FxHistoryError {
    #[error("the rates file holds no rates")]
    Empty,
    #[error("the CSV header must be \"Date\" followed by three-letter currency codes")]
    BadHeader,
    #[error("line {line} of the CSV: {problem}")]
    BadRow { line: usize, problem: &'static str },
    #[error("the XML is not the ECB's reference-rates format: {0}")]
    BadXml(&'static str),
    #[error("a rate is not a positive decimal with at most 9 decimal places")]
    BadRate,
    #[error("a date is not a YYYY-MM-DD date from 1970 on")]
    BadDate,
    #[error("a currency code is not three letters")]
    BadCurrency,
    #[error("a day or a currency appears twice")]
    Duplicate,
}

/// The ECB's reference rates, day by day.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RateHistory {
    /// Columns sorted by code, so a lookup is a binary search over ~40 codes.
    columns: Vec<Column>,
    /// The first and last days any rate was published (dense columns span them).
    first_day: u32,
    last_day: u32,
}

// A summary, not 3 MB of numbers, when a test prints one.
impl std::fmt::Debug for RateHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateHistory")
            .field("first", &self.first_date())
            .field("last", &self.last_date())
            .field("columns", &self.columns)
            .finish()
    }
}

impl RateHistory {
    /// `eurofxref-hist.csv` as the ECB publishes it ("Date,USD,JPY,...," header, newest
    /// row first, "N/A" gaps, trailing comma).
    pub fn parse_ecb_csv(csv: &str) -> Result<RateHistory, FxHistoryError> {
        ecb_csv::parse(csv)
    }

    /// The ECB's daily file `eurofxref-daily.xml`: its date and its rates (lower-case
    /// code → scaled rate). Exactly one day; see [`RateHistory::parse_ecb_xml_days`]
    /// for the 90-day and full-history files of the same format.
    pub fn parse_ecb_daily_xml(
        xml: &str,
    ) -> Result<(NaiveDate, BTreeMap<String, i128>), FxHistoryError> {
        let mut days = ecb_xml::parse(xml)?;
        match (days.pop(), days.is_empty()) {
            (Some(day), true) => Ok(day),
            _ => Err(FxHistoryError::BadXml(
                "the daily file holds more than one day",
            )),
        }
    }

    /// Every day of an ECB reference-rates XML file (daily, 90 days or whole history),
    /// oldest first.
    pub fn parse_ecb_xml_days(xml: &str) -> Result<Vec<DayRates>, FxHistoryError> {
        ecb_xml::parse(xml)
    }

    /// Adds (or replaces) one day's rates. Codes that are not three letters, rates that
    /// are not positive or exceed what a column holds, and days before 1970 are ignored
    /// (the parsers never produce them); "eur" is implicit and ignored too.
    pub fn insert_day(&mut self, date: NaiveDate, rates: BTreeMap<String, i128>) {
        self.insert_days([(date, rates)]);
    }

    /// [`RateHistory::insert_day`] for several days, rebuilding the columns once.
    pub fn insert_days(&mut self, days: impl IntoIterator<Item = DayRates>) {
        for (date, rates) in days {
            let Some(day) = day_number(date) else {
                continue;
            };
            for column in &mut self.columns {
                column.published.retain(|(d, _)| *d != day);
            }
            for (code, rate) in rates {
                let (Some(code), Ok(rate)) = (text::currency_code(&code), i64::try_from(rate))
                else {
                    continue;
                };
                if rate > 0 && code != *b"eur" {
                    self.push_published(code, day, rate);
                }
            }
        }
        for column in &mut self.columns {
            column.published.sort_unstable_by_key(|(d, _)| *d);
        }
        self.rebuild();
    }

    /// Records one published rate (unsorted; [`RateHistory::rebuild`] follows).
    fn push_published(&mut self, code: [u8; 3], day: u32, rate: i64) {
        let index = match self.columns.binary_search_by_key(&code, |c| c.code) {
            Ok(index) => index,
            Err(index) => {
                let column = Column {
                    code,
                    published: Vec::new(),
                    dense: Vec::new(),
                };
                self.columns.insert(index, column);
                index
            }
        };
        self.columns[index].published.push((day, rate));
    }

    /// Derives the dense columns from the published rates (which must be sorted).
    fn rebuild(&mut self) {
        self.columns.retain(|c| !c.published.is_empty());
        let days = self
            .columns
            .iter()
            .flat_map(|c| c.published.iter().map(|p| p.0));
        let (first, last) = days.fold((u32::MAX, 0), |(lo, hi), d| (lo.min(d), hi.max(d)));
        if first > last {
            *self = RateHistory::default();
            return;
        }
        self.first_day = first;
        self.last_day = last;
        for column in &mut self.columns {
            column.dense.clear();
            column.dense.reserve_exact((last - first + 1) as usize);
            let mut next = column.published.iter().peekable();
            let mut current = column.published[0].1;
            for day in first..=last {
                while let Some((_, rate)) = next.next_if(|(d, _)| *d <= day) {
                    current = *rate;
                }
                column.dense.push(current);
            }
        }
    }

    /// One currency's rates ("eur" has no column: it is always [`RATE_SCALE`]).
    pub fn rates_of(&self, currency: &str) -> Option<CurrencyRates<'_>> {
        let code = text::currency_code(currency)?;
        let index = self.columns.binary_search_by_key(&code, |c| c.code).ok()?;
        Some(CurrencyRates {
            column: &self.columns[index],
            first_day: self.first_day,
        })
    }

    /// Units of `currency` (ISO 4217, lower-case; upper-case is accepted too) per 1 EUR
    /// × [`RATE_SCALE`] on UTC day `day` (days since 1970-01-01): the latest rate
    /// published on or before that day, or the earliest one for a day before the
    /// currency's first publication (see the module doc). "eur" is always
    /// [`RATE_SCALE`]. `None` when the ECB never published `currency` in this history.
    #[inline]
    pub fn per_eur(&self, currency: &str, day: u32) -> Option<i128> {
        if currency.eq_ignore_ascii_case("eur") {
            return Some(RATE_SCALE);
        }
        self.rates_of(currency).map(|rates| rates.per_eur(day))
    }

    /// Whether the ECB publishes `currency` at all in this history ("eur" included).
    pub fn publishes(&self, currency: &str) -> bool {
        currency.eq_ignore_ascii_case("eur") || self.rates_of(currency).is_some()
    }

    /// The last day the ECB published `currency` (for "eur": the history's last day).
    pub fn published_until(&self, currency: &str) -> Option<NaiveDate> {
        if currency.eq_ignore_ascii_case("eur") {
            return self.last_date();
        }
        let rates = self.rates_of(currency)?;
        rates.column.published.last().and_then(|(d, _)| date_of(*d))
    }

    /// Every currency with a rate, lower-case ("eur" not listed).
    pub fn currencies(&self) -> impl Iterator<Item = &str> + '_ {
        self.columns
            .iter()
            .filter_map(|c| std::str::from_utf8(&c.code).ok())
    }

    pub fn first_date(&self) -> Option<NaiveDate> {
        (!self.columns.is_empty())
            .then(|| date_of(self.first_day))
            .flatten()
    }

    pub fn last_date(&self) -> Option<NaiveDate> {
        (!self.columns.is_empty())
            .then(|| date_of(self.last_day))
            .flatten()
    }
}

fn bundled_cell() -> &'static Arc<RateHistory> {
    static BUNDLED: OnceLock<Arc<RateHistory>> = OnceLock::new();
    BUNDLED.get_or_init(|| {
        let parsed = crate::domain::embedded::inflate(BUNDLED_CSV)
            .ok()
            .and_then(|csv| RateHistory::parse_ecb_csv(&csv).ok());
        // `None` is unreachable for the file in this crate (unit tests inflate and parse
        // it); an empty history leaves every foreign currency unconverted rather than
        // crashing.
        Arc::new(parsed.unwrap_or_default())
    })
}

/// The history shipped in the crate, parsed once per process; an empty history if the
/// shipped file fails to parse (a unit test proves it parses).
pub fn bundled() -> &'static RateHistory {
    bundled_cell()
}

/// [`bundled`], shared: for callers that hold histories as `Arc`s.
pub fn bundled_shared() -> Arc<RateHistory> {
    bundled_cell().clone()
}
