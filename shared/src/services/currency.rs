//! Money across currencies: the tenant's reporting currency, its stored exchange rates,
//! and the rate source every converted figure uses (the ECB's daily euro reference
//! rates first, the tenant's stored rates for currencies the ECB does not publish).
//!
//! The reporting currency is an admin's choice; until one is made it is the currency
//! with the largest MRR (each currency's MRR compared in euros at the latest rates).
//! Figures asked for without `currency=` are in it and cover every currency.

use std::sync::Arc;

use crate::domain::ids::TenantId;
use crate::domain::metrics::{CurrencyMode, DailyRates, Facts, FxRates, FxSource, Mrr, day_of};
use crate::services::analytics_query::Currency;
use crate::services::contexts::Analytics;
use crate::services::error::ServiceError;

/// Used when a tenant has no MRR yet and chose nothing.
const FALLBACK_CURRENCY: &str = "eur";

/// Lower-case three-letter ISO 4217 code, or `None`.
pub fn iso_currency(code: &str) -> Option<String> {
    let code = code.to_ascii_lowercase();
    (code.len() == 3 && code.bytes().all(|b| b.is_ascii_lowercase())).then_some(code)
}

impl Analytics {
    /// The tenant's stored FX rates, if any.
    pub async fn fx_rates(&self, tenant: &TenantId) -> Result<Option<FxRates>, ServiceError> {
        Ok(self.repos.settings.fx_rates(tenant).await?)
    }

    /// Stores the tenant's FX rates and rebuilds the snapshot at them.
    pub async fn set_fx_rates(
        &self,
        tenant: &TenantId,
        rates: FxRates,
    ) -> Result<FxRates, ServiceError> {
        rates
            .validate()
            // Named without the client's values: a message never echoes input.
            .map_err(|_| {
                ServiceError::invalid(
                    "rates",
                    "Every rate must be a positive number, keyed by an ISO 4217 code.",
                )
            })?;
        let iso = |code: &str| iso_currency(code).as_deref() == Some(code);
        if !iso(&rates.base) || !rates.rates.keys().all(|k| iso(k)) {
            return Err(ServiceError::invalid(
                "base",
                "Currencies must be ISO 4217 codes such as eur.",
            ));
        }
        self.repos.settings.set_fx_rates(tenant, &rates).await?;
        self.rebuild_analytics(tenant).await?;
        Ok(rates)
    }

    /// Where the tenant's conversions take their rates.
    pub async fn fx_source(&self, tenant: &TenantId) -> Result<FxSource, ServiceError> {
        let daily: Arc<dyn DailyRates> = self.fx_history().await?;
        Ok(FxSource::daily(daily, self.fx_rates(tenant).await?))
    }

    /// The reporting currency an admin chose, if any.
    pub async fn chosen_reporting_currency(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<String>, ServiceError> {
        Ok(self.repos.settings.reporting_currency(tenant).await?)
    }

    /// Sets the reporting currency (an ISO code some rate converts) and rebuilds the
    /// snapshot, whose segments are measured in it.
    pub async fn set_reporting_currency(
        &self,
        tenant: &TenantId,
        currency: &str,
    ) -> Result<String, ServiceError> {
        let Some(code) = iso_currency(currency) else {
            return Err(ServiceError::invalid(
                "currency",
                "`currency` must be an ISO 4217 code such as eur.",
            ));
        };
        let source = self.fx_source(tenant).await?;
        let today = day_of(self.now().timestamp());
        if source.per_anchor(&code, today).is_none() {
            return Err(ServiceError::invalid(
                "currency",
                "No exchange rate is known for this currency: the ECB does not publish it and no rate for it is stored (PUT /v1/settings/fx-rates).",
            ));
        }
        self.repos
            .settings
            .set_reporting_currency(tenant, &code)
            .await?;
        self.rebuild_analytics(tenant).await?;
        Ok(code)
    }

    /// The reporting currency: the admin's choice, else the currency with the largest
    /// MRR on `day`.
    pub(crate) async fn reporting_mode(
        &self,
        tenant: &TenantId,
        facts: &Facts,
        day: u32,
    ) -> Result<CurrencyMode, ServiceError> {
        let rates = self.fx_source(tenant).await?;
        let to = match self.chosen_reporting_currency(tenant).await? {
            Some(code) => code,
            None => largest_mrr_currency(facts, &rates, day),
        };
        Ok(CurrencyMode::Converted { to, rates })
    }

    /// The mode of a query: into `requested` or the snapshot's reporting currency,
    /// every currency converted.
    pub async fn query_currency(
        &self,
        tenant: &TenantId,
        requested: Option<&Currency>,
        reporting: &str,
    ) -> Result<CurrencyMode, ServiceError> {
        let to = requested.map_or(reporting, Currency::as_str).to_owned();
        Ok(CurrencyMode::Converted {
            to,
            rates: self.fx_source(tenant).await?,
        })
    }
}

/// The currency whose MRR now is the largest, compared in euros at today's rates
/// (currencies without a rate compare natively only when no currency has one).
pub fn largest_mrr_currency(facts: &Facts, rates: &FxSource, today: u32) -> String {
    let native = facts.native_mrr_by_currency(today, |_| true);
    let in_euros = |index: usize, code: &str| -> Option<Mrr> {
        let value = native.get(index).copied()?;
        rates
            .factor_on(code, "eur", today)
            .ok()
            .map(|factor| factor.apply(value))
    };
    let convertible = facts
        .currencies
        .iter()
        .enumerate()
        .filter_map(|(i, code)| in_euros(i, code).map(|v| (v, code)))
        .filter(|(value, _)| value.is_positive())
        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(a.1)));
    if let Some((_, code)) = convertible {
        return code.clone();
    }
    facts
        .currencies
        .iter()
        .zip(&native)
        .filter(|(_, value)| value.is_positive())
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map_or_else(|| FALLBACK_CURRENCY.to_owned(), |(code, _)| code.clone())
}
