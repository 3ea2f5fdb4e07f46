//! `SealedFileSecrets`: Secrets Manager's stand-in, one sealed file.
//!
//! Every secret lives in `<data-dir>/secrets.sealed`, encrypted as a whole with
//! AES-256-GCM under `<data-dir>/secrets.key` — a key of its own, so that neither key
//! file alone opens both the tenants' data keys and their OAuth tokens. Nothing about
//! the secrets, not even their names or count, is readable from the file.
//!
//! Each change reads the file, changes the map and writes a new file beside the old one
//! (0600, fsync) before renaming it over: a crash leaves the old or the new set of
//! secrets, never a torn file. A mutex keeps two changes in this process from losing
//! each other's update. Plaintext buffers are zeroized when dropped.
//!
//! Plaintext layout: `TSS1`, then per secret: name length (u32 BE), name, value length
//! (u32 BE), value.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::EmbeddedError;
use super::key_file::load_or_create_key;
use super::private_files::{parent_dir, private_options, sync_dir};
use crate::domain::crypto::{self, DataKey};
use crate::ports::{SecretError, SecretName, SecretStore};

pub const SECRETS_FILE: &str = "secrets.sealed";
pub const SECRETS_KEY_FILE: &str = "secrets.key";

/// Associated data of the sealed file: a file sealed for another purpose does not open.
const SEALED_LABEL: &[u8] = b"tally-secrets-file-v1";
const MAGIC: &[u8] = b"TSS1";
/// Secrets Manager's limit on a value, kept here too so both adapters refuse alike.
const MAX_VALUE_BYTES: usize = 65_536;

type Secrets = BTreeMap<String, SecretString>;

/// All secrets of a data directory in one sealed file.
#[derive(Clone)]
pub struct SealedFileSecrets {
    file: Arc<SealedFile>,
}

struct SealedFile {
    path: PathBuf,
    key: DataKey,
    /// Serializes read-modify-write cycles (and reads, which then never race a rename).
    lock: Mutex<()>,
}

enum LoadError {
    Io(std::io::Error),
    DoesNotOpen,
}

impl SealedFileSecrets {
    /// Opens the sealed file of `data_dir` (a missing one holds no secrets), creating
    /// its key (0600) on first use; refuses a file its key does not open.
    pub fn open(data_dir: &Path) -> Result<Self, EmbeddedError> {
        let key = load_or_create_key(&data_dir.join(SECRETS_KEY_FILE))?;
        let path = data_dir.join(SECRETS_FILE);
        let file = SealedFile {
            path,
            key,
            lock: Mutex::new(()),
        };
        match file.load() {
            Ok(_) => Ok(Self {
                file: Arc::new(file),
            }),
            Err(LoadError::Io(error)) => Err(EmbeddedError::io("read", &file.path, error)),
            Err(LoadError::DoesNotOpen) => Err(EmbeddedError::DoesNotOpen { path: file.path }),
        }
    }

    /// Where the sealed secrets live.
    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// Runs `change` on the secrets (read, change, write back) on a blocking thread.
    async fn run<T: Send + 'static>(
        &self,
        change: impl FnOnce(&SealedFile) -> Result<T, SecretError> + Send + 'static,
    ) -> Result<T, SecretError> {
        let file = Arc::clone(&self.file);
        tokio::task::spawn_blocking(move || {
            // The guard protects no data of its own, so a poisoned lock is still sound.
            let _guard = file.lock.lock().unwrap_or_else(PoisonError::into_inner);
            change(&file)
        })
        .await
        .map_err(|_| SecretError::Backend("the secrets task did not finish".into()))?
    }
}

#[async_trait]
impl SecretStore for SealedFileSecrets {
    async fn put(&self, name: &SecretName, value: &SecretString) -> Result<(), SecretError> {
        if value.expose_secret().len() > MAX_VALUE_BYTES {
            return Err(SecretError::Backend(format!(
                "a secret value may hold at most {MAX_VALUE_BYTES} bytes"
            )));
        }
        let (name, value) = (name.as_str().to_owned(), value.clone());
        self.run(move |file| {
            let mut secrets = file.load_or_fail()?;
            secrets.insert(name, value);
            file.save(&secrets)
        })
        .await
    }

    async fn get(&self, name: &SecretName) -> Result<Option<SecretString>, SecretError> {
        let name = name.as_str().to_owned();
        self.run(move |file| Ok(file.load_or_fail()?.remove(&name)))
            .await
    }

    async fn delete(&self, name: &SecretName) -> Result<(), SecretError> {
        let name = name.as_str().to_owned();
        self.run(move |file| {
            let mut secrets = file.load_or_fail()?;
            if secrets.remove(&name).is_some() {
                file.save(&secrets)?;
            }
            Ok(())
        })
        .await
    }
}

impl SealedFile {
    fn load(&self) -> Result<Secrets, LoadError> {
        let sealed = match std::fs::read(&self.path) {
            Ok(sealed) => sealed,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(Secrets::new()),
            Err(error) => return Err(LoadError::Io(error)),
        };
        let plain = crypto::decrypt(&self.key, SEALED_LABEL, &sealed)
            .map_err(|_| LoadError::DoesNotOpen)?;
        decode(&plain).ok_or(LoadError::DoesNotOpen)
    }

