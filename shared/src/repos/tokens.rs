//! Single-use tokens, found by their SHA-256: `(<KIND>#<hash>, <KIND>)` with the plain
//! ids of the user they act for and an expiry.

use std::sync::Arc;

use crate::domain::ids::{TenantId, UserId};
use crate::ports::{Condition, Item, Key, Store, StoreError};
use crate::repos::{EXPIRES_AT, EntityKey, RepoError, Write, n, s, with_n, with_s};

const TENANT_ID: &str = "tenant_id";
const USER_ID: &str = "user_id";
const ISSUED_AT_MS: &str = "issued_at_ms";

/// What a single-use token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TokenKind {
    /// Password reset by e-mail (30 min).
    Reset,
    /// Password change after expiry (10 min).
    Change,
    /// Invitation of a new user.
    Invite,
    /// OAuth `state`.
    OAuthState,
    /// Proof of a signing-up admin's e-mail address (7 days).
    Verify,
}

impl TokenKind {
    pub const ALL: [TokenKind; 5] = [
        Self::Reset,
        Self::Change,
        Self::Invite,
        Self::OAuthState,
        Self::Verify,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            TokenKind::Reset => "RESET",
            TokenKind::Change => "CHANGE",
            TokenKind::Invite => "INVITE",
            TokenKind::OAuthState => "STATE",
            TokenKind::Verify => "VERIFY",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenKey {
    pub kind: TokenKind,
    pub token_hash: String,
}

impl EntityKey for TokenKey {
    fn key(&self) -> Key {
        let label = self.kind.label();
        Key::new(format!("{label}#{}", self.token_hash), label)
    }
    fn parse(key: &Key) -> Option<Self> {
        let kind = TokenKind::ALL.into_iter().find(|k| k.label() == key.sk)?;
        let hash = key.pk.strip_prefix(kind.label())?.strip_prefix('#')?;
        (!hash.is_empty() && !hash.contains('#')).then(|| Self {
            kind,
            token_hash: hash.to_owned(),
        })
    }
}

/// Whom a stored token acts for, since and until when.
pub struct TokenGrant {
    pub owner: Option<(TenantId, UserId)>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
    /// Unix milliseconds (`None` for a token stored before issue times were).
    pub issued_at_ms: Option<i64>,
}

#[derive(Clone)]
pub struct Tokens {
    store: Arc<dyn Store>,
}

impl Tokens {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Stores a token for the user, issued at `issued_at_ms`, until `expires_at`.
    pub async fn issue(
        &self,
        key: &TokenKey,
        tenant: &TenantId,
        user: &UserId,
        issued_at_ms: i64,
        expires_at: i64,
    ) -> Result<(), RepoError> {
        let item = Item::new(key.key());
        let item = with_s(item, TENANT_ID, tenant.to_string());
        let item = with_s(item, USER_ID, user.to_string());
        let item = with_n(item, ISSUED_AT_MS, issued_at_ms);
        let item = with_n(item, EXPIRES_AT, expires_at);
        Ok(self.store.put(item, Condition::Absent).await?)
    }

    pub async fn get(&self, key: &TokenKey) -> Result<Option<TokenGrant>, RepoError> {
        let Some(item) = self.store.get(&key.key()).await? else {
            return Ok(None);
        };
        let owner = TenantId::parse(s(&item, TENANT_ID).unwrap_or_default())
            .zip(UserId::parse(s(&item, USER_ID).unwrap_or_default()));
        Ok(Some(TokenGrant {
            owner,
            expires_at: n(&item, EXPIRES_AT),
            issued_at_ms: n(&item, ISSUED_AT_MS),
        }))
    }

    /// The write that uses the token up: the transaction fails if it is already gone.
    pub fn consume_write(&self, key: &TokenKey) -> Write {
        Write::delete(key.key(), Condition::Exists)
    }

    /// Uses the token up on its own; `false` when it was already used.
    pub async fn consume(&self, key: &TokenKey) -> Result<bool, RepoError> {
        match self.store.delete(&key.key(), Condition::Exists).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }
}
