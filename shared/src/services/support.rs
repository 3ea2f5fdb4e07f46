//! Support access only with the tenant's consent (docs/design.md §4, "Staff").
//!
//! An operator reaches no tenant by default. A tenant admin grants one operator read
//! access for at most 72 hours with a written reason, and may revoke it at any time;
//! the grant is an item of the tenant's partition, so revoking it (deleting the item)
//! ends access on the operator's very next request, and it stops at `ends_at` on the
//! clock. Break-glass access — for a critical security issue or suspected abuse —
//! needs no consent but a written reason, lasts at most 4 hours, and tells the
//! tenant's admins at once (an event, the mail, published before access opens).
//!
//! Every read an operator makes under a grant is written to the tenant's audit log
//! before it is answered ([`SessionGate::operator_read`]); every grant, revocation and
//! break-glass opening is audited in the same transaction as the change itself.

use chrono::{DateTime, Utc};

use crate::domain::ids::{GrantId, OperatorId, TenantId, UserId};
use crate::domain::roles::Role;
use crate::domain::support::{GrantKind, GrantRefused, check_terms, is_live};
use crate::ports::Event;
use crate::repos::support::{Grant, GrantRecord};
use crate::services::contexts::{Identity, SessionGate, TenantAdmin};
use crate::services::error::ServiceError;
use crate::services::operators::OperatorCtx;
use crate::services::security::{AuditEntry, append_audit, audit_write};
use crate::services::sessions::TenantCtx;

/// A grant as the tenant's admins see it.
#[derive(Clone)]
pub struct GrantView {
    pub id: GrantId,
    pub operator: OperatorId,
    pub kind: GrantKind,
    pub reason: String,
    pub granted_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub live: bool,
}

impl GrantView {
    fn of(grant: Grant, now: DateTime<Utc>) -> Self {
        Self {
            live: is_live(grant.record.ends_at, now),
            id: grant.id,
            operator: grant.operator,
            kind: grant.record.kind,
            reason: grant.record.reason,
            granted_by: grant.record.granted_by,
            created_at: grant.record.created_at,
            ends_at: grant.record.ends_at,
        }
    }
}

impl From<GrantRefused> for ServiceError {
    fn from(refused: GrantRefused) -> Self {
        ServiceError::invalid(refused.field, refused.message)
    }
}

/// An audit entry about support access.
fn support_entry(
    at: DateTime<Utc>,
    action: &str,
    actor: Option<&UserId>,
    operator: &OperatorId,
    target: String,
    ip: std::net::IpAddr,
) -> AuditEntry {
    AuditEntry {
        at,
        actor: actor.cloned(),
        action: action.to_owned(),
        target: Some(target),
        ip: Some(ip),
        operator: Some(operator.clone()),
    }
}

impl TenantAdmin {
    /// `POST /v1/support/grants`: one operator may read for `hours` (at most 72).
    pub async fn grant_support(
        &self,
        ctx: &TenantCtx,
        operator: &OperatorId,
        reason: &str,
        hours: i64,
    ) -> Result<GrantView, ServiceError> {
        let terms = check_terms(GrantKind::Consent, hours, reason)?;
        if !self.repos.operators.is_active(operator).await? {
            return Err(ServiceError::invalid("operator_id", "No such operator."));
        }
        let now = self.now();
        let id = GrantId::generate();
        let record = GrantRecord {
            kind: GrantKind::Consent,
            reason: terms.reason,
            granted_by: Some(ctx.user().clone()),
            created_at: now,
            ends_at: now + terms.duration,
        };
        let target = format!(
            "grant:{id} until {}: {}",
            record.ends_at.to_rfc3339(),
            record.reason
        );
        let entry = support_entry(
            now,
            "SupportAccessGranted",
            Some(ctx.user()),
            operator,
            target,
            ctx.ip(),
        );
        let grants = &self.repos.support_grants;
        let writes = vec![
            grants.create(ctx.tenant(), operator, &id, &record).await?,
            audit_write(&self.repos, ctx.tenant(), &entry).await?,
        ];
        self.repos.transactions.run(writes).await?;
        let grant = Grant {
            id,
            operator: operator.clone(),
            record,
        };
        Ok(GrantView::of(grant, now))
    }

    /// `GET /v1/support/grants`: live grants and those ended but not yet deleted,
    /// newest first.
    pub async fn list_support_grants(
        &self,
        ctx: &TenantCtx,
    ) -> Result<Vec<GrantView>, ServiceError> {
        let now = self.now();
        let mut grants: Vec<GrantView> = self
            .repos
            .support_grants
            .all(ctx.tenant())
            .await?
            .into_iter()
            .map(|g| GrantView::of(g, now))
            .collect();
        grants.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        Ok(grants)
    }