    fn load_or_fail(&self) -> Result<Secrets, SecretError> {
        self.load().map_err(|error| match error {
            LoadError::Io(error) => self.failure("cannot read", &error),
            LoadError::DoesNotOpen => SecretError::Backend(format!(
                "{} does not open with its key",
                self.path.display()
            )),
        })
    }

    fn save(&self, secrets: &Secrets) -> Result<(), SecretError> {
        let sealed = crypto::encrypt(&self.key, SEALED_LABEL, &encode(secrets));
        let dir = parent_dir(&self.path);
        let suffix = hex::encode(crypto::random_bytes::<8>());
        let temp = dir.join(format!(".{SECRETS_FILE}.{suffix}.tmp"));
        let written = private_options()
            .write(true)
            .create_new(true)
            .open(&temp)
            .and_then(|mut out| {
                out.write_all(&sealed)?;
                out.sync_all()
            })
            .and_then(|()| std::fs::rename(&temp, &self.path))
            .and_then(|()| sync_dir(&dir));
        written.map_err(|error| {
            let _ = std::fs::remove_file(&temp);
            self.failure("cannot write", &error)
        })
    }

    fn failure(&self, what: &str, error: &std::io::Error) -> SecretError {
        SecretError::Backend(format!("{what} {}: {error}", self.path.display()))
    }
}

fn encode(secrets: &Secrets) -> Zeroizing<Vec<u8>> {
    // Sized up front: a growing Vec would leave unzeroized copies of secrets behind.
    let size = MAGIC.len()
        + secrets
            .iter()
            .map(|(name, value)| 8 + name.len() + value.expose_secret().len())
            .sum::<usize>();
    let mut out = Zeroizing::new(Vec::with_capacity(size));
    out.extend_from_slice(MAGIC);
    for (name, value) in secrets {
        for part in [name.as_bytes(), value.expose_secret().as_bytes()] {
            // Names are at most 206 bytes and values 64 KiB (checked by `put`): fits u32.
            out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

fn decode(plain: &[u8]) -> Option<Secrets> {
    let mut rest = plain.strip_prefix(MAGIC)?;
    let mut secrets = Secrets::new();
    while !rest.is_empty() {
        let name = std::str::from_utf8(take_part(&mut rest)?).ok()?;
        let value = std::str::from_utf8(take_part(&mut rest)?).ok()?;
        secrets.insert(name.to_owned(), SecretString::from(value));
    }
    Some(secrets)
}

fn take_part<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (len, tail) = rest.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    if tail.len() < len {
        return None;
    }
    let (part, tail) = tail.split_at(len);
    *rest = tail;
    Some(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> SecretName {
        SecretName::parse(text).unwrap()
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_secrets_key_and_file_are_owner_only_and_apart_from_the_master_key() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let secrets = SealedFileSecrets::open(dir.path()).unwrap();
        secrets.put(&name("tally/a/b"), &"v".into()).await.unwrap();
        for file in [SECRETS_KEY_FILE, SECRETS_FILE] {
            let mode = std::fs::metadata(dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        assert!(!dir.path().join("master.key").exists());
    }

    #[tokio::test]
    async fn the_sealed_file_holds_neither_a_secret_nor_its_name_in_plain() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = SealedFileSecrets::open(dir.path()).unwrap();
        let value = SecretString::from("sk_live_51PLAINTEXTTOKEN");
        secrets
            .put(&name("tally/acme/stripe"), &value)
            .await
            .unwrap();
        let raw = std::fs::read(secrets.path()).unwrap();
        let contains = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
        assert!(!contains(b"PLAINTEXTTOKEN"));
        assert!(!contains(b"acme"));
    }

    #[tokio::test]
    async fn a_file_sealed_under_another_key_is_refused_on_open() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = SealedFileSecrets::open(one.path()).unwrap();
        first.put(&name("tally/a/b"), &"v".into()).await.unwrap();
        SealedFileSecrets::open(two.path()).unwrap();
        std::fs::copy(first.path(), two.path().join(SECRETS_FILE)).unwrap();
        let error = SealedFileSecrets::open(two.path()).err().unwrap();
        assert!(matches!(error, EmbeddedError::DoesNotOpen { .. }));
    }

    #[tokio::test]
    async fn concurrent_puts_lose_no_secret_and_leave_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = SealedFileSecrets::open(dir.path()).unwrap();
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let secrets = secrets.clone();
                tokio::spawn(async move {
                    let value = SecretString::from(format!("value-{i}"));
                    secrets.put(&name(&format!("tally/t/{i}")), &value).await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        for i in 0..10 {
            let got = secrets
                .get(&name(&format!("tally/t/{i}")))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(got.expose_secret(), format!("value-{i}"));
        }
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|entry| {
                entry
                    .as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn truncated_plaintext_does_not_decode() {
        let mut secrets = Secrets::new();
        secrets.insert("tally/a/b".into(), SecretString::from("value"));
        let plain = encode(&secrets);
        assert_eq!(decode(&plain).unwrap().len(), 1);
        assert!(decode(&plain[..plain.len() - 1]).is_none());
    }
}
