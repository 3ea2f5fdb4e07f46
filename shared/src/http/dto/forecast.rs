//! The body of `/v1/metrics/forecast`: the model's name, its inputs (`rates`), the
//! trailing months it measured and the months it projects with their band. Money is
//! integer minor units of the reply's `currency`. A viewer's reply about a slice of
//! fewer than k customers carries no figure (`services::analytics_query::Suppression`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::cohorts::unconverted;
use super::metrics::Unconverted;
use crate::domain::metrics::{
    BAND_Z, FORECAST_MODEL, Forecast, ForecastMonth, ForecastRates as RatesView,
};
use crate::services::analytics_query::Suppression;

/// The model's inputs, measured over the trailing months.
#[derive(Serialize, ToSchema)]
pub struct ForecastRates {
    /// Mean new MRR per month, minor units.
    pub new_mrr: f64,
    /// Mean reactivation MRR per month, minor units.
    pub reactivation_mrr: f64,
    /// Mean monthly expansion ÷ start MRR.
    pub expansion_rate: f64,
    pub contraction_rate: f64,
    pub churn_rate: f64,
    /// Plan switches ÷ start MRR (not 0 only under a plan filter).
    pub plan_switch_rate: f64,
    /// Mean new customers per month.
    pub new_customers: f64,
    pub reactivated_customers: f64,
    /// Mean churned ÷ start customers.
    pub customer_churn_rate: f64,
    /// σ of the MRR band: the residual standard error of the model's one-month errors
    /// on the trailing months, relative to each month's start MRR.
    pub mrr_sigma: f64,
    /// σ of the customers band, likewise.
    pub customers_sigma: f64,
}

impl From<RatesView> for ForecastRates {
    fn from(r: RatesView) -> Self {
        Self {
            new_mrr: r.new_mrr,
            reactivation_mrr: r.reactivation_mrr,
            expansion_rate: r.expansion_rate,
            contraction_rate: r.contraction_rate,
            churn_rate: r.churn_rate,
            plan_switch_rate: r.plan_switch_rate,
            new_customers: r.new_customers,
            reactivated_customers: r.reactivated_customers,
            customer_churn_rate: r.customer_churn_rate,
            mrr_sigma: r.mrr_growth_sigma,
            customers_sigma: r.customer_growth_sigma,
        }
    }
}

/// One trailing month, as measured.
#[derive(Serialize, ToSchema)]
pub struct ForecastHistoryMonth {
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// MRR at `period_end`, minor units.
    pub mrr: i64,
    pub customers: i64,
}

/// One forecast month: the point and its band.
#[derive(Serialize, ToSchema)]
pub struct ForecastPoint {
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// MRR at `period_end`, minor units.
    pub mrr: i64,
    pub mrr_low: i64,
    pub mrr_high: i64,
    pub customers: i64,
    pub customers_low: i64,
    pub customers_high: i64,
}

impl From<&ForecastMonth> for ForecastPoint {
    fn from(m: &ForecastMonth) -> Self {
        Self {
            period_start: m.period_start,
            period_end: m.period_end,
            mrr: m.mrr,
            mrr_low: m.mrr_low,
            mrr_high: m.mrr_high,
            customers: m.customers,
            customers_low: m.customers_low,
            customers_high: m.customers_high,
        }
    }
}

/// MRR and customers forecast month by month, with the model and its inputs.
#[derive(Serialize, ToSchema)]
pub struct ForecastReply {
    /// `trailing_movement_rates_v1`.
    pub model: String,
    /// The model in a sentence (also under `forecast` in the definitions).
    pub description: String,
    pub trailing_months: u32,
    /// The band's z (1.645: about 90 %).
    pub z: f64,
    pub currency: String,
    /// Null when suppressed.
    #[schema(required = true)]
    pub rates: Option<ForecastRates>,
    /// The trailing months the rates come from.
    pub history: Vec<ForecastHistoryMonth>,
    pub series: Vec<ForecastPoint>,
    pub unconverted: Vec<Unconverted>,
    pub data_as_of: DateTime<Utc>,
    /// Viewers only: the filters cover fewer customers than the tenant's
    /// `min_group_size`; no figure is given.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(required = false)]
    pub suppressed: bool,
}

impl ForecastReply {
    pub fn new(
        f: Forecast,
        trailing: u32,
        description: &str,
        data_as_of: DateTime<Utc>,
        suppression: &Suppression,
    ) -> Self {
        if suppression.all {
            return Self {
                model: FORECAST_MODEL.to_owned(),
                description: description.to_owned(),
                trailing_months: trailing,
                z: BAND_Z,
                currency: f.currency,
                rates: None,
                history: Vec::new(),
                series: Vec::new(),
                unconverted: Vec::new(),
                data_as_of,
                suppressed: true,
            };
        }
        Self {
            model: FORECAST_MODEL.to_owned(),
            description: description.to_owned(),
            trailing_months: trailing,
            z: BAND_Z,
            currency: f.currency,
            rates: Some(f.rates.into()),
            history: f
                .history
                .iter()
                .map(|m| ForecastHistoryMonth {
                    period_start: m.period_start,
                    period_end: m.period_end,
                    mrr: m.mrr.to_minor(),
                    customers: m.customers,
                })
                .collect(),
            series: f.series.iter().map(ForecastPoint::from).collect(),
            unconverted: unconverted(&f.unconverted),
            data_as_of,
            suppressed: false,
        }
    }
}
