//! Two-factor authentication: TOTP (RFC 6238) with single-use codes, and ten
//! single-use recovery codes stored as hashes. The secret is sealed in the user record.
//! Each accepted code moves the user's `last_step` forward in a conditional write, so
//! a code works once even when two requests race with it.

use chrono::Utc;
use secrecy::SecretString;
use serde::Serialize;

use crate::domain::ids::{TenantId, UserId};
use crate::domain::tokens::{
    keyed_recovery_code_hash_with, recovery_code_hash, recovery_code_key, recovery_codes,
};
use crate::domain::totp::{self, TotpSecret};
use crate::services::contexts::Identity;
use crate::services::error::{Conflict, ServiceError};
use crate::services::rechecks::Recheck;
use crate::services::records::{MfaState, Stored, UserRecord, conflict_as};
use crate::services::sessions::TenantCtx;

#[derive(Serialize)]
pub struct TotpEnrolment {
    pub secret: String,
    pub otpauth_uri: String,
}

impl Identity {
    /// The key recovery codes are hashed under: kept in the tenant's record once its
    /// first data key was rotated, else derived from that (current) key.
    async fn recovery_code_key(&self, tenant: &TenantId) -> Result<String, ServiceError> {
        let stored = self
            .repos
            .tenants
            .get(tenant)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        if let Some(key) = stored.record.recovery_code_key {
            return Ok(key);
        }
        let data_key = self.tenant_keys.data_key(tenant).await?;
        Ok(recovery_code_key(data_key.expose_bytes()))
    }

    /// `POST /v1/mfa/totp/setup` (re-authenticated by password).
    pub async fn totp_setup(
        &self,
        ctx: &TenantCtx,
        password: &SecretString,
    ) -> Result<TotpEnrolment, ServiceError> {
        let mut user = self.verified_user(ctx, password).await?;
        if user.record.mfa.is_some() {
            return Err(ServiceError::Conflict(Conflict::MfaAlreadyEnabled));
        }
        let secret = TotpSecret::generate();
        let enrolment = TotpEnrolment {
            secret: secret.to_base32(),
            otpauth_uri: totp::otpauth_uri(&secret, "Tally", &user.record.email),
        };
        user.record.pending_totp_secret = Some(secret.to_base32());
        self.save_user(ctx.tenant(), ctx.user(), &user).await?;
        Ok(enrolment)
    }

    /// `POST /v1/mfa/totp/confirm`: the first valid code enables 2FA; returns the
    /// recovery codes, shown this once.
    pub async fn totp_confirm(
        &self,
        ctx: &TenantCtx,
        code: &str,
    ) -> Result<Vec<String>, ServiceError> {
        let mut user = self
            .repos
            .users
            .get(ctx.tenant(), ctx.user())
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        if user.record.mfa.is_some() {
            return Err(ServiceError::Conflict(Conflict::MfaAlreadyEnabled));
        }
        let secret = user
            .record
            .pending_totp_secret
            .as_deref()
            .and_then(|s| TotpSecret::from_base32(s).ok())
            .ok_or(ServiceError::Conflict(Conflict::MfaSetupRequired))?;
        let reservation = self
            .guard
            .reserve_recheck(ctx, &user.record, Recheck::SecondFactor)
            .await?;
        let step = totp::verify(&secret, code, self.unix_now());
        self.guard
            .settle_recheck(ctx, reservation, step.is_some())
            .await?;
        let step = step.ok_or(ServiceError::InvalidMfaCode)?;
        let codes = recovery_codes();
        let recovery_key = self.recovery_code_key(ctx.tenant()).await?;
        user.record.mfa = Some(MfaState {
            secret: secret.to_base32(),
            last_step: step,
            recovery_code_hashes: codes
                .iter()
                .map(|c| keyed_recovery_code_hash_with(&recovery_key, c))
                .collect(),
            enabled_at: self.now(),
        });
        user.record.pending_totp_secret = None;
        self.save_user(ctx.tenant(), ctx.user(), &user).await?;
        self.guard
            .security_event(ctx.tenant(), ctx.user(), "MfaEnabled", Some(ctx.ip()))
            .await?;
        Ok(codes)
    }

