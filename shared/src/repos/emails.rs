//! What is found by an e-mail's keyed hash before the tenant is known: the pointer to
//! its user `(EMAIL#<hmac>, USER)` and the count of failed sign-ins `(EMAIL#<hmac>,
//! FAILS)` (kept for addresses with and without an account alike).

use std::sync::Arc;

use crate::domain::ids::{TenantId, UserId};
use crate::ports::{Condition, Item, Key, Store};
use crate::repos::{EntityKey, RepoError, Write, s, with_s};

const EMAIL_PREFIX: &str = "EMAIL#";
const LOOKUP_SK: &str = "USER";
const FAILS_SK: &str = "FAILS";
const TENANT_ID: &str = "tenant_id";
const USER_ID: &str = "user_id";
const COUNT: &str = "count";

/// An e-mail's keyed hash as it may stand in a key: non-empty, no `#`.
fn hash_of(pk: &str) -> Option<String> {
    pk.strip_prefix(EMAIL_PREFIX)
        .filter(|h| !h.is_empty() && !h.contains('#'))
        .map(str::to_owned)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailLookupKey {
    pub email_hash: String,
}

impl EntityKey for EmailLookupKey {
    fn key(&self) -> Key {
        Key::new(format!("{EMAIL_PREFIX}{}", self.email_hash), LOOKUP_SK)
    }
    fn parse(key: &Key) -> Option<Self> {
        let email_hash = hash_of(&key.pk)?;
        (key.sk == LOOKUP_SK).then_some(Self { email_hash })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedLoginsKey {
    pub email_hash: String,
}

impl EntityKey for FailedLoginsKey {
    fn key(&self) -> Key {
        Key::new(format!("{EMAIL_PREFIX}{}", self.email_hash), FAILS_SK)
    }
    fn parse(key: &Key) -> Option<Self> {
        let email_hash = hash_of(&key.pk)?;
        (key.sk == FAILS_SK).then_some(Self { email_hash })
    }
}

pub(crate) fn lookup_key(email_hash: &str) -> Key {
    EmailLookupKey {
        email_hash: email_hash.to_owned(),
    }
    .key()
}

pub(crate) fn fails_key(email_hash: &str) -> Key {
    FailedLoginsKey {
        email_hash: email_hash.to_owned(),
    }
    .key()
}

/// The global pointers from an e-mail's keyed hash to its user.
#[derive(Clone)]
pub struct EmailLookups {
    store: Arc<dyn Store>,
}

impl EmailLookups {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// The user the e-mail belongs to (`None` also for a pointer that does not parse).
    pub async fn get(&self, email_hash: &str) -> Result<Option<(TenantId, UserId)>, RepoError> {
        let item = self.store.get(&lookup_key(email_hash)).await?;
        Ok(item.and_then(|item| {
            Some((
                TenantId::parse(s(&item, TENANT_ID)?)?,
                UserId::parse(s(&item, USER_ID)?)?,
            ))
        }))
    }

    /// The write that reserves the e-mail for a user (refused if it is taken).
    pub fn create(&self, email_hash: &str, tenant: &TenantId, user: &UserId) -> Write {
        let item = Item::new(lookup_key(email_hash));
        let item = with_s(item, TENANT_ID, tenant.to_string());
        let item = with_s(item, USER_ID, user.to_string());
        Write::put(item, Condition::Absent)
    }

    /// The write that frees the e-mail.
    pub fn delete(&self, email_hash: &str) -> Write {
        Write::delete(lookup_key(email_hash), Condition::None)
    }
}

/// Consecutive failed sign-ins per e-mail hash (known or not).
#[derive(Clone)]
pub struct FailedLogins {
    store: Arc<dyn Store>,
}

impl FailedLogins {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Adds `by` (one failure reserved, or given back) atomically; returns the count.
    /// `expires_at` (Unix seconds) for a counter that must not outlive its use.
    pub async fn add(
        &self,
        email_hash: &str,
        by: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, RepoError> {
        Ok(self
            .store
            .increment(&fails_key(email_hash), COUNT, by, expires_at)
            .await?)
    }

    /// Clears the count.
    pub async fn clear(&self, email_hash: &str) -> Result<(), RepoError> {
        Ok(self
            .store
            .delete(&fails_key(email_hash), Condition::None)
            .await?)
    }

    /// The write that clears the count.
    pub fn clear_write(&self, email_hash: &str) -> Write {
        Write::delete(fails_key(email_hash), Condition::None)
    }
}
