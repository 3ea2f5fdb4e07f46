//! Security bookkeeping shared by the use cases: the lookup pepper behind every e-mail
//! and address hash, per-address rate limits kept in the Store (so they hold across
//! Lambda instances), the audit log, and the record of every sign-in attempt.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::domain::crypto::random_bytes;
use crate::domain::email::{Email, lookup_hash};
use crate::domain::ids::{OperatorId, TenantId, UserId};
use crate::ports::{Event, SecretName};
use crate::services::contexts::Guard;
use crate::services::error::ServiceError;

/// The secret holding the key of every keyed lookup hash (e-mails, addresses).
pub const LOOKUP_PEPPER_SECRET: &str = "tally/system/lookup-pepper";
/// How long audit entries are kept.
pub const AUDIT_RETENTION_DAYS: i64 = 400;
/// How long sign-in attempts are kept.
pub const LOGIN_ATTEMPT_RETENTION_DAYS: i64 = 90;

pub use crate::domain::sign_in::LoginOutcome;

#[derive(Clone, Serialize, Deserialize)]
pub struct LoginAttempt {
    pub at: DateTime<Utc>,
    pub email_hash: String,
    pub user_id: Option<UserId>,
    pub ip: IpAddr,
    pub outcome: LoginOutcome,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    /// The user who acted; `None` for the system (sweeps) or an anonymous caller.
    pub actor: Option<UserId>,
    pub action: String,
    pub target: Option<String>,
    pub ip: Option<IpAddr>,
    /// The operator (staff) who acted, for support access; absent on other entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<OperatorId>,
}

/// Appends an entry to the tenant's audit log (kept 400 days; never changed afterwards).
pub(crate) async fn append_audit(
    repos: &crate::repos::Repos,
    tenant: &TenantId,
    entry: AuditEntry,
) -> Result<(), ServiceError> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let expires_at = (entry.at + Duration::days(AUDIT_RETENTION_DAYS)).timestamp();
    repos
        .audit_log
        .append(tenant, entry.at, &id, &entry, expires_at)
        .await?;
    Ok(())
}

/// The write that appends `entry` to the tenant's audit log, for a transaction with the
/// change it records.
pub(crate) async fn audit_write(
    repos: &crate::repos::Repos,
    tenant: &TenantId,
    entry: &AuditEntry,
) -> Result<crate::repos::Write, ServiceError> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let expires_at = (entry.at + Duration::days(AUDIT_RETENTION_DAYS)).timestamp();
    Ok(repos
        .audit_log
        .append_write(tenant, entry.at, &id, entry, expires_at)
        .await?)
}

/// What a rate limit counts an address as: an IPv4 address whole (an IPv4-mapped IPv6
/// address too), an IPv6 address by its /64 — one host or customer line is given a
/// whole /64 and could otherwise spread its requests over 2^64 budgets.
pub(crate) fn rate_subject(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

impl Guard {
    /// Creates the lookup pepper if it does not exist yet. The local server calls this
    /// at start; in AWS the template creates the secret and functions only read it.
    pub async fn ensure_lookup_pepper(&self) -> Result<(), ServiceError> {
        let name = SecretName::parse(LOOKUP_PEPPER_SECRET)?;
        if self.secrets.get(&name).await?.is_none() {
            let fresh = SecretString::from(STANDARD.encode(random_bytes::<32>()));
            self.secrets.put(&name, &fresh).await?;
        }
        Ok(())
    }

    async fn lookup_pepper(&self) -> Result<Arc<Zeroizing<Vec<u8>>>, ServiceError> {
        self.pepper
            .get_or_try_init(|| async {
                let name = SecretName::parse(LOOKUP_PEPPER_SECRET)?;
                let secret =
                    self.secrets.get(&name).await?.ok_or_else(|| {
                        ServiceError::internal("the lookup pepper secret is missing")
                    })?;
                // Any string is a good HMAC key; its bytes are used as they are.
                let bytes = secret.expose_secret().as_bytes().to_vec();
                if bytes.len() < 32 {
                    return Err(ServiceError::internal(
                        "the lookup pepper is shorter than 32 bytes",
                    ));
                }
                Ok(Arc::new(Zeroizing::new(bytes)))
            })
            .await
            .cloned()
    }

    /// The keyed hash an e-mail is looked up by.
    pub(crate) async fn email_hash(&self, email: &Email) -> Result<String, ServiceError> {
        Ok(lookup_hash(&self.lookup_pepper().await?, email))
    }

    /// Counts a request from `ip` in `bucket`; refuses past `per_minute` in one minute.
    pub(crate) async fn check_rate(
        &self,
        bucket: &'static str,
        ip: IpAddr,
        per_minute: i64,
    ) -> Result<(), ServiceError> {
        let pepper = self.lookup_pepper().await?;
        let ip_hash = crate::domain::crypto::keyed_hash(&pepper, rate_subject(ip).as_bytes());
        let now = self.now().timestamp();
        let minute = now.div_euclid(60);
        let count = self
            .repos
            .rate_counters
            .count(bucket, &ip_hash, minute)
            .await?;
        if count > per_minute {
            let retry_after_secs = (60 - now.rem_euclid(60)).max(1) as u64;
            return Err(ServiceError::RateLimited { retry_after_secs });
        }
        Ok(())
    }

    /// Appends to the tenant's audit log (kept 400 days; never changed afterwards).
    pub(crate) async fn audit(
        &self,
        tenant: &TenantId,
        actor: Option<&UserId>,
        action: &str,
        target: Option<String>,
        ip: Option<IpAddr>,
    ) -> Result<(), ServiceError> {
        let at = self.now();
        let entry = AuditEntry {
            at,
            actor: actor.cloned(),
            action: action.to_owned(),
            target,
            ip,
            operator: None,
        };
        append_audit(&self.repos, tenant, entry).await
    }

    /// Audits a security event and publishes it on the bus.
    pub(crate) async fn security_event(
        &self,
        tenant: &TenantId,
        user: &UserId,
        event_type: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), ServiceError> {
        self.audit(
            tenant,
            Some(user),
            event_type,
            Some(format!("user:{user}")),
            ip,
        )
        .await?;
        let event = Event::new(event_type, self.now())
            .tenant(tenant.as_str())
            .field("user_id", user.as_str());
        self.events.publish(&event).await?;
        Ok(())
    }

    /// Records a sign-in attempt in the tenant's partition (the system partition when
    /// the e-mail matched no user).
    pub(crate) async fn record_login_attempt(
        &self,
        tenant: &TenantId,
        attempt: LoginAttempt,
    ) -> Result<(), ServiceError> {
        if tenant == &TenantId::system() {
            self.tenant_keys.ensure(tenant).await?;
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let expires = (attempt.at + Duration::days(LOGIN_ATTEMPT_RETENTION_DAYS)).timestamp();
        self.repos
            .login_attempts
            .append(tenant, attempt.at, &id, &attempt, expires)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::rate_subject;

    #[test]
    fn an_ipv6_address_counts_as_its_64_and_an_ipv4_one_as_itself() {
        let subject = |ip: &str| rate_subject(ip.parse().unwrap());
        assert_eq!(
            subject("2001:db8:1:2::1"),
            subject("2001:db8:1:2:ffff:1:2:3")
        );
        assert_ne!(subject("2001:db8:1:2::1"), subject("2001:db8:1:3::1"));
        assert_eq!(subject("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(subject("203.0.113.7"), "203.0.113.7");
        assert_eq!(subject("::ffff:203.0.113.7"), "203.0.113.7");
        assert_ne!(subject("203.0.113.7"), subject("203.0.113.8"));
    }
}
