//! The weekly digest (issue 18, item 7): every Monday the `sweep` function's
//! `plan_digests` schedule publishes one `DigestDue` per active tenant with connected
//! data; each is one invocation that computes the last complete ISO week's figures
//! ([`Analytics::weekly_digest`]) and sends them:
//!
//! * one `WeeklyDigest` event per user who opted in (`PUT /v1/me/digest`), shaped like
//!   the other mail events (`tenant_id, user_id, email` and the message: `subject,
//!   text`, plus `week_start, week_end, figures, churn_risk, payment_failure_risk`) —
//!   in AWS an EventBridge event for the mailer (SES), locally a line of `events.jsonl`.
//!   A viewer's names no customer (counts only), and a viewer gets none when the
//!   tenant has fewer customers than its k-anonymity threshold;
//! * one message to the tenant's Slack webhook, if one is configured. Its failure is
//!   logged (never with the URL) and does not fail the e-mails.
//!
//! The week is claimed before anything is sent (`repos::digests`, created only if
//! absent), so a redelivered `DigestDue` sends nothing twice; when the e-mails cannot
//! be published the claim is released and the job fails, for its retry.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::adapters::slack::HttpSlack;
use crate::domain::digest::{
    AtRisk, CHURN_RISK_ALERT_SCORE, Digest, DigestFigures, last_complete_week, new_risks, week_end,
    week_label,
};
use crate::domain::ids::TenantId;
use crate::domain::metrics::{Metric, SeriesInterval, SeriesQuery, metric_series, mrr_series};
use crate::domain::roles::{Access, Role};
use crate::ports::{Event, SecretName, SlackMessage, SlackSender};
use crate::repos::digests::DigestRecord;
use crate::services::contexts::{Analytics, Tenancy};
use crate::services::error::{ErrorChain, ServiceError};
use crate::services::jobs::{self, DigestJob, Job};

/// The mail event of a digest, one per opted-in user.
pub const WEEKLY_DIGEST: &str = "WeeklyDigest";

/// What one digest job did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestReport {
    pub week_start: Option<NaiveDate>,
    /// `WeeklyDigest` events published.
    pub emails: u64,
    /// Whether the Slack message was delivered.
    pub slack: bool,
    /// False when the week's digest had been sent already, or there is nothing to
    /// report (no data yet, a closed tenant).
    pub sent: bool,
}

