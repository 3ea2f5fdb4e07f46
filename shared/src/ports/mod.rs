//! Ports: the traits the services use to reach the outside world. Each has an AWS
//! adapter and an embedded adapter (`crate::adapters`), held to the same behaviour by
//! one conformance suite (`tests/api/conformance`). Nothing above the adapters knows
//! which one it has.

pub mod clock;
pub mod connector;
pub mod events;
pub mod keys;
pub mod secrets;
pub mod slack;
pub mod store;

pub use clock::{Clock, ShiftedClock, SystemClock};
pub use connector::{Change, ChangesPage, Connector, ConnectorError, ListPage};
pub use events::{Event, EventBus, EventError};
pub use keys::{EncryptionContext, KeyError, KeyService, WrappedKey};
pub use secrets::{SecretError, SecretName, SecretStore};
pub use slack::{SlackError, SlackMessage, SlackSender};
pub use store::{
    Attr, Condition, Cursor, Item, Key, Page, Query, SortKeys, Store, StoreError, WriteOp,
};
