//! A tenant's users at `(TENANT#<id>, USER#<user>)`: the sealed [`UserRecord`].
//! Records hold personal data and hashes: none derives `Debug`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::crypto::DataKey;
use crate::domain::ids::{TenantId, UserId};
use crate::domain::roles::Role;
use crate::ports::{Condition, Cursor, Item, Key, Query, SortKeys};
use crate::repos::{
    EntityKey, RepoError, SealedPage, Sealer, Stored, Write, all_under, sealed_len, tenant_of,
};

const USER_PREFIX: &str = "USER#";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserKey {
    pub tenant: TenantId,
    pub user: UserId,
}

impl EntityKey for UserKey {
    fn key(&self) -> Key {
        Key::new(
            self.tenant.partition(),
            format!("{USER_PREFIX}{}", self.user),
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        Some(Self {
            tenant: tenant_of(&key.pk)?,
            user: key.sk.strip_prefix(USER_PREFIX).and_then(UserId::parse)?,
        })
    }
}

/// Two-factor state of a user who has enrolled.
#[derive(Clone, Serialize, Deserialize)]
pub struct MfaState {
    /// Base32 TOTP secret.
    pub secret: String,
    /// The last time step a code was accepted for: codes of this step or earlier are
    /// refused, so each code works once.
    pub last_step: u64,
    /// Keyed hashes (HMAC under a key derived from the tenant's data key, `hmac:`) of
    /// the unused recovery codes; codes issued before issue 17 as bare SHA-256.
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
    /// Opted in to the weekly digest by e-mail (off for users stored before it).
    #[serde(default)]
    pub digest_weekly: bool,
}

#[derive(Clone)]
pub struct Users {
    sealer: Sealer,
}

fn key(tenant: &TenantId, user: &UserId) -> Key {
    UserKey {
        tenant: tenant.clone(),
        user: user.clone(),
    }
    .key()
}

fn user_id(key: &Key) -> Option<UserId> {
    UserKey::parse(key).map(|k| k.user)
}

impl Users {
    pub(crate) fn new(sealer: Sealer) -> Self {
        Self { sealer }
    }

    pub async fn get(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<Option<Stored<UserRecord>>, RepoError> {
        Ok(self
            .sealer
            .load(tenant, &key(tenant, user))
            .await?
            .map(|(record, item)| Stored {
                record,
                version: item.version,
            }))
    }

    /// One page of the tenant's users, in id order.
    pub async fn page(
        &self,
        tenant: &TenantId,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<(UserId, UserRecord)>, Option<Cursor>), RepoError> {
        let query = Query::new(tenant.partition(), SortKeys::prefix(USER_PREFIX))
            .limit(limit)
            .after(cursor);
        let page = self.sealer.store.query(query).await?;
        let mut users = Vec::with_capacity(page.items.len());
        for item in &page.items {
            let Some(id) = user_id(&item.key) else {
                continue;
            };
            users.push((id, self.sealer.open(tenant, item).await?));
        }
        Ok((users, page.next_cursor))
    }

    /// One page (up to 1,000) of the tenant's users, with sealed sizes.
    pub async fn export_page(
        &self,
        tenant: &TenantId,
        cursor: Option<Cursor>,
    ) -> Result<SealedPage<(UserId, UserRecord)>, RepoError> {
        let query = Query::new(tenant.partition(), SortKeys::prefix(USER_PREFIX))
            .limit(1000)
            .after(cursor);
        let page = self.sealer.store.query(query).await?;
        let records: Vec<UserRecord> = self.sealer.open_all(tenant, &page.items).await?;
        Ok(SealedPage {
            records: page
                .items
                .iter()
                .zip(records)
                .filter_map(|(item, record)| {
                    Some(((user_id(&item.key)?, record), sealed_len(item)))
                })
                .collect(),
            next: page.next_cursor,
        })
    }

    /// Every user of the tenant with its version (a tenant has at most hundreds).
    pub async fn all(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(UserId, Stored<UserRecord>)>, RepoError> {
        let store = self.sealer.store.as_ref();
        let mut out = Vec::new();
        for item in all_under(store, tenant, USER_PREFIX.into(), 500).await? {
            let Some(id) = user_id(&item.key) else {
                continue;
            };
            let record = self.sealer.open(tenant, &item).await?;
            let version = item.version;
            out.push((id, Stored { record, version }));
        }
        Ok(out)
    }

    /// The write that creates a user.
    pub async fn create(
        &self,
        tenant: &TenantId,
        user: &UserId,
        record: &UserRecord,
    ) -> Result<Write, RepoError> {
        let item = self.sealer.seal(tenant, key(tenant, user), record).await?;
        Ok(Write::put(item, Condition::Absent))
    }

    /// The same for a tenant being created, whose key is not stored yet.
    pub fn create_with_key(
        &self,
        data_key: &DataKey,
        tenant: &TenantId,
        user: &UserId,
        record: &UserRecord,
    ) -> Result<Write, RepoError> {
        let item = self.sealer.seal_with(data_key, key(tenant, user), record)?;
        Ok(Write::put(item, Condition::Absent))
    }

    /// The write that replaces the record, if it is still at `version`.
    pub async fn update(
        &self,
        tenant: &TenantId,
        user: &UserId,
        record: &UserRecord,
        version: u64,
    ) -> Result<Write, RepoError> {
        let item = self.updated(tenant, user, record, version).await?;
        Ok(Write::put(item, Condition::VersionIs(version)))
    }

    async fn updated(
        &self,
        tenant: &TenantId,
        user: &UserId,
        record: &UserRecord,
        version: u64,
    ) -> Result<Item, RepoError> {
        Ok(self
            .sealer
            .seal(tenant, key(tenant, user), record)
            .await?
            .with_version(version + 1))
    }

    /// Writes the record back, refused (a conflict) if it changed since read.
    pub async fn save(
        &self,
        tenant: &TenantId,
        user: &UserId,
        stored: &Stored<UserRecord>,
    ) -> Result<(), RepoError> {
        let item = self
            .updated(tenant, user, &stored.record, stored.version)
            .await?;
        let condition = Condition::VersionIs(stored.version);
        Ok(self.sealer.store.put(item, condition).await?)
    }

    /// The write that deletes the user, if it is still at `version`.
    pub fn delete(&self, tenant: &TenantId, user: &UserId, version: u64) -> Write {
        Write::delete(key(tenant, user), Condition::VersionIs(version))
    }

    /// A transaction's check that the user is still at `version`.
    pub fn unchanged(&self, tenant: &TenantId, user: &UserId, version: u64) -> Write {
        Write::check(key(tenant, user), Condition::VersionIs(version))
    }
}
