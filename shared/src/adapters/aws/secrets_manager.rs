//! The SecretStore port on Secrets Manager: one secret per name, string values,
//! deleted without a recovery window (a disconnected integration's token must be gone
//! at once, not in 7 days).
//!
//! Values travel as [`SecretString`]: exposed only to hand them to the SDK (whose
//! `Debug` redacts them), never formatted into an error or a log line.

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueError;
use secrecy::{ExposeSecret, SecretString};

use super::{describe, error_code};
use crate::ports::secrets::{SecretError, SecretName, SecretStore};

/// The SecretStore on Secrets Manager, in the account and region of its client.
#[derive(Clone, Debug)]
pub struct SecretsManagerStore {
    client: Client,
}

impl SecretsManagerStore {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn backend<E, R>(op: &str, err: &SdkError<E, R>) -> SecretError
where
    E: ProvideErrorMetadata,
{
    SecretError::Backend(format!("Secrets Manager {op}: {}", describe(err)))
}

fn is_not_found<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    error_code(err) == Some("ResourceNotFoundException")
}

/// A secret deleted with a recovery window (by hand, outside Tally) still exists but
/// answers every read with an InvalidRequest; for the port it is gone. AWS says "marked
/// for deletion", moto "marked deleted"; InvalidRequest has other causes, so the
/// message decides.
fn is_marked_for_deletion<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    error_code(err) == Some("InvalidRequestException")
        && err
            .message()
            .is_some_and(|m| m.contains("marked for deletion") || m.contains("marked deleted"))
}

impl SecretsManagerStore {
    /// Replaces the value of an existing secret.
    async fn put_value(
        &self,
        name: &SecretName,
        value: &SecretString,
    ) -> Result<(), SdkError<PutSecretValueError>> {
        self.client
            .put_secret_value()
            .secret_id(name.as_str())
            .secret_string(value.expose_secret())
            .send()
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    async fn put(&self, name: &SecretName, value: &SecretString) -> Result<(), SecretError> {
        // Most puts replace a value, so try that first and create only when missing.
        match self.put_value(name, value).await {
            Ok(()) => return Ok(()),
            Err(err) if is_not_found(&err) => {}
            Err(err) => return Err(backend("PutSecretValue", &err)),
        }
        let created = self
            .client
            .create_secret()
            .name(name.as_str())
            .secret_string(value.expose_secret())
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            // Another writer created it between our two calls: replace its value.
            Err(err) if error_code(&err) == Some("ResourceExistsException") => self
                .put_value(name, value)
                .await
                .map_err(|e| backend("PutSecretValue", &e)),
            Err(err) => Err(backend("CreateSecret", &err)),
        }
    }

    async fn get(&self, name: &SecretName) -> Result<Option<SecretString>, SecretError> {
        let out = match self
            .client
            .get_secret_value()
            .secret_id(name.as_str())
            .send()
            .await
        {
            Ok(out) => out,
            Err(err) if is_not_found(&err) || is_marked_for_deletion(&err) => return Ok(None),
            Err(err) => return Err(backend("GetSecretValue", &err)),
        };
        // Moved, not copied, into the SecretString, which zeroizes it on drop.
        match out.secret_string {
            Some(value) => Ok(Some(SecretString::from(value))),
            None => Err(SecretError::Backend(
                "Secrets Manager GetSecretValue: the secret holds no string value".into(),
            )),
        }
    }

    async fn delete(&self, name: &SecretName) -> Result<(), SecretError> {
        match self
            .client
            .delete_secret()
            .secret_id(name.as_str())
            .force_delete_without_recovery(true)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if is_not_found(&err) => Ok(()),
            Err(err) => Err(backend("DeleteSecret", &err)),
        }
    }
}
