//! Sign-in and sessions (DESIGN.md §4).
//!
//! A session is a 256-bit random bearer token; only its SHA-256 is stored, at
//! `SESSION#<hash>`, with plain ids and times (no personal data), and mirrored in the
//! tenant's partition so a user can list and end their sessions. Sessions end after 15
//! idle minutes or 12 hours (configurable), on logout, password change, and when the
//! user is disabled or removed.
//!
//! Sign-in answers an unknown e-mail exactly like a wrong password: same reply, a
//! verification against a dummy hash of the same cost, and the same failure counter
//! (kept per e-mail hash, known or not), so neither the reply, its timing nor the
//! lockout tells whether an address has an account.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;
use serde::Serialize;

use crate::domain::email::Email;
use crate::domain::ids::{SessionId, TenantId, UserId};
use crate::domain::password::PasswordPolicy;
use crate::domain::roles::Role;
use crate::domain::tokens::{new_token, token_hash};
use crate::repos::sessions::SessionRef;
use crate::repos::tokens::{TokenKey, TokenKind};
use crate::services::contexts::{Guard, Identity, SessionGate};
use crate::services::error::ServiceError;
use crate::services::hashing::{verify_dummy, verify_password};
use crate::services::records::SecurityPolicy;
use crate::services::security::{LoginAttempt, LoginOutcome};

/// Consecutive failures that lock an account until a reset.
pub const MAX_FAILED_LOGINS: i64 = 5;
/// Sign-in and reset requests allowed per client address and minute.
pub const AUTH_REQUESTS_PER_MINUTE: i64 = 20;
/// How long a counter of failures for an e-mail without an account is kept.
const UNKNOWN_EMAIL_COUNTER_DAYS: i64 = 30;
/// How long a password-expired change token is valid.
const CHANGE_TOKEN_MINUTES: i64 = 10;

/// Who is calling: made only from a verified session (or, inside the crate, by a use
/// case that just created the tenant). Every tenant-scoped use case takes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantCtx {
    tenant: TenantId,
    user: UserId,
    role: Role,
    session: SessionId,
    ip: IpAddr,
}

