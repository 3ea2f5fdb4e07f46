//! Re-checks of a signed-in user's password or second factor (2FA setup and removal,
//! password change, account closure), counted like sign-ins (docs/design.md §4: every
//! password or second-factor check anywhere counts toward the lockout).
//!
//! A stolen session must not become an unlimited password oracle. So a re-check spends
//! the client address's sign-in rate budget, reserves its place in the account's
//! failure count before it verifies (as sign-in does, so parallel guesses get no more
//! tries), and a locked account is refused even with the right answer. A failure keeps
//! its reservation and is audited; the one that reaches the limit locks the account
//! (`AccountLocked`, as at sign-in); a success gives the reservation back.

use secrecy::SecretString;

use crate::domain::email::Email;
use crate::domain::sign_in::MAX_FAILED_LOGINS;
use crate::services::contexts::Guard;
use crate::services::error::ServiceError;
use crate::services::hashing::{verify_dummy, verify_password};
use crate::services::records::UserRecord;
use crate::services::sessions::{AUTH_REQUESTS_PER_MINUTE, TenantCtx};

/// What is being checked again, as the audit log names its failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Recheck {
    Password,
    SecondFactor,
}

impl Recheck {
    fn failure_action(self) -> &'static str {
        match self {
            Recheck::Password => "PasswordCheckFailed",
            Recheck::SecondFactor => "SecondFactorCheckFailed",
        }
    }
}

/// A place reserved in the failure count, to settle once the answer is known.
pub(crate) struct Reservation {
    email_hash: String,
    count: i64,
    what: Recheck,
}

impl Guard {
    /// Spends the rate budget and reserves a failure for a re-check of `user`. A
    /// locked account is refused here (`PasswordResetRequired`), audited.
    pub(crate) async fn reserve_recheck(
        &self,
        ctx: &TenantCtx,
        user: &UserRecord,
        what: Recheck,
    ) -> Result<Reservation, ServiceError> {
        self.check_rate("auth", ctx.ip(), AUTH_REQUESTS_PER_MINUTE)
            .await?;
        let email = Email::parse(&user.email).map_err(ServiceError::internal)?;
        let email_hash = self.email_hash(&email).await?;
        let count = self.repos.failed_logins.add(&email_hash, 1, None).await?;
        if count > MAX_FAILED_LOGINS {
            self.audit_failure(ctx, what).await?;
            return Err(ServiceError::PasswordResetRequired);
        }
        Ok(Reservation {
            email_hash,
            count,
            what,
        })
    }

    /// Settles a reservation: a pass gives it back; a failure keeps it, is audited, and
    /// locks the account when it reaches the limit.
    pub(crate) async fn settle_recheck(
        &self,
        ctx: &TenantCtx,
        reservation: Reservation,
        passed: bool,
    ) -> Result<(), ServiceError> {
        if passed {
            self.repos
                .failed_logins
                .add(&reservation.email_hash, -1, None)
                .await?;
            return Ok(());
        }
        self.audit_failure(ctx, reservation.what).await?;
        if reservation.count == MAX_FAILED_LOGINS {
            self.security_event(ctx.tenant(), ctx.user(), "AccountLocked", Some(ctx.ip()))
                .await?;
        }
        Ok(())
    }

    /// Re-checks the signed-in user's password: `InvalidCredentials` when wrong,
    /// `PasswordResetRequired` when the account is locked.
    pub(crate) async fn recheck_password(
        &self,
        ctx: &TenantCtx,
        user: &UserRecord,
        password: &SecretString,
    ) -> Result<(), ServiceError> {
        let reservation = match self.reserve_recheck(ctx, user, Recheck::Password).await {
            Err(ServiceError::PasswordResetRequired) => {
                // As long as a verification: the reply tells nothing about the password.
                verify_dummy(password).await;
                return Err(ServiceError::PasswordResetRequired);
            }
            other => other?,
        };
        let right = verify_password(&user.password_hash, password).await;
        self.settle_recheck(ctx, reservation, right).await?;
        if right {
            Ok(())
        } else {
            Err(ServiceError::InvalidCredentials)
        }
    }

    async fn audit_failure(&self, ctx: &TenantCtx, what: Recheck) -> Result<(), ServiceError> {
        self.audit(
            ctx.tenant(),
            Some(ctx.user()),
            what.failure_action(),
            Some(format!("user:{}", ctx.user())),
            Some(ctx.ip()),
        )
        .await
    }
}
