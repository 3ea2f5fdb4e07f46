//! Operators (staff): their accounts, sign-in and sessions (docs/design.md §4, "Staff").
//!
//! An operator is made by the `local operator create` command (or the same use case
//! run against the AWS store, docs/deploy.md), never through the public API, and has
//! TOTP from the start: the secret is shown once, at creation. Sign-in goes through
//! the same rules as a user's (`domain::sign_in::judge`: the failure reserved before
//! the password is verified, a dummy verification for unknown addresses, the lockout
//! after five failures) with the second factor always required. Operator sessions are
//! global items `OPSESSION#<sha256>` with the same idle and absolute timeouts as users';
//! their tokens start with `op_` so the gate knows which kind to look up.
//!
//! An operator session reaches no tenant by itself: see `support.rs` for grants.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;

use crate::domain::email::Email;
use crate::domain::ids::{OperatorId, SessionId, TenantId};
use crate::domain::password::{PasswordPolicy, PolicyPreset};
use crate::domain::sign_in::{Check, Counter, Reply, SecondFactor, Verdict, judge};
use crate::domain::support::{OPERATOR_TOKEN_PREFIX, is_operator_token};
use crate::domain::tokens::{new_token, token_hash};
use crate::domain::totp::{self, TotpSecret};
use crate::repos::operators::OperatorRecord;
use crate::services::contexts::{Identity, SessionGate};
use crate::services::error::ServiceError;
use crate::services::hashing::{hash_password, verify_dummy, verify_password};
use crate::services::security::LoginAttempt;
use crate::services::sessions::AUTH_REQUESTS_PER_MINUTE;

/// How long a counter of failures for an e-mail without an operator is kept.
const UNKNOWN_EMAIL_COUNTER_DAYS: i64 = 30;

/// A verified operator session: who, from where.
#[derive(Clone, Debug)]
pub struct OperatorCtx {
    pub operator: OperatorId,
    pub session: SessionId,
    pub token_hash: String,
    pub ip: IpAddr,
}

/// A new operator, as the CLI prints it once: the TOTP secret is not shown again.
pub struct CreatedOperator {
    pub id: OperatorId,
    pub totp_secret: SecretString,
    pub otpauth_uri: SecretString,
}

pub struct OperatorLoginRequest {
    pub email: String,
    pub password: SecretString,
    pub totp_code: Option<String>,
    pub ip: IpAddr,
}

pub struct NewOperatorSession {
    pub token: SecretString,
    pub expires_at: DateTime<Utc>,
    pub idle_timeout_seconds: u64,
    pub operator: OperatorId,
}

impl Identity {
    /// Creates an operator with TOTP enrolled (the CLI's `operator create`). The password
    /// must meet the default policy.
    pub async fn create_operator(
        &self,
        email: &str,
        password: SecretString,
    ) -> Result<CreatedOperator, ServiceError> {
        let email = Email::parse(email)
            .map_err(|_| ServiceError::invalid("email", "Not a valid e-mail address."))?;
        let password = PasswordPolicy::new(PolicyPreset::Default)
            .accept(password)
            .map_err(ServiceError::WeakPassword)?;
        let password_hash =
            hash_password(&SecretString::from(password.expose_secret().to_owned())).await?;
        let email_hash = self.guard.email_hash(&email).await?;
        let secret = TotpSecret::generate();
        let id = OperatorId::generate();
        let record = OperatorRecord {
            email: email.as_str().to_owned(),
            password_hash,
            totp_secret: secret.to_base32(),
            last_step: 0,
            created_at: self.now(),
            disabled: false,
        };
        let writes = self
            .repos
            .operators
            .create(&id, &email_hash, &record)
            .await?;
        match self.repos.transactions.run(writes).await {
            Ok(()) => {}
            Err(e) if e.is_conflict() => return Err(ServiceError::EmailTaken),
            Err(e) => return Err(e.into()),
        }
        Ok(CreatedOperator {
            id,
            otpauth_uri: SecretString::from(totp::otpauth_uri(
                &secret,
                "Tally staff",
                email.as_str(),
            )),
            totp_secret: SecretString::from(secret.to_base32()),
        })
    }