impl TenantCtx {
    pub(crate) fn new(
        tenant: TenantId,
        user: UserId,
        role: Role,
        session: SessionId,
        ip: IpAddr,
    ) -> Self {
        Self {
            tenant,
            user,
            role,
            session,
            ip,
        }
    }
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    pub fn user(&self) -> &UserId {
        &self.user
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn session(&self) -> &SessionId {
        &self.session
    }
    pub fn ip(&self) -> IpAddr {
        self.ip
    }
}

/// A verified session: who, and what the request checks need to know.
pub struct Verified {
    pub ctx: TenantCtx,
    pub mfa_enabled: bool,
    pub policy: SecurityPolicy,
}

pub struct LoginRequest {
    pub email: String,
    pub password: SecretString,
    pub totp_code: Option<String>,
    pub recovery_code: Option<String>,
    pub ip: IpAddr,
}

#[derive(Clone, Debug, Serialize)]
pub struct UserSummary {
    pub id: UserId,
    pub email: String,
    pub role: Role,
}

pub struct NewSession {
    pub token: SecretString,
    pub expires_at: DateTime<Utc>,
    pub idle_timeout_seconds: u64,
    pub user: UserSummary,
}

/// A session as its owner sees it in the list.
#[derive(Clone, Debug, Serialize)]
pub struct SessionSummary {
    pub id: SessionId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<IpAddr>,
    pub current: bool,
}

impl Identity {
    /// `POST /v1/sessions`.
    pub async fn login(&self, req: LoginRequest) -> Result<NewSession, ServiceError> {
        self.guard
            .check_rate("auth", req.ip, AUTH_REQUESTS_PER_MINUTE)
            .await?;
        let email = Email::parse(&req.email)
            .map_err(|_| ServiceError::invalid("email", "Not a valid e-mail address."))?;
        let email_hash = self.guard.email_hash(&email).await?;
        let owner = self.repos.email_lookups.get(&email_hash).await?;
        let attempt = |tenant: &TenantId, user: Option<&UserId>, outcome| {
            let tenant = tenant.clone();
            let attempt = LoginAttempt {
                at: self.now(),
                email_hash: email_hash.clone(),
                user_id: user.cloned(),
                ip: req.ip,
                outcome,
            };
            async move { self.guard.record_login_attempt(&tenant, attempt).await }
        };

        // Every attempt reserves its place in the failure count BEFORE the password is
        // verified (one atomic increment), so parallel guesses cannot all be verified
        // against a count read before any of them failed: the sixth concurrent guess
        // is refused unverified, like a sequential one. A right password gives the
        // reservation back (or clears the count on success).
        let reserved = self.count_failure(&email_hash, owner.is_none()).await?;
        let locked = reserved > MAX_FAILED_LOGINS;
        let found = match &owner {
            Some((tenant, user)) => self
                .repos
                .users
                .get(tenant, user)
                .await?
                .map(|loaded| (tenant.clone(), user.clone(), loaded)),
            None => None,
        };
        let Some((tenant, user_id, loaded)) = found.filter(|(_, _, l)| !l.record.disabled) else {
            // No account (or a disabled one): the same work and the same replies.
            verify_dummy(&req.password).await;
            let outcome = if locked {
                LoginOutcome::Locked
            } else {
                LoginOutcome::UnknownUser
            };
            let (tenant, user) = match &owner {
                Some((t, u)) => (t.clone(), Some(u.clone())),
                None => (TenantId::system(), None),
            };
            attempt(&tenant, user.as_ref(), outcome).await?;
            if locked {
                return Err(ServiceError::PasswordResetRequired);
            }
            return Err(ServiceError::InvalidCredentials);
        };
        if locked {
            verify_dummy(&req.password).await;
            attempt(&tenant, Some(&user_id), LoginOutcome::Locked).await?;
            return Err(ServiceError::PasswordResetRequired);
        }
        let user = &loaded.record;
        if !verify_password(&user.password_hash, &req.password).await {
            attempt(&tenant, Some(&user_id), LoginOutcome::BadPassword).await?;
            self.failure_counted(&tenant, &user_id, reserved, req.ip)
                .await?;
            return Err(ServiceError::InvalidCredentials);
        }
        // The password is right: from here on, answers may depend on the account, and
        // an outcome other than a second-factor failure gives the reservation back.
        // A closed tenant's users are refused from the closing write on.
        let Some(tenant_record) = self
            .repos
            .tenants
            .get(&tenant)
            .await?
            .filter(|t| t.is_active())
        else {
            self.release_failure(&email_hash).await?;
            return Err(ServiceError::InvalidCredentials);
        };
        let tenant_record = tenant_record.record;
        if !self.gate.ip_allowed(&tenant, req.ip).await? {
            self.release_failure(&email_hash).await?;
            attempt(&tenant, Some(&user_id), LoginOutcome::IpRefused).await?;
            return Err(ServiceError::IpNotAllowed);
        }
        if user.mfa.is_some() {
            match self
                .check_second_factor(&tenant, &user_id, &req.totp_code, &req.recovery_code)
                .await
            {
                Ok(()) => {}
                Err(ServiceError::MfaRequired) => {
                    self.release_failure(&email_hash).await?;
                    attempt(&tenant, Some(&user_id), LoginOutcome::MfaRequired).await?;
                    return Err(ServiceError::MfaRequired);
                }
                Err(ServiceError::InvalidMfaCode) => {
                    attempt(&tenant, Some(&user_id), LoginOutcome::MfaFailure).await?;
                    self.failure_counted(&tenant, &user_id, reserved, req.ip)
                        .await?;
                    return Err(ServiceError::InvalidMfaCode);
                }
                Err(other) => return Err(other),
            }
        }
        let policy = PasswordPolicy::new(tenant_record.policy.preset);
        if let Some(max_age) = policy.expires_after()
            && user.password_set_at + max_age <= self.now()
        {
            self.release_failure(&email_hash).await?;
            attempt(&tenant, Some(&user_id), LoginOutcome::PasswordExpired).await?;
            let change_token = self
                .guard
                .issue_token(
                    TokenKind::Change,
                    &tenant,
                    &user_id,
                    Duration::minutes(CHANGE_TOKEN_MINUTES),
                )
                .await?;
            return Err(ServiceError::PasswordExpired { change_token });
        }
        self.repos.failed_logins.clear(&email_hash).await?;
        attempt(&tenant, Some(&user_id), LoginOutcome::Success).await?;
        let summary = UserSummary {
            id: user_id.clone(),
            email: user.email.clone(),
            role: user.role,
        };
        self.open_session(&tenant, summary, req.ip).await
    }