impl Analytics {
    /// The tenant's digest of the ISO week starting on `week_start`, in the reporting
    /// currency, with the risk lists to record; `None` before the first sync.
    pub async fn weekly_digest(
        &self,
        tenant: &TenantId,
        week_start: NaiveDate,
    ) -> Result<Option<(Digest, DigestRecord)>, ServiceError> {
        let Some(snapshot) = self.snapshot(tenant).await? else {
            return Ok(None);
        };
        let query = SeriesQuery {
            from: week_start,
            to: week_end(week_start),
            interval: SeriesInterval::Week,
            currency: self
                .query_currency(tenant, None, &snapshot.reporting_currency)
                .await?,
            filters: Vec::new(),
            customers: None,
            group_by: None,
        };
        // The money as `GET /v1/metrics/mrr_movements` reports it (rounded once, there),
        // the customer counts from the same walk.
        let movements = metric_series(&snapshot.facts, Metric::MrrMovements, &query)
            .map_err(ServiceError::internal)?;
        let walk = mrr_series(&snapshot.facts, &query).map_err(ServiceError::internal)?;
        let (Some(money), Some(point)) = (
            movements.series.first().and_then(|p| p.movements),
            walk.points.first(),
        ) else {
            return Err(ServiceError::internal("a week's series has no point"));
        };
        let figures = DigestFigures {
            currency: movements.currency.clone(),
            start_mrr: money.start_mrr,
            mrr: money.mrr,
            new: money.new,
            expansion: money.expansion,
            contraction: money.contraction,
            churn: money.churn,
            reactivation: money.reactivation,
            plan_switch: money.plan_switch,
            net: money.net,
            customers: point.customers,
            new_customers: point.new_customers,
            churned_customers: point.churned_customers,
            reactivated_customers: point.reactivated_customers,
        };
        // Risk lists as of the snapshot, each customer once, with its MRR in the
        // reporting currency.
        let mrr_of = |id: &str| {
            snapshot
                .customers
                .iter()
                .find(|c| c.id == id)
                .map_or(0, |c| c.reporting_mrr)
        };
        let churn: Vec<AtRisk> = snapshot
            .customers
            .iter()
            // A customer paying nothing has no MRR at risk (one already gone, say).
            .filter(|c| c.churn_risk >= CHURN_RISK_ALERT_SCORE && c.reporting_mrr > 0)
            .map(|c| AtRisk {
                customer: c.id.clone(),
                mrr_at_risk: c.reporting_mrr,
            })
            .collect();
        let failing: BTreeSet<&str> = snapshot
            .payment_failure_risks
            .iter()
            .map(|r| r.customer.as_str())
            .collect();
        let failing: Vec<AtRisk> = failing
            .into_iter()
            .map(|id| AtRisk {
                customer: id.to_owned(),
                mrr_at_risk: mrr_of(id),
            })
            .collect();
        let previous = self.repos.digests.previous(tenant, week_start).await?;
        let ids = |list: &[String]| list.iter().cloned().collect::<BTreeSet<String>>();
        let seen_churn = previous.as_ref().map(|p| ids(&p.churn_risks));
        let seen_failing = previous.as_ref().map(|p| ids(&p.payment_failure_risks));
        let digest = Digest {
            week: week_label(week_start),
            week_start,
            week_end: week_end(week_start),
            figures,
            churn_risk: new_risks(seen_churn.as_ref(), &churn),
            payment_failure_risk: new_risks(seen_failing.as_ref(), &failing),
        };
        let record = DigestRecord {
            sent_at: Some(self.now()),
            churn_risks: churn.into_iter().map(|r| r.customer).collect(),
            payment_failure_risks: failing.into_iter().map(|r| r.customer).collect(),
        };
        Ok(Some((digest, record)))
    }

    /// The digest the next run would send (`GET /v1/settings/digest/preview`): the last
    /// complete week's; nothing is recorded or sent.
    pub async fn digest_preview(&self, tenant: &TenantId) -> Result<Option<Digest>, ServiceError> {
        let week = last_complete_week(self.now().date_naive());
        Ok(self.weekly_digest(tenant, week).await?.map(|(d, _)| d))
    }
}

impl Tenancy {
    /// Replaces the Slack sender before the first digest (tests; the default posts with
    /// reqwest). `false` when one is in place already.
    pub fn override_slack(&self, sender: Arc<dyn SlackSender>) -> bool {
        self.slack.set(sender).is_ok()
    }

    fn slack_sender(&self) -> Arc<dyn SlackSender> {
        self.slack
            .get_or_init(|| Arc::new(HttpSlack::new()))
            .clone()
    }

    /// One digest job per active tenant with a connected integration, for the last
    /// complete week.
    pub async fn plan_digests(&self) -> Result<Vec<Job>, ServiceError> {
        let week = last_complete_week(self.now().date_naive());
        let mut tenants = BTreeSet::new();
        for entry in self.repos.integrations.schedule().await? {
            if entry.status != Some(crate::services::integrations::IntegrationStatus::Disconnected)
            {
                tenants.insert(entry.tenant);
            }
        }
        Ok(tenants
            .into_iter()
            .map(|tenant_id| {
                Job::SendDigest(DigestJob {
                    tenant_id,
                    week_start: Some(week),
                })
            })
            .collect())
    }

    /// Publishes [`Tenancy::plan_digests`]'s jobs, one invocation each.
    pub async fn publish_planned_digests(&self) -> Result<u64, ServiceError> {
        let planned = self.plan_digests().await?;
        jobs::publish_each(self.events.as_ref(), planned, self.now(), "digests").await
    }

