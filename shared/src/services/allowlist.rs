//! The tenant's IP allowlist: entries sealed in its partition under `ALLOW#`. Checked at
//! sign-in and on every authenticated request; the address is always the one the
//! platform saw (API Gateway's source IP, or the socket peer), never a header.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::cidr::{self, Cidr};
use crate::domain::ids::TenantId;
use crate::ports::store::query_all;
use crate::ports::{Item, Query, SortKeys};
use crate::services::Services;
use crate::services::error::ServiceError;

pub const ALLOW_PREFIX: &str = "ALLOW#";

#[derive(Clone, Serialize, Deserialize)]
pub struct AllowEntry {
    pub cidr: Cidr,
    pub note: String,
    pub created_at: DateTime<Utc>,
}

impl Services {
    /// Every entry of the tenant's allowlist with its item (at most a few hundred).
    pub(crate) async fn allowlist(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(Item, AllowEntry)>, ServiceError> {
        let query = Query::new(tenant.partition(), SortKeys::prefix(ALLOW_PREFIX)).limit(500);
        let mut out = Vec::new();
        for item in query_all(self.adapters.store.as_ref(), query).await? {
            let entry: AllowEntry = self.open(tenant, &item).await?;
            out.push((item, entry));
        }
        Ok(out)
    }

    /// Whether `ip` may reach the tenant (an empty list lets everyone in).
    pub(crate) async fn ip_allowed(
        &self,
        tenant: &TenantId,
        ip: IpAddr,
    ) -> Result<bool, ServiceError> {
        let entries = self.allowlist(tenant).await?;
        Ok(cidr::allows(entries.iter().map(|(_, e)| &e.cidr), ip))
    }
}
