//! One currency's column of rates: as published, and dense (one value per calendar
//! day) for O(1) lookups.

/// One currency's rates.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Column {
    pub(super) code: [u8; 3],
    /// (day number, scaled rate) as published, sorted by day.
    pub(super) published: Vec<(u32, i64)>,
    /// One rate per calendar day from the history's `first_day`, filled as `fx_history`'s
    /// module doc says; derived from `published` by `RateHistory::rebuild`.
    pub(super) dense: Vec<i64>,
}

/// One currency's rates, found once: for loops converting many amounts of it.
#[derive(Clone, Copy, Debug)]
pub struct CurrencyRates<'a> {
    pub(super) column: &'a Column,
    pub(super) first_day: u32,
}

impl std::fmt::Debug for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} days published)",
            String::from_utf8_lossy(&self.code),
            self.published.len()
        )
    }
}

impl<'a> CurrencyRates<'a> {
    /// Units per 1 EUR × [`super::RATE_SCALE`] on day `day` (see `fx_history`'s
    /// module doc for days outside the published range).
    #[inline]
    pub fn per_eur(&self, day: u32) -> i128 {
        let dense = &self.column.dense;
        let index = (day.saturating_sub(self.first_day) as usize).min(dense.len() - 1);
        i128::from(dense[index])
    }

    /// The day whose published rate applies to `day` (the earliest one for a day
    /// before the first publication). O(log n).
    pub fn published_day(&self, day: u32) -> u32 {
        let published = &self.column.published;
        match published.partition_point(|(d, _)| *d <= day) {
            0 => published[0].0,
            n => published[n - 1].0,
        }
    }
}
