//! `LocalKeyService`: KMS's envelope encryption with a key file standing in for the
//! KMS key.
//!
//! The master key (32 random bytes, `<data-dir>/master.key`, 0600) wraps each data key
//! with AES-256-GCM, the encryption context's canonical bytes as associated data. So,
//! as with KMS, a wrapped key opens only under the context it was made for: another
//! tenant's context, a changed byte or another master key all give `Refused`.
//!
//! The key file is created atomically with its final mode (`create_new`, 0600) and
//! refused on open if group or others can access it: such a key may have leaked.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use zeroize::Zeroizing;

use super::EmbeddedError;
use super::private_files::{ensure_owner_only, parent_dir, private_options, sync_dir};
use crate::domain::crypto::{self, DataKey};
use crate::ports::{EncryptionContext, KeyError, KeyService, WrappedKey};

/// The master key file's name inside the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

/// Data keys wrapped under a local master key file.
pub struct LocalKeyService {
    master: DataKey,
    path: PathBuf,
}

impl LocalKeyService {
    /// Opens `<data_dir>/master.key`, creating it (0600, fresh random key) on first use.
    pub fn open(data_dir: &Path) -> Result<Self, EmbeddedError> {
        let path = data_dir.join(MASTER_KEY_FILE);
        let master = load_or_create_key(&path)?;
        Ok(Self { master, path })
    }

    /// Where the master key lives (for diagnostics; never read it from elsewhere).
    pub fn key_path(&self) -> &Path {
        &self.path
    }
}

impl std::fmt::Debug for LocalKeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKeyService")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl KeyService for LocalKeyService {
    async fn generate_data_key(
        &self,
        context: &EncryptionContext,
    ) -> Result<(DataKey, WrappedKey), KeyError> {
        let key = DataKey::generate();
        let wrapped = crypto::encrypt(&self.master, &context.canonical_bytes(), key.expose_bytes());
        Ok((key, WrappedKey(wrapped)))
    }

    async fn decrypt_data_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        let plain = crypto::decrypt(&self.master, &context.canonical_bytes(), &wrapped.0)
            .map_err(|_| KeyError::Refused)?;
        DataKey::from_slice(&plain).ok_or(KeyError::Refused)
    }
}

/// Reads the 32-byte key at `path`, or creates it with a fresh random key (0600).
/// Shared with the sealed secrets file, whose key is kept apart from the master key.
pub(crate) fn load_or_create_key(path: &Path) -> Result<DataKey, EmbeddedError> {
    match private_options().write(true).create_new(true).open(path) {
        Ok(file) => create_key(file, path),
        Err(error) if error.kind() == ErrorKind::AlreadyExists => read_key(path),
        Err(error) => Err(EmbeddedError::io("create the key file", path, error)),
    }
}

fn create_key(mut file: File, path: &Path) -> Result<DataKey, EmbeddedError> {
    let key = DataKey::generate();
    let written = file
        .write_all(key.expose_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| sync_dir(&parent_dir(path)));
    if let Err(error) = written {
        // A half-written key file would be refused on every later start; better gone.
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(EmbeddedError::io("write the key file", path, error));
    }
    Ok(key)
}

fn read_key(path: &Path) -> Result<DataKey, EmbeddedError> {
    let file =
        File::open(path).map_err(|error| EmbeddedError::io("open the key file", path, error))?;
    ensure_owner_only(&file, path)?;
    // One byte more than a key, so that a longer file is noticed without reading it all.
    let mut bytes = Zeroizing::new(Vec::with_capacity(33));
    file.take(33)
        .read_to_end(&mut bytes)
        .map_err(|error| EmbeddedError::io("read the key file", path, error))?;
    DataKey::from_slice(&bytes).ok_or_else(|| EmbeddedError::MalformedKey {
        path: path.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn the_master_key_is_created_owner_only_and_holds_32_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LocalKeyService::open(dir.path()).unwrap();
        assert_eq!(mode(keys.key_path()), 0o600);
        assert_eq!(std::fs::read(keys.key_path()).unwrap().len(), 32);
    }

    #[cfg(unix)]
    #[test]
    fn a_group_readable_master_key_is_refused_naming_its_path() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = LocalKeyService::open(dir.path())
            .unwrap()
            .key_path()
            .to_owned();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let error = LocalKeyService::open(dir.path()).unwrap_err();
        assert!(matches!(
            error,
            EmbeddedError::InsecurePermissions { mode: 0o640, .. }
        ));
        assert!(error.to_string().contains(&path.display().to_string()));
    }

    #[test]
    fn a_master_key_of_the_wrong_length_is_refused_without_quoting_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MASTER_KEY_FILE);
        private_options()
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        std::fs::write(&path, b"not-a-key-but-secret-looking").unwrap();
        let error = LocalKeyService::open(dir.path()).unwrap_err();
        assert!(matches!(error, EmbeddedError::MalformedKey { .. }));
        assert!(!format!("{error} {error:?}").contains("secret-looking"));
    }

    #[tokio::test]
    async fn a_key_wrapped_under_one_master_key_is_refused_by_another() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = LocalKeyService::open(one.path()).unwrap();
        let second = LocalKeyService::open(two.path()).unwrap();
        let context = EncryptionContext::tenant("a");
        let (_, wrapped) = first.generate_data_key(&context).await.unwrap();
        let refused = second.decrypt_data_key(&wrapped, &context).await;
        assert!(matches!(refused, Err(KeyError::Refused)));
    }

    #[test]
    fn debug_output_shows_the_path_but_not_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LocalKeyService::open(dir.path()).unwrap();
        let printed = format!("{keys:?}");
        assert!(printed.contains("master.key"));
        assert!(!printed.contains("master:"));
    }
}