    /// `DELETE /v1/mfa/totp`: needs the password and a current code (or a recovery code).
    pub async fn totp_disable(
        &self,
        ctx: &TenantCtx,
        password: &SecretString,
        code: &str,
    ) -> Result<(), ServiceError> {
        let user = self.verified_user(ctx, password).await?;
        if user.record.mfa.is_none() {
            return Err(ServiceError::Conflict(Conflict::MfaNotEnabled));
        }
        let code = Some(code.to_owned());
        let (totp_code, recovery) = if code.as_deref().is_some_and(|c| c.len() == 6) {
            (code, None)
        } else {
            (None, code)
        };
        let reservation = self
            .guard
            .reserve_recheck(ctx, &user.record, Recheck::SecondFactor)
            .await?;
        let checked = self
            .check_second_factor(ctx.tenant(), ctx.user(), &totp_code, &recovery)
            .await;
        let wrong = matches!(checked, Err(ServiceError::InvalidMfaCode));
        self.guard.settle_recheck(ctx, reservation, !wrong).await?;
        checked?;
        let mut user = self
            .repos
            .users
            .get(ctx.tenant(), ctx.user())
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        user.record.mfa = None;
        user.record.pending_totp_secret = None;
        self.save_user(ctx.tenant(), ctx.user(), &user).await?;
        self.guard
            .security_event(ctx.tenant(), ctx.user(), "MfaDisabled", Some(ctx.ip()))
            .await
    }

    /// Checks a TOTP or recovery code and uses it up. `MfaRequired` when neither came.
    pub(crate) async fn check_second_factor(
        &self,
        tenant: &TenantId,
        user_id: &UserId,
        totp_code: &Option<String>,
        recovery_code: &Option<String>,
    ) -> Result<(), ServiceError> {
        let mut user = self
            .repos
            .users
            .get(tenant, user_id)
            .await?
            .ok_or(ServiceError::InvalidCredentials)?;
        let Some(mfa) = user.record.mfa.as_mut() else {
            return Ok(());
        };
        match (totp_code, recovery_code) {
            (Some(code), _) => {
                let secret = TotpSecret::from_base32(&mfa.secret)
                    .map_err(|_| ServiceError::internal("stored TOTP secret unreadable"))?;
                match totp::verify(&secret, code, self.unix_now()) {
                    Some(step) if step > mfa.last_step => mfa.last_step = step,
                    _ => return Err(ServiceError::InvalidMfaCode),
                }
            }
            (None, Some(code)) => {
                let recovery_key = self.recovery_code_key(tenant).await?;
                let keyed = keyed_recovery_code_hash_with(&recovery_key, code);
                // Codes issued before keyed hashes were stored bare.
                let bare = recovery_code_hash(code);
                let before = mfa.recovery_code_hashes.len();
                mfa.recovery_code_hashes
                    .retain(|h| h != &keyed && h != &bare);
                if mfa.recovery_code_hashes.len() == before {
                    return Err(ServiceError::InvalidMfaCode);
                }
            }
            (None, None) => return Err(ServiceError::MfaRequired),
        }
        // A racing request that used the same code first changed the version.
        match self.save_user(tenant, user_id, &user).await {
            Err(ServiceError::Conflict(_)) => Err(ServiceError::InvalidMfaCode),
            other => other,
        }
    }

    async fn verified_user(
        &self,
        ctx: &TenantCtx,
        password: &SecretString,
    ) -> Result<Stored<UserRecord>, ServiceError> {
        let user = self
            .repos
            .users
            .get(ctx.tenant(), ctx.user())
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        self.guard
            .recheck_password(ctx, &user.record, password)
            .await?;
        Ok(user)
    }

    /// Writes the user record back, refused (`Conflict`) if it changed since loaded.
    pub(crate) async fn save_user(
        &self,
        tenant: &TenantId,
        user_id: &UserId,
        user: &Stored<UserRecord>,
    ) -> Result<(), ServiceError> {
        self.repos
            .users
            .save(tenant, user_id, user)
            .await
            .map_err(|err| conflict_as(err, ServiceError::Conflict(Conflict::ConcurrentUpdate)))
    }

    fn unix_now(&self) -> u64 {
        let now = self.now();
        u64::try_from(now.timestamp())
            .unwrap_or_else(|_| u64::try_from(Utc::now().timestamp()).unwrap_or(0))
    }
}
