//! The weekly digest, as data: which week it covers, what "new risk" means, how its
//! text reads, and which Slack webhook URLs a tenant may configure. Pure: the service
//! (`services::digest`) passes the dates, the figures and the risk lists.
//!
//! * The week is the last complete ISO week (Monday to Sunday, UTC) before the day the
//!   digest is computed (ISO 8601: weeks start on Monday).
//! * A customer is a **new risk** when it is on a risk list now and was not on it in
//!   the tenant's previous digest (every listed customer, for the first digest). The
//!   lists: payment-failure risk (the snapshot's list) and churn risk (a churn-risk
//!   score of at least [`CHURN_RISK_ALERT_SCORE`], with MRR to lose).
//! * The digest names customers by their processor id only, never by e-mail or name:
//!   it is posted to a Slack channel.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, IsoWeek, NaiveDate};
use serde::{Deserialize, Serialize};

use super::metrics::minor_unit_exponent;

/// The churn-risk score from which a customer is on the digest's churn-risk list: the
/// points of one strong signal of `churn_risk.weighted_factors_v1` (a pending
/// cancellation alone scores 40).
pub const CHURN_RISK_ALERT_SCORE: u32 = 40;

/// How many new risks of each list the digest names (the largest MRR at risk first).
pub const TOP_RISKS: usize = 5;

/// The Monday of the last ISO week that ended before `today`.
pub fn last_complete_week(today: NaiveDate) -> NaiveDate {
    let into_week = i64::from(today.weekday().num_days_from_monday());
    today - Duration::days(into_week + 7)
}

/// The Monday of the ISO week of `day`.
pub fn week_of(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// The Sunday that ends the week starting on `monday`.
pub fn week_end(monday: NaiveDate) -> NaiveDate {
    monday + Duration::days(6)
}

/// `2026-W48`: the ISO week's name.
pub fn week_label(monday: NaiveDate) -> String {
    let week: IsoWeek = monday.iso_week();
    format!("{}-W{:02}", week.year(), week.week())
}

/// The week's MRR figures in one currency, minor units (as `mrr_movements` reports
/// them: `start_mrr + net == mrr`; contraction and churn are positive magnitudes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DigestFigures {
    pub currency: String,
    pub start_mrr: i64,
    pub mrr: i64,
    pub new: i64,
    pub expansion: i64,
    pub contraction: i64,
    pub churn: i64,
    pub reactivation: i64,
    pub plan_switch: i64,
    pub net: i64,
    /// Paying customers at the week's end.
    pub customers: i64,
    pub new_customers: u64,
    pub churned_customers: u64,
    pub reactivated_customers: u64,
}

/// A customer on a risk list: its processor id and its MRR at risk (minor units of the
/// digest's currency).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AtRisk {
    pub customer: String,
    pub mrr_at_risk: i64,
}

/// One risk list in the digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RiskSummary {
    /// On the list now.
    pub total: usize,
    /// On the list now and not in the previous digest.
    pub new: usize,
    /// The new ones with the largest MRR at risk, at most [`TOP_RISKS`].
    pub top_new: Vec<AtRisk>,
}

/// The new risks of `current` against the ids listed by the previous digest (`None`:
/// there was none, so all are new).
pub fn new_risks(previous: Option<&BTreeSet<String>>, current: &[AtRisk]) -> RiskSummary {
    let mut fresh: Vec<AtRisk> = current
        .iter()
        .filter(|r| previous.is_none_or(|seen| !seen.contains(&r.customer)))
        .cloned()
        .collect();
    fresh.sort_by(|a, b| {
        b.mrr_at_risk
            .cmp(&a.mrr_at_risk)
            .then_with(|| a.customer.cmp(&b.customer))
    });
    let new = fresh.len();
    fresh.truncate(TOP_RISKS);
    RiskSummary {
        total: current.len(),
        new,
        top_new: fresh,
    }
}

/// One week's digest of a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Digest {
    /// `2026-W48`.
    pub week: String,
    pub week_start: NaiveDate,
    pub week_end: NaiveDate,
    pub figures: DigestFigures,
    pub churn_risk: RiskSummary,
    pub payment_failure_risk: RiskSummary,
}

/// `1234.50 EUR` for 123450 minor units of `eur`.
pub fn money(minor: i64, currency: &str) -> String {
    let exponent = minor_unit_exponent(currency);
    let code = currency.to_ascii_uppercase();
    if exponent == 0 {
        return format!("{minor} {code}");
    }
    let scale = 10_i64.pow(exponent);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let scale = scale.unsigned_abs();
    format!(
        "{sign}{}.{:0width$} {code}",
        abs / scale,
        abs % scale,
        width = exponent as usize
    )
}

