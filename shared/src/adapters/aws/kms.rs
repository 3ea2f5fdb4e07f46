//! The KeyService port on KMS: `GenerateDataKey` (AES-256) and `Decrypt`, both bound
//! to the encryption context, which KMS enforces: a wrapped key opens only under the
//! context it was made with.
//!
//! The plaintext key is moved out of the SDK's response into a zeroizing buffer and
//! from there into a [`DataKey`]; it is never formatted, logged or put in an error.
//! (The HTTP response body that carried it is the SDK's and beyond our reach.)

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use zeroize::Zeroizing;

use super::{describe, error_code};
use crate::domain::crypto::DataKey;
use crate::ports::keys::{EncryptionContext, KeyError, KeyService, WrappedKey};

/// The KeyService on one KMS key (its id, ARN or alias).
#[derive(Clone, Debug)]
pub struct KmsKeyService {
    client: Client,
    key_id: String,
}

impl KmsKeyService {
    pub fn new(client: Client, key_id: &str) -> Self {
        Self {
            client,
            key_id: key_id.to_owned(),
        }
    }
}

/// The context as KMS takes it; `None` for an empty one (KMS refuses an empty map).
fn context_map(context: &EncryptionContext) -> Option<HashMap<String, String>> {
    let pairs = context.pairs();
    (!pairs.is_empty()).then(|| pairs.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// The plaintext of a response as a data key, wiping the SDK's copy on the way.
fn data_key(plaintext: Option<Blob>) -> Result<DataKey, KeyError> {
    let bytes = Zeroizing::new(plaintext.map(Blob::into_inner).unwrap_or_default());
    DataKey::from_slice(&bytes)
        .ok_or_else(|| KeyError::Backend("KMS returned no 256-bit plaintext key".into()))
}

fn key_error<E, R>(op: &str, err: &aws_sdk_kms::error::SdkError<E, R>) -> KeyError
where
    E: aws_sdk_kms::error::ProvideErrorMetadata,
{
    match error_code(err) {
        // Wrong context, tampered or foreign ciphertext, or a key we may not use:
        // the port's answer for all of them is that the key does not open.
        Some("InvalidCiphertextException" | "IncorrectKeyException" | "AccessDeniedException") => {
            KeyError::Refused
        }
        _ => KeyError::Backend(format!("KMS {op}: {}", describe(err))),
    }
}

#[async_trait]
impl KeyService for KmsKeyService {
    async fn generate_data_key(
        &self,
        context: &EncryptionContext,
    ) -> Result<(DataKey, WrappedKey), KeyError> {
        let mut out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(context_map(context))
            .send()
            .await
            .map_err(|e| key_error("GenerateDataKey", &e))?;
        let key = data_key(out.plaintext.take())?;
        let wrapped = out
            .ciphertext_blob
            .take()
            .map(Blob::into_inner)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| KeyError::Backend("KMS returned no wrapped key".into()))?;
        Ok((key, WrappedKey(wrapped)))
    }

    async fn decrypt_data_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        if wrapped.0.is_empty() {
            // KMS would answer with a validation error; an empty blob is simply not ours.
            return Err(KeyError::Refused);
        }
        let mut out = self
            .client
            .decrypt()
            // Naming the key makes KMS refuse a ciphertext of any other key.
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(wrapped.0.clone()))
            .set_encryption_context(context_map(context))
            .send()
            .await
            .map_err(|e| key_error("Decrypt", &e))?;
        data_key(out.plaintext.take())
    }
}
