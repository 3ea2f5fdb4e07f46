//! The Connector port: how ingestion reads a payment processor, read-only. Stripe is
//! the first adapter (`adapters::stripe`); the demo connector (`adapters::demo`)
//! generates a deterministic dataset. Both hand over minimized, typed
//! [`BillingRecord`]s only: raw responses never leave the adapter.

use async_trait::async_trait;

use crate::domain::billing::{BillingRecord, ObjectKind};

/// One page of a full listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListPage {
    pub records: Vec<BillingRecord>,
    /// Pass as `starting_after` for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// An object that changed (per the processor's event log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub kind: ObjectKind,
    pub id: String,
    /// When the change happened (Unix seconds).
    pub at: i64,
    /// The object was deleted at the processor.
    pub deleted: bool,
}

/// Changes after a cursor, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangesPage {
    pub changes: Vec<Change>,
    /// The cursor to store once these changes are written (the newest event seen);
    /// unchanged when there was nothing new.
    pub cursor: Option<String>,
    /// More changes follow: call again with `cursor`.
    pub has_more: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The token or key was refused (revoked, expired, wrong): stop and mark the
    /// integration `error`; retrying will not help.
    #[error("the processor refused the credentials")]
    Unauthorized,
    /// The credentials lack a read permission the sync needs.
    #[error("the credentials lack a required permission")]
    Forbidden,
    /// The change cursor is older than the processor keeps events: run a full sync.
    #[error("the change cursor is too old")]
    CursorExpired,
    /// Still throttled or failing after the bounded retries.
    #[error("the processor is unavailable: {0}")]
    Unavailable(String),
    /// A response that does not have the documented shape.
    #[error("unexpected response from the processor: {0}")]
    Malformed(String),
}

#[async_trait]
pub trait Connector: Send + Sync {
    /// Up to 100 objects of `kind` (all statuses: canceled subscriptions included),
    /// after the object `starting_after`.
    async fn list(
        &self,
        kind: ObjectKind,
        starting_after: Option<&str>,
    ) -> Result<ListPage, ConnectorError>;

    /// Changes after the event `cursor`. With no cursor, no changes and the cursor of
    /// "now" (what a full sync stores before it starts listing, so nothing that happens
    /// during the listing is missed).
    async fn changes_since(&self, cursor: Option<&str>) -> Result<ChangesPage, ConnectorError>;

    /// One object, fresh; `None` when it no longer exists.
    async fn fetch(
        &self,
        kind: ObjectKind,
        id: &str,
    ) -> Result<Option<BillingRecord>, ConnectorError>;
}
