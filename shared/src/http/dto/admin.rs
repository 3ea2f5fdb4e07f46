//! The bodies of the `admin` function: users and invitations, the IP allowlist, the
//! security policy, sign-in analytics and the audit log.

use chrono::{DateTime, NaiveDate, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::list_reply;
use crate::domain::ids::{EntryId, UserId};
use crate::domain::password::PolicyPreset;
use crate::domain::roles::Role;
use crate::services::records::DEFAULT_MIN_GROUP_SIZE;
use crate::services::records::SecurityPolicy as PolicyRecord;
use crate::services::security::{
    AuditEntry as AuditView, LoginAttempt as AttemptView, LoginOutcome,
};
use crate::services::security_admin::{AllowEntryView, AttemptSummary as SummaryView};
use crate::services::users::{Invitation as InvitationView, UserView};

#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    /// Invited and no password set yet.
    pub invited: bool,
    pub mfa_enabled: bool,
    pub created_at: DateTime<Utc>,
}

impl From<UserView> for User {
    fn from(user: UserView) -> Self {
        Self {
            id: user.id,
            email: user.email,
            role: user.role,
            disabled: user.disabled,
            invited: user.invited,
            mfa_enabled: user.mfa_enabled,
            created_at: user.created_at,
        }
    }
}

list_reply!(UserList of User);

#[derive(Deserialize, ToSchema)]
pub struct InviteRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    pub role: Role,
}

#[derive(Serialize, ToSchema)]
pub struct Invitation {
    pub id: UserId,
    pub email: String,
    pub role: Role,
    /// Single use, valid 7 days; also sent in the invitation event.
    pub invite_token: String,
}

impl From<InvitationView> for Invitation {
    fn from(invitation: InvitationView) -> Self {
        Self {
            id: invitation.user.id,
            email: invitation.user.email,
            role: invitation.user.role,
            invite_token: invitation.invite_token,
        }
    }
}

/// The changes to make; an absent field is left as it is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
pub struct AcceptInviteRequest {
    pub token: String,
    #[schema(value_type = String)]
    pub password: SecretString,
}

