//! The tenant's IP allowlist: entries sealed in its partition under `ALLOW#`. Checked at
//! sign-in and on every authenticated request; the address is always the one the
//! platform saw (API Gateway's source IP, or the socket peer), never a header.

use std::net::IpAddr;

use crate::domain::cidr;
use crate::domain::ids::{EntryId, TenantId};
use crate::repos::Stored;
use crate::services::contexts::SessionGate;
use crate::services::error::ServiceError;

pub use crate::repos::security::AllowEntry;

impl SessionGate {
    /// Every entry of the tenant's allowlist with its version (at most a few hundred).
    pub(crate) async fn allowlist(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(EntryId, Stored<AllowEntry>)>, ServiceError> {
        Ok(self.repos.allowlist.all(tenant).await?)
    }

    /// Whether `ip` may reach the tenant (an empty list lets everyone in).
    pub(crate) async fn ip_allowed(
        &self,
        tenant: &TenantId,
        ip: IpAddr,
    ) -> Result<bool, ServiceError> {
        let entries = self.allowlist(tenant).await?;
        Ok(cidr::allows(
            entries.iter().map(|(_, e)| &e.record.cidr),
            ip,
        ))
    }
}
