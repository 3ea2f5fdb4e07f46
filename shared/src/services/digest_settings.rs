//! The weekly digest's settings: each user's opt-in (on the user's record, off unless
//! set) and the tenant's Slack webhook (the URL in the SecretStore under
//! `tally/<tenant>/slack-webhook`, like an integration's credentials; only the fact
//! that one is configured, and when, in the table). The URL is never returned, logged
//! or audited: whoever holds it may post to the tenant's channel.

use secrecy::SecretString;

use crate::domain::digest::SlackWebhookUrl;
use crate::ports::SecretName;
use crate::repos::digests::SlackSetting;
use crate::services::TenantCtx;
use crate::services::contexts::{Identity, Integrations};
use crate::services::error::{Conflict, ServiceError};

impl Identity {
    /// Whether the caller receives the weekly digest by e-mail.
    pub async fn digest_subscription(&self, ctx: &TenantCtx) -> Result<bool, ServiceError> {
        let user = self
            .repos
            .users
            .get(ctx.tenant(), ctx.user())
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        Ok(user.record.digest_weekly)
    }

    /// Turns the caller's weekly digest on or off; returns the new state.
    pub async fn set_digest_subscription(
        &self,
        ctx: &TenantCtx,
        weekly: bool,
    ) -> Result<bool, ServiceError> {
        let mut user = self
            .repos
            .users
            .get(ctx.tenant(), ctx.user())
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        if user.record.digest_weekly == weekly {
            return Ok(weekly);
        }
        user.record.digest_weekly = weekly;
        match self.repos.users.save(ctx.tenant(), ctx.user(), &user).await {
            Ok(()) => Ok(weekly),
            Err(err) if err.is_conflict() => {
                Err(ServiceError::Conflict(Conflict::ConcurrentUpdate))
            }
            Err(err) => Err(err.into()),
        }
    }
}

fn secret_name(ctx: &TenantCtx) -> Result<SecretName, ServiceError> {
    Ok(SecretName::slack_webhook(ctx.tenant().as_str())?)
}

impl Integrations {
    /// Whether the tenant has a Slack webhook, and since when.
    pub async fn slack_webhook(
        &self,
        ctx: &TenantCtx,
    ) -> Result<Option<SlackSetting>, ServiceError> {
        Ok(self.repos.digests.slack(ctx.tenant()).await?)
    }

    /// Stores (or replaces) the tenant's Slack webhook URL. The secret is written
    /// first: a failure after it leaves a secret the digest does not use (it reads the
    /// setting first) and closure deletes.
    pub async fn set_slack_webhook(
        &self,
        ctx: &TenantCtx,
        url: SlackWebhookUrl,
    ) -> Result<SlackSetting, ServiceError> {
        let value = SecretString::from(url.into_string());
        self.secrets.put(&secret_name(ctx)?, &value).await?;
        let setting = SlackSetting {
            updated_at: self.now(),
        };
        self.repos.digests.set_slack(ctx.tenant(), &setting).await?;
        self.guard
            .audit(
                ctx.tenant(),
                Some(ctx.user()),
                "SlackWebhookSet",
                None,
                Some(ctx.ip()),
            )
            .await?;
        Ok(setting)
    }

    /// Deletes the tenant's Slack webhook (the secret first, then the setting).
    /// Deleting none succeeds.
    pub async fn delete_slack_webhook(&self, ctx: &TenantCtx) -> Result<(), ServiceError> {
        self.secrets.delete(&secret_name(ctx)?).await?;
        self.repos.digests.clear_slack(ctx.tenant()).await?;
        self.guard
            .audit(
                ctx.tenant(),
                Some(ctx.user()),
                "SlackWebhookDeleted",
                None,
                Some(ctx.ip()),
            )
            .await?;
        Ok(())
    }
}
