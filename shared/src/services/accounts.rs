//! Sign-up and the caller's own account.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::domain::email::Email;
use crate::domain::ids::{TenantId, UserId};
use crate::domain::password::PasswordPolicy;
use crate::domain::roles::Role;
use crate::services::contexts::Identity;
use crate::services::error::ServiceError;
use crate::services::hashing::hash_password;
use crate::services::records::transact_or;
use crate::services::records::{SecurityPolicy, TenantRecord, UserRecord};
use crate::services::sessions::{AUTH_REQUESTS_PER_MINUTE, TenantCtx};

pub struct SignupRequest {
    pub company: String,
    pub email: String,
    pub password: SecretString,
    pub ip: IpAddr,
}

#[derive(Debug, Serialize)]
pub struct Me {
    pub user: MeUser,
    pub tenant: MeTenant,
}

#[derive(Debug, Serialize)]
pub struct MeUser {
    pub id: UserId,
    pub email: String,
    pub role: Role,
    pub mfa_enabled: bool,
    pub password_expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct MeTenant {
    pub id: TenantId,
    pub company: String,
}

/// A company name: trimmed, 1 to 200 characters, no control characters.
pub fn parse_company(text: &str) -> Result<String, ServiceError> {
    let company = text.trim();
    let count = company.chars().count();
    if count == 0 || count > 200 || company.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            "company",
            "The company name must be 1 to 200 characters, without control characters.",
        ));
    }
    Ok(company.to_owned())
}

/// Checks a new password against the policy, listing every rule it breaks.
pub(crate) fn check_policy(policy: PasswordPolicy, candidate: &str) -> Result<(), ServiceError> {
    policy.check(candidate).map_err(ServiceError::WeakPassword)
}

impl Identity {
    /// `POST /v1/signup`: the tenant, its data key, its first admin and the e-mail
    /// lookup, in one transaction.
    pub async fn signup(&self, req: SignupRequest) -> Result<(TenantId, UserId), ServiceError> {
        self.guard
            .check_rate("auth", req.ip, AUTH_REQUESTS_PER_MINUTE)
            .await?;
        let company = parse_company(&req.company)?;
        let email = Email::parse(&req.email)
            .map_err(|_| ServiceError::invalid("email", "Not a valid e-mail address."))?;
        let policy = SecurityPolicy::default();
        check_policy(
            PasswordPolicy::new(policy.preset),
            req.password.expose_secret(),
        )?;
        let password_hash = hash_password(&req.password).await?;
        let email_hash = self.guard.email_hash(&email).await?;
        let now = self.now();
        let tenant = TenantId::generate();
        let user = UserId::generate();
        let (data_key, key_op) = self.tenant_keys.create(&tenant).await?;
        let tenant_record = TenantRecord {
            company,
            created_at: now,
            policy,
            email_verified: false,
            recovery_code_key: None,
        };
        let user_record = UserRecord {
            email: email.as_str().to_owned(),
            role: Role::Admin,
            password_hash,
            password_set_at: now,
            password_history: Vec::new(),
            disabled: false,
            invited: false,
            created_at: now,
            mfa: None,
            pending_totp_secret: None,
            digest_weekly: false,
        };
        let repos = &self.repos;
        let ops = vec![
            key_op,
            repos.tenants.create(&tenant, &data_key, &tenant_record)?,
            repos
                .users
                .create_with_key(&data_key, &tenant, &user, &user_record)?,
            repos.email_lookups.create(&email_hash, &tenant, &user),
            // Failures counted against this address before it had an account.
            repos.failed_logins.clear_write(&email_hash),
        ];
        transact_or(&self.repos, ops, ServiceError::EmailTaken).await?;
        self.guard
            .audit(
                &tenant,
                Some(&user),
                "TenantCreated",
                Some(format!("tenant:{tenant}")),
                Some(req.ip),
            )
            .await?;
        self.send_verification(&tenant, &user, &email).await?;
        Ok((tenant, user))
    }

    /// `GET /v1/me`.
    pub async fn me(&self, ctx: &TenantCtx) -> Result<Me, ServiceError> {
        let user = self
            .repos
            .users
            .get(ctx.tenant(), ctx.user())
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        let tenant = self
            .repos
            .tenants
            .get(ctx.tenant())
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        let policy = PasswordPolicy::new(tenant.record.policy.preset);
        Ok(Me {
            user: MeUser {
                id: ctx.user().clone(),
                email: user.record.email,
                role: user.record.role,
                mfa_enabled: user.record.mfa.is_some(),
                password_expires_at: policy
                    .expires_after()
                    .map(|d| user.record.password_set_at + d),
            },
            tenant: MeTenant {
                id: ctx.tenant().clone(),
                company: tenant.record.company,
            },
        })
    }
}
