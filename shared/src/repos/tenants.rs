//! The tenant item `(TENANT#<id>, TENANT)`: the sealed [`TenantRecord`] and the plain
//! `status` every sign-in and session check reads.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::crypto::DataKey;
use crate::domain::ids::TenantId;
use crate::ports::{Condition, Item, Key};
use crate::repos::vault::SEALED_ATTR;
use crate::repos::{EntityKey, RepoError, Sealer, Write, s, tenant_of, with_s};
use crate::services::records::SecurityPolicy;

const TENANT_SK: &str = "TENANT";
const STATUS: &str = "status";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantKey {
    pub tenant: TenantId,
}

impl EntityKey for TenantKey {
    fn key(&self) -> Key {
        Key::new(self.tenant.partition(), TENANT_SK)
    }
    fn parse(key: &Key) -> Option<Self> {
        let tenant = tenant_of(&key.pk)?;
        (key.sk == TENANT_SK).then_some(Self { tenant })
    }
}

/// The plain status of a tenant: only an active tenant's users may sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantStatus {
    Active,
    Closed,
}

impl TenantStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Closed => "closed",
        }
    }
    fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct TenantRecord {
    pub company: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub policy: SecurityPolicy,
    /// Whether the signing-up admin proved the e-mail address (tenants created before
    /// sign-ups were verified count as proven).
    #[serde(default = "proven_before_verification")]
    pub email_verified: bool,
    /// The key recovery codes are hashed under (hex), once the data key it was derived
    /// from has been rotated: derived one way from that key, so it outlives it without
    /// keeping it. `None` while the tenant's first data key is current (the key is then
    /// derived from it on use).
    #[serde(default)]
    pub recovery_code_key: Option<String>,
}

fn proven_before_verification() -> bool {
    true
}

/// A tenant as read: its record, version and status.
pub struct StoredTenant {
    pub record: TenantRecord,
    pub version: u64,
    pub status: Option<TenantStatus>,
    item: Item,
}

impl StoredTenant {
    pub fn is_active(&self) -> bool {
        self.status == Some(TenantStatus::Active)
    }
}

#[derive(Clone)]
pub struct Tenants {
    sealer: Sealer,
}

fn key(tenant: &TenantId) -> Key {
    TenantKey {
        tenant: tenant.clone(),
    }
    .key()
}

impl Tenants {
    pub(crate) fn new(sealer: Sealer) -> Self {
        Self { sealer }
    }

    pub async fn get(&self, tenant: &TenantId) -> Result<Option<StoredTenant>, RepoError> {
        let Some((record, item)) = self.sealer.load(tenant, &key(tenant)).await? else {
            return Ok(None);
        };
        Ok(Some(StoredTenant {
            record,
            version: item.version,
            status: s(&item, STATUS).and_then(TenantStatus::parse),
            item,
        }))
    }

    /// The plain status alone, without opening the record (a closing tenant's key may
    /// already be gone).
    pub async fn status(&self, tenant: &TenantId) -> Result<Option<TenantStatus>, RepoError> {
        let item = self.sealer.store.get(&key(tenant)).await?;
        Ok(item
            .as_ref()
            .and_then(|i| s(i, STATUS))
            .and_then(TenantStatus::parse))
    }

    /// The write that creates an active tenant, sealed with its new key.
    pub fn create(
        &self,
        tenant: &TenantId,
        data_key: &DataKey,
        record: &TenantRecord,
    ) -> Result<Write, RepoError> {
        let item = self.sealer.seal_with(data_key, key(tenant), record)?;
        let item = with_s(item, STATUS, TenantStatus::Active.as_str());
        Ok(Write::put(item, Condition::Absent))
    }

    /// The write that replaces the record, if the tenant did not change since read.
    /// Plain attributes (status) stay as they are.
    pub async fn update(
        &self,
        tenant: &TenantId,
        stored: &StoredTenant,
        record: &TenantRecord,
    ) -> Result<Write, RepoError> {
        let mut item = self
            .sealer
            .seal(tenant, key(tenant), record)
            .await?
            .with_version(stored.version + 1);
        for (name, value) in stored
            .item
            .attrs
            .iter()
            .filter(|(n, _)| n.as_str() != SEALED_ATTR)
        {
            item.attrs.insert(name.clone(), value.clone());
        }
        Ok(Write::put(item, Condition::VersionIs(stored.version)))
    }

    /// The write that marks the tenant closed (the record itself is left as it is), if
    /// it did not change since read.
    pub fn close(&self, stored: &StoredTenant) -> Write {
        let mut closed = with_s(stored.item.clone(), STATUS, TenantStatus::Closed.as_str());
        closed.version = stored.version + 1;
        Write::put(closed, Condition::VersionIs(stored.version))
    }
}
