//! The KeyService port: envelope encryption's key half.
//!
//! A data key is generated for one encryption context (for tenants: `{tenant_id}`) and
//! handed back twice: in plain, to seal data in memory, and wrapped, to be stored. The
//! wrapped form opens only under the same context: KMS enforces this in AWS, the local
//! key file adapter binds the context as AES-GCM associated data.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::domain::crypto::DataKey;

/// The name/value pairs a data key is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    /// The context of a tenant's data key.
    pub fn tenant(tenant_id: &str) -> Self {
        Self(BTreeMap::from([(
            "tenant_id".to_owned(),
            tenant_id.to_owned(),
        )]))
    }
    pub fn pairs(&self) -> &BTreeMap<String, String> {
        &self.0
    }
    /// An unambiguous byte encoding (length-prefixed, sorted by name), for adapters
    /// that bind the context as associated data.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = b"tally-ctx-v1".to_vec();
        for (k, v) in &self.0 {
            for part in [k, v] {
                out.extend_from_slice(&(part.len() as u32).to_be_bytes());
                out.extend_from_slice(part.as_bytes());
            }
        }
        out
    }
}

/// A data key as stored: encrypted under the master key. Safe to persist and print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey(pub Vec<u8>);

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The wrapped key does not open: wrong context, tampered, or not ours.
    #[error("the data key could not be unwrapped under this context")]
    Refused,
    #[error("key service failure: {0}")]
    Backend(String),
}

#[async_trait]
pub trait KeyService: Send + Sync {
    /// A fresh AES-256 data key, in plain and wrapped under `context`.
    async fn generate_data_key(
        &self,
        context: &EncryptionContext,
    ) -> Result<(DataKey, WrappedKey), KeyError>;

    /// Unwraps a data key; refused unless `context` is the one it was made under.
    async fn decrypt_data_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError>;
}
