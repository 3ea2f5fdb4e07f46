//! Sign-in and sessions (docs/design.md §4).
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
use crate::domain::sign_in::{Check, Counter, Finish, Reply, SecondFactor, Verdict, judge};
use crate::domain::tokens::{new_token, token_hash};
use crate::repos::sessions::SessionRef;
use crate::repos::tokens::{TokenKey, TokenKind};
use crate::services::contexts::{Guard, Identity, SessionGate};
use crate::services::error::ServiceError;
use crate::services::hashing::{verify_dummy, verify_password};
use crate::services::records::SecurityPolicy;
use crate::services::security::LoginAttempt;

pub use crate::domain::sign_in::MAX_FAILED_LOGINS;
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

/// Who a sign-in attempt is about, for its log entry and its counter.
struct SignIn {
    email_hash: String,
    ip: IpAddr,
    /// The account's tenant; the system tenant when the e-mail has no account.
    tenant: TenantId,
    user: Option<UserId>,
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
    /// `POST /v1/sessions`: gathers each check's fact in turn and lets
    /// `domain::sign_in::judge` decide; `finish_sign_in` applies the decision.
    pub async fn login(&self, req: LoginRequest) -> Result<NewSession, ServiceError> {
        let result = self.judge_login(req).await;
        crate::telemetry::record::sign_in(match &result {
            Ok(_) => "success",
            Err(ServiceError::MfaRequired) => "mfa_required",
            Err(ServiceError::RateLimited { .. }) => "throttled",
            Err(ServiceError::PasswordExpired { .. }) => "password_expired",
            Err(ServiceError::Internal(_)) => "error",
            Err(_) => "rejected",
        });
        result
    }

    async fn judge_login(&self, req: LoginRequest) -> Result<NewSession, ServiceError> {
        self.guard
            .check_rate("auth", req.ip, AUTH_REQUESTS_PER_MINUTE)
            .await?;
        let email = Email::parse(&req.email)
            .map_err(|_| ServiceError::invalid("email", "Not a valid e-mail address."))?;
        let email_hash = self.guard.email_hash(&email).await?;
        let owner = self.repos.email_lookups.get(&email_hash).await?;
        // Every attempt reserves its place in the failure count BEFORE the password is
        // verified (one atomic increment), so parallel guesses cannot all be verified
        // against a count read before any of them failed: the sixth concurrent guess
        // is refused unverified, like a sequential one. `sign_in::judge` says what
        // becomes of the reservation.
        let reserved = self.count_failure(&email_hash, owner.is_none()).await?;
        let account = match &owner {
            Some((tenant, user)) => self
                .repos
                .users
                .get(tenant, user)
                .await?
                .filter(|loaded| !loaded.record.disabled),
            None => None,
        };
        let attempt = SignIn {
            email_hash,
            ip: req.ip,
            tenant: owner
                .as_ref()
                .map_or_else(TenantId::system, |(tenant, _)| tenant.clone()),
            user: owner.as_ref().map(|(_, user)| user.clone()),
        };
        // The checks in their order; the first that finishes the sign-in decides it,
        // and `finish_sign_in` applies that decision.
        let mut known: Option<UserSummary> = None;
        macro_rules! check {
            ($check:expr) => {
                if let Verdict::Finish(finish) = judge($check, reserved) {
                    return self
                        .finish_sign_in(&attempt, finish, &req.password, known)
                        .await;
                }
            };
        }
        check!(Check::Account {
            exists: account.is_some()
        });
        let Some(user) = account.map(|loaded| loaded.record) else {
            return Err(ServiceError::internal("an absent account passed its check"));
        };
        known = attempt.user.clone().map(|id| UserSummary {
            id,
            email: user.email.clone(),
            role: user.role,
        });
        check!(Check::Password {
            right: verify_password(&user.password_hash, &req.password).await
        });
        // The password is right: from here on, answers may depend on the account. A
        // closed tenant's users are refused from the closing write on.
        let tenant = self
            .repos
            .tenants
            .get(&attempt.tenant)
            .await?
            .filter(|t| t.is_active());
        check!(Check::Tenant {
            active: tenant.is_some()
        });
        check!(Check::Address {
            allowed: self.gate.ip_allowed(&attempt.tenant, req.ip).await?
        });
        let second_factor = match (&user.mfa, &attempt.user) {
            (Some(_), Some(user_id)) => match self
                .check_second_factor(&attempt.tenant, user_id, &req.totp_code, &req.recovery_code)
                .await
            {
                Ok(()) => SecondFactor::Passed,
                Err(ServiceError::MfaRequired) => SecondFactor::Missing,
                Err(ServiceError::InvalidMfaCode) => SecondFactor::Wrong,
                Err(other) => return Err(other),
            },
            _ => SecondFactor::NotEnrolled,
        };
        check!(Check::SecondFactor(second_factor));
        let expires_after =
            tenant.and_then(|t| PasswordPolicy::new(t.record.policy.preset).expires_after());
        check!(Check::PasswordAge {
            expired: expires_after.is_some_and(|max| user.password_set_at + max <= self.now())
        });
        Err(ServiceError::internal(
            "every sign-in check passed without a verdict",
        ))
    }

