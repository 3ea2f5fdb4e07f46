//! Support access (docs/api.md, "support access"): operators' sign-in, tenant admins'
//! grants, break-glass.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::list_reply;
use crate::domain::ids::{GrantId, OperatorId, UserId};
use crate::domain::support::GrantKind;
use crate::services::operators::NewOperatorSession as NewOperatorSessionView;
use crate::services::support::GrantView;

#[derive(Deserialize, ToSchema)]
pub struct OperatorLoginRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[schema(value_type = String)]
    pub password: SecretString,
    /// A current code of the operator's authenticator app: always required.
    #[serde(default)]
    pub totp_code: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OperatorSummary {
    pub id: OperatorId,
}

/// An operator's session. Its token starts with `op_`.
#[derive(Serialize, ToSchema)]
pub struct NewOperatorSession {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub idle_timeout_seconds: u64,
    pub operator: OperatorSummary,
}

impl From<NewOperatorSessionView> for NewOperatorSession {
    fn from(session: NewOperatorSessionView) -> Self {
        use secrecy::ExposeSecret;
        Self {
            // The one place an operator's token leaves the process: to its owner, once.
            token: session.token.expose_secret().to_owned(),
            expires_at: session.expires_at,
            idle_timeout_seconds: session.idle_timeout_seconds,
            operator: OperatorSummary {
                id: session.operator,
            },
        }
    }
}

/// A tenant admin's consent: one operator, read-only, for a while.
#[derive(Deserialize, ToSchema)]
pub struct GrantRequest {
    pub operator_id: OperatorId,
    /// Why (10 to 1,000 characters), e.g. the support ticket.
    #[schema(min_length = 10, max_length = 1000)]
    pub reason: String,
    /// 1 to 72.
    #[schema(minimum = 1, maximum = 72)]
    pub duration_hours: i64,
}

/// Break-glass access to the tenant named by `X-Tally-Tenant`.
#[derive(Deserialize, ToSchema)]
pub struct BreakGlassRequest {
    /// The critical security issue or suspected abuse (10 to 1,000 characters).
    #[schema(min_length = 10, max_length = 1000)]
    pub reason: String,
    /// 1 to 4.
    #[schema(minimum = 1, maximum = 4)]
    pub duration_hours: i64,
}

#[derive(Serialize, ToSchema)]
pub struct SupportGrant {
    pub id: GrantId,
    pub operator_id: OperatorId,
    pub kind: GrantKind,
    pub reason: String,
    /// The admin who consented; null for break-glass access.
    #[schema(value_type = Option<String>, format = "uuid", required = true)]
    pub granted_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// `active` until `ends_at`, then `ended` (ended grants are deleted soon after).
    #[schema(value_type = String, examples("active", "ended"))]
    pub status: &'static str,
}

impl From<GrantView> for SupportGrant {
    fn from(grant: GrantView) -> Self {
        Self {
            id: grant.id,
            operator_id: grant.operator,
            kind: grant.kind,
            reason: grant.reason,
            granted_by: grant.granted_by,
            created_at: grant.created_at,
            ends_at: grant.ends_at,
            status: if grant.live { "active" } else { "ended" },
        }
    }
}

list_reply!(SupportGrantList of SupportGrant);
