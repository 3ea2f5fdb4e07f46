//! Operators (staff) and their sessions: global items, in no tenant's partition.
//!
//! * `(OPERATOR#<operator>, OPERATOR)`: the sealed [`OperatorRecord`] (e-mail, password
//!   hash, TOTP secret), sealed under the system pseudo-tenant's key;
//! * `(OPEMAIL#<email hmac>, OPERATOR)`: the pointer from an e-mail's keyed hash to the
//!   operator, and `(OPEMAIL#<email hmac>, FAILS)`: the count of failed sign-ins (apart
//!   from users' counters: an operator's address may also be a user's);
//! * `(OPSESSION#<token sha256>, SESSION)`: an operator's session, plain ids and times.
//!
//! No personal datum is in a key. Records hold personal data and secrets: none derives
//! `Debug`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{OperatorId, SessionId, TenantId};
use crate::ports::{Condition, Item, Key, Store, StoreError};
use crate::repos::{EXPIRES_AT, EntityKey, RepoError, Sealer, Stored, Write, n, s, with_n, with_s};

const OPERATOR_PREFIX: &str = "OPERATOR#";
const OPERATOR_SK: &str = "OPERATOR";
const EMAIL_PREFIX: &str = "OPEMAIL#";
const FAILS_SK: &str = "FAILS";
const SESSION_PREFIX: &str = "OPSESSION#";
const SESSION_SK: &str = "SESSION";
const OPERATOR_ID: &str = "operator_id";
const SESSION_ID: &str = "session_id";
const LAST_SEEN: &str = "last_seen";
const COUNT: &str = "count";
/// Plain as well as sealed: the gate checks it on every operator request without
/// opening the record.
const DISABLED: &str = "disabled";

/// A hash as it may stand in a key: non-empty, no `#`.
fn hash_after<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.strip_prefix(prefix)
        .filter(|h| !h.is_empty() && !h.contains('#'))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorKey {
    pub operator: OperatorId,
}

