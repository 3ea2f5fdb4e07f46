//! Adapters: the ports' implementations. `aws` talks to DynamoDB, KMS, Secrets Manager
//! and EventBridge; `embedded` keeps everything in one local data directory. Both are
//! held to the same conformance suites (`tests/api/conformance`).

pub mod aws;
pub mod demo;
pub mod ecb;
pub mod embedded;
pub mod paddle;
pub mod slack;
pub mod stripe;
pub mod webhook_signature;

pub use embedded::EmbeddedAdapters;

use std::sync::Arc;

use crate::ports::{Clock, EventBus, KeyService, SecretStore, Store};

/// One set of adapters: what a function or the local server runs on.
#[derive(Clone)]
pub struct Adapters {
    pub store: Arc<dyn Store>,
    pub keys: Arc<dyn KeyService>,
    pub secrets: Arc<dyn SecretStore>,
    pub events: Arc<dyn EventBus>,
    pub clock: Arc<dyn Clock>,
}