    /// `DELETE /v1/support/grants/{id}`: ends the grant (consented or break-glass) at once.
    pub async fn revoke_support_grant(
        &self,
        ctx: &TenantCtx,
        id: &GrantId,
    ) -> Result<(), ServiceError> {
        let grants = &self.repos.support_grants;
        let grant = grants
            .all(ctx.tenant())
            .await?
            .into_iter()
            .find(|g| &g.id == id)
            .ok_or(ServiceError::NotFound)?;
        let entry = support_entry(
            self.now(),
            "SupportAccessRevoked",
            Some(ctx.user()),
            &grant.operator,
            format!("grant:{id}"),
            ctx.ip(),
        );
        let writes = vec![
            grants.delete(ctx.tenant(), &grant.operator, id),
            audit_write(&self.repos, ctx.tenant(), &entry).await?,
        ];
        match self.repos.transactions.run(writes).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_conflict() => Err(ServiceError::NotFound),
            Err(e) => Err(e.into()),
        }
    }
}

impl Identity {
    /// `POST /v1/operator/break-glass`: access without consent, for at most 4 hours,
    /// with a written reason. The tenant's admins are told first (the event), then the
    /// grant and its audit entry are written together.
    pub async fn break_glass(
        &self,
        op: &OperatorCtx,
        tenant: &TenantId,
        reason: &str,
        hours: i64,
    ) -> Result<GrantView, ServiceError> {
        let terms = check_terms(GrantKind::BreakGlass, hours, reason)?;
        let active = self.repos.tenants.get(tenant).await?;
        if !active.is_some_and(|t| t.is_active()) {
            return Err(ServiceError::NotFound);
        }
        let now = self.now();
        let id = GrantId::generate();
        let record = GrantRecord {
            kind: GrantKind::BreakGlass,
            reason: terms.reason,
            granted_by: None,
            created_at: now,
            ends_at: now + terms.duration,
        };
        let admins: Vec<(UserId, String)> = self
            .repos
            .users
            .all(tenant)
            .await?
            .into_iter()
            .filter(|(_, u)| u.record.role == Role::Admin && !u.record.disabled)
            .map(|(id, u)| (id, u.record.email))
            .collect();
        let event = Event::new("SupportBreakGlassOpened", now)
            .tenant(tenant.as_str())
            .field("operator_id", op.operator.as_str())
            .field("grant_id", id.as_str())
            .field("reason", record.reason.clone())
            .field("ends_at", record.ends_at.to_rfc3339())
            .field(
                "admin_user_ids",
                admins
                    .iter()
                    .map(|(id, _)| id.to_string())
                    .collect::<Vec<_>>(),
            )
            .field(
                "emails",
                admins.into_iter().map(|(_, e)| e).collect::<Vec<_>>(),
            );
        self.events.publish(&event).await?;
        let target = format!(
            "grant:{id} until {}: {}",
            record.ends_at.to_rfc3339(),
            record.reason
        );
        let entry = support_entry(now, "SupportBreakGlass", None, &op.operator, target, op.ip);
        let writes = vec![
            self.repos
                .support_grants
                .create(tenant, &op.operator, &id, &record)
                .await?,
            audit_write(&self.repos, tenant, &entry).await?,
        ];
        self.repos.transactions.run(writes).await?;
        let grant = Grant {
            id,
            operator: op.operator.clone(),
            record,
        };
        Ok(GrantView::of(grant, now))
    }
}

impl SessionGate {
    /// An operator's read of `tenant` (`what`: the method and path): allowed only under
    /// a live grant of that tenant to that operator, and audited in the tenant's log
    /// before it is answered. Anything else is `NotFound`, as for a tenant that does
    /// not exist. The context it gives reads as an analyst reads; the routes that take
    /// it are read-only (`http::session`).
    pub async fn operator_read(
        &self,
        op: &OperatorCtx,
        tenant: &TenantId,
        what: &str,
    ) -> Result<TenantCtx, ServiceError> {
        let active = self.repos.tenants.get(tenant).await?;
        if !active.is_some_and(|t| t.is_active()) {
            return Err(ServiceError::NotFound);
        }
        let now = self.now();
        let grant = self
            .repos
            .support_grants
            .of_operator(tenant, &op.operator)
            .await?
            .into_iter()
            .filter(|g| is_live(g.record.ends_at, now))
            .max_by_key(|g| g.record.ends_at)
            .ok_or(ServiceError::NotFound)?;
        let target = format!("{what} grant:{}", grant.id);
        let entry = support_entry(now, "SupportRead", None, &op.operator, target, op.ip);
        append_audit(&self.repos, tenant, entry).await?;
        // The operator stands where a user would: its id in the user's place (an
        // operator id is a UUID too), never a user of the tenant.
        let reader = UserId::parse(op.operator.as_str())
            .ok_or_else(|| ServiceError::internal("an operator id is not a UUID"))?;
        Ok(TenantCtx::new(
            tenant.clone(),
            reader,
            Role::Analyst,
            op.session.clone(),
            op.ip,
        ))
    }
}
