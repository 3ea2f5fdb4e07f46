//! Rotating a tenant's data key (issue 17, finding 10; `POST /v1/security/rotate-keys`).
//!
//! The admin's request makes a new key current at once (new writes are sealed under
//! it) and keeps the old one, wrapped, as retired; it then asks for the re-seal job
//! ([`Job::ResealTenant`], run by the sweep function). The job passes over the tenant's
//! items until none is sealed under the retired key and destroys it. Because a warm
//! process may keep sealing under the old key until its cached keys expire, the job
//! waits out that cache time before the pass that decides. A rotation while a key is
//! still retired is refused: 409 `rotation_in_progress` — and asks for the job again,
//! so a re-seal whose job failed all its retries is resumed by the admin's next try.
//!
//! Recovery codes are hashed under a key derived from the data key; the first rotation
//! keeps that derived key in the tenant's (sealed) record, so codes issued before it
//! still work after the old key is gone.

use serde::Serialize;

use crate::domain::ids::TenantId;
use crate::domain::tokens::recovery_code_key;
use crate::repos::reseal::ResealPass;
use crate::repos::vault::VaultError;
use crate::services::contexts::{Tenancy, TenantAdmin};
use crate::services::error::{Conflict, ServiceError};
use crate::services::jobs::{Job, ResealJob};
use crate::services::records::transact_or;
use crate::services::sessions::TenantCtx;

/// Added to the key cache time before the deciding pass: a write sealed under a
/// cached key just before the cache expired may still be on its way to the store.
const IN_FLIGHT_MARGIN: std::time::Duration = std::time::Duration::from_secs(1);
/// Passes after the wait before the job gives up (and is retried): each finds only
/// items that changed while the previous one read them.
const DECIDING_PASSES: usize = 5;

/// The reply to a rotation request.
#[derive(Debug, Serialize)]
pub struct KeyRotation {
    /// The new key's generation (the tenant's first key is generation 0).
    pub generation: u32,
    /// The retired key's generation: destroyed once the re-seal job is done.
    pub retired_generation: u32,
}

/// What a re-seal job did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResealReport {
    pub resealed: u64,
    /// The generation of the key destroyed, if one was.
    pub destroyed_generation: Option<u32>,
}

impl TenantAdmin {
    /// `POST /v1/security/rotate-keys`.
    pub async fn rotate_keys(&self, ctx: &TenantCtx) -> Result<KeyRotation, ServiceError> {
        let tenant = ctx.tenant();
        let keys = &self.guard.tenant_keys;
        let rotation = match keys.rotate(tenant).await {
            Ok(rotation) => rotation,
            Err(VaultError::RotationInProgress) => {
                // The job is idempotent: asked again, it resumes a re-seal whose job
                // ran out of retries (and is harmless beside one still running).
                self.request_reseal(tenant).await?;
                return Err(ServiceError::Conflict(Conflict::RotationInProgress));
            }
            Err(other) => return Err(other.into()),
        };
        let stored = self
            .repos
            .tenants
            .get(tenant)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let mut ops = vec![rotation.write];
        if stored.record.recovery_code_key.is_none() {
            let mut record = stored.record.clone();
            record.recovery_code_key = Some(recovery_code_key(rotation.previous.expose_bytes()));
            ops.push(self.repos.tenants.update(tenant, &stored, &record).await?);
        }
        transact_or(
            &self.repos,
            ops,
            ServiceError::Conflict(Conflict::RotationInProgress),
        )
        .await?;
        keys.forget(tenant);
        let retired_generation = rotation.generation - 1;
        self.request_reseal(tenant).await?;
        self.guard
            .audit(
                tenant,
                Some(ctx.user()),
                &format!("DataKeyRotated:generation={}", rotation.generation),
                Some(format!("key:{retired_generation}")),
                Some(ctx.ip()),
            )
            .await?;
        Ok(KeyRotation {
            generation: rotation.generation,
            retired_generation,
        })
    }
}

impl TenantAdmin {
    /// Publishes the re-seal job of the tenant.
    async fn request_reseal(&self, tenant: &TenantId) -> Result<(), ServiceError> {
        let job = Job::ResealTenant(ResealJob {
            tenant_id: tenant.clone(),
        });
        if let Some(event) = job.event(self.now()) {
            self.events.publish(&event).await?;
        }
        Ok(())
    }
}

impl Tenancy {
    /// The re-seal job: passes over the tenant's items until none is sealed under the
    /// retired key, then destroys it and audits that. Nothing to do for a tenant
    /// without a retired key (a job delivered twice) or without keys (closed).
    pub async fn reseal_tenant(&self, tenant: &TenantId) -> Result<ResealReport, ServiceError> {
        let started = tokio::time::Instant::now();
        let retired = match self.tenant_keys.state(tenant).await {
            Ok(state) => state.retired,
            Err(VaultError::NoKey) => None,
            Err(other) => return Err(other.into()),
        };
        let Some(retired) = retired else {
            return Ok(ResealReport::default());
        };
        let mut report = ResealReport::default();
        report.resealed += self.repos.reseal.pass(tenant).await?.resealed;
        tokio::time::sleep_until(started + self.tenant_keys.cache_ttl() + IN_FLIGHT_MARGIN).await;
        for _ in 0..DECIDING_PASSES {
            let pass = self.repos.reseal.pass(tenant).await?;
            report.resealed += pass.resealed;
            if pass == ResealPass::default() {
                self.tenant_keys.destroy_retired(tenant, retired).await?;
                report.destroyed_generation = Some(retired);
                self.guard
                    .audit(
                        tenant,
                        None,
                        &format!("DataKeyDestroyed:resealed={}", report.resealed),
                        Some(format!("key:{retired}")),
                        None,
                    )
                    .await?;
                tracing::info!(
                    resealed = report.resealed,
                    "tenant re-sealed, old key destroyed"
                );
                return Ok(report);
            }
        }
        Err(ServiceError::internal(
            "items kept changing under the retired key; the re-seal job is retried",
        ))
    }
}
