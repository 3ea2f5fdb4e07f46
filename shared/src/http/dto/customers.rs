//! The bodies of the `query` function's per-customer routes (personal data: admins and
//! analysts only): the customer list, a customer's profile, the payment-failure risks.
//!
//! Money is integer minor units; times are RFC 3339 UTC strings.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::{list_reply, rfc3339};
use crate::domain::billing::SubscriptionStatus;
use crate::domain::metrics::{
    ChurnRiskFactor, CustomerDims, CustomerProfile as ProfileView, PaymentFailureRisk as RiskView,
    PaymentSummary, RfmSegment, SubscriptionSummary, date_of_day,
};
use crate::services::analytics::CustomerRow;
use crate::services::customer_query::MrrPoint;

#[derive(Serialize, ToSchema)]
pub struct Risk {
    /// The card expires before the next renewal.
    pub payment_failure: bool,
    /// Churn risk score.
    pub churn: u32,
}

impl From<&CustomerRow> for Risk {
    fn from(row: &CustomerRow) -> Self {
        Self {
            payment_failure: row.payment_failure_risk,
            churn: row.churn_risk,
        }
    }
}

/// The factors of the churn-risk model (`churn_risk.weighted_factors_v1`).
#[derive(Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChurnFactorName {
    /// A counted subscription is set to cancel (40 points).
    PendingCancellation,
    /// Failed charges in the last 90 days (15 points each, at most 30).
    #[serde(rename = "failed_payments_90d")]
    FailedPayments90d,
    /// MRR stepped down, staying above 0, in the last 90 days (20 points).
    #[serde(rename = "downgrade_90d")]
    Downgrade90d,
    /// Fewer licensed seats now than invoiced 90 days ago (10 points).
    FallingSeats,
}

impl ChurnFactorName {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "pending_cancellation" => Some(Self::PendingCancellation),
            "failed_payments_90d" => Some(Self::FailedPayments90d),
            "downgrade_90d" => Some(Self::Downgrade90d),
            "falling_seats" => Some(Self::FallingSeats),
            _ => None,
        }
    }
}

/// One factor of a customer's churn-risk score: what was observed and the points it
/// adds (the score is the sum of the points, at most 100).
#[derive(Serialize, ToSchema)]
pub struct ChurnFactor {
    pub factor: ChurnFactorName,
    /// What was observed: `1`/`0` for `pending_cancellation` and `downgrade_90d`, the
    /// number of failed charges for `failed_payments_90d`, seats invoiced 90 days ago
    /// minus seats now for `falling_seats`.
    pub observed: i64,
    /// Points added to the score (0 when the factor is not present).
    pub points: u32,
    /// The observation in words, e.g. `"2 failed payments in the last 90 days"`.
    pub detail: String,
}

impl ChurnFactor {
    fn of(f: &ChurnRiskFactor) -> Option<Self> {
        let factor = ChurnFactorName::parse(&f.name)?;
        let detail = match factor {
            ChurnFactorName::PendingCancellation if f.observed > 0 => {
                "A subscription is set to cancel".to_owned()
            }
            ChurnFactorName::PendingCancellation => "No subscription is set to cancel".to_owned(),
            ChurnFactorName::FailedPayments90d if f.observed <= 0 => {
                "No failed payment in the last 90 days".to_owned()
            }
            ChurnFactorName::FailedPayments90d if f.observed == 1 => {
                "1 failed payment in the last 90 days".to_owned()
            }
            ChurnFactorName::FailedPayments90d => {
                format!("{} failed payments in the last 90 days", f.observed)
            }
            ChurnFactorName::Downgrade90d if f.observed > 0 => {
                "MRR stepped down in the last 90 days".to_owned()
            }
            ChurnFactorName::Downgrade90d => "No downgrade in the last 90 days".to_owned(),
            ChurnFactorName::FallingSeats if f.observed > 0 => {
                format!("{} fewer seats than 90 days ago", f.observed)
            }
            ChurnFactorName::FallingSeats => "No fewer seats than 90 days ago".to_owned(),
        };
        Some(Self {
            factor,
            observed: f.observed,
            points: f.points,
            detail,
        })
    }
}

/// A profile's risks: the list's, with the churn score's factors.
#[derive(Serialize, ToSchema)]
pub struct ProfileRisk {
    /// The card expires before the next renewal.
    pub payment_failure: bool,
    /// Churn risk score, 0–100: the sum of `churn_factors`' points, at most 100.
    pub churn: u32,
    /// Every factor of the churn-risk model, those adding 0 too; empty for a customer
    /// with no subscription (score 0).
    pub churn_factors: Vec<ChurnFactor>,
}

