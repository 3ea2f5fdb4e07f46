//! The ECB's reference-rates XML (`eurofxref-daily.xml`, and the 90-day and full
//! history files of the same shape):
//!
//! ```text
//! <gesmes:Envelope ...>
//!   <Cube>
//!     <Cube time='2026-12-01'>
//!       <Cube currency='USD' rate='1.0834'/>
//!       ...
//! ```
//!
//! Only `Cube` elements matter, and only their `time`, `currency` and `rate` attributes;
//! a hand-written reader of those is smaller than an XML dependency and reads exactly
//! this format, refusing anything else.

use std::collections::{BTreeMap, BTreeSet};

use super::text::{currency_code, ecb_date, scaled_rate};
use super::{DayRates as Day, FxHistoryError};

/// The attributes of one start tag (the text between `<Cube` and `>`), each value
/// quoted with ' or ".
fn attributes(mut tag: &str) -> Result<Vec<(&str, &str)>, FxHistoryError> {
    let bad = FxHistoryError::BadXml("a Cube element's attributes are malformed");
    let mut out = Vec::new();
    loop {
        tag = tag.trim_start();
        if tag.is_empty() || tag == "/" {
            return Ok(out);
        }
        let (name, rest) = tag.split_once('=').ok_or(bad.clone())?;
        let rest = rest.trim_start();
        let quote = rest.chars().next().filter(|q| *q == '\'' || *q == '"');
        let quote = quote.ok_or(bad.clone())?;
        let (value, rest) = rest[1..].split_once(quote).ok_or(bad.clone())?;
        out.push((name.trim(), value));
        tag = rest;
    }
}

pub(super) fn parse(xml: &str) -> Result<Vec<Day>, FxHistoryError> {
    if !xml.contains("Envelope") {
        return Err(FxHistoryError::BadXml("no gesmes Envelope"));
    }
    let mut days: Vec<Day> = Vec::new();
    let mut seen_days = BTreeSet::new();
    let mut rest = xml;
    while let Some(at) = rest.find("<Cube") {
        rest = &rest[at + "<Cube".len()..];
        // `<Cube` must be the whole element name, not the start of a longer one.
        if !rest.starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/') {
            continue;
        }
        let end = rest
            .find('>')
            .ok_or(FxHistoryError::BadXml("a Cube element is not closed"))?;
        let attrs = attributes(&rest[..end])?;
        rest = &rest[end + 1..];
        let get = |name: &str| attrs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        match (get("time"), get("currency"), get("rate")) {
            (None, None, None) => {}
            (Some(time), None, None) => {
                let (date, day) = ecb_date(time)?;
                if !seen_days.insert(day) {
                    return Err(FxHistoryError::Duplicate);
                }
                days.push((date, BTreeMap::new()));
            }
            (None, Some(currency), Some(rate)) => {
                let code = currency_code(currency).ok_or(FxHistoryError::BadCurrency)?;
                let rate = scaled_rate(rate)?;
                let (_, rates) = days
                    .last_mut()
                    .ok_or(FxHistoryError::BadXml("a rate comes before any day"))?;
                // Three ASCII letters: always valid UTF-8.
                let code = String::from_utf8_lossy(&code).into_owned();
                if rates.insert(code, i128::from(rate)).is_some() {
                    return Err(FxHistoryError::Duplicate);
                }
            }
            _ => {
                return Err(FxHistoryError::BadXml(
                    "a Cube element mixes a day and a rate",
                ));
            }
        }
    }
    if days.is_empty() || days.iter().any(|(_, rates)| rates.is_empty()) {
        return Err(FxHistoryError::Empty);
    }
    days.sort_by_key(|(date, _)| *date);
    Ok(days)
}
