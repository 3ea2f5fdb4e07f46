//! The records sealed in items, and the two helpers every use case loads and stores them
//! with. Records hold personal data and hashes: none derives `Debug`.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::domain::ids::{TenantId, UserId};
use crate::domain::password::PolicyPreset;
use crate::domain::roles::Role;
use crate::ports::{Item, Key};
use crate::services::Services;
use crate::services::error::ServiceError;
use crate::services::vault::{open_record, seal_record};

/// The plain `status` of a tenant item whose users may sign in.
pub const TENANT_ACTIVE: &str = "active";

/// A tenant's security policy (set by its admins).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityPolicy {
    pub preset: PolicyPreset,
    pub require_mfa: bool,
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        Self {
            preset: PolicyPreset::Default,
            require_mfa: false,
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct TenantRecord {
    pub company: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub policy: SecurityPolicy,
}

/// Two-factor state of a user who has enrolled.
#[derive(Clone, Serialize, Deserialize)]
pub struct MfaState {
    /// Base32 TOTP secret.
    pub secret: String,
    /// The last time step a code was accepted for: codes of this step or earlier are
    /// refused, so each code works once.
    pub last_step: u64,
    /// SHA-256 of the unused recovery codes.
    pub recovery_code_hashes: Vec<String>,
    pub enabled_at: DateTime<Utc>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct UserRecord {
    pub email: String,
    pub role: Role,
    /// PHC string (argon2id); empty while an invitation is not accepted (nothing
    /// verifies against it).
    pub password_hash: String,
    pub password_set_at: DateTime<Utc>,
    /// Earlier PHC strings, newest first (reuse check).
    #[serde(default)]
    pub password_history: Vec<String>,
    #[serde(default)]
    pub disabled: bool,
    /// Invited, with no password set yet.
    #[serde(default)]
    pub invited: bool,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub mfa: Option<MfaState>,
    /// A secret handed out by setup, not yet confirmed by a code.
    #[serde(default)]
    pub pending_totp_secret: Option<String>,
}

/// A record loaded with the version its conditional write must name.
pub struct Loaded<T> {
    pub record: T,
    pub version: u64,
    pub item: Item,
}

impl Services {
    pub(crate) fn table(&self) -> &str {
        self.adapters.store.table_name()
    }

    /// Loads and opens the record sealed at `key` under the tenant's key.
    pub(crate) async fn load<T: DeserializeOwned>(
        &self,
        tenant: &TenantId,
        key: &Key,
    ) -> Result<Option<Loaded<T>>, ServiceError> {
        let Some(item) = self.adapters.store.get(key).await? else {
            return Ok(None);
        };
        let data_key = self.tenant_keys.data_key(tenant).await?;
        let record = open_record(self.table(), &data_key, &item)?;
        Ok(Some(Loaded {
            record,
            version: item.version,
            item,
        }))
    }

    /// Opens a record already fetched (from a query).
    pub(crate) async fn open<T: DeserializeOwned>(
        &self,
        tenant: &TenantId,
        item: &Item,
    ) -> Result<T, ServiceError> {
        let data_key = self.tenant_keys.data_key(tenant).await?;
        Ok(open_record(self.table(), &data_key, item)?)
    }

    /// An item at `key` holding `record` sealed under the tenant's key.
    pub(crate) async fn seal<T: Serialize>(
        &self,
        tenant: &TenantId,
        key: Key,
        record: &T,
    ) -> Result<Item, ServiceError> {
        let data_key = self.tenant_keys.data_key(tenant).await?;
        Ok(seal_record(self.table(), &data_key, key, record)?)
    }

    /// Runs a transaction; a failed condition becomes `on_conflict` (what it means
    /// depends on the use case: a taken e-mail, a used token, a concurrent change).
    pub(crate) async fn transact_or(
        &self,
        ops: Vec<crate::ports::WriteOp>,
        on_conflict: ServiceError,
    ) -> Result<(), ServiceError> {
        match self.adapters.store.transact(ops).await {
            Ok(()) => Ok(()),
            Err(crate::ports::StoreError::ConditionFailed) => Err(on_conflict),
            Err(other) => Err(other.into()),
        }
    }

    pub(crate) async fn load_user(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<Option<Loaded<UserRecord>>, ServiceError> {
        self.load(tenant, &super::layout::user(tenant, user)).await
    }

    pub(crate) async fn load_tenant(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<Loaded<TenantRecord>>, ServiceError> {
        self.load(tenant, &super::layout::tenant(tenant)).await
    }
}
