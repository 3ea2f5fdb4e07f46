//! Password change (signed in, or with the change token an expired password gets),
//! reset by e-mailed token, and the rules every new password passes: the tenant's
//! policy, the blocklist, and none of the last five.

use std::net::IpAddr;

use chrono::Duration;
use secrecy::{ExposeSecret, SecretString};

use crate::domain::email::Email;
use crate::domain::ids::{TenantId, UserId};
use crate::domain::password::PasswordPolicy;
use crate::repos::Write;
use crate::repos::tokens::{TokenKey, TokenKind};
use crate::services::accounts::check_policy;
use crate::services::contexts::Identity;
use crate::services::error::ServiceError;
use crate::services::hashing::{hash_password, password_reused};
use crate::services::records::transact_or;
use crate::services::records::{Stored, UserRecord};
use crate::services::sessions::{AUTH_REQUESTS_PER_MINUTE, TenantCtx};

/// How long an e-mailed reset token is valid.
pub const RESET_TOKEN_MINUTES: i64 = 30;
/// The least time a reset request takes, found account or not: well above what
/// issuing a token, publishing the mail and auditing cost (a few store and bus calls,
/// tens of milliseconds in AWS), so both answers leave after the same wait.
pub const RESET_REQUEST_MIN_TIME: std::time::Duration = std::time::Duration::from_millis(250);

impl Identity {
    /// `POST /v1/password/change` while signed in. Ends every other session.
    pub async fn change_password(
        &self,
        ctx: &TenantCtx,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<(), ServiceError> {
        let user = self
            .repos
            .users
            .get(ctx.tenant(), ctx.user())
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        self.guard
            .recheck_password(ctx, &user.record, current)
            .await?;
        self.set_password(ctx.tenant(), ctx.user(), user, new, Vec::new())
            .await?;
        self.gate
            .end_user_sessions(ctx.tenant(), ctx.user(), Some(ctx.session()))
            .await?;
        self.guard
            .security_event(ctx.tenant(), ctx.user(), "PasswordChanged", Some(ctx.ip()))
            .await
    }

    /// `POST /v1/password/change` with the single-use token of an expired password.
    pub async fn change_expired_password(
        &self,
        change_token: &str,
        new: &SecretString,
        ip: IpAddr,
    ) -> Result<(), ServiceError> {
        let (tenant, user_id, token_key, user) =
            self.password_token(TokenKind::Change, change_token).await?;
        let consume = self.repos.tokens.consume_write(&token_key);
        self.set_password(&tenant, &user_id, user, new, vec![consume])
            .await?;
        self.gate.end_user_sessions(&tenant, &user_id, None).await?;
        self.guard
            .security_event(&tenant, &user_id, "PasswordChanged", Some(ip))
            .await
    }

    /// `POST /v1/password/reset-request`: always accepted; a mail (event) only when the
    /// address has an active account. Every accepted request takes at least
    /// [`RESET_REQUEST_MIN_TIME`], so its time does not tell whether a mail went out.
    pub async fn request_password_reset(
        &self,
        email: &str,
        ip: IpAddr,
    ) -> Result<(), ServiceError> {
        self.guard
            .check_rate("auth", ip, AUTH_REQUESTS_PER_MINUTE)
            .await?;
        let started = tokio::time::Instant::now();
        let outcome = self.send_reset(email, ip).await;
        tokio::time::sleep_until(started + RESET_REQUEST_MIN_TIME).await;
        outcome
    }

    async fn send_reset(&self, email: &str, ip: IpAddr) -> Result<(), ServiceError> {
        let Ok(email) = Email::parse(email) else {
            return Ok(());
        };
        let email_hash = self.guard.email_hash(&email).await?;
        let Some((tenant, user_id)) = self.repos.email_lookups.get(&email_hash).await? else {
            return Ok(());
        };
        match self.repos.users.get(&tenant, &user_id).await? {
            Some(user) if !user.record.disabled => {}
            _ => return Ok(()),
        }
        self.mail_token(
            TokenKind::Reset,
            "PasswordResetRequested",
            (&tenant, &user_id),
            email.as_str(),
            Duration::minutes(RESET_TOKEN_MINUTES),
        )
        .await?;
        self.guard
            .audit(
                &tenant,
                Some(&user_id),
                "PasswordResetRequested",
                Some(format!("user:{user_id}")),
                Some(ip),
            )
            .await
    }

    /// `POST /v1/password/reset`: sets the password, consumes the token, lifts the
    /// lockout and ends every session of the user, together.
    pub async fn reset_password(
        &self,
        token: &str,
        new: &SecretString,
        ip: IpAddr,
    ) -> Result<(), ServiceError> {
        let (tenant, user_id, token_key, user) =
            self.password_token(TokenKind::Reset, token).await?;
        let email = Email::parse(&user.record.email).map_err(ServiceError::internal)?;
        let email_hash = self.guard.email_hash(&email).await?;
        let extra = vec![
            self.repos.tokens.consume_write(&token_key),
            self.repos.failed_logins.clear_write(&email_hash),
        ];
        self.set_password(&tenant, &user_id, user, new, extra)
            .await?;
        self.gate.end_user_sessions(&tenant, &user_id, None).await?;
        self.guard
            .security_event(&tenant, &user_id, "PasswordReset", Some(ip))
            .await
    }

    /// The user a reset or change token acts for. A token issued before the user's
    /// password was last set is spent: a reset or change uses up every such token the
    /// user still holds, whichever one it came with. (The password write is
    /// conditional on the user's version, so two tokens racing set it once.)
    async fn password_token(
        &self,
        kind: TokenKind,
        token: &str,
    ) -> Result<(TenantId, UserId, TokenKey, Stored<UserRecord>), ServiceError> {
        let (tenant, user_id, token_key, issued_at_ms) =
            self.guard.token_issued(kind, token).await?;
        let user = self
            .repos
            .users
            .get(&tenant, &user_id)
            .await?
            .ok_or(ServiceError::InvalidToken)?;
        let set_at_ms = user.record.password_set_at.timestamp_millis();
        if issued_at_ms.is_none_or(|issued| issued < set_at_ms) {
            return Err(ServiceError::InvalidToken);
        }
        Ok((tenant, user_id, token_key, user))
    }

    /// Checks and stores a new password with `extra` writes in one transaction. A
    /// concurrent change of the user, or an already consumed token, is `InvalidToken`.
    async fn set_password(
        &self,
        tenant: &TenantId,
        user_id: &UserId,
        user: Stored<UserRecord>,
        new: &SecretString,
        extra: Vec<Write>,
    ) -> Result<(), ServiceError> {
        let tenant_record = self
            .repos
            .tenants
            .get(tenant)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let policy = PasswordPolicy::new(tenant_record.record.policy.preset);
        check_policy(policy, new.expose_secret())?;
        let mut record = user.record;
        let depth = policy.history_depth();
        let remembered: Vec<String> = std::iter::once(record.password_hash.clone())
            .chain(record.password_history.iter().cloned())
            .take(depth)
            .collect();
        if password_reused(&remembered, new).await {
            return Err(ServiceError::PasswordReused);
        }
        record.password_hash = hash_password(new).await?;
        record.password_history = remembered
            .into_iter()
            .take(depth.saturating_sub(1))
            .collect();
        record.password_set_at = self.now();
        let mut ops = vec![
            self.repos
                .users
                .update(tenant, user_id, &record, user.version)
                .await?,
        ];
        ops.extend(extra);
        transact_or(&self.repos, ops, ServiceError::InvalidToken).await
    }
}
