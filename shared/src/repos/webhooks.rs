//! Processor webhook events already seen: `(WEBHOOK#<event id>, SEEN)`, kept while the
//! processor may still retry them.

use std::sync::Arc;

use crate::ports::{Condition, Item, Key, Store, StoreError};
use crate::repos::{EXPIRES_AT, EntityKey, RepoError, with_n};

const WEBHOOK_PREFIX: &str = "WEBHOOK#";
const SEEN_SK: &str = "SEEN";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookSeenKey {
    /// The processor's event id: 1 to 255 characters, no `#`.
    pub event: String,
}

impl EntityKey for WebhookSeenKey {
    fn key(&self) -> Key {
        Key::new(format!("{WEBHOOK_PREFIX}{}", self.event), SEEN_SK)
    }
    fn parse(key: &Key) -> Option<Self> {
        let event = key
            .pk
            .strip_prefix(WEBHOOK_PREFIX)
            .filter(|e| !e.is_empty() && !e.contains('#'))?;
        (key.sk == SEEN_SK).then(|| Self {
            event: event.to_owned(),
        })
    }
}

#[derive(Clone)]
pub struct WebhookEvents {
    store: Arc<dyn Store>,
}

impl WebhookEvents {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Remembers an event until `expires_at`; `false` when it was seen before.
    pub async fn first_sighting(&self, event: &str, expires_at: i64) -> Result<bool, RepoError> {
        let key = WebhookSeenKey {
            event: event.to_owned(),
        };
        let seen = with_n(Item::new(key.key()), EXPIRES_AT, expires_at);
        match self.store.put(seen, Condition::Absent).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }
}
