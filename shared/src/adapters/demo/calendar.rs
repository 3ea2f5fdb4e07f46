//! Calendar arithmetic for billing periods. Processors bill "monthly" on the anchor's
//! day of the month (31 Jan, 28 Feb, 31 Mar...), so periods are computed from the
//! anchor by adding whole months, never by adding 30 days.

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};

use crate::domain::billing::Interval;

pub(super) const HOUR: i64 = 3_600;
pub(super) const DAY: i64 = 86_400;

/// `t` moved by `months` calendar months (day clamped to the month's length). Out of
/// chrono's range (not reachable with sane parameters) it falls back to 30-day months.
pub(super) fn add_months(t: i64, months: i64) -> i64 {
    let fallback = t.saturating_add(months.saturating_mul(30 * DAY));
    let Some(at) = DateTime::<Utc>::from_timestamp(t, 0) else {
        return fallback;
    };
    let Ok(magnitude) = u32::try_from(months.unsigned_abs()) else {
        return fallback;
    };
    let moved = if months >= 0 {
        at.checked_add_months(Months::new(magnitude))
    } else {
        at.checked_sub_months(Months::new(magnitude))
    };
    moved.map_or(fallback, |moved| moved.timestamp())
}

/// The start of the `index`-th period of a price billed every `count` `interval`s
/// from `anchor` (index 0 is the anchor itself).
pub(super) fn boundary(anchor: i64, interval: Interval, count: u32, index: u32) -> i64 {
    let steps = i64::from(count.max(1)) * i64::from(index);
    match interval {
        Interval::Day => anchor + steps * DAY,
        Interval::Week => anchor + steps * 7 * DAY,
        Interval::Month => add_months(anchor, steps),
        Interval::Year => add_months(anchor, steps * 12),
    }
}

/// The billing period (start, end) that contains `t`, for periods counted from
/// `anchor`; the first period when `t` is before the anchor.
pub(super) fn period_containing(anchor: i64, interval: Interval, count: u32, t: i64) -> (i64, i64) {
    let mut index = 0;
    loop {
        let end = boundary(anchor, interval, count, index + 1);
        if end > t || index == u32::MAX - 1 {
            return (boundary(anchor, interval, count, index), end);
        }
        index += 1;
    }
}

/// The approximate length of a period in days, for per-period hazards.
pub(super) fn period_days(interval: Interval, count: u32) -> i64 {
    let count = i64::from(count.max(1));
    match interval {
        Interval::Day => count,
        Interval::Week => 7 * count,
        Interval::Month => 30 * count,
        Interval::Year => 365 * count,
    }
}

/// (year, month 1–12) of `t`, in UTC.
pub(super) fn year_month(t: i64) -> (i32, u32) {
    DateTime::<Utc>::from_timestamp(t, 0).map_or((1970, 1), |at| (at.year(), at.month()))
}

/// The first second after a card valid through `exp_month`/`exp_year` stops working:
/// cards are valid until the end of their expiry month.
pub(super) fn card_expires_at(exp_year: u32, exp_month: u32) -> i64 {
    let (year, month) = if exp_month >= 12 {
        (exp_year + 1, 1)
    } else {
        (exp_year, exp_month + 1)
    };
    i32::try_from(year)
        .ok()
        .and_then(|year| NaiveDate::from_ymd_opt(year, month, 1))
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map_or(i64::MAX, |at| at.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monthly_periods_keep_the_anchor_day() {
        // 2025-01-31T00:00:00Z
        let anchor = 1_738_281_600;
        let february = boundary(anchor, Interval::Month, 1, 1);
        let march = boundary(anchor, Interval::Month, 1, 2);
        assert_eq!(year_month(february), (2025, 2));
        assert_eq!((march - anchor) / DAY, 59);
        assert_eq!(
            period_containing(anchor, Interval::Month, 1, march - 1),
            (february, march)
        );
    }

    #[test]
    fn a_card_works_until_the_end_of_its_expiry_month() {
        // Valid through 12/2025: stops on 2026-01-01T00:00:00Z.
        assert_eq!(card_expires_at(2025, 12), 1_767_225_600);
    }
}
