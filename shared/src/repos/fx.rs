//! Exchange rates in the table: the ECB's published days in the global partition
//! `FXRATES#ECB` (`DAY#<date>`, plain: reference rates are public data, not a
//! tenant's), and a tenant's own settings, sealed in its partition: its stored FX rates
//! `FXRATES` and its chosen reporting currency `SETTINGS#REPORTING_CURRENCY`.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::ids::TenantId;
use crate::domain::metrics::FxRates;
use crate::ports::{Condition, Item, Key, Query, SortKeys, Store};
use crate::repos::{EntityKey, RepoError, Sealer, query_all, s, tenant_of, with_s};

/// The global partition of the ECB's published days.
const ECB_RATES_PK: &str = "FXRATES#ECB";
const DAY_PREFIX: &str = "DAY#";
const DATE: &str = "date";
const RATES: &str = "rates";
const FX_SK: &str = "FXRATES";
const REPORTING_SK: &str = "SETTINGS#REPORTING_CURRENCY";

fn day_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EcbDayKey {
    pub date: NaiveDate,
}

impl EntityKey for EcbDayKey {
    fn key(&self) -> Key {
        Key::new(ECB_RATES_PK, format!("{DAY_PREFIX}{}", day_text(self.date)))
    }
    fn parse(key: &Key) -> Option<Self> {
        if key.pk != ECB_RATES_PK {
            return None;
        }
        let text = key.sk.strip_prefix(DAY_PREFIX)?;
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
        (day_text(date) == text).then_some(Self { date })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FxRatesKey {
    pub tenant: TenantId,
}

impl EntityKey for FxRatesKey {
    fn key(&self) -> Key {
        Key::new(self.tenant.partition(), FX_SK)
    }
    fn parse(key: &Key) -> Option<Self> {
        let tenant = tenant_of(&key.pk)?;
        (key.sk == FX_SK).then_some(Self { tenant })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportingCurrencyKey {
    pub tenant: TenantId,
}

impl EntityKey for ReportingCurrencyKey {
    fn key(&self) -> Key {
        Key::new(self.tenant.partition(), REPORTING_SK)
    }
    fn parse(key: &Key) -> Option<Self> {
        let tenant = tenant_of(&key.pk)?;
        (key.sk == REPORTING_SK).then_some(Self { tenant })
    }
}

/// The ECB's days stored after the history shipped in the crate.
#[derive(Clone)]
pub struct EcbDays {
    store: Arc<dyn Store>,
}

fn day_item(date: NaiveDate, rates: &BTreeMap<String, i128>) -> Result<Item, RepoError> {
    let rates: BTreeMap<&str, i64> = rates
        .iter()
        .filter_map(|(code, rate)| Some((code.as_str(), i64::try_from(*rate).ok()?)))
        .collect();
    let json = serde_json::to_string(&rates).map_err(|_| crate::repos::VaultError::Corrupt)?;
    let item = Item::new(EcbDayKey { date }.key());
    Ok(with_s(with_s(item, DATE, day_text(date)), RATES, json))
}

/// A stored day; `None` for an item that is not one.
fn decode_day(item: &Item) -> Option<(NaiveDate, BTreeMap<String, i128>)> {
    let date = NaiveDate::parse_from_str(s(item, DATE)?, "%Y-%m-%d").ok()?;
    let rates: BTreeMap<String, i64> = serde_json::from_str(s(item, RATES)?).ok()?;
    Some((
        date,
        rates.into_iter().map(|(c, r)| (c, i128::from(r))).collect(),
    ))
}

/// The stored days, and how many items did not decode (skipped, not fatal: a query
/// must not fail because of one bad row of public data).
pub struct EcbDaysRead {
    pub days: Vec<(NaiveDate, BTreeMap<String, i128>)>,
    pub skipped: usize,
}

impl EcbDays {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Stores a day unless it is stored with the same rates; `true` when written.
    pub async fn save(
        &self,
        date: NaiveDate,
        rates: &BTreeMap<String, i128>,
    ) -> Result<bool, RepoError> {
        let item = day_item(date, rates)?;
        let stored = self.store.get(&item.key).await?;
        if stored.is_some_and(|s| s.attrs == item.attrs) {
            return Ok(false);
        }
        self.store.put(item, Condition::None).await?;
        Ok(true)
    }

    /// Every stored day from `from` on (all of them without `from`), in date order.
    pub async fn since(&self, from: Option<NaiveDate>) -> Result<EcbDaysRead, RepoError> {
        let from = from
            .map(|day| format!("{DAY_PREFIX}{}", day_text(day)))
            .unwrap_or_else(|| DAY_PREFIX.to_owned());
        let query = Query::new(
            ECB_RATES_PK,
            SortKeys::between(from, format!("{DAY_PREFIX}9999-12-31")),
        );
        let items = query_all(self.store.as_ref(), query).await?;
        let days: Vec<_> = items.iter().filter_map(decode_day).collect();
        Ok(EcbDaysRead {
            skipped: items.len() - days.len(),
            days,
        })
    }
}

/// The tenant's choice of reporting currency, as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct ReportingChoice {
    currency: String,
}

/// A tenant's money settings.
#[derive(Clone)]
pub struct Settings {
    sealer: Sealer,
}

impl Settings {
    pub(crate) fn new(sealer: Sealer) -> Self {
        Self { sealer }
    }

    pub async fn fx_rates(&self, tenant: &TenantId) -> Result<Option<FxRates>, RepoError> {
        let key = FxRatesKey {
            tenant: tenant.clone(),
        };
        Ok(self.sealer.load(tenant, &key.key()).await?.map(|(r, _)| r))
    }

    pub async fn set_fx_rates(&self, tenant: &TenantId, rates: &FxRates) -> Result<(), RepoError> {
        let key = FxRatesKey {
            tenant: tenant.clone(),
        };
        let item = self.sealer.seal(tenant, key.key(), rates).await?;
        Ok(self.sealer.store.put(item, Condition::None).await?)
    }

    pub async fn reporting_currency(&self, tenant: &TenantId) -> Result<Option<String>, RepoError> {
        let key = ReportingCurrencyKey {
            tenant: tenant.clone(),
        };
        let loaded = self
            .sealer
            .load::<ReportingChoice>(tenant, &key.key())
            .await?;
        Ok(loaded.map(|(choice, _)| choice.currency))
    }

    pub async fn set_reporting_currency(
        &self,
        tenant: &TenantId,
        currency: &str,
    ) -> Result<(), RepoError> {
        let key = ReportingCurrencyKey {
            tenant: tenant.clone(),
        };
        let choice = ReportingChoice {
            currency: currency.to_owned(),
        };
        let item = self.sealer.seal(tenant, key.key(), &choice).await?;
        Ok(self.sealer.store.put(item, Condition::None).await?)
    }
}
