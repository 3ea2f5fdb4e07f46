//! The weekly digest's bookkeeping, sealed in the tenant's partition:
//!
//! * `DIGEST#<week's Monday>`: a digest sent (or being sent) for that ISO week — created
//!   only if absent, so a redelivered job finds the week taken and sends nothing again —
//!   with the customer ids on the risk lists then, against which the next digest finds
//!   the new risks. Kept 90 days.
//! * `SETTINGS#SLACK_WEBHOOK`: that the tenant configured a Slack webhook, and when. The
//!   URL itself is in the SecretStore (`tally/<tenant>/slack-webhook`), never here.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::TenantId;
use crate::ports::{Condition, Key, Query, SortKeys};
use crate::repos::{EXPIRES_AT, EntityKey, RepoError, Sealer, tenant_of, with_n};

const DIGEST_PREFIX: &str = "DIGEST#";
const SLACK_SK: &str = "SETTINGS#SLACK_WEBHOOK";
/// How long a digest's record is kept: long enough for the next weeks' comparisons.
pub const DIGEST_RETENTION_DAYS: i64 = 90;

fn day_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestKey {
    pub tenant: TenantId,
    /// The Monday of the ISO week.
    pub week_start: NaiveDate,
}

impl EntityKey for DigestKey {
    fn key(&self) -> Key {
        Key::new(
            self.tenant.partition(),
            format!("{DIGEST_PREFIX}{}", day_text(self.week_start)),
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        let tenant = tenant_of(&key.pk)?;
        let text = key.sk.strip_prefix(DIGEST_PREFIX)?;
        let week_start = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
        (day_text(week_start) == text).then_some(Self { tenant, week_start })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlackSettingKey {
    pub tenant: TenantId,
}

impl EntityKey for SlackSettingKey {
    fn key(&self) -> Key {
        Key::new(self.tenant.partition(), SLACK_SK)
    }
    fn parse(key: &Key) -> Option<Self> {
        let tenant = tenant_of(&key.pk)?;
        (key.sk == SLACK_SK).then_some(Self { tenant })
    }
}

/// A week's digest as recorded: when, and who was on each risk list (processor ids).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DigestRecord {
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub churn_risks: Vec<String>,
    #[serde(default)]
    pub payment_failure_risks: Vec<String>,
}

/// That a Slack webhook is configured (the URL is a secret, elsewhere).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SlackSetting {
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct Digests {
    sealer: Sealer,
}

impl Digests {
    pub(crate) fn new(sealer: Sealer) -> Self {
        Self { sealer }
    }

    /// Records the week's digest if none is recorded: `false` when the week was
    /// already taken (a redelivery, a concurrent run).
    pub async fn claim(
        &self,
        tenant: &TenantId,
        week_start: NaiveDate,
        record: &DigestRecord,
    ) -> Result<bool, RepoError> {
        let key = DigestKey {
            tenant: tenant.clone(),
            week_start,
        };
        let expires_at = (week_start + Duration::days(DIGEST_RETENTION_DAYS))
            .and_hms_opt(0, 0, 0)
            .map_or(0, |at| at.and_utc().timestamp());
        let item = self.sealer.seal(tenant, key.key(), record).await?;
        let item = with_n(item, EXPIRES_AT, expires_at);
        match self.sealer.store.put(item, Condition::Absent).await {
            Ok(()) => Ok(true),
            Err(crate::ports::StoreError::ConditionFailed) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// Gives the week back (its digest could not be sent): the job's retry sends it.
    pub async fn release(&self, tenant: &TenantId, week_start: NaiveDate) -> Result<(), RepoError> {
        let key = DigestKey {
            tenant: tenant.clone(),
            week_start,
        };
        Ok(self
            .sealer
            .store
            .delete(&key.key(), Condition::None)
            .await?)
    }

    /// The latest digest recorded for a week before `week_start`.
    pub async fn previous(
        &self,
        tenant: &TenantId,
        week_start: NaiveDate,
    ) -> Result<Option<DigestRecord>, RepoError> {
        let before = week_start.pred_opt().unwrap_or(week_start);
        let query = Query::new(
            tenant.partition(),
            SortKeys::between(
                DIGEST_PREFIX,
                format!("{DIGEST_PREFIX}{}", day_text(before)),
            ),
        )
        .reverse()
        .limit(1);
        let page = self.sealer.store.query(query).await?;
        match page.items.first() {
            Some(item) => Ok(Some(self.sealer.open(tenant, item).await?)),
            None => Ok(None),
        }
    }

    pub async fn slack(&self, tenant: &TenantId) -> Result<Option<SlackSetting>, RepoError> {
        let key = SlackSettingKey {
            tenant: tenant.clone(),
        };
        Ok(self.sealer.load(tenant, &key.key()).await?.map(|(s, _)| s))
    }

    pub async fn set_slack(
        &self,
        tenant: &TenantId,
        setting: &SlackSetting,
    ) -> Result<(), RepoError> {
        let key = SlackSettingKey {
            tenant: tenant.clone(),
        };
        let item = self.sealer.seal(tenant, key.key(), setting).await?;
        Ok(self.sealer.store.put(item, Condition::None).await?)
    }

    pub async fn clear_slack(&self, tenant: &TenantId) -> Result<(), RepoError> {
        let key = SlackSettingKey {
            tenant: tenant.clone(),
        };
        Ok(self
            .sealer
            .store
            .delete(&key.key(), Condition::None)
            .await?)
    }
}