impl EntityKey for OperatorKey {
    fn key(&self) -> Key {
        Key::new(format!("{OPERATOR_PREFIX}{}", self.operator), OPERATOR_SK)
    }
    fn parse(key: &Key) -> Option<Self> {
        let operator = OperatorId::parse(key.pk.strip_prefix(OPERATOR_PREFIX)?)?;
        (key.sk == OPERATOR_SK).then_some(Self { operator })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorEmailKey {
    pub email_hash: String,
}

impl EntityKey for OperatorEmailKey {
    fn key(&self) -> Key {
        Key::new(format!("{EMAIL_PREFIX}{}", self.email_hash), OPERATOR_SK)
    }
    fn parse(key: &Key) -> Option<Self> {
        let email_hash = hash_after(&key.pk, EMAIL_PREFIX)?.to_owned();
        (key.sk == OPERATOR_SK).then_some(Self { email_hash })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorFailsKey {
    pub email_hash: String,
}

impl EntityKey for OperatorFailsKey {
    fn key(&self) -> Key {
        Key::new(format!("{EMAIL_PREFIX}{}", self.email_hash), FAILS_SK)
    }
    fn parse(key: &Key) -> Option<Self> {
        let email_hash = hash_after(&key.pk, EMAIL_PREFIX)?.to_owned();
        (key.sk == FAILS_SK).then_some(Self { email_hash })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorSessionKey {
    pub token_hash: String,
}

impl EntityKey for OperatorSessionKey {
    fn key(&self) -> Key {
        Key::new(format!("{SESSION_PREFIX}{}", self.token_hash), SESSION_SK)
    }
    fn parse(key: &Key) -> Option<Self> {
        let token_hash = hash_after(&key.pk, SESSION_PREFIX)?.to_owned();
        (key.sk == SESSION_SK).then_some(Self { token_hash })
    }
}

/// An operator (sealed). TOTP is mandatory: the secret is set when the account is made.
#[derive(Clone, Serialize, Deserialize)]
pub struct OperatorRecord {
    pub email: String,
    pub password_hash: String,
    /// Base32 TOTP secret.
    pub totp_secret: String,
    /// The last TOTP step accepted (each code works once).
    pub last_step: u64,
    pub created_at: DateTime<Utc>,
    pub disabled: bool,
}

/// An operator's session as its item holds it (times in Unix seconds).
pub struct OperatorSession {
    pub operator: OperatorId,
    pub session: SessionId,
    pub token_hash: String,
    pub last_seen: i64,
    pub expires_at: i64,
    item: Item,
}

/// Operators, their e-mail pointers, failure counters and sessions.
#[derive(Clone)]
pub struct Operators {
    sealer: Sealer,
}

fn record_key(operator: &OperatorId) -> Key {
    OperatorKey {
        operator: operator.clone(),
    }
    .key()
}

fn email_key(email_hash: &str) -> Key {
    OperatorEmailKey {
        email_hash: email_hash.to_owned(),
    }
    .key()
}

fn fails_key(email_hash: &str) -> Key {
    OperatorFailsKey {
        email_hash: email_hash.to_owned(),
    }
    .key()
}

fn session_key(token_hash: &str) -> Key {
    OperatorSessionKey {
        token_hash: token_hash.to_owned(),
    }
    .key()
}

impl Operators {
    pub(crate) fn new(sealer: Sealer) -> Self {
        Self { sealer }
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.sealer.store
    }

    /// The writes that create an operator and reserve its e-mail (refused if taken).
    pub async fn create(
        &self,
        operator: &OperatorId,
        email_hash: &str,
        record: &OperatorRecord,
    ) -> Result<Vec<Write>, RepoError> {
        let system = TenantId::system();
        self.sealer.keys.ensure(&system).await?;
        let sealed = self
            .sealer
            .seal(&system, record_key(operator), record)
            .await?;
        let sealed = with_n(sealed, DISABLED, i64::from(record.disabled));
        let pointer = with_s(
            Item::new(email_key(email_hash)),
            OPERATOR_ID,
            operator.to_string(),
        );
        Ok(vec![
            Write::put(pointer, Condition::Absent),
            Write::put(sealed, Condition::Absent),
        ])
    }

    /// Whether the operator exists and is not disabled (without opening its record).
    pub async fn is_active(&self, operator: &OperatorId) -> Result<bool, RepoError> {
        let item = self.store().get(&record_key(operator)).await?;
        Ok(item.is_some_and(|item| n(&item, DISABLED) == Some(0)))
    }

    /// The operator an e-mail's keyed hash belongs to.
    pub async fn by_email(&self, email_hash: &str) -> Result<Option<OperatorId>, RepoError> {
        let item = self.store().get(&email_key(email_hash)).await?;
        Ok(item.and_then(|item| OperatorId::parse(s(&item, OPERATOR_ID)?)))
    }

    pub async fn get(
        &self,
        operator: &OperatorId,
    ) -> Result<Option<Stored<OperatorRecord>>, RepoError> {
        let loaded = self
            .sealer
            .load(&TenantId::system(), &record_key(operator))
            .await?;
        Ok(loaded.map(|(record, item)| Stored {
            record,
            version: item.version,
        }))
    }

    /// Replaces the record if it is still at `version` (a TOTP step taken by a racing
    /// sign-in is a conflict).
    pub async fn update(
        &self,
        operator: &OperatorId,
        record: &OperatorRecord,
        version: u64,
    ) -> Result<(), RepoError> {
        let item = self
            .sealer
            .seal(&TenantId::system(), record_key(operator), record)
            .await?
            .with_version(version + 1);
        let item = with_n(item, DISABLED, i64::from(record.disabled));
        Ok(self
            .store()
            .put(item, Condition::VersionIs(version))
            .await?)
    }

    /// Adds `by` to the failure count of an e-mail hash; returns the count.
    pub async fn add_failure(
        &self,
        email_hash: &str,
        by: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, RepoError> {
        Ok(self
            .store()
            .increment(&fails_key(email_hash), COUNT, by, expires_at)
            .await?)
    }

    pub async fn clear_failures(&self, email_hash: &str) -> Result<(), RepoError> {
        Ok(self
            .store()
            .delete(&fails_key(email_hash), Condition::None)
            .await?)
    }

    /// Stores a new session.
    pub async fn create_session(
        &self,
        token_hash: &str,
        operator: &OperatorId,
        session: &SessionId,
        now: i64,
        expires_at: i64,
    ) -> Result<(), RepoError> {
        let item = Item::new(session_key(token_hash));
        let item = with_s(item, OPERATOR_ID, operator.to_string());
        let item = with_s(item, SESSION_ID, session.to_string());
        let item = with_n(item, LAST_SEEN, now);
        let item = with_n(item, EXPIRES_AT, expires_at);
        Ok(self.store().put(item, Condition::Absent).await?)
    }

    /// The session of a token's hash; `None` also for an item whose ids do not parse.
    pub async fn session(&self, token_hash: &str) -> Result<Option<OperatorSession>, RepoError> {
        let Some(item) = self.store().get(&session_key(token_hash)).await? else {
            return Ok(None);
        };
        let ids = (
            s(&item, OPERATOR_ID).and_then(OperatorId::parse),
            s(&item, SESSION_ID).and_then(SessionId::parse),
        );
        let (Some(operator), Some(session)) = ids else {
            return Ok(None);
        };
        Ok(Some(OperatorSession {
            operator,
            session,
            token_hash: token_hash.to_owned(),
            last_seen: n(&item, LAST_SEEN).unwrap_or(0),
            expires_at: n(&item, EXPIRES_AT).unwrap_or(0),
            item,
        }))
    }

    /// Moves the idle timer; `false` when the session ended meanwhile.
    pub async fn touch(&self, session: &OperatorSession, now: i64) -> Result<bool, RepoError> {
        let refreshed = with_n(session.item.clone(), LAST_SEEN, now);
        match self.store().put(refreshed, Condition::Exists).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    /// Ends a session (idempotent).
    pub async fn end_session(&self, token_hash: &str) -> Result<(), RepoError> {
        Ok(self
            .store()
            .delete(&session_key(token_hash), Condition::None)
            .await?)
    }
}
