//! Sessions: the global item `(SESSION#<sha256 of the token>, SESSION)` with plain ids
//! and times (no personal data), and its sealed mirror in the tenant's partition
//! `(TENANT#<id>, SESSIONREF#<user>#<session>)`, through which a user lists and ends
//! their sessions and closure finds them.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{SessionId, TenantId, UserId};
use crate::ports::{Condition, Item, Key};
use crate::repos::{
    EXPIRES_AT, EntityKey, RepoError, Sealer, Transactions, Write, all_under, n, s, tenant_of,
    with_n, with_s,
};

const SESSION_PREFIX: &str = "SESSION#";
const SESSION_SK: &str = "SESSION";
const REF_PREFIX: &str = "SESSIONREF#";
const TENANT_ID: &str = "tenant_id";
const USER_ID: &str = "user_id";
const SESSION_ID: &str = "session_id";
const LAST_SEEN: &str = "last_seen";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionKey {
    pub token_hash: String,
}

impl EntityKey for SessionKey {
    fn key(&self) -> Key {
        Key::new(format!("{SESSION_PREFIX}{}", self.token_hash), SESSION_SK)
    }
    fn parse(key: &Key) -> Option<Self> {
        let token_hash = key
            .pk
            .strip_prefix(SESSION_PREFIX)
            .filter(|h| !h.is_empty() && !h.contains('#'))?;
        (key.sk == SESSION_SK).then(|| Self {
            token_hash: token_hash.to_owned(),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRefKey {
    pub tenant: TenantId,
    pub user: UserId,
    pub session: SessionId,
}

fn user_refs_prefix(user: &UserId) -> String {
    format!("{REF_PREFIX}{user}#")
}

impl EntityKey for SessionRefKey {
    fn key(&self) -> Key {
        Key::new(
            self.tenant.partition(),
            format!("{}{}", user_refs_prefix(&self.user), self.session),
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        let (user, session) = key.sk.strip_prefix(REF_PREFIX)?.split_once('#')?;
        Some(Self {
            tenant: tenant_of(&key.pk)?,
            user: UserId::parse(user)?,
            session: SessionId::parse(session)?,
        })
    }
}

/// The tenant-side mirror of a session (sealed).
#[derive(Serialize, Deserialize)]
pub struct SessionRef {
    pub token_hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: IpAddr,
}

/// A session as its global item holds it (times in Unix seconds).
pub struct Session {
    pub tenant: TenantId,
    pub user: UserId,
    pub session: SessionId,
    pub token_hash: String,
    pub last_seen: i64,
    pub expires_at: i64,
    item: Item,
}

#[derive(Clone)]
pub struct Sessions {
    sealer: Sealer,
}

fn ref_key(tenant: &TenantId, user: &UserId, session: &SessionId) -> Key {
    SessionRefKey {
        tenant: tenant.clone(),
        user: user.clone(),
        session: session.clone(),
    }
    .key()
}

fn session_key(token_hash: &str) -> Key {
    SessionKey {
        token_hash: token_hash.to_owned(),
    }
    .key()
}

impl Sessions {
    pub(crate) fn new(sealer: Sealer) -> Self {
        Self { sealer }
    }

    fn transactions(&self) -> Transactions {
        Transactions {
            store: self.sealer.store.clone(),
        }
    }

    /// Creates a session: the global item and its tenant-side mirror, together.
    pub async fn create(
        &self,
        tenant: &TenantId,
        user: &UserId,
        session: &SessionId,
        mirror: &SessionRef,
        now: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        let expires_at = mirror.expires_at.timestamp();
        let global = Item::new(session_key(&mirror.token_hash));
        let global = with_s(global, TENANT_ID, tenant.to_string());
        let global = with_s(global, USER_ID, user.to_string());
        let global = with_s(global, SESSION_ID, session.to_string());
        let global = with_n(global, LAST_SEEN, now.timestamp());
        let global = with_n(global, EXPIRES_AT, expires_at);
        let sealed = self
            .sealer
            .seal(tenant, ref_key(tenant, user, session), mirror)
            .await?;
        let sealed = with_n(sealed, EXPIRES_AT, expires_at);
        self.transactions()
            .run(vec![
                Write::put(global, Condition::Absent),
                Write::put(sealed, Condition::Absent),
            ])
            .await
    }

    /// The session of a token's hash; `None` also for an item whose ids do not parse.
    pub async fn get(&self, token_hash: &str) -> Result<Option<Session>, RepoError> {
        let Some(item) = self.sealer.store.get(&session_key(token_hash)).await? else {
            return Ok(None);
        };
        let ids = (
            s(&item, TENANT_ID).and_then(TenantId::parse),
            s(&item, USER_ID).and_then(UserId::parse),
            s(&item, SESSION_ID).and_then(SessionId::parse),
        );
        let (Some(tenant), Some(user), Some(session)) = ids else {
            return Ok(None);
        };
        Ok(Some(Session {
            tenant,
            user,
            session,
            token_hash: token_hash.to_owned(),
            last_seen: n(&item, LAST_SEEN).unwrap_or(0),
            expires_at: n(&item, EXPIRES_AT).unwrap_or(0),
            item,
        }))
    }

    /// Moves the idle timer; `false` when the session ended meanwhile (it must not come
    /// back).
    pub async fn touch(&self, session: &Session, now: i64) -> Result<bool, RepoError> {
        let refreshed = with_n(session.item.clone(), LAST_SEEN, now);
        match self.sealer.store.put(refreshed, Condition::Exists).await {
            Ok(()) => Ok(true),
            Err(crate::ports::StoreError::ConditionFailed) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    /// The ids of a user's sessions (as mirrored in the tenant's partition).
    pub async fn ids_of_user(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<Vec<SessionId>, RepoError> {
        let store = self.sealer.store.as_ref();
        let items = all_under(store, tenant, user_refs_prefix(user), 200).await?;
        Ok(items
            .iter()
            .filter_map(|i| SessionRefKey::parse(&i.key).map(|k| k.session))
            .collect())
    }

    /// A user's sessions with their mirrors.
    pub async fn of_user(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<Vec<(SessionId, SessionRef)>, RepoError> {
        let store = self.sealer.store.as_ref();
        let mut out = Vec::new();
        for item in all_under(store, tenant, user_refs_prefix(user), 200).await? {
            let Some(key) = SessionRefKey::parse(&item.key) else {
                continue;
            };
            out.push((key.session, self.sealer.open(tenant, &item).await?));
        }
        Ok(out)
    }

    /// The token hashes of every session of the tenant (for closure).
    pub async fn token_hashes_of_tenant(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<String>, RepoError> {
        let store = self.sealer.store.as_ref();
        let mut out = Vec::new();
        for item in all_under(store, tenant, REF_PREFIX.into(), 500).await? {
            let mirror: SessionRef = self.sealer.open(tenant, &item).await?;
            out.push(mirror.token_hash);
        }
        Ok(out)
    }

    /// Whether the user has this session.
    pub async fn exists(
        &self,
        tenant: &TenantId,
        user: &UserId,
        session: &SessionId,
    ) -> Result<bool, RepoError> {
        let key = ref_key(tenant, user, session);
        Ok(self.sealer.store.get(&key).await?.is_some())
    }

    /// Deletes both items of a session (idempotent). The global item is found through
    /// the mirror unless its token hash is known.
    pub async fn end(
        &self,
        tenant: &TenantId,
        user: &UserId,
        session: &SessionId,
        token_hash: Option<&str>,
    ) -> Result<(), RepoError> {
        let mirror = ref_key(tenant, user, session);
        let token_hash = match token_hash {
            Some(hash) => Some(hash.to_owned()),
            None => self
                .sealer
                .load::<SessionRef>(tenant, &mirror)
                .await?
                .map(|(record, _)| record.token_hash),
        };
        let mut writes = vec![Write::delete(mirror, Condition::None)];
        if let Some(hash) = token_hash {
            writes.push(Write::delete(session_key(&hash), Condition::None));
        }
        self.transactions().run(writes).await
    }
}