fn signed_money(minor: i64, currency: &str) -> String {
    if minor > 0 {
        format!("+{}", money(minor, currency))
    } else {
        money(minor, currency)
    }
}

impl Digest {
    /// The digest with its counts only, no customer named: what a viewer (aggregates
    /// only) receives.
    pub fn without_customers(&self) -> Digest {
        let mut digest = self.clone();
        digest.churn_risk.top_new.clear();
        digest.payment_failure_risk.top_new.clear();
        digest
    }

    /// The e-mail's subject.
    pub fn subject(&self) -> String {
        format!(
            "Tally weekly digest {}: MRR {} ({})",
            self.week,
            money(self.figures.mrr, &self.figures.currency),
            signed_money(self.figures.net, &self.figures.currency)
        )
    }

    /// The plain-text body (the e-mail's text part and the Slack message).
    pub fn text(&self) -> String {
        let f = &self.figures;
        let c = f.currency.as_str();
        let mut lines = vec![
            format!(
                "Tally weekly digest, {} ({} to {})",
                self.week, self.week_start, self.week_end
            ),
            String::new(),
            format!(
                "MRR: {} (start {}, net {})",
                money(f.mrr, c),
                money(f.start_mrr, c),
                signed_money(f.net, c)
            ),
            format!(
                "Movements: new {}, expansion {}, contraction {}, churn {}, reactivation {}",
                money(f.new, c),
                money(f.expansion, c),
                money(f.contraction, c),
                money(f.churn, c),
                money(f.reactivation, c)
            ),
            format!(
                "Customers: {} ({} new, {} churned, {} reactivated)",
                f.customers, f.new_customers, f.churned_customers, f.reactivated_customers
            ),
            String::new(),
        ];
        for (name, risk) in [
            ("Churn risk", &self.churn_risk),
            ("Payment-failure risk", &self.payment_failure_risk),
        ] {
            lines.push(format!("{name}: {} new, {} in all", risk.new, risk.total));
            for r in &risk.top_new {
                lines.push(format!(
                    "  - {}: {} at risk",
                    r.customer,
                    money(r.mrr_at_risk, c)
                ));
            }
        }
        lines.join("\n")
    }
}

/// A Slack incoming-webhook URL: `https://hooks.slack.com/services/<a>/<b>/<c>`, each
/// part letters and digits, with no port, credentials, query or fragment. Anything
/// else is refused, so the digest is never posted to another host.
#[derive(Clone, PartialEq, Eq)]
pub struct SlackWebhookUrl(String);

/// Why a URL is not a Slack webhook URL (never the URL itself: it is a secret).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("Not a Slack incoming-webhook URL (https://hooks.slack.com/services/...).")]
pub struct NotASlackWebhook;

impl SlackWebhookUrl {
    pub const MAX_LEN: usize = 300;

