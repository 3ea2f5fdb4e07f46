//! Password hashing off the async runtime. An argon2id hash or verification is tens of
//! milliseconds of CPU by design; on the runtime's threads it would stall every other
//! request of the process (the local server serves many at once), so it runs on the
//! blocking pool.

use secrecy::{ExposeSecret, SecretString};

use crate::domain::password;
use crate::services::error::ServiceError;

pub(crate) async fn verify_password(phc: &str, candidate: &SecretString) -> bool {
    let (phc, candidate) = (phc.to_owned(), candidate.clone());
    tokio::task::spawn_blocking(move || password::verify(&phc, candidate.expose_secret()))
        .await
        .unwrap_or(false)
}

/// Costs what a real verification costs (unknown e-mails must not answer faster).
pub(crate) async fn verify_dummy(candidate: &SecretString) {
    let candidate = candidate.clone();
    let _ = tokio::task::spawn_blocking(move || password::verify_dummy(candidate.expose_secret()))
        .await;
}

pub(crate) async fn hash_password(candidate: &SecretString) -> Result<String, ServiceError> {
    let candidate = candidate.clone();
    tokio::task::spawn_blocking(move || password::hash(candidate.expose_secret()))
        .await
        .map_err(ServiceError::internal)?
        .map_err(ServiceError::internal)
}

pub(crate) async fn password_reused(history: &[String], candidate: &SecretString) -> bool {
    let (history, candidate) = (history.to_vec(), candidate.clone());
    tokio::task::spawn_blocking(move || password::reused(&history, candidate.expose_secret()))
        .await
        .unwrap_or(true)
}