/// One point of a customer's MRR history.
#[derive(Serialize, ToSchema)]
pub struct MrrHistoryPoint {
    /// The UTC day at whose end the customer's MRR in `currency` changed.
    pub date: NaiveDate,
    /// Lower-case ISO 4217 code: one of the customer's own currencies (no conversion).
    pub currency: String,
    /// The customer's MRR in `currency` from the end of `date` on, minor units (`0`:
    /// churned in that currency).
    pub mrr: i64,
}

impl From<&MrrPoint> for MrrHistoryPoint {
    fn from(p: &MrrPoint) -> Self {
        Self {
            date: date_of_day(p.day),
            currency: p.currency.clone(),
            mrr: p.mrr.to_minor(),
        }
    }
}

/// All the customer's MRR in the reporting currency (what `sort=mrr` compares).
#[derive(Serialize, ToSchema)]
pub struct ReportingMrr {
    pub amount: i64,
    pub currency: String,
}

#[derive(Serialize, ToSchema)]
pub struct CustomerSummary {
    pub id: String,
    pub integration: String,
    #[schema(required = true)]
    pub email: Option<String>,
    #[schema(required = true)]
    pub currency: Option<String>,
    /// Minor units of `currency`.
    pub mrr: i64,
    pub reporting_mrr: ReportingMrr,
    pub lifetime_revenue: i64,
    /// RFM score, e.g. `"355"`.
    #[schema(required = true)]
    pub loyalty_score: Option<String>,
    #[schema(value_type = Option<RfmSegment>, required = true)]
    pub segment: Option<String>,
    pub risk: Risk,
}

impl CustomerSummary {
    pub fn new(row: &CustomerRow, reporting_currency: &str) -> Self {
        Self {
            id: row.id.clone(),
            integration: row.integration.clone(),
            email: row.email.clone(),
            currency: row.currency.clone(),
            mrr: row.mrr,
            reporting_mrr: ReportingMrr {
                amount: row.reporting_mrr,
                currency: reporting_currency.to_owned(),
            },
            lifetime_revenue: row.lifetime_revenue,
            loyalty_score: row.loyalty_score.clone(),
            segment: row.segment.clone(),
            risk: row.into(),
        }
    }
}

list_reply!(CustomerList of CustomerSummary);

#[derive(Serialize, ToSchema)]
pub struct CustomerDimensions {
    /// ISO 3166-1 alpha-2, upper-case.
    #[schema(required = true)]
    pub country: Option<String>,
    #[schema(required = true)]
    pub city: Option<String>,
    #[schema(required = true)]
    pub card_brand: Option<String>,
    #[schema(required = true)]
    pub card_funding: Option<String>,
    #[schema(required = true)]
    pub payment_method: Option<String>,
    #[schema(required = true)]
    pub integration: Option<String>,
}

