//! Password hashing off the async runtime. An argon2id hash or verification is tens of
//! milliseconds of CPU by design; on the runtime's threads it would stall every other
//! request of the process (the local server serves many at once), so it runs on the
//! blocking pool — at most one per core at a time. Each holds 19 MiB for its run; a
//! burst of sign-ins would otherwise grow the process by that much per request in
//! flight (measured by the load bench: 1.3 GB at 16 concurrent sign-ins), while more
//! parallel hashes than cores finish no sooner. (A Lambda instance serves one request
//! at a time; the bound only matters to the local server.)

use std::sync::LazyLock;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::domain::password;
use crate::services::error::ServiceError;

static HASHING: LazyLock<Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    Semaphore::new(cores.max(1))
});

/// Runs one argon2 computation on the blocking pool once a slot is free.
async fn bounded<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ServiceError> {
    let _slot = HASHING.acquire().await.map_err(ServiceError::internal)?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ServiceError::internal)
}

pub(crate) async fn verify_password(phc: &str, candidate: &SecretString) -> bool {
    let (phc, candidate) = (phc.to_owned(), candidate.clone());
    bounded(move || password::verify(&phc, candidate.expose_secret()))
        .await
        .unwrap_or(false)
}

/// Costs what a real verification costs (unknown e-mails must not answer faster).
pub(crate) async fn verify_dummy(candidate: &SecretString) {
    let candidate = candidate.clone();
    let _ = bounded(move || password::verify_dummy(candidate.expose_secret())).await;
}

pub(crate) async fn hash_password(candidate: &SecretString) -> Result<String, ServiceError> {
    let candidate = candidate.clone();
    bounded(move || password::hash(candidate.expose_secret()))
        .await?
        .map_err(ServiceError::internal)
}

pub(crate) async fn password_reused(history: &[String], candidate: &SecretString) -> bool {
    let (history, candidate) = (history.to_vec(), candidate.clone());
    bounded(move || password::reused(&history, candidate.expose_secret()))
        .await
        .unwrap_or(true)
}
