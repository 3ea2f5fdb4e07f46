//! The ECB's euro reference rates after the history shipped in the crate: a daily job
//! fetches the ECB's file (`TALLY_ECB_DAILY_URL`) into the table, and
//! [`Services::fx_history`] answers the shipped history plus those days.
//!
//! The days live in one global partition, one plain item per day
//! (`repos::fx::EcbDays`): reference rates are public data, not a tenant's, so they are
//! neither sealed nor in a tenant's partition. A refresh is idempotent: a day already
//! stored with the same rates is not written again, and days the shipped history
//! already holds are not stored at all.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde::Serialize;

use crate::adapters::ecb;
use crate::domain::fx_history::{self, RateHistory};
use crate::services::contexts::Analytics;
use crate::services::error::ServiceError;

/// How long a process keeps the history it assembled: a new day arrives once a day,
/// and a query may use yesterday's rates for a few minutes after it does.
pub const FX_HISTORY_TTL: Duration = Duration::from_secs(300);

/// The per-process cache of [`Services::fx_history`].
#[derive(Default)]
pub struct FxHistoryCache(Mutex<Option<(Instant, Arc<RateHistory>)>>);

impl FxHistoryCache {
    fn get(&self) -> Option<Arc<RateHistory>> {
        let cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match cache.as_ref() {
            Some((at, history)) if at.elapsed() < FX_HISTORY_TTL => Some(history.clone()),
            _ => None,
        }
    }

    fn set(&self, history: Option<Arc<RateHistory>>) {
        let mut cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *cache = history.map(|h| (Instant::now(), h));
    }
}

/// What one refresh did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EcbRefresh {
    /// The newest day in the ECB's file.
    pub date: NaiveDate,
    /// Currencies published that day.
    pub currencies: usize,
    /// Days in the file.
    pub days: usize,
    /// Days written (new, or changed since they were stored).
    pub stored: usize,
}

impl Analytics {
    /// Fetches the ECB's reference-rates file (the daily one by default; the 90-day
    /// file works too, to fill a gap) and stores each day after the shipped history.
    pub async fn refresh_ecb_rates(&self) -> Result<EcbRefresh, ServiceError> {
        let client = ecb::http_client().map_err(ServiceError::internal)?;
        let body = ecb::fetch_text(&client, &self.config.ecb_daily_url)
            .await
            .map_err(ServiceError::internal)?;
        let days = RateHistory::parse_ecb_xml_days(&body).map_err(|err| {
            ServiceError::internal(format!("the ECB rates file was refused: {err}"))
        })?;
        let Some((newest, newest_rates)) = days.last() else {
            return Err(ServiceError::internal("the ECB rates file holds no day"));
        };
        let mut report = EcbRefresh {
            date: *newest,
            currencies: newest_rates.len(),
            days: days.len(),
            stored: 0,
        };
        let shipped_until = fx_history::bundled().last_date();
        for (date, rates) in &days {
            if shipped_until.is_some_and(|last| *date <= last) {
                continue;
            }
            if self.repos.ecb_days.save(*date, rates).await? {
                report.stored += 1;
            }
        }
        if report.stored > 0 {
            self.fx_history.set(None);
        }
        Ok(report)
    }

    /// The ECB's rates: the shipped history plus the days stored after it (one Query of
    /// the global partition), kept per process for [`FX_HISTORY_TTL`].
    pub async fn fx_history(&self) -> Result<Arc<RateHistory>, ServiceError> {
        if let Some(history) = self.fx_history.get() {
            return Ok(history);
        }
        let shipped = fx_history::bundled_shared();
        let from = shipped.last_date().and_then(|last| last.succ_opt());
        let read = self.repos.ecb_days.since(from).await?;
        if read.skipped > 0 {
            tracing::warn!(skipped = read.skipped, "stored ECB days that do not decode");
        }
        let days = read.days;
        let history = if days.is_empty() {
            shipped
        } else {
            let mut history = RateHistory::clone(&shipped);
            history.insert_days(days);
            Arc::new(history)
        };
        self.fx_history.set(Some(history.clone()));
        Ok(history)
    }
}