    /// Counts a failure; an unknown e-mail's counter expires, a user's stays until reset.
    async fn count_failure(&self, email_hash: &str, unknown: bool) -> Result<i64, ServiceError> {
        let expires =
            unknown.then(|| (self.now() + Duration::days(UNKNOWN_EMAIL_COUNTER_DAYS)).timestamp());
        Ok(self.repos.failed_logins.add(email_hash, 1, expires).await?)
    }

    /// A failed guess of a known user, already counted by its reservation: the one
    /// that reached the limit locks the account (announced once).
    async fn failure_counted(
        &self,
        tenant: &TenantId,
        user: &UserId,
        reserved: i64,
        ip: IpAddr,
    ) -> Result<(), ServiceError> {
        if reserved == MAX_FAILED_LOGINS {
            self.guard
                .security_event(tenant, user, "AccountLocked", Some(ip))
                .await?;
        }
        Ok(())
    }

    /// Gives back an attempt's reservation: the password was right, but the sign-in
    /// did not complete for another reason (2FA code missing, address refused, ...).
    async fn release_failure(&self, email_hash: &str) -> Result<(), ServiceError> {
        self.repos.failed_logins.add(email_hash, -1, None).await?;
        Ok(())
    }

    /// Creates a session: the global item and its tenant-side mirror, together.
    pub(crate) async fn open_session(
        &self,
        tenant: &TenantId,
        user: UserSummary,
        ip: IpAddr,
    ) -> Result<NewSession, ServiceError> {
        let now = self.now();
        let absolute = Duration::from_std(self.config.session_absolute_timeout)
            .map_err(ServiceError::internal)?;
        let expires_at = now + absolute;
        let token = new_token();
        let hash = token_hash(&token);
        let session_id = SessionId::generate();
        let mirror = SessionRef {
            token_hash: hash,
            created_at: now,
            expires_at,
            ip,
        };
        self.repos
            .sessions
            .create(tenant, &user.id, &session_id, &mirror, now)
            .await?;
        Ok(NewSession {
            token: SecretString::from(token),
            expires_at,
            idle_timeout_seconds: self.config.session_idle_timeout.as_secs(),
            user,
        })
    }

    /// `DELETE /v1/sessions/current`.
    pub async fn logout(&self, ctx: &TenantCtx) -> Result<(), ServiceError> {
        self.end_session(ctx, ctx.session()).await
    }

