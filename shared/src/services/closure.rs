//! Account closure (docs/design.md §4): access ends at once; all data, keys and secrets are
//! deleted within 30 days.
//!
//! Closing marks the tenant `closed` (every session and sign-in is refused from that
//! write on) and lists it for erasure (`repos::tenancy`). [`Services::finish_closure`]
//! then removes everything that lives outside the tenant's partition — sessions, e-mail
//! lookups, failure counters, integration secrets and pointers, the Slack webhook of the
//! weekly digest, the tenant's events —
//! and LAST deletes the wrapped data key: from then on nothing sealed of the tenant opens
//! (crypto-shredding), before the sweep has removed a single item. Every step is
//! idempotent and the key goes last, so an interrupted closure is finished by the sweep.
//! What remains afterwards is a receipt keyed by a hash of the tenant id.

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;

use crate::domain::email::Email;
use crate::domain::ids::TenantId;
use crate::repos::erasure::Selection;
use crate::repos::registry::{self, Found};
use crate::repos::tenants::TenantStatus;
use crate::services::contexts::Tenancy;
use crate::services::error::{Conflict, ServiceError};
use crate::services::integrations::secret_name;
use crate::services::records::transact_or;
use crate::services::sessions::TenantCtx;

/// The promise: everything is gone within this many days — backups included.
pub const ERASURE_DAYS: i64 = 30;
/// Within this many days of a closure the sweep has removed every item of the tenant
/// (it runs hourly; a failed deletion is retried, then alarmed). The table's
/// point-in-time recovery keeps deleted items for its recovery period after that, so
/// `infra/template.yaml` sets `RecoveryPeriodInDays` to at most
/// `ERASURE_DAYS - SWEEP_WITHIN_DAYS` (a test reads it).
pub const SWEEP_WITHIN_DAYS: i64 = 2;

impl Tenancy {
    /// `DELETE /v1/account {password, confirm: <company>}`.
    pub async fn close_account(
        &self,
        ctx: &TenantCtx,
        password_given: &SecretString,
        confirm: &str,
    ) -> Result<DateTime<Utc>, ServiceError> {
        let user = self
            .repos
            .users
            .get(ctx.tenant(), ctx.user())
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        self.guard
            .recheck_password(ctx, &user.record, password_given)
            .await?;
        let tenant = self
            .repos
            .tenants
            .get(ctx.tenant())
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        if !tenant.is_active() {
            // Closed by a concurrent call since this session was checked.
            return Err(ServiceError::Unauthenticated);
        }
        if confirm.trim() != tenant.record.company {
            return Err(ServiceError::invalid(
                "confirm",
                "Type the company name exactly to confirm the closure.",
            ));
        }
        let now = self.now();
        let deadline = now + Duration::days(ERASURE_DAYS);
        // A concurrent change to the tenant (policy, another closure) refuses this one
        // whole: the client reloads and confirms again.
        transact_or(
            &self.repos,
            vec![
                self.repos.tenants.close(&tenant),
                self.repos.closures.list(ctx.tenant(), now, deadline),
            ],
            ServiceError::Conflict(Conflict::ConcurrentUpdate),
        )
        .await?;
        self.repos
            .closures
            .write_receipt(ctx.tenant(), now, deadline)
            .await?;
        self.finish_closure(ctx.tenant()).await?;
        Ok(deadline)
    }

    /// Removes what a closed tenant has outside its partition, then shreds its key.
    /// Idempotent; does nothing more once the key is gone. What to remove comes from
    /// the registry of stored entities: every global entity that points at a tenant.
    pub(crate) async fn finish_closure(&self, tenant: &TenantId) -> Result<(), ServiceError> {
        if !self.tenant_keys.exists(tenant).await? {
            return Ok(());
        }
        if self.repos.tenants.status(tenant).await? == Some(TenantStatus::Active) {
            return Err(ServiceError::internal("refusing to erase an active tenant"));
        }
        let mut global: Vec<Selection> = Vec::new();
        // Users: their e-mail lookups and failure counters.
        for (_, user) in self.repos.users.all(tenant).await? {
            if let Ok(email) = Email::parse(&user.record.email) {
                let hash = self.guard.email_hash(&email).await?;
                global.extend(registry::pointed_by(&Found::EmailHash(&hash)));
            }
        }
        // Sessions, through their tenant-side mirrors.
        for hash in self.repos.sessions.token_hashes_of_tenant(tenant).await? {
            global.extend(registry::pointed_by(&Found::TokenHash(&hash)));
        }
        // Integrations: secrets, account pointers, schedule entries.
        for integration in self.repos.integrations.all(tenant).await? {
            self.secrets
                .delete(&secret_name(tenant, &integration.id)?)
                .await?;
            global.extend(registry::pointed_by(&Found::Integration {
                tenant,
                id: &integration.id,
                account: integration.record.account.as_deref(),
            }));
        }
        // The weekly digest's Slack webhook, configured or not (deleting none succeeds).
        self.secrets
            .delete(&crate::ports::SecretName::slack_webhook(tenant.as_str())?)
            .await?;
        self.repos.erasure.delete(global).await?;
        self.events.forget_tenant(tenant.as_str()).await?;
        // Last: nothing sealed of the tenant opens after this write.
        self.tenant_keys.shred(tenant).await?;
        Ok(())
    }
}
