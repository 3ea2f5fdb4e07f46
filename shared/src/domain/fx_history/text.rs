//! The small pieces of text both ECB formats share: a decimal rate, a currency code and
//! a date. Rates are read from their decimal TEXT into scaled integers, digit by digit,
//! so "1.0834" is exactly 1_083_400_000 and no binary floating point ever rounds one.

use chrono::NaiveDate;

use super::FxHistoryError;

/// Digits after the point that `super::RATE_SCALE` (10^9) holds exactly.
const SCALE_DIGITS: usize = 9;
/// Digits before the point: the largest ECB rate ever (Turkish lira before 2005,
/// ~1.9 million per euro) has 7; 12 keeps every product with `RATE_SCALE` in an i64.
const MAX_WHOLE_DIGITS: usize = 12;

/// "1.0834" → 1_083_400_000 (units per EUR × 10^9). A rate must be a plain positive
/// decimal: no sign, exponent, spaces or more than nine decimals (which would need
/// rounding, and the ECB never publishes more than six significant digits).
pub(super) fn scaled_rate(text: &str) -> Result<i64, FxHistoryError> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let well_formed = !whole.is_empty()
        && whole.len() <= MAX_WHOLE_DIGITS
        && digits(whole)
        && digits(fraction)
        && fraction.len() <= SCALE_DIGITS
        && !(text.contains('.') && fraction.is_empty());
    if !well_formed {
        return Err(FxHistoryError::BadRate);
    }
    let mut value: i64 = 0;
    for b in whole.bytes().chain(fraction.bytes()) {
        value = value * 10 + i64::from(b - b'0');
    }
    // At most 12 + 9 digits: below i64::MAX (9.2 × 10^18) without a check.
    for _ in fraction.len()..SCALE_DIGITS {
        value *= 10;
    }
    if value == 0 {
        return Err(FxHistoryError::BadRate);
    }
    Ok(value)
}

/// A three-letter ISO 4217 code, lower-cased; `None` for anything else.
pub(super) fn currency_code(text: &str) -> Option<[u8; 3]> {
    match text.as_bytes() {
        [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_alphabetic()) => Some([
            a.to_ascii_lowercase(),
            b.to_ascii_lowercase(),
            c.to_ascii_lowercase(),
        ]),
        _ => None,
    }
}

/// A "YYYY-MM-DD" date no earlier than 1970-01-01, and its day number.
pub(super) fn ecb_date(text: &str) -> Result<(NaiveDate, u32), FxHistoryError> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| FxHistoryError::BadDate)?;
    let day = day_number(date).ok_or(FxHistoryError::BadDate)?;
    Ok((date, day))
}

/// Days since 1970-01-01, for dates from then on.
pub fn day_number(date: NaiveDate) -> Option<u32> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    u32::try_from(date.signed_duration_since(epoch).num_days()).ok()
}

/// The date of a day number.
pub fn date_of(day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_days(chrono::Days::new(u64::from(day)))
}