    /// Clears an operator address's failure count (the CLI's `operator unlock`).
    pub async fn unlock_operator(&self, email: &str) -> Result<(), ServiceError> {
        let email = Email::parse(email)
            .map_err(|_| ServiceError::invalid("email", "Not a valid e-mail address."))?;
        let email_hash = self.guard.email_hash(&email).await?;
        Ok(self.repos.operators.clear_failures(&email_hash).await?)
    }

    /// Disables an operator (the CLI's `operator disable`): its sessions answer 401 from
    /// the next request on, it cannot sign in, and no grant can name it.
    pub async fn disable_operator(&self, email: &str) -> Result<(), ServiceError> {
        let email = Email::parse(email)
            .map_err(|_| ServiceError::invalid("email", "Not a valid e-mail address."))?;
        let email_hash = self.guard.email_hash(&email).await?;
        let operators = &self.repos.operators;
        let id = operators
            .by_email(&email_hash)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let mut stored = operators.get(&id).await?.ok_or(ServiceError::NotFound)?;
        stored.record.disabled = true;
        Ok(operators
            .update(&id, &stored.record, stored.version)
            .await?)
    }

    /// `POST /v1/operator/sessions`: password and a TOTP code, always.
    pub async fn operator_login(
        &self,
        req: OperatorLoginRequest,
    ) -> Result<NewOperatorSession, ServiceError> {
        self.guard
            .check_rate("auth", req.ip, AUTH_REQUESTS_PER_MINUTE)
            .await?;
        let email = Email::parse(&req.email)
            .map_err(|_| ServiceError::invalid("email", "Not a valid e-mail address."))?;
        let email_hash = self.guard.email_hash(&email).await?;
        let operators = &self.repos.operators;
        let owner = operators.by_email(&email_hash).await?;
        // Reserved before the password is verified, as for users (sessions.rs).
        let expires = owner
            .is_none()
            .then(|| (self.now() + Duration::days(UNKNOWN_EMAIL_COUNTER_DAYS)).timestamp());
        let reserved = operators.add_failure(&email_hash, 1, expires).await?;
        let account = match &owner {
            Some(id) => operators
                .get(id)
                .await?
                .filter(|loaded| !loaded.record.disabled),
            None => None,
        };
        // The checks in their order; the first that finishes the sign-in decides it.
        let finish = 'decided: {
            macro_rules! check {
                ($check:expr) => {
                    if let Verdict::Finish(finish) = judge($check, reserved) {
                        break 'decided finish;
                    }
                };
            }
            check!(Check::Account {
                exists: account.is_some()
            });
            let (Some(stored), Some(id)) = (&account, &owner) else {
                return Err(ServiceError::internal(
                    "an absent operator passed its check",
                ));
            };
            check!(Check::Password {
                right: verify_password(&stored.record.password_hash, &req.password).await
            });
            let second_factor = match &req.totp_code {
                None => SecondFactor::Missing,
                Some(code) => self.take_totp_step(id, stored, code).await?,
            };
            check!(Check::SecondFactor(second_factor));
            check!(Check::PasswordAge { expired: false });
            return Err(ServiceError::internal(
                "every operator sign-in check passed without a verdict",
            ));
        };
        if finish.dummy_verify {
            verify_dummy(&req.password).await;
        }
        match finish.counter {
            Counter::Keep => {}
            Counter::KeepAndLock => {
                tracing::warn!(operator = ?owner.as_ref().map(OperatorId::as_str), "operator sign-in locked after repeated failures");
            }
            Counter::Release => {
                operators.add_failure(&email_hash, -1, None).await?;
            }
            Counter::Clear => operators.clear_failures(&email_hash).await?,
        }
        if let Some(outcome) = finish.log {
            // Operators belong to no tenant: their attempts are kept in the system
            // partition, like attempts for addresses without an account.
            let entry = LoginAttempt {
                at: self.now(),
                email_hash,
                user_id: None,
                ip: req.ip,
                outcome,
            };
            self.guard
                .record_login_attempt(&TenantId::system(), entry)
                .await?;
        }
        match (finish.reply, owner) {
            (Reply::Session, Some(operator)) => self.open_operator_session(operator).await,
            (Reply::PasswordResetRequired, _) => Err(ServiceError::PasswordResetRequired),
            (Reply::MfaRequired, _) => Err(ServiceError::MfaRequired),
            (Reply::InvalidMfaCode, _) => Err(ServiceError::InvalidMfaCode),
            _ => Err(ServiceError::InvalidCredentials),
        }
    }

    /// Verifies a TOTP code and takes its step (each code works once, also when two
    /// sign-ins race with it: the conditional write lets one through).
    async fn take_totp_step(
        &self,
        id: &OperatorId,
        stored: &crate::repos::Stored<OperatorRecord>,
        code: &str,
    ) -> Result<SecondFactor, ServiceError> {
        let secret = TotpSecret::from_base32(&stored.record.totp_secret)
            .map_err(|_| ServiceError::internal("stored operator TOTP secret unreadable"))?;
        let now = u64::try_from(self.now().timestamp()).unwrap_or(0);
        match totp::verify(&secret, code, now) {
            Some(step) if step > stored.record.last_step => {
                let mut record = stored.record.clone();
                record.last_step = step;
                match self
                    .repos
                    .operators
                    .update(id, &record, stored.version)
                    .await
                {
                    Ok(()) => Ok(SecondFactor::Passed),
                    Err(e) if e.is_conflict() => Ok(SecondFactor::Wrong),
                    Err(e) => Err(e.into()),
                }
            }
            _ => Ok(SecondFactor::Wrong),
        }
    }

    async fn open_operator_session(
        &self,
        operator: OperatorId,
    ) -> Result<NewOperatorSession, ServiceError> {
        let now = self.now();
        let absolute = Duration::from_std(self.config.session_absolute_timeout)
            .map_err(ServiceError::internal)?;
        let expires_at = now + absolute;
        let token = format!("{OPERATOR_TOKEN_PREFIX}{}", new_token());
        self.repos
            .operators
            .create_session(
                &token_hash(&token),
                &operator,
                &SessionId::generate(),
                now.timestamp(),
                expires_at.timestamp(),
            )
            .await?;
        Ok(NewOperatorSession {
            token: SecretString::from(token),
            expires_at,
            idle_timeout_seconds: self.config.session_idle_timeout.as_secs(),
            operator,
        })
    }

    /// `DELETE /v1/operator/sessions/current`.
    pub async fn operator_logout(&self, op: &OperatorCtx) -> Result<(), ServiceError> {
        Ok(self.repos.operators.end_session(&op.token_hash).await?)
    }
}

impl SessionGate {
    /// Verifies an operator's bearer token from `ip` and refreshes its idle timer. Any
    /// failure is `Unauthenticated`.
    pub async fn authenticate_operator(
        &self,
        token: &str,
        ip: IpAddr,
    ) -> Result<OperatorCtx, ServiceError> {
        if !is_operator_token(token) || token.len() > 128 {
            return Err(ServiceError::Unauthenticated);
        }
        let operators = &self.repos.operators;
        let session = operators
            .session(&token_hash(token))
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        let now = self.now().timestamp();
        let idle = self.config.session_idle_timeout.as_secs() as i64;
        if now >= session.expires_at || now - session.last_seen >= idle {
            operators.end_session(&session.token_hash).await?;
            return Err(ServiceError::Unauthenticated);
        }
        if !operators.is_active(&session.operator).await? {
            operators.end_session(&session.token_hash).await?;
            return Err(ServiceError::Unauthenticated);
        }
        if !operators.touch(&session, now).await? {
            return Err(ServiceError::Unauthenticated);
        }
        Ok(OperatorCtx {
            operator: session.operator,
            session: session.session,
            token_hash: session.token_hash,
            ip,
        })
    }
}
