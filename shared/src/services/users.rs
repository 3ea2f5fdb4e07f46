//! User management by a tenant's admins: list, invite (the invitee sets a password under
//! the tenant's policy), change role, disable, delete.
//!
//! A tenant always keeps one active admin. The rule is enforced atomically: a demotion,
//! disabling or deletion of an admin is written in one transaction with a version check
//! on every other active admin, so two admins demoting each other at once cannot both
//! succeed (the second transaction sees a changed version and is refused).

use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::domain::email::Email;
use crate::domain::ids::{TenantId, UserId};
use crate::domain::password::PasswordPolicy;
use crate::domain::roles::Role;
use crate::domain::tokens::new_token;
use crate::ports::Cursor;
use crate::repos::Write;
use crate::repos::tokens::TokenKind;
use crate::services::accounts::check_policy;
use crate::services::contexts::TenantAdmin;
use crate::services::error::{Conflict, ServiceError};
use crate::services::hashing::hash_password;
use crate::services::records::transact_or;
use crate::services::records::{Stored, UserRecord};
use crate::services::sessions::TenantCtx;

/// How long an invitation can be accepted.
pub const INVITE_DAYS: i64 = 7;
/// The least time an invitation takes, new address or another tenant's: well above
/// what creating the user, issuing the token, publishing the mail and auditing cost, so
/// both replies leave after the same wait (issue 17, finding 5).
pub const INVITE_MIN_TIME: std::time::Duration = std::time::Duration::from_millis(250);
/// The mail an address that already has an account (in another tenant) gets when it is
/// invited: it names the inviting tenant only, never the account's own tenant, and
/// carries no token.
pub const INVITE_FOR_EXISTING_ACCOUNT: &str = "InviteForExistingAccount";

#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: UserId,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    pub invited: bool,
    pub mfa_enabled: bool,
    pub created_at: DateTime<Utc>,
}

pub struct Invitation {
    pub user: UserView,
    pub invite_token: String,
}

/// The changes `PATCH /v1/users/{id}` may make.
#[derive(Debug, Default)]
pub struct UserChanges {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

/// What lists and exports show of a user: never hashes, secrets or tokens.
pub(crate) fn user_view(id: UserId, user: &UserRecord) -> UserView {
    UserView {
        id,
        email: user.email.clone(),
        role: user.role,
        disabled: user.disabled,
        invited: user.invited,
        mfa_enabled: user.mfa.is_some(),
        created_at: user.created_at,
    }
}

fn is_active_admin(user: &UserRecord) -> bool {
    user.role == Role::Admin && !user.disabled && !user.invited
}

impl TenantAdmin {
    /// `GET /v1/users`: one page of the tenant's users.
    pub async fn list_users(
        &self,
        ctx: &TenantCtx,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<UserView>, Option<Cursor>), ServiceError> {
        let (page, next) = self.repos.users.page(ctx.tenant(), limit, cursor).await?;
        let users = page
            .iter()
            .map(|(id, u)| user_view(id.clone(), u))
            .collect();
        Ok((users, next))
    }

