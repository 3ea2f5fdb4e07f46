//! Loyalty: RFM scores and segments (`rfm.quintiles_of_paying_customers`,
//! `segments.new_then_recent_or_lapsed`).
//!
//! Over the customers with at least one succeeded charge:
//! * recency = whole days since the last succeeded charge (fewer is better);
//! * frequency = succeeded charges; monetary = lifetime revenue (more is better);
//! * each scored 1–5 by quintile: 1 + floor(5 × customers strictly worse ÷ customers),
//!   so equal values always share a score; the score string is R, F, M ("543").
//!
//! Segments, first match: `new` (first payment within 30 days); `champions` (R≥4, F≥4,
//! M≥4); `loyal` (other recent payers, R≥3); then among lapsed payers (R≤2):
//! `cant_lose` (M≥4), `at_risk` (F≥3), `hibernating` (the rest).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::MetricsError;
use super::calendar::SECONDS_PER_DAY;
use super::customers::CustomerProfile;
use super::money::Mrr;
use super::series::CurrencyMode;

/// A first payment this recent makes a customer `new`.
pub const NEW_CUSTOMER_DAYS: i64 = 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum RfmSegment {
    Champions,
    Loyal,
    AtRisk,
    CantLose,
    Hibernating,
    New,
}

impl RfmSegment {
    pub const ALL: [RfmSegment; 6] = [
        RfmSegment::Champions,
        RfmSegment::Loyal,
        RfmSegment::AtRisk,
        RfmSegment::CantLose,
        RfmSegment::Hibernating,
        RfmSegment::New,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            RfmSegment::Champions => "champions",
            RfmSegment::Loyal => "loyal",
            RfmSegment::AtRisk => "at_risk",
            RfmSegment::CantLose => "cant_lose",
            RfmSegment::Hibernating => "hibernating",
            RfmSegment::New => "new",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loyalty {
    pub customer: String,
    pub recency_days: i64,
    pub frequency: u64,
    /// Lifetime revenue in the reporting currency.
    pub monetary: Mrr,
    pub r: u8,
    pub f: u8,
    pub m: u8,
    /// "543": R, F, M.
    pub score: String,
    pub segment: RfmSegment,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentSummary {
    pub name: RfmSegment,
    pub customers: u64,
    /// MRR now of the segment's customers, in the reporting currency.
    pub mrr: Mrr,
}

/// An amount per currency in the reporting currency: converted at the stored rates, or
/// (native mode) only the amount already in that currency.
fn in_reporting(
    amounts: &BTreeMap<String, Mrr>,
    currency: &CurrencyMode,
    as_of: i64,
) -> Result<Mrr, MetricsError> {
    let day = super::calendar::day_of(as_of);
    let mut total = Mrr::ZERO;
    for (code, amount) in amounts {
        total += match currency {
            CurrencyMode::Native(wanted) if wanted.eq_ignore_ascii_case(code) => *amount,
            CurrencyMode::Native(_) => Mrr::ZERO,
            // A currency without any rate adds nothing here (the series list it).
            CurrencyMode::Converted { to, rates } => match rates.factor_on(code, to, day) {
                Ok(factor) => factor.apply(*amount),
                Err(MetricsError::MissingFxRate(missing)) if missing != *to => Mrr::ZERO,
                Err(other) => return Err(other),
            },
        };
    }
    Ok(total)
}

/// 1 + floor(5 × worse ÷ n), where `worse` counts values strictly worse than `value` in
/// `sorted` (ascending; a smaller value is worse unless `smaller_is_better`).
fn quintile(sorted: &[i128], value: i128, smaller_is_better: bool) -> u8 {
    let n = sorted.len().max(1);
    let worse = if smaller_is_better {
        sorted.len() - sorted.partition_point(|v| *v <= value)
    } else {
        sorted.partition_point(|v| *v < value)
    };
    (1 + 5 * worse / n).min(5) as u8
}

pub(crate) fn segment(r: u8, f: u8, m: u8, is_new: bool) -> RfmSegment {
    match () {
        _ if is_new => RfmSegment::New,
        _ if r >= 4 && f >= 4 && m >= 4 => RfmSegment::Champions,
        _ if r >= 3 => RfmSegment::Loyal,
        _ if m >= 4 => RfmSegment::CantLose,
        _ if f >= 3 => RfmSegment::AtRisk,
        _ => RfmSegment::Hibernating,
    }
}

/// Scores every paying customer (profiles without a succeeded charge get none).
pub fn rfm_scores(
    profiles: &[CustomerProfile],
    as_of: i64,
    currency: &CurrencyMode,
) -> Result<Vec<Loyalty>, MetricsError> {
    struct Raw<'a> {
        profile: &'a CustomerProfile,
        recency: i128,
        frequency: i128,
        monetary: Mrr,
        first_payment: i64,
    }
    let mut raws = Vec::new();
    for profile in profiles {
        let (Some(last), Some(first)) = (profile.last_payment_at, profile.first_payment_at) else {
            continue;
        };
        let revenue: BTreeMap<String, Mrr> = profile
            .lifetime_revenue_by_currency
            .iter()
            .map(|(code, minor)| (code.clone(), Mrr::from_minor(*minor)))
            .collect();
        raws.push(Raw {
            profile,
            recency: i128::from((as_of - last).max(0) / SECONDS_PER_DAY),
            frequency: i128::from(profile.successful_payments),
            monetary: in_reporting(&revenue, currency, as_of)?,
            first_payment: first,
        });
    }
    let sorted = |value: fn(&Raw<'_>) -> i128| {
        let mut values: Vec<i128> = raws.iter().map(value).collect();
        values.sort_unstable();
        values
    };
    let recencies = sorted(|raw| raw.recency);
    let frequencies = sorted(|raw| raw.frequency);
    let monetaries = sorted(|raw| raw.monetary.0);
    Ok(raws
        .iter()
        .map(|raw| {
            let r = quintile(&recencies, raw.recency, true);
            let f = quintile(&frequencies, raw.frequency, false);
            let m = quintile(&monetaries, raw.monetary.0, false);
            let is_new = as_of - raw.first_payment <= NEW_CUSTOMER_DAYS * SECONDS_PER_DAY;
            Loyalty {
                customer: raw.profile.id.clone(),
                recency_days: raw.recency as i64,
                frequency: raw.profile.successful_payments,
                monetary: raw.monetary,
                r,
                f,
                m,
                score: format!("{r}{f}{m}"),
                segment: segment(r, f, m, is_new),
            }
        })
        .collect())
}

/// Customers and MRR per segment (every segment listed, in [`RfmSegment::ALL`] order).
pub fn segments(
    profiles: &[CustomerProfile],
    loyalties: &[Loyalty],
    currency: &CurrencyMode,
    as_of: i64,
) -> Result<Vec<SegmentSummary>, MetricsError> {
    let by_id: BTreeMap<&str, &CustomerProfile> =
        profiles.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut summaries: Vec<SegmentSummary> = RfmSegment::ALL
        .into_iter()
        .map(|name| SegmentSummary {
            name,
            customers: 0,
            mrr: Mrr::ZERO,
        })
        .collect();
    for loyalty in loyalties {
        let mrr = match by_id.get(loyalty.customer.as_str()) {
            Some(profile) => in_reporting(&profile.mrr_by_currency, currency, as_of)?,
            None => Mrr::ZERO,
        };
        if let Some(summary) = summaries.iter_mut().find(|s| s.name == loyalty.segment) {
            summary.customers += 1;
            summary.mrr += mrr;
        }
    }
    Ok(summaries)
}
