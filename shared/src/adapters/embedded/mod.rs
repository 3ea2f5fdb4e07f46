//! Embedded adapters: the whole product on one laptop, in one data directory.
//!
//! ```text
//! <data-dir>/            0700
//!   tally.db             Store          SQLite, one `items` table    (0600, + -wal/-shm)
//!   master.key           KeyService     32-byte key wrapping data keys (0600)
//!   secrets.sealed       SecretStore    every secret, sealed as one blob (0600)
//!   secrets.key          SecretStore    the sealed file's own key       (0600)
//!   events.jsonl         EventBus       one JSON event per line         (0600)
//! ```
//!
//! Each adapter keeps the promise its AWS counterpart keeps (docs/design.md §2) and is held
//! to the same conformance suite (`tests/api/conformance`). The secrets file has a key
//! of its own so that a leaked `master.key` opens no OAuth token, and the other way
//! round.
//!
//! Start here: [`open`] (= [`EmbeddedAdapters::open`]) creates the directory and opens
//! all four. Each adapter's own `open(data_dir)` expects the directory to exist.

mod attr_codec;
mod event_log;
mod key_file;
mod private_files;
mod sealed_secrets;
mod sqlite_rows;
mod sqlite_store;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use event_log::LocalEventBus;
pub use key_file::LocalKeyService;
pub use sealed_secrets::SealedFileSecrets;
pub use sqlite_store::SqliteStore;

use crate::adapters::Adapters;
use crate::ports::Clock;

/// Why the data directory could not be opened. Messages name the file concerned and
/// never carry key material, secrets or stored data.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("cannot {action} {}: {error}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        error: io::Error,
    },
    #[error(
        "{} is accessible to group or others (mode {mode:o}); refusing to use it — restrict it to the owner (chmod 600)",
        path.display()
    )]
    InsecurePermissions { path: PathBuf, mode: u32 },
    #[error("{} is not a regular file", path.display())]
    NotAFile { path: PathBuf },
    #[error("{} is not a key file: it must hold exactly 32 bytes", path.display())]
    MalformedKey { path: PathBuf },
    #[error("{} does not open with its key (wrong key file, or the file was altered)", path.display())]
    DoesNotOpen { path: PathBuf },
    #[error("cannot open the database {}: {message}", path.display())]
    Database { path: PathBuf, message: String },
}

impl EmbeddedError {
    pub(crate) fn io(action: &'static str, path: &Path, error: io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_owned(),
            error,
        }
    }
}

/// The embedded adapters of one data directory.
///
/// `adapters` is what services and routers take; `store` and `events` are the concrete
/// adapters again, for what only the embedded ones offer: [`SqliteStore::compact`]
/// after big deletions and [`LocalEventBus::subscribe`] for in-process listeners.
#[derive(Clone)]
pub struct EmbeddedAdapters {
    pub adapters: Adapters,
    pub store: Arc<SqliteStore>,
    pub events: Arc<LocalEventBus>,
}

impl EmbeddedAdapters {
    /// Creates `data_dir` (0700) if missing, then opens — creating on first use — the
    /// database, the master key, the sealed secrets and the event log in it.
    /// `table_name` is bound into sealed values like the DynamoDB table's name is.
    pub fn open(
        data_dir: &Path,
        table_name: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, EmbeddedError> {
        private_files::create_private_dir(data_dir)?;
        let store = Arc::new(SqliteStore::open(data_dir, table_name)?);
        let keys = Arc::new(LocalKeyService::open(data_dir)?);
        let secrets = Arc::new(SealedFileSecrets::open(data_dir)?);
        let events = Arc::new(LocalEventBus::open(data_dir)?);
        let adapters = Adapters {
            store: store.clone(),
            keys,
            secrets,
            events: events.clone(),
            clock,
        };
        Ok(Self {
            adapters,
            store,
            events,
        })
    }
}

/// Shorthand for [`EmbeddedAdapters::open`].
pub fn open(
    data_dir: &Path,
    table_name: &str,
    clock: Arc<dyn Clock>,
) -> Result<EmbeddedAdapters, EmbeddedError> {
    EmbeddedAdapters::open(data_dir, table_name, clock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{Condition, EncryptionContext, Item, Key, SecretName, SystemClock};
    use secrecy::{ExposeSecret, SecretString};

    #[tokio::test]
    async fn reopening_the_data_dir_keeps_data_keys_and_secrets() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let key = Key::new("TENANT#a", "USER#1");
        let name = SecretName::parse("tally/a/stripe").unwrap();
        let context = EncryptionContext::tenant("a");

        let first = EmbeddedAdapters::open(&dir, "tally", Arc::new(SystemClock)).unwrap();
        let item = Item::new(key.clone()).with("status", crate::ports::Attr::S("on".into()));
        first
            .adapters
            .store
            .put(item.clone(), Condition::Absent)
            .await
            .unwrap();
        let (plain, wrapped) = first
            .adapters
            .keys
            .generate_data_key(&context)
            .await
            .unwrap();
        let token = SecretString::from("sk_live_reopen");
        first.adapters.secrets.put(&name, &token).await.unwrap();
        drop(first);

        let second = EmbeddedAdapters::open(&dir, "tally", Arc::new(SystemClock)).unwrap();
        assert_eq!(second.adapters.store.get(&key).await.unwrap(), Some(item));
        let reopened = second
            .adapters
            .keys
            .decrypt_data_key(&wrapped, &context)
            .await
            .unwrap();
        assert_eq!(reopened.expose_bytes(), plain.expose_bytes());
        let secret = second.adapters.secrets.get(&name).await.unwrap().unwrap();
        assert_eq!(secret.expose_secret(), "sk_live_reopen");
    }

    #[cfg(unix)]
    #[test]
    fn the_data_dir_is_created_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("nested/data");
        EmbeddedAdapters::open(&dir, "tally", Arc::new(SystemClock)).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        for file in ["tally.db", "master.key", "secrets.key", "events.jsonl"] {
            let mode = std::fs::metadata(dir.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }
}
