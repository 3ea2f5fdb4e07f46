//! `eurofxref-hist.csv`, as the ECB writes it:
//!
//! ```text
//! Date,USD,JPY,BGN,...,ZAR,
//! 2026-10-30,1.1172,175.68,N/A,...,18.6455,
//! ```
//!
//! Newest row first, one column per currency the ECB has ever published, "N/A" where it
//! did not publish that currency that day, and a trailing comma on every line.

use std::collections::BTreeSet;

use super::text::{currency_code, ecb_date, scaled_rate};
use super::{FxHistoryError, RateHistory};

/// Splits a line into fields, dropping the one empty field the trailing comma leaves.
fn fields(line: &str) -> Vec<&str> {
    let line = line.strip_suffix(',').unwrap_or(line);
    line.split(',').map(str::trim).collect()
}

pub(super) fn parse(csv: &str) -> Result<RateHistory, FxHistoryError> {
    let csv = csv.strip_prefix('\u{feff}').unwrap_or(csv);
    let mut lines = csv
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim_end_matches('\r')))
        .filter(|(_, line)| !line.trim().is_empty());
    let (_, header) = lines.next().ok_or(FxHistoryError::Empty)?;
    let header = fields(header);
    if header.first().map(|f| f.trim_start_matches('\u{feff}')) != Some("Date") {
        return Err(FxHistoryError::BadHeader);
    }
    let codes = header[1..]
        .iter()
        .map(|code| currency_code(code).ok_or(FxHistoryError::BadHeader))
        .collect::<Result<Vec<_>, _>>()?;
    if codes.is_empty() || codes.iter().collect::<BTreeSet<_>>().len() != codes.len() {
        return Err(FxHistoryError::BadHeader);
    }

    let mut history = RateHistory::default();
    let mut days = BTreeSet::new();
    for (line, row) in lines {
        let bad = |problem| FxHistoryError::BadRow { line, problem };
        let row = fields(row);
        if row.len() != codes.len() + 1 {
            return Err(bad("its number of fields differs from the header's"));
        }
        let (_, day) = ecb_date(row[0]).map_err(|_| bad("the date is not YYYY-MM-DD"))?;
        if !days.insert(day) {
            return Err(bad("the date appears twice"));
        }
        for (code, value) in codes.iter().zip(&row[1..]) {
            // The euro is implicit (always RATE_SCALE); a column for it is ignored.
            if value.is_empty() || *value == "N/A" || code == b"eur" {
                continue;
            }
            let rate = scaled_rate(value).map_err(|_| bad("a rate is not a positive decimal"))?;
            history.push_published(*code, day, rate);
        }
    }
    for column in &mut history.columns {
        column.published.sort_unstable_by_key(|(d, _)| *d);
    }
    history.rebuild();
    if history.columns.is_empty() {
        return Err(FxHistoryError::Empty);
    }
    Ok(history)
}