    pub fn parse(text: &str) -> Result<Self, NotASlackWebhook> {
        if text.len() > Self::MAX_LEN || text.trim() != text {
            return Err(NotASlackWebhook);
        }
        let url = url::Url::parse(text).map_err(|_| NotASlackWebhook)?;
        let plain = url.scheme() == "https"
            && url.host_str() == Some("hooks.slack.com")
            && url.port().is_none()
            && url.username().is_empty()
            && url.password().is_none()
            && url.query().is_none()
            && url.fragment().is_none();
        let parts: Vec<&str> = url.path().split('/').collect();
        let path_ok = parts.len() == 5
            && parts[0].is_empty()
            && parts[1] == "services"
            && parts[2..]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
        if plain && path_ok {
            Ok(Self(url.as_str().to_owned()))
        } else {
            Err(NotASlackWebhook)
        }
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// ISO 8601: weeks run Monday to Sunday; 2026-11-23 is the Monday of 2026-W48.
    #[test]
    fn the_last_complete_iso_week_ends_on_the_sunday_before() {
        // Thursday 2026-12-03: last complete week is Mon 23 Nov – Sun 29 Nov.
        assert_eq!(last_complete_week(day(2026, 12, 3)), day(2026, 11, 23));
        // On a Monday, the week that ended yesterday.
        assert_eq!(last_complete_week(day(2026, 11, 30)), day(2026, 11, 23));
        // On a Sunday, the week before the one ending today.
        assert_eq!(last_complete_week(day(2026, 11, 29)), day(2026, 11, 16));
        assert_eq!(week_end(day(2026, 11, 23)), day(2026, 11, 29));
        assert_eq!(week_label(day(2026, 11, 23)), "2026-W48");
        // ISO year differs from the calendar year at the turn: 2026-12-28 is 2026-W53.
        assert_eq!(week_label(day(2026, 12, 28)), "2026-W53");
        assert_eq!(week_of(day(2026, 12, 3)), day(2026, 11, 30));
    }

    fn risk(id: &str, mrr: i64) -> AtRisk {
        AtRisk {
            customer: id.into(),
            mrr_at_risk: mrr,
        }
    }

    #[test]
    fn new_risks_are_those_not_listed_by_the_previous_digest_largest_first() {
        let previous: BTreeSet<String> = ["cus_a".to_owned()].into();
        let current = [risk("cus_a", 900), risk("cus_b", 100), risk("cus_c", 500)];
        let summary = new_risks(Some(&previous), &current);
        assert_eq!(summary.total, 3);
        assert_eq!(summary.new, 2);
        assert_eq!(summary.top_new, [risk("cus_c", 500), risk("cus_b", 100)]);
        // Without a previous digest, every listed customer is new.
        assert_eq!(new_risks(None, &current).new, 3);
        // At most TOP_RISKS are named.
        let many: Vec<AtRisk> = (0..9).map(|i| risk(&format!("cus_{i}"), i)).collect();
        let summary = new_risks(None, &many);
        assert_eq!((summary.new, summary.top_new.len()), (9, TOP_RISKS));
        assert_eq!(summary.top_new[0], risk("cus_8", 8));
    }

    #[test]
    fn a_viewer_s_digest_names_no_customer() {
        let current = [risk("cus_a", 900)];
        let digest = Digest {
            week: week_label(day(2026, 11, 23)),
            week_start: day(2026, 11, 23),
            week_end: day(2026, 11, 29),
            figures: DigestFigures {
                currency: "eur".into(),
                start_mrr: 1000,
                mrr: 1500,
                new: 700,
                expansion: 0,
                contraction: 0,
                churn: 200,
                reactivation: 0,
                plan_switch: 0,
                net: 500,
                customers: 3,
                new_customers: 1,
                churned_customers: 1,
                reactivated_customers: 0,
            },
            churn_risk: new_risks(None, &current),
            payment_failure_risk: new_risks(None, &current),
        };
        assert!(digest.text().contains("cus_a: 9.00 EUR at risk"));
        assert!(
            digest
                .text()
                .contains("MRR: 15.00 EUR (start 10.00 EUR, net +5.00 EUR)")
        );
        let counts_only = digest.without_customers();
        assert!(!counts_only.text().contains("cus_a"));
        assert_eq!(counts_only.churn_risk.new, 1);
        assert!(counts_only.text().contains("Churn risk: 1 new, 1 in all"));
    }

    #[test]
    fn money_is_written_in_the_currency_s_minor_unit() {
        assert_eq!(money(123_450, "eur"), "1234.50 EUR");
        assert_eq!(money(-5, "usd"), "-0.05 USD");
        assert_eq!(money(1200, "jpy"), "1200 JPY");
        assert_eq!(money(1_234, "kwd"), "1.234 KWD");
    }

    #[test]
    fn only_slack_incoming_webhook_urls_are_accepted() {
        let good = "https://hooks.slack.com/services/T000/B000/XXXXxxxx1234";
        assert_eq!(SlackWebhookUrl::parse(good).unwrap().into_string(), good);
        for bad in [
            "http://hooks.slack.com/services/T000/B000/XXXX",
            "https://hooks.slack.com.evil.example/services/T000/B000/XXXX",
            "https://evil.example/services/T000/B000/XXXX",
            "https://hooks.slack.com:8443/services/T000/B000/XXXX",
            "https://user:pw@hooks.slack.com/services/T000/B000/XXXX",
            "https://hooks.slack.com/services/T000/B000/XXXX?x=1",
            "https://hooks.slack.com/services/T000/B000/XXXX#x",
            "https://hooks.slack.com/workflows/T000/B000/XXXX",
            "https://hooks.slack.com/services/T000/B000",
            "https://hooks.slack.com/services/T000/B000/XX/YY",
            "https://hooks.slack.com/services/T000/../XXXX",
            "https://hooks.slack.com/services/T000/B000/XX%2F",
            " https://hooks.slack.com/services/T000/B000/XXXX",
            "hooks.slack.com/services/T000/B000/XXXX",
            "",
        ] {
            assert!(SlackWebhookUrl::parse(bad).is_err(), "{bad}");
        }
        let long = format!("https://hooks.slack.com/services/T/B/{}", "x".repeat(400));
        assert!(SlackWebhookUrl::parse(&long).is_err());
    }
}