impl From<CustomerDims> for CustomerDimensions {
    fn from(d: CustomerDims) -> Self {
        Self {
            country: d.country,
            city: d.city,
            card_brand: d.card_brand,
            card_funding: d.card_funding,
            payment_method: d.payment_method,
            integration: d.integration,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Subscription {
    pub id: String,
    pub status: SubscriptionStatus,
    pub currency: String,
    /// Plans with MRR now.
    pub plans: Vec<String>,
    /// Minor units of `currency`.
    pub mrr: i64,
    #[schema(format = DateTime, required = true)]
    pub created: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub current_period_end: Option<String>,
    pub cancel_at_period_end: bool,
}

impl From<SubscriptionSummary> for Subscription {
    fn from(s: SubscriptionSummary) -> Self {
        Self {
            id: s.id,
            status: s.status,
            currency: s.currency,
            plans: s.plans,
            mrr: s.mrr.to_minor(),
            created: rfc3339(s.created),
            current_period_end: s.current_period_end.and_then(rfc3339),
            cancel_at_period_end: s.cancel_at_period_end,
        }
    }
}

/// A payment, with no card detail beyond brand, funding and expiry.
#[derive(Serialize, ToSchema)]
pub struct Payment {
    pub id: String,
    pub amount: i64,
    pub amount_refunded: i64,
    pub currency: String,
    /// succeeded, pending, failed.
    pub status: String,
    #[schema(format = DateTime, required = true)]
    pub at: Option<String>,
    #[schema(required = true)]
    pub card_brand: Option<String>,
    #[schema(required = true)]
    pub card_funding: Option<String>,
    #[schema(required = true)]
    pub card_exp_month: Option<u32>,
    #[schema(required = true)]
    pub card_exp_year: Option<u32>,
}

impl From<PaymentSummary> for Payment {
    fn from(p: PaymentSummary) -> Self {
        Self {
            id: p.id,
            amount: p.amount,
            amount_refunded: p.amount_refunded,
            currency: p.currency,
            status: p.status,
            at: rfc3339(p.at),
            card_brand: p.card_brand,
            card_funding: p.card_funding,
            card_exp_month: p.card_exp_month,
            card_exp_year: p.card_exp_year,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CustomerProfile {
    pub id: String,
    pub integration: String,
    #[schema(required = true)]
    pub email: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub created: Option<String>,
    /// The currency with the most MRR (else the most revenue); `mrr` and
    /// `lifetime_revenue` are in it.
    #[schema(required = true)]
    pub currency: Option<String>,
    /// Minor units of `currency`.
    pub mrr: i64,
    /// Minor units per currency.
    pub mrr_by_currency: BTreeMap<String, i64>,
    /// Succeeded charges minus refunds, minor units of `currency`.
    pub lifetime_revenue: i64,
    pub lifetime_revenue_by_currency: BTreeMap<String, i64>,
    pub successful_payments: u64,
    #[schema(format = DateTime, required = true)]
    pub first_payment_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub last_payment_at: Option<String>,
    /// Plans with MRR now.
    pub plans: Vec<String>,
    pub dimensions: CustomerDimensions,
    /// RFM score, e.g. `"355"`.
    #[schema(required = true)]
    pub loyalty_score: Option<String>,
    #[schema(value_type = Option<RfmSegment>, required = true)]
    pub segment: Option<String>,
    pub risk: ProfileRisk,
    /// The customer's MRR over time, in its own currency or currencies: a point for
    /// each UTC day at whose end its MRR in a currency changed (new, expansion,
    /// contraction, churn to `0`, reactivation), oldest first (then by currency), up to
    /// the day of the last rebuild. Between two points of a currency its MRR is the
    /// earlier point's; before its first point, 0.
    pub mrr_history: Vec<MrrHistoryPoint>,
    pub subscriptions: Vec<Subscription>,
    /// Newest first.
    pub payments: Vec<Payment>,
}

impl CustomerProfile {
    /// The profile, with what the customer list knows (integration, MRR in the
    /// customer's currency, loyalty and risk) from its row, and its MRR history.
    pub fn new(p: ProfileView, row: &CustomerRow, history: &[MrrPoint]) -> Self {
        Self {
            id: p.id,
            integration: row.integration.clone(),
            email: p.email,
            created: p.created.and_then(rfc3339),
            currency: p.currency,
            mrr: row.mrr,
            mrr_by_currency: p
                .mrr_by_currency
                .into_iter()
                .map(|(currency, mrr)| (currency, mrr.to_minor()))
                .collect(),
            lifetime_revenue: p.lifetime_revenue,
            lifetime_revenue_by_currency: p.lifetime_revenue_by_currency,
            successful_payments: p.successful_payments,
            first_payment_at: p.first_payment_at.and_then(rfc3339),
            last_payment_at: p.last_payment_at.and_then(rfc3339),
            plans: p.plans,
            dimensions: p.dims.into(),
            loyalty_score: row.loyalty_score.clone(),
            segment: row.segment.clone(),
            risk: ProfileRisk {
                payment_failure: row.payment_failure_risk,
                churn: row.churn_risk,
                churn_factors: p.churn_factors.iter().filter_map(ChurnFactor::of).collect(),
            },
            mrr_history: history.iter().map(Into::into).collect(),
            subscriptions: p.subscriptions.into_iter().map(Into::into).collect(),
            payments: p.payments.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CardExpires {
    #[schema(minimum = 1, maximum = 12)]
    pub month: u32,
    pub year: u32,
    /// The first second the card is no longer valid.
    #[schema(format = DateTime, required = true)]
    pub expires_at: Option<String>,
}

/// A customer whose card expires before their next renewal.
#[derive(Serialize, ToSchema)]
pub struct PaymentFailureRisk {
    pub customer: String,
    /// The subscriptions that renew after the card expires.
    pub subscriptions: Vec<String>,
    /// The earliest of their renewals.
    #[schema(format = DateTime, required = true)]
    pub renews_at: Option<String>,
    pub card_expires: CardExpires,
    #[schema(required = true)]
    pub card_brand: Option<String>,
    pub currency: String,
    /// Minor units of `currency`.
    pub mrr_at_risk: i64,
}

impl From<&RiskView> for PaymentFailureRisk {
    fn from(r: &RiskView) -> Self {
        Self {
            customer: r.customer.clone(),
            subscriptions: r.subscriptions.clone(),
            renews_at: rfc3339(r.renews_at),
            card_expires: CardExpires {
                month: r.card_expires.month,
                year: r.card_expires.year,
                expires_at: rfc3339(r.card_expires.expires_at),
            },
            card_brand: r.card_brand.clone(),
            currency: r.currency.clone(),
            mrr_at_risk: r.mrr_at_risk.to_minor(),
        }
    }
}

list_reply!(PaymentFailureRiskList of PaymentFailureRisk);
