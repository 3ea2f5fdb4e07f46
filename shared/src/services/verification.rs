//! Proof of a signing-up admin's e-mail address (docs/api.md, "auth function"). Sign-up
//! sends a single-use token as a reset token is sent (an `EmailVerificationRequested`
//! event carries it); until it comes back through `POST /v1/email/verify`, the tenant
//! may neither connect an integration nor invite users: an address nobody proved must
//! not pull a merchant's data or mail invitations under its name.

use chrono::Duration;

use crate::domain::email::Email;
use crate::domain::ids::{TenantId, UserId};
use crate::ports::Event;
use crate::repos::tokens::TokenKind;
use crate::services::contexts::{Guard, Identity};
use crate::services::error::{Conflict, ServiceError};
use crate::services::records::transact_or;
use crate::services::sessions::TenantCtx;

/// How long a verification token is valid.
pub const VERIFY_TOKEN_DAYS: i64 = 7;

impl Identity {
    /// Issues a verification token for `user` and sends it (the event is the mail).
    pub(crate) async fn send_verification(
        &self,
        tenant: &TenantId,
        user: &UserId,
        email: &Email,
    ) -> Result<(), ServiceError> {
        let valid_for = Duration::days(VERIFY_TOKEN_DAYS);
        self.mail_token(
            TokenKind::Verify,
            "EmailVerificationRequested",
            (tenant, user),
            email.as_str(),
            valid_for,
        )
        .await
    }

    /// Issues a single-use token of `kind` for a user and sends it to `email`: the
    /// event `event_type` is the mail (SES in AWS, `events.jsonl` locally).
    pub(crate) async fn mail_token(
        &self,
        kind: TokenKind,
        event_type: &str,
        (tenant, user): (&TenantId, &UserId),
        email: &str,
        valid_for: Duration,
    ) -> Result<(), ServiceError> {
        let token = self
            .guard
            .issue_token(kind, tenant, user, valid_for)
            .await?;
        let event = Event::new(event_type, self.now())
            .tenant(tenant.as_str())
            .field("user_id", user.as_str())
            .field("email", email)
            .field("token", token)
            .field("expires_at", (self.now() + valid_for).to_rfc3339());
        Ok(self.events.publish(&event).await?)
    }

    /// `POST /v1/email/verify/resend`: a fresh token, while the address is unproven.
    pub async fn resend_verification(&self, ctx: &TenantCtx) -> Result<(), ServiceError> {
        let tenant = self
            .repos
            .tenants
            .get(ctx.tenant())
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        if tenant.record.email_verified {
            return Ok(());
        }
        let user = self
            .repos
            .users
            .get(ctx.tenant(), ctx.user())
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        let email = Email::parse(&user.record.email).map_err(ServiceError::internal)?;
        self.send_verification(ctx.tenant(), ctx.user(), &email)
            .await
    }

    /// `POST /v1/email/verify`: marks the tenant's address proven and uses the token
    /// up, together. `InvalidToken` for a bad, used or expired token.
    pub async fn verify_email(
        &self,
        token: &str,
        ip: std::net::IpAddr,
    ) -> Result<(), ServiceError> {
        let (tenant, user, key) = self.guard.token_owner(TokenKind::Verify, token).await?;
        let stored = self
            .repos
            .tenants
            .get(&tenant)
            .await?
            .filter(|t| t.is_active())
            .ok_or(ServiceError::InvalidToken)?;
        let mut record = stored.record.clone();
        record.email_verified = true;
        let ops = vec![
            self.repos.tenants.update(&tenant, &stored, &record).await?,
            self.repos.tokens.consume_write(&key),
        ];
        transact_or(&self.repos, ops, ServiceError::InvalidToken).await?;
        self.guard
            .audit(
                &tenant,
                Some(&user),
                "EmailVerified",
                Some(format!("user:{user}")),
                Some(ip),
            )
            .await
    }

    /// Marks a tenant's address proven without a token: for a tenant the operator
    /// made on their own machine (`local serve --demo`, the bench), never over HTTP.
    pub async fn mark_email_verified(&self, tenant: &TenantId) -> Result<(), ServiceError> {
        let stored = self
            .repos
            .tenants
            .get(tenant)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let mut record = stored.record.clone();
        record.email_verified = true;
        let write = self.repos.tenants.update(tenant, &stored, &record).await?;
        transact_or(
            &self.repos,
            vec![write],
            ServiceError::Conflict(Conflict::ConcurrentUpdate),
        )
        .await
    }
}

impl Guard {
    /// Refuses (`email_unverified`) while the tenant's address is unproven.
    pub(crate) async fn require_verified_email(
        &self,
        tenant: &TenantId,
    ) -> Result<(), ServiceError> {
        match self.repos.tenants.get(tenant).await? {
            Some(stored) if stored.record.email_verified => Ok(()),
            _ => Err(ServiceError::Conflict(Conflict::EmailUnverified)),
        }
    }
}