    /// `GET /v1/me/sessions`: the caller's live sessions, newest first.
    pub async fn list_sessions(
        &self,
        ctx: &TenantCtx,
    ) -> Result<Vec<SessionSummary>, ServiceError> {
        let mut out = Vec::new();
        let now = self.now();
        let sessions = self.repos.sessions.of_user(ctx.tenant(), ctx.user());
        for (session, mirror) in sessions.await? {
            if mirror.expires_at <= now {
                continue;
            }
            out.push(SessionSummary {
                current: &session == ctx.session(),
                id: session,
                created_at: mirror.created_at,
                expires_at: mirror.expires_at,
                ip: Some(mirror.ip),
            });
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(out)
    }

    /// `DELETE /v1/me/sessions/{id}`: ends one of the caller's own sessions.
    pub async fn end_session(
        &self,
        ctx: &TenantCtx,
        session: &SessionId,
    ) -> Result<(), ServiceError> {
        let sessions = &self.repos.sessions;
        if !sessions.exists(ctx.tenant(), ctx.user(), session).await? {
            return Err(ServiceError::NotFound);
        }
        Ok(sessions
            .end(ctx.tenant(), ctx.user(), session, None)
            .await?)
    }
}

impl Guard {
    /// Stores a single-use token of `kind` for the user and returns it.
    pub(crate) async fn issue_token(
        &self,
        kind: TokenKind,
        tenant: &TenantId,
        user: &UserId,
        valid_for: Duration,
    ) -> Result<String, ServiceError> {
        let token = new_token();
        let key = TokenKey {
            kind,
            token_hash: token_hash(&token),
        };
        let expires_at = (self.now() + valid_for).timestamp();
        self.repos
            .tokens
            .issue(&key, tenant, user, expires_at)
            .await?;
        Ok(token)
    }

    /// The owner of an unexpired token of `kind` (not consumed: the caller deletes it
    /// with `Condition::Exists` in the same transaction as the change it authorizes).
    pub(crate) async fn token_owner(
        &self,
        kind: TokenKind,
        token: &str,
    ) -> Result<(TenantId, UserId, TokenKey), ServiceError> {
        let key = TokenKey {
            kind,
            token_hash: token_hash(token),
        };
        let grant = self
            .repos
            .tokens
            .get(&key)
            .await?
            .ok_or(ServiceError::InvalidToken)?;
        let expired = grant
            .expires_at
            .is_none_or(|at| at <= self.now().timestamp());
        match grant.owner {
            Some((tenant, user)) if !expired => Ok((tenant, user, key)),
            _ => Err(ServiceError::InvalidToken),
        }
    }
}

impl SessionGate {
    /// Verifies a bearer token and refreshes its idle timer. Any failure is
    /// `Unauthenticated`, whatever the cause.
    pub async fn authenticate(&self, token: &str, ip: IpAddr) -> Result<Verified, ServiceError> {
        if token.is_empty() || token.len() > 128 {
            return Err(ServiceError::Unauthenticated);
        }
        let item = self
            .repos
            .sessions
            .get(&token_hash(token))
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        let now = self.now().timestamp();
        let idle = self.config.session_idle_timeout.as_secs() as i64;
        let (tenant, user_id, session) =
            (item.tenant.clone(), item.user.clone(), item.session.clone());
        if now >= item.expires_at || now - item.last_seen >= idle {
            self.repos
                .sessions
                .end(&tenant, &user_id, &session, Some(&item.token_hash))
                .await?;
            return Err(ServiceError::Unauthenticated);
        }
        let user = match self.repos.users.get(&tenant, &user_id).await? {
            Some(user) if !user.record.disabled => user,
            _ => return Err(ServiceError::Unauthenticated),
        };
        let policy = match self.repos.tenants.get(&tenant).await? {
            Some(t) if t.is_active() => t.record.policy,
            _ => return Err(ServiceError::Unauthenticated),
        };
        // A session ended meanwhile (logout elsewhere) must not come back.
        if !self.repos.sessions.touch(&item, now).await? {
            return Err(ServiceError::Unauthenticated);
        }
        Ok(Verified {
            ctx: TenantCtx::new(tenant, user_id, user.record.role, session, ip),
            mfa_enabled: user.record.mfa.is_some(),
            policy,
        })
    }

    /// Ends every session of a user, but `keep` (password change keeps the caller's).
    pub(crate) async fn end_user_sessions(
        &self,
        tenant: &TenantId,
        user: &UserId,
        keep: Option<&SessionId>,
    ) -> Result<usize, ServiceError> {
        let mut ended = 0;
        for session in self.repos.sessions.ids_of_user(tenant, user).await? {
            if Some(&session) == keep {
                continue;
            }
            self.repos
                .sessions
                .end(tenant, user, &session, None)
                .await?;
            ended += 1;
        }
        Ok(ended)
    }
}