    /// Applies a sign-in's decision: the dummy verification that keeps an unknown
    /// account as slow as a known one, the failure count, the sign-in log, the lock
    /// announcement, and the reply.
    async fn finish_sign_in(
        &self,
        attempt: &SignIn,
        finish: Finish,
        password: &SecretString,
        user: Option<UserSummary>,
    ) -> Result<NewSession, ServiceError> {
        if finish.dummy_verify {
            verify_dummy(password).await;
        }
        match finish.counter {
            Counter::Keep | Counter::KeepAndLock => {}
            Counter::Release => {
                self.repos
                    .failed_logins
                    .add(&attempt.email_hash, -1, None)
                    .await?;
            }
            Counter::Clear => self.repos.failed_logins.clear(&attempt.email_hash).await?,
        }
        if let Some(outcome) = finish.log {
            let entry = LoginAttempt {
                at: self.now(),
                email_hash: attempt.email_hash.clone(),
                user_id: attempt.user.clone(),
                ip: attempt.ip,
                outcome,
            };
            self.guard
                .record_login_attempt(&attempt.tenant, entry)
                .await?;
        }
        if let (Counter::KeepAndLock, Some(user)) = (finish.counter, &attempt.user) {
            self.guard
                .security_event(&attempt.tenant, user, "AccountLocked", Some(attempt.ip))
                .await?;
        }
        match finish.reply {
            Reply::InvalidCredentials => Err(ServiceError::InvalidCredentials),
            Reply::PasswordResetRequired => Err(ServiceError::PasswordResetRequired),
            Reply::IpNotAllowed => Err(ServiceError::IpNotAllowed),
            Reply::MfaRequired => Err(ServiceError::MfaRequired),
            Reply::InvalidMfaCode => Err(ServiceError::InvalidMfaCode),
            Reply::PasswordExpired => {
                let user = attempt
                    .user
                    .as_ref()
                    .ok_or(ServiceError::InvalidCredentials)?;
                let change_token = self
                    .guard
                    .issue_token(
                        TokenKind::Change,
                        &attempt.tenant,
                        user,
                        Duration::minutes(CHANGE_TOKEN_MINUTES),
                    )
                    .await?;
                Err(ServiceError::PasswordExpired { change_token })
            }
            Reply::Session => {
                let user = user.ok_or(ServiceError::InvalidCredentials)?;
                self.open_session(&attempt.tenant, user, attempt.ip).await
            }
        }
    }

    /// Counts a failure; an unknown e-mail's counter expires, a user's stays until reset.
    async fn count_failure(&self, email_hash: &str, unknown: bool) -> Result<i64, ServiceError> {
        let expires =
            unknown.then(|| (self.now() + Duration::days(UNKNOWN_EMAIL_COUNTER_DAYS)).timestamp());
        Ok(self.repos.failed_logins.add(email_hash, 1, expires).await?)
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
        let now = self.now();
        let expires_at = (now + valid_for).timestamp();
        self.repos
            .tokens
            .issue(&key, tenant, user, now.timestamp_millis(), expires_at)
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
        self.token_issued(kind, token)
            .await
            .map(|(tenant, user, key, _)| (tenant, user, key))
    }

    /// [`Self::token_owner`] with the token's issue time (Unix milliseconds; `None`
    /// for a token stored without one).
    pub(crate) async fn token_issued(
        &self,
        kind: TokenKind,
        token: &str,
    ) -> Result<(TenantId, UserId, TokenKey, Option<i64>), ServiceError> {
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
            Some((tenant, user)) if !expired => Ok((tenant, user, key, grant.issued_at_ms)),
            _ => Err(ServiceError::InvalidToken),
        }
    }
}

impl SessionGate {
    /// Verifies a bearer token from `ip` and refreshes its idle timer. Any failure is
    /// `Unauthenticated`, whatever the cause — an address the tenant's allowlist
    /// refuses included: checked before the idle timer is refreshed (a refused request
    /// keeps no session alive), and answered like a bad token (a refused address
    /// learns nothing about the token it sends).
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
        if !self.ip_allowed(&tenant, ip).await? {
            return Err(ServiceError::Unauthenticated);
        }
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