    /// Sends one tenant's digest of one week, once.
    pub async fn send_digest(&self, job: &DigestJob) -> Result<DigestReport, ServiceError> {
        let tenant = &job.tenant_id;
        let week = job
            .week_start
            .map(crate::domain::digest::week_of)
            .unwrap_or_else(|| last_complete_week(self.now().date_naive()));
        let mut report = DigestReport {
            week_start: Some(week),
            ..DigestReport::default()
        };
        let active = self.repos.tenants.get(tenant).await?;
        if !active.is_some_and(|t| t.is_active()) {
            return Ok(report);
        }
        let Some((digest, record)) = self.analytics.weekly_digest(tenant, week).await? else {
            return Ok(report);
        };
        if !self.repos.digests.claim(tenant, week, &record).await? {
            tracing::info!(tenant_id = %tenant, week = %digest.week, "digest already sent");
            return Ok(report);
        }
        match self.publish_digest_mails(tenant, &digest).await {
            Ok(emails) => report.emails = emails,
            Err(err) => {
                if let Err(release) = self.repos.digests.release(tenant, week).await {
                    tracing::error!(error = %ErrorChain(&ServiceError::from(release)), "a digest's week could not be released");
                }
                return Err(err);
            }
        }
        report.sent = true;
        report.slack = self.post_to_slack(tenant, &digest).await;
        tracing::info!(tenant_id = %tenant, week = %digest.week, emails = report.emails, slack = report.slack, "digest sent");
        Ok(report)
    }

    async fn publish_digest_mails(
        &self,
        tenant: &TenantId,
        digest: &Digest,
    ) -> Result<u64, ServiceError> {
        // Viewers get aggregates only: no customer named, and nothing at all when the
        // tenant has fewer customers than its k-anonymity threshold (as their metric
        // replies are suppressed then).
        let counts_only = digest.without_customers();
        let viewers_suppressed = match self.analytics.snapshot(tenant).await? {
            Some(snapshot) => {
                self.analytics
                    .suppression(tenant, Role::Viewer, &snapshot.facts, &[], None)
                    .await?
                    .all
            }
            None => true,
        };
        let mut sent = 0;
        for (user_id, user) in self.repos.users.all(tenant).await? {
            let user = user.record;
            if !user.digest_weekly || user.disabled || user.invited {
                continue;
            }
            let digest = if user.role.allows(Access::CustomerData) {
                digest
            } else if viewers_suppressed {
                continue;
            } else {
                &counts_only
            };
            let event = Event::new(WEEKLY_DIGEST, self.now())
                .tenant(tenant.as_str())
                .field("user_id", user_id.as_str())
                .field("email", user.email.as_str())
                .field("subject", digest.subject())
                .field("text", digest.text())
                .field("week", digest.week.as_str())
                .field("week_start", digest.week_start.to_string())
                .field("week_end", digest.week_end.to_string())
                .field("figures", json(&digest.figures)?)
                .field("churn_risk", json(&digest.churn_risk)?)
                .field("payment_failure_risk", json(&digest.payment_failure_risk)?);
            self.events.publish(&event).await?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Posts the digest to the tenant's Slack webhook, if configured: `true` when
    /// delivered. A failure is logged without the URL and not returned.
    async fn post_to_slack(&self, tenant: &TenantId, digest: &Digest) -> bool {
        let configured = match self.repos.digests.slack(tenant).await {
            Ok(setting) => setting.is_some(),
            Err(err) => {
                tracing::warn!(tenant_id = %tenant, error = %ErrorChain(&ServiceError::from(err)), "the Slack setting could not be read");
                return false;
            }
        };
        if !configured {
            return false;
        }
        let url = match SecretName::slack_webhook(tenant.as_str()) {
            Ok(name) => self.secrets.get(&name).await,
            Err(err) => Err(err),
        };
        let url = match url {
            Ok(Some(url)) => url,
            Ok(None) => return false,
            Err(err) => {
                tracing::warn!(tenant_id = %tenant, error = %err, "the Slack webhook could not be read");
                return false;
            }
        };
        let message = SlackMessage {
            text: digest.text(),
        };
        match self.slack_sender().post(&url, &message).await {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(tenant_id = %tenant, error = %err, "the digest was not posted to Slack");
                false
            }
        }
    }
}

/// A digest's part as an event field.
fn json<T: Serialize>(value: &T) -> Result<serde_json::Value, ServiceError> {
    serde_json::to_value(value).map_err(ServiceError::internal)
}
