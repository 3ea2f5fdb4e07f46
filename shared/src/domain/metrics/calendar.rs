//! UTC days and the periods of a series.
//!
//! The engine counts time in whole UTC days since 1970-01-01 (`u32`): MRR is read at the
//! end of each day, and a period is a run of days. Periods are calendar buckets (days,
//! weeks starting Monday, months, quarters, years); a series covers the buckets from the one containing
//! `from` through `to` (inclusive), the last one possibly partial.

use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::MetricsError;

pub const SECONDS_PER_DAY: i64 = 86_400;
/// The longest range a query may ask for (about 30 years): bounds the work and memory.
pub const MAX_RANGE_DAYS: u32 = 11_000;
/// Days from 0001-01-01 (chrono's "days from CE", day 1) to 1970-01-01.
const EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// A series' bucket size (`interval=day|week|month|quarter|year`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum SeriesInterval {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl FromStr for SeriesInterval {
    type Err = MetricsError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "day" => Ok(SeriesInterval::Day),
            "week" => Ok(SeriesInterval::Week),
            "month" => Ok(SeriesInterval::Month),
            "quarter" => Ok(SeriesInterval::Quarter),
            "year" => Ok(SeriesInterval::Year),
            other => Err(MetricsError::UnknownInterval(other.to_owned())),
        }
    }
}

/// The UTC day of a Unix time; times before 1970 count as day 0.
pub fn day_of(unix_seconds: i64) -> u32 {
    let day = unix_seconds.div_euclid(SECONDS_PER_DAY);
    u32::try_from(day.max(0)).unwrap_or(u32::MAX)
}

/// The first second of a day.
pub fn day_start(day: u32) -> i64 {
    i64::from(day) * SECONDS_PER_DAY
}

/// The last second of a day: where "MRR at the end of the day" is read.
pub fn day_end(day: u32) -> i64 {
    day_start(day) + SECONDS_PER_DAY - 1
}

pub fn day_of_date(date: NaiveDate) -> u32 {
    let days = i64::from(date.num_days_from_ce()) - EPOCH_DAYS_FROM_CE;
    u32::try_from(days.max(0)).unwrap_or(u32::MAX)
}

pub fn date_of_day(day: u32) -> NaiveDate {
    i32::try_from(i64::from(day) + EPOCH_DAYS_FROM_CE)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .unwrap_or_default()
}

/// (year, month 1–12, day 1–31) of a day number (Howard Hinnant's civil-from-days).
pub fn civil(day: u32) -> (i64, u32, u32) {
    let z = i64::from(day) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m as u32, d as u32)
}

/// The day number of a civil date (inverse of [`civil`]); dates before 1970 give 0.
pub fn day_of_civil(year: i64, month: u32, day: u32) -> u32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u32::try_from(days.max(0)).unwrap_or(u32::MAX)
}

/// The first day of the month `months` after the month of `day` (negative: before).
pub fn add_months(day: u32, months: i64) -> u32 {
    let (year, month, _) = civil(day);
    let index = year * 12 + i64::from(month) - 1 + months;
    day_of_civil(index.div_euclid(12), (index.rem_euclid(12) + 1) as u32, 1)
}

/// The first day of the bucket containing `day`.
pub fn bucket_start(day: u32, interval: SeriesInterval) -> u32 {
    match interval {
        SeriesInterval::Day => day,
        // 1970-01-01 was a Thursday: (day + 3) % 7 is days since Monday.
        SeriesInterval::Week => day - ((day + 3) % 7).min(day),
        SeriesInterval::Month => add_months(day, 0),
        SeriesInterval::Quarter => {
            let (_, month, _) = civil(day);
            add_months(day, -i64::from((month - 1) % 3))
        }
        SeriesInterval::Year => {
            let (_, month, _) = civil(day);
            add_months(day, -i64::from(month - 1))
        }
    }
}

fn next_bucket(start: u32, interval: SeriesInterval) -> u32 {
    match interval {
        SeriesInterval::Day => start + 1,
        SeriesInterval::Week => start + 7,
        SeriesInterval::Month => add_months(start, 1),
        SeriesInterval::Quarter => add_months(start, 3),
        SeriesInterval::Year => add_months(start, 12),
    }
}

/// The periods of one series, with a day → period table so the engine never searches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Periods {
    pub interval: SeriesInterval,
    /// First day of each period; the first is the bucket start of `from`.
    pub starts: Vec<u32>,
    /// The last day counted (`to`, inclusive).
    pub last_day: u32,
    index_by_day: Vec<u32>,
}

impl Periods {
    pub fn new(from: u32, to: u32, interval: SeriesInterval) -> Result<Periods, MetricsError> {
        let first = bucket_start(from, interval);
        if from > to || to - first > MAX_RANGE_DAYS {
            return Err(MetricsError::InvalidRange);
        }
        let mut starts = Vec::new();
        let mut index_by_day = Vec::with_capacity((to - first + 1) as usize);
        let mut start = first;
        while start <= to {
            let next = next_bucket(start, interval).min(to + 1);
            let index = starts.len() as u32;
            index_by_day.extend((start..next).map(|_| index));
            starts.push(start);
            start = next;
        }
        Ok(Periods {
            interval,
            starts,
            last_day: to,
            index_by_day,
        })
    }
    pub fn first_day(&self) -> u32 {
        self.starts.first().copied().unwrap_or(self.last_day)
    }
    pub fn len(&self) -> usize {
        self.starts.len()
    }
    /// The period containing `day`, if it is inside the series.
    pub fn index_of(&self, day: u32) -> Option<usize> {
        let offset = day.checked_sub(self.first_day())?;
        self.index_by_day.get(offset as usize).map(|i| *i as usize)
    }
    /// The last day of period `index` (inclusive).
    pub fn end_of(&self, index: usize) -> u32 {
        self.starts
            .get(index + 1)
            .map(|next| next - 1)
            .unwrap_or(self.last_day)
    }
}