#[derive(Deserialize, ToSchema)]
pub struct AllowEntryRequest {
    /// A single IPv4 or IPv6 address or a CIDR (host bits are cleared).
    #[schema(examples("203.0.113.0/24"))]
    pub cidr: String,
    #[serde(default)]
    #[schema(max_length = 200, default = "")]
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AllowEntry {
    pub id: EntryId,
    /// Normalised, always with a prefix length (`127.0.0.1/32`).
    pub cidr: String,
    pub note: String,
    pub created_at: DateTime<Utc>,
}

impl From<AllowEntryView> for AllowEntry {
    fn from(entry: AllowEntryView) -> Self {
        Self {
            id: entry.id,
            cidr: entry.cidr.into(),
            note: entry.note,
            created_at: entry.created_at,
        }
    }
}

list_reply!(AllowEntryList of AllowEntry);

/// The tenant's security policy (the same shape is sent and answered).
#[derive(Deserialize, Serialize, ToSchema)]
pub struct SecurityPolicy {
    /// `default`: 12+ characters with upper, lower, digit and symbol, expiring after 180
    /// days; `nist`: 15+ characters, no composition rules, no expiry.
    pub preset: PolicyPreset,
    pub require_mfa: bool,
    /// k-anonymity of viewers' aggregates: a filter or group covering fewer customers
    /// is answered `"suppressed": true` without its figures (default 5; 2 to 1000;
    /// left out of a PUT, the default).
    #[serde(default = "default_min_group_size")]
    #[schema(minimum = 2, maximum = 1000, default = 5)]
    pub min_group_size: u32,
}

fn default_min_group_size() -> u32 {
    DEFAULT_MIN_GROUP_SIZE
}

impl From<PolicyRecord> for SecurityPolicy {
    fn from(policy: PolicyRecord) -> Self {
        Self {
            preset: policy.preset,
            require_mfa: policy.require_mfa,
            min_group_size: policy.min_group_size,
        }
    }
}

impl From<SecurityPolicy> for PolicyRecord {
    fn from(policy: SecurityPolicy) -> Self {
        Self {
            preset: policy.preset,
            require_mfa: policy.require_mfa,
            min_group_size: policy.min_group_size,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LoginAttempt {
    pub at: DateTime<Utc>,
    /// Keyed hash of the e-mail given (never the address).
    pub email_hash: String,
    /// Null when the e-mail matched no user.
    #[schema(value_type = Option<String>, format = "uuid", required = true)]
    pub user_id: Option<UserId>,
    /// An IPv4 or IPv6 address.
    #[schema(value_type = String)]
    pub ip: std::net::IpAddr,
    pub outcome: LoginOutcome,
}

impl From<AttemptView> for LoginAttempt {
    fn from(attempt: AttemptView) -> Self {
        Self {
            at: attempt.at,
            email_hash: attempt.email_hash,
            user_id: attempt.user_id,
            ip: attempt.ip,
            outcome: attempt.outcome,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DayCount {
    pub date: NaiveDate,
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
}

#[derive(Serialize, ToSchema)]
pub struct IpCount {
    /// An IPv4 or IPv6 address.
    #[schema(value_type = String)]
    pub ip: std::net::IpAddr,
    pub count: u64,
}

/// Over the whole range and filter, not only the page.
#[derive(Serialize, ToSchema)]
pub struct AttemptSummary {
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub locked_out: u64,
    pub by_day: Vec<DayCount>,
    /// The addresses with the most attempts (at most ten).
    pub top_ips: Vec<IpCount>,
}

impl From<SummaryView> for AttemptSummary {
    fn from(summary: SummaryView) -> Self {
        Self {
            total: summary.total,
            succeeded: summary.succeeded,
            failed: summary.failed,
            locked_out: summary.locked_out,
            by_day: summary
                .by_day
                .into_iter()
                .map(|d| DayCount {
                    date: d.date,
                    total: d.total,
                    succeeded: d.succeeded,
                    failed: d.failed,
                })
                .collect(),
            top_ips: summary
                .top_ips
                .into_iter()
                .map(|i| IpCount {
                    ip: i.ip,
                    count: i.count,
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LoginAttemptReport {
    pub summary: AttemptSummary,
    pub data: Vec<LoginAttempt>,
    /// The cursor of the next page; null on the last.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    /// The user who acted; null for the system or an anonymous caller.
    #[schema(value_type = Option<String>, format = "uuid", required = true)]
    pub actor: Option<UserId>,
    pub action: String,
    #[schema(required = true)]
    pub target: Option<String>,
    #[schema(value_type = Option<String>, required = true)]
    pub ip: Option<std::net::IpAddr>,
    /// The operator (staff) who acted, on support-access entries only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator_id: Option<crate::domain::ids::OperatorId>,
}

impl From<AuditView> for AuditEntry {
    fn from(entry: AuditView) -> Self {
        Self {
            at: entry.at,
            actor: entry.actor,
            action: entry.action,
            target: entry.target,
            ip: entry.ip,
            operator_id: entry.operator,
        }
    }
}

list_reply!(AuditEntryList of AuditEntry);

/// A started key rotation: the new key seals every write from now on; the re-seal job
/// moves the tenant's stored items to it and then destroys the retired key.
#[derive(Serialize, ToSchema)]
pub struct KeyRotationStarted {
    /// The new data key's generation (the tenant's first key is 0).
    pub generation: u32,
    /// The retired key's generation, destroyed once nothing is sealed under it.
    pub retired_generation: u32,
    /// Always `resealing` in this reply.
    pub status: &'static str,
}

impl From<crate::services::key_rotation::KeyRotation> for KeyRotationStarted {
    fn from(rotation: crate::services::key_rotation::KeyRotation) -> Self {
        Self {
            generation: rotation.generation,
            retired_generation: rotation.retired_generation,
            status: "resealing",
        }
    }
}