    /// Every user of the tenant with its item version (for the last-admin rule).
    async fn all_users(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(UserId, Stored<UserRecord>)>, ServiceError> {
        Ok(self.repos.users.all(tenant).await?)
    }

    /// `POST /v1/users`: reserves the e-mail, creates the invited user, and emits the
    /// invitation (with its token) as an event, as an e-mail would carry it.
    ///
    /// An address that already has an account in another tenant gets the same reply,
    /// in the same time (at least [`INVITE_MIN_TIME`]), as a fresh one: the admin must
    /// not learn that the address has a Tally account. Nothing is created for it; the
    /// address gets a neutral notice instead of the invitation (see
    /// [`INVITE_FOR_EXISTING_ACCOUNT`]), and the reply's token opens nothing.
    pub async fn invite_user(
        &self,
        ctx: &TenantCtx,
        email: &str,
        role: Role,
    ) -> Result<Invitation, ServiceError> {
        self.guard.require_verified_email(ctx.tenant()).await?;
        let email = Email::parse(email)
            .map_err(|_| ServiceError::invalid("email", "Not a valid e-mail address."))?;
        let started = tokio::time::Instant::now();
        let outcome = self.invite(ctx, &email, role).await;
        tokio::time::sleep_until(started + INVITE_MIN_TIME).await;
        outcome
    }

    async fn invite(
        &self,
        ctx: &TenantCtx,
        email: &Email,
        role: Role,
    ) -> Result<Invitation, ServiceError> {
        let email_hash = self.guard.email_hash(email).await?;
        let now = self.now();
        let id = UserId::generate();
        let record = UserRecord {
            email: email.as_str().to_owned(),
            role,
            password_hash: String::new(),
            password_set_at: now,
            password_history: Vec::new(),
            disabled: false,
            invited: true,
            created_at: now,
            mfa: None,
            pending_totp_secret: None,
            digest_weekly: false,
        };
        let ops = vec![
            self.repos
                .email_lookups
                .create(&email_hash, ctx.tenant(), &id),
            self.repos.users.create(ctx.tenant(), &id, &record).await?,
        ];
        let (event, token) = match transact_or(&self.repos, ops, ServiceError::EmailTaken).await {
            Ok(()) => {
                let token = self
                    .guard
                    .issue_token(
                        TokenKind::Invite,
                        ctx.tenant(),
                        &id,
                        Duration::days(INVITE_DAYS),
                    )
                    .await?;
                let event = crate::ports::Event::new("UserInvited", now)
                    .field("user_id", id.as_str())
                    .field("role", role.as_str())
                    .field("token", token.clone());
                (event, token)
            }
            Err(ServiceError::EmailTaken) => {
                match self.repos.email_lookups.get(&email_hash).await? {
                    // Another tenant's account: no user and no stored token; the reply's
                    // token is as random as a real one and opens nothing.
                    Some((owner, _)) if &owner != ctx.tenant() => (
                        crate::ports::Event::new(INVITE_FOR_EXISTING_ACCOUNT, now),
                        new_token(),
                    ),
                    _ => return Err(ServiceError::EmailTaken),
                }
            }
            Err(other) => return Err(other),
        };
        let event = event
            .tenant(ctx.tenant().as_str())
            .field("email", email.as_str());
        self.events.publish(&event).await?;
        self.guard
            .audit(
                ctx.tenant(),
                Some(ctx.user()),
                "UserInvited",
                Some(format!("user:{id}")),
                Some(ctx.ip()),
            )
            .await?;
        Ok(Invitation {
            user: user_view(id, &record),
            invite_token: token,
        })
    }

    /// `POST /v1/invites/accept`: the invitee sets a password; the token is consumed and
    /// the address's failure count cleared in the same transaction.
    pub async fn accept_invite(
        &self,
        token: &str,
        password: &SecretString,
        ip: std::net::IpAddr,
    ) -> Result<UserView, ServiceError> {
        let (tenant, user_id, token) = self.guard.token_owner(TokenKind::Invite, token).await?;
        let mut user = self
            .repos
            .users
            .get(&tenant, &user_id)
            .await?
            .ok_or(ServiceError::InvalidToken)?;
        if !user.record.invited {
            return Err(ServiceError::InvalidToken);
        }
        let tenant_record = self
            .repos
            .tenants
            .get(&tenant)
            .await?
            .ok_or(ServiceError::InvalidToken)?;
        check_policy(
            PasswordPolicy::new(tenant_record.record.policy.preset),
            password.expose_secret(),
        )?;
        let email = Email::parse(&user.record.email).map_err(ServiceError::internal)?;
        let email_hash = self.guard.email_hash(&email).await?;
        user.record.password_hash = hash_password(password).await?;
        user.record.password_set_at = self.now();
        user.record.invited = false;
        let ops = vec![
            self.repos
                .users
                .update(&tenant, &user_id, &user.record, user.version)
                .await?,
            self.repos.tokens.consume_write(&token),
            // Failures counted against this address before its user had a password
            // (guesses at an address without an account, or at the invited user):
            // nobody may lock an account before it exists.
            self.repos.failed_logins.clear_write(&email_hash),
        ];
        transact_or(&self.repos, ops, ServiceError::InvalidToken).await?;
        self.guard
            .audit(
                &tenant,
                Some(&user_id),
                "InviteAccepted",
                Some(format!("user:{user_id}")),
                Some(ip),
            )
            .await?;
        Ok(user_view(user_id, &user.record))
    }

    /// `PATCH /v1/users/{id}`. Disabling ends the user's sessions at once.
    pub async fn update_user(
        &self,
        ctx: &TenantCtx,
        id: &UserId,
        changes: UserChanges,
    ) -> Result<UserView, ServiceError> {
        let users = self.all_users(ctx.tenant()).await?;
        let (_, target) = users
            .iter()
            .find(|(uid, _)| uid == id)
            .ok_or(ServiceError::NotFound)?;
        let mut record = target.record.clone();
        if let Some(role) = changes.role {
            record.role = role;
        }
        if let Some(disabled) = changes.disabled {
            record.disabled = disabled;
        }
        let mut ops = vec![
            self.repos
                .users
                .update(ctx.tenant(), id, &record, target.version)
                .await?,
        ];
        if is_active_admin(&target.record) && !is_active_admin(&record) {
            ops.extend(self.other_admins_checks(ctx.tenant(), &users, id)?);
        }
        self.transact_user_change(ops).await?;
        if record.disabled && !target.record.disabled {
            self.gate.end_user_sessions(ctx.tenant(), id, None).await?;
        }
        let target_ref = Some(format!("user:{id}"));
        if changes.role.is_some_and(|r| r != target.record.role) {
            self.guard
                .audit(
                    ctx.tenant(),
                    Some(ctx.user()),
                    &format!("UserRoleChanged:{}", record.role.as_str()),
                    target_ref.clone(),
                    Some(ctx.ip()),
                )
                .await?;
        }
        if let Some(disabled) = changes.disabled.filter(|d| *d != target.record.disabled) {
            let action = if disabled {
                "UserDisabled"
            } else {
                "UserEnabled"
            };
            self.guard
                .audit(
                    ctx.tenant(),
                    Some(ctx.user()),
                    action,
                    target_ref,
                    Some(ctx.ip()),
                )
                .await?;
        }
        Ok(user_view(id.clone(), &record))
    }

    /// `DELETE /v1/users/{id}`: the user, their e-mail lookup and their sessions.
    pub async fn delete_user(&self, ctx: &TenantCtx, id: &UserId) -> Result<(), ServiceError> {
        let users = self.all_users(ctx.tenant()).await?;
        let (_, target) = users
            .iter()
            .find(|(uid, _)| uid == id)
            .ok_or(ServiceError::NotFound)?;
        let email = Email::parse(&target.record.email).map_err(ServiceError::internal)?;
        let email_hash = self.guard.email_hash(&email).await?;
        let mut ops = vec![
            self.repos.users.delete(ctx.tenant(), id, target.version),
            self.repos.email_lookups.delete(&email_hash),
            self.repos.failed_logins.clear_write(&email_hash),
        ];
        if is_active_admin(&target.record) {
            ops.extend(self.other_admins_checks(ctx.tenant(), &users, id)?);
        }
        self.transact_user_change(ops).await?;
        self.gate.end_user_sessions(ctx.tenant(), id, None).await?;
        self.guard
            .audit(
                ctx.tenant(),
                Some(ctx.user()),
                "UserDeleted",
                Some(format!("user:{id}")),
                Some(ctx.ip()),
            )
            .await
    }

    /// Version checks on every other active admin; `last_admin` when there is none.
    fn other_admins_checks(
        &self,
        tenant: &TenantId,
        users: &[(UserId, Stored<UserRecord>)],
        except: &UserId,
    ) -> Result<Vec<Write>, ServiceError> {
        let checks: Vec<Write> = users
            .iter()
            .filter(|(uid, u)| uid != except && is_active_admin(&u.record))
            .map(|(uid, u)| self.repos.users.unchanged(tenant, uid, u.version))
            .take(crate::ports::store::MAX_TRANSACTION_OPS - 3)
            .collect();
        if checks.is_empty() {
            return Err(ServiceError::Conflict(Conflict::LastAdmin));
        }
        Ok(checks)
    }

    async fn transact_user_change(&self, ops: Vec<Write>) -> Result<(), ServiceError> {
        transact_or(
            &self.repos,
            ops,
            ServiceError::Conflict(Conflict::ConcurrentUpdate),
        )
        .await
    }
}
